package registry

import (
	"encoding/json"
	"fmt"
	"io"
)

// body says what a response body must be. fetch reads every body and
// judges it against its body in one place, judge, which alone decides
// between "cut short" (a transport failure: retried, then KindTransient)
// and "complete but different" (KindIntegrity), so that no call site
// classifies bytes on its own.
type body struct {
	limit  int64  // most bytes accepted
	size   int64  // exact size from a descriptor; -1 when unknown
	digest string // what the bytes must hash to; "" when not pinned (tags, referrers indexes)
	json   bool   // the body is one JSON document (manifests, indexes)
}

// judge decides whether b, a body read to its end, is what was asked for.
// framed is true when the server declared the body's length
// (Content-Length).
//
// The rule, for telling a response cut short from a registry serving other
// bytes:
//
//  1. A read that fails mid-body — net/http's io.ErrUnexpectedEOF for a
//     Content-Length or chunked body that ends early, a connection reset —
//     is a transport failure; fetch returns it before judge is reached.
//  2. With a Content-Length, net/http delivers exactly that many bytes or
//     fails by rule 1, so a framed body is complete as the server meant it:
//     any mismatch (size against the descriptor, digest, not JSON) is
//     integrity.
//  3. Without one (close-delimited, or chunked — a proxy that loses its
//     upstream may still end the chunks cleanly), the body's end proves
//     nothing, and only its bytes can tell. A body is cut short when it is
//     shorter than its descriptor's size (blobs), or, where no size is known
//     (manifests, referrers indexes), when it is not one well-formed JSON
//     document. Bytes that no cut can produce are integrity: more than the
//     limit or the descriptor's size, exactly the descriptor's size with
//     another digest, a well-formed document with another digest.
//
// A registry that persistently serves a short body without a length is
// therefore never called tampered: the auditor cannot tell it from an
// outage, and says no-verdict (SPEC §3, "outages are never tampering").
func (w body) judge(b []byte, framed bool) error {
	n := int64(len(b))
	if n > w.limit {
		return integrityf("response exceeds the %d-byte limit", w.limit)
	}
	if w.size >= 0 && n != w.size {
		if n < w.size && !framed {
			return cutShort("%d of the descriptor's %d bytes", n, w.size)
		}
		return integrityf("response of %d bytes, descriptor says %d", n, w.size)
	}
	// Bytes that hash to the pinned digest are complete whatever they hold.
	complete := framed
	if w.digest != "" {
		err := verifyDigest(b, w.digest)
		switch {
		case err == nil:
			complete = true
		case framed || w.size >= 0 || !w.json || json.Valid(b):
			return err
		default:
			return cutShort("%d bytes that are not a whole JSON document", n)
		}
	}
	if w.json && !json.Valid(b) {
		if !complete {
			return cutShort("%d bytes that are not a whole JSON document", n)
		}
		return integrityf("response of %d bytes is not a JSON document", n)
	}
	return nil
}

// cutShort is a body that ended early without a declared length. It wraps
// io.ErrUnexpectedEOF, which classify treats as a retryable transport
// failure, like the same cut under a Content-Length.
func cutShort(format string, args ...any) error {
	return fmt.Errorf("body cut short without a Content-Length after "+format+": %w", append(args, io.ErrUnexpectedEOF)...)
}

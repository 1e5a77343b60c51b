package registry

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// Probe is the fast path's existence check (DESIGN.md, step 3): HEAD the
// summary manifest by digest, then the layer blob, then the signature's
// manifest (referrerDigest, as returned in Attestation.ReferrerDigest).
// An empty layerDigest or referrerDigest skips that probe. It returns nil
// when all exist. A missing manifest or layer is KindGone; a missing
// referrer is KindNoSignature (the bytes are there, the signature is not,
// and the full path should look for it again). A Docker-Content-Digest
// header that disagrees with the digest asked for is KindIntegrity.
func (c *Client) Probe(ctx context.Context, ref, digest, layerDigest, referrerDigest string) error {
	const op = "probe"
	t, err := c.parseTarget(op, ref)
	if err != nil {
		return err
	}
	if err := checkDigest(op, ref, digest); err != nil {
		return err
	}
	for _, d := range []string{layerDigest, referrerDigest} {
		if d != "" && !anyDigestRE.MatchString(d) {
			return &FetchError{Op: op, Ref: ref, Kind: KindInvalidRef, Err: integrityf("digest %q is not a sha256/sha512 digest", d)}
		}
	}
	if err := c.head(ctx, t, "probe manifest", "manifests", digest); err != nil {
		return err
	}
	if layerDigest != "" {
		if err := c.head(ctx, t, "probe layer", "blobs", layerDigest); err != nil {
			return err
		}
	}
	if referrerDigest != "" {
		if err := c.head(ctx, t, "probe referrer", "manifests", referrerDigest); err != nil {
			var fe *FetchError
			if gone, _ := notFound(err); gone && errors.As(err, &fe) {
				fe.Kind = KindNoSignature
				fe.Hint = "the signature referrer " + referrerDigest + " is no longer served; run the full path"
			}
			return err
		}
	}
	return nil
}

func (c *Client) head(ctx context.Context, t target, op, kind, digest string) error {
	at := t.repo.String() + "@" + digest
	return c.do(ctx, op, at, func(ctx context.Context) error {
		var accept []string
		if kind == "manifests" {
			accept = manifestAccept
		}
		resp, err := c.fetch(ctx, t, http.MethodHead, t.url(&c.o, kind, digest), accept, body{size: -1}, http.StatusOK)
		if err != nil {
			return err
		}
		if got := strings.TrimSpace(resp.header.Get("Docker-Content-Digest")); got != "" && got != digest {
			return integrityf("registry reports digest %s for %s", got, digest)
		}
		return nil
	})
}

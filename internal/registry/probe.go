package registry

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
)

// Probe is the fast path's existence check (DESIGN.md, step 3): HEAD the
// summary manifest by digest, the layer blob and the signature's manifest
// (referrerDigest, as returned in Attestation.ReferrerDigest), side by
// side. An empty layerDigest or referrerDigest skips that probe. It returns nil
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
	// The three HEADs go out together (the fast path is bound by round
	// trips, not CPU); their errors are judged in the order above, so the
	// answer is the one a sequential probe would give.
	var layerErr, refErr error
	var wg sync.WaitGroup
	if layerDigest != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			layerErr = c.head(ctx, t, "probe layer", "blobs", layerDigest)
		}()
	}
	if referrerDigest != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			refErr = c.head(ctx, t, "probe referrer", "manifests", referrerDigest)
		}()
	}
	manifestErr := c.head(ctx, t, "probe manifest", "manifests", digest)
	wg.Wait()
	switch {
	case manifestErr != nil:
		return manifestErr
	case layerErr != nil:
		return layerErr
	case refErr != nil:
		var fe *FetchError
		if gone, _ := notFound(refErr); gone && errors.As(refErr, &fe) {
			fe.Kind = KindNoSignature
			fe.Hint = "the signature referrer " + referrerDigest + " is no longer served; run the full path"
		}
		return refErr
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

package registry

import (
	"context"
	"errors"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

var _ audit.Source = (*Client)(nil)

// Fetch implements audit.Source: the summary manifest pinned by digest (and
// its config) and the signatures attached to it, fetched side by side —
// everything but the layer, which Layer streams once a signature holds.
// Errors are *FetchError, which match the audit.Err* classes; when both
// fail, the manifest's error is the one returned (a bundle that is gone is
// gone, whatever its signatures).
func (c *Client) Fetch(ctx context.Context, oci, digest string) (*audit.Evidence, error) {
	var (
		att    *Attestation
		attErr error
		done   = make(chan struct{})
	)
	go func() {
		defer close(done)
		att, attErr = c.FindSigstoreBundle(ctx, oci, digest)
	}()
	sum, err := c.fetchSummaryManifest(ctx, oci, digest)
	<-done
	if err != nil {
		return nil, err
	}
	if attErr != nil {
		return nil, attErr
	}
	ev := &audit.Evidence{
		ManifestDigest: sum.Digest,
		LayerDigest:    sum.LayerDescriptor.Digest,
		LayerSize:      sum.LayerDescriptor.Size,
		Signature: audit.Signature{
			BundleJSON:     att.BundleJSON,
			ReferrerDigest: att.ReferrerDigest,
			Via:            att.Via,
		},
	}
	switch att.Kind {
	case AttestationSigstoreBundle:
		ev.Signature.Kind = audit.SigstoreBundle
	case AttestationCosignLegacy:
		ev.Signature.Kind = audit.CosignLegacy
		for _, l := range att.Legacy {
			ev.Signature.Legacy = append(ev.Signature.Legacy, audit.LegacyLayer{
				Envelope: l.Envelope, Certificate: l.Certificate, Chain: l.Chain, Bundle: l.Bundle,
				RFC3161Timestamp: l.RFC3161Timestamp,
			})
		}
	default:
		return nil, &FetchError{Op: "find signature", Ref: sum.Ref(), Kind: KindNoSignature, Err: errors.New("unknown attestation kind " + att.Kind)}
	}
	for _, alt := range att.Alternatives {
		ev.Alternatives = append(ev.Alternatives, audit.Signature{
			Kind: audit.SigstoreBundle, BundleJSON: alt.JSON, ReferrerDigest: alt.Digest, Via: alt.Via,
		})
	}
	for _, sk := range att.Skipped {
		ev.Skipped = append(ev.Skipped, audit.SkippedSignature{ReferrerDigest: sk.Digest, Reason: sk.Reason})
	}
	return ev, nil
}

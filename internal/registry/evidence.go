package registry

import (
	"context"
	"errors"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

var _ audit.Source = (*Client)(nil)

// Fetch implements audit.Source: the summary bundle pinned by digest,
// extracted within the client's tar limits, and its attached signature.
// Errors are *FetchError, which match the audit.Err* classes.
func (c *Client) Fetch(ctx context.Context, oci, digest string) (*audit.Evidence, error) {
	sum, err := c.FetchSummary(ctx, oci, digest)
	if err != nil {
		return nil, err
	}
	files, err := sum.Files(c.o.tar)
	if err != nil {
		return nil, &FetchError{Op: "extract layer", Ref: sum.Ref(), Kind: KindIntegrity, Err: err}
	}
	att, err := c.FindSigstoreBundle(ctx, oci, digest)
	if err != nil {
		return nil, err
	}
	ev := &audit.Evidence{
		ManifestDigest: sum.Digest,
		LayerDigest:    sum.LayerDescriptor.Digest,
		Files:          files,
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

package registry

import (
	"context"
	"errors"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

var _ audit.Source = (*Client)(nil)

// Fetch implements audit.Source: the summary manifest pinned by digest (and
// its config) and the signatures attached to it, read side by side —
// everything but the layer, which Layer streams once a signature holds
// (issue 15: signature first). Errors are *FetchError, which match the
// audit.Err* classes; when both reads fail, the manifest's error is the
// one returned (a bundle that is gone is gone, whatever its signatures).
func (c *Client) Fetch(ctx context.Context, oci, digest string) (*audit.Evidence, error) {
	const op = "fetch summary"
	t, err := c.parseTarget(op, oci)
	if err != nil {
		return nil, err
	}
	if err := checkDigest(op, oci, digest); err != nil {
		return nil, err
	}
	return c.readEvidence(ctx, httpStore{c, t}, digest, false)
}

// FetchWhole is Fetch with the layer read whole and its files extracted
// into Evidence.Files, its bytes among Evidence.Objects — as ReadEvidence
// reads a Store: for reading back an archived copy kept in a repository,
// which is judged whole, without a layer to stream.
func (c *Client) FetchWhole(ctx context.Context, oci, digest string) (*audit.Evidence, error) {
	const op = "fetch summary"
	t, err := c.parseTarget(op, oci)
	if err != nil {
		return nil, err
	}
	if err := checkDigest(op, oci, digest); err != nil {
		return nil, err
	}
	return c.readEvidence(ctx, httpStore{c, t}, digest, true)
}

// ReadEvidence is Fetch from a Store instead of a registry — the auditor's
// archive — with the same rules: the same limits, digest checks, referrer
// choice and legacy .att reading, so that an archived copy is judged as
// its origin was. The layer is read with the rest and its files extracted
// into Evidence.Files (each file's size and sha256, the content of those
// verification reads), since an archived copy is read whole.
func (c *Client) ReadEvidence(ctx context.Context, s Store, digest string) (*audit.Evidence, error) {
	if err := checkDigest("read evidence", s.Name(), digest); err != nil {
		return nil, err
	}
	return c.readEvidence(ctx, extStore{c, s}, digest, true)
}

// readEvidence reads a summary bundle's manifest and config — and with
// withLayer its layer, extracted — and its signatures from st. From a
// registry (no layer) the two reads go out side by side.
func (c *Client) readEvidence(ctx context.Context, st store, digest string, withLayer bool) (*audit.Evidence, error) {
	var (
		sum    *Summary
		att    *Attestation
		err    error
		attErr error
	)
	if withLayer {
		if sum, err = c.fetchSummary(ctx, st, digest, true); err == nil {
			att, attErr = c.findSigstoreBundle(ctx, st, digest)
		}
	} else {
		done := make(chan struct{})
		go func() {
			defer close(done)
			att, attErr = c.findSigstoreBundle(ctx, st, digest)
		}()
		sum, err = c.fetchSummary(ctx, st, digest, false)
		<-done
	}
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
		LayerMediaType: sum.LayerDescriptor.MediaType,
		Signature: audit.Signature{
			BundleJSON:     att.BundleJSON,
			ReferrerDigest: att.ReferrerDigest,
			Via:            att.Via,
		},
		Objects: sum.objects(),
	}
	switch att.Kind {
	case AttestationSigstoreBundle:
		ev.Signature.Kind = audit.SigstoreBundle
		ev.Signature.Objects = signatureObjects(att.ReferrerDigest, att.ManifestMediaType, att.Manifest,
			att.ConfigDescriptor, att.Config, []Descriptor{att.BundleLayer}, [][]byte{att.BundleJSON})
	case AttestationCosignLegacy:
		ev.Signature.Kind = audit.CosignLegacy
		var ds []Descriptor
		var bs [][]byte
		for _, l := range att.Legacy {
			ev.Signature.Legacy = append(ev.Signature.Legacy, audit.LegacyLayer{
				Envelope: l.Envelope, Certificate: l.Certificate, Chain: l.Chain, Bundle: l.Bundle,
				RFC3161Timestamp: l.RFC3161Timestamp,
			})
			ds, bs = append(ds, l.Descriptor), append(bs, l.Envelope)
		}
		ev.Signature.Objects = signatureObjects(att.ReferrerDigest, att.ManifestMediaType, att.Manifest, att.ConfigDescriptor, att.Config, ds, bs)
	default:
		return nil, &FetchError{Op: "find signature", Ref: sum.Ref(), Kind: KindNoSignature, Err: errors.New("unknown attestation kind " + att.Kind)}
	}
	for _, alt := range att.Alternatives {
		ev.Alternatives = append(ev.Alternatives, audit.Signature{
			Kind: audit.SigstoreBundle, BundleJSON: alt.JSON, ReferrerDigest: alt.Digest, Via: alt.Via,
			Objects: signatureObjects(alt.Digest, alt.ManifestMediaType, alt.Manifest, alt.ConfigDescriptor, alt.Config, []Descriptor{alt.Layer}, [][]byte{alt.JSON}),
		})
	}
	for _, sk := range att.Skipped {
		ev.Skipped = append(ev.Skipped, audit.SkippedSignature{ReferrerDigest: sk.Digest, Reason: sk.Reason})
	}
	if withLayer {
		if ev.Files, err = layerFiles(sum.Layer, c.o.tar); err != nil {
			return nil, &FetchError{Op: "extract layer", Ref: sum.Ref(), Kind: KindIntegrity, Err: err}
		}
	}
	return ev, nil
}

// objects are the summary's manifest, config and, when it was read whole,
// layer as fetched, every one checked against its digest. Layer adds the
// streamed layer's bytes when asked to keep them (Layer.Blob).
func (s *Summary) objects() []audit.Object {
	out := []audit.Object{
		{Digest: s.Digest, MediaType: s.MediaType, Manifest: true, Data: s.Manifest},
		{Digest: s.ConfigDescriptor.Digest, MediaType: s.ConfigDescriptor.MediaType, Data: s.Config},
	}
	if s.Layer != nil {
		out = append(out, audit.Object{Digest: s.LayerDescriptor.Digest, MediaType: s.LayerDescriptor.MediaType, Data: s.Layer})
	}
	return out
}

// signatureObjects are a signature's manifest, config (left out when it
// could not be read: the copy is then incomplete, which the archive
// refuses) and layers, as fetched.
func signatureObjects(digest, mediaType string, manifest []byte, config Descriptor, configData []byte, layers []Descriptor, data [][]byte) []audit.Object {
	if manifest == nil {
		return nil
	}
	out := []audit.Object{{Digest: digest, MediaType: mediaType, Manifest: true, Data: manifest}}
	if configData != nil {
		out = append(out, audit.Object{Digest: config.Digest, MediaType: config.MediaType, Data: configData})
	}
	for i, l := range layers {
		out = append(out, audit.Object{Digest: l.Digest, MediaType: l.MediaType, Data: data[i]})
	}
	return out
}

package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Cosign's annotation keys on attestation layers.
const (
	AnnotationCosignSignature   = "dev.cosignproject.cosign/signature"
	AnnotationCosignCertificate = "dev.sigstore.cosign/certificate"
	AnnotationCosignChain       = "dev.sigstore.cosign/chain"
	AnnotationCosignBundle      = "dev.sigstore.cosign/bundle"
	AnnotationCosignRFC3161     = "dev.sigstore.cosign/rfc3161timestamp"
	AnnotationCosignPredicate   = "predicateType"
)

// LegacyLayer is one cosign attestation: a DSSE envelope and the annotation
// values cosign writes beside it. The signer produces them; empty strings
// leave the annotation out (the signature annotation is always "").
type LegacyLayer struct {
	// Envelope is the DSSE envelope JSON, the layer's content.
	Envelope []byte
	// PredicateType is the statement's predicate type (annotation
	// "predicateType").
	PredicateType string
	// Certificate is the PEM leaf certificate.
	Certificate string
	// Chain is the PEM intermediates and root.
	Chain string
	// Bundle is cosign's Rekor bundle JSON
	// ({"SignedEntryTimestamp", "Payload": {body, integratedTime, logIndex, logID}}).
	Bundle string
	// RFC3161Timestamp is cosign's timestamp JSON
	// ({"SignedRFC3161Timestamp": base64 DER}), beside or instead of Bundle.
	RFC3161Timestamp string
}

// PublishLegacyAttestation writes cosign's legacy attestation form for the
// manifest digest ("sha256:<hex>") in target's repository: an OCI image
// tagged sha256-<hex>.att whose layers are the DSSE envelopes, media type
// application/vnd.dsse.envelope.v1+json, with cosign's annotations. As cosign
// does, it appends to an existing .att image (skipping layers already there).
// It returns the digest of the .att manifest.
func PublishLegacyAttestation(ctx context.Context, target Target, digest string, layers []LegacyLayer) (string, error) {
	h, err := v1.NewHash(digest)
	if err != nil {
		return "", fmt.Errorf("publish legacy attestation %s: %w", digest, err)
	}
	if len(layers) == 0 {
		return "", fmt.Errorf("publish legacy attestation %s: no layers", digest)
	}
	repo, err := target.repository()
	if err != nil {
		return "", fmt.Errorf("publish legacy attestation %s: %w", digest, err)
	}
	tag := repo.Tag(h.Algorithm + "-" + h.Hex + ".att")
	opts := []remote.Option{remote.WithContext(ctx), remote.WithUserAgent("evidence-auditd-sandbox")}

	// cosign's empty signature image: OCI manifest, OCI config.
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	have := map[v1.Hash]bool{}
	switch img, err := remote.Image(tag, opts...); {
	case err == nil:
		base = img
		ls, err := img.Layers()
		if err != nil {
			return "", fmt.Errorf("publish legacy attestation %s: read %s: %w", digest, tag, err)
		}
		for _, l := range ls {
			d, err := l.Digest()
			if err != nil {
				return "", fmt.Errorf("publish legacy attestation %s: read %s: %w", digest, tag, err)
			}
			have[d] = true
		}
	case isNotFound(err):
	default:
		return "", fmt.Errorf("publish legacy attestation %s: get %s: %w", digest, tag, err)
	}

	var adds []mutate.Addendum
	for i, l := range layers {
		if len(l.Envelope) == 0 {
			return "", fmt.Errorf("publish legacy attestation %s: layer %d: empty envelope", digest, i)
		}
		layer := static.NewLayer(l.Envelope, MediaTypeDSSE)
		d, _ := layer.Digest()
		if have[d] {
			continue
		}
		have[d] = true
		ann := map[string]string{AnnotationCosignSignature: ""}
		for k, v := range map[string]string{
			AnnotationCosignPredicate:   l.PredicateType,
			AnnotationCosignCertificate: l.Certificate,
			AnnotationCosignChain:       l.Chain,
			AnnotationCosignBundle:      l.Bundle,
			AnnotationCosignRFC3161:     l.RFC3161Timestamp,
		} {
			if v != "" {
				ann[k] = v
			}
		}
		adds = append(adds, mutate.Addendum{Layer: layer, Annotations: ann, MediaType: MediaTypeDSSE})
	}
	img, err := mutate.Append(base, adds...)
	if err != nil {
		return "", fmt.Errorf("publish legacy attestation %s: %w", digest, err)
	}
	if err := remote.Write(tag, img, opts...); err != nil {
		return "", fmt.Errorf("publish legacy attestation %s: write %s: %w", digest, tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("publish legacy attestation %s: %w", digest, err)
	}
	return d.String(), nil
}

func isNotFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// BundleReferrer is one usable Sigstore bundle referrer: its manifest and
// bundle fetched, size-bounded and digest-verified, not verified
// cryptographically.
type BundleReferrer struct {
	Digest    string // the referrer manifest
	MediaType string // the bundle layer's media type as pushed
	JSON      []byte // the Sigstore bundle
	Via       string // ViaReferrersAPI or ViaTagSchema

	// Manifest is the raw referrer manifest, Config its config blob (nil
	// when it could not be read), ConfigDescriptor and Layer the
	// descriptors: what a digest-preserving copy needs beside JSON.
	Manifest          []byte
	ManifestMediaType string
	Config            []byte
	ConfigDescriptor  Descriptor
	Layer             Descriptor
}

// SkippedReferrer is a referrer that presents itself as a Sigstore bundle
// but could not be used.
type SkippedReferrer struct {
	Digest string
	// Kind is KindGone (its manifest or bundle blob is not served),
	// KindIntegrity (wrong or oversized bytes) or KindNoSignature (it holds
	// no single bundle, or names another subject).
	Kind   Kind
	Reason string
}

// bundleSearch carries what FindSigstoreBundle learned across the
// Referrers API and the tag schema, which may list the same referrers.
type bundleSearch struct {
	subject string
	seen    map[string]bool // referrer digests already judged
	skipped []SkippedReferrer
}

func (s *bundleSearch) skip(digest string, k Kind, format string, args ...any) {
	s.skipped = append(s.skipped, SkippedReferrer{Digest: digest, Kind: k, Reason: fmt.Sprintf(format, args...)})
}

// failure is the error when no usable signature was found: integrity when
// a referrer was refused for its bytes, else no signature, naming every
// skipped referrer.
func (s *bundleSearch) failure(op, at string) error {
	if len(s.skipped) == 0 {
		return &FetchError{Op: op, Ref: at, Kind: KindNoSignature, Err: errors.New("no Sigstore bundle referrer and no cosign attestation"), Hint: hintFor(KindNoSignature, 0)}
	}
	kind := KindNoSignature
	var why []string
	for _, sk := range s.skipped {
		if sk.Kind == KindIntegrity {
			kind = KindIntegrity
		}
		why = append(why, sk.Digest+": "+sk.Reason)
	}
	return &FetchError{Op: op, Ref: at, Kind: kind, Hint: hintFor(kind, 0),
		Err: fmt.Errorf("no usable Sigstore bundle referrer (%s) and no cosign attestation", strings.Join(why, "; "))}
}

// maxBundleBlobs bounds the bundle blobs fetched per search (each up to
// Limits.Bundle), so that a registry listing many referrers cannot make one
// pointer hold more than a few MiB. Real bundles have one referrer, a
// re-signed one a few.
const maxBundleBlobs = 8

type bundleCandidate struct {
	digest  string
	created time.Time
	hasTime bool
	layer   Descriptor
	raw     []byte     // the referrer manifest
	mt      string     // its media type
	config  Descriptor // its config
}

// pickBundles judges the index entries descs and returns every usable
// Sigstore bundle referrer among them, or nil, nil when none is; what it
// refused is added to s.skipped.
//
// The registry judges what it can see without verifying: entries of a
// definite non-bundle artifactType are not signatures and are passed over
// without a fetch. The others' manifests are fetched (at most
// maxReferrers) and qualify when their subject is s.subject, their
// artifactType is empty or a bundle type, and they hold exactly one bundle
// layer. The qualified ones are put in preference order — newest
// org.opencontainers.image.created first (RFC 3339; missing or unparsable
// sorts last), then the smaller manifest digest, so the order never
// depends on the registry's (random) listing — and each one's bundle blob
// is fetched, size-bounded and digest-verified.
//
// A referrer is unusable, and skipped, when its manifest or bundle blob is
// gone (404), when the registry serves wrong or oversized bytes for it, or
// when it presents itself as a bundle but does not hold exactly one for
// this subject. Whether a bundle that was fetched parses and verifies is
// the verifier's to judge: all usable ones are returned, so that one
// unusable or invalid newer referrer never hides a valid older one. Any
// other failure (transient, forbidden, canceled) is returned as is.
func (c *Client) pickBundles(ctx context.Context, st store, s *bundleSearch, descs []Descriptor, via string) (*Attestation, error) {
	var cands []bundleCandidate
	fetched := 0
	for _, d := range descs {
		if s.seen[d.Digest] || !digestRE.MatchString(d.Digest) {
			continue
		}
		s.seen[d.Digest] = true
		if d.MediaType != MediaTypeOCIManifest && d.MediaType != MediaTypeDockerManifest {
			continue
		}
		if !bundleMediaType(d.ArtifactType) && !ambiguousArtifactType(d.ArtifactType) {
			continue
		}
		if d.Size > c.o.limits.Manifest {
			s.skip(d.Digest, KindIntegrity, "referrer manifest of %d bytes exceeds the %d-byte limit", d.Size, c.o.limits.Manifest)
			continue
		}
		if fetched >= c.o.maxReferrers {
			break
		}
		fetched++
		raw, mt, err := st.manifest(ctx, d.Digest, "get referrer")
		if gone, repoGone := notFound(err); gone && !repoGone {
			s.skip(d.Digest, KindGone, "referrer manifest is not served (a stale index entry)")
			continue
		} else if err != nil {
			if KindOf(err) == KindIntegrity {
				s.skip(d.Digest, KindIntegrity, "referrer manifest: %v", errors.Unwrap(err))
				continue
			}
			return nil, err
		}
		var m manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			s.skip(d.Digest, KindIntegrity, "referrer manifest does not parse: %v", err)
			continue
		}
		claims := bundleMediaType(d.ArtifactType) || bundleMediaType(m.ArtifactType)
		var layers []Descriptor
		for _, l := range m.Layers {
			if bundleMediaType(l.MediaType) {
				layers = append(layers, l)
			}
		}
		if m.ArtifactType != "" && !bundleMediaType(m.ArtifactType) {
			continue // another kind of artifact
		}
		switch {
		case m.Subject == nil || m.Subject.Digest != s.subject:
			if claims || len(layers) > 0 {
				subj := "none"
				if m.Subject != nil {
					subj = m.Subject.Digest
				}
				s.skip(d.Digest, KindNoSignature, "its subject is %s, not this artifact", subj)
			}
			continue
		case len(layers) == 0:
			if claims {
				s.skip(d.Digest, KindNoSignature, "no layer of a Sigstore bundle media type (%s)", layerTypes(m.Layers))
			}
			continue
		case len(layers) > 1:
			s.skip(d.Digest, KindNoSignature, "%d Sigstore bundle layers, want exactly 1", len(layers))
			continue
		}
		bc := bundleCandidate{digest: d.Digest, layer: layers[0], raw: raw, mt: mt, config: m.Config}
		if ts, ok := m.Annotations[AnnotationCreated]; ok {
			if tm, err := time.Parse(time.RFC3339, ts); err == nil {
				bc.created, bc.hasTime = tm, true
			}
		}
		cands = append(cands, bc)
	}
	slices.SortFunc(cands, func(a, b bundleCandidate) int {
		switch {
		case a.hasTime && !b.hasTime:
			return -1
		case !a.hasTime && b.hasTime:
			return 1
		case a.hasTime && b.hasTime && !a.created.Equal(b.created):
			return b.created.Compare(a.created)
		}
		return cmp.Compare(a.digest, b.digest)
	})

	var usable []BundleReferrer
	for i, cd := range cands {
		if i >= maxBundleBlobs {
			s.skip(cd.digest, KindNoSignature, "not fetched: only the %d newest bundle referrers are", maxBundleBlobs)
			continue
		}
		body, err := st.blob(ctx, cd.layer, c.o.limits.Bundle, "get bundle")
		if err != nil {
			switch gone, repoGone := notFound(err); {
			case gone && !repoGone:
				s.skip(cd.digest, KindGone, "its bundle blob %s is not served", cd.layer.Digest)
				continue
			case KindOf(err) == KindIntegrity:
				s.skip(cd.digest, KindIntegrity, "bundle blob: %v", errors.Unwrap(err))
				continue
			}
			return nil, err
		}
		usable = append(usable, BundleReferrer{Digest: cd.digest, MediaType: cd.layer.MediaType, JSON: body, Via: via,
			Manifest: cd.raw, ManifestMediaType: cd.mt, Config: c.optionalBlob(ctx, st, cd.config, "get referrer config"), ConfigDescriptor: cd.config, Layer: cd.layer})
	}
	if len(usable) == 0 {
		return nil, nil
	}
	first := usable[0]
	a := &Attestation{
		Kind:              AttestationSigstoreBundle,
		BundleJSON:        first.JSON,
		BundleMediaType:   first.MediaType,
		ReferrerDigest:    first.Digest,
		Via:               via,
		Alternatives:      usable[1:],
		Skipped:           s.skipped,
		Manifest:          first.Manifest,
		ManifestMediaType: first.ManifestMediaType,
		Config:            first.Config,
		ConfigDescriptor:  first.ConfigDescriptor,
		BundleLayer:       first.Layer,
	}
	for _, cd := range cands {
		a.Candidates = append(a.Candidates, cd.digest)
	}
	return a, nil
}

// layerTypes lists the media types of layers, for a skip reason.
func layerTypes(ls []Descriptor) string {
	if len(ls) == 0 {
		return "no layers"
	}
	var ts []string
	for _, l := range ls {
		ts = append(ts, l.MediaType)
	}
	return "layers: " + strings.Join(ts, ", ")
}

package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Media types and annotations of signatures.
const (
	MediaTypeSigstoreBundleV03    = "application/vnd.dev.sigstore.bundle.v0.3+json"
	MediaTypeDSSEEnvelope         = "application/vnd.dsse.envelope.v1+json"
	AnnotationCreated             = "org.opencontainers.image.created"
	AnnotationCosignCertificate   = "dev.sigstore.cosign/certificate"
	AnnotationCosignChain         = "dev.sigstore.cosign/chain"
	AnnotationCosignBundle        = "dev.sigstore.cosign/bundle"
	AnnotationCosignSignature     = "dev.cosignproject.cosign/signature"
	maxReferrerPages              = 8
	maxLegacyLayers               = DefaultMaxLegacyLayer
	mediaTypeOCIImageConfig       = "application/vnd.oci.image.config.v1+json"
	mediaTypeDockerContainerImage = "application/vnd.docker.container.image.v1+json"
)

// Attestation kinds and discovery routes.
const (
	AttestationSigstoreBundle = "sigstore-bundle"
	AttestationCosignLegacy   = "cosign-legacy"

	ViaReferrersAPI = "referrers-api"
	ViaTagSchema    = "tag-schema"
	ViaCosignAtt    = "cosign-att"
)

// Attestation is the signature material attached to a summary bundle,
// fetched size-bounded and digest-verified but not verified
// cryptographically.
type Attestation struct {
	// Kind is AttestationSigstoreBundle or AttestationCosignLegacy.
	Kind string
	// BundleJSON is the Sigstore bundle (Kind == AttestationSigstoreBundle).
	BundleJSON []byte
	// BundleMediaType is the bundle layer's media type as pushed.
	BundleMediaType string
	// Legacy holds the DSSE layers of a cosign .att image (Kind == AttestationCosignLegacy).
	Legacy []LegacyLayer
	// ReferrerDigest is the digest of the manifest that carried the
	// signature: the referrer manifest, or the .att manifest as fetched.
	ReferrerDigest string
	// Via is how it was found: ViaReferrersAPI, ViaTagSchema or ViaCosignAtt.
	Via string
	// Candidates lists every Sigstore bundle referrer of the subject in
	// preference order; ReferrerDigest is the first. Empty for legacy.
	Candidates []string
}

// LegacyLayer is one DSSE layer of a cosign .att image with its cosign
// annotations (empty when absent).
type LegacyLayer struct {
	Descriptor  Descriptor
	Envelope    []byte // the DSSE envelope JSON
	Certificate string // PEM leaf certificate (dev.sigstore.cosign/certificate)
	Chain       string // PEM chain (dev.sigstore.cosign/chain)
	Bundle      string // Rekor bundle JSON with the SET (dev.sigstore.cosign/bundle)
	Signature   string // base64 signature (dev.cosignproject.cosign/signature)
}

// bundleMediaType reports whether mt names a Sigstore bundle v0.3 or v0.2,
// in either spelling.
func bundleMediaType(mt string) bool {
	mt = strings.ToLower(strings.ReplaceAll(mt, " ", ""))
	switch mt {
	case MediaTypeSigstoreBundleV03,
		"application/vnd.dev.sigstore.bundle.v0.2+json",
		"application/vnd.dev.sigstore.bundle+json;version=0.3",
		"application/vnd.dev.sigstore.bundle+json;version=0.2":
		return true
	}
	return false
}

// ambiguousArtifactType reports whether an index entry's artifactType says
// nothing about what the referrer is. go-containerregistry's pkg/registry
// reports the referrer's config media type as its artifactType, which for
// a Sigstore bundle pushed as an OCI 1.1 artifact is the empty descriptor
// or an image config; such entries must be fetched to be judged.
func ambiguousArtifactType(at string) bool {
	switch strings.ToLower(at) {
	case "", MediaTypeOCIEmpty, mediaTypeOCIImageConfig, mediaTypeDockerContainerImage:
		return true
	}
	return false
}

// FindSigstoreBundle finds the signature attached to the summary manifest
// pinned by digest in the repository named by ref:
//
//  1. a Sigstore bundle referrer through the Referrers API
//     (GET /v2/<name>/referrers/<digest>); a 404, 400, 405 or 406 there, or
//     a 200 that is not an image index, means the registry lacks the API;
//  2. otherwise, or when the API lists no bundle, through the referrers
//     tag schema (the image index tagged sha256-<hex>);
//  3. failing both, a legacy cosign attestation tagged sha256-<hex>.att.
//
// Index entries are filtered client-side (registries ignore or misreport
// artifactType); entries of another definite type are skipped without a
// fetch. Each remaining candidate manifest is fetched and accepted when its
// subject is digest, its artifactType is empty or a bundle type, and it has
// exactly one bundle layer. Of the accepted ones the newest by
// org.opencontainers.image.created (RFC 3339; missing or unparsable sorts
// last) wins, ties broken by the smaller manifest digest, so the choice
// does not depend on the registry's (random) order.
//
// When nothing is found the error is a *FetchError of KindNoSignature
// (errors.Is ErrNoSignature); when the registry says the repository is
// unknown, KindGone.
func (c *Client) FindSigstoreBundle(ctx context.Context, ref, digest string) (*Attestation, error) {
	const op = "find signature"
	t, err := c.parseTarget(op, ref)
	if err != nil {
		return nil, err
	}
	if err := checkDigest(op, ref, digest); err != nil {
		return nil, err
	}
	at := t.repo.String() + "@" + digest

	idx, supported, err := c.referrersAPI(ctx, t, digest)
	if err != nil {
		return nil, err
	}
	if supported {
		a, err := c.pickBundle(ctx, t, digest, idx, ViaReferrersAPI)
		if a != nil || err != nil {
			return a, err
		}
	}
	fallbackTag := strings.Replace(digest, ":", "-", 1)
	raw, mt, err := c.getManifest(ctx, t, fallbackTag, "get referrers tag")
	switch gone, repoGone := notFound(err); {
	case repoGone:
		return nil, err
	case gone:
	case err != nil:
		return nil, err
	case mt != MediaTypeOCIIndex:
		// Not a referrers index: ignore it, as a registry would.
	default:
		var m manifest
		if json.Unmarshal(raw, &m) == nil {
			a, err := c.pickBundle(ctx, t, digest, m.Manifests, ViaTagSchema)
			if a != nil || err != nil {
				return a, err
			}
		}
	}
	a, err := c.legacyAttestation(ctx, t, fallbackTag+".att")
	if a != nil || err != nil {
		return a, err
	}
	return nil, &FetchError{Op: op, Ref: at, Kind: KindNoSignature, Err: errors.New("no Sigstore bundle referrer and no cosign attestation"), Hint: hintFor(KindNoSignature, 0)}
}

// referrersAPI lists the referrers of digest, following Link pagination.
// supported is false when the registry lacks the API.
func (c *Client) referrersAPI(ctx context.Context, t target, digest string) (descs []Descriptor, supported bool, err error) {
	next := t.url(&c.o, "referrers", digest)
	at := t.repo.String() + "@" + digest
	for page := 0; next != "" && page < maxReferrerPages; page++ {
		var resp *response
		err := c.do(ctx, "referrers", at, func(ctx context.Context) error {
			var err error
			resp, err = c.fetch(ctx, t, http.MethodGet, next, []string{MediaTypeOCIIndex}, body{limit: c.o.limits.Manifest, size: -1},
				http.StatusOK, http.StatusNotFound, http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusNotAcceptable)
			if err == nil && isIndex(resp) {
				// Only an index answer is held to JSON: a registry without
				// the API may answer 200 with anything.
				err = body{limit: c.o.limits.Manifest, size: -1, json: true}.judge(resp.body, resp.framed)
			}
			return err
		})
		if err != nil {
			return nil, false, err
		}
		if !isIndex(resp) {
			if page == 0 {
				return nil, false, nil
			}
			break
		}
		var m manifest
		if err := json.Unmarshal(resp.body, &m); err != nil {
			return nil, false, &FetchError{Op: "referrers", Ref: at, Kind: KindIntegrity, Err: integrityf("malformed referrers index: %v", err)}
		}
		descs = append(descs, m.Manifests...)
		next = nextLink(resp.url, resp.header.Get("Link"))
	}
	return descs, true, nil
}

// isIndex reports whether a Referrers API answer is an image index, which
// is what tells a registry that serves the API from one that does not.
func isIndex(resp *response) bool {
	return resp.status == http.StatusOK && mediaTypeOf(resp.header.Get("Content-Type")) == MediaTypeOCIIndex
}

// nextLink returns the rel="next" target of a Link header, resolved
// against base and kept on base's host, or "".
func nextLink(base *url.URL, link string) string {
	for _, part := range strings.Split(link, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok || !strings.Contains(strings.ReplaceAll(params, " ", ""), `rel="next"`) {
			continue
		}
		target = strings.Trim(strings.TrimSpace(target), "<>")
		u, err := base.Parse(target)
		if err != nil || u.Host != base.Host || u.Scheme != base.Scheme {
			return ""
		}
		return u.String()
	}
	return ""
}

type bundleCandidate struct {
	digest  string
	created time.Time
	hasTime bool
	layer   Descriptor
}

// pickBundle judges the index entries and fetches the chosen bundle; it
// returns nil, nil when none qualifies.
func (c *Client) pickBundle(ctx context.Context, t target, subject string, descs []Descriptor, via string) (*Attestation, error) {
	seen := map[string]bool{}
	var cands []bundleCandidate
	fetched := 0
	for _, d := range descs {
		if seen[d.Digest] || !digestRE.MatchString(d.Digest) {
			continue
		}
		seen[d.Digest] = true
		if d.MediaType != MediaTypeOCIManifest && d.MediaType != MediaTypeDockerManifest {
			continue
		}
		if !bundleMediaType(d.ArtifactType) && !ambiguousArtifactType(d.ArtifactType) {
			continue
		}
		if d.Size > c.o.limits.Manifest {
			continue
		}
		if fetched >= c.o.maxReferrers {
			break
		}
		fetched++
		raw, _, err := c.getManifest(ctx, t, d.Digest, "get referrer")
		if gone, repoGone := notFound(err); gone && !repoGone {
			continue // a stale index entry
		} else if err != nil {
			if KindOf(err) == KindIntegrity {
				continue // not a usable referrer; others may be
			}
			return nil, err
		}
		var m manifest
		if json.Unmarshal(raw, &m) != nil || m.Subject == nil || m.Subject.Digest != subject {
			continue
		}
		if m.ArtifactType != "" && !bundleMediaType(m.ArtifactType) {
			continue
		}
		var layers []Descriptor
		for _, l := range m.Layers {
			if bundleMediaType(l.MediaType) {
				layers = append(layers, l)
			}
		}
		if len(layers) != 1 {
			continue
		}
		bc := bundleCandidate{digest: d.Digest, layer: layers[0]}
		if ts, ok := m.Annotations[AnnotationCreated]; ok {
			if tm, err := time.Parse(time.RFC3339, ts); err == nil {
				bc.created, bc.hasTime = tm, true
			}
		}
		cands = append(cands, bc)
	}
	if len(cands) == 0 {
		return nil, nil
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
	best := cands[0]
	body, err := c.getBlob(ctx, t, best.layer, c.o.limits.Bundle, "get bundle")
	if err != nil {
		return nil, err
	}
	a := &Attestation{
		Kind:            AttestationSigstoreBundle,
		BundleJSON:      body,
		BundleMediaType: best.layer.MediaType,
		ReferrerDigest:  best.digest,
		Via:             via,
	}
	for _, cd := range cands {
		a.Candidates = append(a.Candidates, cd.digest)
	}
	return a, nil
}

// legacyAttestation reads a cosign .att image; nil, nil when there is none.
func (c *Client) legacyAttestation(ctx context.Context, t target, tag string) (*Attestation, error) {
	raw, mt, err := c.getManifest(ctx, t, tag, "get cosign attestation")
	if gone, repoGone := notFound(err); gone && !repoGone {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	at := t.repo.String() + ":" + tag
	bad := func(format string, args ...any) error {
		return &FetchError{Op: "get cosign attestation", Ref: at, Kind: KindIntegrity, Err: integrityf(format, args...)}
	}
	if mt != MediaTypeOCIManifest && mt != MediaTypeDockerManifest {
		return nil, bad("media type %q is not an image manifest", mt)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, bad("malformed manifest: %v", err)
	}
	a := &Attestation{Kind: AttestationCosignLegacy, Via: ViaCosignAtt, ReferrerDigest: sha256Digest(raw)}
	for _, l := range m.Layers {
		if strings.ToLower(l.MediaType) != MediaTypeDSSEEnvelope {
			continue
		}
		if len(a.Legacy) >= maxLegacyLayers {
			return nil, bad("more than %d DSSE layers", maxLegacyLayers)
		}
		env, err := c.getBlob(ctx, t, l, c.o.limits.Bundle, "get cosign attestation layer")
		if err != nil {
			return nil, err
		}
		a.Legacy = append(a.Legacy, LegacyLayer{
			Descriptor:  l,
			Envelope:    env,
			Certificate: l.Annotations[AnnotationCosignCertificate],
			Chain:       l.Annotations[AnnotationCosignChain],
			Bundle:      l.Annotations[AnnotationCosignBundle],
			Signature:   l.Annotations[AnnotationCosignSignature],
		})
	}
	if len(a.Legacy) == 0 {
		return nil, nil
	}
	return a, nil
}

func sha256Digest(b []byte) string {
	return fmt.Sprintf("sha256:%x", sha256Sum(b))
}

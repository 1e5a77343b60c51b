package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Media types and annotations of signatures.
const (
	MediaTypeSigstoreBundleV03    = "application/vnd.dev.sigstore.bundle.v0.3+json"
	MediaTypeDSSEEnvelope         = "application/vnd.dsse.envelope.v1+json"
	AnnotationCreated             = "org.opencontainers.image.created"
	AnnotationCosignCertificate   = "dev.sigstore.cosign/certificate"
	AnnotationCosignChain         = "dev.sigstore.cosign/chain"
	AnnotationCosignBundle        = "dev.sigstore.cosign/bundle"
	AnnotationCosignRFC3161       = "dev.sigstore.cosign/rfc3161timestamp"
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
	// Candidates lists every Sigstore bundle referrer of the subject whose
	// manifest qualified, in preference order (see FindSigstoreBundle);
	// ReferrerDigest is the first whose bundle could be fetched. Empty for
	// legacy.
	Candidates []string
	// Alternatives are the further usable Sigstore bundle referrers after
	// ReferrerDigest, in preference order: the auditor tries them in turn
	// when the first does not verify.
	Alternatives []BundleReferrer
	// Skipped are the referrers that present themselves as Sigstore bundles
	// but could not be used, and why. Also set for a legacy attestation
	// found after them.
	Skipped []SkippedReferrer

	// Manifest is the raw manifest that carried the signature (the
	// referrer manifest, or the .att image's), ManifestMediaType its media
	// type, Config its config blob (nil when it could not be read) and
	// BundleLayer the bundle layer's descriptor (sigstore-bundle): what a
	// digest-preserving copy needs beside BundleJSON or Legacy.
	Manifest          []byte
	ManifestMediaType string
	Config            []byte
	ConfigDescriptor  Descriptor
	BundleLayer       Descriptor
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
	// RFC3161Timestamp is cosign's timestamp JSON
	// (dev.sigstore.cosign/rfc3161timestamp), beside or instead of Bundle.
	RFC3161Timestamp string
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
//  1. Sigstore bundle referrers through the Referrers API
//     (GET /v2/<name>/referrers/<digest>); a 404, 400, 405 or 406 there, or
//     a 200 that is not an image index, means the registry lacks the API;
//  2. otherwise, or when the API lists no usable bundle, through the
//     referrers tag schema (the image index tagged sha256-<hex>);
//  3. failing both, a legacy cosign attestation tagged sha256-<hex>.att.
//
// Which referrers are candidates, in which order, and when one is unusable
// is decided by pickBundles (candidates.go). The first usable one is
// returned in the Attestation's own fields, the others in Alternatives;
// the unusable ones are named in Skipped.
//
// When nothing usable is found the error is a *FetchError of
// KindIntegrity when a referrer was unusable because the registry served
// wrong or oversized bytes for it, else KindNoSignature (errors.Is
// ErrNoSignature), naming every skipped referrer; when the registry says
// the repository is unknown, KindGone. A referrer the registry fails to
// serve (5xx, timeouts, bodies cut short, after retries) makes the search
// fail transiently: it might have been the valid one.
func (c *Client) FindSigstoreBundle(ctx context.Context, ref, digest string) (*Attestation, error) {
	const op = "find signature"
	t, err := c.parseTarget(op, ref)
	if err != nil {
		return nil, err
	}
	if err := checkDigest(op, ref, digest); err != nil {
		return nil, err
	}
	return c.findSigstoreBundle(ctx, httpStore{c, t}, digest)
}

// findSigstoreBundle is FindSigstoreBundle in any store.
func (c *Client) findSigstoreBundle(ctx context.Context, st store, digest string) (*Attestation, error) {
	const op = "find signature"
	at := st.name() + "@" + digest
	search := &bundleSearch{subject: digest, seen: map[string]bool{}}

	idx, supported, err := st.referrers(ctx, digest)
	if err != nil {
		return nil, err
	}
	if supported {
		a, err := c.pickBundles(ctx, st, search, idx, ViaReferrersAPI)
		if a != nil || err != nil {
			return a, err
		}
	}
	fallbackTag := strings.Replace(digest, ":", "-", 1)
	raw, mt, err := st.manifest(ctx, fallbackTag, "get referrers tag")
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
			a, err := c.pickBundles(ctx, st, search, m.Manifests, ViaTagSchema)
			if a != nil || err != nil {
				return a, err
			}
		}
	}
	a, err := c.legacyAttestation(ctx, st, fallbackTag+".att")
	if a != nil {
		a.Skipped = search.skipped
	}
	if a != nil || err != nil {
		return a, err
	}
	return nil, search.failure(op, at)
}

// referrersAPI lists the referrers of digest, following Link pagination.
// supported is false when the registry lacks the API.
func (c *Client) referrersAPI(ctx context.Context, t target, digest string) (descs []Descriptor, supported bool, err error) {
	if _, lacks := c.noReferrers.Load(t.host); lacks {
		return nil, false, nil
	}
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
				c.noReferrers.Store(t.host, true)
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

// legacyAttestation reads a cosign .att image; nil, nil when there is none.
// Its config blob is read too (for the archive: a copy of the image must be
// whole); one that cannot be read leaves Config nil, as verification does
// not need it.
func (c *Client) legacyAttestation(ctx context.Context, st store, tag string) (*Attestation, error) {
	raw, mt, err := st.manifest(ctx, tag, "get cosign attestation")
	if gone, repoGone := notFound(err); gone && !repoGone {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	at := st.name() + ":" + tag
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
	a := &Attestation{Kind: AttestationCosignLegacy, Via: ViaCosignAtt, ReferrerDigest: sha256Digest(raw),
		Manifest: raw, ManifestMediaType: mt, ConfigDescriptor: m.Config}
	for _, l := range m.Layers {
		if strings.ToLower(l.MediaType) != MediaTypeDSSEEnvelope {
			continue
		}
		if len(a.Legacy) >= maxLegacyLayers {
			return nil, bad("more than %d DSSE layers", maxLegacyLayers)
		}
		env, err := st.blob(ctx, l, c.o.limits.Bundle, "get cosign attestation layer")
		if err != nil {
			return nil, err
		}
		a.Legacy = append(a.Legacy, LegacyLayer{
			Descriptor:       l,
			Envelope:         env,
			Certificate:      l.Annotations[AnnotationCosignCertificate],
			Chain:            l.Annotations[AnnotationCosignChain],
			Bundle:           l.Annotations[AnnotationCosignBundle],
			Signature:        l.Annotations[AnnotationCosignSignature],
			RFC3161Timestamp: l.Annotations[AnnotationCosignRFC3161],
		})
	}
	if len(a.Legacy) == 0 {
		return nil, nil
	}
	a.Config = c.optionalBlob(ctx, st, m.Config, "get cosign attestation config")
	return a, nil
}

// optionalBlob reads a blob verification does not need but a copy of the
// artifact does (a config); nil when it cannot be read.
func (c *Client) optionalBlob(ctx context.Context, st store, d Descriptor, op string) []byte {
	b, err := st.blob(ctx, d, c.o.limits.Manifest, op)
	if err != nil {
		return nil
	}
	return b
}

func sha256Digest(b []byte) string {
	return fmt.Sprintf("sha256:%x", sha256Sum(b))
}

package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Media types this package reads.
const (
	MediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex       = "application/vnd.oci.image.index.v1+json"
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeOCIEmpty       = "application/vnd.oci.empty.v1+json"
	MediaTypeOCILayerGzip   = "application/vnd.oci.image.layer.v1.tar+gzip"
	MediaTypeDockerLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// emptyJSONDigest is the digest of "{}", the OCI empty descriptor.
const emptyJSONDigest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

var manifestAccept = []string{MediaTypeOCIManifest, MediaTypeDockerManifest, MediaTypeOCIIndex, MediaTypeDockerList}

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Data         []byte            `json:"data,omitempty"`
}

// manifest is the union of the OCI image manifest and index fields this
// package reads.
type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        Descriptor        `json:"config"`
	Layers        []Descriptor      `json:"layers"`
	Manifests     []Descriptor      `json:"manifests"`
	Subject       *Descriptor       `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

// Summary is a summary bundle fetched by digest (SPEC §2.2). All bytes have
// been checked against their digests and limits.
type Summary struct {
	// Repository is "host/repository" as fetched (the locator's tag dropped).
	Repository string
	// Digest is the manifest digest that was pinned and verified.
	Digest string
	// MediaType is the manifest's media type (OCI image manifest, or Docker
	// v2 schema 2).
	MediaType string
	// ArtifactType is the manifest's artifactType, or else its config media type.
	ArtifactType string
	// Annotations are the manifest's annotations.
	Annotations map[string]string
	// Manifest is the raw manifest.
	Manifest []byte
	// Config is the raw config blob ("{}" for the OCI empty descriptor).
	Config           []byte
	ConfigDescriptor Descriptor
	// Layer is the raw tar+gzip layer; see ExtractLayer.
	Layer           []byte
	LayerDescriptor Descriptor
}

// Ref returns "host/repository@digest".
func (s *Summary) Ref() string { return s.Repository + "@" + s.Digest }

// Files extracts the layer; see ExtractLayer.
func (s *Summary) Files(lim TarLimits) (map[string][]byte, error) {
	return ExtractLayer(bytes.NewReader(s.Layer), lim)
}

// FetchSummary fetches the summary bundle pinned by digest from the
// repository named by ref (a pointer's bundle.oci: host/repo[:tag]; the tag
// is ignored). The manifest must be an OCI image manifest (or Docker v2
// schema 2) with exactly one gzip-compressed tar layer (media type ending
// in "+gzip", or Docker's rootfs tar.gzip; non-distributable layers are
// refused). Manifest, config and layer are size-bounded and digest-verified.
// The layer is held in memory; the audit streams it instead (Layer).
//
// Errors are *FetchError: KindGone when the manifest or layer is not
// served, KindIntegrity when the bytes are wrong, KindTransient after
// retries, and so on.
func (c *Client) FetchSummary(ctx context.Context, ref, digest string) (*Summary, error) {
	const op = "fetch summary"
	t, err := c.parseTarget(op, ref)
	if err != nil {
		return nil, err
	}
	if err := checkDigest(op, ref, digest); err != nil {
		return nil, err
	}
	return c.fetchSummary(ctx, httpStore{c, t}, digest, true)
}

// fetchSummary is FetchSummary from any store; without withLayer it stops
// at the config, leaving the layer to be streamed (Layer).
func (c *Client) fetchSummary(ctx context.Context, st store, digest string, withLayer bool) (*Summary, error) {
	const op = "fetch summary"
	at := st.name() + "@" + digest
	raw, mt, err := st.manifest(ctx, digest, "get manifest")
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return &FetchError{Op: op, Ref: at, Kind: KindIntegrity, Err: integrityf(format, args...)}
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, bad("malformed manifest: %v", err)
	}
	switch mt {
	case MediaTypeOCIManifest, MediaTypeDockerManifest:
	case MediaTypeOCIIndex, MediaTypeDockerList:
		return nil, bad("%s is an image index, not a summary bundle manifest", digest)
	default:
		return nil, bad("unsupported manifest media type %q", mt)
	}
	if m.SchemaVersion != 2 {
		return nil, bad("manifest schemaVersion %d, want 2", m.SchemaVersion)
	}
	if len(m.Layers) != 1 {
		return nil, bad("summary bundle has %d layers, want exactly 1", len(m.Layers))
	}
	layer := m.Layers[0]
	if !summaryLayerType(layer.MediaType) {
		return nil, bad("layer media type %q is not a gzip-compressed tar", layer.MediaType)
	}
	if err := checkDescriptor(layer, c.o.limits.Layer); err != nil {
		return nil, &FetchError{Op: op, Ref: at, Kind: KindIntegrity, Err: fmt.Errorf("layer: %w", err)}
	}
	if err := checkDescriptor(m.Config, c.o.limits.Manifest); err != nil {
		return nil, &FetchError{Op: op, Ref: at, Kind: KindIntegrity, Err: fmt.Errorf("config: %w", err)}
	}

	s := &Summary{
		Repository:       st.name(),
		Digest:           digest,
		MediaType:        mt,
		ArtifactType:     m.ArtifactType,
		Annotations:      m.Annotations,
		Manifest:         raw,
		ConfigDescriptor: m.Config,
		LayerDescriptor:  layer,
	}
	if s.ArtifactType == "" {
		s.ArtifactType = m.Config.MediaType
	}
	if s.Config, err = st.blob(ctx, m.Config, c.o.limits.Manifest, "get config"); err != nil {
		return nil, err
	}
	if !withLayer {
		return s, nil
	}
	if s.Layer, err = st.blob(ctx, layer, c.o.limits.Layer, "get layer"); err != nil {
		return nil, err
	}
	return s, nil
}

func summaryLayerType(mt string) bool {
	mt = strings.ToLower(mt)
	if strings.Contains(mt, "nondistributable") || strings.Contains(mt, "foreign") {
		return false
	}
	return strings.HasSuffix(mt, "+gzip") || mt == MediaTypeDockerLayer
}

// checkDescriptor validates a descriptor's digest and size against limit.
func checkDescriptor(d Descriptor, limit int64) error {
	if !anyDigestRE.MatchString(d.Digest) {
		return integrityf("descriptor digest %q is not a sha256/sha512 digest", d.Digest)
	}
	if d.Size < 0 {
		return integrityf("descriptor size %d is negative", d.Size)
	}
	if d.Size > limit {
		return integrityf("descriptor size %d exceeds the %d-byte limit", d.Size, limit)
	}
	return nil
}

// getManifest fetches a manifest by digest or tag, bounded by the manifest
// limit; by digest it is verified. It returns the bytes and the media type
// (the body's mediaType field, else the Content-Type header).
func (c *Client) getManifest(ctx context.Context, t target, reference, op string) ([]byte, string, error) {
	at := t.repo.String() + "@" + reference
	if !strings.Contains(reference, ":") {
		at = t.repo.String() + ":" + reference
	}
	want := body{limit: c.o.limits.Manifest, size: -1, json: true}
	if strings.Contains(reference, ":") {
		want.digest = reference
	}
	var resp *response
	err := c.do(ctx, op, at, func(ctx context.Context) error {
		var err error
		resp, err = c.fetch(ctx, t, http.MethodGet, t.url(&c.o, "manifests", reference), manifestAccept, want, http.StatusOK)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	var probe struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(resp.body, &probe); err != nil {
		return nil, "", &FetchError{Op: op, Ref: at, Kind: KindIntegrity, Err: integrityf("malformed manifest: %v", err)}
	}
	mt := probe.MediaType
	if mt == "" {
		mt = mediaTypeOf(resp.header.Get("Content-Type"))
	}
	return resp.body, mt, nil
}

// getBlob fetches a blob by descriptor: at most limit bytes, exactly
// d.Size bytes, matching d.Digest. The OCI empty descriptor and inline data
// need no request.
func (c *Client) getBlob(ctx context.Context, t target, d Descriptor, limit int64, op string) ([]byte, error) {
	at := t.repo.String() + "@" + d.Digest
	if b, ok, err := knownBlob(op, at, d, limit); ok || err != nil {
		return b, err
	}
	var b []byte
	err := c.do(ctx, op, at, func(ctx context.Context) error {
		resp, err := c.fetch(ctx, t, http.MethodGet, t.url(&c.o, "blobs", d.Digest), nil, body{limit: limit, size: d.Size, digest: d.Digest}, http.StatusOK)
		if err != nil {
			return err
		}
		b = resp.body
		return nil
	})
	return b, err
}

// notFound reports whether err is a 404-class answer (gone), and whether
// the registry said the whole repository is unknown.
func notFound(err error) (gone bool, repoGone bool) {
	var fe *FetchError
	if !errors.As(err, &fe) || fe.Kind != KindGone {
		return false, false
	}
	return true, fe.Code == "NAME_UNKNOWN"
}

package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Target is where a summary bundle goes.
type Target struct {
	// Host is the registry, "127.0.0.1:5000" or "ghcr.io".
	Host string
	// Repo is the repository path, "owner/aicr-evidence".
	Repo string
	// Tag is the tag of the summary manifest; empty means
	// "<recipe>-<first 12 hex of the manifest digest>", as AICR tags.
	// PublishLegacyAttestation ignores it.
	Tag string
	// PlainHTTP talks HTTP instead of HTTPS (go-containerregistry already
	// does so for loopback and RFC 1918 hosts).
	PlainHTTP bool
}

// Repository returns "Host/Repo", the name the signed statement's subject
// carries.
func (t Target) Repository() string { return t.Host + "/" + t.Repo }

func (t Target) repository() (name.Repository, error) {
	opts := []name.Option{name.StrictValidation}
	if t.PlainHTTP {
		opts = append(opts, name.Insecure)
	}
	return name.NewRepository(t.Repository(), opts...)
}

// Identity is the signer the certificate names: the OIDC issuer and the
// subject alternative name (a GitHub workflow URI or an e-mail address).
// They are the pointer's signer.issuer and signer.identity.
type Identity struct {
	Issuer string
	SAN    string
}

// StatementSigner signs an in-toto statement as id at time at and returns
// the Sigstore bundle v0.3 JSON (DSSE envelope, certificate, transparency-log
// entry) and the entry's log index. publish treats the bundle as opaque.
type StatementSigner interface {
	Sign(statement []byte, id Identity, at time.Time) (bundleJSON []byte, logIndex int64, err error)
}

// SignerFunc adapts a function to StatementSigner.
type SignerFunc func(statement []byte, id Identity, at time.Time) ([]byte, int64, error)

// Sign calls f.
func (f SignerFunc) Sign(statement []byte, id Identity, at time.Time) ([]byte, int64, error) {
	return f(statement, id, at)
}

// AttachMode selects how the Sigstore bundle referrer is made discoverable.
type AttachMode int

const (
	// AttachAuto does what OCI 1.1 clients (go-containerregistry, oras,
	// cosign) do: push the referrer; if the registry does not serve the
	// Referrers API, maintain the sha256-<hex> tag index too.
	AttachAuto AttachMode = iota
	// ReferrersAPI pushes the referrer by digest only and relies on the
	// registry's Referrers API; it fails, after the push, when the registry
	// does not serve it.
	ReferrersAPI
	// TagSchema always maintains the sha256-<hex> tag index, even when the
	// registry also serves the Referrers API.
	TagSchema
)

func (m AttachMode) String() string {
	switch m {
	case AttachAuto:
		return "auto"
	case ReferrersAPI:
		return "referrers-api"
	case TagSchema:
		return "tag-schema"
	}
	return fmt.Sprintf("AttachMode(%d)", int(m))
}

// Published is what Publish pushed.
type Published struct {
	ManifestDigest string // the summary manifest, "sha256:<hex>"
	LayerDigest    string
	ReferrerDigest string // the bundle referrer manifest; empty when unsigned
	LogIndex       int64  // from the signer; -1 when unsigned
	OCIRef         string // "host/repo:tag"
	// Statement is the signed statement and Bundle the signer's Sigstore
	// bundle; both nil when unsigned.
	Statement []byte
	Bundle    []byte
}

// rawManifest pushes manifest bytes as they are.
type rawManifest struct {
	b  []byte
	mt types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.b, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// Publish pushes s to target (blobs, then the manifest under target.Tag),
// signs s.Statement(target.Repository()) as id at time at, and attaches the
// bundle as an OCI 1.1 referrer of the summary manifest as mode says. A nil
// signer publishes the summary unsigned: no referrer, LogIndex -1.
//
// Publish is a one-shot Publisher; to publish many summaries, reuse one.
func Publish(ctx context.Context, target Target, s *Summary, signer StatementSigner, id Identity, at time.Time, mode AttachMode) (*Published, error) {
	return NewPublisher().Publish(ctx, target, s, signer, id, at, mode)
}

// Publisher publishes summaries and remembers, across calls, what
// go-containerregistry learns per repository: the version check and the
// blobs already pushed (the empty config). That saves two of ten requests
// per summary. It is safe for concurrent use; use one per registry
// lifetime (a registry restarted empty would be assumed to hold the blobs).
type Publisher struct {
	mu      sync.Mutex
	pushers map[bool]*remote.Pusher // by tag fallback enabled
	puller  *remote.Puller
}

// NewPublisher returns an empty Publisher.
func NewPublisher() *Publisher {
	return &Publisher{pushers: map[bool]*remote.Pusher{}}
}

var remoteOptions = []remote.Option{remote.WithUserAgent("evidence-auditd-sandbox")}

func (pub *Publisher) pusher(fallback bool) (*remote.Pusher, error) {
	pub.mu.Lock()
	defer pub.mu.Unlock()
	if p := pub.pushers[fallback]; p != nil {
		return p, nil
	}
	p, err := remote.NewPusher(append(remoteOptions, remote.WithReferrersTagFallback(fallback))...)
	if err != nil {
		return nil, err
	}
	pub.pushers[fallback] = p
	return p, nil
}

func (pub *Publisher) getPuller() (*remote.Puller, error) {
	pub.mu.Lock()
	defer pub.mu.Unlock()
	if pub.puller == nil {
		p, err := remote.NewPuller(remoteOptions...)
		if err != nil {
			return nil, err
		}
		pub.puller = p
	}
	return pub.puller, nil
}

// Publish is the package-level Publish, reusing pub's state.
func (pub *Publisher) Publish(ctx context.Context, target Target, s *Summary, signer StatementSigner, id Identity, at time.Time, mode AttachMode) (*Published, error) {
	if s == nil {
		return nil, errors.New("publish: nil summary")
	}
	if mode < AttachAuto || mode > TagSchema {
		return nil, fmt.Errorf("publish %s: unknown attach mode %d", s.Spec.Recipe, int(mode))
	}
	repo, err := target.repository()
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", s.Spec.Recipe, err)
	}
	tagName := target.Tag
	if tagName == "" {
		tagName = DefaultTag(s)
	}
	tag := repo.Tag(tagName)
	if _, err := name.NewTag(tag.String(), name.StrictValidation); err != nil {
		return nil, fmt.Errorf("publish %s: %w", s.Spec.Recipe, err)
	}
	out := &Published{
		ManifestDigest: s.ManifestDigest,
		LayerDigest:    s.LayerDigest,
		LogIndex:       -1,
		OCIRef:         tag.String(),
	}

	p, err := pub.pusher(mode != ReferrersAPI)
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", s.Spec.Recipe, err)
	}
	if err := p.Upload(ctx, repo, static.NewLayer(emptyConfig, types.MediaType(MediaTypeEmpty))); err != nil {
		return nil, fmt.Errorf("publish %s: upload config: %w", tag, err)
	}
	if err := p.Upload(ctx, repo, static.NewLayer(s.Layer, types.OCILayer)); err != nil {
		return nil, fmt.Errorf("publish %s: upload layer: %w", tag, err)
	}
	if err := p.Put(ctx, tag, rawManifest{s.Manifest, types.OCIManifestSchema1}); err != nil {
		return nil, fmt.Errorf("publish %s: put manifest: %w", tag, err)
	}
	if signer == nil {
		return out, nil
	}

	out.Statement = s.Statement(target.Repository())
	out.Bundle, out.LogIndex, err = signer.Sign(out.Statement, id, at)
	if err != nil {
		return nil, fmt.Errorf("publish %s: sign: %w", tag, err)
	}
	out.ReferrerDigest, err = pub.attach(ctx, p, repo, s, Referrer{Bundle: out.Bundle, At: at}, mode)
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", tag, err)
	}
	return out, nil
}

// Referrer is a Sigstore bundle referrer to attach to a published summary.
// Beside the signature Publish attaches, it lets a world carry the
// referrers an auditor meets in the wild: re-signatures, and unusable
// ones.
type Referrer struct {
	// Bundle is the layer's content, normally a Sigstore bundle v0.3 from a
	// StatementSigner; any bytes are pushed as they are.
	Bundle []byte
	// MediaType is the layer's media type; empty means MediaTypeBundle.
	// The manifest's artifactType is MediaTypeBundle either way.
	MediaType string
	// At is the referrer's org.opencontainers.image.created annotation.
	At time.Time
	// OmitBlob pushes the manifest without uploading the layer blob: a
	// referrer whose bundle the registry no longer serves.
	OmitBlob bool
}

// Attach pushes r as an OCI 1.1 referrer of the summary s already
// published to target, discoverable as mode says (see AttachMode), and
// returns the referrer manifest's digest.
func (pub *Publisher) Attach(ctx context.Context, target Target, s *Summary, r Referrer, mode AttachMode) (string, error) {
	if s == nil {
		return "", errors.New("attach: nil summary")
	}
	if mode < AttachAuto || mode > TagSchema {
		return "", fmt.Errorf("attach to %s: unknown attach mode %d", s.ManifestDigest, int(mode))
	}
	repo, err := target.repository()
	if err != nil {
		return "", fmt.Errorf("attach to %s: %w", s.ManifestDigest, err)
	}
	p, err := pub.pusher(mode != ReferrersAPI)
	if err != nil {
		return "", fmt.Errorf("attach to %s: %w", s.ManifestDigest, err)
	}
	if err := p.Upload(ctx, repo, static.NewLayer(emptyConfig, types.MediaType(MediaTypeEmpty))); err != nil {
		return "", fmt.Errorf("attach to %s: upload config: %w", s.ManifestDigest, err)
	}
	d, err := pub.attach(ctx, p, repo, s, r, mode)
	if err != nil {
		return "", fmt.Errorf("attach to %s: %w", s.ManifestDigest, err)
	}
	return d, nil
}

// attach uploads r's blob and pushes its referrer manifest with p.
func (pub *Publisher) attach(ctx context.Context, p *remote.Pusher, repo name.Repository, s *Summary, r Referrer, mode AttachMode) (string, error) {
	if r.MediaType == "" {
		r.MediaType = MediaTypeBundle
	}
	refManifest, err := bundleReferrer(s, r)
	if err != nil {
		return "", err
	}
	if !r.OmitBlob {
		if err := p.Upload(ctx, repo, static.NewLayer(r.Bundle, types.MediaType(r.MediaType))); err != nil {
			return "", fmt.Errorf("upload bundle: %w", err)
		}
	}
	refDigest := "sha256:" + sha256Hex(refManifest)
	// remote's Put of a manifest with a subject probes the Referrers API and,
	// when it is missing and the fallback is enabled, updates the tag index.
	if err := p.Put(ctx, repo.Digest(refDigest), rawManifest{refManifest, types.OCIManifestSchema1}); err != nil {
		return "", fmt.Errorf("attach bundle: %w", err)
	}
	if mode == TagSchema {
		desc, err := referrerDescriptor(refManifest)
		if err != nil {
			return "", err
		}
		puller, err := pub.getPuller()
		if err != nil {
			return "", err
		}
		if err := ensureInTagIndex(ctx, p, puller, repo, s.ManifestDigest, desc); err != nil {
			return "", fmt.Errorf("attach bundle: %w", err)
		}
	}
	return refDigest, nil
}

// DefaultTag is the tag Publish uses when Target.Tag is empty:
// "<recipe>-<first 12 hex of the manifest digest>", the recipe part cut so
// the tag stays within 128 characters.
func DefaultTag(s *Summary) string {
	r := s.Spec.Recipe
	if len(r) > 114 {
		r = r[:114]
	}
	return r + "-" + s.ManifestDigest[len("sha256:"):][:12]
}

// bundleReferrer is the OCI 1.1 referrer manifest carrying r's bundle, laid
// out as cosign's bundle specification (specs/BUNDLE_SPEC.md) describes.
func bundleReferrer(s *Summary, r Referrer) ([]byte, error) {
	bundleHex := sha256Hex(r.Bundle)
	subject := s.Descriptor()
	subject.ArtifactType = "" // a subject descriptor names media type, digest and size
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  MediaTypeBundle,
		Config:        v1.Descriptor{MediaType: types.MediaType(MediaTypeEmpty), Size: int64(len(emptyConfig)), Digest: emptyConfigHash},
		Layers: []v1.Descriptor{{
			MediaType:   types.MediaType(r.MediaType),
			Size:        int64(len(r.Bundle)),
			Digest:      v1.Hash{Algorithm: "sha256", Hex: bundleHex},
			Annotations: map[string]string{AnnotationTitle: "sha256-" + bundleHex + ".sigstore.json"},
		}},
		Subject: &subject,
		Annotations: map[string]string{
			AnnotationBundleContent: "dsse-envelope",
			AnnotationPredicateType: s.Spec.PredicateType,
			AnnotationCreated:       r.At.UTC().Format(time.RFC3339),
		},
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("bundle referrer: %w", err)
	}
	return b, nil
}

// referrerDescriptor is the descriptor a referrers index lists for the
// referrer manifest raw: its artifactType and annotations included.
func referrerDescriptor(raw []byte) (v1.Descriptor, error) {
	m, err := v1.ParseManifest(bytesReader(raw))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("referrer descriptor: %w", err)
	}
	return v1.Descriptor{
		MediaType:    types.OCIManifestSchema1,
		Size:         int64(len(raw)),
		Digest:       v1.Hash{Algorithm: "sha256", Hex: sha256Hex(raw)},
		ArtifactType: m.ArtifactType,
		Annotations:  m.Annotations,
	}, nil
}

// FallbackTag is the referrers tag schema tag of a digest: "sha256-<hex>".
func FallbackTag(digest string) string {
	if len(digest) > 7 && digest[:7] == "sha256:" {
		return "sha256-" + digest[7:]
	}
	return digest
}

// ensureInTagIndex adds desc to the sha256-<hex> referrers index of subject
// unless it is listed already (OCI distribution spec, referrers tag schema).
// Like go-containerregistry, it keeps the index sorted by digest.
func ensureInTagIndex(ctx context.Context, p *remote.Pusher, puller *remote.Puller, repo name.Repository, subject string, desc v1.Descriptor) error {
	tag := repo.Tag(FallbackTag(subject))
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	got, err := puller.Get(ctx, tag)
	var terr *transport.Error
	switch {
	case errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound:
	case err != nil:
		return fmt.Errorf("get %s: %w", tag, err)
	default:
		cur, err := v1.ParseIndexManifest(bytesReader(got.Manifest))
		if err != nil {
			return fmt.Errorf("parse %s: %w", tag, err)
		}
		for _, d := range cur.Manifests {
			if d.Digest == desc.Digest {
				return nil
			}
		}
		idx = *cur
	}
	idx.Manifests = append(idx.Manifests, desc)
	sort.Slice(idx.Manifests, func(i, j int) bool {
		return idx.Manifests[i].Digest.String() < idx.Manifests[j].Digest.String()
	})
	raw, err := json.Marshal(idx)
	if err != nil {
		return fmt.Errorf("marshal %s: %w", tag, err)
	}
	if err := p.Put(ctx, tag, rawManifest{raw, types.OCIImageIndex}); err != nil {
		return fmt.Errorf("put %s: %w", tag, err)
	}
	return nil
}

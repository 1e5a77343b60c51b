package archive

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// Pusher writes archived bundles to OCI repositories through
// go-containerregistry: the archive repository (archive.url) and the
// targets of `archive restore`. It is safe for concurrent use.
type Pusher struct {
	p         *remote.Pusher
	plainHTTP map[string]bool
}

// NewPusher returns a Pusher that authenticates with the Docker credential
// chain, reaches the hosts in plainHTTP over plain http (as
// registry.plainHTTP does for reads), and keeps the referrers tag schema
// index of a registry without the Referrers API (OCI 1.1 clients do).
func NewPusher(userAgent string, plainHTTP []string) (*Pusher, error) {
	p, err := remote.NewPusher(
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithUserAgent(userAgent),
		remote.WithReferrersTagFallback(true),
	)
	if err != nil {
		return nil, fmt.Errorf("archive pusher: %w", err)
	}
	hosts := map[string]bool{}
	for _, h := range plainHTTP {
		hosts[strings.ToLower(strings.TrimSpace(h))] = true
	}
	return &Pusher{p: p, plainHTTP: hosts}, nil
}

// Repository parses "host/repository" (a tag or digest in it is ignored:
// bundles are pushed by digest).
func (p *Pusher) Repository(ref string) (name.Repository, error) {
	s := strings.TrimPrefix(strings.TrimSpace(ref), "oci://")
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	host, path, ok := strings.Cut(s, "/")
	if !ok || path == "" {
		return name.Repository{}, fmt.Errorf("%q: want REGISTRY/REPOSITORY", ref)
	}
	if i := strings.LastIndexByte(path, ':'); i >= 0 {
		path = path[:i]
	}
	var opts []name.Option
	if p.plainHTTP[strings.ToLower(host)] {
		opts = append(opts, name.Insecure)
	}
	repo, err := name.NewRepository(host+"/"+path, append(opts, name.StrictValidation)...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("%q: %w", ref, err)
	}
	return repo, nil
}

// rawManifest pushes manifest bytes exactly as they are (digest-preserving).
type rawManifest struct {
	b  []byte
	mt types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.b, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// push writes b to repo: the blobs (each one's digest computed from the
// bytes before upload, and checked by the registry on upload), the summary
// manifest by digest, then the signature — a Sigstore-bundle referrer by
// digest (go-containerregistry maintains the sha256-<hex> tag index when
// the registry lacks the Referrers API), or a legacy .att image under
// cosign's tag. The signature comes last: its subject must exist first.
func (p *Pusher) push(ctx context.Context, repo name.Repository, b *bundle) error {
	for _, o := range b.objects {
		if o.Manifest {
			continue
		}
		l := static.NewLayer(o.Data, types.MediaType(o.MediaType))
		if d, err := l.Digest(); err != nil || d.String() != o.Digest {
			return fmt.Errorf("push %s: %w (%v)", o.Digest, errDigestMismatch, d)
		}
		if err := p.p.Upload(ctx, repo, l); err != nil {
			return fmt.Errorf("push blob %s to %s: %w", o.Digest, repo, err)
		}
	}
	for _, m := range []audit.Object{b.summary, b.sig} {
		if err := checkDigest(m.Digest, m.Data); err != nil {
			return fmt.Errorf("push manifest %s: %w", m.Digest, err)
		}
	}
	if err := p.p.Put(ctx, repo.Digest(b.digest), rawManifest{b.summary.Data, types.MediaType(b.summary.MediaType)}); err != nil {
		return fmt.Errorf("push summary manifest %s to %s: %w", b.digest, repo, err)
	}
	var ref name.Reference = repo.Digest(b.sig.Digest)
	if b.kind == audit.CosignLegacy {
		ref = repo.Tag(legacyTag(b.digest))
	}
	if err := p.p.Put(ctx, ref, rawManifest{b.sig.Data, types.MediaType(b.sig.MediaType)}); err != nil {
		return fmt.Errorf("push signature %s to %s: %w", b.sig.Digest, ref, err)
	}
	return nil
}

package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/registry"
)

var _ audit.Archive = (*Repository)(nil)

// Repository is an archive in an OCI repository (archive.url). Bundles
// from any number of origin repositories share it: every object is
// content-addressed, and a signature is found from its subject. It starts
// no goroutines and needs no Close.
type Repository struct {
	ref    string // host/repository
	repo   name.Repository
	reader *registry.Client
	pusher *Pusher
	now    func() time.Time
}

// OpenRepository returns the archive in the repository ref ("host/path").
// reader must be allowed to reach its host (it reads copies back with the
// auditor's rules); pusher writes to it; now stamps the copies (nil:
// time.Now).
func OpenRepository(ref string, reader *registry.Client, pusher *Pusher, now func() time.Time) (*Repository, error) {
	if reader == nil || pusher == nil {
		return nil, errors.New("archive: a repository needs a registry client and a pusher")
	}
	repo, err := pusher.Repository(ref)
	if err != nil {
		return nil, fmt.Errorf("archive.url %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Repository{ref: repo.Name(), repo: repo, reader: reader, pusher: pusher, now: now}, nil
}

// Name implements audit.Archive.
func (r *Repository) Name() string { return "oci:" + r.ref }

// Put implements audit.Archive: the bundle is pushed (blobs, summary
// manifest, then the signature), then checked to be served as pushed —
// every manifest and the layer answered by digest — before the record is
// returned for the ledger.
func (r *Repository) Put(ctx context.Context, digest string, ev *audit.Evidence, sig audit.Signature) (audit.ArchivedBundle, error) {
	b, err := bundleOf(digest, ev, sig)
	if err != nil {
		return audit.ArchivedBundle{}, fmt.Errorf("archive %s: %w", digest, err)
	}
	if err := r.pusher.push(ctx, r.repo, b); err != nil {
		return audit.ArchivedBundle{}, fmt.Errorf("archive %s: %w", digest, err)
	}
	if err := r.reader.Probe(ctx, r.ref, digest, ev.LayerDigest, b.sig.Digest); err != nil {
		return audit.ArchivedBundle{}, fmt.Errorf("archive %s: pushed, but not served back: %w", digest, err)
	}
	return b.record(r.Name(), r.now()), nil
}

// Fetch implements audit.Archive: the registry client reads the bundle
// from the archive repository as it reads any origin, whole (an archived
// copy is judged with every object in hand).
func (r *Repository) Fetch(ctx context.Context, digest string) (*audit.Evidence, error) {
	return r.reader.FetchWhole(ctx, r.ref, digest)
}

// Object reads one archived object as the registry serves it; a manifest
// or blob whose bytes do not match its digest is an error.
func (r *Repository) Object(ctx context.Context, o audit.ObjectRef) ([]byte, error) {
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	if o.Manifest {
		d, err := remote.Get(r.repo.Digest(o.Digest), opts...)
		if err != nil {
			return nil, err
		}
		return d.Manifest, nil
	}
	l, err := remote.Layer(r.repo.Digest(o.Digest), opts...)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, o.Size+1))
}

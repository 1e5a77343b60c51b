package archive

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/atomicfile"
	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/registry"
)

var _ audit.Archive = (*Layout)(nil)

// tempKind names the temporary files of blob writes (atomicfile.TempPattern).
const tempKind = "tmp"

// maxManifest bounds a manifest read that no index entry sizes (the
// registry client's default manifest limit).
const maxManifest = 4 << 20

// ociLayoutFile is the OCI image layout's marker file.
const ociLayoutFile = `{"imageLayoutVersion":"1.0.0"}`

// Layout is an archive in an OCI image layout directory (archive.dir). It
// is safe for concurrent use by one process; across processes, only one
// may write at a time (the audit lock sees to it), while any number read.
// It starts no goroutines and needs no Close.
type Layout struct {
	dir    string
	reader *registry.Client
	now    func() time.Time

	// Group commit of index entries (index.go).
	mu         sync.Mutex
	committing bool
	pending    []pendingEntries
	// index is the index as the committing goroutine last wrote or read
	// it (only it touches it), so that a commit rewrites the shards it
	// changes without re-reading the whole index.
	index *indexCache
}

// OpenLayout opens (creating it when absent) the layout in dir. reader
// reads copies back, with its limits; now stamps the copies (nil:
// time.Now). Temporary files of writers killed mid-copy are removed.
func OpenLayout(dir string, reader *registry.Client, now func() time.Time) (*Layout, error) {
	if reader == nil {
		return nil, errors.New("archive: a layout needs a registry client to read copies back")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", dir, err)
	}
	if now == nil {
		now = time.Now
	}
	l := &Layout{dir: abs, reader: reader, now: now}
	if err := os.MkdirAll(filepath.Join(abs, "blobs", "sha256"), 0o750); err != nil {
		return nil, fmt.Errorf("archive %s: %w", abs, err)
	}
	marker := filepath.Join(abs, "oci-layout")
	if _, err := os.Stat(marker); errors.Is(err, fs.ErrNotExist) {
		if err := atomicfile.WriteBytes(marker, 0o644, []byte(ociLayoutFile)); err != nil {
			return nil, fmt.Errorf("archive %s: %w", abs, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("archive %s: %w", abs, err)
	}
	for _, alg := range []string{"sha256", "sha512"} {
		atomicfile.RemoveStaleIn(filepath.Join(abs, "blobs", alg), tempKind)
	}
	return l, nil
}

// OpenLayoutReadOnly opens an existing layout for reading (archive verify,
// restore): nothing is created or cleaned.
func OpenLayoutReadOnly(dir string, reader *registry.Client) (*Layout, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(abs, "oci-layout")); err != nil {
		return nil, fmt.Errorf("archive %s: not an OCI image layout: %w", abs, err)
	}
	return &Layout{dir: abs, reader: reader, now: time.Now}, nil
}

// Name implements audit.Archive and registry.Store.
func (l *Layout) Name() string { return "oci-layout:" + l.dir }

// Dir is the layout's directory.
func (l *Layout) Dir() string { return l.dir }

// blobPath is where the blob digest lives.
func (l *Layout) blobPath(digest string) (string, error) {
	if _, _, err := newHash(digest); err != nil {
		return "", err
	}
	alg, hexPart, _ := strings.Cut(digest, ":")
	return filepath.Join(l.dir, "blobs", alg, hexPart), nil
}

// Put implements audit.Archive: every object is written (or found intact),
// each checked against its digest as it is written, the blob directories
// synced, and only then are the index entries naming the bundle committed.
func (l *Layout) Put(ctx context.Context, digest string, ev *audit.Evidence, sig audit.Signature) (audit.ArchivedBundle, error) {
	b, err := bundleOf(digest, ev, sig)
	if err != nil {
		return audit.ArchivedBundle{}, fmt.Errorf("archive %s: %w", digest, err)
	}
	for _, o := range b.objects {
		if err := ctx.Err(); err != nil {
			return audit.ArchivedBundle{}, fmt.Errorf("archive %s: %w", digest, err)
		}
		if err := l.writeBlob(o.Digest, o.Data); err != nil {
			return audit.ArchivedBundle{}, fmt.Errorf("archive %s: %w", digest, err)
		}
	}
	at := l.now()
	if err := l.publish(b.entries(at)); err != nil {
		return audit.ArchivedBundle{}, fmt.Errorf("archive %s: %w", digest, err)
	}
	return b.record(l.Name(), at), nil
}

// writeBlob stores data as the blob digest: hashed as it is written
// (bytes that do not match are refused), fsync'd, renamed into place. A
// blob already there is re-hashed and kept when intact, replaced when
// damaged. The directory itself is synced by the index commit that makes
// the blob reachable.
func (l *Layout) writeBlob(digest string, data []byte) error {
	p, err := l.blobPath(digest)
	if err != nil {
		return err
	}
	if intact, _ := l.intact(p, digest, int64(len(data))); intact {
		return nil
	}
	h, want, _ := newHash(digest)
	f, err := os.CreateTemp(filepath.Dir(p), atomicfile.TempPattern(p, tempKind))
	if err != nil {
		return fmt.Errorf("write blob %s: %w", digest, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	_, err = io.MultiWriter(f, h).Write(data)
	if err == nil {
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			err = fmt.Errorf("%w: refusing bytes that hash to %s", errDigestMismatch, got)
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o444)
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		return fmt.Errorf("write blob %s: %w", digest, err)
	}
	return nil
}

var errDigestMismatch = errors.New("content does not match its digest")

// intact reports whether the file at p holds exactly the blob digest of
// size bytes (size < 0: any size).
func (l *Layout) intact(p, digest string, size int64) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	if size >= 0 && fi.Size() != size {
		return false, fmt.Errorf("%d bytes, want %d", fi.Size(), size)
	}
	h, want, err := newHash(digest)
	if err != nil {
		return false, err
	}
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return false, fmt.Errorf("%w: the file hashes to %s", errDigestMismatch, got)
	}
	return true, nil
}

// readBlob reads the blob digest, at most limit bytes (limit < 0: no
// bound). A missing blob is registry.KindGone, one over the limit
// KindIntegrity; whether the bytes match is the caller's to check.
func (l *Layout) readBlob(digest string, limit int64) ([]byte, error) {
	p, err := l.blobPath(digest)
	if err != nil {
		return nil, &registry.FetchError{Op: "read blob", Ref: l.Name() + "@" + digest, Kind: registry.KindInvalidRef, Err: err}
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &registry.FetchError{Op: "read blob", Ref: l.Name() + "@" + digest, Kind: registry.KindGone, Err: errors.New("not in the archive")}
	}
	if err != nil {
		return nil, &registry.FetchError{Op: "read blob", Ref: l.Name() + "@" + digest, Kind: registry.KindTransient, Err: err}
	}
	defer f.Close()
	r := io.Reader(f)
	if limit >= 0 {
		r = io.LimitReader(f, limit+1)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, &registry.FetchError{Op: "read blob", Ref: l.Name() + "@" + digest, Kind: registry.KindTransient, Err: err}
	}
	if limit >= 0 && int64(len(b)) > limit {
		return nil, &registry.FetchError{Op: "read blob", Ref: l.Name() + "@" + digest, Kind: registry.KindIntegrity,
			Err: fmt.Errorf("more than the %d bytes its descriptor gives", limit)}
	}
	return b, nil
}

// Fetch implements audit.Archive: the bundle's index entries are looked
// up (a bundle the index does not list is not in the archive, whatever
// blobs a crash left), then the evidence is read through the registry
// client's rules, every object checked against its digest.
func (l *Layout) Fetch(ctx context.Context, digest string) (*audit.Evidence, error) {
	v, err := l.view(digest)
	if err != nil {
		return nil, err
	}
	return l.reader.ReadEvidence(ctx, v, digest)
}

// bundleView is a registry.Store of one archived bundle: its summary and
// signature manifests as the index lists them, and the layout's blobs.
type bundleView struct {
	l       *Layout
	digest  string
	entries []registry.Descriptor // the index entries of the bundle
}

var _ registry.Store = bundleView{}

// view looks up digest's index entries.
func (l *Layout) view(digest string) (bundleView, error) {
	entries, err := l.entriesOf(digest)
	if err != nil {
		return bundleView{}, err
	}
	for _, e := range entries {
		if e.Digest == digest && e.Annotations[annRole] == roleSummary {
			return bundleView{l: l, digest: digest, entries: entries}, nil
		}
	}
	return bundleView{}, &registry.FetchError{Op: "read archive", Ref: l.Name() + "@" + digest, Kind: registry.KindGone,
		Err: errors.New("the archive's index does not list this bundle")}
}

func (v bundleView) Name() string { return v.l.Name() }

// Manifest returns a manifest by digest, with the media type its index
// entry gives, or the legacy .att image by its tag.
func (v bundleView) Manifest(_ context.Context, ref string) ([]byte, string, error) {
	for _, e := range v.entries {
		if e.Digest == ref || (e.Annotations[annRefName] == ref && ref != "") {
			b, err := v.l.readBlob(e.Digest, e.Size)
			return b, e.MediaType, err
		}
	}
	if strings.Contains(ref, ":") {
		b, err := v.l.readBlob(ref, maxManifest)
		return b, "", err
	}
	return nil, "", &registry.FetchError{Op: "read archive", Ref: v.l.Name() + ":" + ref, Kind: registry.KindGone, Err: errors.New("no such tag in the archive")}
}

// Blob reads a blob, bounded by its descriptor's size.
func (v bundleView) Blob(_ context.Context, d registry.Descriptor) ([]byte, error) {
	return v.l.readBlob(d.Digest, d.Size)
}

// Referrers lists the bundle's archived Sigstore-bundle referrers.
func (v bundleView) Referrers(_ context.Context, digest string) ([]registry.Descriptor, error) {
	var out []registry.Descriptor
	for _, e := range v.entries {
		if e.Annotations[annSubject] == digest && e.Annotations[annKind] == string(audit.SigstoreBundle) {
			out = append(out, e)
		}
	}
	return out, nil
}

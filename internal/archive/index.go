package archive

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/atomicfile"
	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/registry"
)

// Annotations of the layout's index entries. A summary entry carries the
// role and the time it was archived; a signature entry the role, the
// summary it signs, its kind and, for a legacy .att image, cosign's tag as
// its ref name (so that OCI tools find it by that tag).
const (
	annRole     = "dev.evidence-auditd.archive.role"
	annSubject  = "dev.evidence-auditd.archive.subject"
	annKind     = "dev.evidence-auditd.archive.signature-kind"
	annArchived = "dev.evidence-auditd.archive.archived"
	annShard    = "dev.evidence-auditd.archive.shard"
	annRefName  = "org.opencontainers.image.ref.name"

	roleSummary   = "summary"
	roleSignature = "signature"
)

// mediaTypeIndex is the OCI image index media type.
const mediaTypeIndex = "application/vnd.oci.image.index.v1+json"

// ociIndex is an OCI image index: index.json, and each shard.
type ociIndex struct {
	SchemaVersion int                   `json:"schemaVersion"`
	MediaType     string                `json:"mediaType"`
	Manifests     []registry.Descriptor `json:"manifests"`
}

// shardOf names the shard of a summary digest: the first two hex digits.
func shardOf(digest string) string {
	_, h, _ := strings.Cut(digest, ":")
	if len(h) < 2 {
		return "00"
	}
	return h[:2]
}

// entries are b's index entries: its summary manifest and its signature
// manifest.
func (b *bundle) entries(at time.Time) []registry.Descriptor {
	sum := registry.Descriptor{MediaType: b.summary.MediaType, Digest: b.summary.Digest, Size: b.summary.Size(),
		Annotations: map[string]string{annRole: roleSummary, annArchived: at.UTC().Format(time.RFC3339)}}
	sig := registry.Descriptor{MediaType: b.sig.MediaType, Digest: b.sig.Digest, Size: b.sig.Size(), ArtifactType: b.artifactType,
		Annotations: map[string]string{annRole: roleSignature, annSubject: b.digest, annKind: string(b.kind)}}
	if b.kind == audit.CosignLegacy {
		sig.Annotations[annRefName] = legacyTag(b.digest)
	}
	return []registry.Descriptor{sum, sig}
}

// subjectOf is the summary an index entry belongs to.
func subjectOf(e registry.Descriptor) string {
	if e.Annotations[annRole] == roleSummary {
		return e.Digest
	}
	return e.Annotations[annSubject]
}

// pendingEntries is one Put's entries waiting for the group commit.
type pendingEntries struct {
	entries []registry.Descriptor
	done    chan error
}

// publish makes entries visible: they are committed with whatever other
// Puts are waiting, by whichever caller finds no commit running (it then
// commits for everyone until nobody waits). It returns once entries are in
// a committed index.json.
func (l *Layout) publish(entries []registry.Descriptor) error {
	done := make(chan error, 1)
	l.mu.Lock()
	l.pending = append(l.pending, pendingEntries{entries: entries, done: done})
	if l.committing {
		l.mu.Unlock()
		return <-done
	}
	l.committing = true
	for len(l.pending) > 0 {
		batch := l.pending
		l.pending = nil
		l.mu.Unlock()
		var all []registry.Descriptor
		for _, p := range batch {
			all = append(all, p.entries...)
		}
		err := l.commit(all)
		for _, p := range batch {
			p.done <- err
		}
		l.mu.Lock()
	}
	l.committing = false
	l.mu.Unlock()
	return <-done
}

// indexCache is the index as this process last wrote or read it: the
// root, the shards loaded so far, and index.json's size and modification
// time then (another writer — there should be none, the audit lock sees to
// it — changes them, and the cache is dropped).
type indexCache struct {
	root   ociIndex
	shards map[string][]registry.Descriptor
	size   int64
	mtime  time.Time
}

// cached returns the index cache, reloading the root when index.json
// changed behind it.
func (l *Layout) cached() (*indexCache, error) {
	fi, err := os.Stat(filepath.Join(l.dir, "index.json"))
	var size int64
	var mtime time.Time
	if err == nil {
		size, mtime = fi.Size(), fi.ModTime()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read index.json: %w", err)
	}
	if c := l.index; c != nil && c.size == size && c.mtime.Equal(mtime) {
		return c, nil
	}
	root, err := l.root()
	if err != nil {
		return nil, err
	}
	l.index = &indexCache{root: root, shards: map[string][]registry.Descriptor{}, size: size, mtime: mtime}
	return l.index, nil
}

// commit adds entries to the index: each touched shard is rewritten as a
// new blob (the entries it held plus the new ones, one per digest, sorted),
// the blob directory synced, then index.json replaced atomically with the
// new shard descriptors — the moment the entries become visible. The
// shards replaced are deleted afterwards; a crash before that leaves them
// as unreferenced blobs.
func (l *Layout) commit(entries []registry.Descriptor) error {
	c, err := l.cached()
	if err != nil {
		return err
	}
	root := ociIndex{SchemaVersion: 2, MediaType: mediaTypeIndex, Manifests: append([]registry.Descriptor{}, c.root.Manifests...)}
	byShard := map[string][]registry.Descriptor{}
	for _, e := range entries {
		s := shardOf(subjectOf(e))
		byShard[s] = append(byShard[s], e)
	}
	var replaced []string
	shards := map[string][]registry.Descriptor{}
	for shard, adds := range byShard {
		i := slices.IndexFunc(root.Manifests, func(d registry.Descriptor) bool { return d.Annotations[annShard] == shard })
		var cur []registry.Descriptor
		if i >= 0 {
			var ok bool
			if cur, ok = c.shards[shard]; !ok {
				idx, err := l.readShard(root.Manifests[i])
				if err != nil {
					return err
				}
				cur = idx.Manifests
			}
		}
		merged := mergeEntries(cur, adds)
		if i >= 0 && len(merged) == len(cur) {
			continue // nothing new in this shard
		}
		raw, err := json.Marshal(ociIndex{SchemaVersion: 2, MediaType: mediaTypeIndex, Manifests: merged})
		if err != nil {
			return err
		}
		d := registry.Descriptor{MediaType: mediaTypeIndex, Digest: sha256Digest(raw), Size: int64(len(raw)),
			Annotations: map[string]string{annShard: shard}}
		if err := l.writeBlob(d.Digest, raw); err != nil {
			return fmt.Errorf("write shard %s: %w", shard, err)
		}
		shards[shard] = merged
		if i >= 0 {
			replaced = append(replaced, root.Manifests[i].Digest)
			root.Manifests[i] = d
		} else {
			root.Manifests = append(root.Manifests, d)
		}
	}
	if len(shards) == 0 {
		return nil // every entry was listed already (a copy redone after a crash)
	}
	slices.SortFunc(root.Manifests, func(a, b registry.Descriptor) int {
		return strings.Compare(a.Annotations[annShard], b.Annotations[annShard])
	})
	// Every blob the new index reaches must be durable before the index.
	for _, alg := range []string{"sha256", "sha512"} {
		syncDir(filepath.Join(l.dir, "blobs", alg))
	}
	raw, err := json.Marshal(root)
	if err != nil {
		return err
	}
	path := filepath.Join(l.dir, "index.json")
	if err := atomicfile.WriteBytes(path, 0o644, raw); err != nil {
		l.index = nil // whatever is on disk now is read again
		return fmt.Errorf("write index.json: %w", err)
	}
	for _, d := range replaced {
		if p, err := l.blobPath(d); err == nil {
			os.Remove(p)
		}
	}
	c.root = root
	for shard, es := range shards {
		c.shards[shard] = es
	}
	if fi, err := os.Stat(path); err == nil {
		c.size, c.mtime = fi.Size(), fi.ModTime()
	} else {
		l.index = nil
	}
	return nil
}

// mergeEntries adds to cur the entries of adds whose digest it lacks, and
// sorts the result by digest.
func mergeEntries(cur, adds []registry.Descriptor) []registry.Descriptor {
	have := map[string]bool{}
	out := append([]registry.Descriptor{}, cur...)
	for _, e := range cur {
		have[e.Digest] = true
	}
	for _, e := range adds {
		if !have[e.Digest] {
			have[e.Digest] = true
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b registry.Descriptor) int { return strings.Compare(a.Digest, b.Digest) })
	return out
}

// root reads index.json; an absent one is an empty index.
func (l *Layout) root() (ociIndex, error) {
	raw, err := os.ReadFile(filepath.Join(l.dir, "index.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return ociIndex{SchemaVersion: 2, MediaType: mediaTypeIndex, Manifests: []registry.Descriptor{}}, nil
	}
	if err != nil {
		return ociIndex{}, fmt.Errorf("read index.json: %w", err)
	}
	var idx ociIndex
	if err := json.Unmarshal(raw, &idx); err != nil {
		return ociIndex{}, &registry.FetchError{Op: "read index.json", Ref: l.Name(), Kind: registry.KindIntegrity, Err: err}
	}
	if idx.Manifests == nil {
		idx.Manifests = []registry.Descriptor{}
	}
	return idx, nil
}

// readShard reads a shard index, checked against its descriptor.
func (l *Layout) readShard(d registry.Descriptor) (ociIndex, error) {
	raw, err := l.readBlob(d.Digest, d.Size)
	if err == nil {
		if cerr := checkDigest(d.Digest, raw); cerr != nil {
			err = &registry.FetchError{Op: "read shard", Ref: l.Name() + "@" + d.Digest, Kind: registry.KindIntegrity, Err: cerr}
		}
	}
	if err != nil {
		return ociIndex{}, fmt.Errorf("shard %s: %w", d.Annotations[annShard], err)
	}
	var idx ociIndex
	if err := json.Unmarshal(raw, &idx); err != nil {
		return ociIndex{}, &registry.FetchError{Op: "read shard", Ref: l.Name() + "@" + d.Digest, Kind: registry.KindIntegrity, Err: err}
	}
	return idx, nil
}

// entriesOf returns the index entries of the bundle digest. A shard
// replaced between reading index.json and reading the shard (a concurrent
// commit) is retried once with the new index.
func (l *Layout) entriesOf(digest string) ([]registry.Descriptor, error) {
	shard := shardOf(digest)
	for attempt := 0; ; attempt++ {
		root, err := l.root()
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(root.Manifests, func(d registry.Descriptor) bool { return d.Annotations[annShard] == shard })
		if i < 0 {
			return nil, nil
		}
		idx, err := l.readShard(root.Manifests[i])
		if registry.KindOf(err) == registry.KindGone && attempt == 0 {
			continue
		}
		if err != nil {
			return nil, err
		}
		var out []registry.Descriptor
		for _, e := range idx.Manifests {
			if subjectOf(e) == digest {
				out = append(out, e)
			}
		}
		return out, nil
	}
}

// Listed returns every bundle the index lists, with the time it was
// archived, and the digests of the index's own shard blobs.
func (l *Layout) Listed() (bundles map[string]time.Time, shards []string, err error) {
	root, err := l.root()
	if err != nil {
		return nil, nil, err
	}
	bundles = map[string]time.Time{}
	for _, d := range root.Manifests {
		shards = append(shards, d.Digest)
		idx, err := l.readShard(d)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range idx.Manifests {
			if e.Annotations[annRole] == roleSummary {
				at, _ := time.Parse(time.RFC3339, e.Annotations[annArchived])
				bundles[e.Digest] = at
			}
		}
	}
	return bundles, shards, nil
}

// syncDir fsyncs a directory, best effort (not every file system can).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

func sha256Digest(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

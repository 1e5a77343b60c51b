package archive

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// Store is an archive store with what the archive commands need beside
// audit.Archive. *Layout and *Repository satisfy it.
type Store interface {
	audit.Archive
	// Object reads one archived object's bytes as stored.
	Object(ctx context.Context, o audit.ObjectRef) ([]byte, error)
}

var (
	_ Store = (*Layout)(nil)
	_ Store = (*Repository)(nil)
)

// Object implements Store.
func (l *Layout) Object(_ context.Context, o audit.ObjectRef) ([]byte, error) {
	return l.readBlob(o.Digest, o.Size)
}

// Problem is one thing wrong with an archived bundle: Object is the
// object at fault ("" when the bundle as a whole is).
type Problem struct {
	Bundle    string
	Object    string
	MediaType string
	Detail    string
}

func (p Problem) String() string {
	if p.Object == "" {
		return fmt.Sprintf("bundle %s: %s", p.Bundle, p.Detail)
	}
	return fmt.Sprintf("bundle %s: %s %s: %s", p.Bundle, p.MediaType, p.Object, p.Detail)
}

// Usage is what the archive takes.
type Usage struct {
	// Bytes and Files are the store's size: for a layout, every file
	// under its directory; for a repository, the objects recorded in it
	// (each digest once), which is what the registry keeps for the
	// archive.
	Bytes int64
	Files int
	// Unreferenced counts the layout's blobs that no recorded bundle and
	// no index shard names — residue of copies a crash interrupted,
	// harmless, and reused when the bundle is archived again.
	Unreferenced      int
	UnreferencedBytes int64
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Store    string
	Bundles  int   // recorded bundles checked
	Objects  int   // objects re-hashed
	Bytes    int64 // bytes re-hashed
	Problems []Problem
	// Unrecorded are bundles the layout's index lists but the ledger does
	// not (a run stopped between the copy and its record): complete
	// copies, recorded by the next full verification of their pointer.
	Unrecorded []string
	Usage      Usage
}

// OK reports whether every recorded bundle is whole and intact.
func (r *VerifyReport) OK() bool { return len(r.Problems) == 0 }

// Verify re-hashes every object of every bundle records says st holds
// (the ledger's records of that store), and, for a layout, checks its
// index against the records and measures its disk usage. progress, when
// set, is called after each bundle. An error means the archive could not
// be examined at all (the layout's index unreadable is a Problem, not an
// error); a canceled ctx stops it with ctx's error.
func Verify(ctx context.Context, st Store, records map[string]audit.ArchivedBundle, progress func(done, total int)) (*VerifyReport, error) {
	rep := &VerifyReport{Store: st.Name()}
	digests := make([]string, 0, len(records))
	for d := range records {
		digests = append(digests, d)
	}
	sort.Strings(digests)
	referenced := map[string]bool{}
	for i, d := range digests {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, o := range records[d].Objects {
			referenced[o.Digest] = true
			rep.Objects++
			data, err := st.Object(ctx, o)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				rep.Problems = append(rep.Problems, Problem{Bundle: d, Object: o.Digest, MediaType: o.MediaType, Detail: "cannot be read: " + err.Error()})
				continue
			}
			rep.Bytes += int64(len(data))
			switch {
			case int64(len(data)) != o.Size:
				rep.Problems = append(rep.Problems, Problem{Bundle: d, Object: o.Digest, MediaType: o.MediaType,
					Detail: fmt.Sprintf("%d bytes stored, %d archived", len(data), o.Size)})
			default:
				if err := checkDigest(o.Digest, data); err != nil {
					rep.Problems = append(rep.Problems, Problem{Bundle: d, Object: o.Digest, MediaType: o.MediaType, Detail: "altered: " + err.Error()})
				}
			}
		}
		rep.Bundles++
		if progress != nil {
			progress(i+1, len(digests))
		}
	}
	if l, ok := st.(*Layout); ok {
		l.verifyIndex(rep, records, referenced)
	} else {
		seen := map[string]bool{}
		for _, rec := range records {
			for _, o := range rec.Objects {
				if !seen[o.Digest] {
					seen[o.Digest] = true
					rep.Usage.Bytes += o.Size
					rep.Usage.Files++
				}
			}
		}
	}
	sort.Strings(rep.Unrecorded)
	return rep, nil
}

// verifyIndex checks the layout's index against the records — every
// recorded bundle listed, every listed one recorded — and measures the
// directory: a blob is referenced when the index reaches it (a shard, a
// listed manifest, or a config or layer of one).
func (l *Layout) verifyIndex(rep *VerifyReport, records map[string]audit.ArchivedBundle, referenced map[string]bool) {
	listed, shards, err := l.Listed()
	if err != nil {
		rep.Problems = append(rep.Problems, Problem{Bundle: "(index)", Detail: "the layout's index cannot be read: " + err.Error()})
	}
	for _, s := range shards {
		referenced[s] = true
	}
	for d := range records {
		if _, ok := listed[d]; !ok && err == nil {
			rep.Problems = append(rep.Problems, Problem{Bundle: d, Detail: "recorded as archived, but the layout's index does not list it"})
		}
	}
	for d := range listed {
		if _, ok := records[d]; !ok {
			rep.Unrecorded = append(rep.Unrecorded, d)
		}
		entries, _ := l.entriesOf(d)
		for _, e := range entries {
			referenced[e.Digest] = true
			raw, err := l.readBlob(e.Digest, e.Size)
			var refs manifestRefs
			if err != nil || json.Unmarshal(raw, &refs) != nil {
				continue
			}
			for _, x := range append([]string{refs.Config.Digest}, layerDigests(refs)...) {
				referenced[x] = true
			}
		}
	}
	blobs := filepath.Join(l.dir, "blobs")
	filepath.WalkDir(l.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return nil
		}
		rep.Usage.Bytes += info.Size()
		rep.Usage.Files++
		rel, err := filepath.Rel(blobs, p)
		if err != nil || !filepath.IsLocal(rel) {
			return nil // oci-layout, index.json
		}
		alg, hexPart, ok := strings.Cut(filepath.ToSlash(rel), "/")
		if !ok || strings.HasPrefix(hexPart, ".") || strings.Contains(hexPart, "/") {
			return nil
		}
		if !referenced[alg+":"+hexPart] {
			rep.Usage.Unreferenced++
			rep.Usage.UnreferencedBytes += info.Size()
		}
		return nil
	})
}

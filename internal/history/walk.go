package history

import (
	"context"
	"fmt"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// DefaultEvidenceDir is where pointer files live (SPEC §2.1).
const DefaultEvidenceDir = "recipes/evidence"

// allowlistName is the one YAML file at the top of the evidence directory
// that is not a pointer (SPEC §2.1).
const allowlistName = "allowlist.yaml"

// Options configure one Walk.
type Options struct {
	// Ref is the audited branch: a short name ("main", tried as
	// refs/heads/main, refs/remotes/origin/main, then refs/tags/main), a
	// full ref ("refs/remotes/origin/main") or "HEAD". Empty means HEAD.
	Ref string
	// EvidenceDir is the repository-relative directory of pointer files.
	// Empty means DefaultEvidenceDir.
	EvidenceDir string
	// From is the head commit (full hex id) of the previous walk, as the
	// ledger recorded it. Empty means a full walk.
	From string
	// MaxFileSize is the largest file, in bytes, whose content is returned;
	// a larger one is yielded with TooLarge set and no Content. Zero means
	// DefaultMaxFileSize.
	MaxFileSize int64
}

// Walk reads the merged history of the evidence directory on the branch
// opts.Ref: the first-parent chain from the root (or from opts.From) to the
// head, each commit compared with its first parent only, so that a merge
// brings a feature branch's files in at the merge commit and commits that
// never reached the first-parent chain are never seen.
//
// Every .yaml/.yml file under the evidence directory except the top-level
// allowlist.yaml is a pointer file; each added or changed one becomes an
// audit.PointerVersion keyed by its path and the commit that brought it,
// with AddedAt the committer time (UTC). Classifying the files is left to
// the evidence package. Added is in merge order, and by path within a
// commit. A version replaced or deleted later in the walk has RemovedCommit
// and RemovedAt set; a version live at opts.From that left later is listed
// in Removed.
//
// With opts.From equal to the head, Walk returns an empty delta without
// reading any commit. With opts.From not on the first-parent chain of the
// head (a rewritten history), it walks everything and sets Full and
// Rewritten; the caller must then replace what it knew rather than merge.
func (r *Repo) Walk(ctx context.Context, opts Options) (*audit.WalkDelta, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	evDir := cleanPath(opts.EvidenceDir)
	if opts.EvidenceDir == "" {
		evDir = DefaultEvidenceDir
	}
	if evDir == "" {
		return nil, fmt.Errorf("walk: evidence dir %q names the repository root", opts.EvidenceDir)
	}
	maxSize := opts.MaxFileSize
	if maxSize <= 0 {
		maxSize = DefaultMaxFileSize
	}
	if opts.From != "" && !isHex40(opts.From) {
		return nil, fmt.Errorf("walk: from %q is not a full commit id", opts.From)
	}

	r.mu.Lock()
	defer r.mu.Unlock()

	refName, head, err := r.resolve(opts.Ref)
	if err != nil {
		return nil, fmt.Errorf("walk: %w", err)
	}
	delta := &audit.WalkDelta{Ref: refName.String(), Head: head.String()}
	if opts.From == delta.Head {
		delta.From = opts.From
		return delta, nil
	}

	chain, found, err := r.firstParents(ctx, head, opts.From)
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", delta.Ref, err)
	}

	// The evidence tree before the first walked commit: that of From, or
	// none for a full walk.
	var base plumbing.Hash
	if found {
		delta.From = opts.From
		c, err := r.commit(plumbing.NewHash(opts.From))
		if err != nil {
			return nil, fmt.Errorf("walk %s: %w", delta.Ref, err)
		}
		base = c.TreeHash
	} else {
		delta.Full = true
		delta.Rewritten = opts.From != ""
	}

	links := make([]link, len(chain)) // oldest first
	for i, l := range chain {
		links[len(chain)-1-i] = l
	}
	reads := r.readLinks(ctx, links, base, evDir, maxSize)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rec := &recorder{evDir: evDir, live: map[string]int{}, delta: delta}
	for i, l := range links {
		if err := reads[i].err; err != nil {
			return nil, fmt.Errorf("walk %s at %s: %w", delta.Ref, l.hash, err)
		}
		if reads[i].changed {
			rec.record(l, reads[i].changes)
		}
	}
	return delta, nil
}

// link is one commit of the first-parent chain.
type link struct {
	hash plumbing.Hash
	tree plumbing.Hash
	when time.Time
}

// firstParents returns the first-parent chain from head back to (not
// including) from, newest first, and whether from was reached. When from is
// empty or not on the chain, the chain ends at the root commit.
func (r *Repo) firstParents(ctx context.Context, head plumbing.Hash, from string) ([]link, bool, error) {
	var stop plumbing.Hash
	if from != "" {
		stop = plumbing.NewHash(from)
	}
	var chain []link
	seen := map[plumbing.Hash]struct{}{}
	for h := head; ; {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		if from != "" && h == stop {
			return chain, true, nil
		}
		if _, dup := seen[h]; dup {
			return nil, false, fmt.Errorf("commit %s is its own ancestor", h)
		}
		seen[h] = struct{}{}
		c, err := r.commit(h)
		if err != nil {
			return nil, false, err
		}
		chain = append(chain, link{hash: h, tree: c.TreeHash, when: c.Committer.When.UTC()})
		if len(c.ParentHashes) == 0 {
			return chain, false, nil
		}
		h = c.ParentHashes[0]
	}
}

// walkWorkers bounds the goroutines that read a long chain, each through
// its own object storage: go-git's is not safe for concurrent use.
var walkWorkers = min(runtime.GOMAXPROCS(0), 4)

// minSegment is the fewest links a reading goroutine is given: an
// incremental walk of a few commits is read by one, without opening
// another storage.
var minSegment = 128

// linkRead is what reading one link found: whether its evidence tree
// differs from its first parent's, and the pointer files that changed
// (sorted by path, with the new contents read); or the error that stopped
// the reading there.
type linkRead struct {
	changed bool
	changes []change
	err     error
}

// readLinks reads links (oldest first) into one linkRead each. base is
// the tree of the commit before links[0] (zero: none). A long chain is
// split into consecutive segments read side by side; each starts from the
// evidence tree of the link before it, so every segment finds exactly the
// changes one reader going through the whole chain would. A segment stops
// at its first error, which then stands at that link.
func (r *Repo) readLinks(ctx context.Context, links []link, base plumbing.Hash, evDir string, maxSize int64) []linkRead {
	out := make([]linkRead, len(links))
	n := 1
	if r.fs != nil {
		n = max(1, min(walkWorkers, len(links)/minSegment))
	}
	if n == 1 {
		newReader(ctx, r.s, evDir, maxSize).segment(base, links, out)
		return out
	}
	size := (len(links) + n - 1) / n
	var wg sync.WaitGroup
	for lo := 0; lo < len(links); lo += size {
		hi := min(lo+size, len(links))
		from, s := base, storer.EncodedObjectStorer(r.s)
		if lo > 0 {
			from = links[lo-1].tree
			st := r.extraStorage(n)
			defer st.Close()
			s = st
		}
		wg.Go(func() {
			newReader(ctx, s, evDir, maxSize).segment(from, links[lo:hi], out[lo:hi])
		})
	}
	wg.Wait()
	return out
}

// extraStorage opens the Repo's git directory once more, for one of n
// readers; the object caches of all n together stay within
// objectCacheSize beside the Repo's own.
func (r *Repo) extraStorage(n int) *filesystem.Storage {
	return filesystem.NewStorageWithOptions(r.fs.Filesystem(), cache.NewObjectLRU(objectCacheSize/cache.FileSize(n)),
		filesystem.Options{MaxOpenDescriptors: maxOpenPacks})
}

// reader reads the evidence trees of consecutive links and the pointer
// files that changed between them, through one object storage.
type reader struct {
	s       storer.EncodedObjectStorer
	ctx     context.Context // the Walk's; lives only as long as the call
	evDir   string
	evParts []string
	maxSize int64

	// The last trees seen at each level of evParts (level i is the tree
	// holding evParts[i]) and the evidence tree they led to: consecutive
	// commits usually share every level below the root.
	levels  []plumbing.Hash
	lastEv  plumbing.Hash
	changes []change

	// Trees read by the previous diff and by the current one: the new side
	// of one changed commit is the old side of the next.
	prevTrees, curTrees map[plumbing.Hash]*object.Tree
}

func newReader(ctx context.Context, s storer.EncodedObjectStorer, evDir string, maxSize int64) *reader {
	parts := strings.Split(evDir, "/")
	return &reader{s: s, ctx: ctx, evDir: evDir, evParts: parts, maxSize: maxSize, levels: make([]plumbing.Hash, len(parts))}
}

// segment reads links into out, starting from the evidence tree of the
// root tree base (zero: none).
func (rd *reader) segment(base plumbing.Hash, links []link, out []linkRead) {
	if len(links) == 0 {
		return
	}
	var prev plumbing.Hash
	if !base.IsZero() {
		var err error
		if prev, err = rd.evidenceTree(base); err != nil {
			out[0].err = err
			return
		}
	}
	for i, l := range links {
		if err := rd.ctx.Err(); err != nil {
			out[i].err = err
			return
		}
		ev, err := rd.evidenceTree(l.tree)
		if err != nil {
			out[i].err = err
			return
		}
		if ev == prev {
			continue
		}
		changes, err := rd.changed(prev, ev)
		if err != nil {
			out[i].err = err
			return
		}
		out[i] = linkRead{changed: true, changes: changes}
		prev = ev
	}
}

// diffTree reads a tree for diff, reusing the previous diff's trees.
func (rd *reader) diffTree(h plumbing.Hash) (*object.Tree, error) {
	t, ok := rd.prevTrees[h]
	if !ok {
		var err error
		if t, err = readTree(rd.s, h); err != nil {
			return nil, err
		}
	}
	rd.curTrees[h] = t
	return t, nil
}

// evidenceTree returns the hash of the evidence directory's tree in the
// root tree, or the zero hash when it is absent (or not a directory).
func (rd *reader) evidenceTree(root plumbing.Hash) (plumbing.Hash, error) {
	// Invariant: each non-zero levels[i], followed down through
	// levels[i+1:], leads to lastEv.
	h := root
	for i, name := range rd.evParts {
		if !h.IsZero() && h == rd.levels[i] {
			return rd.lastEv, nil
		}
		rd.levels[i] = h
		t, err := readTree(rd.s, h)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		e := findEntry(t, name)
		if e == nil || e.Mode != filemode.Dir {
			clear(rd.levels[i+1:])
			rd.lastEv = plumbing.ZeroHash
			return plumbing.ZeroHash, nil
		}
		h = e.Hash
	}
	rd.lastEv = h
	return h, nil
}

// change is one pointer path whose blob differs between a commit and its
// first parent; a zero hash means absent. content is the new blob's, nil
// when tooLarge.
type change struct {
	path     string // relative to the evidence dir
	old, new plumbing.Hash
	content  []byte
	tooLarge bool
}

// changed returns the pointer files that differ between the evidence
// trees prev and ev, sorted by path, with the new contents read.
func (rd *reader) changed(prev, ev plumbing.Hash) ([]change, error) {
	rd.changes = nil
	rd.curTrees = make(map[plumbing.Hash]*object.Tree, len(rd.prevTrees))
	if err := rd.diff("", prev, ev); err != nil {
		return nil, err
	}
	rd.prevTrees, rd.curTrees = rd.curTrees, nil
	sort.Slice(rd.changes, func(i, j int) bool { return rd.changes[i].path < rd.changes[j].path })
	for i := range rd.changes {
		c := &rd.changes[i]
		if c.new.IsZero() {
			continue
		}
		var err error
		if c.content, c.tooLarge, err = readBlob(rd.s, c.new, rd.maxSize); err != nil {
			return nil, fmt.Errorf("%s/%s: %w", rd.evDir, c.path, err)
		}
	}
	return rd.changes, nil
}

// recorder turns the changes of each link, in merge order, into the
// walk's delta.
type recorder struct {
	evDir string
	// live maps a path to the index in delta.Added of the version now
	// present there, for versions this walk added.
	live  map[string]int
	delta *audit.WalkDelta
}

// record records the versions the commit l added and removed.
func (rec *recorder) record(l link, changes []change) {
	commit := l.hash.String()
	for _, c := range changes {
		p := rec.evDir + "/" + c.path
		if !c.old.IsZero() {
			if i, ok := rec.live[p]; ok {
				rec.delta.Added[i].RemovedCommit = commit
				rec.delta.Added[i].RemovedAt = l.when
				delete(rec.live, p)
			} else if !rec.delta.Full {
				rec.delta.Removed = append(rec.delta.Removed, audit.Removal{Path: p, Commit: commit, At: l.when})
			}
		}
		if !c.new.IsZero() {
			rec.live[p] = len(rec.delta.Added)
			rec.delta.Added = append(rec.delta.Added, audit.PointerVersion{
				Key:      audit.VersionKey{Path: p, AddedCommit: commit},
				Blob:     c.new.String(),
				Content:  c.content,
				TooLarge: c.tooLarge,
				AddedAt:  l.when,
			})
		}
	}
}

// diff appends to rd.changes the pointer files that differ between trees a
// and b (zero = empty) below prefix, descending only into subtrees whose
// hashes differ.
func (rd *reader) diff(prefix string, a, b plumbing.Hash) error {
	if a == b {
		return nil
	}
	if err := rd.ctx.Err(); err != nil {
		return err
	}
	var ea, eb []object.TreeEntry
	if !a.IsZero() {
		t, err := rd.diffTree(a)
		if err != nil {
			return err
		}
		ea = t.Entries
	}
	if !b.IsZero() {
		t, err := rd.diffTree(b)
		if err != nil {
			return err
		}
		eb = t.Entries
	}
	old := make(map[string]*object.TreeEntry, len(ea))
	for i := range ea {
		old[ea[i].Name] = &ea[i]
	}
	for i := range eb {
		n := &eb[i]
		o := old[n.Name]
		delete(old, n.Name)
		if err := rd.pair(path.Join(prefix, n.Name), o, n); err != nil {
			return err
		}
	}
	for name, o := range old {
		if err := rd.pair(path.Join(prefix, name), o, nil); err != nil {
			return err
		}
	}
	return nil
}

// pair compares one name's entries in the old and new tree (nil = absent).
// Only regular files count; symlinks and submodules are not pointer files.
func (rd *reader) pair(p string, o, n *object.TreeEntry) error {
	oDir := o != nil && o.Mode == filemode.Dir
	nDir := n != nil && n.Mode == filemode.Dir
	if oDir && nDir {
		return rd.diff(p, o.Hash, n.Hash)
	}
	if oDir {
		if err := rd.diff(p, o.Hash, plumbing.ZeroHash); err != nil {
			return err
		}
	}
	if nDir {
		if err := rd.diff(p, plumbing.ZeroHash, n.Hash); err != nil {
			return err
		}
	}
	var ob, nb plumbing.Hash
	if o != nil && isFile(o.Mode) {
		ob = o.Hash
	}
	if n != nil && isFile(n.Mode) {
		nb = n.Hash
	}
	if ob != nb && isPointerPath(p) {
		rd.changes = append(rd.changes, change{path: p, old: ob, new: nb})
	}
	return nil
}

// isPointerPath reports whether p, relative to the evidence directory, may
// be a pointer file: any .yaml or .yml file except the top-level allowlist.
func isPointerPath(p string) bool {
	if p == allowlistName {
		return false
	}
	switch strings.ToLower(path.Ext(p)) {
	case ".yaml", ".yml":
		return true
	}
	return false
}

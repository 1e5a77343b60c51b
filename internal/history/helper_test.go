package history_test

import (
	"maps"
	"path"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// gitRepo builds real git history with go-git's plumbing: commits with
// chosen committer times on named branches, and real merge commits.
type gitRepo struct {
	tb    testing.TB
	dir   string
	r     *git.Repository
	snaps map[plumbing.Hash]map[string]string // commit → path → content
	have  map[plumbing.Hash]bool              // objects stored, not written again
}

// newGitRepo makes an empty non-bare repository (bare when bare is true)
// whose HEAD points at refs/heads/main.
func newGitRepo(tb testing.TB, bare bool) *gitRepo {
	tb.Helper()
	dir := tb.TempDir()
	r, err := git.PlainInit(dir, bare)
	if err != nil {
		tb.Fatalf("init: %v", err)
	}
	head := plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName("main"))
	if err := r.Storer.SetReference(head); err != nil {
		tb.Fatalf("set HEAD: %v", err)
	}
	return &gitRepo{tb: tb, dir: dir, r: r, snaps: map[plumbing.Hash]map[string]string{}, have: map[plumbing.Hash]bool{}}
}

// edit is one change to a snapshot: put content at a path, or delete it
// (content nil).
type edit struct {
	path    string
	content *string
}

func put(p, content string) edit { return edit{path: p, content: &content} }
func del(p string) edit          { return edit{path: p} }

// at returns a fixed committer time, day days after a base date.
func at(day int) time.Time {
	return time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, day)
}

// tip returns the commit a branch points at, or the zero hash.
func (g *gitRepo) tip(branch string) plumbing.Hash {
	g.tb.Helper()
	ref, err := g.r.Reference(plumbing.NewBranchReferenceName(branch), false)
	if err == plumbing.ErrReferenceNotFound {
		return plumbing.ZeroHash
	}
	if err != nil {
		g.tb.Fatalf("read branch %s: %v", branch, err)
	}
	return ref.Hash()
}

// setBranch points branch at commit (creating or force-moving it).
func (g *gitRepo) setBranch(branch string, commit plumbing.Hash) {
	g.tb.Helper()
	if err := g.r.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(branch), commit)); err != nil {
		g.tb.Fatalf("set branch %s: %v", branch, err)
	}
}

// commit makes a commit on branch (parent: its tip, if any) applying edits
// to the parent's snapshot, and advances the branch.
func (g *gitRepo) commit(branch string, when time.Time, edits ...edit) plumbing.Hash {
	g.tb.Helper()
	var parents []plumbing.Hash
	if tip := g.tip(branch); !tip.IsZero() {
		parents = append(parents, tip)
	}
	return g.commitWith(branch, parents, when, edits...)
}

// merge makes a merge commit on into with parents (tip of into, tip of
// from); its tree is into's snapshot overlaid with from's, then edits.
func (g *gitRepo) merge(into, from string, when time.Time, edits ...edit) plumbing.Hash {
	g.tb.Helper()
	a, b := g.tip(into), g.tip(from)
	if a.IsZero() || b.IsZero() {
		g.tb.Fatalf("merge %s into %s: missing branch", from, into)
	}
	ca, err := g.r.CommitObject(a)
	if err != nil {
		g.tb.Fatalf("read %s: %v", a, err)
	}
	cb, err := g.r.CommitObject(b)
	if err != nil {
		g.tb.Fatalf("read %s: %v", b, err)
	}
	bases, err := ca.MergeBase(cb)
	if err != nil || len(bases) == 0 {
		g.tb.Fatalf("merge base of %s and %s: %v", a, b, err)
	}
	// A three-way merge without conflicts: from's changes since the base
	// applied to into's snapshot.
	base, theirs := g.snaps[bases[0].Hash], g.snaps[b]
	snap := maps.Clone(g.snaps[a])
	for p, v := range theirs {
		if bv, ok := base[p]; !ok || bv != v {
			snap[p] = v
		}
	}
	for p := range base {
		if _, ok := theirs[p]; !ok {
			delete(snap, p)
		}
	}
	return g.commitSnap(into, []plumbing.Hash{a, b}, when, snap, edits...)
}

func (g *gitRepo) commitWith(branch string, parents []plumbing.Hash, when time.Time, edits ...edit) plumbing.Hash {
	g.tb.Helper()
	snap := map[string]string{}
	if len(parents) > 0 {
		snap = maps.Clone(g.snaps[parents[0]])
	}
	return g.commitSnap(branch, parents, when, snap, edits...)
}

func (g *gitRepo) commitSnap(branch string, parents []plumbing.Hash, when time.Time, snap map[string]string, edits ...edit) plumbing.Hash {
	g.tb.Helper()
	for _, e := range edits {
		if e.content == nil {
			delete(snap, e.path)
		} else {
			snap[e.path] = *e.content
		}
	}
	tree := g.writeTree(snap)
	sig := object.Signature{Name: "T. Ester", Email: "t@example.com", When: when}
	c := &object.Commit{
		Author:       sig,
		Committer:    sig,
		Message:      "commit on " + branch + "\n",
		TreeHash:     tree,
		ParentHashes: parents,
	}
	obj := g.r.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		g.tb.Fatalf("encode commit: %v", err)
	}
	h, err := g.r.Storer.SetEncodedObject(obj)
	if err != nil {
		g.tb.Fatalf("store commit: %v", err)
	}
	g.snaps[h] = snap
	g.setBranch(branch, h)
	return h
}

// writeTree stores the nested trees for a flat path → content snapshot and
// returns the root tree's hash.
func (g *gitRepo) writeTree(snap map[string]string) plumbing.Hash {
	g.tb.Helper()
	type node struct {
		files map[string]string
		dirs  map[string]*node
	}
	newNode := func() *node { return &node{files: map[string]string{}, dirs: map[string]*node{}} }
	root := newNode()
	for p, content := range snap {
		parts := strings.Split(p, "/")
		n := root
		for _, d := range parts[:len(parts)-1] {
			if n.dirs[d] == nil {
				n.dirs[d] = newNode()
			}
			n = n.dirs[d]
		}
		n.files[parts[len(parts)-1]] = content
	}
	var write func(n *node) plumbing.Hash
	write = func(n *node) plumbing.Hash {
		var entries []object.TreeEntry
		for name, content := range n.files {
			entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: g.writeBlob(content)})
		}
		for name, d := range n.dirs {
			entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: write(d)})
		}
		sortEntries(entries)
		obj := g.r.Storer.NewEncodedObject()
		if err := (&object.Tree{Entries: entries}).Encode(obj); err != nil {
			g.tb.Fatalf("encode tree: %v", err)
		}
		return g.store(obj, "tree")
	}
	return write(root)
}

// sortEntries puts tree entries in git's order: by name, directories
// compared as if their name ended in "/".
func sortEntries(entries []object.TreeEntry) {
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
}

func (g *gitRepo) writeBlob(content string) plumbing.Hash {
	g.tb.Helper()
	obj := g.r.Storer.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	w, err := obj.Writer()
	if err != nil {
		g.tb.Fatalf("blob writer: %v", err)
	}
	if _, err := w.Write([]byte(content)); err != nil {
		g.tb.Fatalf("write blob: %v", err)
	}
	if err := w.Close(); err != nil {
		g.tb.Fatalf("close blob: %v", err)
	}
	return g.store(obj, "blob")
}

// store writes obj unless an object with its id was stored before (a long
// history repeats most of its trees and blobs).
func (g *gitRepo) store(obj plumbing.EncodedObject, what string) plumbing.Hash {
	g.tb.Helper()
	if h := obj.Hash(); g.have[h] {
		return h
	}
	h, err := g.r.Storer.SetEncodedObject(obj)
	if err != nil {
		g.tb.Fatalf("store %s: %v", what, err)
	}
	g.have[h] = true
	return h
}

// blobID is the git blob id of content.
func blobID(content string) string {
	return plumbing.ComputeHash(plumbing.BlobObject, []byte(content)).String()
}

// ev is a path under the default evidence directory.
func ev(p string) string { return path.Join("recipes/evidence", p) }

// pointer is a small pointer-looking YAML document.
func pointer(recipe, digest string) string {
	return "schemaVersion: 1.0.0\nrecipe: " + recipe + "\nattestations:\n  - bundle:\n      digest: sha256:" + digest + "\n"
}

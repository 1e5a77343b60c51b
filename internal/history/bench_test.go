package history_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/evidence-auditd/evidence-auditd/internal/history"
)

// DESIGN "Targets": a 50 000-commit repository with 5 000 pointer changes
// walks in < 10 s cold and < 100 ms incrementally with no new commits.
const (
	benchCommits  = 50_000 // first-parent commits
	benchPointers = 5_000  // of which change recipes/evidence (each a merge)
)

// BenchmarkWalkCold opens the repository and walks its whole history, as
// the first run of the auditor does.
func BenchmarkWalkCold(b *testing.B) {
	dir := benchRepo(b, benchCommits, benchPointers)
	ctx := context.Background()
	var added int
	for b.Loop() {
		r, err := history.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		d, err := r.Walk(ctx, history.Options{Ref: "main"})
		if err != nil {
			b.Fatal(err)
		}
		added = len(d.Added)
		_ = r.Close()
	}
	b.ReportMetric(float64(added), "versions")
}

// BenchmarkWalkIncrementalNoChange opens the repository and walks from its
// head, as every run after the first does when nothing was merged.
func BenchmarkWalkIncrementalNoChange(b *testing.B) {
	dir := benchRepo(b, benchCommits, benchPointers)
	r, err := history.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	head, _, err := r.Head("main")
	if err != nil {
		b.Fatal(err)
	}
	_ = r.Close()
	ctx := context.Background()
	for b.Loop() {
		r, err := history.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		d, err := r.Walk(ctx, history.Options{Ref: "main", From: head})
		if err != nil {
			b.Fatal(err)
		}
		if len(d.Added) != 0 || d.Head != head {
			b.Fatalf("delta = %+v, want empty", d)
		}
		_ = r.Close()
	}
}

// benchRepo returns a bare repository with `commits` first-parent commits on
// main, `pointers` of which are merges of a one-commit branch changing a
// pointer (80 % new per-source pointers, 15 % legacy flat edits, 5 %
// deletions); the others change a file outside recipes/. It is generated
// once per parameter set under os.TempDir and reused.
func benchRepo(tb testing.TB, commits, pointers int) string {
	tb.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("evidence-auditd-history-bench-v1-%d-%d", commits, pointers))
	if _, err := os.Stat(filepath.Join(dir, "generated")); err == nil {
		return dir
	}
	start := time.Now()
	tmp, err := os.MkdirTemp(os.TempDir(), "evidence-auditd-history-bench-tmp-")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if err := generate(tmp, commits, pointers); err != nil {
		tb.Fatalf("generate bench repo: %v", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "generated"), nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, fs.ErrExist) {
		if _, statErr := os.Stat(filepath.Join(dir, "generated")); statErr != nil {
			tb.Fatal(err)
		}
	}
	tb.Logf("generated %d-commit bench repository in %v", commits, time.Since(start).Round(time.Millisecond))
	return dir
}

// generator builds the objects in memory, then writes one packfile.
type generator struct {
	s *memory.Storage
}

func (g *generator) store(o interface {
	Encode(plumbing.EncodedObject) error
}) plumbing.Hash {
	obj := g.s.NewEncodedObject()
	if err := o.Encode(obj); err != nil {
		panic(err)
	}
	h, err := g.s.SetEncodedObject(obj)
	if err != nil {
		panic(err)
	}
	return h
}

func (g *generator) blob(content string) plumbing.Hash {
	obj := g.s.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	w, _ := obj.Writer()
	_, _ = w.Write([]byte(content))
	_ = w.Close()
	h, err := g.s.SetEncodedObject(obj)
	if err != nil {
		panic(err)
	}
	return h
}

// tree stores a tree from name → (mode, hash).
func (g *generator) tree(entries map[string]object.TreeEntry) plumbing.Hash {
	list := make([]object.TreeEntry, 0, len(entries))
	for _, e := range entries {
		list = append(list, e)
	}
	sortEntries(list)
	return g.store(&object.Tree{Entries: list})
}

func (g *generator) commit(tree plumbing.Hash, when time.Time, parents ...plumbing.Hash) plumbing.Hash {
	sig := object.Signature{Name: "Bench", Email: "bench@example.com", When: when}
	return g.store(&object.Commit{Author: sig, Committer: sig, Message: "bench\n", TreeHash: tree, ParentHashes: parents})
}

func generate(dir string, commits, pointers int) error {
	g := &generator{s: memory.NewStorage()}
	const recipes, sources, flats = 100, 4, 20

	// State of the evidence directory: recipe → source → file → blob.
	perSource := map[int]map[int]map[string]plumbing.Hash{}
	flat := map[int]plumbing.Hash{}
	recipeTree := map[int]plumbing.Hash{}
	var live []string // per-source pointers that exist, as "r/s/name"
	liveRef := map[string][3]any{}

	dirEntry := func(name string, h plumbing.Hash) object.TreeEntry {
		return object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
	}
	fileEntry := func(name string, h plumbing.Hash) object.TreeEntry {
		return object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: h}
	}
	rebuildRecipe := func(r int) {
		rt := map[string]object.TreeEntry{}
		for s, files := range perSource[r] {
			if len(files) == 0 {
				continue
			}
			ft := map[string]object.TreeEntry{}
			for name, h := range files {
				ft[name] = fileEntry(name, h)
			}
			name := fmt.Sprintf("%032x", s+1)
			rt[name] = dirEntry(name, g.tree(ft))
		}
		if len(rt) == 0 {
			delete(recipeTree, r)
			return
		}
		recipeTree[r] = g.tree(rt)
	}
	allowlist := g.blob("schemaVersion: 1.0.0\nfirstParty: []\n")
	overlays := g.tree(map[string]object.TreeEntry{"a.yaml": fileEntry("a.yaml", g.blob("spec: {}\n"))})
	readme := g.blob("bench\n")
	recipesTree := func() plumbing.Hash {
		et := map[string]object.TreeEntry{"allowlist.yaml": fileEntry("allowlist.yaml", allowlist)}
		for r, h := range recipeTree {
			name := fmt.Sprintf("recipe-%03d", r)
			et[name] = dirEntry(name, h)
		}
		for f, h := range flat {
			name := fmt.Sprintf("flat-%02d.yaml", f)
			et[name] = fileEntry(name, h)
		}
		evidence := g.tree(et)
		return g.tree(map[string]object.TreeEntry{
			"evidence": dirEntry("evidence", evidence),
			"overlays": dirEntry("overlays", overlays),
		})
	}
	root := func(recipes plumbing.Hash, n int) plumbing.Hash {
		src := g.tree(map[string]object.TreeEntry{"gen.txt": fileEntry("gen.txt", g.blob(fmt.Sprintf("%d\n", n)))})
		return g.tree(map[string]object.TreeEntry{
			"README.md": fileEntry("README.md", readme),
			"recipes":   dirEntry("recipes", recipes),
			"src":       dirEntry("src", src),
		})
	}

	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	every := commits / pointers
	recipesH := recipesTree()
	var tip plumbing.Hash
	changes := 0
	for i := range commits {
		when := base.Add(time.Duration(i) * time.Minute)
		var parents []plumbing.Hash
		if !tip.IsZero() {
			parents = []plumbing.Hash{tip}
		}
		if i%every != every-1 || changes >= pointers {
			tip = g.commit(root(recipesH, i), when, parents...)
			continue
		}
		// A pointer change, merged from a one-commit branch.
		switch k := changes % 20; {
		case k == 19 && len(live) > 0: // delete the oldest live pointer
			p := live[0]
			live = live[1:]
			ref := liveRef[p]
			delete(perSource[ref[0].(int)][ref[1].(int)], ref[2].(string))
			rebuildRecipe(ref[0].(int))
		case k >= 16: // edit a legacy flat pointer
			f := changes % flats
			flat[f] = g.blob(fmt.Sprintf("schemaVersion: 1.0.0\nrecipe: flat-%02d\nedit: %d\n", f, changes))
		default: // a new per-source pointer
			r, s := changes%recipes, (changes/recipes)%sources
			name := fmt.Sprintf("sha256-%064x.yaml", changes)
			if perSource[r] == nil {
				perSource[r] = map[int]map[string]plumbing.Hash{}
			}
			if perSource[r][s] == nil {
				perSource[r][s] = map[string]plumbing.Hash{}
			}
			perSource[r][s][name] = g.blob(fmt.Sprintf("schemaVersion: 1.0.0\nrecipe: recipe-%03d\ndigest: sha256:%064x\n", r, changes))
			key := fmt.Sprintf("%d/%d/%s", r, s, name)
			live = append(live, key)
			liveRef[key] = [3]any{r, s, name}
			rebuildRecipe(r)
		}
		changes++
		recipesH = recipesTree()
		tree := root(recipesH, i)
		feature := g.commit(tree, when.Add(-30*time.Second), tip)
		parents = append(parents, feature)
		tip = g.commit(tree, when, parents...)
	}

	r, err := git.PlainInit(dir, true)
	if err != nil {
		return err
	}
	var hashes []plumbing.Hash
	for h := range g.s.ObjectStorage.Objects {
		hashes = append(hashes, h)
	}
	sort.Slice(hashes, func(i, j int) bool { return hashes[i].String() < hashes[j].String() })
	pw, ok := r.Storer.(storer.PackfileWriter)
	if !ok {
		return errors.New("storage cannot write packfiles")
	}
	w, err := pw.PackfileWriter()
	if err != nil {
		return err
	}
	if _, err := packfile.NewEncoder(w, g.s, false).Encode(hashes, 0); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := r.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName("main"), tip)); err != nil {
		return err
	}
	return r.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName("main")))
}

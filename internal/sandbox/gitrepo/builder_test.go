package gitrepo_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/gitrepo"
)

var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func mustCommit(t *testing.T, b *gitrepo.Builder, branch string, c gitrepo.Change) string {
	t.Helper()
	h, err := b.Commit(branch, c)
	if err != nil {
		t.Fatalf("commit on %s: %v", branch, err)
	}
	return h
}

func commitAt(t *testing.T, r *git.Repository, h string) *object.Commit {
	t.Helper()
	c, err := r.CommitObject(plumbing.NewHash(h))
	if err != nil {
		t.Fatalf("commit %s: %v", h, err)
	}
	return c
}

// fileAt returns the content of path in commit h, and false when absent.
func fileAt(t *testing.T, r *git.Repository, h, path string) (string, bool) {
	t.Helper()
	f, err := commitAt(t, r, h).File(path)
	if errors.Is(err, object.ErrFileNotFound) {
		return "", false
	}
	if err != nil {
		t.Fatalf("file %s at %s: %v", path, h, err)
	}
	s, err := f.Contents()
	if err != nil {
		t.Fatalf("file %s at %s: %v", path, h, err)
	}
	return s, true
}

// gitFsck checks the repository with the git binary when there is one.
func gitFsck(t *testing.T, dir string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		return
	}
	out, err := exec.Command("git", "-C", dir, "fsck", "--strict", "--no-progress").CombinedOutput()
	if err != nil {
		t.Errorf("git fsck: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		return // bare
	}
	out, err = exec.Command("git", "-C", dir, "status", "--porcelain").CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("git status: %v\n%s", err, out)
	}
}

func TestBuilderMerge(t *testing.T) {
	dir := t.TempDir()
	b, err := gitrepo.Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	base := mustCommit(t, b, "main", gitrepo.Change{
		Message: "initial",
		Author:  gitrepo.Signature{Name: "A", Email: "a@example.com", When: t0},
		Write:   map[string][]byte{"README.md": []byte("hi\n"), "docs/a.md": []byte("a\n"), "old/x": []byte("x")},
	})
	if err := b.Branch("feature", "main"); err != nil {
		t.Fatal(err)
	}
	feat := mustCommit(t, b, "feature", gitrepo.Change{
		Message: "feature",
		Author:  gitrepo.Signature{When: t0.Add(time.Hour)},
		Write:   map[string][]byte{"recipes/evidence/r/s/d.yaml": []byte("p\n")},
		Delete:  []string{"old"},
	})
	mainOnly := mustCommit(t, b, "main", gitrepo.Change{
		Message: "docs",
		Author:  gitrepo.Signature{When: t0.Add(2 * time.Hour)},
		Write:   map[string][]byte{"docs/a.md": []byte("a2\n")},
	})
	at := t0.Add(3 * time.Hour)
	merge, err := b.Merge("main", "feature", "Merge feature", at)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Head("main"); got != merge {
		t.Errorf("Head(main) = %s, want %s", got, merge)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	r, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	head, err := r.Head()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := head.Name().Short(), "main"; got != want {
		t.Errorf("HEAD branch = %s, want %s", got, want)
	}
	if got := head.Hash().String(); got != merge {
		t.Errorf("HEAD = %s, want %s", got, merge)
	}
	mc := commitAt(t, r, merge)
	if got, want := len(mc.ParentHashes), 2; got != want {
		t.Fatalf("merge parents = %d, want %d", got, want)
	}
	if mc.ParentHashes[0].String() != mainOnly || mc.ParentHashes[1].String() != feat {
		t.Errorf("merge parents = %v, want [%s %s]", mc.ParentHashes, mainOnly, feat)
	}
	if !mc.Committer.When.Equal(at) || !mc.Author.When.Equal(at) {
		t.Errorf("merge times = %v/%v, want %v", mc.Author.When, mc.Committer.When, at)
	}
	if got := commitAt(t, r, feat).ParentHashes; len(got) != 1 || got[0].String() != base {
		t.Errorf("feature parents = %v, want [%s]", got, base)
	}
	for path, want := range map[string]string{"README.md": "hi\n", "docs/a.md": "a2\n", "recipes/evidence/r/s/d.yaml": "p\n"} {
		if got, ok := fileAt(t, r, merge, path); !ok || got != want {
			t.Errorf("%s at merge = %q (present %v), want %q", path, got, ok, want)
		}
	}
	if _, ok := fileAt(t, r, merge, "old/x"); ok {
		t.Error("old/x survives the merge that deleted it")
	}
	// Non-bare: the work tree is checked out and clean.
	if got, err := os.ReadFile(filepath.Join(dir, "recipes/evidence/r/s/d.yaml")); err != nil || string(got) != "p\n" {
		t.Errorf("work tree file = %q, %v", got, err)
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	st, err := wt.Status()
	if err != nil {
		t.Fatal(err)
	}
	if !st.IsClean() {
		t.Errorf("work tree not clean:\n%s", st)
	}
	if _, err := r.Reference(plumbing.NewBranchReferenceName("feature"), false); err != nil {
		t.Errorf("feature branch ref: %v", err)
	}
	gitFsck(t, dir)
}

func TestBuilderBare(t *testing.T) {
	dir := t.TempDir()
	b, err := gitrepo.Init(dir, gitrepo.Bare(), gitrepo.WithDefaultBranch("trunk"))
	if err != nil {
		t.Fatal(err)
	}
	h := mustCommit(t, b, "trunk", gitrepo.Change{Message: "x", Committer: gitrepo.Signature{When: t0}, Write: map[string][]byte{"a": []byte("a")}})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !os.IsNotExist(err) {
		t.Errorf("bare repository has a work tree file: %v", err)
	}
	r, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	head, err := r.Head()
	if err != nil {
		t.Fatal(err)
	}
	if head.Name().Short() != "trunk" || head.Hash().String() != h {
		t.Errorf("HEAD = %s %s, want trunk %s", head.Name(), head.Hash(), h)
	}
	gitFsck(t, dir)
}

func TestBuilderErrors(t *testing.T) {
	b, err := gitrepo.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, b, "main", gitrepo.Change{Author: gitrepo.Signature{When: t0}, Write: map[string][]byte{"a": nil}})
	if err := b.Branch("x", "nope"); !errors.Is(err, gitrepo.ErrUnknownBranch) {
		t.Errorf("Branch from unknown = %v, want ErrUnknownBranch", err)
	}
	if _, err := b.Merge("main", "nope", "m", t0); !errors.Is(err, gitrepo.ErrUnknownBranch) {
		t.Errorf("Merge unknown = %v, want ErrUnknownBranch", err)
	}
	bad := []gitrepo.Change{
		{Write: map[string][]byte{"b": nil}}, // no time
		{Author: gitrepo.Signature{When: t0}, Delete: []string{"missing"}},
		{Author: gitrepo.Signature{When: t0}, Write: map[string][]byte{"../escape": nil}},
		{Author: gitrepo.Signature{When: t0}, Write: map[string][]byte{".git/config": nil}},
		{Author: gitrepo.Signature{When: t0}, Write: map[string][]byte{"/abs": nil}},
	}
	for i, c := range bad {
		if _, err := b.Commit("main", c); err == nil {
			t.Errorf("bad change %d accepted", i)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Commit("main", gitrepo.Change{Author: gitrepo.Signature{When: t0}}); err == nil {
		t.Error("Commit after Close accepted")
	}
	if _, err := gitrepo.Init(t.TempDir(), gitrepo.WithIdentity("", "")); err == nil {
		t.Error("empty identity accepted")
	}
}

package history_test

import (
	"context"
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/history"
)

func TestHeadReadFileFilesAt(t *testing.T) {
	g := newGitRepo(t, true)
	g.commit("main", at(1), put("CODEOWNERS", "old\n"))
	head := g.commit("main", at(2),
		put("CODEOWNERS", "/recipes/ @acme/gpu\n"),
		put("recipes/overlays/b.yaml", "spec: b\n"),
		put("recipes/overlays/a.yaml", "spec: a\n"),
		put("recipes/overlays/sub/c.yaml", "spec: c\n"),
		put("recipes/overlays/big.yaml", strings.Repeat("y", history.DefaultMaxFileSize+1)),
	)
	r := openRepo(t, g)
	ctx := context.Background()

	commit, when, err := r.Head("main")
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if commit != head.String() || !when.Equal(at(2)) {
		t.Errorf("Head = %s %v, want %s %v", commit, when, head, at(2))
	}

	for _, ref := range []string{commit, "main", "refs/heads/main"} {
		got, err := r.ReadFile(ctx, ref, "CODEOWNERS")
		if err != nil || string(got) != "/recipes/ @acme/gpu\n" {
			t.Errorf("ReadFile(%s, CODEOWNERS) = %q, %v", ref, got, err)
		}
	}
	if _, err := r.ReadFile(ctx, commit, "recipes/evidence/allowlist.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(missing) error = %v, want fs.ErrNotExist", err)
	}
	if _, err := r.ReadFile(ctx, commit, "recipes/overlays"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(directory) error = %v, want fs.ErrNotExist", err)
	}

	files, err := r.FilesAt(ctx, commit, "recipes/overlays")
	if err != nil {
		t.Fatalf("FilesAt: %v", err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Path+"="+string(f.Content))
		if f.Path == "recipes/overlays/big.yaml" && (!f.TooLarge || f.Content != nil) {
			t.Errorf("big.yaml: TooLarge %v, %d bytes; want TooLarge and no content", f.TooLarge, len(f.Content))
		}
	}
	want := []string{
		"recipes/overlays/a.yaml=spec: a\n",
		"recipes/overlays/b.yaml=spec: b\n",
		"recipes/overlays/big.yaml=",
		"recipes/overlays/sub/c.yaml=spec: c\n",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FilesAt:\n got  %q\n want %q", got, want)
	}
	if files, err := r.FilesAt(ctx, commit, "no/such/dir"); err != nil || len(files) != 0 {
		t.Errorf("FilesAt(missing dir) = %v, %v; want nothing, no error", files, err)
	}
	for dir, want := range map[string]bool{"recipes/overlays": true, "recipes/overlays/sub": true, "recipes": true,
		"CODEOWNERS": false, "recipes/evidence": false, "recipes/overlays/a.yaml": false, "": true} {
		if got, err := r.IsDir(ctx, commit, dir); err != nil || got != want {
			t.Errorf("IsDir(%q) = %v, %v; want %v", dir, got, err, want)
		}
	}
}

func TestOpenMissing(t *testing.T) {
	if _, err := history.Open(t.TempDir()); err == nil {
		t.Errorf("Open(empty dir) succeeded, want an error")
	}
}

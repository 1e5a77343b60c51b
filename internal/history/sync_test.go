package history_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/history"
)

func TestSyncCloneThenFetch(t *testing.T) {
	src := newGitRepo(t, false)
	c1 := src.commit("main", at(1), put(ev("a.yaml"), "a"))
	dst := filepath.Join(t.TempDir(), "mirror")
	ctx := context.Background()

	sync := func(url, step string) *history.Repo {
		t.Helper()
		r, err := history.Sync(ctx, url, dst)
		if err != nil {
			t.Fatalf("Sync (%s): %v", step, err)
		}
		t.Cleanup(func() { _ = r.Close() })
		return r
	}
	r := sync("file://"+src.dir, "clone")
	first := walk(t, r, history.Options{Ref: "main"})
	if first.Head != c1.String() || len(first.Added) != 1 {
		t.Fatalf("after clone: Head %s, %d added; want %s, 1", first.Head, len(first.Added), c1)
	}

	c2 := src.commit("main", at(2), put(ev("b.yaml"), "b"))
	r = sync("file://"+src.dir, "fetch")
	for _, ref := range []string{"main", "refs/heads/main", "refs/remotes/origin/main"} {
		d := walk(t, r, history.Options{Ref: ref, From: first.Head})
		if d.Full || d.Head != c2.String() || len(d.Added) != 1 || d.Added[0].Key.Path != ev("b.yaml") {
			t.Errorf("after fetch, Walk(%s) = Full %v Head %s Added %v; want b.yaml at %s", ref, d.Full, d.Head, d.Added, c2)
		}
	}

	// Nothing new: fetch is a no-op and the walk is empty.
	r = sync(src.dir, "up to date") // a plain path works too
	if d := walk(t, r, history.Options{Ref: "main", From: c2.String()}); len(d.Added) != 0 || d.Head != c2.String() {
		t.Errorf("up-to-date walk = %+v, want empty at %s", d, c2)
	}

	// A force-push upstream reaches the mirror and reads as rewritten.
	src.setBranch("main", c1)
	c3 := src.commit("main", at(3), put(ev("c.yaml"), "c"))
	r = sync("file://"+src.dir, "force-push")
	d := walk(t, r, history.Options{Ref: "main", From: c2.String()})
	if !d.Full || !d.Rewritten || d.Head != c3.String() || len(d.Added) != 2 {
		t.Errorf("after force-push: Full %v Rewritten %v Head %s, %d added; want rewritten full walk to %s with 2", d.Full, d.Rewritten, d.Head, len(d.Added), c3)
	}

	// The mirror opens on its own later.
	if m, err := history.Open(dst); err != nil {
		t.Errorf("Open(mirror): %v", err)
	} else {
		_ = m.Close()
	}
}

func TestSyncBadRemote(t *testing.T) {
	_, err := history.Sync(context.Background(), "file://"+filepath.Join(t.TempDir(), "nope"), filepath.Join(t.TempDir(), "m"))
	if err == nil {
		t.Errorf("Sync from a missing remote succeeded, want an error")
	}
}

func TestSyncRepacksManyPacks(t *testing.T) {
	defer history.SetMaxPacks(2)()
	src := newGitRepo(t, false)
	dst := filepath.Join(t.TempDir(), "mirror")
	ctx := context.Background()
	var last string
	for i := range 6 {
		last = src.commit("main", at(i), put(ev(fmt.Sprintf("p%d.yaml", i)), "p")).String()
		r, err := history.Sync(ctx, src.dir, dst)
		if err != nil {
			t.Fatalf("Sync %d: %v", i, err)
		}
		_ = r.Close()
	}
	packs, err := filepath.Glob(filepath.Join(dst, "objects", "pack", "*.pack"))
	if err != nil {
		t.Fatal(err)
	}
	if len(packs) > 2 {
		t.Errorf("mirror holds %d packs after 6 fetches, want at most 2", len(packs))
	}
	r, err := history.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	d := walk(t, r, history.Options{Ref: "main"})
	if d.Head != last || len(d.Added) != 6 {
		t.Errorf("after repack: Head %s, %d added; want %s, 6", d.Head, len(d.Added), last)
	}
}

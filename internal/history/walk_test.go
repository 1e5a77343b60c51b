package history_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/history"
)

// ver is a PointerVersion flattened for comparison and readable diffs.
type ver struct {
	Path, Added, AddedAt, Removed, RemovedAt, Content string
}

func (v ver) String() string {
	return fmt.Sprintf("{%s added %s@%s removed %s@%s %q}", v.Path, short(v.Added), v.AddedAt, short(v.Removed), v.RemovedAt, v.Content)
}

func short(h string) string {
	if len(h) > 7 {
		return h[:7]
	}
	return h
}

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

func flatten(tb testing.TB, added []audit.PointerVersion) []ver {
	tb.Helper()
	var out []ver
	for _, v := range added {
		if want := blobID(string(v.Content)); !v.TooLarge && v.Blob != want {
			tb.Errorf("%s: Blob = %s, want %s (the id of Content)", v.Key, v.Blob, want)
		}
		out = append(out, ver{
			Path: v.Key.Path, Added: v.Key.AddedCommit, AddedAt: ts(v.AddedAt),
			Removed: v.RemovedCommit, RemovedAt: ts(v.RemovedAt), Content: string(v.Content),
		})
	}
	return out
}

func wantVersions(tb testing.TB, added []audit.PointerVersion, want []ver) {
	tb.Helper()
	got := flatten(tb, added)
	if !reflect.DeepEqual(got, want) {
		tb.Errorf("Added:\n got  %v\n want %v", got, want)
	}
}

func openRepo(tb testing.TB, g *gitRepo) *history.Repo {
	tb.Helper()
	r, err := history.Open(g.dir)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := r.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return r
}

func walk(tb testing.TB, r *history.Repo, opts history.Options) *audit.WalkDelta {
	tb.Helper()
	d, err := r.Walk(context.Background(), opts)
	if err != nil {
		tb.Fatalf("Walk(%+v): %v", opts, err)
	}
	return d
}

func TestWalkFirstParent(t *testing.T) {
	g := newGitRepo(t, false)
	p := pointer("r1", "aa")
	c1 := g.commit("main", at(1), put("README.md", "hello\n"))
	g.setBranch("feature", c1)
	g.setBranch("abandoned", c1)
	g.commit("feature", at(2), put(ev("r1/0123/sha256-aa.yaml"), p))
	g.commit("abandoned", at(3), put(ev("r2/4567/sha256-bb.yaml"), pointer("r2", "bb")))
	g.commit("main", at(4), put("README.md", "hello again\n"))
	m := g.merge("main", "feature", at(5))
	g.commit("main", at(6), put("src/main.go", "package main\n"))

	d := walk(t, openRepo(t, g), history.Options{Ref: "main"})
	wantVersions(t, d.Added, []ver{
		{Path: ev("r1/0123/sha256-aa.yaml"), Added: m.String(), AddedAt: ts(at(5)), Content: p},
	})
	if !d.Full || d.Rewritten || d.From != "" || len(d.Removed) != 0 {
		t.Errorf("delta = Full %v Rewritten %v From %q Removed %v, want a plain full walk", d.Full, d.Rewritten, d.From, d.Removed)
	}
	if got, want := d.Head, g.tip("main").String(); got != want {
		t.Errorf("Head = %s, want %s", got, want)
	}
	if got, want := d.Ref, "refs/heads/main"; got != want {
		t.Errorf("Ref = %s, want %s", got, want)
	}
}

// A merge commit whose first parent is the feature branch (a "reverse"
// merge) is still compared with its first parent only.
func TestWalkMergeComparesFirstParentOnly(t *testing.T) {
	g := newGitRepo(t, false)
	c1 := g.commit("main", at(1), put(ev("a.yaml"), "a1"))
	g.setBranch("feature", c1)
	g.commit("feature", at(2), put(ev("b.yaml"), "b1"))
	c3 := g.commit("main", at(3), put(ev("c.yaml"), "c1"))
	// Merge main into feature, then fast-forward main to it: the merge's
	// first parent is the feature commit, so relative to it c.yaml is new,
	// while b.yaml arrived at the feature commit itself.
	m := g.merge("feature", "main", at(4))
	g.setBranch("main", m)

	d := walk(t, openRepo(t, g), history.Options{Ref: "main"})
	wantVersions(t, d.Added, []ver{
		{Path: ev("a.yaml"), Added: c1.String(), AddedAt: ts(at(1)), Content: "a1"},
		{Path: ev("b.yaml"), Added: g.snapParent(m, 0), AddedAt: ts(at(2)), Content: "b1"},
		{Path: ev("c.yaml"), Added: m.String(), AddedAt: ts(at(4)), Content: "c1"},
	})
	if c3.String() == d.Added[2].Key.AddedCommit {
		t.Errorf("c.yaml attributed to the second parent's commit")
	}
}

func TestWalkPerSourceTwoSigners(t *testing.T) {
	g := newGitRepo(t, false)
	p1, p2 := pointer("h100", "11"), pointer("h100", "22")
	base := g.commit("main", at(1), put("README.md", "x"), put(ev("allowlist.yaml"), "schemaVersion: 1.0.0\n"))
	g.setBranch("signer-a", base)
	g.setBranch("signer-b", base)
	g.commit("signer-a", at(2), put(ev("h100/aaaa/sha256-11.yaml"), p1))
	g.commit("signer-b", at(3), put(ev("h100/bbbb/sha256-22.yaml"), p2))
	m1 := g.merge("main", "signer-a", at(4))
	m2 := g.merge("main", "signer-b", at(5))

	d := walk(t, openRepo(t, g), history.Options{Ref: "main"})
	wantVersions(t, d.Added, []ver{
		{Path: ev("h100/aaaa/sha256-11.yaml"), Added: m1.String(), AddedAt: ts(at(4)), Content: p1},
		{Path: ev("h100/bbbb/sha256-22.yaml"), Added: m2.String(), AddedAt: ts(at(5)), Content: p2},
	})
}

func TestWalkLegacyFlatEditedTwice(t *testing.T) {
	g := newGitRepo(t, false)
	v1, v2, v3 := pointer("gb200", "01"), pointer("gb200", "02"), pointer("gb200", "03")
	c1 := g.commit("main", at(1), put(ev("gb200.yaml"), v1))
	g.commit("main", at(2), put("README.md", "unrelated"))
	c3 := g.commit("main", at(3), put(ev("gb200.yaml"), v2))
	c4 := g.commit("main", at(4), put(ev("gb200.yaml"), v3))

	d := walk(t, openRepo(t, g), history.Options{Ref: "main"})
	wantVersions(t, d.Added, []ver{
		{Path: ev("gb200.yaml"), Added: c1.String(), AddedAt: ts(at(1)), Removed: c3.String(), RemovedAt: ts(at(3)), Content: v1},
		{Path: ev("gb200.yaml"), Added: c3.String(), AddedAt: ts(at(3)), Removed: c4.String(), RemovedAt: ts(at(4)), Content: v2},
		{Path: ev("gb200.yaml"), Added: c4.String(), AddedAt: ts(at(4)), Content: v3},
	})
}

func TestWalkRemovedAndReappeared(t *testing.T) {
	g := newGitRepo(t, false)
	p, q := pointer("r", "01"), pointer("r", "02")
	c1 := g.commit("main", at(1), put(ev("r/s/sha256-01.yaml"), p), put(ev("r/s/sha256-02.yaml"), q), put(ev("keep.yaml"), "k"))
	c2 := g.commit("main", at(2), del(ev("r/s/sha256-01.yaml")))
	// Replacing the recipe directory by a file removes everything below it.
	c3 := g.commit("main", at(3), del(ev("r/s/sha256-02.yaml")), put(ev("r"), "not a dir"))
	// The same bytes at the same path later are a new version.
	c4 := g.commit("main", at(4), del(ev("r")), put(ev("r/s/sha256-01.yaml"), p))

	d := walk(t, openRepo(t, g), history.Options{Ref: "main"})
	wantVersions(t, d.Added, []ver{
		{Path: ev("keep.yaml"), Added: c1.String(), AddedAt: ts(at(1)), Content: "k"},
		{Path: ev("r/s/sha256-01.yaml"), Added: c1.String(), AddedAt: ts(at(1)), Removed: c2.String(), RemovedAt: ts(at(2)), Content: p},
		{Path: ev("r/s/sha256-02.yaml"), Added: c1.String(), AddedAt: ts(at(1)), Removed: c3.String(), RemovedAt: ts(at(3)), Content: q},
		{Path: ev("r/s/sha256-01.yaml"), Added: c4.String(), AddedAt: ts(at(4)), Content: p},
	})
}

func TestWalkEvidenceDirRemovedAndRestored(t *testing.T) {
	g := newGitRepo(t, false)
	c1 := g.commit("main", at(1), put(ev("a.yaml"), "a"), put("recipes/overlays/x.yaml", "x"))
	c2 := g.commit("main", at(2), del(ev("a.yaml")), del("recipes/overlays/x.yaml"), put("README.md", "r"))
	g.commit("main", at(3), put("README.md", "r2"))
	// The same recipes/ tree as at c1 comes back.
	c4 := g.commit("main", at(4), put(ev("a.yaml"), "a"), put("recipes/overlays/x.yaml", "x"))
	c5 := g.commit("main", at(5), del(ev("a.yaml")), del("recipes/overlays/x.yaml"), put("recipes", "now a file"))

	d := walk(t, openRepo(t, g), history.Options{})
	wantVersions(t, d.Added, []ver{
		{Path: ev("a.yaml"), Added: c1.String(), AddedAt: ts(at(1)), Removed: c2.String(), RemovedAt: ts(at(2)), Content: "a"},
		{Path: ev("a.yaml"), Added: c4.String(), AddedAt: ts(at(4)), Removed: c5.String(), RemovedAt: ts(at(5)), Content: "a"},
	})
}

func TestWalkSelectsYAMLExceptAllowlist(t *testing.T) {
	g := newGitRepo(t, false)
	c1 := g.commit("main", at(1),
		put(ev("allowlist.yaml"), "schemaVersion: 1.0.0\n"),
		put(ev("README.md"), "# evidence\n"),
		put(ev("r/s/notes.txt"), "n"),
		put(ev("r/s/sha256-01.yaml"), "p"),
		put(ev("r/s/sha256-02.yml"), "q"),
		put(ev("r/allowlist.yaml"), "nested: still yielded\n"),
		put(ev("UPPER.YAML"), "u"),
		put("recipes/overlays/r.yaml", "spec: {}\n"),
		put("recipes/evidence.yaml", "outside"),
	)
	g.commit("main", at(2), put(ev("allowlist.yaml"), "schemaVersion: 1.0.0\nfirstParty: []\n"), put(ev("README.md"), "changed"))

	d := walk(t, openRepo(t, g), history.Options{})
	wantVersions(t, d.Added, []ver{
		{Path: ev("UPPER.YAML"), Added: c1.String(), AddedAt: ts(at(1)), Content: "u"},
		{Path: ev("r/allowlist.yaml"), Added: c1.String(), AddedAt: ts(at(1)), Content: "nested: still yielded\n"},
		{Path: ev("r/s/sha256-01.yaml"), Added: c1.String(), AddedAt: ts(at(1)), Content: "p"},
		{Path: ev("r/s/sha256-02.yml"), Added: c1.String(), AddedAt: ts(at(1)), Content: "q"},
	})
}

func TestWalkCustomEvidenceDirAndTooLarge(t *testing.T) {
	g := newGitRepo(t, false)
	big := strings.Repeat("x", 100)
	c1 := g.commit("main", at(1), put("ev/small.yaml", "s"), put("ev/big.yaml", big), put(ev("ignored.yaml"), "i"))

	d := walk(t, openRepo(t, g), history.Options{EvidenceDir: "ev/", MaxFileSize: 10})
	if len(d.Added) != 2 {
		t.Fatalf("Added = %d versions, want 2: %v", len(d.Added), d.Added)
	}
	b, s := d.Added[0], d.Added[1]
	if b.Key != (audit.VersionKey{Path: "ev/big.yaml", AddedCommit: c1.String()}) || !b.TooLarge || b.Content != nil || b.Blob != blobID(big) {
		t.Errorf("big = %+v, want ev/big.yaml TooLarge, no Content, Blob %s", b, blobID(big))
	}
	if s.Key.Path != "ev/small.yaml" || s.TooLarge || string(s.Content) != "s" {
		t.Errorf("small = %+v, want ev/small.yaml with content", s)
	}
}

func TestWalkNoEvidenceDir(t *testing.T) {
	g := newGitRepo(t, false)
	g.commit("main", at(1), put("README.md", "x"))
	d := walk(t, openRepo(t, g), history.Options{Ref: "main"})
	if len(d.Added) != 0 || !d.Full {
		t.Errorf("delta = %+v, want a full walk with nothing added", d)
	}
}

func TestWalkIncremental(t *testing.T) {
	g := newGitRepo(t, false)
	flat1, flat2 := pointer("flat", "01"), pointer("flat", "02")
	c1 := g.commit("main", at(1), put(ev("flat.yaml"), flat1), put(ev("gone.yaml"), "g"), put(ev("stay.yaml"), "s"))
	r := openRepo(t, g)
	first := walk(t, r, history.Options{Ref: "main"})
	if first.Head != c1.String() || len(first.Added) != 3 {
		t.Fatalf("first walk: Head %s Added %d, want %s and 3", first.Head, len(first.Added), c1)
	}

	g.setBranch("feature", c1)
	g.commit("feature", at(2), put(ev("new/src/sha256-01.yaml"), "n"))
	c2 := g.commit("main", at(3), put(ev("flat.yaml"), flat2))
	m := g.merge("main", "feature", at(4))
	c4 := g.commit("main", at(5), del(ev("gone.yaml")), put(ev("later.yaml"), "l1"))
	c5 := g.commit("main", at(6), put(ev("later.yaml"), "l2"))

	d := walk(t, r, history.Options{Ref: "main", From: first.Head})
	if d.Full || d.Rewritten || d.From != c1.String() || d.Head != c5.String() {
		t.Errorf("delta = Full %v Rewritten %v From %s Head %s, want incremental from %s to %s", d.Full, d.Rewritten, d.From, d.Head, c1, c5)
	}
	wantVersions(t, d.Added, []ver{
		{Path: ev("flat.yaml"), Added: c2.String(), AddedAt: ts(at(3)), Content: flat2},
		{Path: ev("new/src/sha256-01.yaml"), Added: m.String(), AddedAt: ts(at(4)), Content: "n"},
		{Path: ev("later.yaml"), Added: c4.String(), AddedAt: ts(at(5)), Removed: c5.String(), RemovedAt: ts(at(6)), Content: "l1"},
		{Path: ev("later.yaml"), Added: c5.String(), AddedAt: ts(at(6)), Content: "l2"},
	})
	wantRemoved := []audit.Removal{
		{Path: ev("flat.yaml"), Commit: c2.String(), At: at(3)},
		{Path: ev("gone.yaml"), Commit: c4.String(), At: at(5)},
	}
	if !reflect.DeepEqual(d.Removed, wantRemoved) {
		t.Errorf("Removed:\n got  %+v\n want %+v", d.Removed, wantRemoved)
	}

	// No new commits: an empty delta.
	same := walk(t, r, history.Options{Ref: "main", From: d.Head})
	if same.Full || same.Rewritten || same.From != d.Head || same.Head != d.Head || len(same.Added) != 0 || len(same.Removed) != 0 {
		t.Errorf("walk with no new commits = %+v, want empty delta at %s", same, d.Head)
	}

	// A later incremental walk equals the tail of a full one.
	full := walk(t, r, history.Options{Ref: "main"})
	if len(full.Added) != 3+4 {
		t.Errorf("full walk added %d versions, want 7", len(full.Added))
	}
}

func TestWalkRewrittenHistory(t *testing.T) {
	g := newGitRepo(t, false)
	c1 := g.commit("main", at(1), put(ev("a.yaml"), "a"))
	g.commit("main", at(2), put(ev("b.yaml"), "b"))
	r := openRepo(t, g)
	first := walk(t, r, history.Options{Ref: "main"})

	// Force-reset main to c1 and build a different history on it.
	g.setBranch("main", c1)
	c2 := g.commit("main", at(3), put(ev("c.yaml"), "c"))

	d := walk(t, r, history.Options{Ref: "main", From: first.Head})
	if !d.Full || !d.Rewritten || d.From != "" || d.Head != c2.String() || len(d.Removed) != 0 {
		t.Errorf("delta = Full %v Rewritten %v From %q Head %s Removed %v, want a full rewritten walk to %s", d.Full, d.Rewritten, d.From, d.Head, d.Removed, c2)
	}
	wantVersions(t, d.Added, []ver{
		{Path: ev("a.yaml"), Added: c1.String(), AddedAt: ts(at(1)), Content: "a"},
		{Path: ev("c.yaml"), Added: c2.String(), AddedAt: ts(at(3)), Content: "c"},
	})

	// A From that is an ancestor only through a second parent is not on
	// the first-parent chain either.
	g.setBranch("side", c1)
	side := g.commit("side", at(4), put("x.txt", "x"))
	m := g.merge("main", "side", at(5))
	d = walk(t, r, history.Options{Ref: "main", From: side.String()})
	if !d.Full || !d.Rewritten || d.Head != m.String() {
		t.Errorf("From on a second parent: Full %v Rewritten %v, want both", d.Full, d.Rewritten)
	}
}

func TestWalkRefs(t *testing.T) {
	g := newGitRepo(t, true)
	c1 := g.commit("main", at(1), put(ev("a.yaml"), "a"))
	g.setBranch("other", c1)
	g.commit("other", at(2), put(ev("b.yaml"), "b"))
	r := openRepo(t, g)

	for _, tc := range []struct {
		ref, wantRef string
		wantAdded    int
	}{
		{"", "refs/heads/main", 1},
		{"HEAD", "refs/heads/main", 1},
		{"main", "refs/heads/main", 1},
		{"refs/heads/main", "refs/heads/main", 1},
		{"other", "refs/heads/other", 2},
	} {
		d := walk(t, r, history.Options{Ref: tc.ref})
		if d.Ref != tc.wantRef || len(d.Added) != tc.wantAdded {
			t.Errorf("Walk(Ref %q) = Ref %s, %d added; want %s, %d", tc.ref, d.Ref, len(d.Added), tc.wantRef, tc.wantAdded)
		}
	}
	_, err := r.Walk(context.Background(), history.Options{Ref: "nope"})
	if !errors.Is(err, history.ErrRefNotFound) {
		t.Errorf("Walk(Ref nope) error = %v, want ErrRefNotFound", err)
	}
	_, err = r.Walk(context.Background(), history.Options{Ref: "main", From: "not-a-commit"})
	if err == nil {
		t.Errorf("Walk(From not-a-commit) succeeded, want an error")
	}
}

func TestWalkCanceled(t *testing.T) {
	g := newGitRepo(t, false)
	g.commit("main", at(1), put(ev("a.yaml"), "a"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := openRepo(t, g).Walk(ctx, history.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Walk with canceled context: error = %v, want context.Canceled", err)
	}
}

// snapParent returns the n-th parent of commit as a hex string.
func (g *gitRepo) snapParent(commit plumbing.Hash, n int) string {
	g.tb.Helper()
	c, err := g.r.CommitObject(commit)
	if err != nil {
		g.tb.Fatalf("read commit %s: %v", commit, err)
	}
	return c.ParentHashes[n].String()
}

// TestWalkSplitFindsWhatOneReaderFinds walks a long random history — pointers
// added, edited, deleted, nested or flat, too large, the evidence directory
// removed and restored, merges — with the chain read by one goroutine and
// split among several, fully and from points along the way, and wants the
// same delta every time.
func TestWalkSplitFindsWhatOneReaderFinds(t *testing.T) {
	g := newGitRepo(t, false)
	rng := rand.New(rand.NewPCG(15, 3))
	var commits []plumbing.Hash
	live := map[string]bool{}
	day := 0
	anyLive := func() string { // a live path, the same for the same seed
		ps := slices.Sorted(maps.Keys(live))
		return ps[rng.IntN(len(ps))]
	}
	randomEdits := func() []edit {
		var es []edit
		for range 1 + rng.IntN(3) {
			switch op := rng.IntN(10); {
			case op < 4 || len(live) == 0: // a new pointer, flat or per source
				p := ev(fmt.Sprintf("r%d.yaml", rng.IntN(15)))
				if rng.IntN(2) == 0 {
					p = ev(fmt.Sprintf("r%d/sha256-%064x.yaml", rng.IntN(6), rng.IntN(1000)))
				}
				es = append(es, put(p, fmt.Sprintf("v%d %s", rng.IntN(1e6), strings.Repeat("x", rng.IntN(120)))))
				live[p] = true
			case op < 7: // an edit of a live file
				es = append(es, put(anyLive(), fmt.Sprintf("edit %d", rng.IntN(1e6))))
			case op < 9: // a deletion
				p := anyLive()
				es = append(es, del(p))
				delete(live, p)
			default: // not a pointer
				es = append(es, put(fmt.Sprintf("docs/%d.md", rng.IntN(5)), "doc"), put(ev("allowlist.yaml"), fmt.Sprint(rng.IntN(9))))
			}
		}
		return es
	}
	for i := range 200 {
		day++
		switch {
		case i == 80: // the evidence directory removed, then restored below
			var es []edit
			for p := range live {
				es = append(es, del(p))
			}
			clear(live)
			commits = append(commits, g.commit("main", at(day), es...))
		case i%7 == 3: // a feature branch merged: its edits reach main at the merge
			es := randomEdits()
			main := g.tip("main")
			g.setBranch("feature", main)
			feature := g.commit("feature", at(day), es...)
			day++
			commits = append(commits, g.commitWith("main", []plumbing.Hash{main, feature}, at(day), es...))
		case i%5 == 0: // a commit that does not touch the evidence
			commits = append(commits, g.commit("main", at(day), put("README.md", fmt.Sprint(i))))
		default:
			commits = append(commits, g.commit("main", at(day), randomEdits()...))
		}
	}
	r := openRepo(t, g)
	froms := []string{"", commits[0].String(), commits[79].String(), commits[80].String(), commits[150].String(), commits[198].String()}
	run := func(from string) *audit.WalkDelta {
		d, err := r.Walk(context.Background(), history.Options{Ref: "main", From: from, MaxFileSize: 100})
		if err != nil {
			t.Fatalf("Walk(from %q): %v", short(from), err)
		}
		return d
	}
	var want []*audit.WalkDelta
	restore := history.SetWalkSplit(1, 1)
	for _, from := range froms {
		want = append(want, run(from))
	}
	restore()
	if n := len(want[0].Added); n < 150 {
		t.Fatalf("the random history has only %d pointer versions", n)
	}
	for _, split := range []struct{ workers, minLinks int }{{2, 1}, {3, 1}, {4, 7}, {4, 1000}} {
		restore := history.SetWalkSplit(split.workers, split.minLinks)
		for i, from := range froms {
			if got := run(from); !reflect.DeepEqual(got, want[i]) {
				t.Errorf("%d readers of at least %d links, from %q: the delta differs from one reader's (%d/%d added, %d/%d removed)",
					split.workers, split.minLinks, short(from), len(got.Added), len(want[i].Added), len(got.Removed), len(want[i].Removed))
			}
		}
		restore()
	}
}

package ledger_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

func pv(path, commit string, at time.Time, content string) audit.PointerVersion {
	return audit.PointerVersion{
		Key:  audit.VersionKey{Path: path, AddedCommit: commit},
		Blob: "blob-" + commit, Content: []byte(content), AddedAt: at,
	}
}

func TestApplyWalk(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	const repo, flat, perSource = "aicr", "recipes/evidence/a.yaml", "recipes/evidence/b/src/sha256-1.yaml"
	day := func(n int) time.Time { return t0.AddDate(0, 0, n) }

	head, err := db.WalkHead(ctx, repo, "main")
	if err != nil || head != "" {
		t.Fatalf("WalkHead before any walk = %q, %v; want \"\", nil", head, err)
	}

	full := &audit.WalkDelta{Ref: "main", Head: "c2", Full: true, Added: []audit.PointerVersion{
		pv(flat, "c1", day(1), "v1"),
		pv(perSource, "c2", day(2), "b"),
	}}
	if err := db.ApplyWalk(ctx, repo, full); err != nil {
		t.Fatal(err)
	}
	// The flat pointer is edited in place at c3 and the per-source one deleted at c4.
	inc := &audit.WalkDelta{Ref: "main", From: "c2", Head: "c4",
		Added: []audit.PointerVersion{pv(flat, "c3", day(3), "v2")},
		Removed: []audit.Removal{
			{Path: flat, Commit: "c3", At: day(3)},
			{Path: perSource, Commit: "c4", At: day(4)},
		},
	}
	for i := 0; i < 2; i++ { // applying the same delta twice is harmless
		if err := db.ApplyWalk(ctx, repo, inc); err != nil {
			t.Fatalf("ApplyWalk(incremental) #%d: %v", i+1, err)
		}
	}
	want := []audit.PointerVersion{
		{Key: audit.VersionKey{Path: flat, AddedCommit: "c1"}, Blob: "blob-c1", Content: []byte("v1"), AddedAt: day(1), RemovedCommit: "c3", RemovedAt: day(3)},
		{Key: audit.VersionKey{Path: perSource, AddedCommit: "c2"}, Blob: "blob-c2", Content: []byte("b"), AddedAt: day(2), RemovedCommit: "c4", RemovedAt: day(4)},
		{Key: audit.VersionKey{Path: flat, AddedCommit: "c3"}, Blob: "blob-c3", Content: []byte("v2"), AddedAt: day(3)},
	}
	got, err := db.PointerVersions(ctx, repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("PointerVersions =\n%+v\nwant\n%+v", got, want)
	}
	if head, _ := db.WalkHead(ctx, repo, "main"); head != "c4" {
		t.Errorf("WalkHead = %q, want c4", head)
	}

	// A delta that does not start at the recorded head is refused.
	stale := &audit.WalkDelta{Ref: "main", From: "c2", Head: "c9"}
	if err := db.ApplyWalk(ctx, repo, stale); !errors.Is(err, ledger.ErrWalkMismatch) {
		t.Errorf("ApplyWalk(stale) err = %v, want ErrWalkMismatch", err)
	}

	// History rewritten: a full re-walk no longer has c3; its version is
	// kept but no longer listed.
	rewalk := &audit.WalkDelta{Ref: "main", Head: "d3", Full: true, Rewritten: true, Added: []audit.PointerVersion{
		want[0], want[1], pv(flat, "d3", day(5), "v2'"),
	}}
	for i := 0; i < 2; i++ {
		if err := db.ApplyWalk(ctx, repo, rewalk); err != nil {
			t.Fatalf("ApplyWalk(rewalk) #%d: %v", i+1, err)
		}
	}
	got, err = db.PointerVersions(ctx, repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, v := range got {
		keys = append(keys, v.Key.String())
	}
	wantKeys := []string{flat + "@c1", perSource + "@c2", flat + "@d3"}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Errorf("after re-walk keys = %v, want %v", keys, wantKeys)
	}

	// Other refs and repositories are separate inventories.
	if other, _ := db.PointerVersions(ctx, repo, "release"); len(other) != 0 {
		t.Errorf("PointerVersions(release) = %d versions, want 0", len(other))
	}
}

// TestTooLargeSurvivesTheLedger: a pointer recorded without its content
// because it was over the limit comes back flagged, so that the audit says
// why (not "empty pointer").
func TestTooLargeSurvivesTheLedger(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	big := audit.PointerVersion{Key: audit.VersionKey{Path: "recipes/evidence/a.yaml", AddedCommit: "c1"}, Blob: "b1", AddedAt: t0, TooLarge: true}
	if err := db.ApplyWalk(ctx, "aicr", &audit.WalkDelta{Ref: "main", Head: "c1", Full: true, Added: []audit.PointerVersion{big}}); err != nil {
		t.Fatal(err)
	}
	got, err := db.PointerVersions(ctx, "aicr", "main")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].TooLarge {
		t.Fatalf("PointerVersions = %+v, want the version flagged TooLarge", got)
	}
	info, _ := audit.Describe(got[0], "recipes/evidence", nil)
	if len(info.Problems) != 1 || !strings.Contains(info.Problems[0].Detail, "larger than") {
		t.Errorf("problems = %+v, want one saying the file is too large", info.Problems)
	}
}

package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/migrations"
)

// sealedLedger records three finished runs, each adding to every table a
// seal covers: pointer versions (walks), results, recipe statuses, run
// inputs (and the run's archive store), cached bundles and their
// verifications, checkpoints, archive records. It returns the ledger's
// path, closed.
func sealedLedger(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	path := ledgerPath(t)
	db := openAt(t, path)
	from := ""
	for r := 1; r <= 3; r++ {
		head := fmt.Sprintf("c%d", r)
		var added []audit.PointerVersion
		for i := 0; i < 2; i++ {
			n := 2*(r-1) + i
			added = append(added, pv(fmt.Sprintf("recipes/evidence/r%d/src/sha256-%d.yaml", n, n), head, t0.AddDate(0, 0, n), fmt.Sprintf("pointer %d", n)))
		}
		if err := db.ApplyWalk(ctx, "aicr", &audit.WalkDelta{Ref: "main", From: from, Head: head, Full: from == "", Added: added}); err != nil {
			t.Fatal(err)
		}
		from = head
		run, err := db.BeginRun(ctx, ledger.RunMeta{Repo: "aicr", Ref: "main", Commit: head, AsOf: t0, TrustRoot: "sha256:root", VerifierVersion: "test", Deep: true})
		if err != nil {
			t.Fatal(err)
		}
		appendN(t, db, run.ID, 10*r, 3)
		if err := db.PutRunInputs(ctx, run.ID, ledger.RunInputs{EvidenceDir: "recipes/evidence", Allowlist: []byte("schemaVersion: 1.0.0\n"),
			Archive: "oci-layout:/var/lib/x/archive"}); err != nil {
			t.Fatal(err)
		}
		if err := db.RecordArchived(ctx, []audit.ArchivedBundle{{Digest: fmt.Sprintf("sha256:%064x", r), Store: "oci-layout:/var/lib/x/archive",
			Signature: audit.SigstoreBundle, ReferrerDigest: fmt.Sprintf("sha256:%064x", 100+r), Bytes: int64(r), RunID: run.ID}}); err != nil {
			t.Fatal(err)
		}
		if err := db.PutRecipeStatuses(ctx, run.ID, []audit.RecipeStatus{
			{Recipe: fmt.Sprintf("r%d", r), NeedsRecert: r == 2, Reason: "expired", LivePointers: 2},
		}); err != nil {
			t.Fatal(err)
		}
		if err := db.PutBundle(ctx, ledger.BundleRecord{
			Digest: fmt.Sprintf("sha256:%064x", r), SigstoreBundle: []byte(fmt.Sprintf(`{"bundle":%d}`, r)),
			Statement: []byte(fmt.Sprintf(`{"statement":%d}`, r)), TrustRoot: "sha256:root", VerifierVersion: "v", LogIndex: int64(r),
		}); err != nil {
			t.Fatal(err)
		}
		if err := db.PutCheckpoint(ctx, ledger.Checkpoint{LogID: "log", TreeSize: int64(r), RootHash: []byte{byte(r)}, Raw: "note", RunID: run.ID}); err != nil {
			t.Fatal(err)
		}
		finishRun(t, db, run.ID)
	}
	rep, err := db.Verify(ctx)
	if err != nil || !rep.OK {
		t.Fatalf("Verify of the fresh ledger = %+v, %v (first bad %+v)", rep, err, rep.FirstBad)
	}
	db.Close()
	return path
}

func TestFinishRunSealsEveryRun(t *testing.T) {
	ctx := context.Background()
	db := openAt(t, sealedLedger(t))
	seals, err := db.Seals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(seals) != 3 {
		t.Fatalf("Seals = %d, want 3", len(seals))
	}
	hex := regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	seen := map[string]bool{}
	for i, s := range seals {
		run, err := db.Run(ctx, s.RunID)
		if err != nil {
			t.Fatal(err)
		}
		if s.Seq != int64(i+1) || s.RunID != int64(i+1) || s.Rows != run.HeadSeq || !hex.MatchString(s.Head) || seen[s.Head] {
			t.Errorf("seal %d = %+v; want seq %d, run %d, rows %d, a fresh sha256", i, s, i+1, i+1, run.HeadSeq)
		}
		if s.Head == run.LedgerHead {
			t.Errorf("run %d's seal equals its result chain head: it must cover more than results", s.RunID)
		}
		seen[s.Head] = true
		got, ok, err := db.Seal(ctx, s.RunID)
		if err != nil || !ok || got != s {
			t.Errorf("Seal(%d) = %+v, %v, %v; want %+v", s.RunID, got, ok, err, s)
		}
	}
	id, err := db.ID(ctx)
	if err != nil || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		t.Errorf("ID = %q, %v; want 32 hex digits", id, err)
	}
	if _, ok, err := db.Seal(ctx, 99); err != nil || ok {
		t.Errorf("Seal(99) = ok %v, %v; want not sealed", ok, err)
	}
}

// TestVerifyDetectsEditsOutsideTheResultChain: edits the result chain
// cannot see — to the runs, recipe-status, run-input, pointer-version,
// bundle-cache and checkpoint tables, to seals, and deleted runs — are
// detected and blamed on the run whose seal covers them.
func TestVerifyDetectsEditsOutsideTheResultChain(t *testing.T) {
	tests := []struct {
		name    string
		tamper  []string
		wantRun int64
		want    string
	}{
		{"run kind", []string{`UPDATE runs SET kind = 'what-if' WHERE id = 2`}, 2, "run record"},
		{"run as-of", []string{`UPDATE runs SET as_of = '2020-01-01T00:00:00.000000000Z' WHERE id = 1`}, 1, "run record"},
		{"run complete flag", []string{`UPDATE runs SET complete = 0 WHERE id = 3`}, 3, "run record"},
		{"recipe status", []string{`UPDATE run_recipes SET needs_recert = 0 WHERE run_id = 2`}, 2, "recipe statuses"},
		{"recipe status deleted", []string{`DELETE FROM run_recipes WHERE run_id = 3`}, 3, "recipe statuses"},
		{"run inputs", []string{`UPDATE run_inputs SET allowlist = x'00' WHERE run_id = 1`}, 1, "run inputs"},
		{"pointer content", []string{`UPDATE pointer_versions SET content = CAST('forged' AS BLOB) WHERE id = 3`}, 2, "pointer versions"},
		{"pointer added time", []string{`UPDATE pointer_versions SET added_at = '2019-01-01T00:00:00.000000000Z' WHERE id = 6`}, 3, "pointer versions"},
		{"pointer deleted", []string{`DELETE FROM pointer_versions WHERE id = 1`}, 1, "pointer versions"},
		{"pointer removal mark", []string{`UPDATE pointer_versions SET removed_commit = 'cX' WHERE id = 2`}, 3, "removal marks"},
		{"cached bundle bytes", []string{`UPDATE bundles SET sigstore_bundle = CAST('{"forged":1}' AS BLOB) WHERE digest = 'sha256:` + fmt.Sprintf("%064x", 2) + `'`}, 2, "cached bundles"},
		{"cached bundle without verification", []string{`INSERT INTO bundles VALUES ('sha256:` + fmt.Sprintf("%064x", 9) + `', x'7b7d', x'7b7d', '', '', '')`}, 3, "no seal can cover"},
		{"bundle verification", []string{`UPDATE bundle_verifications SET trust_root = 'sha256:other' WHERE id = 1`}, 1, "bundle verifications"},
		{"checkpoint", []string{`UPDATE checkpoints SET root_hash = x'ff' WHERE id = 2`}, 2, "log checkpoints"},
		{"run's archive store", []string{`UPDATE run_inputs SET archive = 'oci:elsewhere.example/archive' WHERE run_id = 1`}, 1, "run's archive store"},
		{"archive record", []string{`UPDATE archived_bundles SET archived_at = '2020-01-01T00:00:00.000000000Z' WHERE id = 2`}, 2, "archive records"},
		{"archive record deleted", []string{`DELETE FROM archived_bundles WHERE id = 3`}, 3, "archive records"},
		{"seal edited", []string{`UPDATE run_seals SET covers = replace(covers, 'runs - 1', 'runs - 2') WHERE run_id = 2`}, 2, "seal was edited"},
		{"seal deleted", []string{`DELETE FROM run_seals WHERE run_id = 3`}, 3, "no seal"},
		{"middle run deleted", []string{`DELETE FROM run_seals WHERE run_id = 2`, `DELETE FROM run_recipes WHERE run_id = 2`,
			`DELETE FROM run_inputs WHERE run_id = 2`, `DELETE FROM checkpoints WHERE run_id = 2`, `DELETE FROM results WHERE run_id = 2`,
			`DELETE FROM runs WHERE id = 2`}, 2, "run 2 is missing"},
		{"last run deleted, counter left", []string{`DELETE FROM run_seals WHERE run_id = 3`, `DELETE FROM run_recipes WHERE run_id = 3`,
			`DELETE FROM run_inputs WHERE run_id = 3`, `DELETE FROM checkpoints WHERE run_id = 3`, `DELETE FROM results WHERE run_id = 3`,
			`DELETE FROM runs WHERE id = 3`}, 3, "run 3 is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := sealedLedger(t)
			raw := rawSQL(t, path)
			for _, tr := range []string{"results_no_update", "results_no_delete", "run_seals_no_update", "run_seals_no_delete",
				"archived_bundles_no_update", "archived_bundles_no_delete"} {
				mustExec(t, raw, `DROP TRIGGER `+tr)
			}
			for _, q := range tt.tamper {
				mustExec(t, raw, q)
			}
			raw.Close()
			rep, err := openAt(t, path).Verify(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK || rep.FirstBad == nil {
				t.Fatalf("Verify = OK after %s, want run %d named", tt.name, tt.wantRun)
			}
			if rep.FirstBad.RunID != tt.wantRun || !strings.Contains(rep.FirstBad.Reason, tt.want) {
				t.Errorf("first bad = run %d: %s; want run %d, mentioning %q", rep.FirstBad.RunID, rep.FirstBad.Reason, tt.wantRun, tt.want)
			}
		})
	}
}

// TestVerifyPendingAndWalkedState: rows added after the newest seal and
// removal marks changed by a later walk are notes, not faults; the next
// seal covers them.
func TestVerifyPendingAndWalkedState(t *testing.T) {
	ctx := context.Background()
	db := openAt(t, sealedLedger(t))
	if err := db.ApplyWalk(ctx, "aicr", &audit.WalkDelta{Ref: "main", From: "c3", Head: "c4",
		Added:   []audit.PointerVersion{pv("recipes/evidence/new/src/sha256-9.yaml", "c4", t0.AddDate(0, 1, 0), "new")},
		Removed: []audit.Removal{{Path: "recipes/evidence/r0/src/sha256-0.yaml", Commit: "c4", At: t0.AddDate(0, 1, 0)}},
	}); err != nil {
		t.Fatal(err)
	}
	run := beginRun(t, db)
	appendN(t, db, run.ID, 100, 2)
	rep, err := db.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("Verify with a run in progress = broken: %+v", rep.FirstBad)
	}
	notes := strings.Join(rep.Notes, "\n")
	for _, want := range []string{"1 pointer versions added since the newest seal", "removal marks changed since run 3 was sealed, by a walk"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes = %q, want %q", notes, want)
		}
	}
	finishRun(t, db, run.ID)
	rep, err = db.Verify(ctx)
	if err != nil || !rep.OK || len(rep.Notes) != 0 || len(rep.Seals) != 4 {
		t.Errorf("Verify after the run finished = OK %v, notes %q, %d seals, %v; want OK, no notes, 4 seals", rep.OK, rep.Notes, len(rep.Seals), err)
	}
}

// TestMigrationSealsOldRuns: a ledger from before sealing (schema 9) gets
// its finished runs sealed by the migration; they verify, and an edit to
// one of them is detected afterwards.
func TestMigrationSealsOldRuns(t *testing.T) {
	ctx := context.Background()
	path := ledgerPath(t)
	raw := rawSQL(t, path)
	mustExec(t, raw, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`)
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	for _, name := range names {
		var v int
		fmt.Sscanf(name, "%04d", &v)
		if v >= 10 {
			break
		}
		body, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, raw, string(body))
		mustExec(t, raw, `INSERT INTO schema_migrations VALUES (?, ?, '')`, v, name)
	}
	for id := 1; id <= 2; id++ {
		mustExec(t, raw, `INSERT INTO runs (repo, ref, commit_id, as_of, trust_root, verifier_version, deep, options, started_at,
			start_seq, start_head, finished_at, complete) VALUES ('aicr', 'main', 'c', '2026-01-01T00:00:00.000000000Z', 'sha256:r', 'v', 1, '',
			'2026-01-01T00:00:00.000000000Z', 0, '', '2026-01-01T00:01:00.000000000Z', 1)`)
		mustExec(t, raw, `INSERT INTO run_recipes VALUES (?, 'r', 0, '', 0, '', '', '', 'fresh', 1, '[]')`, id)
	}
	// A third, unfinished run is sealed when it finishes.
	mustExec(t, raw, `INSERT INTO runs (repo, ref, commit_id, as_of, trust_root, verifier_version, deep, options, started_at,
		start_seq, start_head) VALUES ('aicr', 'main', 'c', '2026-01-01T00:00:00.000000000Z', 'sha256:r', 'v', 1, '', '2026-01-02T00:00:00.000000000Z', 0, '')`)
	raw.Close()

	db := openAt(t, path)
	seals, err := db.Seals(ctx)
	if err != nil || len(seals) != 2 || seals[0].RunID != 1 || seals[1].RunID != 2 {
		t.Fatalf("Seals after migration = %+v, %v; want runs 1 and 2", seals, err)
	}
	if rep, err := db.Verify(ctx); err != nil || !rep.OK {
		t.Fatalf("Verify after migration = %+v, %v", rep, err)
	}
	finishRun(t, db, 3)
	if s, ok, err := db.Seal(ctx, 3); err != nil || !ok || s.Seq != 3 {
		t.Fatalf("Seal(3) = %+v, %v, %v; want the third seal", s, ok, err)
	}
	db.Close()

	raw = rawSQL(t, path)
	mustExec(t, raw, `UPDATE run_recipes SET needs_recert = 1 WHERE run_id = 1`)
	raw.Close()
	rep, err := openAt(t, path).Verify(ctx)
	if err != nil || rep.OK || rep.FirstBad.RunID != 1 {
		t.Fatalf("Verify after editing old run 1 = %+v, %v; want run 1 broken", rep.FirstBad, err)
	}
}

func TestAppendHookSeesEachCommitBeforeItLands(t *testing.T) {
	ctx := context.Background()
	path := ledgerPath(t)
	type call struct {
		run           int64
		before, after ledger.ChainPoint
	}
	var calls []call
	fail := false
	db, err := ledger.Open(ctx, path, ledger.WithClock(clock()), ledger.WithAppendHook(func(run int64, before, after ledger.ChainPoint) error {
		calls = append(calls, call{run, before, after})
		if fail {
			return errors.New("disk full")
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run := beginRun(t, db)
	if _, err := db.AppendResults(ctx, run.ID, []audit.Result{result(1), result(2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AppendResults(ctx, run.ID, []audit.Result{result(3)}); err != nil {
		t.Fatal(err)
	}
	seq, head, _ := db.ChainHead(ctx)
	if len(calls) != 2 || calls[0].before != (ledger.ChainPoint{}) || calls[0].after.Seq != 2 ||
		calls[1].before != calls[0].after || calls[1].after != (ledger.ChainPoint{Seq: seq, Hash: head}) || calls[1].run != run.ID {
		t.Fatalf("hook calls = %+v; want (0→2), (2→3 = head %d %s) for run %d", calls, seq, head, run.ID)
	}
	fail = true
	if _, err := db.AppendResults(ctx, run.ID, []audit.Result{result(4)}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("AppendResults with a failing hook = %v, want its error", err)
	}
	if s, _, _ := db.ChainHead(ctx); s != 3 {
		t.Errorf("chain head after a failed hook = %d, want 3 (the append rolled back)", s)
	}
}

// BenchmarkVerifySealed measures `ledger verify` on a ledger of many sealed
// runs (go test -bench VerifySealed ./internal/ledger/).
func BenchmarkVerifySealed(b *testing.B) {
	ctx := context.Background()
	db := newDB(b)
	for r := 0; r < 20; r++ {
		run := beginRun(b, db)
		rs := make([]audit.Result, 500)
		for i := range rs {
			rs[i] = result(r*1000 + i)
		}
		if _, err := db.AppendResults(ctx, run.ID, rs); err != nil {
			b.Fatal(err)
		}
		finishRun(b, db, run.ID)
	}
	b.ResetTimer()
	for b.Loop() {
		rep, err := db.Verify(ctx)
		if err != nil || !rep.OK {
			b.Fatal(rep, err)
		}
	}
}

// TestRehashUnsafeRewritesConsistently: after an edit and RehashUnsafe, the
// ledger verifies (the database alone cannot tell), the seals before the
// edited run are unchanged and the seals from it on are not — which is what
// anchors catch.
func TestRehashUnsafeRewritesConsistently(t *testing.T) {
	ctx := context.Background()
	path := sealedLedger(t)
	db := openAt(t, path)
	before, err := db.Seals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw := rawSQL(t, path)
	mustExec(t, raw, `DROP TRIGGER results_no_update`)
	mustExec(t, raw, `UPDATE results SET verdict = 'invalid' WHERE run_id = 2 AND seq = (SELECT min(seq) FROM results WHERE run_id = 2)`)
	raw.Close()
	if err := ledger.RehashUnsafe(ctx, path); err != nil {
		t.Fatal(err)
	}
	db = openAt(t, path)
	rep, err := db.Verify(ctx)
	if err != nil || !rep.OK {
		t.Fatalf("Verify after a consistent rewrite = %+v, %v; want OK", rep.FirstBad, err)
	}
	after, _ := db.Seals(ctx)
	if len(after) != 3 || after[0] != before[0] || after[1].Head == before[1].Head || after[2].Head == before[2].Head {
		t.Errorf("seals before %+v, after %+v; want run 1's unchanged, runs 2 and 3 rewritten", before, after)
	}
	raw = rawSQL(t, path)
	if _, err := raw.Exec(`DELETE FROM results`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("triggers not re-created: delete = %v", err)
	}
}

package ledger_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
)

func TestVerifyIntactChain(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	run := beginRun(t, db)
	appendN(t, db, run.ID, 0, 5)
	finished := finishRun(t, db, run.ID)
	run2 := beginRun(t, db)
	appendN(t, db, run2.ID, 0, 3)

	rep, err := db.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seq, head, err := db.ChainHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.FirstBad != nil {
		t.Fatalf("Verify = %+v (first bad %+v), want OK", rep, rep.FirstBad)
	}
	if rep.Rows != 8 || rep.HeadSeq != seq || rep.Head != head {
		t.Errorf("Verify rows %d head %d %s, want 8 rows, head %d %s", rep.Rows, rep.HeadSeq, rep.Head, seq, head)
	}
	if finished.HeadSeq != 5 || !strings.HasPrefix(finished.LedgerHead, "sha256:") {
		t.Errorf("finished run head = %d %q, want 5 sha256:…", finished.HeadSeq, finished.LedgerHead)
	}
	if run2.StartSeq != 5 || run2.StartHead != finished.LedgerHead {
		t.Errorf("run 2 start = %d %s, want 5 %s", run2.StartSeq, run2.StartHead, finished.LedgerHead)
	}
}

// TestVerifyDetectsTampering edits the file with a separate SQLite handle,
// as someone with write access to the ledger could, after dropping the
// append-only triggers.
func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name       string
		tamper     func(tb testing.TB, raw *sql.DB)
		wantSeq    int64
		wantPath   bool // the bad row is an existing row, named by path
		wantReason string
	}{
		{
			name: "edited detail",
			tamper: func(tb testing.TB, raw *sql.DB) {
				mustExec(tb, raw, `UPDATE results SET detail = 'all good' WHERE seq = 4`)
			},
			wantSeq: 4, wantPath: true, wantReason: "hash mismatch",
		},
		{
			name: "edited verdict and rehashed row alone",
			tamper: func(tb testing.TB, raw *sql.DB) {
				mustExec(tb, raw, `UPDATE results SET verdict = 'invalid', hash = (SELECT hash FROM results WHERE seq = 2) WHERE seq = 3`)
			},
			wantSeq: 3, wantPath: true, wantReason: "hash mismatch",
		},
		{
			name: "deleted row",
			tamper: func(tb testing.TB, raw *sql.DB) {
				mustExec(tb, raw, `DELETE FROM results WHERE seq = 3`)
			},
			wantSeq: 4, wantPath: true, wantReason: "rows 3..3 are missing",
		},
		{
			name: "deleted row and renumbered",
			tamper: func(tb testing.TB, raw *sql.DB) {
				mustExec(tb, raw, `DELETE FROM results WHERE seq = 3`)
				for s := 4; s <= 8; s++ {
					mustExec(tb, raw, `UPDATE results SET seq = seq - 1 WHERE seq = ?`, s)
				}
			},
			wantSeq: 3, wantPath: true, wantReason: "prev_hash",
		},
		{
			name: "swapped rows",
			tamper: func(tb testing.TB, raw *sql.DB) {
				mustExec(tb, raw, `UPDATE results SET seq = -2 WHERE seq = 2`)
				mustExec(tb, raw, `UPDATE results SET seq = 2 WHERE seq = 6`)
				mustExec(tb, raw, `UPDATE results SET seq = 6 WHERE seq = -2`)
			},
			wantSeq: 2, wantPath: true, wantReason: "prev_hash",
		},
		{
			name: "swapped contents, hashes left in place",
			tamper: func(tb testing.TB, raw *sql.DB) {
				mustExec(tb, raw, `CREATE TEMP TABLE a AS SELECT * FROM results WHERE seq = 5`)
				mustExec(tb, raw, `CREATE TEMP TABLE b AS SELECT * FROM results WHERE seq = 7`)
				for _, c := range []string{"path", "added_commit", "recipe", "detail", "bundle_digest", "rekor_log_index", "attested_at", "checked_at"} {
					mustExec(tb, raw, `UPDATE results SET `+c+` = (SELECT `+c+` FROM b) WHERE seq = 5`)
					mustExec(tb, raw, `UPDATE results SET `+c+` = (SELECT `+c+` FROM a) WHERE seq = 7`)
				}
			},
			wantSeq: 5, wantPath: true, wantReason: "hash mismatch",
		},
		{
			name: "deleted tail of a finished run",
			tamper: func(tb testing.TB, raw *sql.DB) {
				mustExec(tb, raw, `DELETE FROM results WHERE seq > 6`)
			},
			wantSeq: 8, wantPath: false, wantReason: "tail deleted",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			path := ledgerPath(t)
			db := openAt(t, path)
			run := beginRun(t, db)
			appendN(t, db, run.ID, 0, 8)
			finishRun(t, db, run.ID)
			db.Close()

			raw := rawSQL(t, path)
			mustExec(t, raw, `DROP TRIGGER results_no_update`)
			mustExec(t, raw, `DROP TRIGGER results_no_delete`)
			tt.tamper(t, raw)
			raw.Close()

			db = openAt(t, path)
			rep, err := db.Verify(ctx)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if rep.OK || rep.FirstBad == nil {
				t.Fatalf("Verify = OK after tampering, want a bad row")
			}
			bad := rep.FirstBad
			if bad.Seq != tt.wantSeq {
				t.Errorf("first bad seq = %d, want %d (%s)", bad.Seq, tt.wantSeq, bad.Reason)
			}
			if bad.RunID != run.ID {
				t.Errorf("first bad run = %d, want %d", bad.RunID, run.ID)
			}
			if got := bad.Path != ""; got != tt.wantPath {
				t.Errorf("first bad path = %q, want named: %v", bad.Path, tt.wantPath)
			}
			if !strings.Contains(bad.Reason, tt.wantReason) {
				t.Errorf("reason = %q, want it to mention %q", bad.Reason, tt.wantReason)
			}
		})
	}
}

func TestResultsAreAppendOnlyInSQL(t *testing.T) {
	path := ledgerPath(t)
	db := openAt(t, path)
	run := beginRun(t, db)
	appendN(t, db, run.ID, 0, 1)
	raw := rawSQL(t, path)
	for _, q := range []string{`UPDATE results SET detail = 'x'`, `DELETE FROM results`} {
		if _, err := raw.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only trigger to refuse", q, err)
		}
	}
}

func TestVerifyDetectsRelabelledRow(t *testing.T) {
	ctx := context.Background()
	path := ledgerPath(t)
	db := openAt(t, path)
	run := beginRun(t, db)
	appendN(t, db, run.ID, 0, 3)
	finishRun(t, db, run.ID)
	// A second, unfinished run appends rows; then someone moves one into
	// the finished run.
	run2 := beginRun(t, db)
	appendN(t, db, run2.ID, 10, 2)
	raw := rawSQL(t, path)
	mustExec(t, raw, `DROP TRIGGER results_no_update`)
	mustExec(t, raw, `UPDATE results SET run_id = ? WHERE seq = 5`, run.ID)

	rep, err := db.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || rep.FirstBad == nil || rep.FirstBad.Seq != 5 {
		t.Fatalf("Verify = %+v, first bad %+v; want row 5 bad", rep, rep.FirstBad)
	}
}

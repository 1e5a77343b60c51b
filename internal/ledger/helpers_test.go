package ledger_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock returns a fake clock that advances one second per call.
func clock() func() time.Time {
	now := t0
	return func() time.Time {
		now = now.Add(time.Second)
		return now
	}
}

func ledgerPath(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(tb.TempDir(), "ledger.db")
}

func openAt(tb testing.TB, path string) *ledger.DB {
	tb.Helper()
	db, err := ledger.Open(context.Background(), path, ledger.WithClock(clock()))
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func newDB(tb testing.TB) *ledger.DB {
	tb.Helper()
	return openAt(tb, ledgerPath(tb))
}

func beginRun(tb testing.TB, db *ledger.DB) ledger.Run {
	tb.Helper()
	r, err := db.BeginRun(context.Background(), ledger.RunMeta{
		Repo: "/srv/aicr", Ref: "main", Commit: "c0ffee", AsOf: t0, TrustRoot: "sha256:" + fmt.Sprintf("%064x", 1),
		VerifierVersion: "test", Deep: true,
	})
	if err != nil {
		tb.Fatalf("BeginRun: %v", err)
	}
	return r
}

func finishRun(tb testing.TB, db *ledger.DB, id int64) ledger.Run {
	tb.Helper()
	r, err := db.FinishRun(context.Background(), id, true, time.Time{})
	if err != nil {
		tb.Fatalf("FinishRun(%d): %v", id, err)
	}
	return r
}

// result returns a fully populated result for pointer i.
func result(i int) audit.Result {
	return audit.Result{
		Key:              audit.VersionKey{Path: fmt.Sprintf("recipes/evidence/r%d/src/sha256-%064x.yaml", i, i), AddedCommit: fmt.Sprintf("%040x", i)},
		Recipe:           fmt.Sprintf("r%d", i),
		Verdict:          audit.Verified,
		Detail:           fmt.Sprintf("bundle %d verified", i),
		Hint:             "",
		VerifiedVia:      audit.ViaOCI,
		BundleDigest:     fmt.Sprintf("sha256:%064x", i),
		RekorLogIndex:    int64(1000 + i),
		AttestedAt:       t0.Add(-time.Duration(i) * time.Hour),
		AttestedAtSource: audit.TimeSigned,
		Age:              audit.AgeFresh,
		Phases: map[string]audit.PhaseCounts{
			"deployment":  {Passed: 3},
			"conformance": {Passed: 10, Failed: 0, Skipped: 1},
		},
		Checks: []audit.Check{
			{Name: "signature", Status: audit.CheckPass},
			{Name: "inventory", Status: audit.CheckPass, Detail: "6 files"},
		},
		Deep:      true,
		CheckedAt: t0.Add(time.Duration(i) * time.Millisecond),
	}
}

func appendN(tb testing.TB, db *ledger.DB, runID int64, from, n int) {
	tb.Helper()
	for i := from; i < from+n; i++ {
		if _, err := db.AppendResult(context.Background(), runID, result(i)); err != nil {
			tb.Fatalf("AppendResult(%d): %v", i, err)
		}
	}
}

// rawSQL opens the ledger file with a separate database/sql handle, as an
// operator (or an attacker) with the file would.
func rawSQL(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatalf("sql.Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func mustExec(tb testing.TB, db *sql.DB, q string, args ...any) {
	tb.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		tb.Fatalf("exec %q: %v", q, err)
	}
}

package main_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// smallLedger writes a ledger with one finished run of n verified results.
func smallLedger(t *testing.T, n int) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	db, err := ledger.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	run, err := db.BeginRun(ctx, ledger.RunMeta{Repo: "/r", Ref: "main", Commit: strings.Repeat("a", 40), AsOf: at})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		r := audit.Result{
			Key:     audit.VersionKey{Path: fmt.Sprintf("recipes/evidence/r%d.yaml", i), AddedCommit: strings.Repeat("b", 40)},
			Recipe:  fmt.Sprintf("r%d", i),
			Verdict: audit.Verified, Detail: "verified", VerifiedVia: audit.ViaOCI, RekorLogIndex: int64(i),
			AttestedAt: at, AttestedAtSource: audit.TimeSigned, Age: audit.AgeFresh, CheckedAt: at,
		}
		if _, err := db.AppendResult(ctx, run.ID, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.FinishRun(ctx, run.ID, true, at); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLedgerVerifyExitCodes(t *testing.T) {
	path := smallLedger(t, 5)
	ok := run(t, nil, "ledger", "verify", "--ledger", path)
	if ok.code != 0 || !strings.Contains(ok.stdout, "OK, 5 result rows") {
		t.Fatalf("intact ledger: exit %d, stdout %q, stderr %q", ok.code, ok.stdout, ok.stderr)
	}

	// Tamper with row 3 behind the ledger's back (triggers refuse UPDATE).
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP TRIGGER IF EXISTS results_no_update`,
		`UPDATE results SET detail = 'looks fine' WHERE seq = 3`,
	} {
		if _, err := raw.Exec(q); err != nil {
			raw.Close()
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()
	broken := run(t, nil, "ledger", "verify", "--ledger", path)
	if broken.code != 3 || !strings.Contains(broken.stdout, "BROKEN at result row seq=3") {
		t.Errorf("edited ledger: exit %d, stdout %q; want 3 naming seq=3", broken.code, broken.stdout)
	}

	missing := run(t, nil, "ledger", "verify", "--ledger", filepath.Join(t.TempDir(), "none.db"))
	if missing.code != 1 {
		t.Errorf("missing ledger: exit %d, want 1 (stderr %q)", missing.code, missing.stderr)
	}

	export := run(t, nil, "ledger", "export", "--ledger", path)
	if export.code != 0 || strings.Count(export.stdout, `"type":"result"`) != 5 {
		t.Errorf("export: exit %d, %d result lines", export.code, strings.Count(export.stdout, `"type":"result"`))
	}
}

func TestIssuesSyncWithoutLedger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.db")
	r := run(t, []string{"EVIDENCE_AUDITD_LEDGER_PATH=" + path}, "issues", "sync", "--dry-run")
	if r.code != 1 || !strings.Contains(r.stderr, "run `evidence-auditd run` first") {
		t.Errorf("issues sync without a ledger: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("issues sync created an empty ledger")
	}
}

package main_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/report/reporttest"
)

// reportLedger writes the report fixture (two complete runs) into a new
// ledger file and, with unfinished, a third run killed midway.
func reportLedger(t *testing.T, unfinished bool) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	db, err := ledger.Open(ctx, path, ledger.WithClock(reporttest.Clock()))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := reporttest.Build(ctx, db); err != nil {
		t.Fatal(err)
	}
	if unfinished {
		if _, err := reporttest.AddUnfinishedRun(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestReportNoRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.db")
	db, err := ledger.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	r := run(t, nil, "report", "--ledger", path)
	if r.code != 1 || !strings.Contains(r.stderr, "no runs") || r.stdout != "" {
		t.Errorf("empty ledger: exit %d, stdout %q, stderr %q; want 1 saying there are no runs", r.code, r.stdout, r.stderr)
	}
}

func TestReportMissingLedger(t *testing.T) {
	r := run(t, nil, "report", "--ledger", filepath.Join(t.TempDir(), "nope.db"))
	if r.code != 1 || !strings.Contains(r.stderr, "no ledger there") {
		t.Errorf("missing ledger: exit %d, stderr %q; want 1", r.code, r.stderr)
	}
}

func TestReportUsageErrors(t *testing.T) {
	path := reportLedger(t, false)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown run id", []string{"--run", "99"}, "no such run: 99 (the ledger holds runs 1 to 2)"},
		{"bad run id", []string{"--run", "seven"}, "--run \"seven\""},
		{"zero run id", []string{"--run", "0"}, "positive integer"},
		{"bad format", []string{"--format", "pdf"}, "--format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, append([]string{"report", "--ledger", path}, tt.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 mentioning %q", r.code, r.stdout, r.stderr, tt.want)
			}
		})
	}
}

func TestReportLatestSkipsIncompleteRun(t *testing.T) {
	path := reportLedger(t, true)
	r := run(t, nil, "report", "--ledger", path, "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "run 3 is unfinished") || !strings.Contains(r.stderr, "--run 3") {
		t.Errorf("stderr %q does not say run 3 was skipped", r.stderr)
	}
	var doc struct {
		Run struct {
			ID       int64 `json:"id"`
			Complete bool  `json:"complete"`
		} `json:"run"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not the JSON document alone: %v\n%s", err, r.stdout)
	}
	if doc.Run.ID != 2 || !doc.Run.Complete {
		t.Errorf("latest rendered run %d (complete %v), want complete run 2", doc.Run.ID, doc.Run.Complete)
	}

	// Asked for by id, the killed run renders, clearly marked.
	r = run(t, nil, "report", "--ledger", path, "--run", "3")
	if r.code != 0 || !strings.Contains(r.stdout, "**Incomplete run.**") || !strings.Contains(r.stderr, "unfinished") {
		t.Errorf("--run 3: exit %d, stderr %q, stdout starts %.200q", r.code, r.stderr, r.stdout)
	}
}

func TestReportOutputFile(t *testing.T) {
	path := reportLedger(t, false)
	for _, f := range []string{"markdown", "json", "csv", "html"} {
		t.Run(f, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "snapshot."+f)
			r := run(t, nil, "report", "--ledger", path, "--format", f, "-o", out)
			if r.code != 0 || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and nothing on stdout", r.code, r.stdout, r.stderr)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			// The same document as on stdout.
			r2 := run(t, nil, "report", "--ledger", path, "--format", f)
			if r2.code != 0 || r2.stdout != string(data) {
				t.Errorf("-o %s differs from stdout (exit %d)", f, r2.code)
			}
			if len(data) == 0 {
				t.Error("empty report")
			}
		})
	}
}

func TestReportFromConfig(t *testing.T) {
	path := reportLedger(t, false)
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfg, []byte("ledger:\n  path: "+path+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "report", "-c", cfg, "--format", "csv")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "runId,asOf,path,") {
		t.Errorf("exit %d, stderr %q, stdout starts %.80q", r.code, r.stderr, r.stdout)
	}
	if lines := strings.Count(r.stdout, "\r\n"); lines != 20 {
		t.Errorf("csv has %d lines, want a header and 19 pointers", lines)
	}
}

// TestReportOfATamperedLedger: the report verifies the chain it renders
// from; an edited row makes every format say so, stderr say so, and the
// exit code 3, and the head is not presented as sound (SPEC §6).
func TestReportOfATamperedLedger(t *testing.T) {
	path := reportLedger(t, false)
	good := run(t, nil, "report", "--ledger", path, "--format", "json")
	if good.code != 0 || !strings.Contains(good.stdout, `"ledgerVerified": true`) {
		t.Fatalf("intact ledger: exit %d, stderr %q", good.code, good.stderr)
	}
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER IF EXISTS results_no_update`, `UPDATE results SET detail = 'all good' WHERE seq = 2`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()
	for format, want := range map[string]string{
		"json":     `"ledgerVerified": false`,
		"markdown": "Do not rely on this report",
		"html":     `id="ledger-broken"`,
		"csv":      ",false,", // ledgerVerified, before the archive columns
	} {
		r := run(t, nil, "report", "--ledger", path, "--format", format)
		if r.code != 3 {
			t.Errorf("%s: exit %d, want 3 (stderr %q)", format, r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, want) {
			t.Errorf("%s: the document does not say the ledger is broken (want %q)", format, want)
		}
		if !strings.Contains(r.stderr, "seq=2") {
			t.Errorf("%s: stderr %q does not name the broken row", format, r.stderr)
		}
	}
	js := run(t, nil, "report", "--ledger", path, "--format", "json")
	var doc struct {
		Run struct {
			LedgerHead *string `json:"ledgerHead"`
		} `json:"run"`
	}
	if err := json.Unmarshal([]byte(js.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Run.LedgerHead != nil {
		t.Errorf("ledgerHead = %q for a broken chain, want null", *doc.Run.LedgerHead)
	}
}

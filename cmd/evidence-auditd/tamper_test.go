package main_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/anchor"
	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// tamperSQL edits the ledger file as an attacker with write access would:
// the append-only triggers dropped first.
func tamperSQL(path string, queries ...string) error {
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1) // one connection: temporary tables live in it
	for _, q := range append([]string{
		"DROP TRIGGER IF EXISTS results_no_update", "DROP TRIGGER IF EXISTS results_no_delete",
		"DROP TRIGGER IF EXISTS run_seals_no_update", "DROP TRIGGER IF EXISTS run_seals_no_delete",
		"DROP TRIGGER IF EXISTS anchors_no_update", "DROP TRIGGER IF EXISTS anchors_no_delete",
	}, queries...) {
		if _, err := raw.Exec(q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// rehash recomputes every hash and seal with the ledger's own algorithms
// and re-creates the triggers.
func rehash(ctx context.Context, path string) error { return ledger.RehashUnsafe(ctx, path) }

// deleteRun removes run id whole, with everything that names it.
func deleteRun(id int) []string {
	var q []string
	for _, t := range []string{"results", "run_recipes", "run_inputs", "checkpoints", "run_seals", "anchors", "issue_ops"} {
		q = append(q, fmt.Sprintf("DELETE FROM %s WHERE run_id = %d", t, id))
	}
	return append(q, fmt.Sprintf("DELETE FROM runs WHERE id = %d", id))
}

// swapRuns exchanges what runs a and b recorded: their results (and the
// recipe statuses and inputs derived from them).
func swapRuns(a, b int) []string {
	var q []string
	for _, t := range []string{"results", "run_recipes", "run_inputs"} {
		q = append(q,
			fmt.Sprintf("UPDATE %s SET run_id = -1 WHERE run_id = %d", t, a),
			fmt.Sprintf("UPDATE %s SET run_id = %d WHERE run_id = %d", t, a, b),
			fmt.Sprintf("UPDATE %s SET run_id = %d WHERE run_id = -1", t, b))
	}
	return q
}

// TestTamperMatrix applies every attack of issue 14 to a copy of a real
// ledger — four runs of evidence-auditd (audit, what-if, audit, audit) over
// a sandbox world, anchored with a key — each time with the hashes and seals
// recomputed by the ledger's own code, and requires `ledger verify` to exit
// 3 naming the damaged run. The ledger alone verifies after each rewrite
// (checked): only the anchors show it.
func TestTamperMatrix(t *testing.T) {
	w, _ := smallWorld(t)
	priv, _ := writeKeyPair(t, w.Dir(), "ed25519")
	addAnchorConfig(t, w, "key: "+priv)
	for _, args := range [][]string{{}, {"--as-of", "2030-01-01T00:00:00Z"}, {}, {"--deep"}} {
		r := run(t, nil, append([]string{"run", "-c", w.ConfigPath()}, args...)...)
		if r.code != 0 && r.code != 3 {
			t.Fatalf("run %v: exit %d\n%s", args, r.code, r.stderr)
		}
	}
	if v := run(t, nil, "ledger", "verify", "-c", w.ConfigPath()); v.code != 0 || !strings.Contains(v.stdout, "4 runs anchored") {
		t.Fatalf("pristine ledger: exit %d\n%s", v.code, v.stdout)
	}
	cfgText, err := os.ReadFile(w.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}

	attacks := []struct {
		name    string
		queries []string
		run     int
		// ledgerSees: the ledger's own checks see this one (a gap in the
		// run ids); every other rewrite is consistent.
		ledgerSees bool
	}{
		{"delete a row, renumber and rehash the rest", []string{`DELETE FROM results WHERE seq = (SELECT min(seq) FROM results WHERE run_id = 3)`}, 3, false},
		{"swap two rows and rehash", []string{
			`CREATE TEMP TABLE s AS SELECT min(seq) AS a, max(seq) AS b FROM results WHERE run_id = 3`,
			`UPDATE results SET seq = -seq WHERE seq IN (SELECT a FROM s UNION SELECT b FROM s)`,
			`UPDATE results SET seq = (SELECT b FROM s) WHERE seq = -(SELECT a FROM s)`,
			`UPDATE results SET seq = (SELECT a FROM s) WHERE seq = -(SELECT b FROM s)`,
		}, 3, false},
		{"swap whole runs and rehash", swapRuns(3, 4), 3, false},
		{"consistent rewrite fixing the runs' recorded heads", []string{
			`UPDATE results SET verdict = 'invalid', class = 'signature', detail = 'forged' WHERE seq = 1`}, 1, false},
		{"edit and rehash the last row", []string{`UPDATE results SET detail = 'all good' WHERE seq = (SELECT max(seq) FROM results)`}, 4, false},
		{"delete the whole last run", deleteRun(4), 4, false},
		{"delete a whole middle run (run ids 1, 2, 4)", deleteRun(3), 3, true},
		{"delete a middle run and renumber the runs after it", append(deleteRun(3),
			`UPDATE runs SET id = 3 WHERE id = 4`, `UPDATE results SET run_id = 3 WHERE run_id = 4`, `UPDATE run_recipes SET run_id = 3 WHERE run_id = 4`,
			`UPDATE run_inputs SET run_id = 3 WHERE run_id = 4`, `UPDATE run_seals SET run_id = 3 WHERE run_id = 4`, `UPDATE anchors SET run_id = 3 WHERE run_id = 4`), 3, false},
		{"runs table: a what-if run made an audit", []string{`UPDATE runs SET kind = 'audit' WHERE id = 2`}, 2, false},
		{"runs table: an as-of moved", []string{`UPDATE runs SET as_of = '2024-01-01T00:00:00.000000000Z' WHERE id = 3`}, 3, false},
		{"recipe statuses", []string{`UPDATE run_recipes SET needs_recert = 1 - needs_recert, reason = 'expired' WHERE run_id = 3`}, 3, false},
		{"run inputs", []string{`UPDATE run_inputs SET allowlist = CAST('schemaVersion: 1.0.0' AS BLOB) WHERE run_id = 1`}, 1, false},
		{"pointer versions: content", []string{`UPDATE pointer_versions SET content = CAST(replace(CAST(content AS TEXT), 'sha256:', 'sha256:0') AS BLOB) WHERE id = 1`}, 1, false},
		{"pointer versions: removal marks", []string{`UPDATE pointer_versions SET removed_commit = 'deadbeef', removed_at = '2026-01-01T00:00:00.000000000Z' WHERE id = 2`}, 4, false},
		{"bundle cache: statement", []string{`UPDATE bundles SET statement = CAST('{}' AS BLOB) WHERE rowid = 1`}, 1, false},
		{"bundle cache: verification", []string{`UPDATE bundle_verifications SET trust_root = 'sha256:` + strings.Repeat("0", 64) + `' WHERE id = 1`}, 1, false},
		{"the ledger's anchor copies rewritten too", []string{`UPDATE results SET detail = 'forged' WHERE seq = (SELECT max(seq) FROM results WHERE run_id = 2)`,
			`DELETE FROM anchors WHERE run_id >= 2`}, 2, false},
	}
	for _, tt := range attacks {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			copyFile(t, ledgerPath(w), filepath.Join(dir, "evidence-auditd.db"), 0o644)
			copyDir(t, ledgerPath(w)+".anchors", filepath.Join(dir, "evidence-auditd.db.anchors"))
			if err := os.WriteFile(filepath.Join(dir, "evidence-auditd.yaml"), cfgText, 0o644); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "evidence-auditd.db")
			if err := tamperSQL(path, tt.queries...); err != nil {
				t.Fatal(err)
			}
			if err := rehash(context.Background(), path); err != nil {
				t.Fatal(err)
			}
			db, err := ledger.OpenReadOnly(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			lrep, err := db.Verify(context.Background())
			db.Close()
			if err != nil || lrep.OK == tt.ledgerSees {
				t.Fatalf("the ledger alone sees the rewrite: %v (%+v), want %v", !lrep.OK, lrep.FirstBad, tt.ledgerSees)
			}
			v := run(t, nil, "ledger", "verify", "-c", filepath.Join(dir, "evidence-auditd.yaml"))
			named := regexp.MustCompile(fmt.Sprintf(`BROKEN at (run %d |result row seq=\d+ \(run %d[,)])`, tt.run, tt.run))
			if v.code != 3 || !named.MatchString(v.stdout) {
				t.Errorf("ledger verify: exit %d, want 3 naming run %d\n%s%s", v.code, tt.run, v.stdout, v.stderr)
			}
			t.Log(strings.SplitN(v.stdout, "\n", 2)[0])
		})
	}

	// Rows forged into a run that was killed: the next run refuses to
	// resume it, and ledger verify names it, also after another run closed
	// it.
	t.Run("forge rows into an unfinished run", func(t *testing.T) {
		ctx := context.Background()
		forgeIntoKilledRun(ctx, t, w)
		r := run(t, nil, "run", "-c", w.ConfigPath())
		if r.code != 1 || !strings.Contains(r.stderr, "run 5 cannot be resumed") || !strings.Contains(r.stderr, "were not written by the auditor") {
			t.Fatalf("run after forged rows: exit %d, want 1 refusing to resume run 5\n%s", r.code, r.stderr)
		}
		v := run(t, nil, "ledger", "verify", "-c", w.ConfigPath())
		if v.code != 3 || !strings.Contains(v.stdout, "BROKEN at run 5 (progress mark)") {
			t.Fatalf("ledger verify: exit %d\n%s", v.code, v.stdout)
		}
		// A run that does not resume it closes it — and seals the forged
		// rows — but does not launder them.
		if d := run(t, nil, "run", "-c", w.ConfigPath(), "--deep"); d.code != 0 && d.code != 3 {
			t.Fatalf("deep run: exit %d\n%s", d.code, d.stderr)
		}
		v = run(t, nil, "ledger", "verify", "-c", w.ConfigPath())
		if v.code != 3 || !strings.Contains(v.stdout, "BROKEN at run 5 (progress mark)") {
			t.Fatalf("ledger verify after run 5 was closed: exit %d\n%s", v.code, v.stdout)
		}
	})
}

// forgeIntoKilledRun leaves run 5 as a killed `run` of w would — begun
// with the meta the next plain run resumes, one commit written through the
// auditor's progress hook — and then appends a forged row with the
// ledger's own code, as an attacker would.
func forgeIntoKilledRun(ctx context.Context, t *testing.T, w interface{ ConfigPath() string }) {
	t.Helper()
	cfg, err := config.Load(w.ConfigPath(), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Finalize(); err != nil {
		t.Fatal(err)
	}
	an, err := anchor.FromConfig(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	db, err := ledger.Open(ctx, cfg.Ledger.Path, ledger.WithAppendHook(an.Hook))
	if err != nil {
		t.Fatal(err)
	}
	if err := an.Bind(ctx, db); err != nil {
		t.Fatal(err)
	}
	last, err := db.Run(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	meta := last.RunMeta
	meta.Deep, meta.Options, meta.Kind, meta.AsOf, meta.StartedAt = false, `{"deep":false}`, ledger.KindAudit, time.Now().UTC(), time.Time{}
	killed, err := db.BeginRun(ctx, meta)
	if err != nil {
		t.Fatal(err)
	}
	results, err := db.Results(ctx, 4)
	if err != nil || len(results) < 2 {
		t.Fatalf("run 4 results: %d, %v", len(results), err)
	}
	if _, err := db.AppendResults(ctx, killed.ID, results[:1]); err != nil {
		t.Fatal(err)
	}
	db.Close()

	forger, err := ledger.Open(ctx, cfg.Ledger.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer forger.Close()
	forged := results[1]
	forged.Detail = "forged: verified"
	if _, err := forger.AppendResults(ctx, killed.ID, []audit.Result{forged}); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies the regular files of from into to.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		in, err := os.Open(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(to, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(out, in)
		in.Close()
		out.Close()
	}
}

package main_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/gitrepo"
)

// smallWorld is three recipes of healthy evidence, one of them 22 months
// old (expired by 2030, fresh today).
func smallWorld(t *testing.T) (*sandbox.World, *sandbox.Built) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	ok := sandbox.Expectation{Verdict: sandbox.Verified, Age: sandbox.AgeFresh}
	return startWorld(t, nil, []sandbox.Case{
		{Name: "a", Recipe: "h100-eks-ubuntu-training", Signer: sandbox.SignerNVIDIA, SignedAt: now.AddDate(0, -1, 0), Expect: ok},
		{Name: "b", Recipe: "gb200-eks-ubuntu-training", Signer: sandbox.SignerPartner, SignedAt: now.AddDate(0, -2, 0), Expect: ok},
		{Name: "c", Recipe: "a100-gke-cos-inference", Signer: sandbox.SignerLab, SignedAt: now.AddDate(0, -22, 0), Expect: ok},
	})
}

func issueFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	out := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

func reportJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	r := run(t, nil, append([]string{"report", "--format", "json"}, args...)...)
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("report %v: exit %d, %v\n%s", args, r.code, err, r.stderr)
	}
	return doc
}

// TestWhatIfRunsStayHypothetical: `run --as-of` plans but sends no issue,
// is recorded as kind what-if, is never `latest` nor a baseline, and a
// plain run never resumes one (SPEC §4).
func TestWhatIfRunsStayHypothetical(t *testing.T) {
	w, _ := smallWorld(t)
	issuesDir := filepath.Join(w.Dir(), "issues")

	if r := run(t, nil, "run", "-c", w.ConfigPath()); r.code != 0 {
		t.Fatalf("plain run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	before := issueFiles(t, issuesDir)

	future := run(t, nil, "run", "-c", w.ConfigPath(), "--as-of", "2030-01-01T00:00:00Z")
	if future.code != 3 || !strings.Contains(future.stdout, "what-if") || !strings.Contains(future.stdout, "planned") {
		t.Fatalf("what-if run: exit %d, want 3 (everything expired by 2030) and a summary saying what-if\n%s", future.code, future.stdout)
	}
	past := run(t, nil, "run", "-c", w.ConfigPath(), "--as-of", "1999-01-01T00:00:00Z")
	if past.code != 0 {
		t.Fatalf("what-if run in 1999: exit %d\n%s", past.code, past.stderr)
	}
	if after := issueFiles(t, issuesDir); !equalMaps(before, after) {
		t.Errorf("what-if runs changed the issue files:\nbefore %v\nafter  %v", keys(before), keys(after))
	}

	latest := reportJSON(t, "-c", w.ConfigPath())
	if id := latest["run"].(map[string]any)["id"]; id != float64(1) {
		t.Errorf("report --run latest rendered run %v, want the audit run 1", id)
	}
	two := reportJSON(t, "-c", w.ConfigPath(), "--run", "2")
	if kind := two["run"].(map[string]any)["kind"]; kind != "what-if" {
		t.Errorf("run 2 kind = %v, want what-if", kind)
	}

	// A what-if run killed midway is not resumed by a plain run.
	ctx := context.Background()
	db, err := ledger.Open(ctx, ledgerPath(w))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	one, err := db.Run(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	meta := one.RunMeta
	meta.Kind, meta.AsOf, meta.StartedAt = ledger.KindWhatIf, time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}
	killed, err := db.BeginRun(ctx, meta)
	if err != nil {
		t.Fatal(err)
	}
	plain := run(t, nil, "run", "-c", w.ConfigPath())
	if plain.code != 0 || strings.Contains(plain.stdout, "resumed") {
		t.Fatalf("plain run after a killed what-if: exit %d\n%s", plain.code, plain.stdout)
	}
	next := reportJSON(t, "-c", w.ConfigPath())
	runInfo := next["run"].(map[string]any)
	if runInfo["id"] != float64(killed.ID+1) || runInfo["kind"] != "audit" {
		t.Errorf("latest after the plain run = run %v (%v), want a new audit run %d", runInfo["id"], runInfo["kind"], killed.ID+1)
	}
	if next["previousRun"] != float64(1) {
		t.Errorf("the plain run's baseline is run %v, want the audit run 1 (not a what-if run)", next["previousRun"])
	}
	if got, err := db.Run(ctx, killed.ID); err != nil || !got.Finished || got.Complete {
		t.Errorf("the killed what-if run: finished %v complete %v (%v), want closed incomplete", got.Finished, got.Complete, err)
	}
}

// TestCoverageGuards: a mistyped evidence directory, a repository without
// one, and --only naming no recipe never produce a clean run (SPEC §4).
func TestCoverageGuards(t *testing.T) {
	w, _ := smallWorld(t)
	if r := run(t, nil, "run", "-c", w.ConfigPath()); r.code != 0 {
		t.Fatalf("plain run: exit %d\n%s", r.code, r.stderr)
	}
	typo := run(t, []string{"EVIDENCE_AUDITD_REPO_EVIDENCE_DIR=recipes/evidense"}, "run", "-c", w.ConfigPath())
	if typo.code != 1 || !strings.Contains(typo.stderr, "recipes/evidense") || !strings.Contains(typo.stderr, "does not exist") {
		t.Errorf("mistyped evidence dir: exit %d, stderr %q; want 1 naming it", typo.code, typo.stderr)
	}
	only := run(t, nil, "run", "-c", w.ConfigPath(), "--only", "no-such-recipe")
	if only.code != 2 || !strings.Contains(only.stderr, "no-such-recipe") || !strings.Contains(only.stderr, "h100-eks-ubuntu-training") {
		t.Errorf("--only unknown: exit %d, stderr %q; want 2 naming it and the known recipes", only.code, only.stderr)
	}
	if latest := reportJSON(t, "-c", w.ConfigPath()); latest["run"].(map[string]any)["id"] != float64(1) {
		t.Errorf("a refused run became latest: %v", latest["run"])
	}

	// A repository that never had the directory.
	empty := filepath.Join(t.TempDir(), "aicr")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	generateEmptyRepo(t, empty)
	none := run(t, []string{"EVIDENCE_AUDITD_TRUST_TRUSTED_ROOT=" + offlineTrustedRoot(t),
		"EVIDENCE_AUDITD_LEDGER_PATH=" + filepath.Join(t.TempDir(), "l.db")}, "run", "--repo", empty)
	if none.code != 1 || !strings.Contains(none.stderr, "never held a pointer") {
		t.Errorf("repository without an evidence dir: exit %d, stderr %q", none.code, none.stderr)
	}
}

// TestDegradedRunIsNoBaseline: a run whose registry is unreachable for
// every pointer is recorded, but says so first, in the summary and the
// report, and the next run's changes compare with the healthy run before
// it (SPEC §4).
func TestDegradedRunIsNoBaseline(t *testing.T) {
	w, _ := smallWorld(t)
	if r := run(t, nil, "run", "-c", w.ConfigPath()); r.code != 0 {
		t.Fatalf("plain run: exit %d\n%s", r.code, r.stderr)
	}
	if err := w.Registry().Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	down := run(t, nil, "run", "-c", w.ConfigPath(), "--deep")
	if down.code != 0 || !strings.Contains(down.stdout, "DEGRADED") {
		t.Fatalf("run with the registry down: exit %d, want 0 (no-verdict is not a finding) and DEGRADED\n%s\n%s", down.code, down.stdout, down.stderr)
	}
	md := run(t, nil, "report", "-c", w.ConfigPath(), "--run", "2")
	first := md.stdout[:strings.Index(md.stdout, "## ")]
	if !strings.Contains(first, "Degraded run") {
		t.Errorf("the report of the degraded run does not say so before its sections:\n%s", first)
	}
	third := run(t, nil, "run", "-c", w.ConfigPath(), "--deep")
	if third.code != 0 {
		t.Fatalf("third run: exit %d", third.code)
	}
	doc := reportJSON(t, "-c", w.ConfigPath(), "--run", "3")
	if doc["previousRun"] != float64(1) || doc["run"].(map[string]any)["degraded"] != true {
		t.Errorf("run 3 (also degraded) compares with run %v, want 1; degraded = %v", doc["previousRun"], doc["run"].(map[string]any)["degraded"])
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// generateEmptyRepo makes a repository with one commit and no evidence
// directory.
func generateEmptyRepo(t *testing.T, dir string) {
	t.Helper()
	b, err := gitrepo.Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Commit(gitrepo.DefaultBranch, gitrepo.Change{
		Message: "initial", Author: gitrepo.Signature{When: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		Write: map[string][]byte{"README.md": []byte("# not AICR\n")},
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

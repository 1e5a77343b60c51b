package main_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/daemon"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/report/reporttest"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/gitrepo"
)

// demoWorld is a world of the demo catalogue, a fresh certificate per
// signature as Fulcio issues them.
func demoWorld(t *testing.T, now time.Time) (*sandbox.World, *sandbox.Built) {
	t.Helper()
	return startWorld(t, nil, sandbox.DemoCases(now))
}

// runResults reads the results of one run from the world's ledger.
func runResults(t *testing.T, w *sandbox.World, runID int64) map[audit.VersionKey]audit.Result {
	t.Helper()
	rs, err := openWorldLedger(t, w).Results(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[audit.VersionKey]audit.Result{}
	for _, r := range rs {
		out[r.Key] = r
	}
	return out
}

func label(verdict, class string) string {
	if class == "" {
		return verdict
	}
	return verdict + "/" + class
}

// checkExpectations asserts that every scenario reached the verdict, class
// and age it was built for, except the cases skip names.
func checkExpectations(t *testing.T, built *sandbox.Built, got map[audit.VersionKey]audit.Result, skip map[string]bool) {
	t.Helper()
	if len(got) != len(built.Pointers) {
		t.Errorf("run recorded %d results, want one per pointer version (%d)", len(got), len(built.Pointers))
	}
	for _, p := range built.Pointers {
		if skip[p.Case.Name] {
			continue
		}
		r, ok := got[audit.VersionKey{Path: p.Path, AddedCommit: p.MergeCommit}]
		if !ok {
			t.Errorf("%s: no result", p.Case.Name)
			continue
		}
		want := label(p.Case.Expect.Verdict, p.Case.Expect.Class)
		if have := label(string(r.Verdict), string(r.Class)); have != want {
			t.Errorf("%s: %s, want %s (%s)", p.Case.Name, have, want, r.Detail)
		}
		if p.Case.Expect.Age != "" && string(r.Age) != p.Case.Expect.Age {
			t.Errorf("%s: age %s, want %s", p.Case.Name, r.Age, p.Case.Expect.Age)
		}
		if w := p.Case.Expect.Warn; w != "" && !r.Warned(w) {
			t.Errorf("%s: no %s warning among %+v", p.Case.Name, w, r.Checks)
		}
	}
}

// TestRunDemoWorld is issue 4's end-to-end acceptance: every scenario's
// verdict and class, exit code 3, a second run consistent with the first
// (through the fast path), and a flaky registry that recovers.
// TestDemoEveryScenarioMatches runs `demo`, the README's first set-up
// command: every scenario reaches the verdict (and the warning) it was
// built for, and the command exits 0.
func TestDemoEveryScenarioMatches(t *testing.T) {
	r := run(t, nil, "demo", "--dir", filepath.Join(t.TempDir(), "demo"))
	if r.code != 0 || strings.Contains(r.stdout, "MISMATCH") {
		t.Fatalf("demo: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	cases := sandbox.DemoCases(time.Now())
	if ok := strings.Count(r.stdout, "\n  ok  "); ok != len(cases) {
		t.Errorf("%d scenarios ok, want all %d:\n%s", ok, len(cases), r.stdout)
	}
}

func TestRunDemoWorld(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	w, built := demoWorld(t, now)

	first := run(t, nil, "run", "-c", w.ConfigPath())
	if first.code != 3 {
		t.Fatalf("first run: exit %d, want 3\nstdout:\n%s\nstderr:\n%s", first.code, first.stdout, first.stderr)
	}
	// Not a terminal: progress comes as structured lines, the last one
	// when every pointer is decided.
	if n := len(built.Pointers); !strings.Contains(first.stderr, fmt.Sprintf(`msg="audit progress" done=%d total=%d`, n, n)) {
		t.Errorf("no final progress line on stderr:\n%s", first.stderr)
	}
	r1 := runResults(t, w, 1)
	checkExpectations(t, built, r1, nil)
	for _, r := range r1 {
		if strings.Contains(r.Detail, "also: )") {
			t.Errorf("%s: a lone signature candidate's detail lists empty alternatives: %s", r.Key.Path, r.Detail)
		}
	}
	checkIssueFiles(t, w, 1)
	checkReportCounts(t, w.ConfigPath())

	second := run(t, nil, "run", "-c", w.ConfigPath())
	if second.code != 3 {
		t.Fatalf("second run: exit %d, want 3\n%s", second.code, second.stderr)
	}
	r2 := runResults(t, w, 2)
	checkExpectations(t, built, r2, nil)
	cached := 0
	for k, r := range r2 {
		if r.Verdict.Healthy() {
			if r.VerifiedVia != audit.ViaCache || r.Deep {
				t.Errorf("%s: second run verified via %s (deep %v), want the fast path", k.Path, r.VerifiedVia, r.Deep)
			}
			if !r.AttestedAt.Equal(r1[k].AttestedAt) {
				t.Errorf("%s: attestedAt changed between runs: %s → %s", k.Path, r1[k].AttestedAt, r.AttestedAt)
			}
			cached++
		}
	}
	if cached == 0 {
		t.Error("second run used the fast path for no pointer")
	}

	// The flaky registries recover: their pointers verify, nothing else moves.
	w.Registry().ClearFault(sandbox.RepoFlaky)
	w.Registry().ClearFault(sandbox.RepoBusy)
	third := run(t, nil, "run", "-c", w.ConfigPath(), "--deep")
	if third.code != 3 {
		t.Fatalf("third run: exit %d, want 3 (other findings remain)\n%s", third.code, third.stderr)
	}
	r3 := runResults(t, w, 3)
	flaky := map[string]bool{}
	for _, p := range built.Pointers {
		if p.Case.Expect.Verdict == string(audit.NoVerdict) {
			flaky[p.Case.Name] = true
			r := r3[audit.VersionKey{Path: p.Path, AddedCommit: p.MergeCommit}]
			if r.Verdict != audit.Verified {
				t.Errorf("%s after recovery: %s/%s, want verified (%s)", p.Case.Name, r.Verdict, r.Class, r.Detail)
			}
		}
	}
	if len(flaky) == 0 {
		t.Fatal("the demo catalogue has no flaky-registry case")
	}
	checkExpectations(t, built, r3, flaky)
}

// checkReportCounts renders the latest run's report in Markdown, HTML and
// JSON with the binary and reconciles every count (reporttest.CheckCounts).
func checkReportCounts(t *testing.T, config string) {
	t.Helper()
	docs := map[string][]byte{}
	for _, f := range []string{"markdown", "html", "json"} {
		r := run(t, nil, "report", "-c", config, "--format", f)
		if r.code != 0 {
			t.Fatalf("report --format %s: exit %d\n%s", f, r.code, r.stderr)
		}
		docs[f] = []byte(r.stdout)
	}
	for _, p := range reporttest.CheckCounts(docs["markdown"], docs["html"], docs["json"]) {
		t.Errorf("demo world report: %s", p)
	}
}

// TestRunWaitsForTheLock: one audit at a time per ledger, also between
// run and serve (SPEC §8): a run started while another process holds the
// audit lock says whom it waits for, waits, and audits once the lock is
// released.
func TestRunWaitsForTheLock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	repo := filepath.Join(dir, "aicr")
	malformed := gitrepo.PerSourcePath("h100-eks-ubuntu-training", actionsIssuer, workflowID, digestOf("x"))
	if _, err := gitrepo.Generate(repo, gitrepo.Scenario{Pointers: []gitrepo.PointerMerge{
		{Path: malformed, Content: []byte("schemaVersion: [\n"), MergedAt: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
	}}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ledger.db")
	db, err := ledger.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	held, err := (&daemon.Lock{Ledger: db, Clock: daemon.SystemClock{}, Holder: daemon.LocalHolder()}).TryAcquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "run", "--repo", repo, "--dry-run")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "EVIDENCE_AUDITD_LEDGER_PATH=" + path,
		"EVIDENCE_AUDITD_TRUST_TRUSTED_ROOT=" + offlineTrustedRoot(t)}
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	waiting := false
	for !waiting && sc.Scan() {
		waiting = strings.Contains(sc.Text(), "waiting for it")
	}
	if !waiting {
		cmd.Process.Kill()
		t.Fatal("run did not say it waits for the lock")
	}
	if got, _, _ := db.RunCounts(ctx, 1); got != 0 {
		t.Error("run audited while another process held the lock")
	}
	held.Release(ctx)
	var rest bytes.Buffer
	go io.Copy(&rest, stderr)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("run after the lock was released: %v, want exit 3 (the malformed pointer is a finding); stderr: %s", err, rest.String())
	}
	if n, _, err := db.RunCounts(ctx, 1); err != nil || n != 1 {
		t.Errorf("run 1 recorded %d results (%v), want 1", n, err)
	}
}

// checkIssueFiles: the file sink holds exactly one file per (recipe, kind)
// needing action after run runID (SPEC §7).
func checkIssueFiles(t *testing.T, w *sandbox.World, runID int64) {
	t.Helper()
	sts, err := openWorldLedger(t, w).RecipeStatuses(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, st := range sts {
		if st.NeedsRecert {
			want["recert-"+st.Recipe+".md"] = true
		}
		if len(st.Lost) > 0 {
			want["lost-"+st.Recipe+".md"] = true
		}
	}
	entries, err := os.ReadDir(filepath.Join(w.Dir(), "issues"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range entries {
		got[e.Name()] = true
		body, err := os.ReadFile(filepath.Join(w.Dir(), "issues", e.Name()))
		if err != nil || !strings.Contains(string(body), "<!-- evidence-auditd:kind=") {
			t.Errorf("%s: no marker (%v)", e.Name(), err)
		}
	}
	if len(want) == 0 {
		t.Fatal("the demo world needs no issue at all")
	}
	for f := range want {
		if !got[f] {
			t.Errorf("issue file %s missing", f)
		}
	}
	for f := range got {
		if !want[f] {
			t.Errorf("unexpected issue file %s", f)
		}
	}
}

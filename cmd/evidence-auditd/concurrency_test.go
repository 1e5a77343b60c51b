package main_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/issues/githubfake"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
)

// TestConcurrentIssueFilingFilesEachMarkerOnce: two `issues sync` and a
// `run` started together against one ledger and one GitHub file each
// marker exactly once (SPEC §7: issue filing happens under the audit
// lock), twenty times over.
func TestConcurrentIssueFilingFilesEachMarkerOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns 60 processes")
	}
	now := time.Now().UTC().Truncate(time.Second)
	expired := sandbox.Expectation{Verdict: sandbox.Verified, Age: sandbox.AgeExpired}
	var cases []sandbox.Case
	for i, r := range []string{"h100-eks-ubuntu-training", "gb200-eks-ubuntu-training", "a100-gke-cos-inference", "l40s-oke-ubuntu-inference"} {
		cases = append(cases, sandbox.Case{Name: r, Recipe: r, Signer: sandbox.SignerNVIDIA, SignedAt: now.AddDate(0, -25, -i), Expect: expired})
	}
	w, _ := startWorld(t, nil, cases)
	// A first, dry run records the audit; every iteration files its issues
	// from a copy of that ledger into a fresh tracker.
	if r := run(t, nil, "run", "-c", w.ConfigPath(), "--dry-run"); r.code != 3 {
		t.Fatalf("dry run: exit %d\n%s", r.code, r.stderr)
	}
	marker := regexp.MustCompile(`<!-- evidence-auditd:kind=\S+ recipe=\S+ -->`)
	for i := 0; i < 20; i++ {
		fake := githubfake.New("acme", "aicr", "ghp_concurrency")
		dir := t.TempDir()
		ledgerCopy := filepath.Join(dir, "ledger.db")
		copyFile(t, ledgerPath(w), ledgerCopy, 0o644)
		env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
			"EVIDENCE_AUDITD_LEDGER_PATH=" + ledgerCopy,
			"EVIDENCE_AUDITD_ISSUES_SINK=github",
			"EVIDENCE_AUDITD_ISSUES_GITHUB_OWNER=acme",
			"EVIDENCE_AUDITD_ISSUES_GITHUB_REPO=aicr",
			"EVIDENCE_AUDITD_ISSUES_GITHUB_API_URL=" + fake.URL,
			"EVIDENCE_AUDITD_GITHUB_TOKEN=ghp_concurrency",
		}
		var wg sync.WaitGroup
		outs := make([]string, 3)
		codes := make([]int, 3)
		for j, args := range [][]string{
			{"issues", "sync", "-c", w.ConfigPath()},
			{"issues", "sync", "-c", w.ConfigPath()},
			{"run", "-c", w.ConfigPath()},
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.Command(binary, args...)
				cmd.Env, cmd.Dir = env, dir
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				err := cmd.Run()
				codes[j] = cmd.ProcessState.ExitCode()
				outs[j] = fmt.Sprintf("%v: %v\n%s", args, err, out.String())
			}()
		}
		wg.Wait()
		// sync files the plan (exit 0); run audits expired evidence (3).
		if codes[0] != 0 || codes[1] != 0 || codes[2] != 3 {
			t.Fatalf("iteration %d: exit codes %v, want [0 0 3]\n%s", i, codes, outs)
		}
		seen := map[string]int{}
		for _, is := range fake.Issues() {
			seen[marker.FindString(is.Body)]++
		}
		fake.Close()
		if len(seen) != len(cases) {
			t.Errorf("iteration %d: %d distinct markers filed, want %d (one recert issue per recipe)\n%s", i, len(seen), len(cases), outs)
		}
		for m, n := range seen {
			if n != 1 || m == "" {
				t.Errorf("iteration %d: marker %q filed %d times\n%s", i, m, n, outs)
			}
		}
		if t.Failed() {
			return
		}
	}
}

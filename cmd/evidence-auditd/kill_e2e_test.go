//go:build e2e

package main_test

import (
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// TestE2EKillResume is issue 4's crash test: a run killed with SIGKILL
// halfway through 2 000 pointers, then restarted, ends with exactly one
// result per pointer for that run and a ledger that passes ledger verify.
func TestE2EKillResume(t *testing.T) {
	const n = 2000
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	w := scaleWorld(t, n, now)

	cmd := exec.Command(binary, "run", "-c", w.ConfigPath())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for recorded(w, 1) < n/2 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the run did not reach half way in 5 minutes")
		}
		time.Sleep(100 * time.Millisecond) // polling a child process, not waiting for time to pass
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	before := recorded(w, 1)
	if before >= n {
		t.Fatalf("the run finished (%d results) before it was killed", before)
	}
	t.Logf("killed after %d of %d results", before, n)

	if r := run(t, nil, "ledger", "verify", "-c", w.ConfigPath()); r.code != 0 {
		t.Fatalf("ledger verify after the kill: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := run(t, nil, "run", "-c", w.ConfigPath())
	if r.code != 0 {
		t.Fatalf("resumed run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "resumed an interrupted run") || !strings.Contains(r.stdout, "Run 1 (complete)") {
		t.Errorf("the restart did not resume run 1:\n%s", r.stdout)
	}

	db := openWorldLedger(t, w)
	results, err := db.Results(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[audit.VersionKey]int{}
	for _, res := range results {
		seen[res.Key]++
		if res.Verdict != audit.Verified {
			t.Errorf("%s: %s/%s, want verified", res.Key.Path, res.Verdict, res.Class)
		}
	}
	if len(results) != n || len(seen) != n {
		t.Errorf("run 1 holds %d results for %d pointers, want exactly %d each", len(results), len(seen), n)
	}
	run1, err := db.Run(ctx, 1)
	if err != nil || !run1.Complete {
		t.Errorf("run 1 = %+v, %v; want complete", run1, err)
	}
	if v := run(t, nil, "ledger", "verify", "-c", w.ConfigPath()); v.code != 0 {
		t.Errorf("ledger verify after the resumed run: exit %d\n%s", v.code, v.stdout)
	}
}

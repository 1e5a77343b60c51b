//go:build e2e

package main_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	sandboxregistry "github.com/evidence-auditd/evidence-auditd/internal/sandbox/registry"
)

// serveProc is a running `serve`.
type serveProc struct {
	cmd    *exec.Cmd
	base   string
	stderr *strings.Builder
	done   chan error
}

func startServe(t *testing.T, config, addr string, env ...string) *serveProc {
	t.Helper()
	p := &serveProc{base: "http://" + addr, stderr: &strings.Builder{}, done: make(chan error, 1)}
	p.cmd = exec.Command(binary, "serve", "-c", config, "--listen", addr, "--schedule", "@every 24h")
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	// Poll until /healthz answers (a child process starting, not time passing).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if code, _ := p.get(t, "/healthz"); code == 200 {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not answer /healthz:\n%s", p.stderr)
		}
	}
}

func (p *serveProc) get(t *testing.T, path string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(p.base + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// stop sends SIGTERM and returns the exit code and how long the exit took.
func (p *serveProc) stop(t *testing.T) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("serve did not exit after SIGTERM:\n%s", p.stderr)
	}
	return p.cmd.ProcessState.ExitCode(), time.Since(start)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestE2EServeSIGTERM is issue 8's shutdown test: SIGTERM to a real serve
// mid-audit exits 0 within the grace period, the run is recorded
// incomplete, the ledger verifies, and the next start completes the audit.
// /metrics, /healthz and /readyz are checked over HTTP on the way.
func TestE2EServeSIGTERM(t *testing.T) {
	const (
		n     = 1500
		grace = 6 * time.Second
	)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	w := scaleWorld(t, n, now)
	dbPath := ledgerPath(w)
	env := "EVIDENCE_AUDITD_SHUTDOWN_GRACE=" + grace.String()

	// First start: the empty ledger makes it catch up at once.
	p := startServe(t, w.ConfigPath(), freeAddr(t), env)
	for deadline := time.Now().Add(3 * time.Minute); recorded(w, 1) < 50; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the catch-up audit did not start:\n%s", p.stderr)
		}
	}
	if code, body := p.get(t, "/metrics"); code != 200 || !strings.Contains(body, "evidence_auditd_run_in_progress 1") {
		t.Errorf("/metrics mid-audit = %d, want run_in_progress 1:\n%.2000s", code, body)
	}
	if code, body := p.get(t, "/readyz"); code != 200 {
		t.Errorf("/readyz mid-audit = %d %s", code, body)
	}
	if code, _ := p.get(t, "/"); code != 404 {
		t.Errorf("GET / = %d, want 404", code)
	}
	code, took := p.stop(t)
	t.Logf("SIGTERM after %d results: exit %d in %v", recorded(w, 1), code, took)
	if code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0\n%s", code, p.stderr)
	}
	if took > grace+time.Second {
		t.Errorf("exit took %v, want within the %v grace period", took, grace)
	}
	// The drain stops new pointers at once, so the audit ends long before
	// the grace period would cancel it.
	if !strings.Contains(p.stderr.String(), "no new ones start") || strings.Contains(p.stderr.String(), "grace period over") {
		t.Errorf("the audit was not drained (stop new work, let in-flight finish):\n%s", p.stderr)
	}

	db, err := ledger.OpenReadOnly(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	run1, err := db.Run(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !run1.Finished || run1.Complete {
		t.Errorf("run 1 finished=%v complete=%v, want finished and incomplete", run1.Finished, run1.Complete)
	}
	res, err := db.Results(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	canceled := 0
	for _, r := range res {
		if r.Verdict == audit.NoVerdict && r.Class == audit.ClassCanceled {
			canceled++
		}
	}
	if len(res) != n || canceled == 0 {
		t.Errorf("run 1 holds %d results (%d canceled), want %d with some canceled", len(res), canceled, n)
	}
	db.Close()
	if r := run(t, nil, "ledger", "verify", "-c", w.ConfigPath()); r.code != 0 {
		t.Fatalf("ledger verify after SIGTERM: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Second start: the incomplete run makes it catch up, to completion.
	p = startServe(t, w.ConfigPath(), freeAddr(t), env)
	var last ledger.Run
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if db, err := ledger.OpenReadOnly(ctx, dbPath); err == nil {
			last, err = db.LatestRun(ctx, true)
			db.Close()
			if err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second start did not complete an audit:\n%s", p.stderr)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, body := p.get(t, "/metrics")
		if strings.Contains(body, `evidence_auditd_runs_total{result="healthy"} 1`) {
			for _, want := range []string{
				`evidence_auditd_pointers{verdict="verified"} 1500`,
				"evidence_auditd_run_in_progress 0",
				"evidence_auditd_run_duration_seconds_count 1",
				"evidence_auditd_next_run_timestamp_seconds",
				"evidence_auditd_last_success_timestamp_seconds",
				`evidence_auditd_requests_total{code="200",method="GET",service="registry"}`,
				`evidence_auditd_request_duration_seconds_count{method="GET",service="registry"}`,
			} {
				if !strings.Contains(body, want) {
					t.Errorf("/metrics lacks %q", want)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics never counted the healthy run:\n%.3000s", body)
		}
	}
	if code, body := p.get(t, "/readyz"); code != 200 {
		t.Errorf("/readyz after a healthy run = %d %s", code, body)
	}
	if code, _ := p.stop(t); code != 0 {
		t.Errorf("idle serve: exit %d after SIGTERM, want 0", code)
	}
	t.Logf("run %d completed the audit", last.ID)
	if r := run(t, nil, "ledger", "verify", "-c", w.ConfigPath()); r.code != 0 {
		t.Fatalf("ledger verify at the end: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestE2EServeSecondSignal: while a drain waits for slow in-flight pointers,
// a second SIGTERM exits at once (SPEC §8), with code 1.
func TestE2EServeSecondSignal(t *testing.T) {
	w := scaleWorld(t, 50, time.Now().UTC().Truncate(time.Second))
	// Every registry request hangs: the in-flight pointers cannot finish.
	w.Registry().SetFault(sandboxregistry.AllRepositories, sandboxregistry.Fault{Delay: time.Minute})
	w.Registry().ResetCounts() // building the world pushed through it
	p := startServe(t, w.ConfigPath(), freeAddr(t), "EVIDENCE_AUDITD_SHUTDOWN_GRACE=60s")
	// The run is in progress from before the history walk; pointers are in
	// flight once the registry has been asked something (and hangs).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, body := p.get(t, "/metrics"); strings.Contains(body, "evidence_auditd_run_in_progress 1") && w.Registry().TotalRequests() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the audit did not start:\n%s", p.stderr)
		}
	}
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(p.stderr.String(), "shutting down") { // the first signal was handled
		if time.Since(start) > 10*time.Second {
			t.Fatalf("no drain after the first SIGTERM:\n%s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not exit on the second SIGTERM:\n%s", p.stderr)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(p.stderr.String(), "second signal") {
		t.Errorf("exit %d after a second SIGTERM, want 1 from the second-signal exit:\n%s", code, p.stderr)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("exit took %v; the second signal must not wait for the 60s grace period", took)
	}
}

package main_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binary is the evidence-auditd built once for the CLI tests: exit codes and
// output are tested on the real program (STYLE: "CLI behaviour is tested by
// running the built binary").
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "evidence-auditd-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "evidence-auditd")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build evidence-auditd: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// run executes the binary with args and a clean EVIDENCE_AUDITD_* environment.
func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.Dir = t.TempDir()
	return runCmd(t, cmd)
}

// runCmd runs a prepared command of the binary and collects its result.
func runCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

func TestUsageErrorsExit2(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"list", "--nope"}, "unknown flag"},
		{"no repo", []string{"list"}, "no repository to audit"},
		{"bad format", []string{"list", "--repo", ".", "--format", "xml"}, "--format"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"ledger without verb", []string{"ledger"}, "verify, export or migrate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, tt.args...)
			if r.code != 2 {
				t.Errorf("exit = %d, want 2 (stderr %q)", r.code, r.stderr)
			}
			if !bytes.Contains([]byte(r.stderr), []byte(tt.want)) {
				t.Errorf("stderr = %q, want it to mention %q", r.stderr, tt.want)
			}
		})
	}
}

func TestConfigErrorExit2NamesKey(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfg, []byte("registry:\n  concurency: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "ledger", "verify", "-c", cfg)
	if r.code != 2 || !bytes.Contains([]byte(r.stderr), []byte(`"registry.concurency"`)) {
		t.Errorf("exit %d, stderr %q; want 2 naming registry.concurency", r.code, r.stderr)
	}
}

func TestVersion(t *testing.T) {
	r := run(t, nil, "version")
	if r.code != 0 || !bytes.HasPrefix([]byte(r.stdout), []byte("evidence-auditd ")) {
		t.Errorf("version: exit %d, stdout %q", r.code, r.stdout)
	}
}

// TestHelpNeedsNoSpec: --help teaches on its own; it does not send the
// operator to a contract document they do not have.
func TestHelpNeedsNoSpec(t *testing.T) {
	for _, args := range [][]string{{}, {"list"}, {"run"}, {"serve"}, {"report"}, {"verify"}, {"ledger"}, {"ledger", "verify"},
		{"ledger", "export"}, {"ledger", "migrate"}, {"issues"}, {"issues", "sync"}, {"demo"}, {"version"}, {"verify-report"},
		{"archive"}, {"archive", "verify"}, {"archive", "backfill"}, {"archive", "restore"}} {
		r := run(t, nil, append(args, "--help")...)
		if r.code != 0 {
			t.Errorf("%v --help: exit %d", args, r.code)
		}
		if bytes.Contains([]byte(r.stdout), []byte("SPEC")) || bytes.Contains([]byte(r.stdout), []byte("§")) {
			t.Errorf("%v --help cites the SPEC:\n%s", args, r.stdout)
		}
	}
}

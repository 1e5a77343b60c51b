package main_test

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadOnlyLedger: an auditor handed a copy of the ledger in a directory
// they cannot write can report, verify and export it (SPEC §4); a
// write-ahead log that cannot be read from there is said so, not
// half-read.
func TestReadOnlyLedger(t *testing.T) {
	src := reportLedger(t, false)
	dir, err := os.MkdirTemp("", "evidence-auditd-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755); os.RemoveAll(dir) })
	ledgerCopy := filepath.Join(dir, "ledger.db")
	bin := filepath.Join(dir, "evidence-auditd")
	copyFile(t, src, ledgerCopy, 0o644)
	copyFile(t, binary, bin, 0o755)

	// As root, permissions do not bind: run the binary as nobody instead.
	asUser := os.Geteuid() == 0
	if err := os.Chmod(dir, map[bool]os.FileMode{true: 0o755, false: 0o555}[asUser]); err != nil {
		t.Fatal(err)
	}
	runRO := func(args ...string) result {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=/"}
		cmd.Dir = "/"
		if asUser {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		return runCmd(t, cmd)
	}
	for _, args := range [][]string{
		{"report", "--ledger", ledgerCopy, "--format", "json"},
		{"ledger", "verify", "--ledger", ledgerCopy},
		{"ledger", "export", "--ledger", ledgerCopy},
	} {
		r := runRO(args...)
		if r.code != 0 || r.stdout == "" {
			t.Errorf("%v on a read-only directory: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("the read-only commands left files behind: %v", entries)
	}

	// A write-ahead log with rows not yet in the main file, and no -shm:
	// reading the main file alone would miss them.
	os.Chmod(dir, 0o755)
	if err := os.WriteFile(ledgerCopy+"-wal", []byte("not yet checkpointed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !asUser {
		os.Chmod(dir, 0o555)
	}
	r := runRO("ledger", "verify", "--ledger", ledgerCopy)
	if r.code != 1 || !strings.Contains(r.stderr, "-wal") || !strings.Contains(r.stderr, "writable directory") {
		t.Errorf("unreadable WAL: exit %d, stderr %q; want 1 saying what to do", r.code, r.stderr)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

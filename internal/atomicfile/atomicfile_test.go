package atomicfile_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/atomicfile"
)

func TestWriteReplacesAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.txt")
	if err := atomicfile.WriteBytes(p, 0o600, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteBytes(p, 0o644, []byte("two")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "two" {
		t.Fatalf("content = %q, %v; want %q", got, err, "two")
	}
	fi, _ := os.Stat(p)
	if got, want := fi.Mode().Perm(), os.FileMode(0o644); got != want {
		t.Errorf("perm = %v, want %v", got, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1 (temp files left behind?)", len(entries))
	}
}

func TestWriteErrorKeepsOldContent(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.txt")
	if err := atomicfile.WriteBytes(p, 0o644, []byte("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := atomicfile.Write(p, 0o644, func(w io.Writer) error {
		io.WriteString(w, "partial")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	got, _ := os.ReadFile(p)
	if string(got) != "old" {
		t.Errorf("content = %q, want the old content", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(entries))
	}
}

// TestWriteRemovesCrashResidue: a writer killed mid-write leaves its
// temporary file; the next Write of the same path removes it, but never a
// live writer's, nor a recent file it cannot attribute.
func TestWriteRemovesCrashResidue(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "report.md")
	child := exec.Command("true")
	if err := child.Run(); err != nil {
		t.Fatal(err)
	}
	dead := child.Process.Pid // exited and reaped: no such process now
	files := map[string]bool{ // name → must survive
		fmt.Sprintf(".report.md.tmp-%d-111", dead):         false,
		fmt.Sprintf(".report.md.tmp-%d-222", os.Getppid()): true, // the parent is alive
		".report.md.tmp-333333":                            true, // unknown writer, recent
		".report.md.tmp-444444":                            false,
		fmt.Sprintf(".other.md.tmp-%d-555", dead):          true, // another file's
	}
	for name := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, ".report.md.tmp-444444"), old, old); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteBytes(p, 0o644, []byte("report")); err != nil {
		t.Fatal(err)
	}
	for name, survive := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if got := err == nil; got != survive {
			t.Errorf("%s: present = %v, want %v", name, got, survive)
		}
	}
}

// TestRemoveStaleIn: the residue of any file of a directory goes, that of
// live writers and the files themselves stay.
func TestRemoveStaleIn(t *testing.T) {
	dir := t.TempDir()
	child := exec.Command("true")
	if err := child.Run(); err != nil {
		t.Fatal(err)
	}
	dead := child.Process.Pid
	files := map[string]bool{ // name → must survive
		fmt.Sprintf(".%064x.tmp-%d-1", 1, dead):         false,
		fmt.Sprintf(".%064x.tmp-%d-2", 2, dead):         false,
		fmt.Sprintf(".%064x.tmp-%d-3", 3, os.Getppid()): true,
		fmt.Sprintf("%064x", 4):                         true,
		fmt.Sprintf(".%064x.other-%d-5", 5, dead):       true, // another kind
	}
	for name := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got := atomicfile.RemoveStaleIn(dir, "tmp"); len(got) != 2 {
		t.Errorf("removed %v, want the 2 of dead writers", got)
	}
	for name, survive := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if got := err == nil; got != survive {
			t.Errorf("%s: present = %v, want %v", name, got, survive)
		}
	}
}

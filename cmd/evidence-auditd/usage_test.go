package main_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/gitrepo"
)

// TestMisuseExitsTwo: each mistake an operator can fix by changing the
// command line or the configuration exits 2 and says what to change
// (SPEC §4).
func TestMisuseExitsTwo(t *testing.T) {
	master := filepath.Join(t.TempDir(), "aicr")
	if _, err := gitrepo.Generate(master, gitrepo.Scenario{Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		gitrepo.WithDefaultBranch("master")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  []string
		args []string
		want []string // substrings of stderr
	}{
		{"unknown ledger verb", nil, []string{"ledger", "frobnicate"}, []string{`unknown command "frobnicate"`, "verify"}},
		{"unknown issues verb", nil, []string{"issues", "frob"}, []string{`unknown command "frob"`, "sync"}},
		{"listen port out of range", nil, []string{"serve", "--listen", "127.0.0.1:99999"}, []string{"listen", "99999"}},
		{"schedule never fires", nil, []string{"serve", "--schedule", "0 3 31 2 *"}, []string{"schedule", "never fires"}},
		{"every zero", nil, []string{"serve", "--schedule", "@every 0s"}, []string{"schedule", "positive"}},
		{"repository path does not exist", nil, []string{"run", "--repo", "/nonexistent"}, []string{"/nonexistent", "not a git repository"}},
		{"list of a missing repository", nil, []string{"list", "--repo", "/nonexistent"}, []string{"not a git repository"}},
		{"unknown ref names the branches", nil, []string{"list", "--repo", master, "--ref", "nosuchbranch"}, []string{"nosuchbranch", "ref not found", "master"}},
		{"default ref on a master repository", nil, []string{"run", "--repo", master, "--dry-run"}, []string{`"main"`, "branches are master"}},
		{"report into a missing directory", nil, []string{"report", "-o", "/nonexistent/dir/x.md"}, []string{"/nonexistent/dir"}},
		{"export into a missing directory", nil, []string{"ledger", "export", "-o", "/nonexistent/x.jsonl"}, []string{"/nonexistent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.env, tt.args...)
			if r.code != 2 {
				t.Errorf("exit = %d, want 2 (stderr %q)", r.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr = %q, want it to mention %q", r.stderr, w)
				}
			}
		})
	}
}

// TestErrorsSayThingsOnce: no "open ledger X: open ledger X: …".
func TestErrorsSayThingsOnce(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.db")
	for _, args := range [][]string{
		{"ledger", "verify", "--ledger", missing},
		{"ledger", "export", "--ledger", missing},
		{"run", "--repo", "/nonexistent"},
	} {
		r := run(t, nil, args...)
		for _, prefix := range []string{"open ledger", "open repository"} {
			if n := strings.Count(r.stderr, prefix); n > 1 {
				t.Errorf("%v: stderr says %q %d times: %q", args, prefix, n, r.stderr)
			}
		}
	}
}

// TestMistypedVariableIsNamed: an EVIDENCE_AUDITD_* variable no key reads
// is warned about by name with the likely intended one, never silently
// ignored, and its value is not echoed.
func TestMistypedVariableIsNamed(t *testing.T) {
	r := run(t, []string{"EVIDENCE_AUDITD_REGISTRY_TIMEUOT=ghp_notshown"}, "ledger", "verify", "--ledger", filepath.Join(t.TempDir(), "x.db"))
	if !strings.Contains(r.stderr, "EVIDENCE_AUDITD_REGISTRY_TIMEUOT") || !strings.Contains(r.stderr, "EVIDENCE_AUDITD_REGISTRY_TIMEOUT") {
		t.Errorf("stderr = %q, want the unknown variable and the suggestion named", r.stderr)
	}
	if strings.Contains(r.stderr, "ghp_notshown") {
		t.Error("the variable's value was printed")
	}
}

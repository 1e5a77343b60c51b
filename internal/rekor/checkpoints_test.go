package rekor_test

import (
	"context"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
)

// prove runs one "run" of the fallback on the named pointer and returns the
// monitor's findings.
func (f *fixture) proveRun(t *testing.T, runID int64, names ...string) []string {
	t.Helper()
	l := f.log(t, "")
	for _, name := range names {
		if got := l.Prove(context.Background(), f.want(t, name), gone(name)); got.Verdict != audit.RekorOnly {
			t.Fatalf("run %d, %s: %s", runID, name, dump(got))
		}
	}
	return l.CheckConsistency(context.Background(), runID)
}

// first returns the case whose entry has the lowest index, so that it
// survives a rewind of the log to any later size.
func (f *fixture) first(t *testing.T) string {
	t.Helper()
	best := ""
	for _, n := range []string{"good", "good-2", "no-index"} {
		if best == "" || f.pointer(t, n).LogIndex < f.pointer(t, best).LogIndex {
			best = n
		}
	}
	return best
}

func (f *fixture) appendEntries(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		stmt := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"` +
			strings.Repeat("ab", 31) + string(rune('a'+i)) + `0"}}],"predicateType":"https://example.com/p","predicate":{}}`)
		if _, _, err := f.w.Signer().Sign(stmt, ca.Identity{Identity: "https://example.com/other", Issuer: "https://issuer.example"}, ago(1)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCheckConsistency(t *testing.T) {
	t.Run("growing log", func(t *testing.T) {
		f := newFixture(t)
		if got := f.proveRun(t, 1, "good", "no-index"); len(got) != 0 {
			t.Fatalf("first run: %q", got)
		}
		f.appendEntries(t, 3)
		if got := f.proveRun(t, 2, "good"); len(got) != 0 {
			t.Fatalf("the log grew by 3 entries: findings %q", got)
		}
		cps, _ := f.db.Checkpoints(context.Background(), f.w.Log().Origin())
		if len(cps) != 2 {
			t.Errorf("%d checkpoints recorded, want 2 (one per tree size seen)", len(cps))
		}
	})
	t.Run("rewound", func(t *testing.T) {
		f := newFixture(t)
		name := f.first(t)
		if got := f.proveRun(t, 1, name); len(got) != 0 {
			t.Fatalf("first run: %q", got)
		}
		if err := f.w.Log().Rewind(f.w.Log().Size() - 1); err != nil {
			t.Fatal(err)
		}
		got := f.proveRun(t, 2, name)
		if len(got) != 1 || !strings.Contains(got[0], "went backwards") {
			t.Fatalf("after a rewind: findings %q, want one saying the log went backwards", got)
		}
	})
	t.Run("forked", func(t *testing.T) {
		f := newFixture(t)
		name := f.first(t)
		if got := f.proveRun(t, 1, name); len(got) != 0 {
			t.Fatalf("first run: %q", got)
		}
		if err := f.w.Log().Rewind(f.w.Log().Size() - 1); err != nil {
			t.Fatal(err)
		}
		f.appendEntries(t, 2) // a different history, larger than the one recorded
		got := f.proveRun(t, 2, name)
		if len(got) != 1 || !strings.Contains(got[0], "forked") {
			t.Fatalf("after a fork: findings %q, want one saying the log forked", got)
		}
		// The fork stays visible: the next run still compares against the
		// largest checkpoint recorded before it.
		if got := f.proveRun(t, 3, name); len(got) != 1 {
			t.Errorf("third run: findings %q, want the fork again", got)
		}
	})
	t.Run("unreachable is not a finding", func(t *testing.T) {
		f := newFixture(t)
		name := f.first(t)
		f.proveRun(t, 1, name)
		f.appendEntries(t, 1)
		l := f.log(t, "")
		if got := l.Prove(context.Background(), f.want(t, name), gone(name)); got.Verdict != audit.RekorOnly {
			t.Fatal(dump(got))
		}
		f.w.Log().SetStatus(503)
		defer f.w.Log().SetStatus(0)
		if got := l.CheckConsistency(context.Background(), 2); len(got) != 0 {
			t.Errorf("log down during the check: findings %q, want none", got)
		}
	})
}

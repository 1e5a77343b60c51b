package main_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/signer"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/tlog"
)

// startWorld starts a sandbox world, builds cases into it and writes its
// configuration (with cfg); everything stops when the test ends.
func startWorld(tb testing.TB, opts []sandbox.Option, cases []sandbox.Case, cfg ...sandbox.ConfigOption) (*sandbox.World, *sandbox.Built) {
	tb.Helper()
	ctx := context.Background()
	w := sandbox.New(tb.TempDir(), opts...)
	if err := w.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { w.Close(context.Background()) })
	built, err := w.Build(ctx, cases)
	if err != nil {
		tb.Fatal(err)
	}
	if err := w.WriteConfig(w.ConfigPath(), cfg...); err != nil {
		tb.Fatal(err)
	}
	return w, built
}

// scaleWorld is a world of n good pointers audited one at a time, so that a
// signal or a kill lands mid-run.
func scaleWorld(tb testing.TB, n int, now time.Time) *sandbox.World {
	tb.Helper()
	w, _ := startWorld(tb, []sandbox.Option{sandbox.WithLeafReuse(5 * time.Minute)},
		sandbox.ScaleCases(n, now), sandbox.ConfigConcurrency(1))
	return w
}

// ledgerPath is where a world's configuration puts the ledger.
func ledgerPath(w *sandbox.World) string { return w.Dir() + "/evidence-auditd.db" }

// openWorldLedger opens a world's ledger read-only for the test.
func openWorldLedger(tb testing.TB, w *sandbox.World) *ledger.DB {
	tb.Helper()
	db, err := ledger.OpenReadOnly(context.Background(), ledgerPath(w))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// recorded counts the results run has recorded so far; 0 while the ledger
// does not exist yet (it polls a child process's progress).
func recorded(w *sandbox.World, run int64) int {
	ctx := context.Background()
	db, err := ledger.OpenReadOnly(ctx, ledgerPath(w))
	if err != nil {
		return 0
	}
	defer db.Close()
	keys, err := db.ResultKeys(ctx, run)
	if err != nil {
		return 0
	}
	return len(keys)
}

// offlineTrustedRoot writes a trusted_root.json of a fresh sandbox CA and
// log (no server needed) and returns its path: for runs that must load a
// trust root but verify nothing signed (tests never reach the public-good
// TUF mirror).
func offlineTrustedRoot(tb testing.TB) string {
	tb.Helper()
	c, err := ca.New()
	if err != nil {
		tb.Fatal(err)
	}
	l, err := tlog.New()
	if err != nil {
		tb.Fatal(err)
	}
	s, err := signer.New(c, l)
	if err != nil {
		tb.Fatal(err)
	}
	data, err := s.TrustedRootJSON()
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "trusted_root.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

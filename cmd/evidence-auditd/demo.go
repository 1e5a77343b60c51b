package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/job"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
)

func newDemoCommand() *cobra.Command {
	var (
		dir         string
		keepRunning bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Build a private evidence world, audit it, and leave the results to explore",
		Long: `demo builds a complete private world — a git repository with years of merged
evidence pointers, an OCI registry, a transparency log, a certificate authority
and its trusted root — with every scenario an auditor must tell apart (good,
known failures, wrong signer, broken inventory, path squat, malformed,
legacy, flaky and forbidden registries, deleted bundles, aged evidence), in
both transparency-log eras (Rekor v1 entries with signed entry timestamps;
Rekor v2 entries with C2SP checkpoints and RFC 3161 timestamps), then runs a
full audit against it on loopback and prints the summary. That audit also
copies every healthy bundle into the auditor's archive (an OCI layout in
--dir). It then deletes the bundles that scenario marks for deletion after an
audit, and audits again: those must be proven from the archived copies
(archived), where an auditor without the archive could prove them only from
the ledger's cache and the log (rekor-only); the scenario table says which.
Nothing leaves the machine.

It leaves in --dir a ready configuration (evidence-auditd.yaml), the ledger
and the reports, so report, ledger verify and list work on it afterwards.
The registry and log live only while demo runs; --keep-running keeps them up
until interrupted, so run and serve can be tried against the same world.

demo exits 0 when the audit completed and every scenario reached the verdict
it was built for (the world is full of findings on purpose), 1 otherwise.`,
		Example: `  evidence-auditd demo
  evidence-auditd demo --dir /tmp/aicr-demo --keep-running
  # then, from another terminal:
  evidence-auditd run -c /tmp/aicr-demo/evidence-auditd.yaml
  evidence-auditd ledger verify -c /tmp/aicr-demo/evidence-auditd.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), dir, keepRunning)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory for the world (default: a new temporary directory); must be empty or absent")
	cmd.Flags().BoolVar(&keepRunning, "keep-running", false, "keep the registry and log up until interrupted")
	return cmd
}

func runDemo(ctx context.Context, out io.Writer, dir string, keepRunning bool) error {
	dir, err := demoDir(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Building a private evidence world in %s …\n", dir)
	w := sandbox.New(dir)
	if err := w.Start(ctx); err != nil {
		return fmt.Errorf("start sandbox: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		w.Close(cctx)
	}()
	now := time.Now().UTC()
	built, err := w.Build(ctx, sandbox.DemoCases(now))
	if err != nil {
		return fmt.Errorf("build demo world: %w", err)
	}
	if err := w.WriteConfig(w.ConfigPath()); err != nil {
		return fmt.Errorf("write demo configuration: %w", err)
	}
	cfg, err := config.Load(w.ConfigPath(), func(string) string { return "" })
	if err == nil {
		err = cfg.Finalize()
	}
	if err != nil {
		return fmt.Errorf("demo configuration: %w", err)
	}
	fmt.Fprintf(out, "%d pointers merged over %d commits; registry %s, Rekor v1 log %s, Rekor v2 log %s, timestamp authority %s\n\n",
		len(built.Pointers), len(built.Repo.Merges), w.RegistryHost(), w.LogURL(), w.RekorV2URL(), w.TSAURL())

	outcome, err := newJob(cfg, newLogger(cfg)).Audit(ctx, job.Request{AsOf: now, Deep: true, Progress: progressFor(os.Stderr, newLogger(cfg))})
	if err != nil {
		return err
	}
	printRunSummary(out, cfg, outcome)
	first := outcome
	// The second phase: bundles the first audit verified, cached and
	// archived are deleted from the registry, and a second audit must prove
	// them from the archive (SPEC §9) — without it, only from the ledger's
	// cache and the transparency log (a Rekor v2 entry can be tied to its
	// digest no other way).
	deleted, err := w.DeleteAudited(ctx, built)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if len(deleted) > 0 && first.Summary.Complete {
		fmt.Fprintf(out, "\nDeleted from the registry after that audit (verified, cached and archived): %s. Auditing again …\n\n", strings.Join(deleted, ", "))
		if outcome, err = newJob(cfg, newLogger(cfg)).Audit(ctx, job.Request{AsOf: now, Deep: true, Progress: progressFor(os.Stderr, newLogger(cfg))}); err != nil {
			return err
		}
		printRunSummary(out, cfg, outcome)
	}
	// Judging a scenario may need a result's checks (an expected warning):
	// the ledger holds them, the run summaries do not.
	firstResults, err := recordedResults(ctx, cfg.Ledger.Path, first.Run.ID)
	if err != nil {
		return err
	}
	secondResults := firstResults
	if outcome != first {
		if secondResults, err = recordedResults(ctx, cfg.Ledger.Path, outcome.Run.ID); err != nil {
			return err
		}
	}
	mismatches := printExpectations(out, built, firstResults, secondResults, len(deleted) > 0)
	reports, err := writeReports(ctx, cfg.Ledger.Path, filepath.Join(dir, "reports"))
	if err != nil {
		return fmt.Errorf("write demo reports: %w", err)
	}

	fmt.Fprintf(out, "\nThe world stays in %s:\n", dir)
	fmt.Fprintf(out, "  configuration  %s\n  ledger         %s\n  trusted root   %s\n  repository     %s\n  issues         %s\n",
		w.ConfigPath(), cfg.Ledger.Path, w.TrustedRootPath(), w.RepoDir(), cfg.Issues.Dir)
	fmt.Fprintf(out, "Reports:\n")
	for _, f := range []string{"markdown", "html", "json", "csv"} {
		fmt.Fprintf(out, "  %-8s %s\n", f, reports[f])
	}
	self := os.Args[0] // as the user invoked it, e.g. bin/evidence-auditd after `make demo`
	fmt.Fprintf(out, "Try:\n  %[2]s report -c %[1]s\n  %[2]s list -c %[1]s\n  %[2]s ledger verify -c %[1]s\n", w.ConfigPath(), self)
	if !outcome.Summary.Complete {
		return fmt.Errorf("the demo audit was interrupted")
	}
	if mismatches > 0 {
		return fmt.Errorf("%d scenarios did not reach the verdict they were built for", mismatches)
	}
	if keepRunning {
		fmt.Fprintf(out, "\nRegistry and log keep running; `%s run -c %s` audits the same world. Interrupt to stop.\n", self, w.ConfigPath())
		<-ctx.Done()
	}
	return nil
}

// demoDir returns an empty directory for the world: dir when it is empty or
// absent, a new temporary one when dir is "".
func demoDir(dir string) (string, error) {
	if dir == "" {
		return os.MkdirTemp("", "evidence-auditd-demo-")
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
	case err != nil:
		return "", usageErr(fmt.Errorf("--dir %s: %w", dir, err))
	case len(entries) > 0:
		return "", usageErr(fmt.Errorf("--dir %s is not empty; pick a new directory (a demo world is built from scratch)", dir))
	}
	return filepath.Abs(dir)
}

// printExpectations compares each scenario's verdict with what it was
// built for, and returns how many differ. With a second audit (after the
// DeleteAfterAudit bundles were deleted), every scenario is checked in
// both: those deleted against AfterDelete, the others against the same
// expectation; a row shows "first → second" where the two differ, and
// what the verdict would have been without the archive.
// recordedResults reads run runID's results, checks included, from the
// ledger at path.
func recordedResults(ctx context.Context, path string, runID int64) ([]audit.Result, error) {
	db, err := ledger.OpenReadOnly(ctx, path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.Results(ctx, runID)
}

func printExpectations(w io.Writer, built *sandbox.Built, first, second []audit.Result, twoAudits bool) int {
	index := func(rs []audit.Result) map[audit.VersionKey]audit.Result {
		m := map[audit.VersionKey]audit.Result{}
		for _, r := range rs {
			m[r.Key] = r
		}
		return m
	}
	byKey1, byKey2 := index(first), index(second)
	fmt.Fprintf(w, "\nScenarios (expected → audited):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	bad := 0
	expected := func(e sandbox.Expectation) string {
		s := e.Verdict
		if e.Class != "" {
			s += "/" + e.Class
		}
		if e.Warn != "" {
			s += " (warn " + e.Warn + ")"
		}
		return s
	}
	// judge compares one audit's result with an expectation, including the
	// warning check it names.
	judge := func(r audit.Result, ok bool, e sandbox.Expectation) (string, string, bool) {
		if !ok {
			return "(no result)", "", false
		}
		got, good := verdictLabel(r), true
		if e.Warn != "" {
			good = r.Warned(e.Warn)
			if good {
				got += " (warn " + e.Warn + ")"
			}
		}
		return got, string(r.Age), good && got == expected(e) && (e.Age == "" || string(r.Age) == e.Age)
	}
	for _, p := range built.Pointers {
		key := audit.VersionKey{Path: p.Path, AddedCommit: p.MergeCommit}
		r1, ok1 := byKey1[key]
		want := expected(p.Case.Expect)
		got, age, good := judge(r1, ok1, p.Case.Expect)
		if twoAudits {
			after := p.Case.Expect
			if p.Case.DeleteAfterAudit {
				after = p.Case.AfterDelete
			}
			r2, ok2 := byKey2[key]
			got2, age2, good2 := judge(r2, ok2, after)
			if expected(after) != want {
				want += " → " + expected(after)
			}
			if got2 != got {
				got += " → " + got2
			}
			age, good = age2, good && good2
		}
		mark := "ok"
		if !good {
			mark = "MISMATCH"
			bad++
		}
		line := fmt.Sprintf("  %s\t%s\t%s\t%s\t%s", mark, p.Case.Name, want, got, age)
		switch {
		case twoAudits && p.Case.DeleteAfterAudit && p.Case.WithoutArchive.Verdict != "":
			line += "\tthe archive proved it; without it: " + expected(p.Case.WithoutArchive)
		case p.Case.DeleteAfterPublish:
			line += "\tdeleted before any audit: nothing archived"
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	return bad
}

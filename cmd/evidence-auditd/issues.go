package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/history"
	"github.com/evidence-auditd/evidence-auditd/internal/issues"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

func newIssuesCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "issues",
		Short: "File, update and close re-certification issues (GitHub or Markdown files)",
		Args:  unknownSubcommand,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var dryRun bool
	sync := &cobra.Command{
		Use:   "sync",
		Short: "Re-apply the latest complete run's issue plan (e.g. after the tracker was down)",
		Long: `sync plans the issue operations for the latest complete run recorded in the
ledger — open, update, reopen, close — and sends them to the configured sink
(issues.sink). With --dry-run it prints the plan and sends nothing.

Operations that fail (rate limits, 5xx) stay in the ledger's journal and are
planned again by the next run or sync; issues.maxPerRun caps each sync.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(nil)
			if err != nil {
				return err
			}
			log := newLogger(cfg)
			ctx := cmd.Context()
			if _, err := os.Stat(cfg.Ledger.Path); err != nil {
				// Do not create an empty ledger just to find it has no run.
				return fmt.Errorf("ledger %s: %w (run `evidence-auditd run` first)", cfg.Ledger.Path, err)
			}
			db, err := ledger.Open(ctx, cfg.Ledger.Path)
			if err != nil {
				return err
			}
			defer db.Close()
			run, err := db.LatestRun(ctx, true)
			if errors.Is(err, ledger.ErrNotFound) {
				return errors.New("the ledger holds no complete run yet: run `evidence-auditd run` first")
			}
			if err != nil {
				return err
			}
			plan, sum, err := syncIssues(ctx, cfg, log, db, run, dryRun, nil)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			plan.Print(w)
			fmt.Fprintln(w, sum)
			return nil
		},
	}
	sync.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan, send nothing")
	cmd.AddCommand(sync)
	return cmd
}

// issueSummary is what applying the issue plan did.
type issueSummary = issues.Summary

// applyIssues applies the issue plan of the run just recorded (SPEC §4:
// `run` does, unless --dry-run). An interrupted run plans nothing. Tracker
// failures do not fail the audit: they stay pending in the ledger's journal
// and are logged as a warning; the error is for a ledger or repository that
// could not be read.
//
// obs, when set (serve), is told every operation's outcome.
func applyIssues(ctx context.Context, cfg *config.Config, log *slog.Logger, out *auditOutcome, dryRun bool, obs issues.Observer) (issueSummary, error) {
	if out == nil || out.Summary == nil || !out.Summary.Complete {
		return issueSummary{Stopped: "run interrupted; no issue plan"}, nil
	}
	db, err := ledger.Open(ctx, cfg.Ledger.Path)
	if err != nil {
		return issueSummary{}, err
	}
	defer db.Close()
	_, sum, err := syncIssues(ctx, cfg, log, db, out.Run, dryRun, obs)
	return sum, err
}

// syncIssues plans (and unless dryRun applies) the issues of run, reading
// overlays and CODEOWNERS at the run's commit.
func syncIssues(ctx context.Context, cfg *config.Config, log *slog.Logger, db *ledger.DB, run ledger.Run, dryRun bool, obs issues.Observer) (*issues.Plan, issues.Summary, error) {
	tr, err := issues.NewTracker(cfg, issues.WithUserAgent("evidence-auditd/"+version))
	if err != nil {
		return nil, issues.Summary{}, usageErr(err)
	}
	repo, err := openRepo(ctx, cfg, true)
	if err != nil {
		return nil, issues.Summary{}, err
	}
	defer repo.Close()
	versions, err := db.PointerVersions(ctx, run.Repo, run.Ref)
	if err != nil {
		return nil, issues.Summary{}, err
	}
	evidenceDir := cfg.Repo.EvidenceDir
	if in, ok, err := db.RunInputs(ctx, run.ID); err == nil && ok && in.EvidenceDir != "" {
		evidenceDir = in.EvidenceDir
	}
	router := &issues.Router{
		Files:            commitFiles{repo: repo, commit: run.Commit},
		OverlaysDir:      filepath.ToSlash(cfg.Repo.OverlaysDir),
		Profiles:         issues.Profiles(versions, evidenceDir),
		DefaultAssignees: cfg.Issues.DefaultAssignees,
		DefaultTeam:      cfg.Issues.DefaultTeam,
	}
	plan, sum, err := issues.Sync(ctx, db, tr, router, issues.SyncOptions{
		RunID: run.ID, Labels: issues.LabelsOf(cfg), MaxOps: cfg.Issues.MaxPerRun, DryRun: dryRun, Log: log, Observer: obs,
	})
	if err != nil {
		if errors.Is(err, issues.ErrTracker) {
			// The tracker could not be asked who is assignable: nothing was
			// sent; the next run or `issues sync` plans again.
			log.Warn("issue tracker unavailable; issues not synced", "err", err)
			return &issues.Plan{RunID: run.ID}, issues.Summary{Stopped: "tracker unavailable: " + err.Error()}, nil
		}
		return nil, issues.Summary{}, err
	}
	if !dryRun && tr != nil && (sum.Failed > 0 || sum.Deferred > 0) {
		log.Warn("issue operations wait for the next run", "failed", sum.Failed, "deferred", sum.Deferred, "why", sum.Stopped)
	}
	return plan, sum, nil
}

// commitFiles reads repository files at one commit.
type commitFiles struct {
	repo   *history.Repo
	commit string
}

func (c commitFiles) ReadFile(ctx context.Context, p string) ([]byte, error) {
	return c.repo.ReadFile(ctx, c.commit, p)
}

package job

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/issues"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// syncIssues plans (and unless dryRun sends) the issues of run, reading
// overlays and CODEOWNERS at the run's commit. The caller holds the audit
// lock. A tracker that cannot be reached is not an error: nothing was sent,
// and the next run or `issues sync` plans again.
//
// results, when set, are the run's results as the job holds them (nil:
// read from the ledger).
func (j *Job) syncIssues(ctx context.Context, db *ledger.DB, run ledger.Run, dryRun bool, results []audit.Result) (*issues.Plan, issues.Summary, error) {
	cfg, log := j.Config, j.Log
	tr, err := issues.NewTracker(cfg, issues.WithUserAgent(j.UserAgent))
	if err != nil {
		return nil, issues.Summary{}, Usage(err)
	}
	repo, err := OpenRepo(ctx, cfg, true)
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
		RunID: run.ID, Labels: issues.LabelsOf(cfg), MaxOps: cfg.Issues.MaxPerRun, DryRun: dryRun, Log: log, Observer: j.Observer,
		Results: results,
	})
	if err != nil {
		if errors.Is(err, issues.ErrTracker) {
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

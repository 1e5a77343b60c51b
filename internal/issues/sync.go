package issues

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// Store is what Sync reads and journals; *ledger.DB satisfies it.
type Store interface {
	Journal
	RecipeStatuses(ctx context.Context, runID int64) ([]audit.RecipeStatus, error)
	Results(ctx context.Context, runID int64) ([]audit.Result, error)
	IssueRecords(ctx context.Context) ([]ledger.IssueRecord, error)
}

var _ Store = (*ledger.DB)(nil)

// NewTracker returns the sink cfg.Issues.Sink names; nil for none.
// opts apply to the github sink.
func NewTracker(cfg *config.Config, opts ...GitHubOption) (Tracker, error) {
	switch cfg.Issues.Sink {
	case "none":
		return nil, nil
	case "file":
		return &FileSink{Dir: cfg.Issues.Dir}, nil
	case "github":
		gh := cfg.Issues.GitHub
		opts = append([]GitHubOption{WithAPIURL(gh.APIURL)}, opts...)
		return NewGitHub(gh.Owner, gh.Repo, cfg.GitHubToken, LabelsOf(cfg), opts...)
	}
	return nil, fmt.Errorf("issues.sink %q: want file, github or none", cfg.Issues.Sink)
}

// LabelsOf returns the configured labels.
func LabelsOf(cfg *config.Config) Labels {
	return Labels{Recert: cfg.Issues.Labels.Recert, Lost: cfg.Issues.Labels.Lost}
}

// SyncOptions configure Sync.
type SyncOptions struct {
	RunID  int64
	Labels Labels
	MaxOps int // issues.maxPerRun; 0 = no cap
	DryRun bool
	Log    *slog.Logger
	// Observer is told each operation's outcome; nil: nobody.
	Observer Observer
	// Results, when set, are the run's results as its job holds them, so
	// that a large run is not read back from the ledger a second time
	// (nil: read from the store).
	Results []audit.Result
}

// Sync plans the issue operations for a recorded run and, unless DryRun
// or tr is nil (sink none), applies them. router decides routes; when its
// Assignable is nil it asks tr (everyone is assignable without a tracker).
// An error means the plan could not be made (ledger, repository files, or
// the tracker could not say who is assignable) or the ledger failed.
func Sync(ctx context.Context, st Store, tr Tracker, router *Router, opts SyncOptions) (*Plan, Summary, error) {
	statuses, err := st.RecipeStatuses(ctx, opts.RunID)
	if err != nil {
		return nil, Summary{}, err
	}
	results := opts.Results
	if results == nil {
		var err error
		if results, err = st.Results(ctx, opts.RunID); err != nil {
			return nil, Summary{}, err
		}
	}
	records, err := st.IssueRecords(ctx)
	if err != nil {
		return nil, Summary{}, err
	}
	if router.Assignable == nil {
		if tr != nil {
			router.Assignable = tr.Assignable
		} else {
			router.Assignable = func(context.Context, string) (bool, error) { return true, nil }
		}
	}
	plan, err := BuildPlan(ctx, PlanInput{RunID: opts.RunID, Statuses: statuses, Results: results, Records: records,
		Labels: opts.Labels, Route: router.Route})
	if err != nil {
		return nil, Summary{}, fmt.Errorf("plan issues: %w", err)
	}
	sum := Summary{Planned: len(plan.Ops), Current: plan.Current}
	if opts.DryRun || tr == nil {
		sum.Deferred = len(plan.Ops)
		sum.Stopped = "dry run"
		if tr == nil {
			sum.Stopped = "issues.sink is none"
		}
		return plan, sum, nil
	}
	a := &Applier{Journal: st, Tracker: tr, MaxOps: opts.MaxOps, Log: opts.Log, Observer: opts.Observer}
	sum, err = a.Apply(ctx, plan)
	return plan, sum, err
}

package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/anchor"
	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/budget"
	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/daemon"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
	"github.com/evidence-auditd/evidence-auditd/internal/history"
	"github.com/evidence-auditd/evidence-auditd/internal/issues"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/registry"
	"github.com/evidence-auditd/evidence-auditd/internal/rekor"
)

// Job runs audits of one configuration. The zero value is not usable:
// Config and Log are required.
type Job struct {
	Config *config.Config
	Log    *slog.Logger
	// UserAgent is sent to registries, logs and the issue tracker.
	UserAgent string
	// Instruments, when set (serve), counts registry and log requests.
	Instruments Instruments
	// Observer, when set (serve), is told every issue operation's outcome.
	Observer issues.Observer
	// LockRetry is how often a job waiting for the audit lock retries;
	// default 15s.
	LockRetry time.Duration
}

// Request is one audit as asked for by run, serve or demo.
type Request struct {
	// AsOf is when ages are measured; zero means now.
	AsOf time.Time
	// WhatIf records the run as a what-if run (`run --as-of`): its issue
	// plan is never sent, and it is never latest, a baseline, or resumed
	// by an audit (SPEC §4).
	WhatIf bool
	Deep   bool
	// Only restricts the audit to these recipes; the run is recorded as
	// partial. A name no merged pointer uses is a UsageError.
	Only []string
	// DryRun plans the issue operations and sends none.
	DryRun bool
	// Progress receives counts as results are recorded; nil: silent.
	Progress func(done, total int)
	// Stop, when closed, starts no new pointers; those in flight finish
	// and the rest are recorded no-verdict/canceled (serve's shutdown).
	Stop <-chan struct{}
	// LockHeld says the caller (serve) already holds the audit lock for
	// the whole job.
	LockHeld bool
}

// Outcome is what one job decided, recorded and sent.
type Outcome struct {
	Run     ledger.Run
	Resumed bool
	Summary *audit.Summary
	// Degraded: the run could not decide most pointers (audit.Degraded).
	Degraded bool
	// Anchor is the run's anchor (SPEC §10); nil when it could not be
	// recorded (the job logged why).
	Anchor *anchor.Anchor
	// Plan and Issues are the issue phase; Plan is nil when no plan was
	// made (an interrupted run), Issues.Stopped says why nothing was sent.
	Plan   *issues.Plan
	Issues issues.Summary
	// Duration is the whole job, lock wait excluded.
	Duration time.Duration
}

// Audit runs one audit job (see the package documentation). An error means
// the job could not complete (exit 1), or is a UsageError (exit 2); a
// canceled ctx yields an interrupted run, not an error. Tracker failures
// never fail the job: they stay pending in the ledger's journal.
func (j *Job) Audit(ctx context.Context, req Request) (*Outcome, error) {
	cfg, log := j.Config, j.Log
	if err := os.MkdirAll(filepath.Dir(cfg.Ledger.Path), 0o750); err != nil {
		return nil, fmt.Errorf("ledger directory: %w", err)
	}
	an, err := j.newAnchorer()
	if err != nil {
		return nil, err
	}
	db, err := ledger.Open(ctx, cfg.Ledger.Path, ledger.WithAppendHook(an.Hook))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := an.Bind(ctx, db); err != nil {
		return nil, err
	}
	ctx, release, err := j.lock(ctx, db, req.LockHeld)
	if err != nil {
		return nil, err
	}
	defer release()
	start := time.Now()
	// The fast path's references are read while the history is walked;
	// on an early return the read ends before the ledger closes (Run
	// reports its error otherwise).
	preload := audit.StartPreload(ctx, db, req.Deep)
	defer func() { _, _ = preload.Wait(ctx) }()

	walked, err := j.walk(ctx, db)
	if err != nil {
		return nil, err
	}
	versions, err := db.PointerVersions(ctx, RepoKey(cfg), cfg.Repo.Ref)
	if err != nil {
		return nil, err
	}
	if err := j.checkCoverage(ctx, db, walked, versions); err != nil {
		return nil, err
	}
	if versions, err = onlyRecipes(versions, req.Only, cfg.Repo.EvidenceDir); err != nil {
		return nil, err
	}
	log.Info("history walked", "ref", cfg.Repo.Ref, "head", short(walked.head), "newVersions", walked.added, "pointerVersions", len(versions))

	verifier, err := NewVerifier(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// One memory budget for the run, drawn from by every worker for what
	// the registries and the logs send (issue 15).
	mem := budget.New(cfg.MemoryBudget)
	source, err := NewRegistryClient(cfg, j.UserAgent, j.Instruments, registry.WithBudget(mem))
	if err != nil {
		return nil, err
	}
	arch, err := NewArchive(cfg, j.UserAgent, j.Instruments, false)
	if err != nil {
		return nil, err
	}
	run, resumed, err := beginOrResume(ctx, db, cfg, req, walked.head, verifier)
	if err != nil {
		return nil, err
	}
	if resumed {
		if err := an.CheckResume(ctx, db, run.ID); err != nil {
			return nil, err
		}
	}
	j.anchorPending(ctx, db, an)
	var prior []audit.Result
	done := map[audit.VersionKey]bool{}
	if resumed {
		if prior, err = db.Results(ctx, run.ID); err != nil {
			return nil, err
		}
		for _, r := range prior {
			done[r.Key] = true
		}
		log.Info("resuming interrupted run", "run", run.ID, "alreadyRecorded", len(prior))
	}
	allow := ParseAllowlist(walked.allowlist, cfg.Repo.EvidenceDir+"/"+evidence.AllowlistFile, log)
	if err := db.PutRunInputs(ctx, run.ID, ledger.RunInputs{EvidenceDir: cfg.Repo.EvidenceDir, Allowlist: walked.allowlist, Archive: storeName(arch)}); err != nil {
		return nil, err
	}
	tlog, err := NewRekor(cfg, verifier, j.UserAgent, j.Instruments, rekor.WithStore(db), rekor.WithBudget(mem))
	if err != nil {
		return nil, err
	}
	runner := &audit.Runner{Source: source, Verifier: verifier, Ledger: db, Fallback: tlog, Monitor: tlog, Archive: arch}
	sum, err := runner.Run(ctx, versions, prior, audit.Options{
		RunID:       run.ID,
		AsOf:        run.AsOf,
		Deep:        run.Deep,
		Concurrency: cfg.Registry.Concurrency,
		EvidenceDir: cfg.Repo.EvidenceDir,
		Allowlist:   allow,
		Policy:      Policy(cfg),
		Done:        done,
		Preload:     preload,
		Progress:    req.Progress,
		Stop:        req.Stop,
	})
	if err != nil {
		return nil, err
	}
	if st := mem.Stats(); st.Total > 0 {
		log.Debug("memory budget", "bytes", st.Total, "peak", st.Peak, "waits", st.Waits, "overBudget", st.Clamped)
	}
	// Bookkeeping after cancellation must still reach the ledger.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := db.PutRecipeStatuses(wctx, run.ID, sum.Recipes); err != nil {
		return nil, err
	}
	if sum.Archive, err = db.ArchiveCoverage(wctx, run.ID); err != nil {
		return nil, err
	}
	complete := sum.Complete && len(req.Only) == 0
	if run, err = db.FinishRun(wctx, run.ID, complete, time.Time{}); err != nil {
		return nil, err
	}
	out := &Outcome{Run: run, Resumed: resumed, Summary: sum, Degraded: sum.Degraded(), Anchor: j.anchorRun(wctx, db, an, run.ID)}
	if out.Degraded {
		log.Warn("degraded run: the auditor could not decide most pointers; it is not a baseline for later reports",
			"run", run.ID, "noVerdict", sum.ByVerdict[audit.NoVerdict], "pointers", sum.Pointers)
	}

	switch {
	case !sum.Complete:
		out.Issues = issues.Summary{Stopped: "run interrupted; no issue plan"}
	default:
		// A what-if run plans what an audit at that time would file, and
		// sends none of it: it is not an audit of the present.
		dry := req.DryRun || req.WhatIf
		if out.Plan, out.Issues, err = j.syncIssues(ctx, db, run, dry, sum.Results); err != nil {
			return out, err
		}
		if req.WhatIf {
			out.Issues.Stopped = "what-if run: planned, not sent"
		}
	}
	out.Duration = time.Since(start)
	return out, nil
}

// SyncIssues plans (and unless dryRun sends) the issue operations of the
// latest complete audit run, under the audit lock: two processes never
// send the same operation (SPEC §7).
func (j *Job) SyncIssues(ctx context.Context, dryRun bool) (*issues.Plan, issues.Summary, error) {
	cfg := j.Config
	if _, err := os.Stat(cfg.Ledger.Path); err != nil {
		// Do not create an empty ledger just to find it has no run.
		return nil, issues.Summary{}, fmt.Errorf("ledger %s: %w (run `evidence-auditd run` first)", cfg.Ledger.Path, err)
	}
	db, err := ledger.Open(ctx, cfg.Ledger.Path)
	if err != nil {
		return nil, issues.Summary{}, err
	}
	defer db.Close()
	ctx, release, err := j.lock(ctx, db, false)
	if err != nil {
		return nil, issues.Summary{}, err
	}
	defer release()
	run, err := db.LatestRun(ctx, true)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, issues.Summary{}, errors.New("the ledger holds no complete run yet: run `evidence-auditd run` first")
	}
	if err != nil {
		return nil, issues.Summary{}, err
	}
	return j.syncIssues(ctx, db, run, dryRun, nil)
}

// lock takes the audit lock for the job (waiting for another holder, and
// saying whom it waits for) unless held says the caller has it. The
// returned context is canceled when the lock is lost; release ends the
// watch and releases the lock.
func (j *Job) lock(ctx context.Context, db *ledger.DB, held bool) (context.Context, func(), error) {
	if held {
		return ctx, func() {}, nil
	}
	l := &daemon.Lock{Ledger: db, Clock: daemon.SystemClock{}, Holder: daemon.LocalHolder()}
	h, err := l.Acquire(ctx, j.LockRetry, func(busy error) {
		j.Log.Warn("another evidence-auditd holds this ledger's audit lock; waiting for it (interrupt to give up)", "detail", busy.Error())
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("gave up waiting for the audit lock of %s: %w", j.Config.Ledger.Path, ctx.Err())
		}
		return nil, nil, fmt.Errorf("audit lock of %s: %w", j.Config.Ledger.Path, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-h.Lost():
			j.Log.Error("lost the audit lock (lease expired or taken over); canceling the job")
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		cancel()
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer rcancel()
		if err := h.Release(rctx); err != nil {
			j.Log.Warn("releasing the audit lock", "err", err)
		}
	}, nil
}

// walked is what an audit keeps of the history walk.
type walked struct {
	head      string // the commit the walk reached
	added     int    // pointer versions new since the previous walk
	allowlist []byte // recipes/evidence/allowlist.yaml at head; nil if absent
	hasDir    bool   // the evidence directory exists at head
}

// walk walks the merged history from where the ledger's last walk stopped
// and records what it found. The repository is closed before the audit
// starts: its object caches and the walk's file contents would otherwise
// stay in memory for the whole run.
func (j *Job) walk(ctx context.Context, db *ledger.DB) (walked, error) {
	cfg := j.Config
	repo, err := OpenRepo(ctx, cfg, false)
	if err != nil {
		return walked{}, err
	}
	defer repo.Close()
	key := RepoKey(cfg)
	from, err := db.WalkHead(ctx, key, cfg.Repo.Ref)
	if err != nil {
		return walked{}, err
	}
	delta, err := repo.Walk(ctx, history.Options{Ref: cfg.Repo.Ref, EvidenceDir: cfg.Repo.EvidenceDir, From: from})
	if err != nil {
		return walked{}, WalkError(cfg.Repo.Ref, err)
	}
	delta.Ref = cfg.Repo.Ref // the ledger keys walks by the configured name
	if delta.Rewritten {
		j.Log.Warn("the audited branch was rewritten since the last walk; re-walked from the root", "ref", cfg.Repo.Ref, "lastHead", from)
	}
	hasDir, err := repo.IsDir(ctx, delta.Head, cfg.Repo.EvidenceDir)
	if err != nil {
		return walked{}, err
	}
	if err := db.ApplyWalk(ctx, key, delta); err != nil {
		return walked{}, err
	}
	allow := AllowlistBytes(ctx, repo, cfg, delta.Head, j.Log)
	return walked{head: delta.Head, added: len(delta.Added), allowlist: allow, hasDir: hasDir}, nil
}

// checkCoverage refuses to audit what cannot be the configured evidence
// (SPEC §4): a mistyped repo.evidenceDir must never produce a clean report.
// The evidence directory must exist at the walked head unless the history
// never had pointers, and a history that had pointers in the previous
// complete audit must still have some.
func (j *Job) checkCoverage(ctx context.Context, db *ledger.DB, w walked, versions []audit.PointerVersion) error {
	cfg := j.Config
	if len(versions) > 0 && w.hasDir {
		return nil
	}
	prevPointers := 0
	if prev, err := db.LatestRun(ctx, true); err == nil {
		if prevPointers, _, err = db.RunCounts(ctx, prev.ID); err != nil {
			return err
		}
	} else if !errors.Is(err, ledger.ErrNotFound) {
		return err
	}
	switch {
	case !w.hasDir && (len(versions) > 0 || prevPointers > 0):
		// Pointers were merged (or audited before) but the directory is
		// gone at head: every pointer was deleted, or the branch is not
		// the one meant. Either way not a clean bill of health.
		return fmt.Errorf("the evidence directory %s does not exist at %s@%s, although %d pointer versions were merged under it before: "+
			"check repo.evidenceDir and repo.ref; the run was not recorded", cfg.Repo.EvidenceDir, cfg.Repo.Ref, short(w.head), max(len(versions), prevPointers))
	case !w.hasDir:
		return fmt.Errorf("the evidence directory %s does not exist at %s@%s and never held a pointer: check repo.evidenceDir (e.g. recipes/evidence) and repo.ref; the run was not recorded",
			cfg.Repo.EvidenceDir, cfg.Repo.Ref, short(w.head))
	case len(versions) == 0 && prevPointers > 0:
		return fmt.Errorf("no pointer was ever merged under %s on %s, but the previous complete run audited %d: check repo.evidenceDir, repo.ref and repo.path; the run was not recorded",
			cfg.Repo.EvidenceDir, cfg.Repo.Ref, prevPointers)
	}
	return nil
}

// beginOrResume resumes the newest unfinished run when it audited the same
// repository, branch head, trusted root, mode and kind (a crash or kill -9
// left it; a what-if run only by a what-if run at the same time); any
// other unfinished run is closed as incomplete and a new one begun.
func beginOrResume(ctx context.Context, db *ledger.DB, cfg *config.Config, req Request, head string, v audit.Verifier) (ledger.Run, bool, error) {
	opts, _ := json.Marshal(struct {
		Deep bool     `json:"deep"`
		Only []string `json:"only,omitempty"`
	}{req.Deep, req.Only})
	kind := ledger.KindAudit
	if req.WhatIf {
		kind = ledger.KindWhatIf
	}
	meta := ledger.RunMeta{
		Repo: RepoKey(cfg), Ref: cfg.Repo.Ref, Commit: head, AsOf: req.AsOf, Kind: kind,
		TrustRoot: v.TrustRoot(), VerifierVersion: v.Version(), Deep: req.Deep, Options: string(opts),
	}
	prev, err := db.IncompleteRun(ctx)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
	case err != nil:
		return ledger.Run{}, false, err
	case prev.Repo == meta.Repo && prev.Ref == meta.Ref && prev.Commit == meta.Commit && prev.Kind == meta.Kind &&
		prev.TrustRoot == meta.TrustRoot && prev.VerifierVersion == meta.VerifierVersion &&
		prev.Deep == meta.Deep && prev.Options == meta.Options &&
		(req.AsOf.IsZero() && kind == ledger.KindAudit || req.AsOf.Equal(prev.AsOf)):
		return prev, true, nil
	default:
		if _, err := db.FinishRun(ctx, prev.ID, false, time.Time{}); err != nil {
			return ledger.Run{}, false, err
		}
	}
	if meta.AsOf.IsZero() {
		meta.AsOf = time.Now().UTC()
	}
	run, err := db.BeginRun(ctx, meta)
	return run, false, err
}

// onlyRecipes keeps the versions of the named recipes (all when none
// named). A name that no merged pointer uses is a UsageError naming the
// closest known recipes: a typo must not silently audit less.
func onlyRecipes(vs []audit.PointerVersion, only []string, evidenceDir string) ([]audit.PointerVersion, error) {
	if len(only) == 0 {
		return vs, nil
	}
	want := map[string]bool{}
	for _, r := range only {
		want[r] = true
	}
	known := map[string]bool{}
	var out []audit.PointerVersion
	for _, v := range vs {
		info, _ := audit.Describe(v, evidenceDir, nil)
		known[info.Recipe] = true
		if want[info.Recipe] {
			out = append(out, v)
		}
	}
	var unknown []string
	for _, r := range only {
		if !known[r] && !slices.Contains(unknown, r) {
			unknown = append(unknown, r)
		}
	}
	if len(unknown) == 0 {
		return out, nil
	}
	names := make([]string, 0, len(known))
	for r := range known {
		if r != "" {
			names = append(names, r)
		}
	}
	sort.Strings(names)
	hint := "no recipe has merged pointers"
	if len(names) > 0 {
		if len(names) > 12 {
			names = append(names[:12], "…")
		}
		hint = "known recipes: " + strings.Join(names, ", ")
	}
	return nil, Usage(fmt.Errorf("--only %s: no merged pointer is for %s (%s)", strings.Join(unknown, ", "), plural(len(unknown), "this recipe", "these recipes"), hint))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

package audit

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

// Ledger is what a run needs from the ledger; internal/ledger satisfies it.
type Ledger interface {
	// RecordBatch records a group commit — the Sigstore bundles and
	// statements of verified bundles to cache (SPEC §6), the archive copies
	// written and checked (SPEC §9), and the results to chain into the run —
	// in one transaction: all or none.
	RecordBatch(ctx context.Context, runID int64, b Batch) error
	// LastVerifications returns, per pointer version, the newest full
	// verification whose bundle is cached: the fast path's references.
	LastVerifications(ctx context.Context) (map[VersionKey]LastVerification, error)
	// ArchivedBundles returns the ledger's records of the bundles the
	// archive store holds, by summary digest (SPEC §9).
	ArchivedBundles(ctx context.Context, store string) (map[string]ArchivedBundle, error)
	// RecordArchived records bundles an Archive has written, all or none;
	// recording a bundle already recorded for its store is a no-op.
	RecordArchived(ctx context.Context, bs []ArchivedBundle) error
}

// Batch is one group commit of a run's recorder.
type Batch struct {
	Bundles  []CachedBundle
	Archived []ArchivedBundle
	Results  []Result
}

// LastVerification is the reference the fast path compares against.
type LastVerification struct {
	Result          Result // the newest deep result for the pointer version
	TrustRoot       string
	VerifierVersion string
	VerifiedAt      time.Time
	LayerDigest     string
	ReferrerDigest  string
	OCI             string // the locator the verification fetched from
}

// CachedBundle is what the ledger keeps of a verified bundle.
type CachedBundle struct {
	Digest          string
	BundleJSON      []byte
	StatementJSON   []byte
	TrustRoot       string
	VerifierVersion string
	VerifiedAt      time.Time
	LogIndex        int64
	IntegratedTime  time.Time
	LayerDigest     string
	ReferrerDigest  string
	OCI             string
}

// Fallback proves what the transparency log still shows when the registry
// lost a bundle (SPEC §1.3). It returns a Verification whose verdict is
// RekorOnly, Invalid (not-found, signature, identity) or NoVerdict.
type Fallback interface {
	Prove(ctx context.Context, want Expectation, lost error) Verification
}

// LogMonitor checks, once per run, that each transparency log the run
// relied on is consistent with what earlier runs saw (DESIGN step 4): a log
// that rewound or forked is a run-level finding. It returns one line per
// finding; an unreachable log is not a finding.
type LogMonitor interface {
	CheckConsistency(ctx context.Context, runID int64) []string
}

// Runner audits pointer versions. Source, Verifier and Ledger are required;
// Fallback is optional (without it, lost bytes are invalid/not-found), and
// so are Monitor and Archive (without it, nothing is archived and lost
// bytes go straight to the Fallback).
type Runner struct {
	Source   Source
	Verifier Verifier
	Ledger   Ledger
	Fallback Fallback
	Monitor  LogMonitor
	Archive  Archive
	// Now is the wall clock; nil means time.Now.
	Now func() time.Time
}

// Options configure one run.
type Options struct {
	RunID       int64
	AsOf        time.Time // ages are measured here; zero means Now
	Deep        bool      // full verification of every pointer, no fast path
	Concurrency int       // pointers in flight; <1 means 1
	EvidenceDir string
	Allowlist   *evidence.Allowlist
	Policy      Policy
	// Done lists versions that already have a result in this run (a resumed
	// run); they are skipped.
	Done map[VersionKey]bool
	// Progress, when set, is called after each recorded result.
	Progress func(done, total int)
	// Stop, when closed, starts no new pointers: those in flight finish,
	// the rest are recorded no-verdict/canceled (a graceful shutdown).
	Stop <-chan struct{}
	// Preload, when set, is the fast path's references read ahead of Run
	// (StartPreload); Run reads them itself when nil or made for a deep
	// run.
	Preload *Preload
	// Recopy names bundles whose archived copy is damaged: a healthy full
	// verification copies them again although the ledger records them
	// (`archive backfill --repair`).
	Recopy map[string]bool

	// last holds the fast path's references, loaded once per run.
	last map[VersionKey]LastVerification
	// archived holds the ledger's archive records for the Runner's
	// Archive, loaded once per run; put remembers the digests archived
	// during the run, so that two pointers naming one bundle copy it once.
	archived map[string]ArchivedBundle
	put      *sync.Map
}

// Summary counts what a run decided.
type Summary struct {
	Pointers  int
	ByVerdict map[Verdict]int
	ByAge     map[Age]int
	Recipes   []RecipeStatus
	// Results are the run's results without their Checks and Phases: the
	// ledger holds those (Ledger.Results, the reports).
	Results []Result
	// LogFindings are run-level findings about the transparency logs
	// (a rewound or forked log); each is a finding for exit code 3.
	LogFindings []string
	// Complete is false when the run was canceled before every pointer had
	// a decided result.
	Complete bool
	// Archived counts the bundles this run copied into the archive.
	Archived int
	// Archive is the run's archive coverage; Run leaves it zero for the
	// caller to fill from the ledger (one definition: the report's).
	Archive ArchiveCoverage
}

// Findings reports whether the run has findings for exit code 3 (SPEC §4):
// any archived, rekor-only or invalid verdict, or a recipe past the expiry
// cutoff.
func (s *Summary) Findings() bool {
	for v, n := range s.ByVerdict {
		if n > 0 && v.Finding() {
			return true
		}
	}
	if len(s.LogFindings) > 0 {
		return true
	}
	for _, r := range s.Recipes {
		if r.Reason == ReasonExpired {
			return true
		}
	}
	return false
}

// Degraded reports whether a run that recorded total results could not
// decide most of them (more than half no-verdict: a registry or log outage,
// a revoked credential). Such a run is recorded, but it is no picture of
// the evidence: it is never a report's baseline, and its report and
// summary say so first (SPEC §4).
func Degraded(total, noVerdict int) bool { return total > 0 && 2*noVerdict > total }

// Degraded is Degraded for the run's results.
func (s *Summary) Degraded() bool { return Degraded(s.Pointers, s.ByVerdict[NoVerdict]) }

// Run audits versions and records each result as it completes, so a killed
// run loses nothing it finished. prior holds results recorded by an earlier
// attempt of the same run (resume); they count in the summary. A canceled
// context records every pointer not yet decided as no-verdict/canceled and
// returns the summary with Complete false, not an error. An error means the
// run could not go on (the ledger failed).
func (r *Runner) Run(ctx context.Context, versions []PointerVersion, prior []Result, opts Options) (*Summary, error) {
	if r.Source == nil || r.Verifier == nil || r.Ledger == nil {
		return nil, errors.New("audit: runner needs a source, a verifier and a ledger")
	}
	if opts.AsOf.IsZero() {
		opts.AsOf = r.now()
	}
	if opts.Concurrency < 1 {
		opts.Concurrency = 1
	}
	var todo []PointerVersion
	for _, v := range versions {
		if !opts.Done[v.Key] {
			todo = append(todo, v)
		}
	}

	if !opts.Deep {
		pre := opts.Preload
		if pre == nil || pre.deep {
			pre = StartPreload(ctx, r.Ledger, false)
		}
		last, err := pre.Wait(ctx)
		if err != nil {
			return nil, err
		}
		opts.last = last
	}
	if err := r.loadArchived(ctx, &opts); err != nil {
		return nil, err
	}
	rec := newRecorder(ctx, r.Ledger, opts, len(prior)+len(todo))
	for _, res := range prior {
		rec.results = append(rec.results, summarized(res))
	}
	rec.done = len(prior)
	go rec.loop()

	// The workers stop early only when the ledger failed; a canceled run
	// goes on recording what it did not reach as canceled.
	g, gctx := errgroup.WithContext(rec.ctx)
	g.SetLimit(opts.Concurrency)
	for _, v := range todo {
		if gctx.Err() != nil && ctx.Err() == nil {
			break // the ledger failed; rec.wait reports it
		}
		if gctx.Err() != nil || stopped(opts.Stop) {
			rec.submit(recorded{res: r.canceled(v, opts)})
			continue
		}
		g.Go(func() error {
			// g.Go may have waited for a free slot while Stop closed.
			if stopped(opts.Stop) {
				rec.submit(recorded{res: r.canceled(v, opts)})
				return nil
			}
			rec.submit(r.auditOne(gctx, v, opts))
			return nil
		})
	}
	g.Wait()
	results, err := rec.wait()
	if err != nil {
		return nil, err
	}

	s := &Summary{
		Pointers:  len(results),
		ByVerdict: map[Verdict]int{},
		ByAge:     map[Age]int{},
		Results:   results,
		Complete:  true,
		Archived:  rec.archived,
	}
	live := map[VersionKey]bool{}
	for _, v := range versions {
		if v.RemovedCommit == "" {
			live[v.Key] = true
		}
	}
	for _, res := range results {
		s.ByVerdict[res.Verdict]++
		s.ByAge[res.Age]++
		if res.Verdict == NoVerdict && res.Class == ClassCanceled {
			s.Complete = false
		}
	}
	s.Recipes = RecipeStatuses(results, live)
	if r.Monitor != nil && ctx.Err() == nil {
		s.LogFindings = r.Monitor.CheckConsistency(ctx, opts.RunID)
	}
	return s, nil
}

// stopped reports whether stop is closed (never, for a nil channel).
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// canceled is the result of a pointer the run never got to.
func (r *Runner) canceled(v PointerVersion, opts Options) Result {
	res := r.base(v)
	res.Verdict, res.Class = NoVerdict, ClassCanceled
	res.Detail = "the run was canceled before this pointer was audited; it is retried next run"
	r.finishAge(&res, v, nil, nil, opts)
	return res
}

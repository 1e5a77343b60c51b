package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/daemon"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
	"github.com/evidence-auditd/evidence-auditd/internal/history"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/registry"
	"github.com/evidence-auditd/evidence-auditd/internal/rekor"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

// auditRequest is one audit as asked for by run, serve or demo.
type auditRequest struct {
	AsOf time.Time // zero: now
	Deep bool
	Only []string // recipes; empty: all
	// Progress receives counts as results are recorded; nil: silent.
	Progress func(done, total int)
	// Stop, when closed, starts no new pointers; those in flight finish
	// and the rest are recorded no-verdict/canceled (serve's shutdown).
	Stop <-chan struct{}
	// LockHeld says the caller (serve) already holds the audit lock.
	LockHeld bool
	// Metrics, when set (serve), counts registry and log requests.
	Metrics *daemon.Metrics
}

// auditOutcome is what one audit decided and recorded.
type auditOutcome struct {
	Run     ledger.Run
	Resumed bool
	Summary *audit.Summary
}

// runAudit walks the history into the ledger, audits every merged pointer
// version (resuming an interrupted run of the same commit), and records
// the run's end. An error means the audit could not complete (exit 1); a
// canceled context yields an incomplete run, not an error.
func runAudit(ctx context.Context, cfg *config.Config, log *slog.Logger, req auditRequest) (*auditOutcome, error) {
	if err := os.MkdirAll(filepath.Dir(cfg.Ledger.Path), 0o750); err != nil {
		return nil, fmt.Errorf("ledger directory: %w", err)
	}
	db, err := ledger.Open(ctx, cfg.Ledger.Path)
	if err != nil {
		return nil, err
	}
	defer db.Close()

	if !req.LockHeld {
		// One audit at a time per ledger, also against a serve or a CronJob
		// sharing it (SPEC §8).
		held, err := (&daemon.Lock{Ledger: db, Clock: daemon.SystemClock{}, Holder: daemon.LocalHolder()}).TryAcquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("another audit is running on ledger %s: %w", cfg.Ledger.Path, err)
		}
		defer held.Release(context.WithoutCancel(ctx))
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-held.Lost():
				log.Error("lost the audit lock (lease expired or taken over); canceling the audit")
				cancel()
			case <-ctx.Done():
			}
		}()
	}

	key := repoKey(cfg)
	walked, err := walkIntoLedger(ctx, cfg, db, log)
	if err != nil {
		return nil, err
	}
	versions, err := db.PointerVersions(ctx, key, cfg.Repo.Ref)
	if err != nil {
		return nil, err
	}
	versions = onlyRecipes(versions, req.Only, cfg.Repo.EvidenceDir)
	log.Info("history walked", "ref", cfg.Repo.Ref, "head", short(walked.head), "newVersions", walked.added, "pointerVersions", len(versions))

	verifier, err := newVerifier(ctx, cfg)
	if err != nil {
		return nil, err
	}
	source, err := newRegistryClient(cfg, req.Metrics)
	if err != nil {
		return nil, err
	}

	run, resumed, err := beginOrResume(ctx, db, cfg, req, walked.head, verifier)
	if err != nil {
		return nil, err
	}
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

	allow := parseAllowlist(walked.allowlist, cfg.Repo.EvidenceDir+"/"+evidence.AllowlistFile, log)
	if err := db.PutRunInputs(ctx, run.ID, ledger.RunInputs{EvidenceDir: cfg.Repo.EvidenceDir, Allowlist: walked.allowlist}); err != nil {
		return nil, err
	}
	rekorOpts := []rekor.Option{rekor.WithStore(db)}
	if req.Metrics != nil {
		rekorOpts = append(rekorOpts, rekor.WithTransport(req.Metrics.InstrumentTransport("rekor", http.DefaultTransport)))
	}
	tlog, err := newRekor(cfg, verifier, rekorOpts...)
	if err != nil {
		return nil, err
	}
	runner := &audit.Runner{Source: source, Verifier: verifier, Ledger: db, Fallback: tlog, Monitor: tlog}
	sum, err := runner.Run(ctx, versions, prior, audit.Options{
		RunID:       run.ID,
		AsOf:        run.AsOf,
		Deep:        run.Deep,
		Concurrency: cfg.Registry.Concurrency,
		EvidenceDir: cfg.Repo.EvidenceDir,
		Allowlist:   allow,
		Policy:      policyOf(cfg),
		Done:        done,
		Progress:    req.Progress,
		Stop:        req.Stop,
	})
	if err != nil {
		return nil, err
	}
	// Bookkeeping after cancellation must still reach the ledger.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := db.PutRecipeStatuses(wctx, run.ID, sum.Recipes); err != nil {
		return nil, err
	}
	complete := sum.Complete && len(req.Only) == 0
	if run, err = db.FinishRun(wctx, run.ID, complete, time.Time{}); err != nil {
		return nil, err
	}
	return &auditOutcome{Run: run, Resumed: resumed, Summary: sum}, nil
}

// walked is what an audit keeps of the history walk.
type walked struct {
	head      string // the commit the walk reached
	added     int    // pointer versions new since the previous walk
	allowlist []byte // recipes/evidence/allowlist.yaml at head; nil if absent
}

// walkIntoLedger walks the merged history from where the ledger's last walk
// stopped and records what it found. The repository is closed before the
// audit starts: its object caches and the walk's file contents would
// otherwise stay in memory for the whole run.
func walkIntoLedger(ctx context.Context, cfg *config.Config, db *ledger.DB, log *slog.Logger) (walked, error) {
	repo, err := openRepo(ctx, cfg, false)
	if err != nil {
		return walked{}, err
	}
	defer repo.Close()
	key := repoKey(cfg)
	from, err := db.WalkHead(ctx, key, cfg.Repo.Ref)
	if err != nil {
		return walked{}, err
	}
	delta, err := repo.Walk(ctx, history.Options{Ref: cfg.Repo.Ref, EvidenceDir: cfg.Repo.EvidenceDir, From: from})
	if err != nil {
		return walked{}, walkErr(cfg.Repo.Ref, err)
	}
	delta.Ref = cfg.Repo.Ref // the ledger keys walks by the configured name
	if delta.Rewritten {
		log.Warn("the audited branch was rewritten since the last walk; re-walked from the root", "ref", cfg.Repo.Ref, "lastHead", from)
	}
	if err := db.ApplyWalk(ctx, key, delta); err != nil {
		return walked{}, err
	}
	allow := allowlistBytes(ctx, repo, cfg, delta.Head, log)
	return walked{head: delta.Head, added: len(delta.Added), allowlist: allow}, nil
}

// beginOrResume resumes the newest unfinished run when it audited the same
// repository, branch head, trusted root and mode (a crash or kill -9 left
// it); any other unfinished run is closed as incomplete and a new one begun.
func beginOrResume(ctx context.Context, db *ledger.DB, cfg *config.Config, req auditRequest, head string, v audit.Verifier) (ledger.Run, bool, error) {
	opts, _ := json.Marshal(struct {
		Deep bool     `json:"deep"`
		Only []string `json:"only,omitempty"`
	}{req.Deep, req.Only})
	meta := ledger.RunMeta{
		Repo: repoKey(cfg), Ref: cfg.Repo.Ref, Commit: head, AsOf: req.AsOf,
		TrustRoot: v.TrustRoot(), VerifierVersion: v.Version(), Deep: req.Deep, Options: string(opts),
	}
	prev, err := db.IncompleteRun(ctx)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
	case err != nil:
		return ledger.Run{}, false, err
	case prev.Repo == meta.Repo && prev.Ref == meta.Ref && prev.Commit == meta.Commit &&
		prev.TrustRoot == meta.TrustRoot && prev.VerifierVersion == meta.VerifierVersion &&
		prev.Deep == meta.Deep && prev.Options == meta.Options && (req.AsOf.IsZero() || req.AsOf.Equal(prev.AsOf)):
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

// onlyRecipes keeps the versions of the named recipes (all when none named).
func onlyRecipes(vs []audit.PointerVersion, only []string, evidenceDir string) []audit.PointerVersion {
	if len(only) == 0 {
		return vs
	}
	want := map[string]bool{}
	for _, r := range only {
		want[r] = true
	}
	var out []audit.PointerVersion
	for _, v := range vs {
		info, _ := audit.Describe(v, evidenceDir, nil)
		if want[info.Recipe] {
			out = append(out, v)
		}
	}
	return out
}

func policyOf(cfg *config.Config) audit.Policy {
	return audit.Policy{
		WarnAfterMonths:   cfg.Policy.WarnAfterMonths,
		ExpireAfterMonths: cfg.Policy.ExpireAfterMonths,
		DeepEvery:         time.Duration(cfg.Policy.DeepEvery),
		FailUnlisted:      cfg.Policy.FailUnlisted,
	}
}

// newVerifier loads the configured trusted root: a private trusted_root.json,
// or the public-good root through TUF with its cache under dataDir.
func newVerifier(ctx context.Context, cfg *config.Config) (*verify.Verifier, error) {
	var (
		tr  *verify.TrustedRoot
		err error
	)
	if cfg.Trust.TrustedRoot != "" {
		tr, err = verify.LoadTrustedRoot(cfg.Trust.TrustedRoot)
	} else {
		tr, err = verify.PublicGood(ctx, filepath.Join(cfg.DataDir, "tuf"))
	}
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	return verify.New(tr)
}

// newRekor is the transparency-log fallback and monitor at rekor.url,
// checked against the verifier's trusted root, re-verifying the ledger's
// cached bundles with the verifier (DESIGN "rekor fallback").
func newRekor(cfg *config.Config, v *verify.Verifier, opts ...rekor.Option) (*rekor.Log, error) {
	opts = append([]rekor.Option{
		rekor.WithCachedVerifier(v),
		rekor.WithUserAgent("evidence-auditd/" + version),
	}, opts...)
	l, err := rekor.New(cfg.Rekor.URL, v.TrustedMaterial(), opts...)
	if err != nil {
		return nil, fmt.Errorf("rekor.url: %w", err)
	}
	return l, nil
}

// newRegistryClient is the OCI client of the configuration; with metrics,
// every request is counted and timed.
func newRegistryClient(cfg *config.Config, metrics *daemon.Metrics) (*registry.Client, error) {
	var wrap func(http.RoundTripper) http.RoundTripper
	if metrics != nil {
		wrap = func(rt http.RoundTripper) http.RoundTripper { return metrics.InstrumentTransport("registry", rt) }
	}
	return registry.New(
		registry.WithTransportWrapper(wrap),
		registry.WithPlainHTTP(cfg.Registry.PlainHTTP...),
		registry.WithAllowedHosts(cfg.Registry.Allow...),
		registry.AllowPrivateNetworksUnsafe(cfg.Registry.AllowPrivateNetworks),
		registry.WithTimeout(time.Duration(cfg.Registry.Timeout)),
		registry.WithLimits(registry.Limits{Layer: cfg.Registry.MaxLayerBytes}),
		registry.WithUserAgent("evidence-auditd/"+version),
	)
}

// progressPrinter renders done/total, rate and ETA on a terminal, and
// nothing otherwise (STYLE "Output").
func progressPrinter(w *os.File) func(done, total int) {
	if fi, err := w.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	start := time.Now()
	var last time.Time
	return func(done, total int) {
		now := time.Now()
		if done < total && now.Sub(last) < 200*time.Millisecond {
			return
		}
		last = now
		rate := float64(done) / now.Sub(start).Seconds()
		eta := "?"
		if rate > 0 {
			eta = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second).String()
		}
		fmt.Fprintf(w, "\raudited %d/%d pointers, %.0f/s, ETA %s   ", done, total, rate, eta)
		if done == total {
			io.WriteString(w, "\n")
		}
	}
}

package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// RunStats is what a Job reports about the run it did.
type RunStats struct {
	RunID int64
	// Complete is true when every pointer got a decided result; false when
	// the run was canceled (the rest recorded no-verdict/canceled).
	Complete bool
	// Findings is true when the run has findings (SPEC §4 exit 3).
	Findings  bool
	ByVerdict map[string]int // pointer versions by verdict
	ByAge     map[string]int // pointer versions by age
	// Archive is the run's archive coverage (SPEC §9).
	Archive audit.ArchiveCoverage
	// Anchor is the run's anchor (SPEC §10); the zero value when none was
	// written.
	Anchor AnchorStats
}

// AnchorStats is what the daemon logs and exports of a run's anchor: never
// a key or a token, only the head and who signed.
type AnchorStats struct {
	RunID    int64  // the anchored run; 0: no anchor
	Head     string // the anchored head, sha256:<hex>
	SignedBy string // "" unsigned
	LogIndex int64  // -1 not logged
}

// Result classifies the run for evidence_auditd_runs_total.
func (s RunStats) Result() string {
	switch {
	case !s.Complete:
		return ResultInterrupted
	case s.Findings:
		return ResultFindings
	}
	return ResultHealthy
}

// StatsOf summarizes an audit summary for the daemon.
func StatsOf(runID int64, s *audit.Summary) RunStats {
	st := RunStats{RunID: runID, Complete: s.Complete, Findings: s.Findings(), ByVerdict: map[string]int{}, ByAge: map[string]int{}, Archive: s.Archive}
	for v, n := range s.ByVerdict {
		st.ByVerdict[string(v)] = n
	}
	for a, n := range s.ByAge {
		st.ByAge[string(a)] = n
	}
	return st
}

// Job runs one audit. stop is closed when the daemon begins to shut down:
// the job should start no new work and let what is in flight finish. A
// canceled ctx (the end of the grace period) must yield an incomplete run
// (RunStats.Complete false), not an error; an error means the audit could
// not complete (operational failure).
type Job func(ctx context.Context, stop <-chan struct{}) (RunStats, error)

// Ledger is what the daemon reads and locks in the ledger; *ledger.DB
// satisfies it. The job opens the ledger on its own.
type Ledger interface {
	LeaseLedger
	LatestRun(ctx context.Context, completeOnly bool) (ledger.Run, error)
	Results(ctx context.Context, runID int64) ([]audit.Result, error)
	ArchiveCoverage(ctx context.Context, runID int64) (audit.ArchiveCoverage, error)
}

// Options configure a Daemon. Schedule, Job and Ledger are required.
type Options struct {
	Schedule string // config.CronParser syntax
	Job      Job
	Ledger   Ledger
	Log      *slog.Logger // nil: discard
	Metrics  *Metrics     // nil: a new private registry
	Clock    Clock        // nil: SystemClock
	Holder   *Holder      // nil: LocalHolder()

	// ShutdownGrace is how long an in-flight audit may go on after ctx is
	// canceled; default 30s. The job's context is canceled when a quarter
	// of it (at most 10s) is left, so that recording the rest as canceled
	// and closing the run fit within it.
	ShutdownGrace time.Duration
	// LeaseTTL is the lease lifetime without heartbeat; default 2m.
	LeaseTTL time.Duration
	// LockRetry is how often a daemon waiting for the lock retries; default 15s.
	LockRetry time.Duration
	// MaxSleep caps one wait for the next slot so that wall-clock jumps
	// (suspend, NTP steps) are noticed; default 1m.
	MaxSleep time.Duration

	// HeartbeatURL, when set, gets a GET after each complete run.
	HeartbeatURL string
	// HTTPClient sends the heartbeat; nil: a client with a 10s timeout.
	HTTPClient *http.Client
}

// Daemon is the scheduled audit loop.
type Daemon struct {
	o     Options
	sched cron.Schedule
	lock  *Lock
	log   *slog.Logger
	m     *Metrics

	mu      sync.Mutex
	lastErr error // the last run's operational error, for /readyz
	next    time.Time
}

// New validates the options and parses the schedule; it starts nothing.
func New(o Options) (*Daemon, error) {
	if o.Job == nil || o.Ledger == nil {
		return nil, errors.New("daemon: a job and a ledger are required")
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	sched, err := config.ParseSchedule(o.Schedule, o.Clock.Now())
	if err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.Holder == nil {
		h := LocalHolder()
		o.Holder = &h
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 30 * time.Second
	}
	if o.LockRetry <= 0 {
		o.LockRetry = 15 * time.Second
	}
	if o.MaxSleep <= 0 {
		o.MaxSleep = time.Minute
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	d := &Daemon{o: o, sched: sched, log: o.Log, m: o.Metrics}
	d.lock = &Lock{Ledger: o.Ledger, Clock: o.Clock, Holder: *o.Holder, TTL: o.LeaseTTL}
	return d, nil
}

// Metrics returns the daemon's metrics.
func (d *Daemon) Metrics() *Metrics { return d.m }

// Ready reports the last run's operational failure, nil when it did not fail
// (or none ran yet).
func (d *Daemon) Ready() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lastErr != nil {
		return fmt.Errorf("last run failed: %w", d.lastErr)
	}
	return nil
}

// Next is the next scheduled run (zero before Run computed it).
func (d *Daemon) Next() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.next
}

// Run loops until ctx is canceled: one catch-up run when due, then a run at
// every scheduled slot. On cancellation it lets an in-flight audit go on for
// the grace period, then cancels it and waits for it. It returns nil after
// a clean shutdown and an error only when it could not start.
func (d *Daemon) Run(ctx context.Context) error {
	d.seedMetrics(ctx)
	if reason, err := d.catchUpReason(ctx); err != nil {
		return fmt.Errorf("catch-up check: %w", err)
	} else if reason != "" {
		d.log.Info("catching up", "reason", reason)
		d.runOnce(ctx, time.Time{})
	}
	for ctx.Err() == nil {
		next := d.sched.Next(d.o.Clock.Now())
		d.mu.Lock()
		d.next = next
		d.mu.Unlock()
		d.m.nextRun.Set(unix(next))
		d.log.Info("next run scheduled", "at", next.Format(time.RFC3339), "in", next.Sub(d.o.Clock.Now()).Round(time.Second).String())
		if !d.sleepUntil(ctx, next) {
			break
		}
		d.runOnce(ctx, next)
	}
	d.log.Info("daemon stopped")
	return nil
}

// sleepUntil waits for t on the clock, in steps of at most MaxSleep so that
// a wall-clock jump is noticed; false when ctx ended first.
func (d *Daemon) sleepUntil(ctx context.Context, t time.Time) bool {
	for {
		wait := t.Sub(d.o.Clock.Now())
		if wait <= 0 {
			return true
		}
		timer := d.o.Clock.NewTimer(min(wait, d.o.MaxSleep))
		select {
		case <-ctx.Done():
			timer.Stop()
			return false
		case <-timer.C():
		}
	}
}

// catchUpReason says why a run is due at start, or "" when none is.
func (d *Daemon) catchUpReason(ctx context.Context) (string, error) {
	last, err := d.o.Ledger.LatestRun(ctx, false)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		return "the ledger records no run yet", nil
	case err != nil:
		return "", err
	case !last.Finished:
		return fmt.Sprintf("run %d never finished (crashed or killed)", last.ID), nil
	case !last.Complete:
		return fmt.Sprintf("run %d is incomplete", last.ID), nil
	}
	if slot := d.sched.Next(last.StartedAt); !slot.After(d.o.Clock.Now()) {
		return fmt.Sprintf("the run scheduled for %s was missed (last run %d started %s)",
			slot.Format(time.RFC3339), last.ID, last.StartedAt.Format(time.RFC3339)), nil
	}
	return "", nil
}

// runOnce takes the lock (waiting for it), re-checks that the run is still
// due, and runs the job. slot is the scheduled time, zero for a catch-up.
func (d *Daemon) runOnce(ctx context.Context, slot time.Time) {
	held := d.acquire(ctx)
	if held == nil {
		return // shutting down
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := held.Release(rctx); err != nil {
			d.log.Warn("releasing the audit lock", "err", err)
		}
	}()
	if ctx.Err() != nil {
		return
	}
	// Another process may have audited while this one waited for the lock.
	if slot.IsZero() {
		if reason, err := d.catchUpReason(ctx); err == nil && reason == "" {
			d.log.Info("catch-up no longer needed: another process audited meanwhile")
			return
		}
	} else if last, err := d.o.Ledger.LatestRun(ctx, true); err == nil && !last.StartedAt.Before(slot) {
		d.log.Info("slot already audited by another process", "slot", slot.Format(time.RFC3339), "run", last.ID)
		return
	}
	if ctx.Err() != nil {
		return // shutting down: start nothing new
	}

	jctx, cancelJob := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJob()
	done := make(chan struct{})
	drain := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		d.watch(ctx, held, done, drain, cancelJob)
	}()

	start := d.o.Clock.Now()
	d.m.inProgress.Set(1)
	d.log.Info("audit started", "slot", slotString(slot))
	st, err := d.o.Job(jctx, drain)
	close(done)
	<-watched
	end := d.o.Clock.Now()
	d.m.inProgress.Set(0)
	d.m.Progress(0, 0)

	d.mu.Lock()
	d.lastErr = err
	d.mu.Unlock()
	if err != nil {
		d.m.runEnded(ResultFailed, end.Sub(start), end, nil)
		d.log.Error("audit failed", "err", err, "duration", end.Sub(start).Round(time.Millisecond).String())
		return
	}
	d.m.runEnded(st.Result(), end.Sub(start), end, &st)
	attrs := []any{"run", st.RunID, "result", st.Result(), "duration", end.Sub(start).Round(time.Millisecond).String()}
	if a := st.Anchor; a.RunID > 0 {
		signedBy := a.SignedBy
		if signedBy == "" {
			signedBy = "unsigned"
		}
		attrs = append(attrs, "anchoredRun", a.RunID, "head", a.Head, "signedBy", signedBy, "logIndex", a.LogIndex)
	}
	d.log.Info("audit finished", attrs...)
	if st.Complete && d.o.HeartbeatURL != "" {
		d.ping(ctx)
	}
}

// acquire waits for the audit lock; nil when ctx ended first. A failure
// other than a busy lock (the ledger or the lock file) is logged and
// retried like a busy lock: the daemon keeps its schedule.
func (d *Daemon) acquire(ctx context.Context) *Held {
	waited := false
	for {
		held, err := d.lock.Acquire(ctx, d.o.LockRetry, func(busy error) {
			waited = true
			d.m.lockWaits.Inc()
			d.log.Warn("another evidence-auditd is auditing this ledger; waiting for it", "detail", busy.Error(), "retryEvery", d.o.LockRetry.String())
		})
		switch {
		case err == nil:
			if waited {
				d.log.Info("got the audit lock")
			}
			return held
		case ctx.Err() != nil:
			return nil
		}
		d.log.Error("taking the audit lock", "err", err)
		t := d.o.Clock.NewTimer(d.o.LockRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
	}
}

// watch cancels the job when the lock is lost; on shutdown it closes drain
// at once (no new work) and cancels the job when the grace period is nearly
// over.
func (d *Daemon) watch(ctx context.Context, held *Held, done <-chan struct{}, drain chan<- struct{}, cancel context.CancelFunc) {
	select {
	case <-done:
		return
	case <-held.Lost():
		d.log.Error("lost the audit lock (lease expired or taken over); canceling the audit")
		cancel()
		return
	case <-ctx.Done():
	}
	close(drain)
	grace := d.o.ShutdownGrace
	finish := grace - min(grace/4, 10*time.Second)
	d.log.Info("shutting down: in-flight pointers may finish, no new ones start", "for", finish.String(), "grace", grace.String())
	t := d.o.Clock.NewTimer(finish)
	defer t.Stop()
	select {
	case <-done:
	case <-held.Lost():
		cancel()
	case <-t.C():
		d.log.Warn("grace period over: canceling the audit; pointers not reached are recorded no-verdict/canceled")
		cancel()
	}
}

// ping is the dead-man's switch.
func (d *Daemon) ping(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(pctx, http.MethodGet, d.o.HeartbeatURL, nil)
	if err == nil {
		var resp *http.Response
		if resp, err = d.o.HTTPClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode >= 300 {
				err = fmt.Errorf("status %s", resp.Status)
			}
		}
	}
	if err != nil {
		d.m.heartbeats.WithLabelValues("error").Inc()
		d.log.Warn("heartbeat ping failed", "err", err)
		return
	}
	d.m.heartbeats.WithLabelValues("ok").Inc()
}

// seedMetrics sets the last-success gauges from the ledger, so that a
// restart does not look like years without an audit.
func (d *Daemon) seedMetrics(ctx context.Context) {
	last, err := d.o.Ledger.LatestRun(ctx, true)
	if err != nil {
		return
	}
	d.m.lastSuccess.Set(unix(last.FinishedAt))
	rs, err := d.o.Ledger.Results(ctx, last.ID)
	if err != nil {
		return
	}
	s := &audit.Summary{ByVerdict: map[audit.Verdict]int{}, ByAge: map[audit.Age]int{}}
	for _, r := range rs {
		s.ByVerdict[r.Verdict]++
		s.ByAge[r.Age]++
	}
	if cov, err := d.o.Ledger.ArchiveCoverage(ctx, last.ID); err == nil {
		s.Archive = cov
	}
	st := StatsOf(last.ID, s)
	d.m.setCounts(st)
}

func slotString(t time.Time) string {
	if t.IsZero() {
		return "catch-up"
	}
	return t.Format(time.RFC3339)
}

package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // CRON_TZ tests must not depend on the host's zoneinfo

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/daemon"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

var _ daemon.Ledger = (*ledger.DB)(nil)

func openLedger(tb testing.TB, path string, fc *fakeClock) *ledger.DB {
	tb.Helper()
	db, err := ledger.Open(context.Background(), path, ledger.WithClock(fc.Now))
	if err != nil {
		tb.Fatalf("ledger.Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// seedRun records a run that started at startedAt.
func seedRun(tb testing.TB, db *ledger.DB, startedAt time.Time, finished, complete bool) ledger.Run {
	tb.Helper()
	ctx := context.Background()
	r, err := db.BeginRun(ctx, ledger.RunMeta{Repo: "/srv/aicr", Ref: "main", Commit: "c0ffee", AsOf: startedAt, StartedAt: startedAt,
		TrustRoot: "sha256:" + strings.Repeat("0", 64), VerifierVersion: "test"})
	if err != nil {
		tb.Fatal(err)
	}
	if finished {
		if r, err = db.FinishRun(ctx, r.ID, complete, startedAt.Add(time.Minute)); err != nil {
			tb.Fatal(err)
		}
	}
	return r
}

// recorder is a job that notes when it ran (on the fake clock).
type recorder struct {
	fc  *fakeClock
	mu  sync.Mutex
	ran []time.Time
}

func (r *recorder) job(context.Context, <-chan struct{}) (daemon.RunStats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ran = append(r.ran, r.fc.Now())
	return daemon.RunStats{Complete: true, ByVerdict: map[string]int{"verified": 2}, ByAge: map[string]int{"fresh": 2},
		Archive: audit.ArchiveCoverage{Archived: 1, Healthy: 2},
		Anchor:  daemon.AnchorStats{RunID: 7, Head: "sha256:" + strings.Repeat("ab", 32), SignedBy: "key ed25519 sha256:cd", LogIndex: 3}}, nil
}

func (r *recorder) runs() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.ran...)
}

// startDaemon runs d in the background; the returned function stops it and
// waits for Run to return.
func startDaemon(tb testing.TB, d *daemon.Daemon) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					tb.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				tb.Fatal("Run did not return after cancel")
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}

func newDaemon(tb testing.TB, o daemon.Options) *daemon.Daemon {
	tb.Helper()
	if o.MaxSleep == 0 {
		o.MaxSleep = 40 * 24 * time.Hour
	}
	d, err := daemon.New(o)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestScheduleFiresAtSlots(t *testing.T) {
	tests := []struct {
		name     string
		schedule string
		start    time.Time
		want     []time.Time
	}{
		{"quarterly", "0 3 1 1,4,7,10 *", utc("2026-02-10T12:00:00Z"),
			[]time.Time{utc("2026-04-01T03:00:00Z"), utc("2026-07-01T03:00:00Z"), utc("2026-10-01T03:00:00Z"), utc("2027-01-01T03:00:00Z")}},
		{"every", "@every 6h", utc("2026-02-10T12:00:00Z"),
			[]time.Time{utc("2026-02-10T18:00:00Z"), utc("2026-02-11T00:00:00Z"), utc("2026-02-11T06:00:00Z")}},
		// Berlin switches to summer time on 2026-03-29: 03:00 local is
		// 02:00 UTC before and 01:00 UTC after.
		{"CRON_TZ across DST", "CRON_TZ=Europe/Berlin 0 3 * * *", utc("2026-03-27T12:00:00Z"),
			[]time.Time{utc("2026-03-28T02:00:00Z"), utc("2026-03-29T01:00:00Z"), utc("2026-03-30T01:00:00Z")}},
		{"weekly", "@weekly", utc("2026-02-10T12:00:00Z"), // Sundays 00:00
			[]time.Time{utc("2026-02-15T00:00:00Z"), utc("2026-02-22T00:00:00Z")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := newFakeClock(tt.start)
			db := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"), fc)
			seedRun(t, db, tt.start.Add(-time.Second), true, true) // up to date: no catch-up
			rec := &recorder{fc: fc}
			var logs syncBuffer
			d := newDaemon(t, daemon.Options{Schedule: tt.schedule, Job: rec.job, Ledger: db, Clock: fc,
				MaxSleep: 24 * time.Hour, Log: slog.New(slog.NewTextHandler(&logs, nil))})
			stop := startDaemon(t, d)
			for n := 0; n < len(tt.want); {
				ds := fc.waitTimers(t, 1)
				fc.Set(ds[0])
				if ds[0].Equal(tt.want[n]) {
					// Wait until the run is over and the next slot chosen, so
					// that only the schedule's timer is pending.
					slot := ds[0]
					waitFor(t, func() bool { return len(rec.runs()) > n && d.Next().After(slot) })
					n++
				}
			}
			stop()
			got := rec.runs()
			for i := range tt.want {
				if !got[i].Equal(tt.want[i]) {
					t.Errorf("run %d at %v, want %v", i, got[i], tt.want[i])
				}
			}
			if !strings.Contains(logs.String(), "next run scheduled at="+tt.want[0].In(time.UTC).Format(time.RFC3339)) &&
				!strings.Contains(logs.String(), "at="+tt.want[0].Format(time.RFC3339)) {
				t.Errorf("log does not announce the first slot %v:\n%s", tt.want[0], logs.String())
			}
		})
	}
}

func TestCatchUp(t *testing.T) {
	now := utc("2026-02-10T12:00:00Z")
	const quarterly = "0 3 1 1,4,7,10 *"
	tests := []struct {
		name string
		seed func(*ledger.DB)
		want int // runs at start
	}{
		{"missed several slots", func(db *ledger.DB) { seedRun(t, db, utc("2025-01-01T03:00:00Z"), true, true) }, 1},
		{"missed one slot", func(db *ledger.DB) { seedRun(t, db, utc("2025-10-01T03:00:00Z"), true, true) }, 1},
		{"last run incomplete", func(db *ledger.DB) { seedRun(t, db, now.Add(-time.Hour), true, false) }, 1},
		{"last run never finished", func(db *ledger.DB) { seedRun(t, db, now.Add(-time.Hour), false, false) }, 1},
		{"empty ledger", func(*ledger.DB) {}, 1},
		{"up to date", func(db *ledger.DB) { seedRun(t, db, utc("2026-01-01T03:00:00Z"), true, true) }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := newFakeClock(now)
			db := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"), fc)
			tt.seed(db)
			rec := &recorder{fc: fc}
			d := newDaemon(t, daemon.Options{Schedule: quarterly, Job: rec.job, Ledger: db, Clock: fc, MaxSleep: 20 * 24 * time.Hour})
			stop := startDaemon(t, d)
			// The daemon now sleeps toward the next slot.
			waitFor(t, func() bool { return !d.Next().IsZero() })
			if got, want := d.Next(), utc("2026-04-01T03:00:00Z"); !got.Equal(want) {
				t.Errorf("Next() = %v, want the next slot %v", got, want)
			}
			// Let the cap on one sleep pass: still no second run before the slot.
			for range 3 {
				ds := fc.waitTimers(t, 1)
				if ds[0].After(utc("2026-04-01T02:00:00Z")) {
					break
				}
				fc.Set(ds[0])
			}
			stop()
			runs := rec.runs()
			if len(runs) != tt.want {
				t.Fatalf("%d runs before the next slot, want %d (%v)", len(runs), tt.want, runs)
			}
			if tt.want == 1 && !runs[0].Equal(now) {
				t.Errorf("catch-up ran at %v, want at start %v", runs[0], now)
			}
		})
	}
}

// TestTwoDaemonsNeverOverlap runs two daemons on one ledger file (separate
// handles, as two processes would) whose jobs block until released: the
// second waits for the first.
func TestTwoDaemonsNeverOverlap(t *testing.T) {
	fc := newFakeClock(utc("2026-02-10T12:00:00Z"))
	path := filepath.Join(t.TempDir(), "ledger.db")
	var inFlight, maxInFlight, starts atomic.Int32
	started := make(chan int, 2)
	release := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	var stops []func()
	for i := range 2 {
		db := openLedger(t, path, fc)
		job := func(ctx context.Context, _ <-chan struct{}) (daemon.RunStats, error) {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for {
				m := maxInFlight.Load()
				if n <= m || maxInFlight.CompareAndSwap(m, n) {
					break
				}
			}
			starts.Add(1)
			started <- i
			<-release[i]
			return daemon.RunStats{Complete: true}, nil
		}
		h := daemon.LocalHolder() // same process, different nonce: like two processes
		d := newDaemon(t, daemon.Options{Schedule: "@every 24h", Job: job, Ledger: db, Clock: fc, Holder: &h,
			LockRetry: 10 * time.Second, LeaseTTL: time.Minute})
		stops = append(stops, startDaemon(t, d))
	}
	// Both find an empty ledger and want a catch-up run; one gets the lock.
	first := <-started
	// The other waits: let its retries and the holder's heartbeats pass.
	for range 12 {
		fc.waitTimers(t, 2)
		fc.Advance(10 * time.Second)
	}
	select {
	case i := <-started:
		t.Fatalf("daemon %d started while daemon %d was auditing", i, first)
	default:
	}
	close(release[first])
	var second int
	for deadline := time.Now().Add(10 * time.Second); ; {
		if time.Now().After(deadline) {
			t.Fatal("the second daemon never got the lock")
		}
		fc.Advance(10 * time.Second)
		select {
		case second = <-started:
		case <-time.After(20 * time.Millisecond):
			continue
		}
		break
	}
	if second == first {
		t.Fatalf("daemon %d ran twice", first)
	}
	close(release[second])
	for _, stop := range stops {
		stop()
	}
	if got := maxInFlight.Load(); got != 1 {
		t.Errorf("%d audits ran at once, want 1", got)
	}
	if got := starts.Load(); got != 2 {
		t.Errorf("%d audits, want 2 (one catch-up each, one after the other)", got)
	}
}

// TestSecondDaemonSkipsAuditedSlot: a daemon that waited for the lock does
// not audit the slot again when the holder recorded a complete run for it.
func TestSecondDaemonSkipsAuditedSlot(t *testing.T) {
	start := utc("2026-02-10T12:00:00Z")
	fc := newFakeClock(start)
	path := filepath.Join(t.TempDir(), "ledger.db")
	seedRun(t, openLedger(t, path, fc), start.Add(-time.Second), true, true)
	var starts atomic.Int32
	var logs syncBuffer
	var ran sync.WaitGroup
	ran.Add(1)
	gate := make(chan struct{})
	for range 2 {
		db := openLedger(t, path, fc)
		job := func(ctx context.Context, _ <-chan struct{}) (daemon.RunStats, error) {
			if starts.Add(1) > 1 {
				t.Error("the slot was audited twice")
				return daemon.RunStats{Complete: true}, nil
			}
			ran.Done()
			<-gate
			seedRun(t, db, fc.Now(), true, true) // what a real audit records
			return daemon.RunStats{Complete: true}, nil
		}
		h := daemon.LocalHolder()
		d := newDaemon(t, daemon.Options{Schedule: "@every 1h", Job: job, Ledger: db, Clock: fc, Holder: &h, LockRetry: 10 * time.Second,
			Log: slog.New(slog.NewTextHandler(&logs, nil))})
		startDaemon(t, d)
	}
	fc.waitTimers(t, 2)
	fc.Set(start.Add(time.Hour)) // both daemons reach the same slot
	ran.Wait()
	fc.waitTimers(t, 2) // the holder's heartbeat and the other's lock retry
	close(gate)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "slot already audited by another process"); {
		if time.Now().After(deadline) {
			t.Fatalf("the waiting daemon never skipped the slot:\n%s", logs.String())
		}
		fc.waitTimers(t, 2)
		fc.Advance(10 * time.Second)
		time.Sleep(time.Millisecond) // real time, for the daemon goroutines
	}
	if got := starts.Load(); got != 1 {
		t.Errorf("%d audits of one slot, want 1", got)
	}
}

func deadPID(tb testing.TB) int {
	tb.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		tb.Skipf("cannot run true: %v", err)
	}
	return cmd.Process.Pid
}

func TestStaleLeaseTakenOver(t *testing.T) {
	now := utc("2026-02-10T12:00:00Z")
	me := daemon.LocalHolder()
	dead := me
	dead.PID, dead.Nonce = deadPID(t), "dead"
	alive := me // a live PID (ours) with another nonce: could be a recycled PID, so wait for expiry
	alive.Nonce = "alive"
	elsewhere := me
	elsewhere.Host, elsewhere.BootID, elsewhere.Nonce = "other-host", "other-boot", "remote"
	tests := []struct {
		name   string
		holder daemon.Holder
		ttl    time.Duration
		wantAt time.Time // when the catch-up run may start
	}{
		{"dead process on this host, lease not expired", dead, 24 * time.Hour, now},
		{"other host, lease expires", elsewhere, 2 * time.Minute, now.Add(2 * time.Minute)},
		{"live pid on this host, lease expires", alive, 2 * time.Minute, now.Add(2 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := newFakeClock(now)
			db := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"), fc)
			if _, err := db.AcquireLease(context.Background(), daemon.LeaseName, tt.holder.String(), tt.ttl); err != nil {
				t.Fatal(err)
			}
			var holderDuringJob string
			rec := &recorder{fc: fc}
			job := func(ctx context.Context, _ <-chan struct{}) (daemon.RunStats, error) {
				if l, err := db.Lease(ctx, daemon.LeaseName); err == nil {
					holderDuringJob = l.Holder
				}
				return rec.job(ctx, nil)
			}
			h := daemon.LocalHolder()
			d := newDaemon(t, daemon.Options{Schedule: "@weekly", Job: job, Ledger: db, Clock: fc, Holder: &h, LockRetry: 10 * time.Second})
			stop := startDaemon(t, d)
			// Move time only while the daemon waits for the lock (its
			// retry timer is the only one, LockRetry ahead).
			for len(rec.runs()) == 0 {
				if ds := fc.deadlines(); len(ds) == 1 && ds[0].Sub(fc.Now()) == 10*time.Second {
					fc.Set(ds[0])
				}
				time.Sleep(time.Millisecond) // real time, for the daemon goroutine
			}
			stop()
			if got := rec.runs()[0]; got.Before(tt.wantAt) {
				t.Errorf("ran at %v, before the lease could be taken (%v)", got, tt.wantAt)
			} else if got.After(tt.wantAt.Add(10 * time.Second)) {
				t.Errorf("ran at %v, want soon after %v", got, tt.wantAt)
			}
			if holderDuringJob != h.String() {
				t.Errorf("lease during the job held by %q, want %q", holderDuringJob, h.String())
			}
			if _, err := db.Lease(context.Background(), daemon.LeaseName); !errors.Is(err, ledger.ErrNotFound) {
				t.Errorf("lease after the run: %v, want released", err)
			}
		})
	}
}

// TestShutdownGrace: on cancel the in-flight audit goes on until the grace
// period is nearly over, then its context is canceled and Run returns.
func TestShutdownGrace(t *testing.T) {
	now := utc("2026-02-10T12:00:00Z")
	fc := newFakeClock(now)
	db := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"), fc)
	running := make(chan struct{})
	var drainedAt, canceledAt time.Time
	job := func(ctx context.Context, stop <-chan struct{}) (daemon.RunStats, error) {
		close(running)
		<-stop
		drainedAt = fc.Now()
		<-ctx.Done()
		canceledAt = fc.Now()
		return daemon.RunStats{Complete: false}, nil
	}
	d := newDaemon(t, daemon.Options{Schedule: "@weekly", Job: job, Ledger: db, Clock: fc, ShutdownGrace: 20 * time.Second})
	stop := startDaemon(t, d)
	<-running // the catch-up run (empty ledger)
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	// grace 20s: the job is canceled at 15s (a quarter kept for bookkeeping).
	// Two timers: the lock heartbeat (30s) and the drain (15s).
	ds := fc.waitTimers(t, 2)
	fc.Set(ds[0])
	<-stopped
	if !drainedAt.Equal(now) {
		t.Errorf("job told to stop new work at %v, want at once (%v)", drainedAt, now)
	}
	if want := now.Add(15 * time.Second); !canceledAt.Equal(want) {
		t.Errorf("job canceled at %v, want %v", canceledAt, want)
	}
	if got := counter(t, d, "evidence_auditd_runs_total", `result="interrupted"`); got != 1 {
		t.Errorf("interrupted runs = %v, want 1", got)
	}
}

// waitFor polls cond in real time (for other goroutines, not the clock).
func waitFor(tb testing.TB, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatal("timed out waiting for a condition")
		}
	}
}

// counter reads one sample from the daemon's registry.
func counter(tb testing.TB, d *daemon.Daemon, name, labels string) float64 {
	tb.Helper()
	rec := httptest.NewRecorder()
	d.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, name+"{"+labels+"}") || (labels == "" && strings.HasPrefix(line, name+" ")) {
			f := strings.Fields(line)
			if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				return v
			}
		}
	}
	return -1
}

func TestHeartbeatAndMetricsAfterRun(t *testing.T) {
	var pings atomic.Int32
	hb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			pings.Add(1)
		}
	}))
	defer hb.Close()
	now := utc("2026-02-10T12:00:00Z")
	fc := newFakeClock(now)
	db := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"), fc)
	rec := &recorder{fc: fc}
	var logs syncBuffer
	d := newDaemon(t, daemon.Options{Schedule: "@weekly", Job: rec.job, Ledger: db, Clock: fc, HeartbeatURL: hb.URL,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	stop := startDaemon(t, d)
	waitFor(t, func() bool { return !d.Next().IsZero() })
	stop()
	// The anchor is kept outside the database in daemon mode too: in the
	// log line and as a label-free gauge (SPEC §10).
	if line := logs.String(); !strings.Contains(line, `msg="audit finished"`) ||
		!strings.Contains(line, "anchoredRun=7 head=sha256:"+strings.Repeat("ab", 32)+` signedBy="key ed25519 sha256:cd" logIndex=3`) {
		t.Errorf("audit finished log line does not carry the anchor:\n%s", line)
	}
	if got := pings.Load(); got != 1 {
		t.Errorf("%d heartbeat pings, want 1", got)
	}
	for _, c := range []struct {
		name, labels string
		want         float64
	}{
		{"evidence_auditd_runs_total", `result="healthy"`, 1},
		{"evidence_auditd_runs_total", `result="failed"`, 0},
		{"evidence_auditd_pointers", `verdict="verified"`, 2},
		{"evidence_auditd_pointer_ages", `age="fresh"`, 2},
		{"evidence_auditd_archive_bundles", `state="healthy"`, 2},
		{"evidence_auditd_archive_bundles", `state="archived"`, 1},
		{"evidence_auditd_heartbeat_pings_total", `outcome="ok"`, 1},
		{"evidence_auditd_last_success_timestamp_seconds", "", float64(now.Unix())},
		{"evidence_auditd_anchored_run_id", "", 7},
	} {
		if got := counter(t, d, c.name, c.labels); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if err := d.Ready(); err != nil {
		t.Errorf("Ready after a healthy run: %v", err)
	}
}

func TestFailedRunIsNotReady(t *testing.T) {
	fc := newFakeClock(utc("2026-02-10T12:00:00Z"))
	db := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"), fc)
	d := newDaemon(t, daemon.Options{Schedule: "@weekly", Ledger: db, Clock: fc,
		Job: func(context.Context, <-chan struct{}) (daemon.RunStats, error) {
			return daemon.RunStats{}, errors.New("registry on fire")
		}})
	stop := startDaemon(t, d)
	waitFor(t, func() bool { return !d.Next().IsZero() })
	stop()
	if err := d.Ready(); err == nil || !strings.Contains(err.Error(), "registry on fire") {
		t.Errorf("Ready = %v, want the run's failure", err)
	}
	if got := counter(t, d, "evidence_auditd_runs_total", `result="failed"`); got != 1 {
		t.Errorf("failed runs = %v, want 1", got)
	}
}

func TestNewRejectsBadSchedule(t *testing.T) {
	fc := newFakeClock(time.Now())
	db := openLedger(t, filepath.Join(t.TempDir(), "ledger.db"), fc)
	_, err := daemon.New(daemon.Options{Schedule: "every tuesday", Ledger: db,
		Job: func(context.Context, <-chan struct{}) (daemon.RunStats, error) { return daemon.RunStats{}, nil }})
	if err == nil {
		t.Fatal("New accepted a bad schedule")
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

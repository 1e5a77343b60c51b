package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
	_ "time/tzdata" // CRON_TZ= must work in images without /usr/share/zoneinfo

	"github.com/spf13/cobra"

	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/daemon"
	"github.com/evidence-auditd/evidence-auditd/internal/job"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

func newServeCommand(g *globalFlags) *cobra.Command {
	var schedule, listen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Audit on a cron schedule, with catch-up, locking, /metrics, /healthz and /readyz",
		Long: `serve runs the audit of run on the configured schedule until it is stopped.
At start it catches up once when the ledger shows a missed slot or an
incomplete last run. Only one audit runs at a time across every process sharing
the ledger; a second serve waits for the lock and says who holds it.

SIGTERM or SIGINT stops new work and lets the in-flight audit go on for
shutdownGrace (default 30s); then it is canceled, the pointers not reached are
recorded no-verdict/canceled, the run is marked incomplete (the next start
resumes it) and serve exits 0. A second signal exits at once.

HTTP on listen (default 127.0.0.1:9464): /metrics (Prometheus), /healthz
(process alive), /readyz (ledger open, trusted root loaded, last run did not
fail).`,
		Example: `  # Quarterly audits as configured, metrics on loopback:
  evidence-auditd serve -c /etc/evidence-auditd/config.yaml

  # Daily at 03:00 Berlin time, metrics for a scraper on the pod network:
  evidence-auditd serve -c config.yaml --schedule "CRON_TZ=Europe/Berlin 0 3 * * *" --listen 0.0.0.0:9464`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(func(c *config.Config) {
				if schedule != "" {
					c.Schedule = schedule
				}
				if listen != "" {
					c.Listen = listen
				}
			})
			if err != nil {
				return err
			}
			if err := cfg.RequireRepo(); err != nil {
				return usageErr(err)
			}
			return serve(cmd.Context(), cfg)
		},
	}
	cmd.Flags().StringVar(&schedule, "schedule", "", `cron schedule (default: schedule of the configuration, "0 3 1 1,4,7,10 *")`)
	cmd.Flags().StringVar(&listen, "listen", "", "address of /metrics, /healthz and /readyz (default: listen, 127.0.0.1:9464)")
	return cmd
}

// serve runs the daemon until ctx is canceled; nil after a clean shutdown.
func serve(ctx context.Context, cfg *config.Config) error {
	log := newLogger(cfg)
	if err := os.MkdirAll(filepath.Dir(cfg.Ledger.Path), 0o750); err != nil {
		return fmt.Errorf("ledger directory: %w", err)
	}
	db, err := ledger.Open(ctx, cfg.Ledger.Path)
	if err != nil {
		return err
	}
	defer db.Close()

	// The trusted root is loaded at start for /readyz and again by every
	// audit; a failure here is not fatal (a TUF mirror may be down), the
	// next successful audit clears it.
	var (
		mu       sync.Mutex
		trustErr error
	)
	setTrust := func(err error) { mu.Lock(); trustErr = err; mu.Unlock() }
	if _, err := job.NewVerifier(ctx, cfg); err != nil {
		log.Warn("trusted root not loaded yet; /readyz fails until an audit loads it", "err", err)
		setTrust(err)
	}

	metrics := daemon.NewMetrics()
	if as, err := db.Anchors(ctx); err == nil && len(as) > 0 {
		metrics.SetAnchoredRun(as[len(as)-1].RunID)
	}
	j := newJob(cfg, log)
	j.Instruments, j.Observer = metrics, metrics
	audit := func(ctx context.Context, stop <-chan struct{}) (daemon.RunStats, error) {
		// The daemon holds the audit lock around the whole job, issue
		// filing included (SPEC §7, §8).
		out, err := j.Audit(ctx, job.Request{Stop: stop, LockHeld: true,
			Progress: job.Progresses(job.ProgressLog(log, 0, nil), metrics.Progress)})
		if err != nil {
			return daemon.RunStats{}, err
		}
		setTrust(nil)
		log.Info("issues", "summary", out.Issues.String())
		st := daemon.StatsOf(out.Run.ID, out.Summary)
		if a := out.Anchor; a != nil {
			st.Anchor = daemon.AnchorStats{RunID: a.RunID, Head: a.Head, SignedBy: a.Signature.By, LogIndex: a.Signature.LogIndex}
		}
		return st, nil
	}
	d, err := daemon.New(daemon.Options{
		Schedule:      cfg.Schedule,
		Job:           audit,
		Ledger:        db,
		Log:           log,
		Metrics:       metrics,
		ShutdownGrace: time.Duration(cfg.ShutdownGrace),
		HeartbeatURL:  cfg.HeartbeatURL,
	})
	if err != nil {
		return usageErr(err)
	}
	srv := daemon.NewServer(cfg.Listen, metrics, log,
		daemon.Check{Name: "ledger", Fn: func(ctx context.Context) error {
			if _, err := db.LatestRun(ctx, false); err != nil && !errors.Is(err, ledger.ErrNotFound) {
				return err
			}
			return nil
		}},
		daemon.Check{Name: "trusted root", Fn: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			return trustErr
		}},
		daemon.Check{Name: "last run", Fn: func(context.Context) error { return d.Ready() }},
	)
	if err := srv.Start(ctx); err != nil {
		return err
	}
	log.Info("serving", "listen", srv.Addr(), "schedule", cfg.Schedule, "ledger", cfg.Ledger.Path, "version", version)
	runErr := d.Run(ctx)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Close(cctx); err != nil {
		log.Warn("closing the http server", "err", err)
	}
	return runErr
}

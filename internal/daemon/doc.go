// Package daemon runs audits unattended (SPEC §8): a cron loop over an
// injected job with catch-up after downtime, one audit at a time across
// processes sharing a ledger (an advisory file lock beside the ledger plus a
// lease row in it, renewed by a heartbeat), graceful shutdown with a grace
// period, an optional dead-man's-switch ping, and the HTTP endpoints
// /metrics, /healthz and /readyz on a private Prometheus registry.
//
// Decisions where the SPEC is silent:
//
//   - A second daemon on the same ledger waits for the lock (polling every
//     LockRetry) and logs once who holds it; it does not exit, so a
//     standby or a restart loop never turns into a crash loop. After it gets
//     the lock it re-reads the ledger and skips a slot another process has
//     already audited.
//   - The lock is held only while an audit runs, not for the process's
//     lifetime.
//   - Catch-up: at start, one run when the ledger has no run yet, when the
//     newest run is unfinished or incomplete, or when a scheduled slot fell
//     between the newest run's start and now. Never more than one.
//   - A lease whose holder is a process on this host (same hostname, boot id
//     and PID namespace) that no longer exists is taken over at once; any
//     other lease only after it expires (LeaseTTL, default 2m, renewed every
//     TTL/4).
//
// daemon imports internal/config (the cron syntax) and internal/ledger (the
// run and lease records); it never imports cmd, never prints, and never calls
// slog.SetDefault. The audit itself is the injected Job.
package daemon

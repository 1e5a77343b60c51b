package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/job"
)

// newJob is the audit job of cfg, logging to log.
func newJob(cfg *config.Config, log *slog.Logger) *job.Job {
	// A command-line run waiting for another process's audit polls the
	// lock more often than the daemon does: someone is watching.
	return &job.Job{Config: cfg, Log: log, UserAgent: "evidence-auditd/" + version, LockRetry: 2 * time.Second}
}

// progressFor renders done/total, rate and ETA on w when it is a terminal
// (STYLE "Output"), and otherwise logs a structured progress line at a
// steady interval (SPEC §8: progress also when stderr is not a terminal).
func progressFor(w *os.File, log *slog.Logger) func(done, total int) {
	return progressWith(w, log, "audited %d/%d pointers")
}

// progressWith is progressFor in other words: format takes done and total
// (e.g. "archived %d/%d bundles").
func progressWith(w *os.File, log *slog.Logger, format string) func(done, total int) {
	if fi, err := w.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return job.ProgressLog(log, 0, nil)
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
		fmt.Fprintf(w, "\r"+format+", %.0f/s, ETA %s   ", done, total, rate, eta)
		if done == total {
			io.WriteString(w, "\n")
		}
	}
}

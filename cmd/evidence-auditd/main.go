// Command evidence-auditd audits the signed test evidence of an AICR-style
// repository: every pointer ever merged, re-verified from its registry or
// the transparency log, recorded in a tamper-evident ledger (see SPEC.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/evidence-auditd/evidence-auditd/internal/escape"
	"github.com/evidence-auditd/evidence-auditd/internal/job"
)

// Exit codes of SPEC §4, decided only here.
const (
	exitOK          = 0 // completed and healthy
	exitOperational = 1 // could not complete
	exitUsage       = 2 // usage or configuration error
	exitFindings    = 3 // completed with findings
)

func main() {
	ctx, stop := interruptContext()
	defer stop()
	err := newRootCommand().ExecuteContext(ctx)
	os.Exit(exitCode(err))
}

// interruptContext is canceled by the first SIGINT or SIGTERM, so that
// commands stop cleanly (serve drains within its grace period); a second
// signal exits at once (SPEC §8).
func interruptContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
			return
		}
		if s, ok := <-sigs; ok {
			fmt.Fprintf(os.Stderr, "evidence-auditd: second signal (%v), exiting now\n", s)
			os.Exit(exitOperational)
		}
	}()
	return ctx, func() { signal.Stop(sigs); cancel() }
}

// escapeLines escapes each line of an error message (SPEC §4: errors quote
// paths and refs from the audited repository), keeping the lines apart.
func escapeLines(s string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = escape.Line(lines[i])
	}
	return strings.Join(lines, "\n")
}

// exitCode maps an error to the process exit code and prints it once.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var f *findingsError
	if errors.As(err, &f) {
		return exitFindings // the summary already said what was found
	}
	fmt.Fprintln(os.Stderr, "evidence-auditd:", escapeLines(err.Error()))
	if job.IsUsage(err) {
		return exitUsage
	}
	return exitOperational
}

// usageErr marks a usage or configuration error (exit 2), as the audit job
// marks its own.
func usageErr(err error) error { return job.Usage(err) }

// findingsError marks a completed command that found problems (exit 3).
type findingsError struct{ what string }

func (e *findingsError) Error() string { return "completed with findings: " + e.what }

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
	"syscall"
)

// Exit codes of SPEC §4, decided only here.
const (
	exitOK          = 0 // completed and healthy
	exitOperational = 1 // could not complete
	exitUsage       = 2 // usage or configuration error
	exitFindings    = 3 // completed with findings
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRootCommand().ExecuteContext(ctx)
	os.Exit(exitCode(err))
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
	fmt.Fprintln(os.Stderr, "evidence-auditd:", err)
	var u *usageError
	if errors.As(err, &u) {
		return exitUsage
	}
	return exitOperational
}

// usageError marks a usage or configuration error (exit 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErr(err error) error {
	if err == nil {
		return nil
	}
	return &usageError{err: err}
}

// findingsError marks a completed command that found problems (exit 3).
type findingsError struct{ what string }

func (e *findingsError) Error() string { return "completed with findings: " + e.what }

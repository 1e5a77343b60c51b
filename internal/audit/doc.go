// Package audit is the core of evidence-auditd: the domain vocabulary
// (verdicts, classes, ages, results) and, as it grows, the per-pointer
// pipeline and run orchestration.
//
// audit owns the small interfaces it consumes (bundle fetching, the
// transparency log, the ledger, the clock); adapter packages satisfy them.
// It must not import cmd/, ledger, registry, rekor, report, issues or daemon.
package audit

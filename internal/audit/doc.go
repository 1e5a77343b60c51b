// Package audit is the core of evidence-auditd: the domain vocabulary
// (verdicts, classes, ages, results) and, as it grows, the per-pointer
// pipeline and run orchestration.
//
// audit owns the small interfaces it consumes (bundle fetching, the
// transparency log, the ledger, the archive, the clock); adapter packages
// satisfy them. The archive (SPEC §9) is another source of the same
// evidence: a full verification copies a healthy bundle into it once, and
// an origin that lost a bundle is answered from the copy with every check
// of a verified bundle (verdict archived) before the log is asked.
// It must not import cmd/, ledger, registry, rekor, archive, report, issues
// or daemon.
package audit

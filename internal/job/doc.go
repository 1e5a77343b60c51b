// Package job is one audit job, the unit that run, serve, demo and (its
// issue half) issues sync share: take the audit lock → walk the merged
// history into the ledger → begin or resume the run → audit every pointer
// version → record the run's end → plan and send the re-certification
// issues → release the lock. Each finished run is sealed by the ledger
// and anchored (internal/anchor) before its issues are sent; an
// interrupted run is resumed only if its rows are the ones its progress
// mark says the auditor wrote. Holding the lock from the walk to the last
// issue operation is what keeps two processes from filing the same issue
// (SPEC §7) or auditing at once (SPEC §8).
//
// job composes the adapters (history, registry, verify, rekor, ledger,
// archive, issues) around internal/audit, and owns the decisions about
// runs that are not about one pointer: what-if runs, coverage guards,
// degraded runs, and the archive commands (backfill under the audit lock;
// verify and restore, which only read the ledger and the archive).
// It never prints; it logs through the logger it is given. It must not
// import cmd/ or the sandbox.
package job

package report

import (
	"slices"
	"strings"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// What a full verification proves, in the order a reader checks it; every
// check an audit records is one of these facts (or bookkeeping).
const (
	factSignature = "signature"
	factSigner    = "signer"
	factLog       = "log entry"
	factDigest    = "digest"
	factStatement = "statement"
	factFiles     = "files"
)

var facts = []string{factSignature, factSigner, factLog, factDigest, factStatement, factFiles}

// factOf maps a check name (of internal/verify, internal/rekor or the audit
// core; a "cached-" prefix re-verifies the ledger's copy) to the fact it
// proves; "" for bookkeeping checks (parsing, candidates, the cache lookup,
// warnings about the pointer file).
func factOf(check string) string {
	switch strings.TrimPrefix(check, "cached-") {
	case "signature", "rekor-set":
		// rekor-set: the log admitted the entry after checking its
		// signature, and signed that (SPEC §3 rekor-only: "signed by the
		// pointer's signer").
		return factSignature
	case "certificate-chain", "signer-identity", "rekor-log-index", "rekor-certificate", "rekor-identity":
		return factSigner
	case "transparency-log", "rekor-entry", "rekor-log-key", "rekor-inclusion", "rekor-checkpoint", "rekor-body-match":
		return factLog
	case "subject-digest", "rekor-index":
		return factDigest
	case "statement", "predicate-type", "predicate", "recipe-name", "profile":
		return factStatement
	case "manifest-digest", "inventory", "recipe-digest", "ctrf-digests":
		return factFiles
	}
	return ""
}

// proofLine says in one line what the audit of r proved and what it did
// not, for the HTML report's pointer rows (the full detail and the checks
// sit behind a disclosure). It is derived from the checks the result
// recorded; results recorded without checks fall back on the verdict and
// class alone.
func proofLine(r *audit.Result) string {
	if r.Verdict == audit.Archived {
		return "From the auditor's archived copy (the registry lost the bundle): " + originProof(r)
	}
	return originProof(r)
}

// originProof is proofLine for the evidence as fetched.
func originProof(r *audit.Result) string {
	switch {
	case r.Verdict == audit.NoVerdict && r.Class == audit.ClassCanceled:
		return "Not decided: the run was canceled before this pointer; retried next run."
	case r.Verdict == audit.NoVerdict:
		return "Not decided: registry or log unreachable or rate-limited; retried next run."
	case r.Verdict == audit.Invalid && r.Class == audit.ClassNotFound:
		return "Nothing proven: the registry no longer serves the bundle and no log proof ties an entry to it."
	case r.Verdict == audit.Invalid && r.Class == audit.ClassForbidden:
		return "Nothing proven: the registry refuses access to the bundle and no log proof ties an entry to it."
	case r.Verdict == audit.Invalid && r.Class == audit.ClassUntrustedRegistry:
		return "Not checked: the bundle's registry is not allowed by policy."
	}
	if r.Verdict.Healthy() && !r.Deep && r.VerifiedVia == audit.ViaCache {
		return withFailures(r, "Still served (probed); proven in full by an earlier run: "+strings.Join(facts, ", ")+".")
	}
	proven, failed, seen := tally(r.Checks)
	if pointerFailed(r.Checks) {
		return "Failed: the pointer file itself (" + string(r.Class) + "); nothing was fetched."
	}
	if len(seen) == 0 { // recorded without checks
		switch {
		case r.Verdict.Healthy():
			return withFailures(r, "Proven: "+strings.Join(facts, ", ")+".")
		case r.Verdict == audit.RekorOnly:
			return "Proven by the transparency log: signer, log entry, digest. Not proven: the bundle's files (the registry lost them)."
		default:
			return "Failed: " + string(r.Class) + "."
		}
	}
	var b strings.Builder
	if failed != "" {
		b.WriteString("Failed: " + failed + " (" + string(r.Class) + "). ")
	}
	if len(proven) > 0 {
		b.WriteString("Proven: " + strings.Join(proven, ", ") + ". ")
	}
	if failed == "" {
		var not []string
		for _, f := range facts {
			if !slices.Contains(proven, f) {
				not = append(not, f)
			}
		}
		if len(not) > 0 {
			b.WriteString("Not proven: " + strings.Join(not, ", "))
			if r.Verdict == audit.RekorOnly {
				b.WriteString(" (the registry lost the bytes)")
			}
			b.WriteString(".")
		}
	}
	return withFailures(r, strings.TrimSpace(b.String()))
}

// tally sorts the facts of checks: proven (every check of the fact passed
// or warned, but for a transparency-log warning), the first failed fact,
// and every fact a check touched.
func tally(checks []audit.Check) (proven []string, failed string, seen map[string]bool) {
	status := map[string]audit.CheckStatus{}
	seen = map[string]bool{}
	for _, c := range checks {
		f := factOf(c.Name)
		if f == "" {
			continue
		}
		seen[f] = true
		switch {
		case c.Status == audit.CheckFail:
			if failed == "" {
				failed = f
			}
			status[f] = audit.CheckFail
		case c.Status == audit.CheckSkip, c.Status == audit.CheckWarn && strings.TrimPrefix(c.Name, "cached-") == "transparency-log":
			// A transparency-log warning is a legacy layer that was
			// timestamped instead of logged: no log entry proven.
			if status[f] == "" {
				status[f] = audit.CheckSkip
			}
		case status[f] == "" || status[f] == audit.CheckSkip:
			status[f] = audit.CheckPass
		}
	}
	for _, f := range facts {
		if status[f] == audit.CheckPass {
			proven = append(proven, f)
		}
	}
	return proven, failed, seen
}

func pointerFailed(checks []audit.Check) bool {
	for _, c := range checks {
		if c.Name == "pointer" && c.Status == audit.CheckFail {
			return true
		}
	}
	return false
}

// withFailures adds the failed tests a verified-with-failures predicate
// records.
func withFailures(r *audit.Result, s string) string {
	if r.Verdict != audit.VerifiedWithFailures {
		return s
	}
	n := 0
	for _, c := range r.Phases {
		n += c.Failed
	}
	if n == 0 {
		return s + " The signed results record failed tests."
	}
	return s + " The signed results record " + plural(n, "failed test", "failed tests") + "."
}

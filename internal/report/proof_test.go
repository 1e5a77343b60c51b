package report_test

import (
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/report"
)

// checks builds a check list from "name:status" pairs.
func checks(spec string) []audit.Check {
	var out []audit.Check
	for _, f := range strings.Fields(spec) {
		name, status, _ := strings.Cut(f, ":")
		out = append(out, audit.Check{Name: name, Status: audit.CheckStatus(status)})
	}
	return out
}

const fullChecks = "pointer:pass fetch:pass bundle-parse:pass transparency-log:pass certificate-chain:pass signature:pass " +
	"signer-identity:pass rekor-log-index:pass statement:pass subject-digest:pass predicate-type:pass predicate:pass " +
	"recipe-name:pass profile:pass manifest-digest:pass inventory:pass recipe-digest:pass ctrf-digests:pass phases:pass"

func TestProofLine(t *testing.T) {
	tests := []struct {
		name string
		r    audit.Result
		want string
	}{
		{"verified in full", audit.Result{Verdict: audit.Verified, Deep: true, VerifiedVia: audit.ViaOCI, Checks: checks(fullChecks)},
			"Proven: signature, signer, log entry, digest, statement, files."},
		{"fast path", audit.Result{Verdict: audit.Verified, VerifiedVia: audit.ViaCache, Checks: checks("probe:pass")},
			"Still served (probed); proven in full by an earlier run: signature, signer, log entry, digest, statement, files."},
		{"known failure", audit.Result{Verdict: audit.VerifiedWithFailures, Deep: true, Checks: checks(strings.Replace(fullChecks, "phases:pass", "phases:warn", 1)),
			Phases: map[string]audit.PhaseCounts{"conformance": {Passed: 3, Failed: 2}}},
			"Proven: signature, signer, log entry, digest, statement, files. The signed results record 2 failed tests."},
		{"timestamped, not logged", audit.Result{Verdict: audit.Verified, Deep: true, Checks: checks(strings.Replace(fullChecks, "transparency-log:pass", "transparency-log:warn", 1))},
			"Proven: signature, signer, digest, statement, files. Not proven: log entry."},
		{"rekor-only from the log alone", audit.Result{Verdict: audit.RekorOnly, Checks: checks("pointer:pass rekor-cache:skip rekor-index:pass rekor-entry:pass rekor-log-key:pass rekor-inclusion:pass rekor-checkpoint:pass rekor-set:pass rekor-certificate:pass rekor-identity:pass")},
			"Proven: signature, signer, log entry, digest. Not proven: statement, files (the registry lost the bytes)."},
		{"rekor-only from the cache", audit.Result{Verdict: audit.RekorOnly, Checks: checks("pointer:pass cached-signature:pass cached-signer-identity:pass cached-statement:pass cached-subject-digest:pass cached-manifest-digest:skip cached-inventory:skip rekor-body-match:pass rekor-inclusion:pass")},
			"Proven: signature, signer, log entry, digest, statement. Not proven: files (the registry lost the bytes)."},
		{"wrong signer", audit.Result{Verdict: audit.Invalid, Class: audit.ClassIdentity, Checks: checks("pointer:pass fetch:pass signature-candidates:fail bundle-parse:pass transparency-log:pass certificate-chain:pass signature:pass signer-identity:fail rekor-log-index:skip statement:skip")},
			"Failed: signer (identity). Proven: signature, log entry."},
		{"malformed pointer", audit.Result{Verdict: audit.Invalid, Class: audit.ClassSchema, Checks: checks("pointer:fail")},
			"Failed: the pointer file itself (schema); nothing was fetched."},
		{"gone", audit.Result{Verdict: audit.Invalid, Class: audit.ClassNotFound, Checks: checks("pointer:pass rekor-cache:skip rekor-index:fail")},
			"Nothing proven: the registry no longer serves the bundle and no log proof ties an entry to it."},
		{"outage", audit.Result{Verdict: audit.NoVerdict, Class: audit.ClassTransient},
			"Not decided: registry or log unreachable or rate-limited; retried next run."},
		{"recorded without checks", audit.Result{Verdict: audit.Invalid, Class: audit.ClassIntegrity},
			"Failed: integrity."},
	}
	for _, tt := range tests {
		if got := report.ProofLine(&tt.r); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

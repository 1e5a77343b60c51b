package verify

import (
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// offlineSkipped are the checks a cached bundle cannot have: they read the
// summary bundle's files, and those bytes are gone.
var offlineSkipped = func() map[string]string {
	const why = "the summary bundle's bytes are gone; only the cached signature and statement remain"
	return map[string]string{CheckManifestDigest: why, CheckInventory: why, CheckRecipeDigest: why, CheckCTRFDigests: why, CheckPhases: why}
}()

// VerifyCached re-verifies a Sigstore bundle the ledger cached from an
// earlier run (SPEC §6), offline, when the registry no longer serves the
// summary bundle: the bundle parses, its log entry (inclusion proof and
// signed entry timestamp as carried in the bundle) and the certificate chain
// verify against the trusted root at the log's time, the DSSE signature
// verifies, the certificate names the pointer's signer, the pointer's
// rekorLogIndex is the bundle's entry, and the signed statement names the
// pointer's digest, predicate type, recipe and profile. The checks that read
// the summary's files (manifest-digest, inventory, recipe-digest,
// ctrf-digests, phases) are reported as skipped.
//
// On success the verdict is Verified, or VerifiedWithFailures when the
// signed predicate records failed phases; Phases, SignedAt, LogIndex, LogID
// and IntegratedTime are filled. It proves what was signed, not that the
// entry is still in the log: the caller (the Rekor fallback) proves that
// online. On failure the verdict is Invalid with the class of the first
// failed check. Like Verify it is pure and never returns an error.
func (v *Verifier) VerifyCached(bundleJSON []byte, want audit.Expectation) audit.Verification {
	out := audit.Verification{LogIndex: -1, Checks: make([]audit.Check, 0, len(steps))}
	ev := &audit.Evidence{Signature: audit.Signature{Kind: audit.SigstoreBundle, BundleJSON: bundleJSON, Via: "ledger-cache"}}
	if p := want.Pointer; p != nil && len(p.Attestations) == 1 {
		ev.ManifestDigest = p.Attestations[0].Bundle.Digest
	}
	s := &state{v: v, ev: ev, want: want, out: &out}
	if o := s.precondition(); o.status == audit.CheckFail {
		s.finish(steps, 0, o)
		return out
	}
	if !s.run(steps, offlineSkipped) {
		return out
	}
	pr := &s.st.Predicate
	out.Phases = make(map[string]audit.PhaseCounts, len(pr.Phases))
	for name, ph := range pr.Phases {
		out.Phases[name] = audit.PhaseCounts{Passed: ph.Passed, Failed: ph.Failed, Skipped: ph.Skipped}
	}
	out.Verdict = audit.Verified
	if len(pr.FailedPhases()) > 0 {
		out.Verdict = audit.VerifiedWithFailures
	}
	out.Detail = fmt.Sprintf("cached bundle re-verified offline: signed by %s at %s, log entry %d",
		s.result.Signature.Certificate.SubjectAlternativeName, pr.AttestedAt.UTC().Format(time.RFC3339), out.LogIndex)
	return out
}

// TrustedMaterial is the sigstore-go trusted material the verifier checks
// against (the trusted root's CAs and logs), for the Rekor fallback's own
// checks of log entries fetched online.
func (v *Verifier) TrustedMaterial() root.TrustedMaterial { return v.root.tr }

package verify_test

import (
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

// TestVerifyCached re-verifies a cached bundle with the summary's files
// gone: every check that reads them is skipped, the rest decide.
func TestVerifyCached(t *testing.T) {
	w := shared(t)
	b := w.sign(t, publish.SummarySpec{Recipe: recipe + "-gpustack-bundle-installer", Profile: "gpuStack=bundle-installer",
		PredicateType: publish.PredicateV2}, alice)
	got := w.v.VerifyCached(b.ev.Signature.BundleJSON, b.want())
	if got.Verdict != audit.Verified {
		t.Fatalf("verdict %s/%s (%s), want verified", got.Verdict, got.Class, got.Detail)
	}
	status := map[string]audit.CheckStatus{}
	for _, c := range got.Checks {
		status[c.Name] = c.Status
	}
	for _, name := range []string{verify.CheckManifestDigest, verify.CheckInventory, verify.CheckRecipeDigest, verify.CheckCTRFDigests, verify.CheckPhases} {
		if status[name] != audit.CheckSkip {
			t.Errorf("%s: %s, want skip (the files are gone)", name, status[name])
		}
	}
	if status[verify.CheckProfile] != audit.CheckPass {
		t.Errorf("profile: %s, want pass", status[verify.CheckProfile])
	}

	// The signer claims stay checked offline: a wrong rekorLogIndex is identity.
	idx := b.info.LogIndex + 7
	b.ptr.Attestations[0].Signer.RekorLogIndex = &idx
	if got := w.v.VerifyCached(b.ev.Signature.BundleJSON, b.want()); got.Verdict != audit.Invalid || got.Class != audit.ClassIdentity {
		t.Errorf("wrong rekorLogIndex: %s/%s, want invalid/identity", got.Verdict, got.Class)
	}
}

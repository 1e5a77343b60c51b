package verify

import (
	"strings"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

// state carries what one Verify call has established so far.
type state struct {
	v    *Verifier
	ev   *audit.Evidence
	want audit.Expectation
	att  evidence.Attestation
	out  *audit.Verification

	// claim is the signer the certificate must name (nil: the pointer
	// names none); fromPointer words the details for a pointer's claim.
	claim       *ExpectedSigner
	fromPointer bool

	// From the signature material.
	entity  *bundle.Bundle
	payload []byte          // the DSSE payload: the signed statement
	form    string          // "Sigstore bundle" or "cosign attestation layer N", for details
	layerTS *layerTimestamp // a cosign layer's RFC 3161 timestamp, if it carries one

	// From sigstore-go.
	result  *sgverify.VerificationResult
	sigErr  error
	sigStep string // the check sigErr is attributed to

	// From the statement.
	st       *evidence.Statement
	era      evidence.Era
	manifest *evidence.Manifest
}

type step struct {
	name string
	run  func(*state) outcome
}

// steps are CheckNames with their implementations, in order.
var steps = []step{
	{CheckBundleParse, (*state).parseSignature},
	{CheckTransparencyLog, (*state).checkTransparencyLog},
	{CheckCertificateChain, (*state).checkCertificateChain},
	{CheckSignature, (*state).checkSignature},
	{CheckSignerIdentity, (*state).checkSignerIdentity},
	{CheckRekorLogIndex, (*state).checkRekorLogIndex},
	{CheckStatement, (*state).checkStatement},
	{CheckSubjectDigest, (*state).checkSubjectDigest},
	{CheckPredicateType, (*state).checkPredicateType},
	{CheckPredicate, (*state).checkPredicate},
	{CheckRecipeName, (*state).checkRecipeName},
	{CheckProfile, (*state).checkProfile},
	{CheckManifestDigest, (*state).checkManifestDigest},
	{CheckInventory, (*state).checkInventory},
	{CheckRecipeDigest, (*state).checkRecipeDigest},
	{CheckCTRFDigests, (*state).checkCTRFDigests},
	{CheckPhases, (*state).checkPhases},
}

// Verify runs every check of CheckNames in order against the fetched
// evidence and what the pointer claims, and stops at the first failure,
// whose class decides the invalid verdict; the remaining checks are
// reported as skipped. A bundle that passes everything is verified, or
// verified-with-failures when its signed predicate records failed phases.
// Verify never returns an error: a bundle that does not verify is a
// finding, not a failure of the auditor.
func (v *Verifier) Verify(ev *audit.Evidence, want audit.Expectation) audit.Verification {
	out := audit.Verification{LogIndex: -1, Checks: make([]audit.Check, 0, len(steps))}
	s := &state{v: v, ev: ev, want: want, out: &out}

	if o := s.precondition(); o.status == audit.CheckFail {
		s.finish(steps, 0, o)
		return out
	}
	s.run(steps, nil)
	return out
}

// precondition rejects what no check can be run on: a pointer without an
// attestation, evidence without signature material.
func (s *state) precondition() outcome {
	p := s.want.Pointer
	switch {
	case p == nil || len(p.Attestations) == 0:
		return fail(audit.ClassSchema, "the pointer names no attestation to verify")
	case s.ev == nil:
		return fail(audit.ClassSignature, "no evidence was fetched")
	}
	s.att = p.Attestations[0]
	s.fromPointer = true
	if sg := s.att.Signer; sg != nil {
		s.claim = &ExpectedSigner{Identity: sg.Identity, Issuer: sg.Issuer}
	}
	return outcome{}
}

// finish records a failure decided at list[next-1] (next 0: before any
// check) and reports the checks of list after it as skipped.
func (s *state) finish(list []step, next int, o outcome) {
	out := s.out
	out.Verdict, out.Class, out.Detail, out.Hint = audit.Invalid, o.class, o.detail, o.hint
	reason := "not reached"
	if next > 0 {
		reason = "not reached: " + list[next-1].name + " failed"
	}
	for _, st := range list[next:] {
		out.Checks = append(out.Checks, audit.Check{Name: st.name, Status: audit.CheckSkip, Detail: reason})
	}
}

// short abbreviates a hex string for human details.
func short(h string) string {
	h = strings.TrimPrefix(h, "sha256:")
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

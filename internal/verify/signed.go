package verify

import (
	"fmt"
	"slices"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// The signature and identity path is the head of every verification: the
// Sigstore bundle parses, its transparency-log entry verifies (inclusion
// proof and/or signed entry timestamp, observer time), the leaf certificate
// chains to the trusted root at that time (with SCTs when the root names CT
// logs), the DSSE signature verifies with the leaf's key, and the
// certificate names the expected signer. VerifySignature runs that path
// alone; Verify and VerifyCached run it as the first checks of their own
// list (signaturePath is a prefix of steps), so there is one implementation
// of it, and its checks carry the same names and classes everywhere.

// signaturePath is the prefix of steps that VerifySignature runs: from
// bundle-parse to signer-identity.
var signaturePath = steps[:slices.IndexFunc(steps, func(st step) bool { return st.name == CheckSignerIdentity })+1]

// ExpectedSigner is who must have signed: the certificate's subject
// alternative name (a workflow URI or an e-mail) and its OIDC issuer, each
// compared exactly — no patterns, no prefixes.
type ExpectedSigner struct {
	Identity string
	Issuer   string
}

// SignatureVerification is what VerifySignature established.
type SignatureVerification struct {
	// Verdict is audit.Verified when every check passed, else
	// audit.Invalid, with the class, detail and hint of the first failed
	// check, as Verify reports them.
	Verdict audit.Verdict
	Class   audit.Class
	Detail  string
	Hint    string
	// Checks are the checks of the signature path, bundle-parse to
	// signer-identity, each exactly once (skipped after a failure).
	Checks []audit.Check

	// Payload is the DSSE payload (an in-toto statement, payload type
	// application/vnd.in-toto+json); nil unless Verdict is Verified, so
	// that nothing unverified can be read from it. The caller checks the
	// statement's subject and predicate.
	Payload []byte
	// Identity and Issuer are the certificate's, set once the signature
	// verified — also when they are not the expected ones.
	Identity string
	Issuer   string
	// LogIndex and LogID (hex key id) name the verified log entry; -1 and
	// "" when not reached. ObserverTime is the log's signed integrated time
	// (Rekor v1) or the earliest verified RFC 3161 time (Rekor v2).
	LogIndex     int64
	LogID        string
	ObserverTime time.Time
}

// VerifySignature verifies a Sigstore bundle (JSON, at most MaxBundleSize
// bytes) holding a DSSE envelope over an in-toto statement, and that it was
// signed by want: the signature and identity path of Verify alone, for
// signed material that is not recipe evidence (a signed compliance
// snapshot, SPEC §10) and for checking the verifier against bundles that
// real Sigstore instances wrote. It is pure, safe for concurrent use, and
// never returns an error: a bundle that does not verify is a finding.
func (v *Verifier) VerifySignature(bundleJSON []byte, want ExpectedSigner) SignatureVerification {
	out := audit.Verification{LogIndex: -1, Checks: make([]audit.Check, 0, len(signaturePath))}
	s := &state{
		v:     v,
		ev:    &audit.Evidence{Signature: audit.Signature{Kind: audit.SigstoreBundle, BundleJSON: bundleJSON}},
		out:   &out,
		claim: &want,
	}
	res := SignatureVerification{LogIndex: -1}
	if s.run(signaturePath, nil) {
		out.Verdict = audit.Verified
		out.Detail = fmt.Sprintf("signed by %s (issuer %s); log entry %d at %s",
			want.Identity, want.Issuer, out.LogIndex, out.IntegratedTime.UTC().Format(time.RFC3339))
		res.Payload = s.payload
	}
	res.Verdict, res.Class, res.Detail, res.Hint, res.Checks = out.Verdict, out.Class, out.Detail, out.Hint, out.Checks
	res.LogIndex, res.LogID, res.ObserverTime = out.LogIndex, out.LogID, out.IntegratedTime
	if s.result != nil && s.result.Signature != nil && s.result.Signature.Certificate != nil {
		res.Identity = s.result.Signature.Certificate.SubjectAlternativeName
		res.Issuer = s.result.Signature.Certificate.Issuer
	}
	return res
}

// run runs list in order, appending each check to s.out.Checks, and stops
// at the first failure, which decides the invalid verdict; the rest of list
// is reported as skipped. A check named in offline is not run: it is
// reported as skipped with that reason. run reports whether no check
// failed.
func (s *state) run(list []step, offline map[string]string) bool {
	for i, st := range list {
		if why, ok := offline[st.name]; ok {
			s.out.Checks = append(s.out.Checks, audit.Check{Name: st.name, Status: audit.CheckSkip, Detail: why})
			continue
		}
		o := st.run(s)
		s.out.Checks = append(s.out.Checks, audit.Check{Name: st.name, Status: o.status, Detail: o.detail})
		if o.status == audit.CheckFail {
			s.finish(list, i+1, o)
			return false
		}
	}
	return true
}

// checkSignerIdentity compares the verified certificate with the expected
// signer, exactly. sigstore-go is told not to (see policy): a valid
// signature by someone else is identity, not signature (SPEC §3).
func (s *state) checkSignerIdentity() outcome {
	cert := s.result.Signature.Certificate
	if cert == nil {
		return fail(audit.ClassSignature, "%s is signed with a key, not a certificate naming a signer", s.form)
	}
	gotSAN, gotIss := cert.SubjectAlternativeName, cert.Issuer
	want := s.claim
	if want == nil {
		// SPEC §3: an unsigned pointer on the audited branch is invalid/signature.
		return fail(audit.ClassSignature,
			"the pointer names no signer (pending evidence must never be merged); the bundle is signed by %s (issuer %s)", gotSAN, gotIss).
			withHint("add the signer block the bundle was signed with, or remove the pointer")
	}
	said, hint := "as expected", "the signature is valid but not by the expected signer: trust the content only if that signer is one you expect"
	named := "expected"
	if s.fromPointer {
		said, hint = "as the pointer says", "re-sign with the identity the pointer names, or fix the pointer's signer block"
		named = "the pointer names"
	}
	if gotSAN == want.Identity && gotIss == want.Issuer {
		return pass("signed by %s (issuer %s), %s", gotSAN, gotIss, said)
	}
	var what string
	switch {
	case gotSAN != want.Identity && gotIss != want.Issuer:
		what = "identity and issuer differ"
	case gotSAN != want.Identity:
		what = "identity differs"
	default:
		what = "issuer differs"
	}
	return fail(audit.ClassIdentity, "signed by %s (issuer %s); %s %s (issuer %s): %s",
		gotSAN, gotIss, named, want.Identity, want.Issuer, what).withHint(hint)
}

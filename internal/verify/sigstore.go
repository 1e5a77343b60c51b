package verify

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// MaxBundleSize bounds a Sigstore bundle, in bytes (DESIGN "Reliability").
const MaxBundleSize = 1 << 20

// inTotoPayloadType is the DSSE payload type of an in-toto statement.
const inTotoPayloadType = "application/vnd.in-toto+json"

// policy verifies the log entry, the certificate chain and the DSSE
// signature, and leaves two checks to the steps after it, which compare
// and report them precisely:
//
//   - the identity (signer-identity): sigstore-go would fail a valid
//     signature by someone else exactly as it fails a broken one, and the
//     two are different classes (SPEC §3: identity vs signature);
//   - the artifact (subject-digest): sigstore-go accepts a statement when
//     any subject matches; SPEC §2.2 pins subject[0], and a mismatch is
//     digest substitution (integrity), not a bad signature.
//
// Both are then checked exactly, from the verified certificate and the
// verified payload, before anything is trusted.
var policy = sgverify.NewPolicy(sgverify.WithoutArtifactUnsafe(), sgverify.WithoutIdentitiesUnsafe())

func (s *state) parseSignature() outcome {
	switch s.ev.Signature.Kind {
	case audit.SigstoreBundle:
		return s.parseBundle()
	case audit.CosignLegacy:
		return s.parseLegacy()
	default:
		return fail(audit.ClassSignature, "no signature material (kind %q)", s.ev.Signature.Kind)
	}
}

func (s *state) parseBundle() outcome {
	raw := s.ev.Signature.BundleJSON
	s.out.BundleJSON = raw
	s.form = "Sigstore bundle"
	if len(raw) == 0 {
		return fail(audit.ClassSignature, "no Sigstore bundle is attached")
	}
	if len(raw) > MaxBundleSize {
		return fail(audit.ClassSignature, "Sigstore bundle is %d bytes, limit is %d", len(raw), MaxBundleSize)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		return fail(audit.ClassSignature, "Sigstore bundle does not parse: %v", err)
	}
	return s.useBundle(&b)
}

// useBundle checks the shape the rest relies on: a DSSE envelope over an
// in-toto statement, a certificate, at least one log entry.
func (s *state) useBundle(b *bundle.Bundle) outcome {
	env := b.GetDsseEnvelope()
	if env == nil {
		return fail(audit.ClassSignature, "%s holds a message signature, not a DSSE envelope over an in-toto statement", s.form)
	}
	if env.GetPayloadType() != inTotoPayloadType {
		return fail(audit.ClassSignature, "%s: DSSE payload type is %q, not %s", s.form, env.GetPayloadType(), inTotoPayloadType)
	}
	if len(env.GetSignatures()) == 0 {
		return fail(audit.ClassSignature, "%s: DSSE envelope has no signature", s.form)
	}
	vc, err := b.VerificationContent()
	switch {
	case errors.Is(err, bundle.ErrMissingVerificationMaterial) || err == nil && vc.Certificate() == nil:
		return fail(audit.ClassSignature, "%s carries no signing certificate", s.form)
	case err != nil:
		return fail(audit.ClassSignature, "%s: the signing certificate does not parse: %v", s.form, err)
	}
	if len(b.GetVerificationMaterial().GetTlogEntries()) == 0 && (s.layerTS == nil || !s.layerTS.only) {
		return fail(audit.ClassSignature, "%s carries no transparency-log entry", s.form)
	}
	s.entity = b
	s.payload = env.GetPayload()
	s.out.StatementJSON = s.payload
	version, _ := b.Version()
	return pass("%s %s: DSSE envelope (%d-byte in-toto payload), leaf certificate, %d log entr%s",
		s.form, version, len(s.payload), len(b.GetVerificationMaterial().GetTlogEntries()),
		plural(len(b.GetVerificationMaterial().GetTlogEntries()), "y", "ies"))
}

// verifyCrypto runs sigstore-go once and attributes a failure to the check
// it belongs to. sigstore-go verifies in a fixed order — log entry and
// observer timestamps, then the certificate chain (and SCTs), then the
// signature — and prefixes its errors accordingly.
func (s *state) verifyCrypto() {
	if s.result != nil || s.sigErr != nil {
		return
	}
	s.result, s.sigErr = s.sigstoreVerify()
	if s.sigErr == nil {
		return
	}
	msg := s.sigErr.Error()
	switch {
	case strings.HasPrefix(msg, "failed to verify log inclusion"),
		strings.HasPrefix(msg, "failed to verify timestamps"):
		s.sigStep = CheckTransparencyLog
	case strings.HasPrefix(msg, "failed to summarize certificate"),
		strings.HasPrefix(msg, "failed to verify leaf certificate"),
		strings.HasPrefix(msg, "failed to verify signed certificate timestamp"),
		strings.HasPrefix(msg, "SCTs required"),
		strings.HasPrefix(msg, "must provide timestamp"):
		s.sigStep = CheckCertificateChain
	default:
		s.sigStep = CheckSignature
	}
}

// cryptoFailure is the failure of step when sigstore-go's error belongs to
// it; ok is false when step passed.
func (s *state) cryptoFailure(step string) (outcome, bool) {
	s.verifyCrypto()
	if s.sigErr == nil || s.sigStep != step {
		return outcome{}, false
	}
	if gap, ok := s.unknownTrust(step); ok {
		return fail(audit.ClassSignature, "%s (sigstore-go: %v)", gap.detail, s.sigErr).withHint(s.refreshHint()), true
	}
	return fail(audit.ClassSignature, "%s: %v", s.form, s.sigErr).
		withHint("if trust.trustedRoot (" + short(s.v.root.name) + "…) is the Sigstore instance that signed this evidence, the bundle was altered: re-sign it"), true
}

func (s *state) checkLogEntry() outcome {
	if o, failed := s.cryptoFailure(CheckTransparencyLog); failed {
		return o
	}
	e := s.logEntry()
	if e == nil {
		return pass("log entry verified")
	}
	s.out.LogIndex = e.LogIndex()
	s.out.LogID = hex.EncodeToString([]byte(e.LogKeyID()))
	proof := "inclusion proof"
	switch {
	case e.HasInclusionPromise() && e.HasInclusionProof():
		proof = "inclusion proof and signed entry timestamp"
	case e.HasInclusionPromise():
		proof = "signed entry timestamp"
	}
	if s.result == nil {
		return pass("entry %d in log %s: %s verified", s.out.LogIndex, short(s.out.LogID), proof)
	}
	s.out.IntegratedTime = observerTime(s.result.VerifiedTimestamps)
	return pass("entry %d in log %s: %s verified; observer time %s",
		s.out.LogIndex, short(s.out.LogID), proof, s.out.IntegratedTime.UTC().Format(time.RFC3339))
}

func (s *state) checkCertificateChain() outcome {
	if o, failed := s.cryptoFailure(CheckCertificateChain); failed {
		return o
	}
	vc, _ := s.entity.VerificationContent()
	leaf := vc.Certificate()
	o := pass("leaf issued by %q (valid %s to %s) chains to the trusted root at the observer time",
		leaf.Issuer.String(), leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	if s.v.requireSCTs {
		o.detail += "; SCT verified"
	}
	return o
}

func (s *state) checkSignature() outcome {
	if o, failed := s.cryptoFailure(CheckSignature); failed {
		return o
	}
	return pass("DSSE signature verifies with the certificate's key")
}

// checkRekorLogIndex compares the pointer's rekorLogIndex with the bundle's
// entry. A mismatch is identity (SPEC §3): identity, issuer and
// rekorLogIndex are the pointer's signer claims, one family, as AICR
// reports all three from its signature step.
func (s *state) checkRekorLogIndex() outcome {
	want := s.att.Signer.RekorLogIndex
	if s.layerTS != nil && s.layerTS.only {
		return s.timestampOnlyLogIndex(want)
	}
	if want == nil {
		return skip("the pointer names no rekorLogIndex; the bundle's entry is %d", s.out.LogIndex)
	}
	var got []int64
	for _, e := range s.trustedEntries() {
		if e.LogIndex() == *want {
			s.out.LogIndex = e.LogIndex()
			s.out.LogID = hex.EncodeToString([]byte(e.LogKeyID()))
			return pass("log index %d, as the pointer says", *want)
		}
		got = append(got, e.LogIndex())
	}
	return fail(audit.ClassIdentity, "the pointer's signer block names log index %d; the bundle's entry is at %s", *want, joinInts(got)).
		withHint(fmt.Sprintf("the signature is good; fix signer.rekorLogIndex in the pointer to %s", joinInts(got)))
}

// trustedEntries are the bundle's log entries from logs the trusted root
// names (sigstore-go skips the others).
func (s *state) trustedEntries() []*tlog.Entry {
	entries, err := s.entity.TlogEntries()
	if err != nil {
		return nil
	}
	logs := s.v.material.RekorLogs()
	var out []*tlog.Entry
	for _, e := range entries {
		if _, ok := logs[hex.EncodeToString([]byte(e.LogKeyID()))]; ok {
			out = append(out, e)
		}
	}
	return out
}

// logEntry is the entry reported as the bundle's: the one the pointer
// names if any, else the first from a trusted log.
func (s *state) logEntry() *tlog.Entry {
	es := s.trustedEntries()
	if len(es) == 0 {
		return nil
	}
	if sg := s.att.Signer; sg != nil && sg.RekorLogIndex != nil {
		for _, e := range es {
			if e.LogIndex() == *sg.RekorLogIndex {
				return e
			}
		}
	}
	return es[0]
}

// observerTime is the log's verified integrated time (Rekor v1, signed by
// the entry timestamp) or, failing that (Rekor v2), the earliest verified
// RFC 3161 timestamp.
func observerTime(ts []sgverify.TimestampVerificationResult) time.Time {
	var best time.Time
	for _, t := range ts {
		if t.Type == "Tlog" {
			return t.Timestamp
		}
		if best.IsZero() || t.Timestamp.Before(best) {
			best = t.Timestamp
		}
	}
	return best
}

func joinInts(xs []int64) string {
	if len(xs) == 0 {
		return "unknown"
	}
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

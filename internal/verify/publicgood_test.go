package verify_test

import (
	"strings"
	"testing"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/testing/data"
	"google.golang.org/protobuf/proto"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

// Real bundles that Sigstore's public-good instance produced, from
// sigstore-go's pkg/testing/data, and who signed them, read once from each
// leaf certificate (SAN, and the Fulcio OIDC-issuer extension
// 1.3.6.1.4.1.57264.1.1).
const (
	// sigstore-js 2.0.0's npm provenance: a DSSE envelope over an in-toto
	// v1 statement, Rekor v1 intoto entry 31821305 with an inclusion proof
	// against a signed checkpoint and a signed entry timestamp.
	provenanceBundle   = "sigstore.js@2.0.0-provenance.sigstore.json"
	provenanceIdentity = "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"
	provenanceIssuer   = "https://token.actions.githubusercontent.com"
	provenanceLogIndex = 31821305

	// An e-mail identity's DSSE bundle (v0.1, leaf + chain), Rekor v1 intoto
	// entry 6800908 with a signed entry timestamp and no inclusion proof.
	emailBundle   = "dsse.sigstore.json"
	emailIdentity = "brian@dehamer.com"
	emailIssuer   = "https://github.com/login/oauth"
	emailLogIndex = 6800908
)

// publicGoodVerifier is a verifier built on Sigstore's public-good trusted
// root as sigstore-go ships it (which names CT logs: SCTs are required).
func publicGoodVerifier(tb *testing.T, opts ...verify.Option) *verify.Verifier {
	tb.Helper()
	raw, err := data.TrustedRoot(tb, "public-good.json").MarshalJSON()
	if err != nil {
		tb.Fatalf("marshal public-good trusted root: %v", err)
	}
	tr, err := verify.ParseTrustedRoot(raw)
	if err != nil {
		tb.Fatalf("ParseTrustedRoot(public-good): %v", err)
	}
	v, err := verify.New(tr, opts...)
	if err != nil {
		tb.Fatalf("verify.New(public-good): %v", err)
	}
	return v
}

// publicGood returns a private copy of a real public-good bundle, to mutate.
func publicGood(t *testing.T, name string) *protobundle.Bundle {
	t.Helper()
	b := data.Bundle(t, name)
	if b == nil || b.Bundle == nil {
		t.Fatalf("data.Bundle(%s): nothing", name)
	}
	return proto.Clone(b.Bundle).(*protobundle.Bundle)
}

func bundleJSON(t *testing.T, pb *protobundle.Bundle) []byte {
	t.Helper()
	raw, err := (&sgbundle.Bundle{Bundle: pb}).MarshalJSON()
	if err != nil {
		t.Fatalf("marshal bundle: %v", err)
	}
	return raw
}

// leaf is the leaf certificate's DER bytes in either bundle form.
func leaf(t *testing.T, pb *protobundle.Bundle) []byte {
	t.Helper()
	vm := pb.GetVerificationMaterial()
	if c := vm.GetCertificate(); c != nil {
		return c.GetRawBytes()
	}
	if ch := vm.GetX509CertificateChain(); ch != nil && len(ch.GetCertificates()) > 0 {
		return ch.GetCertificates()[0].GetRawBytes()
	}
	t.Fatal("bundle carries no certificate")
	return nil
}

func checkStatuses(checks []audit.Check) map[string]audit.CheckStatus {
	m := make(map[string]audit.CheckStatus, len(checks))
	for _, c := range checks {
		m[c.Name] = c.Status
	}
	return m
}

// signaturePathChecks are the checks VerifySignature reports, in order.
var signaturePathChecks = []string{
	verify.CheckBundleParse, verify.CheckTransparencyLog, verify.CheckCertificateChain,
	verify.CheckSignature, verify.CheckSignerIdentity,
}

func checkNames(checks []audit.Check) []string {
	names := make([]string, len(checks))
	for i, c := range checks {
		names[i] = c.Name
	}
	return names
}

func TestVerifySignaturePublicGood(t *testing.T) {
	cases := []struct {
		bundle, identity, issuer string
		logIndex                 int64
		proof                    string // what the transparency-log check says it verified
	}{
		{provenanceBundle, provenanceIdentity, provenanceIssuer, provenanceLogIndex, "inclusion proof and signed entry timestamp"},
		{emailBundle, emailIdentity, emailIssuer, emailLogIndex, "signed entry timestamp"},
	}
	verifiers := map[string]*verify.Verifier{
		"chain cache":    publicGoodVerifier(t),
		"no chain cache": publicGoodVerifier(t, verify.WithoutChainCache()),
	}
	for _, c := range cases {
		for vname, v := range verifiers {
			t.Run(c.bundle+"/"+vname, func(t *testing.T) {
				raw := bundleJSON(t, publicGood(t, c.bundle))
				got := v.VerifySignature(raw, verify.ExpectedSigner{Identity: c.identity, Issuer: c.issuer})
				if got.Verdict != audit.Verified {
					t.Fatalf("verdict %s/%s: %s (checks %+v)", got.Verdict, got.Class, got.Detail, got.Checks)
				}
				if names := checkNames(got.Checks); strings.Join(names, ",") != strings.Join(signaturePathChecks, ",") {
					t.Errorf("checks %v, want %v", names, signaturePathChecks)
				}
				for _, ch := range got.Checks {
					if ch.Status != audit.CheckPass {
						t.Errorf("check %s: %s (%s), want pass", ch.Name, ch.Status, ch.Detail)
					}
				}
				if got.Identity != c.identity || got.Issuer != c.issuer {
					t.Errorf("signer %s (%s), want %s (%s)", got.Identity, got.Issuer, c.identity, c.issuer)
				}
				if got.LogIndex != c.logIndex {
					t.Errorf("log index %d, want %d", got.LogIndex, c.logIndex)
				}
				// public-good Rekor v1's log id: sha256 of its key.
				if got.LogID != "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d" {
					t.Errorf("log id %s, want rekor.sigstore.dev's", got.LogID)
				}
				if got.ObserverTime.IsZero() || got.ObserverTime.Year() < 2022 {
					t.Errorf("observer time %v", got.ObserverTime)
				}
				if tl := got.Checks[1].Detail; !strings.Contains(tl, c.proof+" verified") {
					t.Errorf("transparency-log detail %q does not say %q", tl, c.proof)
				}
				if cc := got.Checks[2].Detail; !strings.Contains(cc, "SCT verified") {
					t.Errorf("certificate-chain detail %q: the public-good root names CT logs, an SCT must be verified", cc)
				}
				if !strings.Contains(string(got.Payload), `"predicateType"`) {
					t.Errorf("payload %.80q is not the signed statement", got.Payload)
				}
			})
		}
	}
}

func TestVerifySignaturePublicGoodWrongSigner(t *testing.T) {
	v := publicGoodVerifier(t)
	raw := bundleJSON(t, publicGood(t, provenanceBundle))
	cases := []struct {
		name string
		want verify.ExpectedSigner
		what string
	}{
		{"another workflow", verify.ExpectedSigner{Identity: strings.Replace(provenanceIdentity, "refs/heads/main", "refs/heads/evil", 1), Issuer: provenanceIssuer}, "identity differs"},
		{"a prefix of the identity", verify.ExpectedSigner{Identity: "https://github.com/sigstore/sigstore-js/", Issuer: provenanceIssuer}, "identity differs"},
		{"another issuer", verify.ExpectedSigner{Identity: provenanceIdentity, Issuer: "https://accounts.google.com"}, "issuer differs"},
		{"the other real signer", verify.ExpectedSigner{Identity: emailIdentity, Issuer: emailIssuer}, "identity and issuer differ"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := v.VerifySignature(raw, c.want)
			if got.Verdict != audit.Invalid || got.Class != audit.ClassIdentity {
				t.Fatalf("verdict %s/%s, want invalid/identity: %s", got.Verdict, got.Class, got.Detail)
			}
			st := checkStatuses(got.Checks)
			if st[verify.CheckSignerIdentity] != audit.CheckFail || st[verify.CheckSignature] != audit.CheckPass {
				t.Errorf("checks %+v: want signature pass, signer-identity fail", got.Checks)
			}
			for _, s := range []string{provenanceIdentity, c.want.Identity, c.what} {
				if !strings.Contains(got.Detail, s) {
					t.Errorf("detail %q does not name %q", got.Detail, s)
				}
			}
			if got.Hint == "" {
				t.Error("no hint")
			}
			if got.Payload != nil {
				t.Error("payload returned for a bundle that is not by the expected signer")
			}
			if got.Identity != provenanceIdentity || got.LogIndex != provenanceLogIndex {
				t.Errorf("facts %s, %d: the signature verified, its signer and entry are known", got.Identity, got.LogIndex)
			}
		})
	}
}

// TestVerifySignaturePublicGoodMutations flips one byte of each signed
// part of real public-good bundles. sigstore-go checks the log entry first,
// and for a Rekor v1 entry that includes the bundle ↔ entry binding: the
// entry records the signature, the certificate and the payload's hash, so
// altering any of them fails transparency-log (the entry no longer
// describes this bundle) before the certificate chain or the signature
// are looked at. The detail names the part that differs.
func TestVerifySignaturePublicGoodMutations(t *testing.T) {
	v := publicGoodVerifier(t)
	cases := []struct {
		name   string
		bundle string
		mutate func(t *testing.T, pb *protobundle.Bundle)
		failed string
		detail string // "" when the detail's wording is not the point
	}{
		{
			name: "DSSE signature", bundle: provenanceBundle,
			mutate: func(t *testing.T, pb *protobundle.Bundle) {
				sig := pb.GetDsseEnvelope().GetSignatures()[0].Sig
				sig[len(sig)/2] ^= 0x01
			},
			failed: verify.CheckTransparencyLog, detail: "transparency log signature does not match",
		},
		{
			name: "DSSE signature (no inclusion proof)", bundle: emailBundle,
			mutate: func(t *testing.T, pb *protobundle.Bundle) {
				sig := pb.GetDsseEnvelope().GetSignatures()[0].Sig
				sig[len(sig)/2] ^= 0x01
			},
			failed: verify.CheckTransparencyLog, detail: "transparency log signature does not match",
		},
		{
			name: "payload", bundle: provenanceBundle,
			mutate: func(t *testing.T, pb *protobundle.Bundle) {
				p := pb.GetDsseEnvelope().Payload
				p[len(p)/2] ^= 0x01
			},
			failed: verify.CheckTransparencyLog, detail: "does not match envelope payload hash",
		},
		{
			name: "certificate signature", bundle: provenanceBundle,
			mutate: func(t *testing.T, pb *protobundle.Bundle) {
				der := leaf(t, pb)
				der[len(der)-1] ^= 0x01 // in the issuer's signature: still parses
			},
			failed: verify.CheckTransparencyLog, detail: "transparency log certificate does not match",
		},
		{
			name: "certificate structure", bundle: emailBundle,
			mutate: func(t *testing.T, pb *protobundle.Bundle) {
				leaf(t, pb)[1] ^= 0x40 // the outer SEQUENCE's length
			},
			failed: verify.CheckBundleParse, detail: "certificate does not parse",
		},
		{
			name: "inclusion-proof hash", bundle: provenanceBundle,
			mutate: func(t *testing.T, pb *protobundle.Bundle) {
				h := pb.GetVerificationMaterial().GetTlogEntries()[0].GetInclusionProof().GetHashes()
				if len(h) == 0 {
					t.Fatal("no inclusion-proof hashes")
				}
				h[0][0] ^= 0x01
			},
			failed: verify.CheckTransparencyLog, detail: "does not match expected root",
		},
		{
			name: "SET", bundle: provenanceBundle,
			mutate: func(t *testing.T, pb *protobundle.Bundle) {
				set := pb.GetVerificationMaterial().GetTlogEntries()[0].GetInclusionPromise().SignedEntryTimestamp
				set[len(set)-2] ^= 0x01 // inside the ECDSA s value
			},
			failed: verify.CheckTransparencyLog,
		},
		{
			name: "SET (no inclusion proof)", bundle: emailBundle,
			mutate: func(t *testing.T, pb *protobundle.Bundle) {
				set := pb.GetVerificationMaterial().GetTlogEntries()[0].GetInclusionPromise().SignedEntryTimestamp
				set[len(set)-2] ^= 0x01
			},
			failed: verify.CheckTransparencyLog,
		},
	}
	signer := map[string]verify.ExpectedSigner{
		provenanceBundle: {Identity: provenanceIdentity, Issuer: provenanceIssuer},
		emailBundle:      {Identity: emailIdentity, Issuer: emailIssuer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pb := publicGood(t, c.bundle)
			c.mutate(t, pb)
			got := v.VerifySignature(bundleJSON(t, pb), signer[c.bundle])
			if got.Verdict != audit.Invalid || got.Class != audit.ClassSignature {
				t.Fatalf("verdict %s/%s, want invalid/signature: %s", got.Verdict, got.Class, got.Detail)
			}
			var failed []string
			for _, ch := range got.Checks {
				if ch.Status == audit.CheckFail {
					failed = append(failed, ch.Name)
				}
			}
			if len(failed) != 1 || failed[0] != c.failed {
				t.Errorf("failed checks %v, want [%s] (checks %+v)", failed, c.failed, got.Checks)
			}
			if !strings.Contains(got.Detail, c.detail) {
				t.Errorf("detail %q does not contain %q", got.Detail, c.detail)
			}
			// sigstore-go skips an entry whose SET does not verify exactly
			// as it skips an entry of a log the root does not name; here the
			// log is in the root: this is an altered bundle, not stale trust.
			if s := strings.ToLower(got.Detail + " " + got.Hint); strings.Contains(s, "refresh") || strings.Contains(s, "not in the trusted root") {
				t.Errorf("an altered bundle reads as stale trust material: %s (hint %s)", got.Detail, got.Hint)
			}
			if got.Payload != nil || got.Identity != "" {
				t.Errorf("a rejected bundle yields payload %d bytes, identity %q", len(got.Payload), got.Identity)
			}
		})
	}
}

// TestVerifyBuildsOnSignaturePath runs the whole Verify on a real
// public-good bundle whose statement is not AICR evidence: its signature
// path reports exactly what VerifySignature reports, and the first failure
// is the statement's, not the signature's.
func TestVerifyBuildsOnSignaturePath(t *testing.T) {
	v := publicGoodVerifier(t)
	raw := bundleJSON(t, publicGood(t, provenanceBundle))
	idx := int64(provenanceLogIndex)
	ptr := &evidence.Pointer{
		SchemaVersion: "1.0.0",
		Recipe:        recipe,
		Attestations: []evidence.Attestation{{
			Bundle: evidence.Bundle{OCI: repository + ":x", Digest: "sha256:" + strings.Repeat("a", 64), PredicateType: evidence.PredicateTypeV3},
			Signer: &evidence.Signer{Identity: provenanceIdentity, Issuer: provenanceIssuer, RekorLogIndex: &idx},
		}},
	}
	full := v.Verify(&audit.Evidence{Signature: audit.Signature{Kind: audit.SigstoreBundle, BundleJSON: raw}},
		audit.Expectation{Pointer: ptr})
	alone := v.VerifySignature(raw, verify.ExpectedSigner{Identity: provenanceIdentity, Issuer: provenanceIssuer})
	if len(full.Checks) < len(alone.Checks) {
		t.Fatalf("Verify reported %d checks", len(full.Checks))
	}
	for i, a := range alone.Checks {
		f := full.Checks[i]
		if f.Name != a.Name || f.Status != a.Status {
			t.Errorf("check %d: Verify %s/%s, VerifySignature %s/%s", i, f.Name, f.Status, a.Name, a.Status)
		}
		if f.Name != verify.CheckSignerIdentity && f.Detail != a.Detail {
			t.Errorf("check %s: Verify says %q, VerifySignature %q", f.Name, f.Detail, a.Detail)
		}
	}
	if full.LogIndex != alone.LogIndex || full.LogID != alone.LogID || !full.IntegratedTime.Equal(alone.ObserverTime) {
		t.Errorf("Verify: entry %d %s at %v; VerifySignature: %d %s at %v",
			full.LogIndex, full.LogID, full.IntegratedTime, alone.LogIndex, alone.LogID, alone.ObserverTime)
	}
	st := checkStatuses(full.Checks)
	if st[verify.CheckRekorLogIndex] != audit.CheckPass {
		t.Errorf("rekor-log-index: %s", st[verify.CheckRekorLogIndex])
	}
	if full.Verdict != audit.Invalid || full.Class == audit.ClassSignature || full.Class == audit.ClassIdentity {
		t.Errorf("verdict %s/%s (%s): a SLSA provenance is not recipe evidence, but its signature is good",
			full.Verdict, full.Class, full.Detail)
	}
}

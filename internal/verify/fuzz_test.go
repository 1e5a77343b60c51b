package verify_test

import (
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

// FuzzVerifyBundle: whatever the Sigstore bundle bytes, Verify does not
// panic, reports every check, and anything healthy passed every check.
func FuzzVerifyBundle(f *testing.F) {
	w := shared(f)
	good := w.sign(f, publish.SummarySpec{}, alice)
	f.Add(good.ev.Signature.BundleJSON)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{"payload":"","payloadType":"application/vnd.in-toto+json","signatures":[]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev := *good.ev
		ev.Signature.BundleJSON = data
		got := w.v.Verify(&ev, good.want())
		fuzzInvariants(t, got)
	})
}

// FuzzVerifyLegacy: the same for a cosign layer's Rekor bundle annotation.
func FuzzVerifyLegacy(f *testing.F) {
	w := shared(f)
	good := w.signLegacy(f, publish.SummarySpec{}, alice)
	layer := good.ev.Signature.Legacy[0]
	f.Add(layer.Bundle, layer.Certificate)
	f.Add(`{"Payload":{"body":"e30=","logID":"zz"}}`, "")
	f.Fuzz(func(t *testing.T, rekorBundle, certPEM string) {
		ev := *good.ev
		l := layer
		l.Bundle, l.Certificate = rekorBundle, certPEM
		ev.Signature.Legacy = []audit.LegacyLayer{l}
		got := w.v.Verify(&ev, good.want())
		fuzzInvariants(t, got)
	})
}

// FuzzVerifyLegacyTimestamp: the same for a cosign layer's RFC 3161
// timestamp annotation, with and without its Rekor bundle.
func FuzzVerifyLegacyTimestamp(f *testing.F) {
	tw := sharedTSA(f)
	good, _ := signStamped(f, tw.listed, publish.SummarySpec{}, alice, true)
	layer := good.ev.Signature.Legacy[0]
	f.Add(layer.RFC3161Timestamp, true)
	f.Add(layer.RFC3161Timestamp, false)
	f.Add(`{"SignedRFC3161Timestamp":"MAA="}`, false)
	f.Fuzz(func(t *testing.T, annotation string, logged bool) {
		ev := *good.ev
		l := layer
		l.RFC3161Timestamp = annotation
		want := good.want()
		if !logged {
			l.Bundle = ""
			p := *want.Pointer
			p.Attestations = append([]evidence.Attestation(nil), p.Attestations...)
			sg := *p.Attestations[0].Signer
			sg.RekorLogIndex = nil
			p.Attestations[0].Signer = &sg
			want.Pointer = &p
		}
		ev.Signature.Legacy = []audit.LegacyLayer{l}
		got := tw.v.Verify(&ev, want)
		fuzzInvariants(t, got)
	})
}

func fuzzInvariants(t *testing.T, got audit.Verification) {
	t.Helper()
	if len(got.Checks) != len(verify.CheckNames) {
		t.Fatalf("%d checks, want %d", len(got.Checks), len(verify.CheckNames))
	}
	if got.Detail == "" {
		t.Fatal("empty detail")
	}
	if got.Verdict.Healthy() {
		for _, c := range got.Checks {
			if c.Status == audit.CheckFail {
				t.Fatalf("healthy verdict with failed check %s", c.Name)
			}
		}
	} else if got.Verdict != audit.Invalid || got.Class == "" {
		t.Fatalf("verdict %s/%s", got.Verdict, got.Class)
	}
}

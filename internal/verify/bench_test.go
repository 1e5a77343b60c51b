package verify_test

import (
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

// BenchmarkVerify measures Verify on one sandbox-signed bundle (P-384 CA,
// as Fulcio's; Rekor v1 entry with SET and inclusion proof), with and
// without the chain cache, for a Rekor v2 bundle (hashedrekord v0.0.2,
// Ed25519-signed C2SP checkpoint, RFC 3161 timestamp), and for a legacy
// cosign layer. DESIGN "Targets":
// ≤ 4 ms client CPU per pointer overall, of which verification is a part.
func BenchmarkVerify(b *testing.B) {
	w := shared(b)
	plain, err := verify.New(w.root, verify.WithoutChainCache())
	if err != nil {
		b.Fatal(err)
	}
	good := w.sign(b, publish.SummarySpec{}, alice)
	legacy := w.signLegacy(b, publish.SummarySpec{}, alice)
	v2 := w.signV2(b, publish.SummarySpec{}, alice)
	for _, bc := range []struct {
		name string
		v    *verify.Verifier
		bn   *bundle
	}{
		{"bundle", w.v, good},
		{"bundle-no-chain-cache", plain, good},
		{"bundle-rekor-v2", w.v, v2},
		{"bundle-rekor-v2-no-chain-cache", plain, v2},
		{"cosign-legacy", w.v, legacy},
	} {
		b.Run(bc.name, func(b *testing.B) {
			want := bc.bn.want()
			b.ReportAllocs()
			for b.Loop() {
				if got := bc.v.Verify(bc.bn.ev, want); got.Verdict != audit.Verified {
					b.Fatalf("verdict = %s/%s: %s", got.Verdict, got.Class, got.Detail)
				}
			}
		})
	}
}

// BenchmarkVerifyParallel shares one Verifier between GOMAXPROCS
// goroutines, as the audit's worker pool does.
func BenchmarkVerifyParallel(b *testing.B) {
	w := shared(b)
	good := w.sign(b, publish.SummarySpec{}, alice)
	want := good.want()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if got := w.v.Verify(good.ev, want); got.Verdict != audit.Verified {
				b.Errorf("verdict = %s/%s: %s", got.Verdict, got.Class, got.Detail)
				return
			}
		}
	})
}

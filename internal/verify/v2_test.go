package verify_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/signer"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

// TestVerifyRekorV2: a Rekor v2 era bundle (hashedrekord v0.0.2 entry, C2SP
// checkpoint, RFC 3161 timestamp, no SET) verifies, its log is named by the
// v2 key hash, and the RFC 3161 time is the observer time — the `log` age
// source — both fetched and from the cache.
func TestVerifyRekorV2(t *testing.T) {
	w := shared(t)
	at := time.Now().AddDate(0, -25, 0).UTC().Truncate(time.Second)
	b := w.signV2(t, publish.SummarySpec{AttestedAt: at}, alice)
	wantTime := at.Add(time.Minute).Add(signer.DefaultIntegrationDelay)
	for name, got := range map[string]audit.Verification{
		"fetched": w.v.Verify(b.ev, b.want()),
		"cached":  w.v.VerifyCached(b.ev.Signature.BundleJSON, b.want()),
	} {
		if got.Verdict != audit.Verified {
			t.Fatalf("%s: verdict = %s/%s: %s", name, got.Verdict, got.Class, got.Detail)
		}
		if got.LogID != w.signer.RekorV2().LogIDHex() || got.LogIndex != b.info.LogIndex {
			t.Errorf("%s: log %s index %d, want the v2 log %s index %d", name, got.LogID, got.LogIndex, w.signer.RekorV2().LogIDHex(), b.info.LogIndex)
		}
		if !got.IntegratedTime.Equal(wantTime) {
			t.Errorf("%s: IntegratedTime = %v, want the RFC 3161 time %v", name, got.IntegratedTime, wantTime)
		}
	}
}

// TestVerifyRekorV2Tampered: the verifier's signature and log checks fail
// a v2 bundle whose checkpoint, proof, timestamp or signature was altered.
func TestVerifyRekorV2Tampered(t *testing.T) {
	w := shared(t)
	for range 3 { // others' entries: the proof has hashes
		w.signV2(t, publish.SummarySpec{}, bob)
	}
	b := w.signV2(t, publish.SummarySpec{}, alice)
	flip := func(s string) string {
		raw, _ := base64.StdEncoding.DecodeString(s)
		raw[len(raw)/2] ^= 1
		return base64.StdEncoding.EncodeToString(raw)
	}
	entry := func(m map[string]any) map[string]any {
		return m["verificationMaterial"].(map[string]any)["tlogEntries"].([]any)[0].(map[string]any)
	}
	for _, tt := range []struct {
		name string
		f    func(map[string]any)
	}{
		{"checkpoint signature", func(m map[string]any) {
			cp := entry(m)["inclusionProof"].(map[string]any)["checkpoint"].(map[string]any)
			env := cp["envelope"].(string)
			i := strings.LastIndex(env, " ")
			cp["envelope"] = env[:i+1] + flip(strings.TrimSuffix(env[i+1:], "\n")) + "\n"
		}},
		{"inclusion proof", func(m map[string]any) {
			hs := entry(m)["inclusionProof"].(map[string]any)["hashes"].([]any)
			hs[0] = flip(hs[0].(string))
		}},
		{"RFC 3161 timestamp", func(m map[string]any) {
			ts := m["verificationMaterial"].(map[string]any)["timestampVerificationData"].(map[string]any)["rfc3161Timestamps"].([]any)[0].(map[string]any)
			ts["signedTimestamp"] = flip(ts["signedTimestamp"].(string))
		}},
		{"DSSE signature", func(m map[string]any) {
			sig := m["dsseEnvelope"].(map[string]any)["signatures"].([]any)[0].(map[string]any)
			sig["sig"] = flip(sig["sig"].(string))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(b.ev.Signature.BundleJSON, &m); err != nil {
				t.Fatal(err)
			}
			tt.f(m)
			bad, _ := json.Marshal(m)
			ev := *b.ev
			ev.Signature.BundleJSON = bad
			got := w.v.Verify(&ev, b.want())
			if got.Verdict != audit.Invalid || got.Class != audit.ClassSignature {
				t.Errorf("verdict %s/%s: %s", got.Verdict, got.Class, got.Detail)
			}
			var failed string
			for _, c := range got.Checks {
				if c.Status == audit.CheckFail {
					failed = c.Name
				}
			}
			if failed != verify.CheckTransparencyLog && failed != verify.CheckSignature && failed != verify.CheckCertificateChain {
				t.Errorf("failed check %q", failed)
			}
		})
	}
}

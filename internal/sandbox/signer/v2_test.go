package signer_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/rekorv2"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/signer"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/tlog"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/tsa"
)

const v2URL = "https://log2025-1.rekor.sandbox.local"

// newBothEras is a signer with a Rekor v1 log, a Rekor v2 log (Ed25519,
// origin the host of v2URL) and a timestamp authority.
func newBothEras(tb testing.TB) *signer.Signer {
	tb.Helper()
	c, err := ca.New()
	if err != nil {
		tb.Fatal(err)
	}
	l1, err := tlog.New()
	if err != nil {
		tb.Fatal(err)
	}
	u, _ := url.Parse(v2URL)
	l2, err := rekorv2.New(rekorv2.WithOrigin(u.Hostname()))
	if err != nil {
		tb.Fatal(err)
	}
	a, err := tsa.New()
	if err != nil {
		tb.Fatal(err)
	}
	s, err := signer.New(c, l1, signer.WithRekorV2(l2, v2URL), signer.WithTSA(a, "https://tsa.sandbox.local"))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// newVerifierBothEras verifies as sigstore-go does for a root with a TSA:
// one log entry and one observer timestamp (the v1 integrated time or the
// v2 bundle's RFC 3161 timestamp).
func newVerifierBothEras(tb testing.TB, trJSON []byte) *verify.Verifier {
	tb.Helper()
	tr, err := root.NewTrustedRootFromJSON(trJSON)
	if err != nil {
		tb.Fatalf("NewTrustedRootFromJSON: %v", err)
	}
	v, err := verify.NewVerifier(tr, verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func TestTrustedRootBothEras(t *testing.T) {
	s := newBothEras(t)
	trJSON, err := s.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromJSON(trJSON)
	if err != nil {
		t.Fatal(err)
	}
	logs := tr.RekorLogs()
	v1, ok1 := logs[s.Log().LogID()]
	v2, ok2 := logs[s.RekorV2().LogIDHex()]
	if !ok1 || !ok2 || len(logs) != 2 {
		t.Fatalf("trusted root logs %v, want the v1 log by sha256(SPKI) and the v2 log by its C2SP key hash", keys(logs))
	}
	if v1.BaseURL != s.LogURL() || v2.BaseURL != v2URL {
		t.Errorf("base URLs %q, %q", v1.BaseURL, v2.BaseURL)
	}
	if u, _ := url.Parse(v2.BaseURL); u.Hostname() != s.RekorV2().Origin() {
		t.Errorf("v2 base URL host %q is not the checkpoint origin %q", u.Hostname(), s.RekorV2().Origin())
	}
	if tsas := tr.TimestampingAuthorities(); len(tsas) != 1 {
		t.Errorf("%d timestamp authorities, want 1", len(tsas))
	}
}

func keys(m map[string]*root.TransparencyLog) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestSignV2VerifiesWithSigstoreGo: a v2 bundle — hashedrekord v0.0.2 entry
// over the PAE, inclusion proof under a C2SP checkpoint, RFC 3161 timestamp,
// no SET, no integrated time — verifies with sigstore-go at back-dated
// times, and its only verified timestamp is the TSA's.
func TestSignV2VerifiesWithSigstoreGo(t *testing.T) {
	s := newBothEras(t)
	trJSON, err := s.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifierBothEras(t, trJSON)
	now := time.Now()
	for i, at := range []time.Time{now.Add(-time.Minute), now.AddDate(0, -25, 0), now.AddDate(-7, 0, 0)} {
		t.Run(fmt.Sprint(at.Format("2006-01")), func(t *testing.T) {
			st, digest := statement(t, fmt.Sprintf("v2-%d", i))
			bj, info, err := s.SignV2(st, workflow, at)
			if err != nil {
				t.Fatal(err)
			}
			res, err := verifyBundle(t, v, bj, policy(t, workflow, digest))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if len(res.VerifiedTimestamps) != 1 || res.VerifiedTimestamps[0].Type != "TimestampAuthority" {
				t.Fatalf("verified timestamps %+v, want the TSA's only", res.VerifiedTimestamps)
			}
			if got, want := res.VerifiedTimestamps[0].Timestamp, at.Add(signer.DefaultIntegrationDelay).UTC().Truncate(time.Second); !got.Equal(want) || !info.IntegratedTime.Equal(want) {
				t.Errorf("timestamp %s (info %s), want at + delay = %s", got, info.IntegratedTime, want)
			}
			var b struct {
				VerificationMaterial struct {
					TlogEntries []map[string]any `json:"tlogEntries"`
				} `json:"verificationMaterial"`
			}
			if err := json.Unmarshal(bj, &b); err != nil {
				t.Fatal(err)
			}
			e := b.VerificationMaterial.TlogEntries[0]
			if e["integratedTime"] != nil || e["inclusionPromise"] != nil {
				t.Errorf("v2 entry carries integrated time or a SET: %v", e)
			}
			if kv := e["kindVersion"].(map[string]any); kv["kind"] != "hashedrekord" || kv["version"] != "0.0.2" {
				t.Errorf("kindVersion %v", kv)
			}
		})
	}
	// The v1 era still verifies against the same root.
	st, digest := statement(t, "v1-beside-v2")
	bj, _, err := s.Sign(st, workflow, now.AddDate(0, -3, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyBundle(t, v, bj, policy(t, workflow, digest)); err != nil {
		t.Errorf("v1 bundle against the both-era root: %v", err)
	}
}

// TestSignV2TamperingFails: every part a v2 bundle's trust rests on is
// checked by sigstore-go's verifier.
func TestSignV2TamperingFails(t *testing.T) {
	s := newBothEras(t)
	trJSON, err := s.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifierBothEras(t, trJSON)
	for i := range 4 { // others' entries: the proof has hashes
		other, _ := statement(t, fmt.Sprint("before-", i))
		if _, _, err := s.SignV2(other, person, time.Now().AddDate(0, -26, 0)); err != nil {
			t.Fatal(err)
		}
	}
	st, digest := statement(t, "v2-tamper")
	good, _, err := s.SignV2(st, workflow, time.Now().AddDate(0, -25, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyBundle(t, v, good, policy(t, workflow, digest)); err != nil {
		t.Fatalf("untampered: %v", err)
	}
	flipB64 := func(s string) string {
		raw, _ := base64.StdEncoding.DecodeString(s)
		raw[len(raw)/2] ^= 1
		return base64.StdEncoding.EncodeToString(raw)
	}
	other, _ := statement(t, "substituted")
	for _, tt := range []struct {
		name string
		f    func(m map[string]any)
		want string
	}{
		{"payload altered", func(m map[string]any) {
			m["dsseEnvelope"].(map[string]any)["payload"] = base64.StdEncoding.EncodeToString(other)
		}, "verifying inclusion"},
		{"signature altered", func(m map[string]any) {
			sig := m["dsseEnvelope"].(map[string]any)["signatures"].([]any)[0].(map[string]any)
			sig["sig"] = flipB64(sig["sig"].(string))
		}, ""},
		// (inclusionProof.rootHash is not read: the root is the signed
		// checkpoint's.)
		{"inclusion proof hash altered", func(m map[string]any) {
			hs := tlogEntry(m)["inclusionProof"].(map[string]any)["hashes"].([]any)
			hs[0] = flipB64(hs[0].(string))
		}, "verifying inclusion"},
		{"checkpoint altered", func(m map[string]any) {
			cp := tlogEntry(m)["inclusionProof"].(map[string]any)["checkpoint"].(map[string]any)
			env := cp["envelope"].(string)
			lines := strings.SplitN(env, "\n", 3)
			cp["envelope"] = lines[0] + "\n" + fmt.Sprint(len(lines[1])+1000) + "\n" + lines[2]
		}, "checkpoint"},
		{"RFC 3161 timestamp altered", func(m map[string]any) {
			ts := m["verificationMaterial"].(map[string]any)["timestampVerificationData"].(map[string]any)["rfc3161Timestamps"].([]any)[0].(map[string]any)
			ts["signedTimestamp"] = flipB64(ts["signedTimestamp"].(string))
		}, ""},
		{"RFC 3161 timestamp removed", func(m map[string]any) {
			delete(m["verificationMaterial"].(map[string]any), "timestampVerificationData")
		}, "timestamp"},
		{"log ID of an unknown log", func(m map[string]any) {
			tlogEntry(m)["logId"] = map[string]any{"keyId": base64.StdEncoding.EncodeToString(make([]byte, 32))}
		}, "not enough verified log entries"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verifyBundle(t, v, mutate(t, good, tt.f), policy(t, workflow, digest))
			if err == nil {
				t.Fatal("tampered v2 bundle verifies")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to mention %q", err, tt.want)
			}
		})
	}
	// A root that lists the v2 log under Rekor v1's key hint (sha256(SPKI))
	// instead of its C2SP key hash does not find the entry's log.
	wrong := bytes.Replace(trJSON, []byte(base64.StdEncoding.EncodeToString(s.RekorV2().LogID())),
		[]byte(base64.StdEncoding.EncodeToString(spkiHash(s.RekorV2().PublicKeyDER()))), 1)
	if _, err := verifyBundle(t, newVerifierBothEras(t, wrong), good, policy(t, workflow, digest)); err == nil {
		t.Error("v2 bundle verifies against a root naming the log by sha256(SPKI)")
	}
}

func spkiHash(der []byte) []byte {
	h := sha256.Sum256(der)
	return h[:]
}

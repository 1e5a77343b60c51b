package verify_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	sgca "github.com/sigstore/sigstore-go/pkg/testing/ca"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

// A stale trusted root (SPEC §3): material the root does not list is named,
// and the hint says to refresh the root; real tampering with material the
// root does list keeps its description ("the bundle was altered").

const refreshHint = "refresh the trusted root"

func checkStale(t *testing.T, got audit.Verification, failed string, detail ...string) {
	t.Helper()
	checkVerification(t, got, verifyCase{verdict: audit.Invalid, class: audit.ClassSignature, failed: failed,
		detail: detail, hintHas: refreshHint, hintNot: "altered"})
}

func checkTampered(t *testing.T, got audit.Verification, failed string, detail ...string) {
	t.Helper()
	checkVerification(t, got, verifyCase{verdict: audit.Invalid, class: audit.ClassSignature, failed: failed,
		detail: detail, hintHas: "the bundle was altered", hintNot: refreshHint})
	if strings.Contains(got.Detail, "not in the trusted root") {
		t.Errorf("tampering described as unknown trust material: %s", got.Detail)
	}
}

// editBundle rewrites a Sigstore bundle's JSON.
func editBundle(t *testing.T, bundleJSON []byte, edit func(b map[string]any)) []byte {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(bundleJSON, &b); err != nil {
		t.Fatal(err)
	}
	edit(b)
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tlogEntry(b map[string]any) map[string]any {
	return b["verificationMaterial"].(map[string]any)["tlogEntries"].([]any)[0].(map[string]any)
}

// flipB64 flips one bit of the base64 field key of m.
func flipB64(t *testing.T, m map[string]any, key string) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(m[key].(string))
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0x01
	m[key] = base64.StdEncoding.EncodeToString(raw)
}

func TestUnknownLog(t *testing.T) {
	w := shared(t)
	other := newWorld(t) // another CA and another log
	b := other.sign(t, publish.SummarySpec{}, alice)
	var m map[string]any
	if err := json.Unmarshal(b.ev.Signature.BundleJSON, &m); err != nil {
		t.Fatal(err)
	}
	rawID, err := base64.StdEncoding.DecodeString(tlogEntry(m)["logId"].(map[string]any)["keyId"].(string))
	if err != nil {
		t.Fatal(err)
	}
	logID := hex.EncodeToString(rawID) // the other world's v1 log, which signed the entry

	got := w.v.Verify(b.ev, b.want())
	checkStale(t, got, verify.CheckTransparencyLog, "transparency log is not in the trusted root", logID,
		"entry "+strconv.FormatInt(b.info.LogIndex, 10)+" of Rekor v1 log")
	if strings.Contains(got.Detail, "altered") {
		t.Errorf("detail speaks of alteration: %s", got.Detail)
	}
}

func TestUnknownCAWithKnownLog(t *testing.T) {
	w := shared(t)
	// The world's log, another world's CA: the log verifies, the chain not.
	other := newWorld(t)
	var trA, trB map[string]any
	if err := json.Unmarshal(w.root.JSON(), &trA); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(other.root.JSON(), &trB); err != nil {
		t.Fatal(err)
	}
	trA["certificateAuthorities"] = trB["certificateAuthorities"]
	v := verifierFor(t, trA)

	b := w.sign(t, publish.SummarySpec{}, alice)
	checkStale(t, v.Verify(b.ev, b.want()), verify.CheckCertificateChain,
		"certificate authority is not in the trusted root", `issued by "CN=sandbox.sigstore.local-intermediate`)
}

func TestTamperingWithKnownMaterial(t *testing.T) {
	w := shared(t)
	t.Run("signed entry timestamp", func(t *testing.T) {
		// sigstore-go skips an entry whose SET does not verify and then finds
		// too few entries — the same error as an unknown log; the log is
		// known, so this is tampering.
		b := w.sign(t, publish.SummarySpec{}, alice)
		b.ev.Signature.BundleJSON = editBundle(t, b.ev.Signature.BundleJSON, func(m map[string]any) {
			flipB64(t, tlogEntry(m)["inclusionPromise"].(map[string]any), "signedEntryTimestamp")
		})
		checkTampered(t, w.v.Verify(b.ev, b.want()), verify.CheckTransparencyLog, "not enough verified log entries")
	})
	t.Run("signature byte", func(t *testing.T) {
		b := w.sign(t, publish.SummarySpec{}, alice)
		b.ev.Signature.BundleJSON = editBundle(t, b.ev.Signature.BundleJSON, func(m map[string]any) {
			sig := m["dsseEnvelope"].(map[string]any)["signatures"].([]any)[0].(map[string]any)
			flipB64(t, sig, "sig")
		})
		checkTampered(t, w.v.Verify(b.ev, b.want()), verify.CheckTransparencyLog, "signature does not match")
	})
}

// TestTimestampAuthority: a bundle whose observer time is an RFC 3161
// timestamp alone (its v1 entry without a signed entry timestamp, as a
// Rekor v2 entry has none) verifies against a root that lists the
// timestamp authority, and names the authority against one that does not.
func TestTimestampAuthority(t *testing.T) {
	w := shared(t)
	vs, err := sgca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	tsa := vs.TimestampingAuthorities()[0].(*root.SigstoreTimestampingAuthority)

	// Signed now: the leaf must be valid at the timestamp's time.
	sum := build(t, publish.SummarySpec{})
	b := w.signSummaryAt(t, sum, alice, time.Now())
	var stamped []byte
	b.ev.Signature.BundleJSON = editBundle(t, b.ev.Signature.BundleJSON, func(m map[string]any) {
		sig := m["dsseEnvelope"].(map[string]any)["signatures"].([]any)[0].(map[string]any)["sig"].(string)
		raw, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			t.Fatal(err)
		}
		tsr, err := vs.TimestampResponse(raw)
		if err != nil {
			t.Fatal(err)
		}
		stamped = tsr
		delete(tlogEntry(m), "inclusionPromise")
		m["verificationMaterial"].(map[string]any)["timestampVerificationData"] = map[string]any{
			"rfc3161Timestamps": []any{map[string]any{"signedTimestamp": base64.StdEncoding.EncodeToString(tsr)}},
		}
	})
	if len(stamped) == 0 {
		t.Fatal("no timestamp made")
	}

	var tr map[string]any
	if err := json.Unmarshal(w.root.JSON(), &tr); err != nil {
		t.Fatal(err)
	}
	chain := []any{map[string]any{"rawBytes": base64.StdEncoding.EncodeToString(tsa.Leaf.Raw)}}
	for _, c := range tsa.Intermediates {
		chain = append(chain, map[string]any{"rawBytes": base64.StdEncoding.EncodeToString(c.Raw)})
	}
	chain = append(chain, map[string]any{"rawBytes": base64.StdEncoding.EncodeToString(tsa.Root.Raw)})
	tr["timestampAuthorities"] = []any{map[string]any{
		"subject":   map[string]any{"organization": "virtual", "commonName": "virtual tsa"},
		"uri":       "https://tsa.example",
		"certChain": map[string]any{"certificates": chain},
		"validFor":  map[string]any{"start": "2020-01-01T00:00:00Z"},
	}}

	t.Run("listed", func(t *testing.T) {
		got := verifierFor(t, tr).Verify(b.ev, b.want())
		checkVerification(t, got, verifyCase{verdict: audit.Verified})
		if got.IntegratedTime.IsZero() || time.Since(got.IntegratedTime) > time.Hour {
			t.Errorf("observer time %v, want the RFC 3161 time", got.IntegratedTime)
		}
	})
	t.Run("not listed", func(t *testing.T) {
		checkStale(t, w.v.Verify(b.ev, b.want()), verify.CheckTransparencyLog,
			"timestamp authority is not in the trusted root", tsa.Leaf.Issuer.String(), "the trusted root lists")
	})
	t.Run("another authority listed", func(t *testing.T) {
		rootCert, leafCert := otherTSA(t)
		tr2 := map[string]any{}
		for k, v := range tr {
			tr2[k] = v
		}
		tr2["timestampAuthorities"] = []any{map[string]any{
			"uri": "https://other-tsa.example",
			"certChain": map[string]any{"certificates": []any{
				map[string]any{"rawBytes": base64.StdEncoding.EncodeToString(leafCert)},
				map[string]any{"rawBytes": base64.StdEncoding.EncodeToString(rootCert)},
			}},
		}}
		checkStale(t, verifierFor(t, tr2).Verify(b.ev, b.want()), verify.CheckTransparencyLog,
			"timestamp authority is not in the trusted root", `the trusted root lists "CN=other-tsa,O=other.example"`)
	})
	t.Run("listed, timestamp altered", func(t *testing.T) {
		bad := *b
		ev := *b.ev
		bad.ev = &ev
		bad.ev.Signature.BundleJSON = editBundle(t, b.ev.Signature.BundleJSON, func(m map[string]any) {
			ts := m["verificationMaterial"].(map[string]any)["timestampVerificationData"].(map[string]any)["rfc3161Timestamps"].([]any)[0].(map[string]any)
			raw, _ := base64.StdEncoding.DecodeString(ts["signedTimestamp"].(string))
			raw[len(raw)-5] ^= 0x01 // inside the signature
			ts["signedTimestamp"] = base64.StdEncoding.EncodeToString(raw)
		})
		got := verifierFor(t, tr).Verify(bad.ev, bad.want())
		if got.Verdict != audit.Invalid || got.Class != audit.ClassSignature || strings.Contains(got.Hint, refreshHint) {
			t.Errorf("altered timestamp: %s/%s %q, hint %q; want invalid/signature described as altered", got.Verdict, got.Class, got.Detail, got.Hint)
		}
	})
}

// otherTSA makes a timestamp authority's root and leaf (DER) with names
// of its own.
func otherTSA(t *testing.T) (rootDER, leafDER []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other-tsa-root", Organization: []string{"other.example"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	rootDER, err = x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "other-tsa", Organization: []string{"other.example"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
		KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err = x509.CreateCertificate(rand.Reader, leafTmpl, rootTmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return rootDER, leafDER
}

func verifierFor(t *testing.T, trustedRoot map[string]any) *verify.Verifier {
	t.Helper()
	data, err := json.Marshal(trustedRoot)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := verify.ParseTrustedRoot(data)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(tr)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

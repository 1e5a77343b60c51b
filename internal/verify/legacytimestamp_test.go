package verify_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/signer"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/tsa"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

// tsaWorld is the shared world's CA and log with RFC 3161 timestamp
// authorities: one the verifier's trusted root lists, one it does not.
type tsaWorld struct {
	*world
	listed    *signer.Signer // stamps with listedTSA
	foreign   *signer.Signer // stamps with a TSA no trusted root here lists
	listedTSA *tsa.TSA
	v         *verify.Verifier // trusts the CA, the log and listedTSA
}

var (
	tsaOnce   sync.Once
	tsaShared *tsaWorld
)

func sharedTSA(tb testing.TB) *tsaWorld {
	tb.Helper()
	w := shared(tb)
	tsaOnce.Do(func() {
		mk := func() (*signer.Signer, *tsa.TSA) {
			a, err := tsa.New()
			if err != nil {
				tb.Fatalf("tsa.New: %v", err)
			}
			s, err := signer.New(w.ca, w.log, signer.WithTSA(a, "https://tsa.sandbox.local"))
			if err != nil {
				tb.Fatalf("signer.New: %v", err)
			}
			return s, a
		}
		tw := &tsaWorld{world: w}
		tw.listed, tw.listedTSA = mk()
		tw.foreign, _ = mk()
		trJSON, err := tw.listed.TrustedRootJSON()
		if err != nil {
			tb.Fatal(err)
		}
		tr, err := verify.ParseTrustedRoot(trJSON)
		if err != nil {
			tb.Fatalf("ParseTrustedRoot: %v", err)
		}
		if len(tr.Material().TimestampingAuthorities()) != 1 {
			tb.Fatal("the trusted root lists no timestamp authority")
		}
		if tw.v, err = verify.New(tr); err != nil {
			tb.Fatalf("verify.New: %v", err)
		}
		tsaShared = tw
	})
	if tsaShared == nil {
		tb.Fatal("TSA world failed to build")
	}
	return tsaShared
}

// signStamped signs a summary in the legacy cosign form with s, with
// cosign's RFC 3161 timestamp annotation, logged or not.
func signStamped(tb testing.TB, s *signer.Signer, spec publish.SummarySpec, id ca.Identity, logged bool) (*bundle, *signer.Legacy) {
	tb.Helper()
	sum := build(tb, spec)
	at, _ := time.Parse(time.RFC3339, sum.Predicate.AttestedAt)
	opts := []signer.LegacyOption{signer.LegacyTimestamped()}
	if !logged {
		opts = append(opts, signer.LegacyUnlogged())
	}
	lg, err := s.SignLegacy(sum.Statement(repository), id, at.Add(time.Minute), opts...)
	if err != nil {
		tb.Fatalf("SignLegacy: %v", err)
	}
	b := &bundle{
		sum: sum,
		ev: &audit.Evidence{
			ManifestDigest: sum.ManifestDigest,
			LayerDigest:    sum.LayerDigest,
			Files:          files(sum),
			Signature: audit.Signature{Kind: audit.CosignLegacy, Via: "cosign-att", Legacy: []audit.LegacyLayer{{
				Envelope:         lg.Envelope,
				Certificate:      string(lg.CertPEM),
				Chain:            string(lg.ChainPEM),
				Bundle:           string(lg.Bundle),
				RFC3161Timestamp: string(lg.RFC3161Timestamp),
			}}},
		},
		ptr:  pointerFor(sum, id, lg.Info.LogIndex),
		info: lg.Info,
	}
	if !logged {
		b.ptr.Attestations[0].Signer.RekorLogIndex = nil
	}
	return b, lg
}

// restamp replaces the layer's timestamp with one by s's TSA over data at
// the time the original names.
func restamp(tb testing.TB, b *bundle, a *tsa.TSA, data []byte) {
	tb.Helper()
	l := &b.ev.Signature.Legacy[0]
	var ann struct{ SignedRFC3161Timestamp []byte }
	if err := json.Unmarshal([]byte(l.RFC3161Timestamp), &ann); err != nil {
		tb.Fatal(err)
	}
	orig, err := timestamp.ParseResponse(ann.SignedRFC3161Timestamp)
	if err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256(data)
	resp, err := a.Respond(&timestamp.Request{HashAlgorithm: orig.HashAlgorithm, HashedMessage: sum[:], Certificates: true}, orig.Time)
	if err != nil {
		tb.Fatal(err)
	}
	ann.SignedRFC3161Timestamp = resp
	raw, _ := json.Marshal(ann)
	l.RFC3161Timestamp = string(raw)
}

func checkOf(t *testing.T, got audit.Verification, name string) audit.Check {
	t.Helper()
	for _, c := range got.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %s", name)
	return audit.Check{}
}

func TestVerifyLegacyTimestamped(t *testing.T) {
	tw := sharedTSA(t)
	cases := []struct {
		verifyCase
		make func(t *testing.T) *bundle
		// what transparency-log says, and whether it warns
		logDetail []string
		warn      bool
		noRefresh bool // the finding must not send the reader to refresh the trusted root
	}{
		{
			verifyCase: verifyCase{name: "timestamped, not logged", verdict: audit.Verified, detail: []string{"no log entry (RFC 3161 timestamp"}},
			make: func(t *testing.T) *bundle {
				b, _ := signStamped(t, tw.listed, publish.SummarySpec{}, alice, false)
				return b
			},
			logDetail: []string{"no transparency-log entry", "RFC 3161 timestamp by", "existed at", "does not prove that the attestation was ever published"},
			warn:      true,
		},
		{
			verifyCase: verifyCase{name: "timestamped, not logged, 25 months ago", verdict: audit.Verified},
			make: func(t *testing.T) *bundle {
				b, _ := signStamped(t, tw.listed, publish.SummarySpec{AttestedAt: time.Now().AddDate(0, -25, 0)}, alice, false)
				return b
			},
			warn: true,
		},
		{
			verifyCase: verifyCase{name: "timestamped and logged", verdict: audit.Verified},
			make: func(t *testing.T) *bundle {
				b, _ := signStamped(t, tw.listed, publish.SummarySpec{}, alice, true)
				return b
			},
			logDetail: []string{"signed entry timestamp verified", "RFC 3161 timestamp", "verified too"},
		},
		{
			verifyCase: verifyCase{name: "logged, timestamped by an unlisted TSA", verdict: audit.Verified},
			make: func(t *testing.T) *bundle {
				b, _ := signStamped(t, tw.foreign, publish.SummarySpec{}, alice, true)
				return b
			},
			logDetail: []string{"signed entry timestamp verified", "not checked", "does not list", "the log entry proves the time"},
		},
		{
			verifyCase: verifyCase{name: "not logged, pointer names a log index",
				verdict: audit.Invalid, class: audit.ClassIdentity, failed: verify.CheckRekorLogIndex,
				detail: []string{"log index 7", "no transparency-log entry"}, hint: true},
			make: func(t *testing.T) *bundle {
				b, _ := signStamped(t, tw.listed, publish.SummarySpec{}, alice, false)
				idx := int64(7)
				b.ptr.Attestations[0].Signer.RekorLogIndex = &idx
				return b
			},
			warn: true,
		},
		{
			verifyCase: verifyCase{name: "not logged, timestamped by an unlisted TSA",
				verdict: audit.Invalid, class: audit.ClassSignature, failed: verify.CheckTransparencyLog,
				detail: []string{"no transparency-log entry", "TSA timestamping", "certificate sha256:", "does not list"}, hint: true},
			make: func(t *testing.T) *bundle {
				b, _ := signStamped(t, tw.foreign, publish.SummarySpec{}, alice, false)
				return b
			},
		},
		{
			verifyCase: verifyCase{name: "not logged, timestamp over the DSSE signature (a Sigstore bundle's rule, not cosign's)",
				verdict: audit.Invalid, class: audit.ClassSignature, failed: verify.CheckTransparencyLog,
				detail: []string{"failed to verify timestamps"}, hint: true},
			make: func(t *testing.T) *bundle {
				b, _ := signStamped(t, tw.listed, publish.SummarySpec{}, alice, false)
				var env dsseEnvelope
				if err := json.Unmarshal(b.ev.Signature.Legacy[0].Envelope, &env); err != nil {
					t.Fatal(err)
				}
				restamp(t, b, tw.listedTSA, env.sig(t))
				return b
			},
			noRefresh: true,
		},
		{
			verifyCase: verifyCase{name: "not logged, envelope altered after timestamping",
				verdict: audit.Invalid, class: audit.ClassSignature, failed: verify.CheckTransparencyLog, hint: true},
			make: func(t *testing.T) *bundle {
				b, _ := signStamped(t, tw.listed, publish.SummarySpec{}, alice, false)
				b.ev.Signature.Legacy[0].Envelope = tamperEnvelope(t, b.ev.Signature.Legacy[0].Envelope)
				return b
			},
			noRefresh: true,
		},
		{
			// The timestamp honestly covers the altered layer: only the DSSE
			// signature can catch it, and it does.
			verifyCase: verifyCase{name: "not logged, envelope altered and restamped",
				verdict: audit.Invalid, class: audit.ClassSignature, failed: verify.CheckSignature, hint: true},
			make: func(t *testing.T) *bundle {
				b, _ := signStamped(t, tw.listed, publish.SummarySpec{}, alice, false)
				l := &b.ev.Signature.Legacy[0]
				l.Envelope = tamperEnvelope(t, l.Envelope)
				restamp(t, b, tw.listedTSA, l.Envelope)
				return b
			},
			warn:      true,
			noRefresh: true,
		},
		{
			verifyCase: verifyCase{name: "logged, timestamp by the listed TSA over other bytes",
				verdict: audit.Invalid, class: audit.ClassSignature, failed: verify.CheckTransparencyLog,
				detail: []string{"the layer's RFC 3161 timestamp does not verify"}, hint: true},
			make: func(t *testing.T) *bundle {
				b, _ := signStamped(t, tw.listed, publish.SummarySpec{}, alice, true)
				restamp(t, b, tw.listedTSA, []byte("another layer"))
				return b
			},
			noRefresh: true,
		},
		{
			verifyCase: verifyCase{name: "not logged, certificate expired at the timestamp",
				verdict: audit.Invalid, class: audit.ClassSignature, failed: verify.CheckCertificateChain, hint: true},
			make: func(t *testing.T) *bundle {
				b, _ := signStamped(t, tw.listed, publish.SummarySpec{}, alice, false)
				l := &b.ev.Signature.Legacy[0]
				var ann struct{ SignedRFC3161Timestamp []byte }
				_ = json.Unmarshal([]byte(l.RFC3161Timestamp), &ann)
				orig, _ := timestamp.ParseResponse(ann.SignedRFC3161Timestamp)
				sum := sha256.Sum256(l.Envelope)
				resp, err := tw.listedTSA.Respond(&timestamp.Request{HashAlgorithm: orig.HashAlgorithm, HashedMessage: sum[:], Certificates: true},
					orig.Time.Add(ca.LeafValidity+time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				ann.SignedRFC3161Timestamp = resp
				raw, _ := json.Marshal(ann)
				l.RFC3161Timestamp = string(raw)
				return b
			},
			warn: true,
		},
		{
			verifyCase: verifyCase{name: "neither logged nor timestamped",
				verdict: audit.Invalid, class: audit.ClassSignature, failed: verify.CheckBundleParse,
				detail: []string{"never logged nor timestamped"}},
			make: func(t *testing.T) *bundle {
				b, _ := signStamped(t, tw.listed, publish.SummarySpec{}, alice, false)
				b.ev.Signature.Legacy[0].RFC3161Timestamp = ""
				return b
			},
		},
		{
			verifyCase: verifyCase{name: "timestamp annotation is not cosign's JSON",
				verdict: audit.Invalid, class: audit.ClassSignature, failed: verify.CheckBundleParse,
				detail: []string{"RFC 3161 timestamp annotation does not parse"}},
			make: func(t *testing.T) *bundle {
				b, _ := signStamped(t, tw.listed, publish.SummarySpec{}, alice, false)
				b.ev.Signature.Legacy[0].RFC3161Timestamp = "MIIC"
				return b
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.make(t)
			got := tw.v.Verify(b.ev, b.want())
			checkVerification(t, got, tc.verifyCase)
			tl := checkOf(t, got, verify.CheckTransparencyLog)
			for _, s := range tc.logDetail {
				if !strings.Contains(tl.Detail, s) {
					t.Errorf("transparency-log detail %q does not contain %q", tl.Detail, s)
				}
			}
			if tc.warn && tl.Status != audit.CheckWarn {
				t.Errorf("transparency-log is %s (%s), want warn: no log entry stands behind the attestation", tl.Status, tl.Detail)
			}
			if tc.noRefresh && strings.Contains(got.Hint, "refresh") {
				t.Errorf("an altered timestamp reads as stale trust: %s", got.Hint)
			}
			if tc.class == audit.ClassSignature && tc.failed == verify.CheckTransparencyLog && !tc.noRefresh &&
				(!strings.Contains(got.Hint, "refresh the trusted root") || strings.Contains(got.Hint+got.Detail, "altered")) {
				t.Errorf("an unlisted TSA must send the reader to refresh the trusted root, never say altered: %s (hint %s)", got.Detail, got.Hint)
			}
			if t.Failed() {
				for _, c := range got.Checks {
					t.Logf("  %-18s %-4s %s", c.Name, c.Status, c.Detail)
				}
			}
		})
	}
}

// TestVerifyLegacyTimestampedFacts: without a log entry the RFC 3161 time is
// the observer time the age is measured from, and there is no log index.
func TestVerifyLegacyTimestampedFacts(t *testing.T) {
	tw := sharedTSA(t)
	at := time.Now().AddDate(0, -25, 0).UTC().Truncate(time.Second)
	b, lg := signStamped(t, tw.listed, publish.SummarySpec{AttestedAt: at}, alice, false)
	got := tw.v.Verify(b.ev, b.want())
	if got.Verdict != audit.Verified {
		t.Fatalf("verdict %s/%s: %s", got.Verdict, got.Class, got.Detail)
	}
	if lg.Info.IntegratedTime.IsZero() || !got.IntegratedTime.Equal(lg.Info.IntegratedTime) {
		t.Errorf("IntegratedTime = %v, want the timestamp's %v", got.IntegratedTime, lg.Info.IntegratedTime)
	}
	if got.LogIndex != -1 || got.LogID != "" {
		t.Errorf("log entry %d %q, want none", got.LogIndex, got.LogID)
	}
	if !got.SignedAt.Equal(at) {
		t.Errorf("SignedAt = %v, want %v", got.SignedAt, at)
	}

	// The verifier that knows no TSA (the shared world's) cannot check it:
	// stale trust, not tampering.
	stale := tw.world.v.Verify(b.ev, b.want())
	if stale.Verdict != audit.Invalid || stale.Class != audit.ClassSignature ||
		!strings.Contains(stale.Hint, "refresh the trusted root") || strings.Contains(stale.Detail+stale.Hint, "altered") {
		t.Errorf("against a root without the TSA: %s/%s %q (hint %q)", stale.Verdict, stale.Class, stale.Detail, stale.Hint)
	}
}

// dsseEnvelope is the part of a DSSE envelope the tests read.
type dsseEnvelope struct {
	Signatures []struct {
		Sig string `json:"sig"`
	} `json:"signatures"`
}

func (e dsseEnvelope) sig(t *testing.T) []byte {
	t.Helper()
	if len(e.Signatures) == 0 {
		t.Fatal("envelope has no signature")
	}
	raw, err := base64.StdEncoding.DecodeString(e.Signatures[0].Sig)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

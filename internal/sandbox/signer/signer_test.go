package signer_test

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigstore/rekor/pkg/client"
	"github.com/sigstore/rekor/pkg/generated/client/entries"
	rekorverify "github.com/sigstore/rekor/pkg/verify"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/signer"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/tlog"
)

const githubIssuer = "https://token.actions.githubusercontent.com"

var (
	workflow = ca.Identity{Identity: "https://github.com/o/r/.github/workflows/x.yaml@refs/heads/b", Issuer: githubIssuer}
	person   = ca.Identity{Identity: "alice@example.com", Issuer: "https://accounts.example.com"}
)

func newSigner(tb testing.TB, c *ca.CA, l *tlog.Log) *signer.Signer {
	tb.Helper()
	var err error
	if c == nil {
		if c, err = ca.New(); err != nil {
			tb.Fatalf("ca.New: %v", err)
		}
	}
	if l == nil {
		if l, err = tlog.New(); err != nil {
			tb.Fatalf("tlog.New: %v", err)
		}
	}
	s, err := signer.New(c, l)
	if err != nil {
		tb.Fatalf("signer.New: %v", err)
	}
	return s
}

// statement returns an in-toto Statement v1 whose subject digest is
// derived from name, and that digest.
func statement(tb testing.TB, name string) ([]byte, []byte) {
	tb.Helper()
	digest := sha256.Sum256([]byte(name))
	st, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []map[string]any{{"name": "ghcr.io/o/aicr-evidence", "digest": map[string]string{"sha256": hex.EncodeToString(digest[:])}}},
		"predicateType": "https://aicr.run/recipe-evidence/v3",
		"predicate":     map[string]any{"attestedAt": "2026-07-21T19:45:26Z", "recipe": map[string]string{"name": name}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return st, digest[:]
}

func newVerifier(tb testing.TB, s *signer.Signer) *verify.Verifier {
	tb.Helper()
	trJSON, err := s.TrustedRootJSON()
	if err != nil {
		tb.Fatalf("TrustedRootJSON: %v", err)
	}
	tr, err := root.NewTrustedRootFromJSON(trJSON)
	if err != nil {
		tb.Fatalf("NewTrustedRootFromJSON: %v", err)
	}
	v, err := verify.NewVerifier(tr, verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1))
	if err != nil {
		tb.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func policy(tb testing.TB, id ca.Identity, digest []byte) verify.PolicyBuilder {
	tb.Helper()
	certID, err := verify.NewShortCertificateIdentity(id.Issuer, "", id.Identity, "")
	if err != nil {
		tb.Fatal(err)
	}
	return verify.NewPolicy(verify.WithArtifactDigest("sha256", digest), verify.WithCertificateIdentity(certID))
}

func verifyBundle(tb testing.TB, v *verify.Verifier, bundleJSON []byte, pb verify.PolicyBuilder) (*verify.VerificationResult, error) {
	tb.Helper()
	var b bundle.Bundle
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return nil, fmt.Errorf("load bundle: %w", err)
	}
	return v.Verify(&b, pb)
}

func TestSignVerifiesWithSigstoreGo(t *testing.T) {
	s := newSigner(t, nil, nil)
	v := newVerifier(t, s)
	now := time.Now()
	tests := []struct {
		name string
		id   ca.Identity
		at   time.Time
	}{
		{"workflow, now", workflow, now.Add(-time.Minute)},
		{"e-mail, now", person, now.Add(-time.Minute)},
		{"workflow, 25 months ago", workflow, now.AddDate(0, -25, 0)},
		{"e-mail, 7 years ago", person, now.AddDate(-7, 0, 0)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, digest := statement(t, fmt.Sprintf("recipe-%d", i))
			bj, info, err := s.Sign(st, tt.id, tt.at)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			res, err := verifyBundle(t, v, bj, policy(t, tt.id, digest))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got, want := res.Signature.Certificate.SubjectAlternativeName, tt.id.Identity; got != want {
				t.Errorf("verified SAN = %q, want %q", got, want)
			}
			if got, want := res.Signature.Certificate.Issuer, tt.id.Issuer; got != want {
				t.Errorf("verified issuer = %q, want %q", got, want)
			}
			if len(res.VerifiedTimestamps) != 1 {
				t.Fatalf("verified timestamps = %v, want one integrated time", res.VerifiedTimestamps)
			}
			if got, want := res.VerifiedTimestamps[0].Timestamp.Unix(), info.IntegratedTime.Unix(); got != want {
				t.Errorf("verified integrated time = %d, want %d", got, want)
			}
			if got, want := info.IntegratedTime.Unix(), tt.at.Add(signer.DefaultIntegrationDelay).Unix(); got != want {
				t.Errorf("integrated time = %d, want at + delay = %d", got, want)
			}
			if got, want := res.Statement.GetSubject()[0].GetDigest()["sha256"], hex.EncodeToString(digest); got != want {
				t.Errorf("statement subject = %s, want %s", got, want)
			}
		})
	}
}

func TestBundleShape(t *testing.T) {
	s := newSigner(t, nil, nil)
	st, _ := statement(t, "shape")
	bj, info, err := s.Sign(st, workflow, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var b struct {
		MediaType            string `json:"mediaType"`
		VerificationMaterial struct {
			Certificate *struct {
				RawBytes []byte `json:"rawBytes"`
			} `json:"certificate"`
			X509CertificateChain any `json:"x509CertificateChain"`
			TlogEntries          []struct {
				LogIndex         string                 `json:"logIndex"`
				LogID            struct{ KeyID []byte } `json:"logId"`
				KindVersion      struct{ Kind, Version string }
				InclusionPromise struct {
					SignedEntryTimestamp []byte `json:"signedEntryTimestamp"`
				} `json:"inclusionPromise"`
				InclusionProof struct {
					Checkpoint struct{ Envelope string } `json:"checkpoint"`
				} `json:"inclusionProof"`
				CanonicalizedBody []byte `json:"canonicalizedBody"`
			} `json:"tlogEntries"`
		} `json:"verificationMaterial"`
		DSSEEnvelope struct {
			PayloadType string `json:"payloadType"`
			Payload     []byte `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(bj, &b); err != nil {
		t.Fatal(err)
	}
	if got, want := b.MediaType, "application/vnd.dev.sigstore.bundle.v0.3+json"; got != want {
		t.Errorf("mediaType = %q, want %q", got, want)
	}
	if b.VerificationMaterial.Certificate == nil || !bytes.Equal(b.VerificationMaterial.Certificate.RawBytes, info.Cert.Raw) {
		t.Errorf("verificationMaterial.certificate is not the leaf")
	}
	if b.VerificationMaterial.X509CertificateChain != nil {
		t.Errorf("v0.3 bundle carries a certificate chain")
	}
	if len(b.VerificationMaterial.TlogEntries) != 1 {
		t.Fatalf("tlog entries = %d, want 1", len(b.VerificationMaterial.TlogEntries))
	}
	e := b.VerificationMaterial.TlogEntries[0]
	// protojson omits zero-valued fields: index 0 has no logIndex.
	if got, want := cmpOr(e.LogIndex, "0"), fmt.Sprint(info.LogIndex); got != want {
		t.Errorf("logIndex = %s, want %s", got, want)
	}
	if got, want := hex.EncodeToString(e.LogID.KeyID), s.Log().LogID(); got != want {
		t.Errorf("logId = %s, want %s", got, want)
	}
	if got, want := e.KindVersion.Kind+"/"+e.KindVersion.Version, "dsse/0.0.1"; got != want {
		t.Errorf("kindVersion = %s, want %s", got, want)
	}
	if len(e.InclusionPromise.SignedEntryTimestamp) == 0 || !strings.HasPrefix(e.InclusionProof.Checkpoint.Envelope, s.Log().Origin()+"\n") {
		t.Errorf("missing SET or checkpoint with origin %q", s.Log().Origin())
	}
	if !bytes.Equal(e.CanonicalizedBody, info.Entry.Body) {
		t.Errorf("canonicalizedBody differs from the log's body")
	}
	if got, want := b.DSSEEnvelope.PayloadType, "application/vnd.in-toto+json"; got != want {
		t.Errorf("payloadType = %q, want %q", got, want)
	}
	if !bytes.Equal(b.DSSEEnvelope.Payload, st) {
		t.Errorf("payload is not the statement")
	}
}

func cmpOr(s, zero string) string {
	if s == "" {
		return zero
	}
	return s
}

// mutate decodes a bundle's JSON, applies f and re-encodes it.
func mutate(tb testing.TB, bj []byte, f func(m map[string]any)) []byte {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(bj, &m); err != nil {
		tb.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func tlogEntry(m map[string]any) map[string]any {
	return m["verificationMaterial"].(map[string]any)["tlogEntries"].([]any)[0].(map[string]any)
}

func TestTamperingFailsForTheIntendedReason(t *testing.T) {
	c, err := ca.New()
	if err != nil {
		t.Fatal(err)
	}
	l, err := tlog.New()
	if err != nil {
		t.Fatal(err)
	}
	s := newSigner(t, c, l)
	v := newVerifier(t, s)
	at := time.Now().AddDate(0, -25, 0)
	st, digest := statement(t, "tamper")
	good, _, err := s.Sign(st, workflow, at)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyBundle(t, v, good, policy(t, workflow, digest)); err != nil {
		t.Fatalf("untampered bundle: %v", err)
	}

	// Same log, another CA: the entry is genuine, the certificate is not ours.
	rogue := newSigner(t, nil, l)
	foreign, _, err := rogue.Sign(st, workflow, at)
	if err != nil {
		t.Fatal(err)
	}

	otherStatement, _ := statement(t, "substituted")
	tests := []struct {
		name   string
		bundle []byte
		policy verify.PolicyBuilder
		want   string // substring of the verification error
	}{
		{
			name: "payload altered",
			bundle: mutate(t, good, func(m map[string]any) {
				m["dsseEnvelope"].(map[string]any)["payload"] = base64.StdEncoding.EncodeToString(otherStatement)
			}),
			policy: policy(t, workflow, digest),
			want:   "payload hash",
		},
		{
			name: "signature altered",
			bundle: mutate(t, good, func(m map[string]any) {
				sig := m["dsseEnvelope"].(map[string]any)["signatures"].([]any)[0].(map[string]any)
				raw, _ := base64.StdEncoding.DecodeString(sig["sig"].(string))
				raw[len(raw)-1] ^= 1
				sig["sig"] = base64.StdEncoding.EncodeToString(raw)
			}),
			policy: policy(t, workflow, digest),
			want:   "signature does not match",
		},
		{
			name:   "wrong identity policy",
			bundle: good,
			policy: policy(t, ca.Identity{Identity: "https://github.com/o/r/.github/workflows/other.yaml@refs/heads/b", Issuer: githubIssuer}, digest),
			want:   "no matching CertificateIdentity",
		},
		{
			name:   "wrong issuer policy",
			bundle: good,
			policy: policy(t, ca.Identity{Identity: workflow.Identity, Issuer: "https://accounts.example.com"}, digest),
			want:   "no matching CertificateIdentity",
		},
		{
			name:   "wrong subject digest",
			bundle: good,
			policy: policy(t, workflow, make([]byte, 32)),
			want:   "digest",
		},
		{
			name:   "certificate from another CA",
			bundle: foreign,
			policy: policy(t, workflow, digest),
			want:   "leaf certificate verification failed",
		},
		{
			name: "tlog entry body altered",
			bundle: mutate(t, good, func(m map[string]any) {
				e := tlogEntry(m)
				body, _ := base64.StdEncoding.DecodeString(e["canonicalizedBody"].(string))
				body = bytes.Replace(body, []byte(`"payloadHash":{"algorithm":"sha256","value":"`), []byte(`"payloadHash":{"algorithm":"sha256","value":"0`), 1)
				body = bytes.Replace(body, []byte(`0"}`), []byte(`"}`), 1)
				e["canonicalizedBody"] = base64.StdEncoding.EncodeToString(body)
			}),
			policy: policy(t, workflow, digest),
			want:   "not enough verified log entries",
		},
		{
			name: "integrated time altered",
			bundle: mutate(t, good, func(m map[string]any) {
				e := tlogEntry(m)
				e["integratedTime"] = fmt.Sprint(at.Add(time.Minute).Unix())
			}),
			policy: policy(t, workflow, digest),
			want:   "not enough verified log entries",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verifyBundle(t, v, tt.bundle, tt.policy)
			if err == nil {
				t.Fatalf("Verify succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Verify error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestSignedEntryServedByLog(t *testing.T) {
	ctx := context.Background()
	s := newSigner(t, nil, nil)
	srv := httptest.NewServer(s.Log().Handler())
	defer srv.Close()
	s.SetLogURL(srv.URL)

	st, digest := statement(t, "served")
	_, info, err := s.Sign(st, workflow, time.Now().AddDate(0, -25, 0))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := client.GetRekorClient(srv.URL, client.WithRetryCount(0))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rc.Entries.GetLogEntryByIndex(entries.NewGetLogEntryByIndexParams().WithLogIndex(info.LogIndex))
	if err != nil {
		t.Fatalf("GetLogEntryByIndex: %v", err)
	}
	e, ok := resp.Payload[info.EntryID]
	if !ok {
		t.Fatalf("response has no entry %s", info.EntryID)
	}
	if err := rekorverify.VerifyLogEntry(ctx, &e, s.Log().Verifier()); err != nil {
		t.Errorf("VerifyLogEntry: %v", err)
	}
	if got := s.Log().Search("sha256:" + hex.EncodeToString(digest)); len(got) != 1 || got[0] != info.EntryID {
		t.Errorf("index search by subject digest = %v, want [%s]", got, info.EntryID)
	}

	trJSON, err := s.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromJSON(trJSON)
	if err != nil {
		t.Fatal(err)
	}
	logs := tr.RekorLogs()
	tl, ok := logs[s.Log().LogID()]
	if !ok {
		t.Fatalf("trusted root has no log %s (has %d logs)", s.Log().LogID(), len(logs))
	}
	if got, want := tl.BaseURL, srv.URL; got != want {
		t.Errorf("trusted root log baseUrl = %q, want %q", got, want)
	}
	if n := len(tr.CTLogs()); n != 0 {
		t.Errorf("trusted root has %d CT logs, want none", n)
	}
	if n := len(tr.TimestampingAuthorities()); n != 0 {
		t.Errorf("trusted root has %d timestamp authorities, want none", n)
	}
}

func TestSignLegacy(t *testing.T) {
	ctx := context.Background()
	s := newSigner(t, nil, nil)
	st, digest := statement(t, "legacy")
	at := time.Now().AddDate(0, -25, 0)
	lg, err := s.SignLegacy(st, workflow, at)
	if err != nil {
		t.Fatalf("SignLegacy: %v", err)
	}
	if got, want := lg.Info.Entry.Kind+"/"+lg.Info.Entry.APIVersion, "intoto/0.0.2"; got != want {
		t.Errorf("entry kind = %s, want %s", got, want)
	}
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     []byte `json:"payload"`
	}
	if err := json.Unmarshal(lg.Envelope, &env); err != nil || !bytes.Equal(env.Payload, st) || env.PayloadType != signer.InTotoPayloadType {
		t.Errorf("envelope does not carry the statement (err %v)", err)
	}
	// The cosign bundle annotation is a SET over {body, integratedTime, logIndex, logID}.
	var cb struct {
		SignedEntryTimestamp []byte
		Payload              struct {
			Body           string `json:"body"`
			IntegratedTime int64  `json:"integratedTime"`
			LogIndex       int64  `json:"logIndex"`
			LogID          string `json:"logID"`
		}
	}
	if err := json.Unmarshal([]byte(lg.Annotations[signer.AnnotationBundle]), &cb); err != nil {
		t.Fatal(err)
	}
	a := lg.Info.Entry.LogEntryAnon()
	a.Body, a.IntegratedTime, a.LogIndex, a.LogID = cb.Payload.Body, &cb.Payload.IntegratedTime, &cb.Payload.LogIndex, &cb.Payload.LogID
	a.Verification.SignedEntryTimestamp = cb.SignedEntryTimestamp
	if err := rekorverify.VerifySignedEntryTimestamp(ctx, &a, s.Log().Verifier()); err != nil {
		t.Errorf("cosign bundle SET: %v", err)
	}
	if !strings.Contains(lg.Annotations[signer.AnnotationChain], "BEGIN CERTIFICATE") || lg.Annotations[signer.AnnotationCertificate] != string(lg.CertPEM) {
		t.Errorf("certificate annotations missing")
	}
	if got, want := lg.Annotations[signer.AnnotationPredicateType], "https://aicr.run/recipe-evidence/v3"; got != want {
		t.Errorf("predicateType annotation = %q, want %q", got, want)
	}
	if got := s.Log().Search("sha256:" + hex.EncodeToString(digest)); len(got) != 1 {
		t.Errorf("index search by subject digest = %v, want one entry", got)
	}
}

func TestLeafReuse(t *testing.T) {
	c, err := ca.New()
	if err != nil {
		t.Fatal(err)
	}
	l, err := tlog.New()
	if err != nil {
		t.Fatal(err)
	}
	s, err := signer.New(c, l, signer.WithLeafReuse(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, s)
	minute := time.Now().AddDate(0, -25, 0).Truncate(time.Minute)
	var certs []*x509.Certificate
	for i, at := range []time.Time{minute.Add(5 * time.Second), minute.Add(59 * time.Second), minute.Add(61 * time.Second)} {
		st, digest := statement(t, fmt.Sprintf("reuse-%d", i))
		bj, info, err := s.Sign(st, workflow, at)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verifyBundle(t, v, bj, policy(t, workflow, digest)); err != nil {
			t.Errorf("bundle %d: %v", i, err)
		}
		certs = append(certs, info.Cert)
	}
	if certs[0] != certs[1] {
		t.Errorf("signatures in one minute got different certificates")
	}
	if certs[1] == certs[2] {
		t.Errorf("signatures in different minutes share a certificate")
	}
	if got, want := certs[0].NotBefore, minute; !got.Equal(want) {
		t.Errorf("reused leaf NotBefore = %v, want window start %v", got, want)
	}
}

func TestSignRejects(t *testing.T) {
	s := newSigner(t, nil, nil)
	if _, _, err := s.Sign([]byte("not json"), workflow, time.Now()); err == nil {
		t.Errorf("Sign of a non-JSON statement succeeded")
	}
	st, _ := statement(t, "x")
	if _, _, err := s.Sign(st, ca.Identity{Identity: "nobody"}, time.Now()); err == nil {
		t.Errorf("Sign with an identity lacking an issuer succeeded")
	}
}

// BenchmarkSign measures one bundle: ephemeral key, leaf certificate, DSSE
// signature, log entry (rekor validation, SET, checkpoint) and encoding,
// with a P-384 CA (Fulcio's curve, the default) and a P-256 CA; "parallel"
// signs from GOMAXPROCS goroutines into one log.
func BenchmarkSign(b *testing.B) {
	for _, bc := range []struct {
		name     string
		curve    elliptic.Curve
		parallel bool
		reuse    bool
	}{
		{"P-384", elliptic.P384(), false, false},
		{"P-256", elliptic.P256(), false, false},
		{"P-384/parallel", elliptic.P384(), true, false},
		{"P-256/parallel", elliptic.P256(), true, false},
		{"P-384/leaf-reuse", elliptic.P384(), false, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, err := ca.New(ca.WithCurve(bc.curve))
			if err != nil {
				b.Fatal(err)
			}
			l, err := tlog.New()
			if err != nil {
				b.Fatal(err)
			}
			var opts []signer.Option
			if bc.reuse {
				opts = append(opts, signer.WithLeafReuse(time.Minute))
			}
			s, err := signer.New(c, l, opts...)
			if err != nil {
				b.Fatal(err)
			}
			st, _ := statement(b, "bench")
			at := time.Now().AddDate(0, -25, 0)
			var n atomic.Int64
			// Distinct statements: the log refuses duplicate entries.
			sign := func() {
				stmt := bytes.Replace(st, []byte(`"recipe":{"name":"bench"}`), fmt.Appendf(nil, `"recipe":{"name":"bench-%d"}`, n.Add(1)), 1)
				if _, _, err := s.Sign(stmt, workflow, at); err != nil {
					b.Error(err)
				}
			}
			b.ReportAllocs()
			if bc.parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						sign()
					}
				})
				return
			}
			for b.Loop() {
				sign()
			}
		})
	}
}

// BenchmarkVerify is the consumer side, for comparison: sigstore-go
// verification of one sandbox bundle.
func BenchmarkVerify(b *testing.B) {
	s := newSigner(b, nil, nil)
	v := newVerifier(b, s)
	st, digest := statement(b, "bench")
	bj, _, err := s.Sign(st, workflow, time.Now().AddDate(0, -25, 0))
	if err != nil {
		b.Fatal(err)
	}
	pb := policy(b, workflow, digest)
	for b.Loop() {
		if _, err := verifyBundle(b, v, bj, pb); err != nil {
			b.Fatal(err)
		}
	}
}

package signer_test

import (
	"crypto"
	"crypto/sha256"
	"encoding/json"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/signer"
)

// TestSignLegacyTimestamped: cosign's RFC 3161 annotation, as cosign v2's
// legacy attest writes it — {"SignedRFC3161Timestamp": base64 DER}, a
// SHA-256 request with a nonce and the certificate asked for, over the
// layer's content (the envelope JSON), not over the DSSE signature — with
// and without the log.
func TestSignLegacyTimestamped(t *testing.T) {
	s := newBothEras(t)
	trJSON, err := s.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromJSON(trJSON)
	if err != nil {
		t.Fatal(err)
	}
	tsas := tr.TimestampingAuthorities()
	if len(tsas) != 1 {
		t.Fatalf("trusted root lists %d timestamp authorities, want 1", len(tsas))
	}
	at := time.Now().AddDate(0, -25, 0).UTC()
	for _, logged := range []bool{true, false} {
		t.Run(map[bool]string{true: "logged", false: "unlogged"}[logged], func(t *testing.T) {
			st, _ := statement(t, "legacy-timestamped")
			opts := []signer.LegacyOption{signer.LegacyTimestamped()}
			if !logged {
				opts = append(opts, signer.LegacyUnlogged())
			}
			before := s.Log().Size()
			lg, err := s.SignLegacy(st, workflow, at, opts...)
			if err != nil {
				t.Fatalf("SignLegacy: %v", err)
			}
			if got := lg.Annotations[signer.AnnotationRFC3161Timestamp]; got != string(lg.RFC3161Timestamp) || got == "" {
				t.Fatalf("annotation %q, want the timestamp JSON", got)
			}
			var ann struct {
				SignedRFC3161Timestamp []byte
			}
			if err := json.Unmarshal(lg.RFC3161Timestamp, &ann); err != nil || len(ann.SignedRFC3161Timestamp) == 0 {
				t.Fatalf("annotation is not cosign's JSON: %s (%v)", lg.RFC3161Timestamp, err)
			}
			ts, err := timestamp.ParseResponse(ann.SignedRFC3161Timestamp)
			if err != nil {
				t.Fatalf("ParseResponse: %v", err)
			}
			sum := sha256.Sum256(lg.Envelope)
			if ts.HashAlgorithm != crypto.SHA256 || string(ts.HashedMessage) != string(sum[:]) {
				t.Errorf("imprint %v %x, want SHA-256 of the layer", ts.HashAlgorithm, ts.HashedMessage)
			}
			if ts.Nonce == nil || len(ts.Certificates) == 0 {
				t.Errorf("nonce %v, %d certificates: cosign asks for both", ts.Nonce, len(ts.Certificates))
			}
			wantTime := at.Add(signer.DefaultIntegrationDelay).Truncate(time.Second)
			if !ts.Time.Equal(wantTime) {
				t.Errorf("time %v, want %v", ts.Time, wantTime)
			}
			if _, err := tsas[0].Verify(ann.SignedRFC3161Timestamp, lg.Envelope); err != nil {
				t.Errorf("the trusted root's TSA does not verify it over the layer: %v", err)
			}
			var env struct {
				Signatures []struct {
					Sig []byte `json:"sig"`
				} `json:"signatures"`
			}
			if err := json.Unmarshal(lg.Envelope, &env); err != nil {
				t.Fatal(err)
			}
			if _, err := tsas[0].Verify(ann.SignedRFC3161Timestamp, env.Signatures[0].Sig); err == nil {
				t.Error("the timestamp verifies over the DSSE signature: cosign's legacy layers stamp the envelope")
			}
			grew := s.Log().Size() - before
			switch {
			case logged && (lg.Bundle == nil || lg.Annotations[signer.AnnotationBundle] == "" || grew != 1 || lg.Info.LogIndex < 0):
				t.Errorf("logged: bundle %d bytes, log grew %d, index %d", len(lg.Bundle), grew, lg.Info.LogIndex)
			case !logged && (lg.Bundle != nil || lg.Annotations[signer.AnnotationBundle] != "" || grew != 0 || lg.Info.LogIndex != -1):
				t.Errorf("unlogged: bundle %d bytes, log grew %d, index %d", len(lg.Bundle), grew, lg.Info.LogIndex)
			case !logged && !lg.Info.IntegratedTime.Equal(wantTime):
				t.Errorf("unlogged: Info.IntegratedTime %v, want the timestamp's %v", lg.Info.IntegratedTime, wantTime)
			}
		})
	}
}

func TestSignLegacyTimestampedRejects(t *testing.T) {
	st, _ := statement(t, "legacy-rejects")
	if _, err := newBothEras(t).SignLegacy(st, workflow, time.Now(), signer.LegacyUnlogged()); err == nil {
		t.Error("an unlogged attestation without a timestamp was signed")
	}
	if _, err := newSigner(t, nil, nil).SignLegacy(st, workflow, time.Now(), signer.LegacyTimestamped()); err == nil {
		t.Error("timestamped without a timestamp authority")
	}
}

package signer_test

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/signer"
)

// TestSignLegacyVerifiesAsBundle re-packs the legacy cosign pieces (DSSE
// envelope, certificate, intoto entry with its SET) as a v0.1 Sigstore
// bundle and verifies it with sigstore-go: the intoto v0.0.2 entry, the SET
// and the certificate are what a verifier accepts.
func TestSignLegacyVerifiesAsBundle(t *testing.T) {
	s := newSigner(t, nil, nil)
	v := newVerifier(t, s)
	st, digest := statement(t, "legacy-as-bundle")
	lg, err := s.SignLegacy(st, workflow, time.Now().AddDate(0, -25, 0))
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
		Signatures  []struct {
			Sig string `json:"sig"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(lg.Envelope, &env); err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.StdEncoding.DecodeString(env.Payload)
	sig, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	tle := signer.TransparencyLogEntry(lg.Info.Entry)
	tle.InclusionProof = nil // cosign's annotation carries the SET only
	b := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle+json;version=0.1",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_X509CertificateChain{
				X509CertificateChain: &protocommon.X509CertificateChain{Certificates: []*protocommon.X509Certificate{{RawBytes: lg.Info.Cert.Raw}}},
			},
			TlogEntries: []*protorekor.TransparencyLogEntry{tle},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: payload, PayloadType: env.PayloadType, Signatures: []*protodsse.Signature{{Sig: sig}},
		}},
	}
	bj, err := protojson.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyBundle(t, v, bj, policy(t, workflow, digest)); err != nil {
		t.Errorf("legacy signature as a v0.1 bundle: %v", err)
	}
}

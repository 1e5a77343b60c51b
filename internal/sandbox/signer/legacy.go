package signer

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
)

// Cosign annotation keys on a legacy attestation layer (tag sha256-<hex>.att).
const (
	AnnotationCertificate = "dev.sigstore.cosign/certificate"
	AnnotationChain       = "dev.sigstore.cosign/chain"
	AnnotationBundle      = "dev.sigstore.cosign/bundle"
	// AnnotationPredicateType names the statement's predicate type, as
	// cosign attest sets it.
	AnnotationPredicateType = "predicateType"
	// LegacyLayerMediaType is the media type of cosign's DSSE attestation layer.
	LegacyLayerMediaType = "application/vnd.dsse.envelope.v1+json"
)

// Legacy is what one layer of a cosign attestation (.att) image needs.
type Legacy struct {
	// Envelope is the DSSE envelope JSON: the layer's content.
	Envelope []byte
	// CertPEM is the leaf certificate (annotation AnnotationCertificate).
	CertPEM []byte
	// ChainPEM is the intermediate then the root (annotation AnnotationChain).
	ChainPEM []byte
	// Bundle is cosign's Rekor bundle JSON (annotation AnnotationBundle):
	// {"SignedEntryTimestamp", "Payload": {body, integratedTime, logIndex, logID}}.
	Bundle []byte
	// Annotations holds the layer annotations by key: the three above and
	// AnnotationPredicateType when the statement names one.
	Annotations map[string]string
	Info        SignedInfo
}

// cosignBundle mirrors cosign's pkg/cosign/bundle.RekorBundle.
type cosignBundle struct {
	SignedEntryTimestamp []byte        `json:"SignedEntryTimestamp"`
	Payload              cosignPayload `json:"Payload"`
}

type cosignPayload struct {
	Body           string `json:"body"`
	IntegratedTime int64  `json:"integratedTime"`
	LogIndex       int64  `json:"logIndex"`
	LogID          string `json:"logID"`
}

// SignLegacy signs statement as id at time at in the legacy cosign form: a
// DSSE envelope logged as a Rekor intoto v0.0.2 entry, with the
// certificate, chain and Rekor bundle cosign stores as layer annotations.
func (s *Signer) SignLegacy(statement []byte, id ca.Identity, at time.Time) (*Legacy, error) {
	sd, err := s.signAndLog(statement, id, at, s.log.AppendIntoto)
	if err != nil {
		return nil, fmt.Errorf("sign legacy: %w", err)
	}
	b, err := json.Marshal(cosignBundle{
		SignedEntryTimestamp: sd.entry.SET,
		Payload: cosignPayload{
			Body:           base64.StdEncoding.EncodeToString(sd.entry.Body),
			IntegratedTime: sd.entry.IntegratedTime.Unix(),
			LogIndex:       sd.entry.LogIndex,
			LogID:          sd.entry.LogID,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("sign legacy: encode bundle: %w", err)
	}
	certPEM, chainPEM := ca.CertPEM(sd.cert), s.ca.ChainPEM()
	ann := map[string]string{
		AnnotationCertificate: string(certPEM),
		AnnotationChain:       string(chainPEM),
		AnnotationBundle:      string(b),
	}
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	if json.Unmarshal(statement, &st) == nil && st.PredicateType != "" {
		ann[AnnotationPredicateType] = st.PredicateType
	}
	return &Legacy{
		Envelope:    sd.envelope,
		CertPEM:     certPEM,
		ChainPEM:    chainPEM,
		Bundle:      b,
		Annotations: ann,
		Info:        sd.info(),
	}, nil
}

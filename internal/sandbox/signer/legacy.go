package signer

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
)

// Cosign annotation keys on a legacy attestation layer (tag sha256-<hex>.att).
const (
	AnnotationCertificate = "dev.sigstore.cosign/certificate"
	AnnotationChain       = "dev.sigstore.cosign/chain"
	AnnotationBundle      = "dev.sigstore.cosign/bundle"
	// AnnotationRFC3161Timestamp holds cosign's RFC 3161 timestamp of the
	// layer (cosign v2 pkg/oci/static: RFC3161TimestampAnnotationKey).
	AnnotationRFC3161Timestamp = "dev.sigstore.cosign/rfc3161timestamp"
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
	// Nil with LegacyUnlogged.
	Bundle []byte
	// RFC3161Timestamp is cosign's timestamp JSON (annotation
	// AnnotationRFC3161Timestamp): {"SignedRFC3161Timestamp": base64 DER}.
	// Nil unless LegacyTimestamped.
	RFC3161Timestamp []byte
	// Annotations holds the layer annotations by key: those above that are
	// set and AnnotationPredicateType when the statement names one.
	Annotations map[string]string
	// Info describes the log entry; without one (LegacyUnlogged) its
	// LogIndex is -1 and IntegratedTime is the RFC 3161 timestamp's time.
	Info SignedInfo
}

// LegacyOption changes what SignLegacy attaches beside the envelope.
type LegacyOption func(*legacyConfig)

type legacyConfig struct {
	timestamped, unlogged bool
}

// LegacyTimestamped also asks the signer's timestamp authority (WithTSA)
// for an RFC 3161 timestamp, as `cosign attest --timestamp-server-url`
// does, and attaches it as the AnnotationRFC3161Timestamp annotation.
func LegacyTimestamped() LegacyOption { return func(c *legacyConfig) { c.timestamped = true } }

// LegacyUnlogged leaves the attestation out of the log, as `cosign attest
// --tlog-upload=false` does: the layer carries no Rekor bundle. It needs
// LegacyTimestamped (cosign would otherwise attach no time at all).
func LegacyUnlogged() LegacyOption { return func(c *legacyConfig) { c.unlogged = true } }

// cosignRFC3161 mirrors cosign's pkg/cosign/bundle.RFC3161Timestamp.
type cosignRFC3161 struct {
	SignedRFC3161Timestamp []byte `json:"SignedRFC3161Timestamp"`
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
// LegacyTimestamped adds cosign's RFC 3161 timestamp annotation;
// LegacyUnlogged leaves the log out.
func (s *Signer) SignLegacy(statement []byte, id ca.Identity, at time.Time, opts ...LegacyOption) (*Legacy, error) {
	var cfg legacyConfig
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cfg.unlogged && !cfg.timestamped:
		return nil, errors.New("sign legacy: an unlogged attestation needs an RFC 3161 timestamp (LegacyTimestamped)")
	case cfg.timestamped && s.tsa == nil:
		return nil, errors.New("sign legacy: the signer has no timestamp authority (WithTSA)")
	}
	var sd *signed
	var err error
	if cfg.unlogged {
		sd, err = s.signDSSE(statement, id, at)
	} else {
		sd, err = s.signAndLog(statement, id, at, s.log.AppendIntoto)
	}
	if err != nil {
		return nil, fmt.Errorf("sign legacy: %w", err)
	}
	certPEM, chainPEM := ca.CertPEM(sd.cert), s.ca.ChainPEM()
	lg := &Legacy{
		Envelope: sd.envelope,
		CertPEM:  certPEM,
		ChainPEM: chainPEM,
		Annotations: map[string]string{
			AnnotationCertificate: string(certPEM),
			AnnotationChain:       string(chainPEM),
		},
		Info: SignedInfo{LogIndex: -1, Cert: sd.cert},
	}
	if !cfg.unlogged {
		if lg.Bundle, err = legacyRekorBundle(sd); err != nil {
			return nil, fmt.Errorf("sign legacy: %w", err)
		}
		lg.Annotations[AnnotationBundle] = string(lg.Bundle)
		lg.Info = sd.info()
	}
	if cfg.timestamped {
		stamped := at.Add(s.delay).UTC().Truncate(time.Second)
		if lg.RFC3161Timestamp, err = s.legacyTimestamp(sd.envelope, stamped); err != nil {
			return nil, fmt.Errorf("sign legacy: %w", err)
		}
		lg.Annotations[AnnotationRFC3161Timestamp] = string(lg.RFC3161Timestamp)
		if cfg.unlogged {
			lg.Info.IntegratedTime = stamped
		}
	}
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	if json.Unmarshal(statement, &st) == nil && st.PredicateType != "" {
		lg.Annotations[AnnotationPredicateType] = st.PredicateType
	}
	return lg, nil
}

// legacyTimestamp asks the timestamp authority, as cosign's legacy attest
// does (internal/pkg/cosign/tsa: SHA-256, a nonce, the certificate
// requested), for a timestamp over the layer's content — the whole
// envelope JSON, not the DSSE signature — and wraps it in cosign's
// annotation JSON.
func (s *Signer) legacyTimestamp(envelope []byte, at time.Time) ([]byte, error) {
	nonce, err := cryptoutils.GenerateSerialNumber()
	if err != nil {
		return nil, fmt.Errorf("timestamp nonce: %w", err)
	}
	raw, err := timestamp.CreateRequest(bytes.NewReader(envelope), &timestamp.RequestOptions{Hash: crypto.SHA256, Certificates: true, Nonce: nonce})
	if err != nil {
		return nil, fmt.Errorf("timestamp request: %w", err)
	}
	req, err := timestamp.ParseRequest(raw)
	if err != nil {
		return nil, fmt.Errorf("timestamp request: %w", err)
	}
	resp, err := s.tsa.Respond(req, at)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(cosignRFC3161{SignedRFC3161Timestamp: resp})
	if err != nil {
		return nil, fmt.Errorf("encode timestamp annotation: %w", err)
	}
	return out, nil
}

// legacyRekorBundle is cosign's Rekor bundle annotation for sd's entry.
func legacyRekorBundle(sd *signed) ([]byte, error) {
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
		return nil, fmt.Errorf("encode bundle: %w", err)
	}
	return b, nil
}

package verify

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

// bundleV01MediaType is the Sigstore bundle v0.1 media type: the form whose
// log entries carry a signed entry timestamp and need no inclusion proof,
// which is what cosign's legacy annotation holds.
const bundleV01MediaType = "application/vnd.dev.sigstore.bundle+json;version=0.1"

// Legacy cosign attestations (tag sha256-<hex>.att) are verified by the same
// sigstore-go verifier as Sigstore bundles: each layer's pieces — the DSSE
// envelope (layer content), the leaf certificate and the Rekor bundle
// {SignedEntryTimestamp, Payload} (annotations) — are exactly a v0.1
// Sigstore bundle with an x509 chain of the leaf alone and one log entry
// with its inclusion promise. The chain annotation is not used: the
// intermediates and the root come from the trusted root, as for v0.3. An
// RFC 3161 timestamp annotation becomes the bundle's timestamp
// verification data (legacytimestamp.go: what it covers, and how a layer
// without a log entry is verified through it).

// cosignRekorBundle mirrors cosign's pkg/cosign/bundle.RekorBundle.
type cosignRekorBundle struct {
	SignedEntryTimestamp []byte `json:"SignedEntryTimestamp"`
	Payload              struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"`
	} `json:"Payload"`
}

type dsseEnvelope struct {
	PayloadType string `json:"payloadType"`
	Payload     string `json:"payload"`
	Signatures  []struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	} `json:"signatures"`
}

func (s *state) parseLegacy() outcome {
	layers := s.ev.Signature.Legacy
	if len(layers) == 0 {
		return fail(audit.ClassSignature, "the cosign attestation has no layers")
	}
	i, why := s.pickLegacyLayer(layers)
	if i < 0 {
		return fail(audit.ClassSignature, "no layer of the cosign attestation carries recipe evidence: %s", why)
	}
	s.form = fmt.Sprintf("cosign attestation layer %d", i)
	b, lt, err := legacyBundle(layers[i])
	if err != nil {
		return fail(audit.ClassSignature, "%s: %v", s.form, err)
	}
	s.layerTS = lt
	if raw, err := protojson.Marshal(b.Bundle); err == nil {
		s.out.BundleJSON = raw
	}
	return s.useBundle(b)
}

// pickLegacyLayer chooses the layer to verify among a .att image's layers
// (cosign appends one per attestation): the layers whose statement names a
// recipe-evidence predicate type, preferring the pointer's predicate type,
// then the pointer's log index. The statement read here is not yet
// verified; it only selects, and the chosen layer is verified in full.
func (s *state) pickLegacyLayer(layers []audit.LegacyLayer) (int, string) {
	best, bestScore := -1, -1
	var seen []string
	for i, l := range layers {
		var env dsseEnvelope
		if json.Unmarshal(l.Envelope, &env) != nil {
			seen = append(seen, fmt.Sprintf("layer %d is not a DSSE envelope", i))
			continue
		}
		payload, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			seen = append(seen, fmt.Sprintf("layer %d has an undecodable payload", i))
			continue
		}
		var st struct {
			PredicateType string `json:"predicateType"`
		}
		if json.Unmarshal(payload, &st) != nil {
			seen = append(seen, fmt.Sprintf("layer %d is not an in-toto statement", i))
			continue
		}
		if _, ok := evidence.PredicateEra(st.PredicateType); !ok {
			seen = append(seen, fmt.Sprintf("layer %d has predicate type %q", i, st.PredicateType))
			continue
		}
		score := 0
		if st.PredicateType == s.att.Bundle.PredicateType {
			score += 2
		}
		if sg := s.att.Signer; sg != nil && sg.RekorLogIndex != nil {
			var rb cosignRekorBundle
			if json.Unmarshal([]byte(l.Bundle), &rb) == nil && rb.Payload.LogIndex == *sg.RekorLogIndex {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return -1, fmt.Sprint(seen)
	}
	return best, ""
}

// legacyBundle converts one cosign attestation layer into a v0.1 Sigstore
// bundle, with its RFC 3161 timestamp if it carries one.
func legacyBundle(l audit.LegacyLayer) (*bundle.Bundle, *layerTimestamp, error) {
	var env dsseEnvelope
	if err := json.Unmarshal(l.Envelope, &env); err != nil {
		return nil, nil, fmt.Errorf("DSSE envelope does not parse: %w", err)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, nil, fmt.Errorf("DSSE payload is not base64: %w", err)
	}
	var sigs []*protodsse.Signature
	for _, sg := range env.Signatures {
		raw, err := base64.StdEncoding.DecodeString(sg.Sig)
		if err != nil {
			return nil, nil, fmt.Errorf("DSSE signature is not base64: %w", err)
		}
		sigs = append(sigs, &protodsse.Signature{Sig: raw, Keyid: sg.KeyID})
	}
	block, _ := pem.Decode([]byte(l.Certificate))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("certificate annotation holds no PEM certificate")
	}
	lt, err := parseLayerTimestamp(l)
	if err != nil {
		return nil, nil, err
	}
	vm := &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_X509CertificateChain{
			X509CertificateChain: &protocommon.X509CertificateChain{
				Certificates: []*protocommon.X509Certificate{{RawBytes: block.Bytes}},
			},
		},
	}
	switch {
	case l.Bundle != "":
		e, err := legacyTlogEntry(l.Bundle)
		if err != nil {
			return nil, nil, err
		}
		vm.TlogEntries = []*protorekor.TransparencyLogEntry{e}
	case lt == nil:
		return nil, nil, fmt.Errorf("neither a Rekor bundle nor an RFC 3161 timestamp annotation: the attestation was never logged nor timestamped")
	}
	if lt != nil {
		vm.TimestampVerificationData = &protobundle.TimestampVerificationData{
			Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: lt.der}},
		}
	}
	pb := &protobundle.Bundle{
		MediaType:            bundleV01MediaType,
		VerificationMaterial: vm,
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: payload, PayloadType: env.PayloadType, Signatures: sigs,
		}},
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		return nil, nil, fmt.Errorf("as a Sigstore bundle: %w", err)
	}
	return b, lt, nil
}

// legacyTlogEntry converts cosign's Rekor bundle annotation into a log
// entry with its inclusion promise (the SET).
func legacyTlogEntry(annotation string) (*protorekor.TransparencyLogEntry, error) {
	var rb cosignRekorBundle
	if err := json.Unmarshal([]byte(annotation), &rb); err != nil {
		return nil, fmt.Errorf("Rekor bundle annotation does not parse: %w", err)
	}
	body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
	if err != nil {
		return nil, fmt.Errorf("Rekor bundle body is not base64: %w", err)
	}
	var kind struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(body, &kind); err != nil {
		return nil, fmt.Errorf("Rekor entry body does not parse: %w", err)
	}
	logID, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil {
		return nil, fmt.Errorf("Rekor log ID is not hex: %w", err)
	}
	return &protorekor.TransparencyLogEntry{
		LogIndex:          rb.Payload.LogIndex,
		LogId:             &protocommon.LogId{KeyId: logID},
		KindVersion:       &protorekor.KindVersion{Kind: kind.Kind, Version: kind.APIVersion},
		IntegratedTime:    rb.Payload.IntegratedTime,
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: rb.SignedEntryTimestamp},
		CanonicalizedBody: body,
	}, nil
}

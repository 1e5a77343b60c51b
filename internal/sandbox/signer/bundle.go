package signer

import (
	"fmt"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/tlog"
)

// Sign signs statement (an in-toto Statement, JSON) as id at time at and
// returns a Sigstore bundle v0.3 (JSON) holding the DSSE envelope, the leaf
// certificate (only: the chain is in the trusted root) and the Rekor v1 dsse
// entry, integrated at at plus the integration delay, with its SET and an
// inclusion proof against a signed checkpoint.
func (s *Signer) Sign(statement []byte, id ca.Identity, at time.Time) ([]byte, SignedInfo, error) {
	appendFn := s.log.AppendDSSE
	if s.remote != nil {
		appendFn = s.remote.appendDSSE
	}
	sd, err := s.signAndLog(statement, id, at, appendFn)
	if err != nil {
		return nil, SignedInfo{}, fmt.Errorf("sign: %w", err)
	}
	out, err := bundleJSON(statement, sd.sig, sd.cert.Raw, TransparencyLogEntry(sd.entry), nil)
	if err != nil {
		return nil, SignedInfo{}, fmt.Errorf("sign: %w", err)
	}
	return out, sd.info(), nil
}

// bundleJSON is the Sigstore bundle v0.3 of a DSSE envelope over statement
// (one signature), the leaf certificate alone, one log entry and, when tsr
// is set, one RFC 3161 timestamp.
func bundleJSON(statement, sig, certDER []byte, tle *protorekor.TransparencyLogEntry, tsr []byte) ([]byte, error) {
	vm := &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_Certificate{
			Certificate: &protocommon.X509Certificate{RawBytes: certDER},
		},
		TlogEntries: []*protorekor.TransparencyLogEntry{tle},
	}
	if tsr != nil {
		vm.TimestampVerificationData = &protobundle.TimestampVerificationData{
			Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: tsr}},
		}
	}
	out, err := protojson.Marshal(&protobundle.Bundle{
		MediaType:            BundleMediaType,
		VerificationMaterial: vm,
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload:     statement,
			PayloadType: InTotoPayloadType,
			Signatures:  []*protodsse.Signature{{Sig: sig}},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("encode bundle: %w", err)
	}
	return out, nil
}

// TransparencyLogEntry converts a log entry to the bundle's protobuf form.
func TransparencyLogEntry(e *tlog.Entry) *protorekor.TransparencyLogEntry {
	return &protorekor.TransparencyLogEntry{
		LogIndex:       e.LogIndex,
		LogId:          &protocommon.LogId{KeyId: mustHex(e.LogID)},
		KindVersion:    &protorekor.KindVersion{Kind: e.Kind, Version: e.APIVersion},
		IntegratedTime: e.IntegratedTime.Unix(),
		InclusionPromise: &protorekor.InclusionPromise{
			SignedEntryTimestamp: e.SET,
		},
		InclusionProof: &protorekor.InclusionProof{
			LogIndex:   e.InclusionProof.LogIndex,
			RootHash:   e.InclusionProof.RootHash,
			TreeSize:   e.InclusionProof.TreeSize,
			Hashes:     e.InclusionProof.Hashes,
			Checkpoint: &protorekor.Checkpoint{Envelope: e.InclusionProof.Checkpoint},
		},
		CanonicalizedBody: e.Body,
	}
}

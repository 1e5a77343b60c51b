package signer

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	pb "github.com/sigstore/rekor-tiles/v2/pkg/generated/protobuf"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/rekorv2"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/tsa"
)

// SignV2 signs statement as id at time at in the Rekor v2 era (SPEC §2.2,
// as sigstore-go ≥ 1.3 signs with a Rekor v2 log and a timestamp
// authority): the DSSE envelope is logged as a hashedrekord v0.0.2 entry
// over the SHA-256 of its PAE bytes, and the timestamp authority stamps the
// DSSE signature at at plus the integration delay. The Sigstore bundle
// v0.3 holds the envelope, the leaf certificate, the entry with its
// inclusion proof and C2SP checkpoint — no signed entry timestamp, no
// integrated time — and the RFC 3161 timestamp, the bundle's only trusted
// time. SignedInfo.IntegratedTime is that timestamp's time; Entry is nil.
func (s *Signer) SignV2(statement []byte, id ca.Identity, at time.Time) ([]byte, SignedInfo, error) {
	if s.v2 == nil {
		return nil, SignedInfo{}, errors.New("sign v2: the signer has no Rekor v2 log (WithRekorV2)")
	}
	sd, err := s.signDSSE(statement, id, at)
	if err != nil {
		return nil, SignedInfo{}, fmt.Errorf("sign v2: %w", err)
	}
	tle, err := s.v2.Add(&pb.HashedRekordRequestV002{
		Digest: sd.paeDigest,
		Signature: &pb.Signature{Content: sd.sig, Verifier: &pb.Verifier{
			// The sandbox's leaves are ECDSA P-256, signing SHA-256.
			KeyDetails: protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256,
			Verifier:   &pb.Verifier_X509Certificate{X509Certificate: &protocommon.X509Certificate{RawBytes: sd.cert.Raw}},
		}},
	})
	if err != nil {
		return nil, SignedInfo{}, fmt.Errorf("sign v2: log entry: %w", err)
	}
	stamped := at.Add(s.delay).UTC().Truncate(time.Second)
	tsr, err := s.tsa.Timestamp(sd.sig, stamped)
	if err != nil {
		return nil, SignedInfo{}, fmt.Errorf("sign v2: %w", err)
	}
	out, err := bundleJSON(statement, sd.sig, sd.cert.Raw, tle, tsr)
	if err != nil {
		return nil, SignedInfo{}, fmt.Errorf("sign v2: %w", err)
	}
	return out, SignedInfo{
		LogIndex:       tle.GetLogIndex(),
		UUID:           hex.EncodeToString(rfc6962.DefaultHasher.HashLeaf(tle.GetCanonicalizedBody())),
		IntegratedTime: stamped,
		Cert:           sd.cert,
	}, nil
}

// RekorV2 returns the Rekor v2 log, or nil.
func (s *Signer) RekorV2() *rekorv2.Log { return s.v2 }

// RekorV2URL returns the Rekor v2 log's base URL named in the trusted root.
func (s *Signer) RekorV2URL() string { return s.v2URL }

// TSA returns the timestamp authority, or nil.
func (s *Signer) TSA() *tsa.TSA { return s.tsa }

package signer

import (
	"encoding/hex"
	"fmt"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TrustedRootJSON returns a trusted_root.json naming the CA (intermediate
// and root, valid from the CA's NotBefore) and the Rekor v1 log (SHA2-256,
// ECDSA P-256 key, log ID sha256(SPKI)); with WithRekorV2, the Rekor v2 log
// too (its Ed25519 key, its full C2SP key hash as logId.keyId, and the base
// URL whose host is its checkpoint origin); with WithTSA, the timestamp
// authority (chain leaf first, as timestamp-authority serves it). It names
// no CT logs: a private root has none (SPEC §2.2); the observer timestamp
// is the v1 log's integrated time or the v2 bundle's RFC 3161 timestamp.
func (s *Signer) TrustedRootJSON() ([]byte, error) {
	root, inter := s.ca.Root(), s.ca.Intermediate()
	validFrom := timestamppb.New(s.ca.NotBefore())
	logKey, logID := s.log.PublicKeyDER(), s.log.LogIDBytes()
	if s.remote != nil {
		logKey, logID = s.remote.keyDER, s.remote.logID()
	}
	tr := &prototrustroot.TrustedRoot{
		MediaType: TrustedRootMediaType,
		Tlogs: []*prototrustroot.TransparencyLogInstance{{
			BaseUrl:       s.LogURL(),
			HashAlgorithm: protocommon.HashAlgorithm_SHA2_256,
			PublicKey: &protocommon.PublicKey{
				RawBytes:   logKey,
				KeyDetails: protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256,
				ValidFor:   &protocommon.TimeRange{Start: validFrom},
			},
			LogId: &protocommon.LogId{KeyId: logID},
		}},
		CertificateAuthorities: []*prototrustroot.CertificateAuthority{{
			Subject: &protocommon.DistinguishedName{
				Organization: firstOr(inter.Subject.Organization),
				CommonName:   inter.Subject.CommonName,
			},
			Uri: s.caURL,
			CertChain: &protocommon.X509CertificateChain{Certificates: []*protocommon.X509Certificate{
				{RawBytes: inter.Raw},
				{RawBytes: root.Raw},
			}},
			ValidFor: &protocommon.TimeRange{Start: validFrom},
		}},
	}
	if s.v2 != nil {
		tr.Tlogs = append(tr.Tlogs, &prototrustroot.TransparencyLogInstance{
			BaseUrl:       s.v2URL,
			HashAlgorithm: protocommon.HashAlgorithm_SHA2_256,
			PublicKey: &protocommon.PublicKey{
				RawBytes:   s.v2.PublicKeyDER(),
				KeyDetails: s.v2.KeyDetails(),
				ValidFor:   &protocommon.TimeRange{Start: validFrom},
			},
			LogId: &protocommon.LogId{KeyId: s.v2.LogID()},
		})
	}
	if s.tsa != nil {
		chain := s.tsa.Chain()
		certs := make([]*protocommon.X509Certificate, len(chain))
		for i, c := range chain {
			certs[i] = &protocommon.X509Certificate{RawBytes: c.Raw}
		}
		tr.TimestampAuthorities = []*prototrustroot.CertificateAuthority{{
			Subject:   &protocommon.DistinguishedName{Organization: firstOr(chain[0].Subject.Organization), CommonName: chain[0].Subject.CommonName},
			Uri:       s.tsaURL,
			CertChain: &protocommon.X509CertificateChain{Certificates: certs},
			ValidFor:  &protocommon.TimeRange{Start: timestamppb.New(s.tsa.NotBefore())},
		}}
	}
	b, err := protojson.Marshal(tr)
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	return b, nil
}

func firstOr(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0]
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(fmt.Sprintf("log ID %q is not hex: %v", s, err))
	}
	return b
}

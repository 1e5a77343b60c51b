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
// and root, valid from the CA's NotBefore) and the log (SHA2-256, ECDSA
// P-256 key, log ID). It names no CT logs and no timestamp authorities: the
// log's integrated time is the observer timestamp (SPEC §2.2).
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

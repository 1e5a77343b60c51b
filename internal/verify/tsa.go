package verify

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// timestampAuthority is who signed an RFC 3161 timestamp, as the response
// itself says, and whether the trusted root lists that authority.
//
// sigstore-go reports a timestamp it cannot verify with one error for
// every cause; this tells a stale trusted root (the authority is simply not
// listed: never tampering, SPEC §3) from a timestamp that a listed
// authority did not sign as it stands (altered or forged).
type timestampAuthority struct {
	// Name is the signing certificate's subject when the response embeds
	// it, else its issuer and serial number.
	Name string
	// Time is the time the response states (verified only when the
	// timestamp verified).
	Time time.Time
	// Unlisted is true only when the response parsed and no timestamp
	// authority of the trusted root issued its signing certificate.
	Unlisted bool
}

// identifyTimestamp reads who signed the DER TimeStampResp der. A response
// that does not parse is not called unlisted: it cannot be from anyone.
// Names alone prove nothing (two authorities may share them), so a listed
// authority is recognised by its key: the token's signature verifies with
// the leaf the trusted root pins, or, when it pins none, the certificate
// the token embeds is signed by one of the authority's CA certificates.
func identifyTimestamp(der []byte, tm root.TrustedMaterial) timestampAuthority {
	ts, err := timestamp.ParseResponse(der)
	if err != nil {
		return timestampAuthority{Name: fmt.Sprintf("an unreadable timestamp response (%v)", err)}
	}
	p7, err := pkcs7.Parse(ts.RawToken)
	if err != nil || len(p7.Signers) == 0 {
		return timestampAuthority{Name: "an unreadable timestamp token", Time: ts.Time}
	}
	issuer := p7.Signers[0].IssuerAndSerialNumber.IssuerName.FullBytes
	serial := p7.Signers[0].IssuerAndSerialNumber.SerialNumber
	var signer *x509.Certificate
	for _, c := range p7.Certificates {
		if c.SerialNumber.Cmp(serial) == 0 && bytes.Equal(c.RawIssuer, issuer) {
			signer = c
		}
	}
	out := timestampAuthority{Time: ts.Time, Unlisted: true}
	if signer != nil {
		sum := sha256.Sum256(signer.Raw)
		out.Name = fmt.Sprintf("%q (certificate sha256:%x…)", signer.Subject.String(), sum[:6])
	} else {
		out.Name = fmt.Sprintf("the certificate with serial %s issued by %q", serial, dnString(issuer))
	}
	for _, ta := range tm.TimestampingAuthorities() {
		sta, ok := ta.(*root.SigstoreTimestampingAuthority)
		if !ok || signedBy(p7, signer, sta, ts.Time) {
			out.Unlisted = false
			break
		}
	}
	return out
}

// signedBy reports whether the token p7 (whose signing certificate, if
// embedded, is signer) comes from the authority ta. Only the signature is
// checked here (at the token's time, no chain): validity and the message
// imprint are sigstore-go's verdict, not this one's.
func signedBy(p7 *pkcs7.PKCS7, signer *x509.Certificate, ta *root.SigstoreTimestampingAuthority, at time.Time) bool {
	if ta.Leaf != nil {
		pinned := *p7
		pinned.Certificates = []*x509.Certificate{ta.Leaf}
		return pinned.VerifyWithChainAtTime(nil, at) == nil
	}
	if signer == nil {
		return false
	}
	for _, c := range append([]*x509.Certificate{ta.Root}, ta.Intermediates...) {
		if c != nil && signer.CheckSignatureFrom(c) == nil {
			return true
		}
	}
	return false
}

func dnString(raw []byte) string {
	var rdn pkix.RDNSequence
	if _, err := asn1.Unmarshal(raw, &rdn); err != nil {
		return "an unreadable name"
	}
	var n pkix.Name
	n.FillFromRDNSequence(&rdn)
	return n.String()
}

package verify

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/digitorus/pkcs7"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// A bundle signed into a log, by a CA or timestamped by an authority that
// the trusted root does not list fails sigstore-go's verification exactly
// as a forged one does ("not enough verified log entries", "leaf
// certificate verification failed", "threshold not met for verified signed
// ... timestamps"). SPEC §3: a stale trust root is never described as an
// altered bundle. So when sigstore-go fails, unknownTrust looks at what the
// bundle names and what the trusted root lists, and when the bundle's log,
// CA or timestamp authority is simply absent from the root it says which,
// and to refresh the root. When the material is listed, the failure is
// the bundle's, and is described as before.

// trustGap is what the trusted root lacks for a bundle.
type trustGap struct {
	detail string
}

// refreshHint is the hint of every trust gap.
func (s *state) refreshHint() string {
	return "refresh the trusted root (trust.trustedRoot " + short(s.v.root.name) + "…): with the public-good root, the next run " +
		"refreshes it from the TUF mirror into the TUF cache under dataDir/tuf; with a private root, add the " +
		"missing log, certificate authority or timestamp authority to the trusted_root.json file. " +
		"A trusted root older than the material that signed the bundle says nothing about the bundle itself"
}

// unknownTrust reports what the trusted root lacks for the check step that
// sigstore-go's failure was attributed to; ok is false when the root lists
// everything the bundle names (or the step concerns no trust material).
func (s *state) unknownTrust(step string) (trustGap, bool) {
	msg := s.sigErr.Error()
	switch step {
	case CheckTransparencyLog:
		if strings.HasPrefix(msg, "failed to verify log inclusion") {
			return s.unknownLog()
		}
		if strings.HasPrefix(msg, "failed to verify timestamps") {
			return s.unknownTSA()
		}
	case CheckCertificateChain:
		if strings.HasPrefix(msg, "failed to verify leaf certificate") {
			return s.unknownCA()
		}
	}
	return trustGap{}, false
}

// unknownLog: every log entry of the bundle is from a log the trusted root
// does not list (sigstore-go skips those, then finds too few entries).
func (s *state) unknownLog() (trustGap, bool) {
	entries, err := s.entity.TlogEntries()
	if err != nil || len(entries) == 0 {
		return trustGap{}, false
	}
	logs := s.v.root.tr.RekorLogs()
	var unknown []string
	for _, e := range entries {
		id := hex.EncodeToString([]byte(e.LogKeyID()))
		if _, ok := logs[id]; ok {
			return trustGap{}, false // a listed log's entry failed: the bundle's fault
		}
		kind := "Rekor v1"
		if e.IsRekorV2() {
			kind = "Rekor v2"
		}
		unknown = append(unknown, fmt.Sprintf("entry %d of %s log %s", e.LogIndex(), kind, id))
	}
	return trustGap{detail: fmt.Sprintf("%s: the transparency log is not in the trusted root: %s; the trusted root lists %s",
		s.form, strings.Join(unknown, ", "), listKeys(logs))}, true
}

// unknownCA: no certificate authority of the trusted root has the leaf's
// issuer as its root or intermediate.
func (s *state) unknownCA() (trustGap, bool) {
	vc, err := s.entity.VerificationContent()
	if err != nil || vc.Certificate() == nil {
		return trustGap{}, false
	}
	leaf := vc.Certificate()
	var known []string
	for _, ca := range s.v.root.tr.FulcioCertificateAuthorities() {
		fca, ok := ca.(*root.FulcioCertificateAuthority)
		if !ok {
			return trustGap{}, false // an authority we cannot look into: do not guess
		}
		for _, c := range append([]*x509.Certificate{fca.Root}, fca.Intermediates...) {
			if c == nil {
				continue
			}
			if issuedBy(leaf.RawIssuer, leaf.AuthorityKeyId, c) {
				return trustGap{}, false
			}
			known = append(known, fmt.Sprintf("%q", c.Subject.String()))
		}
	}
	aki := ""
	if len(leaf.AuthorityKeyId) > 0 {
		aki = fmt.Sprintf(" (authority key id %s)", hex.EncodeToString(leaf.AuthorityKeyId))
	}
	return trustGap{detail: fmt.Sprintf("%s: the certificate authority is not in the trusted root: the leaf certificate was issued by %q%s; the trusted root's authorities are %s",
		s.form, leaf.Issuer.String(), aki, strings.Join(known, ", "))}, true
}

// issuedBy reports whether a certificate with this issuer name and
// authority key id was issued by c.
func issuedBy(rawIssuer, aki []byte, c *x509.Certificate) bool {
	if !bytes.Equal(rawIssuer, c.RawSubject) {
		return false
	}
	return len(aki) == 0 || len(c.SubjectKeyId) == 0 || bytes.Equal(aki, c.SubjectKeyId)
}

// unknownTSA: the bundle's observer time rests on RFC 3161 timestamps
// (Rekor v2, or a v1 entry without a signed entry timestamp) and none of
// them is signed by a timestamp authority the trusted root lists.
func (s *state) unknownTSA() (trustGap, bool) {
	stamps, err := s.entity.Timestamps()
	if err != nil || len(stamps) == 0 {
		return trustGap{}, false
	}
	tsas := s.v.root.tr.TimestampingAuthorities()
	var unknown []string
	for _, raw := range stamps {
		signer, ok := timestampSigner(raw)
		if !ok {
			return trustGap{}, false // unreadable: the bundle's fault, described as sigstore-go says
		}
		for _, t := range tsas {
			sta, ok := t.(*root.SigstoreTimestampingAuthority)
			if !ok || signer.signedBy(sta) {
				return trustGap{}, false
			}
		}
		unknown = append(unknown, signer.String())
	}
	var listed []string
	for _, t := range tsas {
		if sta, ok := t.(*root.SigstoreTimestampingAuthority); ok {
			listed = append(listed, tsaName(sta))
		}
	}
	have := "no timestamp authority"
	if len(listed) > 0 {
		have = strings.Join(listed, ", ")
	}
	return trustGap{detail: fmt.Sprintf("%s: the timestamp authority is not in the trusted root: the RFC 3161 timestamp is signed by %s; the trusted root lists %s",
		s.form, strings.Join(unknown, " and "), have)}, true
}

// tsSigner identifies the signer of an RFC 3161 timestamp token: the
// issuer and serial of its certificate (always in the token), and the
// certificate itself when the token embeds it.
type tsSigner struct {
	rawIssuer []byte
	serial    *big.Int
	cert      *x509.Certificate
}

func (t tsSigner) String() string {
	if t.cert != nil {
		return fmt.Sprintf("%q (issued by %q)", t.cert.Subject.String(), t.cert.Issuer.String())
	}
	var name pkix.RDNSequence
	issuer := "an unreadable issuer"
	if _, err := asn1.Unmarshal(t.rawIssuer, &name); err == nil {
		var n pkix.Name
		n.FillFromRDNSequence(&name)
		issuer = fmt.Sprintf("%q", n.String())
	}
	return fmt.Sprintf("a certificate with serial %s issued by %s (not embedded in the timestamp)", t.serial, issuer)
}

// signedBy reports whether the signer is the authority's leaf or was
// issued by one of its certificates. With the certificate embedded in the
// token that is checked by signature; without it only by name and serial,
// so an authority that reuses another's names counts as listed and its
// failure is described as sigstore-go reports it.
func (t tsSigner) signedBy(a *root.SigstoreTimestampingAuthority) bool {
	cas := append([]*x509.Certificate{a.Root}, a.Intermediates...)
	if t.cert != nil {
		if a.Leaf != nil && t.cert.Equal(a.Leaf) {
			return true
		}
		for _, c := range cas {
			if c != nil && t.cert.CheckSignatureFrom(c) == nil {
				return true
			}
		}
		return false
	}
	if a.Leaf != nil && bytes.Equal(t.rawIssuer, a.Leaf.RawIssuer) && t.serial != nil && t.serial.Cmp(a.Leaf.SerialNumber) == 0 {
		return true
	}
	for _, c := range cas {
		if c != nil && bytes.Equal(t.rawIssuer, c.RawSubject) {
			return true
		}
	}
	return false
}

// timestampSigner reads the signer of a bundle's RFC 3161 timestamp: a
// DER TimeStampResp (what bundles carry) or a bare TimeStampToken.
func timestampSigner(raw []byte) (tsSigner, bool) {
	token := raw
	var resp struct {
		Status asn1.RawValue
		Token  asn1.RawValue `asn1:"optional"`
	}
	if rest, err := asn1.Unmarshal(raw, &resp); err == nil && len(rest) == 0 && len(resp.Token.FullBytes) > 0 {
		token = resp.Token.FullBytes
	}
	p7, err := pkcs7.Parse(token)
	if err != nil || len(p7.Signers) != 1 {
		return tsSigner{}, false
	}
	ias := p7.Signers[0].IssuerAndSerialNumber
	sg := tsSigner{rawIssuer: ias.IssuerName.FullBytes, serial: ias.SerialNumber}
	for _, c := range p7.Certificates {
		if bytes.Equal(c.RawIssuer, sg.rawIssuer) && sg.serial != nil && c.SerialNumber.Cmp(sg.serial) == 0 {
			sg.cert = c
		}
	}
	return sg, true
}

func tsaName(a *root.SigstoreTimestampingAuthority) string {
	switch {
	case a.Leaf != nil:
		return fmt.Sprintf("%q", a.Leaf.Subject.String())
	case a.Root != nil:
		return fmt.Sprintf("%q", a.Root.Subject.String())
	}
	return a.URI
}

func listKeys(m map[string]*root.TransparencyLog) string {
	if len(m) == 0 {
		return "no log"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // RFC 5280 §4.2.1.2 method (1) key identifier, as Fulcio computes it.
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"
)

// LeafValidity is how long a leaf certificate is valid from its NotBefore,
// as with Fulcio.
const LeafValidity = 10 * time.Minute

// Fulcio certificate extension OIDs (see sigstore-go pkg/fulcio/certificate).
var (
	// OIDIssuer is the deprecated OIDC issuer extension; its value is the raw
	// issuer string.
	OIDIssuer = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
	// OIDIssuerV2 is the current OIDC issuer extension; its value is a DER
	// UTF8String.
	OIDIssuerV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
)

// Default validity of the root and intermediate certificates.
var (
	DefaultNotBefore = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	DefaultNotAfter  = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Identity is the signer a leaf certificate names: the SAN (a URI such as
// https://github.com/o/r/.github/workflows/x.yaml@refs/heads/b, or an e-mail
// address) and the OIDC issuer that vouched for it.
type Identity struct {
	Identity string
	Issuer   string
}

// CA is a root and an intermediate certificate authority. Its methods are
// safe for concurrent use.
type CA struct {
	root, intermediate *x509.Certificate
	rootKey            *ecdsa.PrivateKey
	intermediateKey    *ecdsa.PrivateKey
	notBefore          time.Time
	notAfter           time.Time
}

type config struct {
	curve     elliptic.Curve
	seed      []byte
	notBefore time.Time
	notAfter  time.Time
	name      string
}

// Option configures New.
type Option func(*config) error

// WithCurve selects the curve of the root and intermediate keys: P-256 or
// P-384 (the default, as Fulcio's public-good CA).
func WithCurve(c elliptic.Curve) Option {
	return func(cfg *config) error {
		if c != elliptic.P256() && c != elliptic.P384() {
			return fmt.Errorf("curve %s: want P-256 or P-384", c.Params().Name)
		}
		cfg.curve = c
		return nil
	}
}

// WithSeed derives the root and intermediate keys and serial numbers from
// seed, so that a CA built twice from one seed has the same keys (the
// certificate signatures still differ). Empty means random keys.
func WithSeed(seed []byte) Option {
	return func(cfg *config) error {
		cfg.seed = append([]byte(nil), seed...)
		return nil
	}
}

// WithValidity sets the validity of the root and intermediate certificates.
// Default DefaultNotBefore to DefaultNotAfter (2000–2100).
func WithValidity(notBefore, notAfter time.Time) Option {
	return func(cfg *config) error {
		if !notBefore.Before(notAfter) {
			return fmt.Errorf("validity %s..%s: empty", notBefore, notAfter)
		}
		cfg.notBefore, cfg.notAfter = notBefore.UTC(), notAfter.UTC()
		return nil
	}
}

// WithName sets the organization named in the CA subjects. Default
// "sandbox.sigstore.local".
func WithName(name string) Option {
	return func(cfg *config) error {
		if name == "" {
			return errors.New("name: empty")
		}
		cfg.name = name
		return nil
	}
}

// New makes a root and an intermediate certificate authority.
func New(opts ...Option) (*CA, error) {
	cfg := config{
		curve:     elliptic.P384(),
		notBefore: DefaultNotBefore,
		notAfter:  DefaultNotAfter,
		name:      "sandbox.sigstore.local",
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("ca option: %w", err)
		}
	}
	rootKey, err := newKey(cfg.curve, cfg.seed, "root")
	if err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
	intermediateKey, err := newKey(cfg.curve, cfg.seed, "intermediate")
	if err != nil {
		return nil, fmt.Errorf("intermediate key: %w", err)
	}

	rootTmpl := &x509.Certificate{
		SerialNumber:          serial(cfg.seed, "root"),
		Subject:               pkix.Name{Organization: []string{cfg.name}, CommonName: cfg.name},
		NotBefore:             cfg.notBefore,
		NotAfter:              cfg.notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
		SubjectKeyId:          keyID(rootKey.Public()),
	}
	root, err := createCert(rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("root certificate: %w", err)
	}

	// Like Fulcio's intermediate: CA with path length 0 and the CodeSigning
	// extended key usage, which the leaf's usage must nest in.
	intermediateTmpl := &x509.Certificate{
		SerialNumber:          serial(cfg.seed, "intermediate"),
		Subject:               pkix.Name{Organization: []string{cfg.name}, CommonName: cfg.name + "-intermediate"},
		NotBefore:             cfg.notBefore,
		NotAfter:              cfg.notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(intermediateKey.Public()),
	}
	intermediate, err := createCert(intermediateTmpl, root, intermediateKey.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("intermediate certificate: %w", err)
	}
	return &CA{
		root:            root,
		intermediate:    intermediate,
		rootKey:         rootKey,
		intermediateKey: intermediateKey,
		notBefore:       cfg.notBefore,
		notAfter:        cfg.notAfter,
	}, nil
}

// IssueLeaf issues a code-signing certificate for pub naming id, valid for
// LeafValidity from notBefore. The SAN is a URI when id.Identity parses as
// an absolute URL, otherwise an e-mail address.
func (c *CA) IssueLeaf(pub crypto.PublicKey, id Identity, notBefore time.Time) (*x509.Certificate, error) {
	if id.Identity == "" || id.Issuer == "" {
		return nil, errors.New("issue leaf: identity and issuer are required")
	}
	notBefore = notBefore.UTC().Truncate(time.Second)
	notAfter := notBefore.Add(LeafValidity)
	if notBefore.Before(c.notBefore) || notAfter.After(c.notAfter) {
		return nil, fmt.Errorf("issue leaf at %s: outside the CA validity %s..%s", notBefore, c.notBefore, c.notAfter)
	}
	issuerV2, err := asn1.MarshalWithParams(id.Issuer, "utf8")
	if err != nil {
		return nil, fmt.Errorf("issue leaf: encode issuer: %w", err)
	}
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 159))
	if err != nil {
		return nil, fmt.Errorf("issue leaf: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		SubjectKeyId: keyID(pub),
		ExtraExtensions: []pkix.Extension{
			{Id: OIDIssuer, Value: []byte(id.Issuer)},
			{Id: OIDIssuerV2, Value: issuerV2},
		},
	}
	if u, err := url.Parse(id.Identity); err == nil && u.Scheme != "" && (u.Host != "" || u.Opaque != "") {
		tmpl.URIs = []*url.URL{u}
	} else if strings.Contains(id.Identity, "@") {
		tmpl.EmailAddresses = []string{id.Identity}
	} else {
		return nil, fmt.Errorf("issue leaf: identity %q is neither an absolute URI nor an e-mail address", id.Identity)
	}
	cert, err := createCert(tmpl, c.intermediate, pub, c.intermediateKey)
	if err != nil {
		return nil, fmt.Errorf("issue leaf: %w", err)
	}
	return cert, nil
}

// Root returns the self-signed root certificate.
func (c *CA) Root() *x509.Certificate { return c.root }

// Intermediate returns the intermediate certificate, signed by the root.
func (c *CA) Intermediate() *x509.Certificate { return c.intermediate }

// Chain returns the issuing chain of a leaf: intermediate, then root.
func (c *CA) Chain() []*x509.Certificate { return []*x509.Certificate{c.intermediate, c.root} }

// ChainPEM returns the intermediate and the root as concatenated PEM blocks
// (the form cosign's certificate-chain annotation uses).
func (c *CA) ChainPEM() []byte {
	return append(CertPEM(c.intermediate), CertPEM(c.root)...)
}

// RootPEM returns the root certificate in PEM.
func (c *CA) RootPEM() []byte { return CertPEM(c.root) }

// NotBefore is the start of the root and intermediate validity.
func (c *CA) NotBefore() time.Time { return c.notBefore }

// NotAfter is the end of the root and intermediate validity.
func (c *CA) NotAfter() time.Time { return c.notAfter }

// CertPEM encodes a certificate as one PEM block.
func CertPEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

func createCert(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// newKey returns a random key, or one derived from seed and label.
func newKey(curve elliptic.Curve, seed []byte, label string) (*ecdsa.PrivateKey, error) {
	if len(seed) == 0 {
		return ecdsa.GenerateKey(curve, rand.Reader)
	}
	return DeriveKey(curve, seed, label)
}

// DeriveKey derives an ECDSA private key on curve from seed and label,
// deterministically. It is for reproducible sandboxes, not for secrets.
func DeriveKey(curve elliptic.Curve, seed []byte, label string) (*ecdsa.PrivateKey, error) {
	size := (curve.Params().BitSize + 7) / 8
	for counter := uint32(0); counter < 1000; counter++ {
		h := sha512.New()
		h.Write(seed)
		h.Write([]byte{0})
		h.Write([]byte(label))
		h.Write(binary.BigEndian.AppendUint32(nil, counter))
		d := h.Sum(nil)[:size]
		// Rejection sampling: out-of-range scalars are refused by the parser.
		if k, err := ecdsa.ParseRawPrivateKey(curve, d); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("derive key: no valid scalar")
}

func serial(seed []byte, label string) *big.Int {
	if len(seed) == 0 {
		n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 159))
		if err == nil {
			return n
		}
	}
	h := sha512.Sum512(append(append(append([]byte(nil), seed...), 1), label...))
	return new(big.Int).SetBytes(h[:19])
}

func keyID(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil
	}
	sum := sha1.Sum(spki.PublicKey.Bytes) //nolint:gosec // key identifier, not a security boundary.
	return sum[:]
}

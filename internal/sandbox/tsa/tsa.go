package tsa

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/digitorus/timestamp"
	tsx509 "github.com/sigstore/timestamp-authority/v2/pkg/x509"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
)

// DefaultPolicy is the TSA policy OID responses name when the request names
// none: timestamp-authority's default (1.3.6.1.4.1.57264.2).
var DefaultPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2}

// Default validity of the chain: wide enough for any back-dated evidence.
var (
	DefaultNotBefore = ca.DefaultNotBefore
	DefaultNotAfter  = ca.DefaultNotAfter
)

// TSA is an RFC 3161 timestamp authority. Its methods are safe for
// concurrent use.
type TSA struct {
	root, intermediate, leaf *x509.Certificate
	key                      *ecdsa.PrivateKey
	notBefore, notAfter      time.Time

	mu     sync.RWMutex
	now    func() time.Time
	pinned time.Time // non-zero: HTTP responses name this time
	status int       // non-zero: every HTTP request answers this status
}

type config struct {
	seed                []byte
	notBefore, notAfter time.Time
	now                 func() time.Time
	name                string
}

// Option configures New.
type Option func(*config) error

// WithSeed derives the keys from seed, so that a TSA built twice from one
// seed has the same keys. Empty means random.
func WithSeed(seed []byte) Option {
	return func(c *config) error { c.seed = append([]byte(nil), seed...); return nil }
}

// WithValidity sets the validity of the three certificates. Default
// DefaultNotBefore to DefaultNotAfter.
func WithValidity(notBefore, notAfter time.Time) Option {
	return func(c *config) error {
		if !notBefore.Before(notAfter) {
			return fmt.Errorf("validity %s..%s: empty", notBefore, notAfter)
		}
		c.notBefore, c.notAfter = notBefore.UTC(), notAfter.UTC()
		return nil
	}
}

// WithClock sets the clock HTTP responses are stamped with (unless SetTime
// pins a time). Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("clock: nil")
		}
		c.now = now
		return nil
	}
}

// New makes a timestamp authority with its own P-256 chain.
func New(opts ...Option) (*TSA, error) {
	cfg := config{notBefore: DefaultNotBefore, notAfter: DefaultNotAfter, now: time.Now, name: "sandbox.sigstore.local"}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("tsa option: %w", err)
		}
	}
	key := func(label string) (*ecdsa.PrivateKey, error) {
		if len(cfg.seed) == 0 {
			return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		}
		return ca.DeriveKey(elliptic.P256(), cfg.seed, label)
	}
	rootKey, err := key("tsa-root")
	if err != nil {
		return nil, fmt.Errorf("tsa root key: %w", err)
	}
	interKey, err := key("tsa-intermediate")
	if err != nil {
		return nil, fmt.Errorf("tsa intermediate key: %w", err)
	}
	leafKey, err := key("tsa-leaf")
	if err != nil {
		return nil, fmt.Errorf("tsa leaf key: %w", err)
	}
	t := &TSA{key: leafKey, notBefore: cfg.notBefore, notAfter: cfg.notAfter, now: cfg.now}

	rootTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{cfg.name}, CommonName: cfg.name + " TSA root"},
		NotBefore:             cfg.notBefore,
		NotAfter:              cfg.notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	if t.root, err = create(rootTmpl, rootTmpl, rootKey.Public(), rootKey); err != nil {
		return nil, fmt.Errorf("tsa root: %w", err)
	}
	interTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{Organization: []string{cfg.name}, CommonName: cfg.name + " TSA intermediate"},
		NotBefore:             cfg.notBefore,
		NotAfter:              cfg.notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if t.intermediate, err = create(interTmpl, t.root, interKey.Public(), rootKey); err != nil {
		return nil, fmt.Errorf("tsa intermediate: %w", err)
	}
	// RFC 3161 §2.3: the TSA's certificate has exactly one extended key
	// usage, id-kp-timeStamping, and the extension is critical — set by
	// hand, since crypto/x509 writes it non-critical.
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{tsx509.EKUTimestampingOID})
	if err != nil {
		return nil, fmt.Errorf("tsa leaf: %w", err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(3),
		Subject:         pkix.Name{Organization: []string{cfg.name}, CommonName: cfg.name + " TSA timestamping"},
		NotBefore:       cfg.notBefore,
		NotAfter:        cfg.notAfter,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: tsx509.EKUOID, Critical: true, Value: eku}},
	}
	if t.leaf, err = create(leafTmpl, t.intermediate, leafKey.Public(), interKey); err != nil {
		return nil, fmt.Errorf("tsa leaf: %w", err)
	}
	return t, nil
}

func create(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// Chain returns the TSA's certificates, leaf first, then the intermediate
// and the root: the order of GET /api/v1/timestamp/certchain and of a
// trusted root's timestampAuthorities[].certChain.
func (t *TSA) Chain() []*x509.Certificate {
	return []*x509.Certificate{t.leaf, t.intermediate, t.root}
}

// ChainPEM is Chain as concatenated PEM blocks.
func (t *TSA) ChainPEM() []byte {
	var b bytes.Buffer
	for _, c := range t.Chain() {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// NotBefore is the start of the chain's validity.
func (t *TSA) NotBefore() time.Time { return t.notBefore }

// Timestamp returns an RFC 3161 timestamp response (DER) over signature at
// time at, for the request sigstore-go's signer sends: the SHA-256 of the
// signature bytes, no nonce, no certificates.
func (t *TSA) Timestamp(signature []byte, at time.Time) ([]byte, error) {
	sum := sha256.Sum256(signature)
	return t.Respond(&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: sum[:]}, at)
}

// Respond answers a parsed request at time at (truncated to whole seconds
// as GeneralizedTime carries them here), as timestamp-authority does: its
// hash, nonce and extensions, the default policy unless the request names
// one, one second accuracy, the leaf certificate when asked for.
func (t *TSA) Respond(req *timestamp.Request, at time.Time) ([]byte, error) {
	if at.Before(t.notBefore) || at.After(t.notAfter) {
		return nil, fmt.Errorf("timestamp at %s: outside the TSA's validity %s..%s", at.UTC().Format(time.RFC3339), t.notBefore.Format(time.RFC3339), t.notAfter.Format(time.RFC3339))
	}
	policy := req.TSAPolicyOID
	if len(policy) == 0 {
		policy = DefaultPolicy
	}
	ts := timestamp.Timestamp{
		HashAlgorithm:     req.HashAlgorithm,
		HashedMessage:     req.HashedMessage,
		Time:              at.UTC().Truncate(time.Second),
		Nonce:             req.Nonce,
		Policy:            policy,
		Accuracy:          time.Second,
		AddTSACertificate: req.Certificates,
		ExtraExtensions:   req.Extensions,
	}
	resp, err := ts.CreateResponseWithOpts(t.leaf, t.key, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("timestamp: %w", err)
	}
	return resp, nil
}

// SetTime pins the time HTTP responses name (back-dating, as the sandbox
// does for old evidence); the zero time restores the clock.
func (t *TSA) SetTime(at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pinned = at
}

// Now is the time an HTTP response made now would name.
func (t *TSA) Now() time.Time {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if !t.pinned.IsZero() {
		return t.pinned
	}
	return t.now()
}

// SetStatus makes every HTTP request answer status (e.g. 503); 0 restores
// normal service. A test hook.
func (t *TSA) SetStatus(status int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.status = status
}

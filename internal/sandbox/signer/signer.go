package signer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/rekorv2"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/tlog"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/tsa"
)

// Media and payload types of what Sign produces.
const (
	BundleMediaType      = "application/vnd.dev.sigstore.bundle.v0.3+json"
	TrustedRootMediaType = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
	InTotoPayloadType    = "application/vnd.in-toto+json"
)

// DefaultIntegrationDelay is how long after signing the log integrates an
// entry: the certificate's NotBefore is the signing time, the log's
// integrated time this much later, well inside the ten-minute validity.
const DefaultIntegrationDelay = 3 * time.Second

// Signer signs statements with ephemeral keys certified by a CA and logged
// in a transparency log. Its methods are safe for concurrent use.
type Signer struct {
	ca    *ca.CA
	log   *tlog.Log
	delay time.Duration
	caURL string

	reuse time.Duration

	remote *remoteLog // WithRekorAPI; nil: the in-process log

	v2     *rekorv2.Log // WithRekorV2; nil: SignV2 is refused
	v2URL  string
	tsa    *tsa.TSA // WithTSA
	tsaURL string

	mu     sync.RWMutex
	logURL string
	leaves map[ca.Identity]*leaf // by identity: the leaf of the current reuse window
}

// leaf is a certified ephemeral key.
type leaf struct {
	key    *ecdsa.PrivateKey
	cert   *x509.Certificate
	window time.Time
}

type config struct {
	delay  time.Duration
	logURL string
	caURL  string
	reuse  time.Duration
	remote *remoteLog
	v2     *rekorv2.Log
	v2URL  string
	tsa    *tsa.TSA
	tsaURL string
}

// Option configures New.
type Option func(*config) error

// WithIntegrationDelay sets how long after the signing time entries are
// integrated. Default DefaultIntegrationDelay; must be below
// ca.LeafValidity.
func WithIntegrationDelay(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 || d >= ca.LeafValidity {
			return fmt.Errorf("integration delay %v: want 0 <= d < %v", d, ca.LeafValidity)
		}
		c.delay = d
		return nil
	}
}

// WithLeafReuse makes signatures by one identity whose signing times fall
// in the same window (signing time truncated to window) share one ephemeral
// key and leaf certificate, issued at the start of the window. Fulcio issues
// a fresh certificate per signing; reuse trades that fidelity for speed when
// generating thousands of bundles (issuing a leaf is most of the cost of
// Sign). Zero (the default) means a fresh key and certificate per signature.
// The window must leave room for the integration delay inside the leaf's
// ten-minute validity: at most five minutes.
func WithLeafReuse(window time.Duration) Option {
	return func(c *config) error {
		if window < 0 || window > 5*time.Minute {
			return fmt.Errorf("leaf reuse window %v: want 0..5m", window)
		}
		c.reuse = window
		return nil
	}
}

// WithLogURL sets the log's base URL named in the trusted root. Default
// "https://" + the log's hostname; SetLogURL changes it once a server runs.
func WithLogURL(u string) Option {
	return func(c *config) error {
		c.logURL = u
		return nil
	}
}

// WithCAURL sets the CA URI named in the trusted root. Default
// "https://fulcio.sandbox.local".
func WithCAURL(u string) Option {
	return func(c *config) error {
		c.caURL = u
		return nil
	}
}

// WithRekorV2 adds the Rekor v2 era: SignV2 logs into l, and the trusted
// root names l by its full key hash with baseURL, whose host must be l's
// checkpoint origin (SPEC §2.2), as a verifier checks the checkpoint under
// that host. Needs WithTSA too: a v2 entry has no integrated time.
func WithRekorV2(l *rekorv2.Log, baseURL string) Option {
	return func(c *config) error {
		u, err := url.Parse(baseURL)
		if err != nil || u.Hostname() == "" {
			return fmt.Errorf("rekor v2 base URL %q: not an absolute URL", baseURL)
		}
		if l == nil || u.Hostname() != l.Origin() {
			return fmt.Errorf("rekor v2 base URL %q: host must be the log's checkpoint origin", baseURL)
		}
		c.v2, c.v2URL = l, strings.TrimRight(baseURL, "/")
		return nil
	}
}

// WithTSA adds the RFC 3161 timestamp authority that stamps SignV2's
// signatures, named in the trusted root with url (its timestamp endpoint's
// base, as timestampAuthorities[].uri).
func WithTSA(t *tsa.TSA, url string) Option {
	return func(c *config) error {
		if t == nil {
			return errors.New("tsa: nil")
		}
		c.tsa, c.tsaURL = t, url
		return nil
	}
}

// New composes a CA and a log into a Signer.
func New(c *ca.CA, l *tlog.Log, opts ...Option) (*Signer, error) {
	if c == nil || l == nil {
		return nil, errors.New("signer: CA and log are required")
	}
	cfg := config{delay: DefaultIntegrationDelay, logURL: "https://" + l.Hostname(), caURL: "https://fulcio.sandbox.local"}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("signer option: %w", err)
		}
	}
	if cfg.v2 != nil && cfg.tsa == nil {
		return nil, errors.New("signer: the Rekor v2 era needs a timestamp authority (WithTSA): its entries carry no time")
	}
	return &Signer{
		ca: c, log: l, delay: cfg.delay, caURL: cfg.caURL, logURL: cfg.logURL,
		reuse: cfg.reuse, leaves: map[ca.Identity]*leaf{}, remote: cfg.remote,
		v2: cfg.v2, v2URL: cfg.v2URL, tsa: cfg.tsa, tsaURL: cfg.tsaURL,
	}, nil
}

// CA returns the certificate authority.
func (s *Signer) CA() *ca.CA { return s.ca }

// Log returns the transparency log.
func (s *Signer) Log() *tlog.Log { return s.log }

// SetLogURL sets the log's base URL named in the trusted root, e.g. the
// address of an httptest server serving Log().Handler().
func (s *Signer) SetLogURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logURL = u
}

// LogURL returns the log's base URL named in the trusted root.
func (s *Signer) LogURL() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.logURL
}

// SignedInfo describes one signature: its log entry and certificate.
type SignedInfo struct {
	LogIndex       int64
	UUID           string // Rekor entry UUID (64 hex)
	EntryID        string // Rekor entry ID (tree ID + UUID, 80 hex)
	IntegratedTime time.Time
	Cert           *x509.Certificate
	Entry          *tlog.Entry
}

// envelope is a DSSE envelope in its JSON form.
type envelope struct {
	PayloadType string         `json:"payloadType"`
	Payload     string         `json:"payload"`
	Signatures  []envelopeSign `json:"signatures"`
}

type envelopeSign struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// signed is the result of signing a statement and logging it.
type signed struct {
	sig      []byte
	envelope []byte // JSON, as submitted to the log
	cert     *x509.Certificate
	entry    *tlog.Entry
	// paeDigest is the SHA-256 of the DSSE PAE: what a Rekor v2
	// hashedrekord entry logs for an envelope.
	paeDigest []byte
}

// pae is DSSE's pre-authentication encoding.
func pae(payloadType string, payload []byte) []byte {
	return fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload)
}

// signAndLog signs statement as a DSSE envelope (signDSSE) and logs it
// with appendFn at at+delay.
func (s *Signer) signAndLog(statement []byte, id ca.Identity, at time.Time,
	appendFn func(envelopeJSON, certPEM []byte, integratedTime time.Time) (*tlog.Entry, error)) (*signed, error) {
	sd, err := s.signDSSE(statement, id, at)
	if err != nil {
		return nil, err
	}
	if sd.entry, err = appendFn(sd.envelope, ca.CertPEM(sd.cert), at.Add(s.delay)); err != nil {
		return nil, fmt.Errorf("log entry: %w", err)
	}
	return sd, nil
}

// signDSSE makes a fresh ephemeral key (or the one of at's reuse window),
// certifies it for id at at, and signs statement as a DSSE envelope: the
// ECDSA signature over the PAE. The result has no log entry yet.
func (s *Signer) signDSSE(statement []byte, id ca.Identity, at time.Time) (*signed, error) {
	if !json.Valid(statement) || !strings.HasPrefix(strings.TrimSpace(string(statement)), "{") {
		return nil, errors.New("statement is not a JSON object")
	}
	lf, err := s.leaf(id, at)
	if err != nil {
		return nil, err
	}
	key, cert := lf.key, lf.cert
	digest := sha256.Sum256(pae(InTotoPayloadType, statement))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return nil, fmt.Errorf("sign envelope: %w", err)
	}
	env, err := json.Marshal(envelope{
		PayloadType: InTotoPayloadType,
		Payload:     base64.StdEncoding.EncodeToString(statement),
		Signatures:  []envelopeSign{{Sig: base64.StdEncoding.EncodeToString(sig)}},
	})
	if err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	return &signed{sig: sig, envelope: env, cert: cert, paeDigest: digest[:]}, nil
}

// leaf returns a fresh certified key for id at at, or with leaf reuse the
// one of at's window.
func (s *Signer) leaf(id ca.Identity, at time.Time) (*leaf, error) {
	window := at
	if s.reuse > 0 {
		window = at.Truncate(s.reuse)
		s.mu.RLock()
		lf := s.leaves[id]
		s.mu.RUnlock()
		if lf != nil && lf.window.Equal(window) {
			return lf, nil
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ephemeral key: %w", err)
	}
	cert, err := s.ca.IssueLeaf(key.Public(), id, window)
	if err != nil {
		return nil, err
	}
	lf := &leaf{key: key, cert: cert, window: window}
	if s.reuse > 0 {
		s.mu.Lock()
		s.leaves[id] = lf
		s.mu.Unlock()
	}
	return lf, nil
}

func (sd *signed) info() SignedInfo {
	return SignedInfo{
		LogIndex:       sd.entry.LogIndex,
		UUID:           sd.entry.UUID,
		EntryID:        sd.entry.EntryID,
		IntegratedTime: sd.entry.IntegratedTime,
		Cert:           sd.cert,
		Entry:          sd.entry,
	}
}

package anchor

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"golang.org/x/mod/sumdb/note"

	"github.com/evidence-auditd/evidence-auditd/internal/config"
)

// defaultTimeout bounds each request to Fulcio, a log, a timestamp
// authority or a token endpoint.
const defaultTimeout = 30 * time.Second

// inTotoPayloadType is the DSSE payload type of an in-toto statement.
const inTotoPayloadType = "application/vnd.in-toto+json"

// Signer signs anchors and snapshots (SPEC §10): with a key (anchor.key),
// else keyless through Fulcio when its TokenSource yields a token, else not
// at all. With a log URL, what it signs is also submitted to that
// transparency log. Build it with NewSigner.
type Signer struct {
	key       *Key
	tokens    TokenSource
	fulcioURL string
	logURL    string
	tsaURL    string
	client    *http.Client
}

// SignerOptions configure NewSigner. Zero values mean: no key, no token
// source (so never keyless), no log, no timestamp authority.
type SignerOptions struct {
	Key          *Key        // a private key, or nil
	Tokens       TokenSource // ambient OIDC tokens, or nil
	FulcioURL    string      // Fulcio's base URL for keyless signing
	LogURL       string      // transparency log to submit to ("" = none)
	TimestampURL string      // RFC 3161 endpoint (a Rekor v2 log gives no time)
	Client       *http.Client
}

// NewSigner builds a Signer; it contacts nothing.
func NewSigner(o SignerOptions) (*Signer, error) {
	if o.Key != nil && o.Key.priv == nil {
		return nil, errors.New("anchor signer: the key is a public key")
	}
	if o.Tokens != nil && o.FulcioURL == "" && o.Key == nil {
		return nil, errors.New("anchor signer: keyless signing needs a Fulcio URL")
	}
	c := o.Client
	if c == nil {
		c = &http.Client{Timeout: defaultTimeout}
	}
	return &Signer{key: o.Key, tokens: o.Tokens, fulcioURL: strings.TrimRight(o.FulcioURL, "/"),
		logURL: strings.TrimRight(o.LogURL, "/"), tsaURL: o.TimestampURL, client: c}, nil
}

// SignerFromConfig builds the signer of cfg's anchor keys: the key file,
// else keyless with getenv's ambient token (nil getenv: never keyless).
func SignerFromConfig(cfg *config.Config, getenv func(string) string) (*Signer, error) {
	var key *Key
	if cfg.Anchor.Key != "" {
		k, err := LoadPrivateKey(cfg.Anchor.Key, "anchor.key")
		if err != nil {
			return nil, err
		}
		key = k
	}
	var tokens TokenSource
	if key == nil && getenv != nil {
		tokens = Ambient{Getenv: getenv}
	}
	return NewSigner(SignerOptions{Key: key, Tokens: tokens, FulcioURL: cfg.Anchor.FulcioURL,
		LogURL: cfg.Anchor.Log, TimestampURL: cfg.Anchor.TimestampURL})
}

// Signature is what one signing produced.
type Signature struct {
	// Bundle is the Sigstore bundle JSON (keyless, or logged); nil when
	// there is none.
	Bundle []byte
	// LogURL and LogIndex name the transparency-log entry; "" and -1 when
	// not logged.
	LogURL   string
	LogIndex int64
	// By says who signed: "key <alg> sha256:…", "keyless <identity>
	// (issuer <issuer>)", or "" when unsigned.
	By string
	// Warnings say what could not be done (no log entry, no certificate):
	// never fatal, for the caller to log.
	Warnings []string
}

// Signed reports whether anyone signed.
func (s *Signature) Signed() bool { return s.By != "" }

// signing is one signing's key and identity.
type signing struct {
	key   *Key
	token config.Secret // keyless only
	by    string
}

// start picks the key: anchor.key, else a fresh key to be certified by
// Fulcio for the ambient token, else none (warnings say why).
func (s *Signer) start(ctx context.Context) (*signing, []string) {
	if s.key != nil {
		return &signing{key: s.key, by: "key " + s.key.String()}, nil
	}
	if s.tokens == nil {
		return nil, nil
	}
	tok, err := s.tokens.Token(ctx)
	if err != nil {
		return nil, []string{fmt.Sprintf("no OIDC token for keyless signing: %v", err)}
	}
	if tok == "" {
		return nil, nil
	}
	k, err := newEphemeralKey()
	if err != nil {
		return nil, []string{fmt.Sprintf("keyless signing: %v", err)}
	}
	return &signing{key: k, token: tok}, nil
}

// bundle signs content into a Sigstore bundle: certified by Fulcio when
// keyless, logged when the signer has a log. A log that cannot be reached
// leaves the content signed but unlogged, with a warning; Fulcio refusing
// leaves it unsigned (err).
func (s *Signer) bundle(ctx context.Context, sg *signing, content sign.Content, prehash bool) (*Signature, error) {
	out := &Signature{LogIndex: -1}
	opts := sign.BundleOptions{Context: ctx}
	if sg.token != "" {
		opts.CertificateProvider = sign.NewFulcio(&sign.FulcioOptions{BaseURL: s.fulcioURL, Transport: s.client.Transport, Timeout: s.client.Timeout})
		opts.CertificateProviderOptions = &sign.CertificateProviderOptions{IDToken: sg.token.Reveal()}
	}
	if s.logURL != "" {
		version, err := s.logVersion(ctx)
		switch {
		case err != nil:
			out.Warnings = append(out.Warnings, fmt.Sprintf("not logged to %s: %v", s.logURL, err))
		case version == 2 && sg.token != "" && s.tsaURL == "":
			out.Warnings = append(out.Warnings, fmt.Sprintf("not logged to %s: a Rekor v2 entry carries no time, and a keyless signature needs one; set anchor.timestampURL", s.logURL))
		default:
			opts.TransparencyLogs = []sign.Transparency{sign.NewRekor(&sign.RekorOptions{BaseURL: s.logURL, Version: version, Timeout: s.client.Timeout})}
			if version == 2 {
				prehash = true // a v2 hashedrekord holds a digest
			}
		}
	}
	if s.tsaURL != "" && (sg.token != "" || len(opts.TransparencyLogs) > 0) {
		opts.TimestampAuthorities = []*sign.TimestampAuthority{sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: s.tsaURL, Timeout: s.client.Timeout, Transport: s.client.Transport})}
	}
	kp := sg.key.keypair(prehash)
	b, err := sign.Bundle(content, kp, opts)
	if err != nil && len(opts.TransparencyLogs) > 0 {
		// Sign again without the log: a signature that could not be
		// logged is still worth keeping; the warning says so.
		out.Warnings = append(out.Warnings, fmt.Sprintf("not logged to %s: %v", s.logURL, scrubErr(err, sg.token.Reveal())))
		opts.TransparencyLogs, opts.TimestampAuthorities = nil, nil
		if s.tsaURL != "" && sg.token != "" {
			opts.TimestampAuthorities = []*sign.TimestampAuthority{sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: s.tsaURL, Timeout: s.client.Timeout, Transport: s.client.Transport})}
		}
		b, err = sign.Bundle(content, kp, opts)
	}
	if err != nil {
		return nil, scrubErr(err, sg.token.Reveal())
	}
	if tl := b.GetVerificationMaterial().GetTlogEntries(); len(tl) > 0 {
		out.LogURL, out.LogIndex = s.logURL, tl[0].GetLogIndex()
	}
	pb := &bundle.Bundle{Bundle: b}
	if out.Bundle, err = pb.MarshalJSON(); err != nil {
		return nil, err
	}
	out.By = sg.by
	if out.By == "" {
		out.By = describeCert(b)
	}
	return out, nil
}

// describeCert names the signer of a keyless bundle by its certificate.
func describeCert(b *protobundle.Bundle) string {
	raw := b.GetVerificationMaterial().GetCertificate().GetRawBytes()
	if raw == nil {
		if chain := b.GetVerificationMaterial().GetX509CertificateChain().GetCertificates(); len(chain) > 0 {
			raw = chain[0].GetRawBytes()
		}
	}
	cert, err := x509.ParseCertificate(raw)
	if err != nil {
		return "keyless (certificate unreadable)"
	}
	sum, err := certificate.SummarizeCertificate(cert)
	if err != nil {
		return "keyless (certificate unreadable)"
	}
	return fmt.Sprintf("keyless %s (issuer %s)", sum.SubjectAlternativeName, sum.Issuer)
}

// SignNote signs a checkpoint body as origin: the note (signed, or the body
// alone when nobody can sign) and, when keyless or logged, a Sigstore bundle
// with a message signature over the body. Failures to certify or log are
// warnings: an anchor is always written.
func (s *Signer) SignNote(ctx context.Context, origin string, body []byte) (noteText []byte, sig *Signature) {
	sig = &Signature{LogIndex: -1}
	sg, warns := s.start(ctx)
	sig.Warnings = append(sig.Warnings, warns...)
	if sg == nil {
		return body, sig
	}
	if sg.token != "" || s.logURL != "" {
		b, err := s.bundle(ctx, sg, &sign.PlainData{Data: body}, true)
		if err != nil {
			if sg.token != "" {
				sig.Warnings = append(sig.Warnings, fmt.Sprintf("keyless signing through %s failed, the anchor is unsigned: %v", s.fulcioURL, err))
				return body, sig
			}
			sig.Warnings = append(sig.Warnings, fmt.Sprintf("not logged: %v", err))
		} else {
			b.Warnings = append(sig.Warnings, b.Warnings...)
			sig = b
		}
	}
	ns, err := sg.key.noteSigner(ctx, origin)
	if err == nil {
		var n []byte
		if n, err = note.Sign(&note.Note{Text: string(body)}, ns); err == nil {
			if sig.By == "" {
				sig.By = sg.by
			}
			return n, sig
		}
	}
	sig.Warnings = append(sig.Warnings, fmt.Sprintf("signing the note failed, the anchor is unsigned: %v", err))
	sig.By = ""
	return body, sig
}

// ErrCannotSign: neither a key nor an OIDC token is available.
var ErrCannotSign = errors.New("nothing to sign with: set anchor.key to a key file, or run where an OIDC token is available (GitHub Actions with id-token: write, or SIGSTORE_ID_TOKEN)")

// SignStatement signs an in-toto statement into a Sigstore bundle holding a
// DSSE envelope (what `report --sign` writes). Unlike SignNote, being
// unable to sign is an error.
func (s *Signer) SignStatement(ctx context.Context, statement []byte) (*Signature, error) {
	sg, warns := s.start(ctx)
	if sg == nil {
		if len(warns) > 0 {
			return nil, fmt.Errorf("%w (%s)", ErrCannotSign, strings.Join(warns, "; "))
		}
		return nil, ErrCannotSign
	}
	sig, err := s.bundle(ctx, sg, &sign.DSSEData{Data: statement, PayloadType: inTotoPayloadType}, false)
	if err != nil {
		return nil, fmt.Errorf("sign statement: %w", err)
	}
	sig.Warnings = append(warns, sig.Warnings...)
	return sig, nil
}

// logVersion asks the log which API it speaks: a Rekor v1 server answers
// GET /api/v1/log; a Rekor v2 (tile) log serves only its write API and
// static tiles, so it does not.
func (s *Signer) logVersion(ctx context.Context) (uint32, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.logURL+"/api/v1/log", nil)
	if err != nil {
		return 0, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		return 1, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
		return 2, nil
	}
	return 0, fmt.Errorf("GET /api/v1/log: HTTP %d", resp.StatusCode)
}

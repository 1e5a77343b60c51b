package fulcio

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
)

// Fulcio issues code-signing certificates for OIDC identity tokens of one
// issuer, from a sandbox CA.
type Fulcio struct {
	ca        *ca.CA
	issuerURL string
	now       func() time.Time
	client    *http.Client

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
}

// New returns a Fulcio trusting the tokens of the issuer at issuerURL.
func New(c *ca.CA, issuerURL string) *Fulcio {
	return &Fulcio{ca: c, issuerURL: issuerURL, now: time.Now, client: &http.Client{Timeout: 10 * time.Second}}
}

type certRequest struct {
	PublicKeyRequest struct {
		PublicKey struct {
			Algorithm string `json:"algorithm"`
			Content   string `json:"content"`
		} `json:"publicKey"`
		ProofOfPossession string `json:"proofOfPossession"`
	} `json:"publicKeyRequest"`
}

type tokenClaims struct {
	Email          string `json:"email"`
	EmailVerified  bool   `json:"email_verified"`
	JobWorkflowRef string `json:"job_workflow_ref"`
}

// Handler serves POST /api/v2/signingCert.
func (f *Fulcio) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v2/signingCert", f.signingCert)
	return mux
}

func (f *Fulcio) signingCert(w http.ResponseWriter, r *http.Request) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		fail(w, http.StatusUnauthorized, "no bearer token")
		return
	}
	v, err := f.tokenVerifier()
	if err != nil {
		fail(w, http.StatusServiceUnavailable, "issuer discovery: "+err.Error())
		return
	}
	tok, err := v.Verify(r.Context(), raw)
	if err != nil {
		fail(w, http.StatusUnauthorized, "the identity token does not verify: "+err.Error())
		return
	}
	var c tokenClaims
	if err := tok.Claims(&c); err != nil {
		fail(w, http.StatusBadRequest, "token claims: "+err.Error())
		return
	}
	var identity, challenge string
	switch {
	case c.JobWorkflowRef != "":
		identity, challenge = "https://github.com/"+c.JobWorkflowRef, tok.Subject
	case c.Email != "" && c.EmailVerified:
		identity, challenge = c.Email, c.Email
	default:
		fail(w, http.StatusUnauthorized, "the token names no workflow and no verified e-mail address")
		return
	}
	var req certRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, "request: "+err.Error())
		return
	}
	pub, err := parsePublicKey(req.PublicKeyRequest.PublicKey.Content)
	if err != nil {
		fail(w, http.StatusBadRequest, "public key: "+err.Error())
		return
	}
	sig, err := base64.StdEncoding.DecodeString(req.PublicKeyRequest.ProofOfPossession)
	if err != nil || !proves(pub, []byte(challenge), sig) {
		fail(w, http.StatusBadRequest, "the proof of possession does not verify: it must sign the token's subject with the key to certify")
		return
	}
	cert, err := f.ca.IssueLeaf(pub, ca.Identity{Identity: identity, Issuer: tok.Issuer}, f.now())
	if err != nil {
		fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	chain := []string{string(ca.CertPEM(cert))}
	for _, c := range f.ca.Chain() {
		chain = append(chain, string(ca.CertPEM(c)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)              // Fulcio's REST gateway answers 200, and sigstore-go wants exactly that
	json.NewEncoder(w).Encode(map[string]any{ //nolint:errcheck // the client sees a short body
		"signedCertificateEmbeddedSct": map[string]any{"chain": map[string]any{"certificates": chain}},
	})
}

// tokenVerifier discovers the issuer once (over HTTP, as Fulcio does).
func (f *Fulcio) tokenVerifier() (*oidc.IDTokenVerifier, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.verifier != nil {
		return f.verifier, nil
	}
	// The provider keeps the context for later key-set fetches: a
	// background one, so that the end of this request cancels nothing.
	p, err := oidc.NewProvider(oidc.ClientContext(context.Background(), f.client), f.issuerURL)
	if err != nil {
		return nil, err
	}
	f.verifier = p.Verifier(&oidc.Config{ClientID: Audience, Now: f.now})
	return f.verifier, nil
}

func parsePublicKey(content string) (crypto.PublicKey, error) {
	block, _ := pem.Decode([]byte(content))
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("want a PEM PUBLIC KEY")
	}
	return x509.ParsePKIXPublicKey(block.Bytes)
}

// proves checks a proof of possession: ECDSA over SHA-256 of the
// challenge, or Ed25519 over the challenge.
func proves(pub crypto.PublicKey, challenge, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		d := sha256.Sum256(challenge)
		return ecdsa.VerifyASN1(k, d[:], sig)
	case ed25519.PublicKey:
		return ed25519.Verify(k, challenge, sig)
	}
	return false
}

func fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"code": status, "message": msg})
}

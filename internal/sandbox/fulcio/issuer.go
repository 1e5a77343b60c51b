package fulcio

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Audience is the audience Fulcio accepts (and GitHub Actions tokens for
// Sigstore carry).
const Audience = "sigstore"

// Claims are the identity a token asserts.
type Claims struct {
	// Subject is the token's sub; for a workflow token,
	// "repo:<owner>/<repo>:ref:<ref>".
	Subject string
	// JobWorkflowRef makes a GitHub workflow token:
	// "<owner>/<repo>/.github/workflows/<file>@<ref>".
	JobWorkflowRef string
	// Email makes an e-mail token (verified).
	Email string
	// Audience defaults to Audience.
	Audience string
	// Lifetime defaults to ten minutes.
	Lifetime time.Duration
}

// Identity is the certificate identity Fulcio issues for these claims: the
// workflow URI, else the e-mail address.
func (c Claims) Identity() string {
	if c.JobWorkflowRef != "" {
		return "https://github.com/" + c.JobWorkflowRef
	}
	return c.Email
}

// Issuer is an OIDC identity-token issuer. Its URL (SetURL) is the issuer
// name tokens carry; Handler serves it.
type Issuer struct {
	key *ecdsa.PrivateKey
	kid string
	now func() time.Time

	mu      sync.Mutex
	url     string
	actions *Claims // what /token mints; nil: the endpoint answers 404
	request string  // the bearer /token wants
}

// NewIssuer makes an issuer with a fresh ES256 key.
func NewIssuer() (*Issuer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	return &Issuer{key: key, kid: hex.EncodeToString(id[:]), now: time.Now}, nil
}

// SetURL sets the issuer's URL, where Handler is served.
func (i *Issuer) SetURL(u string) {
	i.mu.Lock()
	i.url = u
	i.mu.Unlock()
}

// URL is the issuer's URL: the iss of its tokens.
func (i *Issuer) URL() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.url
}

// Token mints a signed identity token for c.
func (i *Issuer) Token(c Claims) (string, error) {
	iss := i.URL()
	if iss == "" {
		return "", errors.New("issuer: no URL set")
	}
	if c.Subject == "" {
		return "", errors.New("issuer: a subject is required")
	}
	aud := c.Audience
	if aud == "" {
		aud = Audience
	}
	life := c.Lifetime
	if life == 0 {
		life = 10 * time.Minute
	}
	now := i.now().UTC()
	claims := map[string]any{
		"iss": iss, "sub": c.Subject, "aud": aud,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(life).Unix(),
	}
	if c.JobWorkflowRef != "" {
		claims["job_workflow_ref"] = c.JobWorkflowRef
	}
	if c.Email != "" {
		claims["email"], claims["email_verified"] = c.Email, true
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: i.key, KeyID: i.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	obj, err := s.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// SetActions makes /token mint tokens for c to whoever bears request, as
// GitHub Actions' token request endpoint does for a job with
// `id-token: write`.
func (i *Issuer) SetActions(c Claims, request string) {
	i.mu.Lock()
	i.actions, i.request = &c, request
	i.mu.Unlock()
}

// ActionsRequestURL is the value of ACTIONS_ID_TOKEN_REQUEST_URL for this
// issuer (the runner adds audience=...).
func (i *Issuer) ActionsRequestURL() string { return i.URL() + "/token?api-version=2.0" }

// Handler serves discovery, the key set and the Actions token endpoint.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		iss := i.URL()
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer": iss, "jwks_uri": iss + "/jwks",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"ES256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &i.key.PublicKey, KeyID: i.kid, Algorithm: string(jose.ES256), Use: "sig"},
		}})
	})
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		i.mu.Lock()
		c, request := i.actions, i.request
		i.mu.Unlock()
		if c == nil {
			http.NotFound(w, r)
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("bearer "+request)) != 1 {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "bad request token"})
			return
		}
		claims := *c
		if aud := r.URL.Query().Get("audience"); aud != "" {
			claims.Audience = aud
		}
		tok, err := i.Token(claims)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"value": tok})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		fmt.Println(err) // unreachable for these values
	}
}

package anchor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/evidence-auditd/evidence-auditd/internal/config"
)

// TokenSource yields an OIDC identity token for keyless signing through
// Fulcio; an empty token and no error when none is available here.
type TokenSource interface {
	Token(ctx context.Context) (config.Secret, error)
}

// Environment variables of ambient OIDC tokens.
const (
	// EnvSigstoreToken holds a ready identity token (the convention of
	// cosign and the Sigstore clients).
	EnvSigstoreToken = "SIGSTORE_ID_TOKEN"
	// EnvActionsTokenURL and EnvActionsTokenRequest are set by GitHub
	// Actions in a job with `permissions: id-token: write`: a GET of the
	// URL (with audience=sigstore) bearing the request token returns
	// {"value": "<token>"}.
	EnvActionsTokenURL     = "ACTIONS_ID_TOKEN_REQUEST_URL"
	EnvActionsTokenRequest = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
)

// Ambient finds an OIDC token where CI systems put one: SIGSTORE_ID_TOKEN,
// then GitHub Actions' token request endpoint (audience "sigstore", as
// Fulcio expects). Getenv defaults to os.Getenv semantics through the
// caller; Client defaults to a client with a 30s timeout.
type Ambient struct {
	Getenv func(string) string
	Client *http.Client
}

// Token implements TokenSource.
func (a Ambient) Token(ctx context.Context) (config.Secret, error) {
	if a.Getenv == nil {
		return "", nil
	}
	if t := strings.TrimSpace(a.Getenv(EnvSigstoreToken)); t != "" {
		return config.Secret(t), nil
	}
	reqURL, reqTok := a.Getenv(EnvActionsTokenURL), a.Getenv(EnvActionsTokenRequest)
	if reqURL == "" || reqTok == "" {
		return "", nil
	}
	u, err := url.Parse(reqURL)
	if err != nil {
		return "", fmt.Errorf("%s: not a URL", EnvActionsTokenURL)
	}
	q := u.Query()
	q.Set("audience", "sigstore")
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("GitHub Actions OIDC token: %w", err)
	}
	req.Header.Set("Authorization", "bearer "+reqTok)
	req.Header.Set("Accept", "application/json")
	hc := a.Client
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("GitHub Actions OIDC token from %s: %w", u.Host, scrubErr(err, reqTok))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("GitHub Actions OIDC token from %s: %w", u.Host, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GitHub Actions OIDC token from %s: HTTP %d", u.Host, resp.StatusCode)
	}
	var v struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Value == "" {
		return "", fmt.Errorf("GitHub Actions OIDC token from %s: the answer holds no token", u.Host)
	}
	return config.Secret(v.Value), nil
}

// scrubErr removes every secret from err's text: a token must never reach
// a log or an error (SPEC §10), whatever a library puts in its messages.
func scrubErr(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		if s != "" {
			clean = strings.ReplaceAll(clean, s, "[redacted]")
		}
	}
	if clean == msg {
		return err
	}
	return errors.New(clean)
}

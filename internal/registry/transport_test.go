package registry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/evidence-auditd/evidence-auditd/internal/registry"
)

// A blob redirected to another host (a CDN) is followed, over the scheme
// configured for that host, without the registry's credentials.
func TestBlobRedirect(t *testing.T) {
	w := newWorld(t, false)
	a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
	var sawAuth string
	hits := 0
	cdn := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		hits++
		sawAuth = r.Header.Get("Authorization")
		rw.Write(a.layer)
	}))
	defer cdn.Close()
	cdnHost := strings.TrimPrefix(cdn.URL, "http://")
	w.faults.add(http.MethodGet, "/blobs/"+a.layerDigest+"$", -1, func(rw http.ResponseWriter, r *http.Request) {
		http.Redirect(rw, r, cdn.URL+"/blob?sig=1", http.StatusTemporaryRedirect)
	})

	c, _ := w.client(t, registry.WithPlainHTTP(cdnHost), registry.WithKeychain(staticKeychain{"u", "p"}))
	s, err := c.FetchSummary(context.Background(), w.host+"/evidence/x", a.digest)
	if err != nil {
		t.Fatalf("FetchSummary: %v", err)
	}
	if len(s.Layer) != len(a.layer) {
		t.Errorf("layer: got %d bytes, want %d", len(s.Layer), len(a.layer))
	}
	if hits != 1 {
		t.Errorf("CDN hits: got %d, want 1", hits)
	}
	if sawAuth != "" {
		t.Errorf("the CDN received the registry's credentials: %q", sawAuth)
	}

	// A redirect to plain http on a host not configured for it is refused.
	c, _ = w.client(t)
	_, err = c.FetchSummary(context.Background(), w.host+"/evidence/x", a.digest)
	wantKind(t, err, registry.KindTransient)
}

type staticKeychain struct{ user, pass string }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return &authn.Basic{Username: k.user, Password: k.pass}, nil
}

// Credentials from the keychain answer a Basic challenge; without them the
// registry's 401 is forbidden.
func TestKeychain(t *testing.T) {
	w := newWorld(t, false)
	a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
	w.faults.add("", "^/v2/", -1, func(rw http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok && u == "reader" && p == "s3cret" {
			w.registry.ServeHTTP(rw, r)
			return
		}
		rw.Header().Set("WWW-Authenticate", `Basic realm="registry"`)
		registryError(http.StatusUnauthorized, "UNAUTHORIZED")(rw, r)
	})

	c, _ := w.client(t, registry.WithKeychain(staticKeychain{"reader", "s3cret"}))
	if _, err := c.FetchSummary(context.Background(), w.host+"/evidence/x", a.digest); err != nil {
		t.Fatalf("FetchSummary with credentials: %v", err)
	}
	c, _ = w.client(t, registry.WithKeychain(authn.NewMultiKeychain()))
	_, err := c.FetchSummary(context.Background(), w.host+"/evidence/x", a.digest)
	wantKind(t, err, registry.KindForbidden)
}

package registry_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/registry"
)

func TestPrivateNetworksRefused(t *testing.T) {
	w := newWorld(t, true)
	a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
	_, port, _ := strings.Cut(w.host, ":")
	localhost := "localhost:" + port

	// Refused by default: the literal IP before any request, a name that
	// resolves to loopback at dial time.
	c, err := registry.New(registry.WithPlainHTTP(w.host, localhost), registry.WithSleep((&sleeps{}).sleep))
	if err != nil {
		t.Fatal(err)
	}
	w.faults.resetLog()
	for _, host := range []string{w.host, localhost} {
		_, err := c.FetchSummary(context.Background(), host+"/evidence/x", a.digest)
		fe := wantKind(t, err, registry.KindPolicy)
		if fe.Hint == "" {
			t.Errorf("%s: no hint", host)
		}
		_, err = c.FindSigstoreBundle(context.Background(), host+"/evidence/x", a.digest)
		wantKind(t, err, registry.KindPolicy)
		wantKind(t, c.Probe(context.Background(), host+"/evidence/x", a.digest, "", ""), registry.KindPolicy)
	}
	if n := w.faults.requests("", ""); n != 0 {
		t.Errorf("the registry saw %d requests; want none", n)
	}

	// Allowed when asked.
	c, err = registry.New(registry.WithPlainHTTP(w.host, localhost), registry.AllowPrivateNetworksUnsafe(true))
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{w.host, localhost} {
		if _, err := c.FetchSummary(context.Background(), host+"/evidence/x", a.digest); err != nil {
			t.Errorf("%s: FetchSummary: %v", host, err)
		}
	}
}

func TestPlainHTTPOnlyWhenConfigured(t *testing.T) {
	w := newWorld(t, false)
	a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
	c, err := registry.New(registry.AllowPrivateNetworksUnsafe(true), registry.WithRetry(registry.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	w.faults.resetLog()
	_, err = c.FetchSummary(context.Background(), w.host+"/evidence/x", a.digest)
	if err == nil {
		t.Fatal("fetched over plain http from a host not in plainHTTP")
	}
	wantKind(t, err, registry.KindTransient) // not untrusted: https may merely have failed
	if n := w.faults.requests("", "^/v2/"); n != 0 {
		t.Errorf("the registry served %d plain-http requests", n)
	}
}

// recorder answers 404 to everything and remembers the hosts asked.
type recorder struct{ hosts []string }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.hosts = append(r.hosts, req.URL.Host)
	if req.URL.Path == "/v2/" {
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}, Request: req}, nil
	}
	return &http.Response{StatusCode: http.StatusNotFound, Body: http.NoBody, Header: http.Header{}, Request: req}, nil
}

func TestAllowedHosts(t *testing.T) {
	digest := "sha256:" + strings.Repeat("0", 64)
	for _, tc := range []struct {
		globs   []string
		host    string
		private bool
		allowed bool
	}{
		{nil, "ghcr.io", false, true},
		{[]string{"ghcr.io"}, "ghcr.io", false, true},
		{[]string{"ghcr.io"}, "GHCR.io", false, true},
		{[]string{"ghcr.io"}, "evil.io", false, false},
		{[]string{"ghcr.io"}, "ghcr.io.evil.io", false, false},
		{[]string{"*.example.com"}, "registry.example.com", false, true},
		{[]string{"*.example.com"}, "example.com", false, false},
		{[]string{"*.example.com"}, "registry.example.com:5000", false, true},
		{[]string{"registry.example.com:5000"}, "registry.example.com:5000", false, true},
		{[]string{"registry.example.com:5000"}, "registry.example.com:6000", false, false},
		{[]string{"registry.example.com:5000"}, "registry.example.com", false, false},
		{[]string{"ghcr.io", "quay.io"}, "quay.io", false, true},
		{nil, "10.0.0.8:5000", false, false},
		{nil, "169.254.169.254", false, false},
		{nil, "[::1]:5000", false, false},
		{nil, "[fd00::1]", false, false},
		{nil, "10.0.0.8:5000", true, true},
		{[]string{"10.0.0.*"}, "10.0.0.8:5000", true, true},
		{[]string{"10.0.0.*"}, "10.0.1.8", true, false},
	} {
		rec := &recorder{}
		c, err := registry.New(registry.WithAllowedHosts(tc.globs...), registry.WithTransport(rec),
			registry.AllowPrivateNetworksUnsafe(tc.private))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.FetchSummary(context.Background(), tc.host+"/evidence/x:v1", digest)
		policy := errors.Is(err, registry.ErrPolicy)
		if policy == tc.allowed {
			t.Errorf("globs %v, host %s, private %v: got err %v, want allowed=%v", tc.globs, tc.host, tc.private, err, tc.allowed)
		}
		if !tc.allowed && len(rec.hosts) != 0 {
			t.Errorf("globs %v, host %s: refused, yet requests went to %v", tc.globs, tc.host, rec.hosts)
		}
		if tc.allowed && !errors.Is(err, registry.ErrGone) {
			t.Errorf("globs %v, host %s: got %v, want gone from the recorder", tc.globs, tc.host, err)
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, opt := range []registry.Option{
		registry.WithAllowedHosts("[a-"),
		registry.WithTimeout(0),
		registry.WithRetry(registry.RetryPolicy{}),
		registry.WithRetry(registry.RetryPolicy{MaxAttempts: 2, BaseBackoff: 2, MaxBackoff: 1}),
		registry.WithRetry(registry.RetryPolicy{MaxAttempts: 2, Jitter: 2}),
		registry.WithLimits(registry.Limits{Layer: -1}),
		registry.WithPerHostLimit(-1),
		registry.WithPlainHTTP("http://x"),
		registry.WithTransport(nil),
	} {
		if _, err := registry.New(opt); err == nil {
			t.Errorf("New accepted a bad option")
		}
	}
	if _, err := registry.New(registry.WithAllowedHosts("ghcr.io"), registry.WithPlainHTTP("127.0.0.1:5000")); err == nil {
		t.Errorf("New accepted a plain-http host outside the allow-list")
	}
}

// TestTransportWrapperKeepsThePolicy: the metrics wrapper sees the requests
// sent, and does not open the private-network check that WithTransport would
// replace.
func TestTransportWrapperKeepsThePolicy(t *testing.T) {
	w := newWorld(t, true)
	a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
	_, port, _ := strings.Cut(w.host, ":")
	localhost := "localhost:" + port
	var seen atomic.Int32
	wrap := registry.WithTransportWrapper(func(next http.RoundTripper) http.RoundTripper {
		return roundTripper(func(r *http.Request) (*http.Response, error) {
			seen.Add(1)
			return next.RoundTrip(r)
		})
	})

	c, err := registry.New(wrap, registry.WithPlainHTTP(localhost), registry.WithSleep((&sleeps{}).sleep))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.FetchSummary(context.Background(), localhost+"/evidence/x", a.digest)
	wantKind(t, err, registry.KindPolicy) // refused at dial time, under the wrapper

	c, err = registry.New(wrap, registry.WithPlainHTTP(w.host), registry.AllowPrivateNetworksUnsafe(true))
	if err != nil {
		t.Fatal(err)
	}
	seen.Store(0)
	if _, err := c.FetchSummary(context.Background(), w.host+"/evidence/x", a.digest); err != nil {
		t.Fatal(err)
	}
	if seen.Load() == 0 {
		t.Error("the wrapper saw no request")
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

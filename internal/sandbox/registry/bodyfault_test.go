package registry_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"syscall"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/registry"
)

// fetched is one GET as a client sees it: status, framing, body and the
// error the body read ended with.
type fetched struct {
	status           int
	contentLength    int64
	transferEncoding []string
	body             []byte
	readErr          error
}

func fetch(tb testing.TB, r *registry.Registry, method, path string) fetched {
	tb.Helper()
	req, err := http.NewRequest(method, r.URL()+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, rerr := io.ReadAll(resp.Body)
	return fetched{resp.StatusCode, resp.ContentLength, resp.TransferEncoding, b, rerr}
}

func TestFaultBody(t *testing.T) {
	r := start(t)
	d := push(t, r, "owner/evidence", "v1")
	path := "/v2/owner/evidence/manifests/" + d.String()
	whole := fetch(t, r, http.MethodGet, path)
	if whole.status != http.StatusOK || whole.readErr != nil || whole.contentLength != int64(len(whole.body)) {
		t.Fatalf("unfaulted GET: status %d, Content-Length %d, %d bytes, %v", whole.status, whole.contentLength, len(whole.body), whole.readErr)
	}
	const n = 40

	t.Run("truncated, close-delimited", func(t *testing.T) {
		r.SetFault("owner/evidence", registry.Fault{TruncateAfter: n, Times: 1})
		got := fetch(t, r, http.MethodGet, path)
		if got.readErr != nil || got.status != http.StatusOK {
			t.Fatalf("status %d, read error %v; want 200 and a clean end", got.status, got.readErr)
		}
		if got.contentLength != -1 || len(got.transferEncoding) != 0 {
			t.Errorf("Content-Length %d, Transfer-Encoding %v; want neither", got.contentLength, got.transferEncoding)
		}
		if !bytes.Equal(got.body, whole.body[:n]) {
			t.Errorf("body %q, want the first %d bytes %q", got.body, n, whole.body[:n])
		}
	})
	t.Run("truncated, chunked", func(t *testing.T) {
		r.SetFault("owner/evidence", registry.Fault{TruncateAfter: n, Chunked: true, Times: 1})
		got := fetch(t, r, http.MethodGet, path)
		if got.readErr != nil || got.status != http.StatusOK {
			t.Fatalf("status %d, read error %v; want 200 and a clean end", got.status, got.readErr)
		}
		if got.contentLength != -1 || len(got.transferEncoding) != 1 || got.transferEncoding[0] != "chunked" {
			t.Errorf("Content-Length %d, Transfer-Encoding %v; want chunked without a length", got.contentLength, got.transferEncoding)
		}
		if !bytes.Equal(got.body, whole.body[:n]) {
			t.Errorf("body %q, want the first %d bytes", got.body, n)
		}
	})
	t.Run("reset mid-body", func(t *testing.T) {
		r.SetFault("owner/evidence", registry.Fault{ResetAfter: n, Times: 1})
		got := fetch(t, r, http.MethodGet, path)
		if got.contentLength != int64(len(whole.body)) {
			t.Errorf("Content-Length %d, want the real %d", got.contentLength, len(whole.body))
		}
		if !errors.Is(got.readErr, syscall.ECONNRESET) && !errors.Is(got.readErr, io.ErrUnexpectedEOF) {
			t.Errorf("read error %v, want a connection reset", got.readErr)
		}
		if len(got.body) > n || !bytes.Equal(got.body, whole.body[:len(got.body)]) {
			t.Errorf("read %d bytes %q, want a prefix of at most %d", len(got.body), got.body, n)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		r.SetFault("owner/evidence", registry.Fault{Corrupt: true, Times: 1})
		got := fetch(t, r, http.MethodGet, path)
		if got.readErr != nil || got.contentLength != int64(len(whole.body)) || len(got.body) != len(whole.body) {
			t.Fatalf("Content-Length %d, %d bytes, %v; want the full length %d", got.contentLength, len(got.body), got.readErr, len(whole.body))
		}
		if bytes.Equal(got.body, whole.body) || !bytes.Equal(got.body[:len(got.body)-1], whole.body[:len(whole.body)-1]) {
			t.Errorf("body %q, want the real one with its last byte changed", got.body)
		}
	})
	// Each fault above was for one request: the repository has recovered.
	if got := fetch(t, r, http.MethodGet, path); !bytes.Equal(got.body, whole.body) || got.readErr != nil {
		t.Errorf("after the faults: %d bytes, %v; want the whole manifest", len(got.body), got.readErr)
	}
}

// A fault limited to an endpoint or a reference leaves every other request
// alone and is not used up by them; body faults spare HEAD requests.
func TestFaultScope(t *testing.T) {
	r := start(t, registry.WithReferrersAPI(true))
	a := push(t, r, "owner/evidence", "a")
	b := push(t, r, "owner/evidence", "b")
	manifestA := "/v2/owner/evidence/manifests/" + a.String()
	manifestB := "/v2/owner/evidence/manifests/" + b.String()
	referrersA := "/v2/owner/evidence/referrers/" + a.String()

	r.SetFault("owner/evidence", registry.Fault{Status: http.StatusServiceUnavailable, Endpoint: registry.EndpointReferrers, Times: 1})
	if got := status(t, r, manifestA); got != http.StatusOK {
		t.Errorf("manifest under a referrers fault: got %d, want 200", got)
	}
	if got := status(t, r, referrersA); got != http.StatusServiceUnavailable {
		t.Errorf("referrers: got %d, want 503", got)
	}
	if got := status(t, r, referrersA); got != http.StatusOK {
		t.Errorf("referrers after the one fault: got %d, want 200", got)
	}

	r.SetFault("owner/evidence", registry.Fault{Status: http.StatusNotFound, Endpoint: registry.EndpointManifests, Reference: b.String(), Times: 1})
	if got := status(t, r, manifestA); got != http.StatusOK {
		t.Errorf("manifest a under a fault for b: got %d, want 200", got)
	}
	if got := status(t, r, "/v2/owner/evidence/manifests/b"); got != http.StatusOK {
		t.Errorf("b by tag under a fault for b's digest: got %d, want 200", got)
	}
	if got := status(t, r, manifestB); got != http.StatusNotFound {
		t.Errorf("manifest b: got %d, want 404", got)
	}

	r.SetFault("owner/evidence", registry.Fault{TruncateAfter: 10, Times: 1})
	if got := fetch(t, r, http.MethodHead, manifestA); got.status != http.StatusOK || got.contentLength <= 10 {
		t.Errorf("HEAD under a body fault: status %d, Content-Length %d; want it untouched", got.status, got.contentLength)
	}
	if got := fetch(t, r, http.MethodGet, manifestA); len(got.body) != 10 {
		t.Errorf("GET after a HEAD: %d bytes, want the fault still armed (10)", len(got.body))
	}
}

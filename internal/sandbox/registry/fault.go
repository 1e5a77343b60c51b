package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

// AllRepositories, given to [Registry.SetFault], applies a fault to every
// request, including the /v2/ version check and the catalog. A fault set for
// a named repository takes precedence over it.
const AllRepositories = "*"

// Fault describes how the registry misbehaves for one repository. The zero
// Fault passes every request through unchanged.
type Fault struct {
	// Status, when non-zero, is the HTTP status answered instead of serving
	// the request (404, 403, 429, 500, 503, ...), with an OCI error body.
	Status int
	// RetryAfter, when positive, is sent as a Retry-After header in whole
	// seconds (rounded up) with Status.
	RetryAfter time.Duration
	// Delay holds each affected request this long before answering. With
	// Status zero and Reset false the request is then served normally: a
	// slow registry.
	Delay time.Duration
	// Reset closes the TCP connection (with an RST) instead of answering,
	// after Delay.
	Reset bool
	// Times is how many requests the fault affects before it clears itself
	// and the repository recovers; 0 means until ClearFault.
	Times int

	// Endpoint, when set, limits the fault to one kind of request
	// (EndpointManifests, EndpointBlobs, EndpointReferrers, EndpointTags);
	// Reference, when set, to requests for that tag or digest (the last path
	// segment). Other requests of the repository are served normally and do
	// not use up Times.
	Endpoint  Endpoint
	Reference string

	// The body faults below serve the real answer with its body damaged.
	// They affect GET requests only (a HEAD has no body to damage); a
	// request of another method is served normally and does not use up
	// Times.

	// TruncateAfter, when positive, ends the body after that many bytes and
	// drops the Content-Length, so that only the bytes themselves show the
	// cut: the body is close-delimited (the connection closes after it), or
	// chunked with a proper last chunk when Chunked is set. This is a
	// registry or proxy that loses its upstream mid-body.
	TruncateAfter int64
	// Chunked: see TruncateAfter.
	Chunked bool
	// ResetAfter, when positive, sends the status, the headers (with the
	// real Content-Length) and that many bytes of the body, then resets the
	// connection.
	ResetAfter int64
	// Corrupt changes the body's last byte, keeping its length and headers:
	// a registry that serves complete but different bytes.
	Corrupt bool
}

// mangles reports whether f damages the body of a served answer.
func (f Fault) mangles() bool { return f.TruncateAfter > 0 || f.ResetAfter > 0 || f.Corrupt }

// matches reports whether f applies to req, of endpoint kind.
func (f Fault) matches(req *http.Request, kind Endpoint) bool {
	if f.Endpoint != "" && f.Endpoint != kind {
		return false
	}
	if f.Reference != "" && req.URL.Path[strings.LastIndexByte(req.URL.Path, '/')+1:] != f.Reference {
		return false
	}
	return !f.mangles() || req.Method == http.MethodGet
}

// activeFault is a Fault with its remaining budget.
type activeFault struct {
	Fault
	remaining int // meaningful when Times > 0
}

// SetFault makes requests for repo (or every request, for AllRepositories)
// misbehave as f describes, replacing any previous fault for repo.
func (r *Registry) SetFault(repo string, f Fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults[repo] = &activeFault{Fault: f, remaining: f.Times}
}

// ClearFault removes the fault for repo; the repository recovers at once.
func (r *Registry) ClearFault(repo string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.faults, repo)
}

// takeFault returns the fault that applies to req (for repo, of endpoint
// kind), consuming one unit of its budget, or false when the request should
// be served. The repository's own fault is consulted first, then the one
// for AllRepositories.
func (r *Registry) takeFault(req *http.Request, repo string, kind Endpoint) (Fault, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var key string
	var af *activeFault
	for _, k := range []string{repo, AllRepositories} {
		if f, ok := r.faults[k]; ok && f.matches(req, kind) {
			key, af = k, f
			break
		}
	}
	if af == nil {
		return Fault{}, false
	}
	if af.Times > 0 {
		af.remaining--
		if af.remaining <= 0 {
			delete(r.faults, key)
		}
	}
	return af.Fault, true
}

// serveFault applies f's delay, reset and status to one request. It reports
// whether the request was answered (or its connection reset); false means
// serve it, normally or, for a body fault, through serveMangled.
func (r *Registry) serveFault(w http.ResponseWriter, req *http.Request, f Fault) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			return true
		case <-r.closing:
			t.Stop()
			return true
		}
	}
	if f.Reset {
		resetConn(w)
		return true
	}
	if f.Status == 0 {
		return false
	}
	if f.RetryAfter > 0 {
		secs := int64((f.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	writeError(w, f.Status)
	return true
}

// serveMangled serves the answer that serve writes with its body damaged as
// f says (see Fault.TruncateAfter, ResetAfter, Corrupt).
func serveMangled(w http.ResponseWriter, req *http.Request, f Fault, serve func(http.ResponseWriter)) {
	rec := httptest.NewRecorder()
	serve(rec)
	body := rec.Body.Bytes()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	switch {
	case f.ResetAfter > 0:
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body[:min(f.ResetAfter, int64(len(body)))])
		// Hijack discards what the response writer still buffers: flush it
		// onto the wire first, so the client reads the bytes, then the reset.
		_ = http.NewResponseController(w).Flush()
		resetConn(w)
	case f.TruncateAfter > 0:
		w.Header().Del("Content-Length")
		if !f.Chunked {
			// net/http then sends neither a length nor chunks, and closes
			// the connection after the body.
			w.Header().Set("Transfer-Encoding", "identity")
		}
		w.WriteHeader(rec.Code)
		if f.Chunked {
			// Sent before any body byte, the headers can carry no length
			// (net/http would compute one for a short body).
			_ = http.NewResponseController(w).Flush()
		}
		_, _ = w.Write(body[:min(f.TruncateAfter, int64(len(body)))])
	default: // Corrupt
		if n := len(body); n > 0 {
			body = bytes.Clone(body)
			body[n-1] ^= 0x01
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	}
}

// resetConn hijacks the connection and closes it with SO_LINGER 0, so the
// client sees a connection reset rather than an orderly close.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// HTTP/2 cannot be hijacked; aborting the handler is the closest.
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// writeError answers with an OCI distribution error body for status.
func writeError(w http.ResponseWriter, status int) {
	code := "UNKNOWN"
	switch status {
	case http.StatusNotFound:
		code = "NAME_UNKNOWN"
	case http.StatusUnauthorized:
		code = "UNAUTHORIZED"
	case http.StatusForbidden:
		code = "DENIED"
	case http.StatusTooManyRequests:
		code = "TOOMANYREQUESTS"
	case http.StatusServiceUnavailable:
		code = "UNAVAILABLE"
	}
	writeRegError(w, status, code, fmt.Sprintf("injected fault: %d %s", status, http.StatusText(status)))
}

// writeRegError writes an OCI distribution error response.
func writeRegError(w http.ResponseWriter, status int, code, msg string) {
	type ociErr struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	body, _ := json.Marshal(struct {
		Errors []ociErr `json:"errors"`
	}{[]ociErr{{Code: code, Message: msg}}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

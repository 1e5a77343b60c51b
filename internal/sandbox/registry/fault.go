package registry

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
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

// takeFault returns the fault that applies to a request for repo, consuming
// one unit of its budget, or false when the request should be served.
func (r *Registry) takeFault(repo string) (Fault, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := repo
	af, ok := r.faults[key]
	if !ok {
		key = AllRepositories
		af, ok = r.faults[key]
	}
	if !ok {
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

// serveFault applies f to one request. It reports whether the request was
// answered (or its connection reset); false means serve it normally.
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

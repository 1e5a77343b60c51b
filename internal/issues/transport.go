package issues

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/config"
)

// retryTransport authenticates requests and honours GitHub's rate limits
// and transient failures below go-github:
//
//   - 403/429 with Retry-After, or with X-RateLimit-Remaining: 0 and
//     X-RateLimit-Reset (primary limit), or a secondary-limit message:
//     wait as told (60 s when not told) and retry, any method — a rate
//     limited request was not processed;
//   - 5xx and network errors: exponential backoff with jitter, for
//     idempotent methods only (a POST that failed with 502 may have created
//     the issue; the journal reconciles it next run instead);
//   - a wait longer than maxWait, or retries exhausted: the response goes up
//     unchanged and go-github turns it into an error.
//
// The token is set here, on the copy of the request that is sent, and
// nowhere else — and only when the request goes to the configured API
// (tokenHost, same scheme): a redirect to another host or to plain http
// is followed without it (SPEC §7), so a compromised or misconfigured
// endpoint cannot bounce the token elsewhere.
type retryTransport struct {
	base       http.RoundTripper
	token      config.Secret
	tokenURL   *url.URL // scheme and host the token may be sent to
	now        func() time.Time
	sleep      func(ctx context.Context, d time.Duration) error
	maxWait    time.Duration
	maxRetries int
	userAgent  string
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		r := req.Clone(req.Context())
		if attempt > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = body
		}
		r.Header.Del("Authorization")
		if t.token != "" && t.mayCarryToken(r.URL) {
			r.Header.Set("Authorization", "Bearer "+t.token.Reveal())
		}
		if t.userAgent != "" {
			r.Header.Set("User-Agent", t.userAgent)
		}
		resp, err := t.base.RoundTrip(r)
		if err != nil {
			if !idempotent(req.Method) || attempt >= t.maxRetries || req.Context().Err() != nil {
				return nil, err
			}
			if serr := t.sleep(req.Context(), backoff(attempt)); serr != nil {
				return nil, serr
			}
			continue
		}
		wait, retry := t.classify(req.Method, resp)
		if !retry || attempt >= t.maxRetries || wait > t.maxWait || (req.Body != nil && req.GetBody == nil) {
			return resp, nil
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if wait <= 0 {
			wait = backoff(attempt)
		}
		if err := t.sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
}

// mayCarryToken reports whether a request to u may be authenticated: the
// configured API's scheme and host (with port), compared exactly.
func (t *retryTransport) mayCarryToken(u *url.URL) bool {
	return t.tokenURL != nil && strings.EqualFold(u.Scheme, t.tokenURL.Scheme) && strings.EqualFold(u.Host, t.tokenURL.Host)
}

// classify says whether resp is worth retrying and after how long (0: the
// default backoff).
func (t *retryTransport) classify(method string, resp *http.Response) (time.Duration, bool) {
	h := resp.Header
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusForbidden:
		if v := h.Get("Retry-After"); v != "" {
			if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
				return time.Duration(s)*time.Second + time.Second, true
			}
		}
		if h.Get("X-RateLimit-Remaining") == "0" {
			if s, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
				d := time.Unix(s, 0).Sub(t.now()) + time.Second
				if d < time.Second {
					d = time.Second
				}
				return d, true
			}
			return time.Minute, true
		}
		if resp.StatusCode == http.StatusTooManyRequests || secondaryLimit(resp) {
			return time.Minute, true // GitHub: wait at least a minute when not told
		}
		return 0, false
	case resp.StatusCode >= 500:
		return 0, idempotent(method)
	}
	return 0, false
}

// secondaryLimit peeks at a 403's body for GitHub's secondary rate limit
// message, leaving the body readable.
func secondaryLimit(resp *http.Response) bool {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	s := strings.ToLower(string(data))
	return strings.Contains(s, "secondary rate limit") || strings.Contains(s, "abuse")
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// backoff is 1 s, 2 s, 4 s … capped at 30 s, with up to 25 % jitter.
func backoff(attempt int) time.Duration {
	d := time.Second << min(attempt, 5)
	if d > 30*time.Second {
		d = 30 * time.Second
	}
	return d + time.Duration(rand.Int64N(int64(d/4)+1))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

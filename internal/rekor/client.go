package rekor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/go-openapi/runtime"
	httptransport "github.com/go-openapi/runtime/client"
	"github.com/go-openapi/strfmt"
	genclient "github.com/sigstore/rekor/pkg/generated/client"
	"github.com/sigstore/rekor/pkg/util"
)

// Errors of talking to a log, wrapped with the operation.
var (
	// ErrLog is the family of every log error.
	ErrLog = errors.New("transparency log")
	// ErrUnavailable: unreachable, timeouts, 429 or 5xx after every retry —
	// the audit says no-verdict/transient.
	ErrUnavailable = fmt.Errorf("%w: unavailable", ErrLog)
	// ErrNotFound: the log answered that it holds no such entry (404).
	ErrNotFound = fmt.Errorf("%w: not found", ErrLog)
	// ErrBadResponse: the log answered something that is not what the API
	// promises (400, malformed body); it proves nothing either way.
	ErrBadResponse = fmt.Errorf("%w: bad response", ErrLog)
)

// Retry defaults (STYLE: every loop over the network has backoff with
// jitter and a cap).
const (
	DefaultAttempts      = 4
	DefaultBackoff       = 250 * time.Millisecond
	DefaultMaxBackoff    = 5 * time.Second
	DefaultMaxRetryAfter = 30 * time.Second
	DefaultTimeout       = 30 * time.Second
)

// retrier is an http.RoundTripper that retries network errors, 429 and 5xx
// (but 501) with capped exponential backoff and full jitter, waiting at
// least what Retry-After asks (up to maxRetryAfter).
type retrier struct {
	base          http.RoundTripper
	attempts      int
	backoff, max  time.Duration
	maxRetryAfter time.Duration
	userAgent     string
}

func (t *retrier) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(req.Body, 4<<20))
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	ctx := req.Context()
	for attempt := 1; ; attempt++ {
		r := req.Clone(ctx)
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		if t.userAgent != "" {
			r.Header.Set("User-Agent", t.userAgent)
		}
		resp, err := t.base.RoundTrip(r)
		if !retryable(resp, err) || ctx.Err() != nil || attempt >= t.attempts {
			return resp, err
		}
		wait := t.delay(attempt, resp)
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}

func retryable(resp *http.Response, err error) bool {
	if err != nil {
		return !errors.Is(err, context.Canceled)
	}
	return resp.StatusCode == http.StatusTooManyRequests ||
		(resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented)
}

// delay is full jitter over backoff·2^(attempt-1), capped, and at least
// the server's Retry-After.
func (t *retrier) delay(attempt int, resp *http.Response) time.Duration {
	ceil := t.backoff << (attempt - 1)
	if ceil > t.max || ceil <= 0 {
		ceil = t.max
	}
	d := time.Duration(rand.Int64N(int64(ceil) + 1))
	if resp != nil {
		if ra := retryAfter(resp.Header.Get("Retry-After")); ra > d {
			d = min(ra, t.maxRetryAfter)
		}
	}
	return d
}

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		return time.Until(at)
	}
	return 0
}

var registerFormats sync.Once

// newAPI returns rekor's generated REST client for the log at base, over
// hc. (rekor/pkg/client.GetRekorClient builds the same client over its own
// retryablehttp transport, which has no jitter; ours retries instead.)
func newAPI(base string, hc *http.Client) (*genclient.Rekor, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("rekor url %q: want http(s)://host[/path]", base)
	}
	path := u.Path
	if path == "" {
		path = genclient.DefaultBasePath
	}
	// The log info's signedTreeHead is validated as this format, which
	// GetRekorClient registers on strfmt.Default.
	registerFormats.Do(func() {
		strfmt.Default.Add("signedCheckpoint", &util.SignedNote{}, util.SignedCheckpointValidator)
	})
	rt := httptransport.NewWithClient(u.Host, path, []string{u.Scheme}, hc)
	rt.Consumers["application/json"] = runtime.JSONConsumer()
	rt.Consumers["application/x-pem-file"] = runtime.TextConsumer()
	rt.Producers["application/json"] = runtime.JSONProducer()
	return genclient.New(rt, strfmt.Default), nil
}

// classify wraps a generated-client error in ErrUnavailable, ErrNotFound or
// ErrBadResponse with the operation.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		return fmt.Errorf("%s: %w", op, statusError(coded.Code(), err))
	}
	var api *runtime.APIError
	if errors.As(err, &api) {
		return fmt.Errorf("%s: %w", op, statusError(api.Code, err))
	}
	// Transport errors, timeouts, bodies that end early.
	return fmt.Errorf("%s: %w: %v", op, ErrUnavailable, err)
}

func statusError(code int, err error) error {
	switch {
	case code == http.StatusNotFound:
		return fmt.Errorf("%w (HTTP 404): %v", ErrNotFound, err)
	case code == http.StatusTooManyRequests || code >= 500:
		return fmt.Errorf("%w (HTTP %d): %v", ErrUnavailable, code, err)
	default:
		return fmt.Errorf("%w (HTTP %d): %v", ErrBadResponse, code, err)
	}
}

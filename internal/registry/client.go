package registry

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/singleflight"
)

// Client is read-only OCI access for the auditor. It is safe for
// concurrent use; it starts no goroutines and needs no Close.
type Client struct {
	o    options
	base http.RoundTripper // guard over the network transport

	mu         sync.Mutex
	transports map[string]http.RoundTripper // authenticated, per repository
	pings      singleflight.Group           // one ping per repository at a time
	// noReferrers holds the hosts whose registry answered that it lacks the
	// Referrers API: such a registry lacks it for every repository (OCI
	// distribution spec: a registry with the API never answers 404 there),
	// so later pointers go straight to the tag-schema fallback instead of
	// paying a round trip each.
	noReferrers sync.Map // host → true
}

// New returns a Client. With no options it reaches public hosts over https
// only, anonymously or with the Docker credential chain, with the default
// timeout, retry policy and limits.
func New(opts ...Option) (*Client, error) {
	o := options{
		plainHTTP:    map[string]bool{},
		timeout:      DefaultTimeout,
		retry:        DefaultRetryPolicy(),
		limits:       DefaultLimits(),
		keychain:     authn.DefaultKeychain,
		sleep:        sleepCtx,
		now:          time.Now,
		maxReferrers: DefaultMaxReferrers,
		userAgent:    "evidence-auditd",
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("registry: %w", err)
		}
	}
	for h := range o.plainHTTP {
		if !o.hostAllowed(h) {
			return nil, fmt.Errorf("registry: plain-http host %s is not allowed by the host globs", h)
		}
	}
	inner := o.rt
	if inner == nil {
		inner = newNetTransport(o.allowPrivate)
	}
	if o.wrap != nil {
		inner = o.wrap(inner)
	}
	c := &Client{o: o, transports: map[string]http.RoundTripper{}}
	c.base = transport.NewUserAgent(&guard{o: &c.o, inner: inner, sems: map[string]chan struct{}{}}, o.userAgent)
	return c, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// target is a parsed, policy-checked repository.
type target struct {
	repo name.Repository
	host string // lowercase host[:port] as written
}

func (t target) scheme(o *options) string {
	if o.plainHTTP[t.host] {
		return "http"
	}
	return "https"
}

func (t target) url(o *options, kind, ref string) string {
	return fmt.Sprintf("%s://%s/v2/%s/%s/%s", t.scheme(o), t.repo.RegistryStr(), t.repo.RepositoryStr(), kind, ref)
}

var digestRE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)

// parseTarget turns a pointer's oci locator (host/repo[:tag][@digest]) into
// a repository and applies the host policy. The tag and any digest in the
// locator are ignored: only the pinned digest is ever fetched (SPEC §2.1).
func (c *Client) parseTarget(op, ref string) (target, error) {
	fail := func(k Kind, err error) (target, error) {
		return target{}, &FetchError{Op: op, Ref: ref, Kind: k, Err: err, Hint: hintFor(k, 0)}
	}
	s := strings.TrimSpace(ref)
	s = strings.TrimPrefix(s, "oci://")
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	slash := strings.IndexByte(s, '/')
	if slash <= 0 {
		return fail(KindInvalidRef, errors.New("locator must be host/repository"))
	}
	host := strings.ToLower(s[:slash])
	if !strings.ContainsAny(host, ".:") && host != "localhost" {
		return fail(KindInvalidRef, fmt.Errorf("locator must name its registry host explicitly, %q is not a host", host))
	}
	repoPart := s[slash+1:]
	if i := strings.LastIndexByte(repoPart, ':'); i >= 0 {
		repoPart = repoPart[:i] // tag: a locator only
	}
	var nopts []name.Option
	if c.o.plainHTTP[host] {
		nopts = append(nopts, name.Insecure)
	}
	repo, err := name.NewRepository(host+"/"+repoPart, nopts...)
	if err != nil {
		return fail(KindInvalidRef, err)
	}
	if !c.o.hostAllowed(host) {
		return fail(KindPolicy, fmt.Errorf("host %s is not in registry.allow", host))
	}
	if !c.o.allowPrivate && literalPrivate(host) {
		return fail(KindPolicy, fmt.Errorf("%s is a private network address (registry.allowPrivateNetworks is off)", host))
	}
	return target{repo: repo, host: host}, nil
}

func checkDigest(op, ref, d string) error {
	if !digestRE.MatchString(d) {
		return &FetchError{Op: op, Ref: ref, Kind: KindInvalidRef, Err: fmt.Errorf("digest %q: want sha256:<64 lowercase hex>", d)}
	}
	return nil
}

// transportFor returns the authenticated transport for t's repository,
// pinging the registry and exchanging a pull token the first time. Callers
// that ask at once for a repository not yet seen share one ping (a run's
// workers all start together: without it each sent its own).
func (c *Client) transportFor(ctx context.Context, t target) (http.RoundTripper, error) {
	key := t.repo.String()
	c.mu.Lock()
	rt := c.transports[key]
	c.mu.Unlock()
	if rt != nil {
		return rt, nil
	}
	ch := c.pings.DoChan(key, func() (any, error) {
		c.mu.Lock()
		rt := c.transports[key]
		c.mu.Unlock()
		if rt != nil {
			return rt, nil
		}
		auth, err := c.o.keychain.Resolve(t.repo)
		if err != nil || auth == nil {
			auth = authn.Anonymous // a broken Docker config must not stop an audit of public evidence
		}
		// The ping outlives the caller that happened to start it (the
		// others waiting on it have their own contexts), within the
		// request timeout.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.timeout)
		defer cancel()
		rt, err = transport.NewWithContext(pctx, t.repo.Registry, auth, c.base, []string{t.repo.Scope(transport.PullScope)})
		if err != nil {
			return nil, fmt.Errorf("ping %s: %w", t.repo.RegistryStr(), err)
		}
		c.mu.Lock()
		c.transports[key] = rt
		c.mu.Unlock()
		return rt, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(http.RoundTripper), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// do runs one attempt function with the per-request timeout and retries it
// while it fails transiently, then returns a *FetchError.
func (c *Client) do(ctx context.Context, op, ref string, attempt func(ctx context.Context) error) error {
	p := c.o.retry
	for n := 1; ; n++ {
		actx, cancel := context.WithTimeoutCause(ctx, c.o.timeout, errAttemptTimeout)
		err := attempt(actx)
		if err != nil && ctx.Err() == nil && errors.Is(context.Cause(actx), errAttemptTimeout) {
			err = fmt.Errorf("%w after %v: %w", errAttemptTimeout, c.o.timeout, err)
		}
		cancel()
		if err == nil {
			return nil
		}
		kind, status, code, retry := classify(ctx, err)
		if !retry || n >= p.MaxAttempts {
			return &FetchError{Op: op, Ref: ref, Status: status, Code: code, Kind: kind, Attempts: n, Err: err, Hint: hintFor(kind, status)}
		}
		delay := c.backoff(n, err)
		if serr := c.o.sleep(ctx, delay); serr != nil {
			kind, _, _, _ := classify(ctx, serr)
			return &FetchError{Op: op, Ref: ref, Status: status, Code: code, Kind: kind, Attempts: n, Err: fmt.Errorf("waiting to retry: %w (last error: %v)", serr, err)}
		}
	}
}

// backoff is the delay before attempt n+1.
func (c *Client) backoff(n int, err error) time.Duration {
	p := c.o.retry
	d := p.BaseBackoff
	for i := 1; i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	if p.Jitter > 0 {
		d -= time.Duration(float64(d) * p.Jitter * rand.Float64())
	}
	var se *statusError
	if errors.As(err, &se) && se.retryAfter != "" {
		if ra, ok := parseRetryAfter(se.retryAfter, c.o.now()); ok {
			d = max(d, min(ra, p.MaxRetryAfter))
		}
	}
	return d
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > 1<<20 {
			secs = 1 << 20
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// response is a fully read HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
	framed bool // the server declared the body's length (Content-Length)
	url    *url.URL
}

// errBodyLimit bounds error bodies read for their OCI error code.
const errBodyLimit = 64 << 10

// fetch performs one request on t's repository and reads the body. A
// status not in ok becomes a *statusError. A 200 body is judged against
// want (see body.judge): cut short is a transport failure, other bytes an
// integrity error. While a body is read it holds its declared length (or,
// while unknown, want.limit) of the run's memory budget.
func (c *Client) fetch(ctx context.Context, t target, method, rawURL string, accept []string, want body, ok ...int) (*response, error) {
	resp, err := c.open(ctx, t, method, rawURL, accept, ok...)
	if err != nil {
		return nil, err
	}
	defer closeBody(resp)
	out := &response{status: resp.StatusCode, header: resp.Header, url: resp.Request.URL, framed: resp.ContentLength >= 0}
	if method == http.MethodHead || resp.StatusCode != http.StatusOK {
		return out, nil
	}
	if err := want.checkDeclared(resp.ContentLength); err != nil {
		return nil, err
	}
	hold := want.limit
	if resp.ContentLength >= 0 {
		hold = resp.ContentLength
	}
	res, err := c.o.budget.Acquire(ctx, hold)
	if err != nil {
		return nil, err
	}
	defer res.Release()
	b, err := readBody(resp.Body, resp.ContentLength, want.limit)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if err := want.judge(b, out.framed); err != nil {
		return nil, err
	}
	out.body = b
	return out, nil
}

// readBody reads a body of declared length (-1: unknown) and at most
// limit+1 bytes, so that judge can tell a body over the limit. A declared
// length, already checked against the limit, is read into a buffer of that
// size: io.ReadAll would grow one by doubling, leaving twice the body as
// garbage.
func readBody(r io.Reader, declared, limit int64) ([]byte, error) {
	if declared < 0 {
		return io.ReadAll(io.LimitReader(r, limit+1))
	}
	b := make([]byte, declared)
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

// open sends one request on t's repository and returns the response with
// its body unread; the caller closes it with closeBody. A status not in ok
// becomes a *statusError (the body read for its OCI error code and closed).
func (c *Client) open(ctx context.Context, t target, method, rawURL string, accept []string, ok ...int) (*http.Response, error) {
	rt, err := c.transportFor(ctx, t)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		return nil, &integrityError{msg: err.Error()}
	}
	if len(accept) > 0 {
		req.Header.Set("Accept", strings.Join(accept, ", "))
	}
	hc := &http.Client{Transport: rt, CheckRedirect: checkRedirect}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	for _, s := range ok {
		if resp.StatusCode == s {
			return resp, nil
		}
	}
	defer closeBody(resp)
	return nil, readStatusError(resp)
}

// closeBody drains a little of what is left, so the connection can be
// reused, and closes the body.
func closeBody(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, errBodyLimit))
	resp.Body.Close()
}

// checkDeclared refuses, unread, a body whose declared length (-1: none)
// is over the limit or not the descriptor's size: a declared length is the
// whole body (judge, rule 2).
func (w body) checkDeclared(length int64) error {
	if length > w.limit {
		return integrityf("response of %d bytes exceeds the %d-byte limit", length, w.limit)
	}
	if w.size >= 0 && length >= 0 && length != w.size {
		return integrityf("response of %d bytes, descriptor says %d", length, w.size)
	}
	return nil
}

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("stopped after 5 redirects")
	}
	return nil
}

func readStatusError(resp *http.Response) error {
	se := &statusError{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, errBodyLimit))
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(b, &body) == nil && len(body.Errors) > 0 {
		se.code = strings.ToUpper(body.Errors[0].Code)
		se.message = body.Errors[0].Message
		if len(se.message) > 200 {
			se.message = se.message[:200]
		}
	}
	return se
}

// verifyDigest checks b against an OCI digest (sha256 or sha512).
func verifyDigest(b []byte, digest string) error {
	alg, want, ok := strings.Cut(digest, ":")
	if !ok {
		return integrityf("digest %q: no algorithm", digest)
	}
	var h hash.Hash
	switch alg {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		return integrityf("digest %q: unsupported algorithm", digest)
	}
	h.Write(b)
	got := hex.EncodeToString(h.Sum(nil))
	if got != want {
		return integrityf("content digest %s:%s does not match %s", alg, got, digest)
	}
	return nil
}

var anyDigestRE = regexp.MustCompile(`^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$`)

// mediaTypeOf returns the essence of a media type, lowercased, without
// parameters (for Content-Type headers).
func mediaTypeOf(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(ct))
	}
	return mt
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

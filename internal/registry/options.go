package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/evidence-auditd/evidence-auditd/internal/budget"
)

// Defaults of the Client's options.
const (
	DefaultTimeout        = 30 * time.Second
	DefaultMaxAttempts    = 4
	DefaultBaseBackoff    = 250 * time.Millisecond
	DefaultMaxBackoff     = 5 * time.Second
	DefaultJitter         = 0.2
	DefaultMaxRetryAfter  = 60 * time.Second
	DefaultManifestLimit  = 4 << 20   // 4 MiB (DESIGN.md, Reliability targets)
	DefaultBundleLimit    = 1 << 20   // 1 MiB
	DefaultLayerLimit     = 256 << 20 // 256 MiB
	DefaultMaxReferrers   = 32
	DefaultMaxLegacyLayer = 16
)

// RetryPolicy says how transient failures are retried. Delays grow as
// BaseBackoff·2^(n-1), capped at MaxBackoff, then reduced by up to Jitter
// (a fraction in [0,1]) at random. A Retry-After header (seconds or an HTTP
// date) raises the delay to what the registry asked for, capped at
// MaxRetryAfter.
type RetryPolicy struct {
	// MaxAttempts counts the first attempt; 1 disables retries.
	MaxAttempts   int
	BaseBackoff   time.Duration
	MaxBackoff    time.Duration
	Jitter        float64
	MaxRetryAfter time.Duration
}

// DefaultRetryPolicy is 4 attempts, 250 ms doubling to at most 5 s, 20 %
// jitter, Retry-After honoured up to 60 s.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts:   DefaultMaxAttempts,
		BaseBackoff:   DefaultBaseBackoff,
		MaxBackoff:    DefaultMaxBackoff,
		Jitter:        DefaultJitter,
		MaxRetryAfter: DefaultMaxRetryAfter,
	}
}

// Limits bounds every read from a registry, in bytes. A zero field takes
// its default.
type Limits struct {
	Manifest int64 // image manifests, indexes and config blobs; default 4 MiB
	Bundle   int64 // a Sigstore bundle or a cosign DSSE layer; default 1 MiB
	Layer    int64 // the summary's tar+gzip layer; default 256 MiB
}

// DefaultLimits returns the limits of DESIGN.md's reliability targets.
func DefaultLimits() Limits {
	return Limits{Manifest: DefaultManifestLimit, Bundle: DefaultBundleLimit, Layer: DefaultLayerLimit}
}

type options struct {
	plainHTTP    map[string]bool
	allow        []string
	allowPrivate bool
	timeout      time.Duration
	retry        RetryPolicy
	limits       Limits
	tar          TarLimits
	wrap         func(http.RoundTripper) http.RoundTripper
	rt           http.RoundTripper
	keychain     authn.Keychain
	sleep        func(context.Context, time.Duration) error
	now          func() time.Time
	perHost      int
	maxReferrers int
	userAgent    string
	budget       *budget.Budget
}

// Option configures a Client. Each option validates its own argument; a
// later option overrides an earlier one, except that host lists accumulate.
type Option func(*options) error

// WithPlainHTTP names hosts ("host" or "host:port", as written in pointers)
// that are reached over plain http (registry.plainHTTP). Every other host is
// reached over https only; a redirect to http on another host is refused.
func WithPlainHTTP(hosts ...string) Option {
	return func(o *options) error {
		for _, h := range hosts {
			h = strings.ToLower(strings.TrimSpace(h))
			if h == "" || strings.ContainsAny(h, "/ ") {
				return fmt.Errorf("plain-http host %q: want host or host:port", h)
			}
			o.plainHTTP[h] = true
		}
		return nil
	}
}

// WithAllowedHosts restricts the registry hosts pointers may name to those
// matching one of the globs (registry.allow; path.Match syntax, matched
// case-insensitively). A glob containing ':' is matched against host:port,
// any other against the host name alone. No globs (the default) allows any
// host, subject to the private-network rule. The allow-list applies to the
// host a pointer names; redirects it issues (blob CDNs) are followed,
// subject to the scheme and private-network rules.
func WithAllowedHosts(globs ...string) Option {
	return func(o *options) error {
		for _, g := range globs {
			g = strings.ToLower(strings.TrimSpace(g))
			if g == "" {
				return errors.New("allowed host glob: empty")
			}
			if _, err := path.Match(g, ""); err != nil {
				return fmt.Errorf("allowed host glob %q: %w", g, err)
			}
			o.allow = append(o.allow, g)
		}
		return nil
	}
}

// AllowPrivateNetworksUnsafe lets the client connect to loopback,
// link-local, private (RFC 1918), unique-local, CGNAT and unspecified
// addresses (registry.allowPrivateNetworks). Off by default: a pointer must
// not be able to make the auditor probe its own network.
func AllowPrivateNetworksUnsafe(allow bool) Option {
	return func(o *options) error {
		o.allowPrivate = allow
		return nil
	}
}

// WithTimeout bounds each HTTP request, body included (registry.timeout);
// default 30 s. A request that runs out of time is transient and retried.
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("timeout %v: must be positive", d)
		}
		o.timeout = d
		return nil
	}
}

// WithRetry sets the retry policy; see RetryPolicy.
func WithRetry(p RetryPolicy) Option {
	return func(o *options) error {
		switch {
		case p.MaxAttempts < 1:
			return fmt.Errorf("retry: MaxAttempts %d: must be at least 1", p.MaxAttempts)
		case p.BaseBackoff < 0 || p.MaxBackoff < 0 || p.MaxRetryAfter < 0:
			return errors.New("retry: negative duration")
		case p.MaxBackoff < p.BaseBackoff:
			return fmt.Errorf("retry: MaxBackoff %v below BaseBackoff %v", p.MaxBackoff, p.BaseBackoff)
		case p.Jitter < 0 || p.Jitter > 1:
			return fmt.Errorf("retry: Jitter %v: must be in [0,1]", p.Jitter)
		}
		o.retry = p
		return nil
	}
}

// WithLimits sets the size limits; zero fields keep their defaults.
func WithLimits(l Limits) Option {
	return func(o *options) error {
		if l.Manifest < 0 || l.Bundle < 0 || l.Layer < 0 {
			return errors.New("limits: negative size")
		}
		d := DefaultLimits()
		if l.Manifest == 0 {
			l.Manifest = d.Manifest
		}
		if l.Bundle == 0 {
			l.Bundle = d.Bundle
		}
		if l.Layer == 0 {
			l.Layer = d.Layer
		}
		o.limits = l
		return nil
	}
}

// WithTransport replaces the network transport (for tests). The
// private-network check then only sees literal IP hosts, since dialing is
// rt's business; the allow-list and scheme rules still apply.
func WithTransport(rt http.RoundTripper) Option {
	return func(o *options) error {
		if rt == nil {
			return errors.New("transport: nil")
		}
		o.rt = rt
		return nil
	}
}

// WithKeychain sets where credentials come from. Default:
// authn.DefaultKeychain (Docker config and credential helpers), falling back
// to anonymous when it has nothing or fails.
func WithKeychain(kc authn.Keychain) Option {
	return func(o *options) error {
		if kc == nil {
			return errors.New("keychain: nil")
		}
		o.keychain = kc
		return nil
	}
}

// WithSleep replaces the backoff sleep (for tests). sleep must return
// ctx.Err() if ctx ends first.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(o *options) error {
		if sleep == nil {
			return errors.New("sleep: nil")
		}
		o.sleep = sleep
		return nil
	}
}

// WithClock replaces time.Now, used to read Retry-After HTTP dates.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return errors.New("clock: nil")
		}
		o.now = now
		return nil
	}
}

// WithPerHostLimit caps concurrent requests to any one host (politeness);
// 0, the default, means no cap. Requests wait for a slot; a canceled
// context stops the wait.
func WithPerHostLimit(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("per-host limit %d: must not be negative", n)
		}
		o.perHost = n
		return nil
	}
}

// WithMaxReferrers bounds how many candidate referrer manifests
// FindSigstoreBundle fetches for one subject; default 32.
func WithMaxReferrers(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("max referrers %d: must be at least 1", n)
		}
		o.maxReferrers = n
		return nil
	}
}

// WithUserAgent sets the User-Agent header sent to registries.
func WithUserAgent(ua string) Option {
	return func(o *options) error {
		o.userAgent = ua
		return nil
	}
}

// WithTarLimits bounds the extraction of the summary layer in Fetch; zero
// fields take the ExtractLayer defaults.
func WithTarLimits(l TarLimits) Option {
	return func(o *options) error {
		if l.MaxEntries < 0 || l.MaxEntrySize < 0 || l.MaxTotalSize < 0 {
			return errors.New("registry: tar limits must not be negative")
		}
		o.tar = l
		return nil
	}
}

// WithTransportWrapper wraps the network transport (under the host policy,
// over the private-network dial check) — for request metrics. Unlike
// WithTransport it keeps every safety of the default transport.
func WithTransportWrapper(wrap func(http.RoundTripper) http.RoundTripper) Option {
	return func(o *options) error {
		o.wrap = wrap
		return nil
	}
}

// WithBudget makes every body the client reads — manifests, indexes,
// signature bundles, and the files of a summary layer that verification
// reads in full — hold its size of b while it is in memory, waiting when b
// is spent (issue 15: one memory budget for the run). A summary layer
// itself is never held: Files extracts it as it arrives. Default: no
// budget, each read bounded only by Limits.
func WithBudget(b *budget.Budget) Option {
	return func(o *options) error {
		o.budget = b
		return nil
	}
}

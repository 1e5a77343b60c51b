package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// MaxTrustedRootSize bounds a trusted_root.json, in bytes. Sigstore's
// public-good root is about 7 KiB.
const MaxTrustedRootSize = 4 << 20

// TrustedRootTarget is the TUF target holding Sigstore's trusted root.
const TrustedRootTarget = "trusted_root.json"

// TrustedRoot is a parsed trusted_root.json and the name it is known by.
type TrustedRoot struct {
	name string
	raw  []byte
	tr   *root.TrustedRoot
}

// Name is "sha256:<hex>" of the trusted_root.json bytes: it changes exactly
// when the trust material does (audit.Verifier.TrustRoot).
func (t *TrustedRoot) Name() string { return t.name }

// JSON returns the trusted_root.json bytes the root was parsed from.
func (t *TrustedRoot) JSON() []byte { return append([]byte(nil), t.raw...) }

// Material is the sigstore-go trusted material.
func (t *TrustedRoot) Material() *root.TrustedRoot { return t.tr }

// ParseTrustedRoot parses trusted_root.json bytes.
func ParseTrustedRoot(data []byte) (*TrustedRoot, error) {
	if len(data) > MaxTrustedRootSize {
		return nil, fmt.Errorf("trusted root: %d bytes, limit is %d", len(data), MaxTrustedRootSize)
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	if len(tr.FulcioCertificateAuthorities()) == 0 {
		return nil, errors.New("trusted root: no certificate authorities")
	}
	if len(tr.RekorLogs()) == 0 {
		return nil, errors.New("trusted root: no transparency logs")
	}
	sum := sha256.Sum256(data)
	return &TrustedRoot{
		name: "sha256:" + hex.EncodeToString(sum[:]),
		raw:  append([]byte(nil), data...),
		tr:   tr,
	}, nil
}

// LoadTrustedRoot reads and parses a trusted_root.json file
// (trust.trustedRoot).
func LoadTrustedRoot(path string) (*TrustedRoot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load trusted root: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxTrustedRootSize+1))
	if err != nil {
		return nil, fmt.Errorf("load trusted root %s: %w", path, err)
	}
	tr, err := ParseTrustedRoot(data)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return tr, nil
}

// TUFOption configures PublicGood.
type TUFOption func(*tufConfig) error

type tufConfig struct {
	mirror  string
	root    []byte
	timeout time.Duration
	client  *http.Client
}

// WithMirror sets the TUF repository URL. Default tuf.DefaultMirror
// (https://tuf-repo-cdn.sigstore.dev).
func WithMirror(u string) TUFOption {
	return func(c *tufConfig) error {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return fmt.Errorf("tuf mirror %q: not an http(s) URL", u)
		}
		c.mirror = u
		return nil
	}
}

// WithTUFRoot sets the TUF root.json trust anchor. Default: the public-good
// root embedded in sigstore-go.
func WithTUFRoot(rootJSON []byte) TUFOption {
	return func(c *tufConfig) error {
		if len(rootJSON) == 0 {
			return errors.New("tuf root: empty")
		}
		c.root = rootJSON
		return nil
	}
}

// WithTUFTimeout bounds each TUF download. Default 30 s.
func WithTUFTimeout(d time.Duration) TUFOption {
	return func(c *tufConfig) error {
		if d <= 0 {
			return fmt.Errorf("tuf timeout %v: must be positive", d)
		}
		c.timeout = d
		return nil
	}
}

// WithTUFHTTPClient sets the HTTP client of TUF downloads (proxies, test
// transports). Default: a client with the standard transport.
func WithTUFHTTPClient(hc *http.Client) TUFOption {
	return func(c *tufConfig) error {
		if hc == nil {
			return errors.New("tuf http client: nil")
		}
		c.client = hc
		return nil
	}
}

// ErrNoTrustedRoot: PublicGood could reach neither the TUF mirror nor a
// usable cache.
var ErrNoTrustedRoot = errors.New("no trusted root")

// PublicGood returns Sigstore's public-good trusted root through TUF,
// starting from the TUF root embedded in sigstore-go, with its metadata
// cached under cacheDir (created if needed). It refreshes from the mirror
// when it can; when the mirror is unreachable it uses the cache as long as
// the cached metadata has not expired. With neither, it returns an error
// wrapping ErrNoTrustedRoot that says what to do.
func PublicGood(ctx context.Context, cacheDir string, opts ...TUFOption) (*TrustedRoot, error) {
	cfg := tufConfig{mirror: tuf.DefaultMirror, root: tuf.DefaultRoot(), timeout: 30 * time.Second}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("public-good trusted root: %w", err)
		}
	}
	if cacheDir == "" {
		return nil, errors.New("public-good trusted root: no cache directory")
	}
	cachePath := filepath.Join(cacheDir, "tuf")
	if err := os.MkdirAll(cachePath, 0o700); err != nil {
		return nil, fmt.Errorf("public-good trusted root: %w", err)
	}
	hc := cfg.client
	if hc == nil {
		hc = &http.Client{}
	}
	base := tuf.Options{
		Root:              cfg.root,
		CachePath:         cachePath,
		RepositoryBaseURL: cfg.mirror,
		Context:           ctx,
	}

	online := base
	online.Fetcher = &ctxFetcher{ctx: ctx, client: hc, timeout: cfg.timeout}
	data, onlineErr := fetchTrustedRoot(&online)
	if onlineErr == nil {
		return ParseTrustedRoot(data)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("public-good trusted root: %w", err)
	}

	// Offline: the cached metadata, as long as it is still valid; a fetcher
	// that refuses every download keeps this from touching the network.
	offline := base
	offline.ForceCache = true
	offline.Fetcher = offlineFetcher{}
	data, cacheErr := fetchTrustedRoot(&offline)
	if cacheErr == nil {
		return ParseTrustedRoot(data)
	}
	return nil, fmt.Errorf("public-good trusted root: %w: TUF mirror %s unreachable (%v) and no valid cache in %s (%v); "+
		"run once with network access to fill the cache, or configure trust.trustedRoot with a trusted_root.json",
		ErrNoTrustedRoot, cfg.mirror, onlineErr, cachePath, cacheErr)
}

func fetchTrustedRoot(opts *tuf.Options) ([]byte, error) {
	c, err := tuf.New(opts)
	if err != nil {
		return nil, err
	}
	return c.GetTarget(TrustedRootTarget)
}

// ctxFetcher downloads TUF metadata with the caller's context and a
// per-download timeout; go-tuf's default fetcher has neither.
type ctxFetcher struct {
	ctx     context.Context // PublicGood's, for its duration only
	client  *http.Client
	timeout time.Duration
}

func (f *ctxFetcher) DownloadFile(u string, maxLength int64, _ time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(f.ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "evidence-auditd")
	res, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		// go-tuf reads a 404 on the next root version as "no newer root".
		return nil, &metadata.ErrDownloadHTTP{StatusCode: res.StatusCode, URL: u}
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, maxLength+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("GET %s: more than %d bytes", u, maxLength)}
	}
	return data, nil
}

type offlineFetcher struct{}

func (offlineFetcher) DownloadFile(u string, _ int64, _ time.Duration) ([]byte, error) {
	return nil, fmt.Errorf("offline: not downloading %s", u)
}

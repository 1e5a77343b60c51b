package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/atomicfile"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/fulcio"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/registry"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/rekorv2"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/signer"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/tlog"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/tsa"
)

// File and directory names inside a World's directory.
const (
	TrustedRootFile = "trusted_root.json"
	RepoDirName     = "repo"
	ConfigFile      = "evidence-auditd.yaml"
)

// World is a complete private evidence world in one directory: a Fulcio-like
// CA, a Rekor v1 compatible transparency log, a Rekor v2 (tile) log and an
// RFC 3161 timestamp authority, each served over HTTP on loopback, an OIDC
// issuer and a Fulcio-like front to the CA for keyless signing (package
// fulcio), an in-process OCI registry, the trusted_root.json naming the CA, both logs
// and the timestamp authority, and (after Build) an AICR git repository
// under RepoDir.
//
// Create it with New (which starts nothing), then Start; Close stops the
// servers and the registry. Everything lives in memory except the files
// under the directory, so a World does not survive its process.
type World struct {
	dir    string
	opts   options
	optErr error

	mu       sync.Mutex
	ca       *ca.CA
	log      *tlog.Log
	v2       *rekorv2.Log
	tsa      *tsa.TSA
	signer   *signer.Signer
	reg      *registry.Registry
	pub      *publish.Publisher
	servers  []*server // the v1 log, the v2 log, the TSA, the OIDC issuer, Fulcio
	logURL   string
	v2URL    string
	tsaURL   string
	issuer   *fulcio.Issuer
	fulURL   string
	started  bool
	closed   bool
	repoUsed bool
}

// Option configures New.
type Option func(*options) error

type options struct {
	referrersAPI bool
	leafReuse    time.Duration
	seed         []byte
	concurrency  int
}

// WithReferrersAPI makes the registry serve the OCI 1.1 Referrers API (true,
// the default) or not (false: referrers are found through the sha256-<hex>
// tag schema, as with CNCF distribution 2.8).
func WithReferrersAPI(enabled bool) Option {
	return func(o *options) error { o.referrersAPI = enabled; return nil }
}

// WithLeafReuse lets signatures by one identity whose signing times fall in
// the same window share one leaf certificate (see signer.WithLeafReuse).
// Zero, the default, issues a fresh certificate per signature, as Fulcio
// does; ScaleCases groups signing times so that a window of a few minutes
// makes generating thousands of bundles several times faster.
func WithLeafReuse(window time.Duration) Option {
	return func(o *options) error {
		if window < 0 || window > 5*time.Minute {
			return fmt.Errorf("leaf reuse window %s: want 0..5m", window)
		}
		o.leafReuse = window
		return nil
	}
}

// WithSeed derives the CA's and the log's keys from seed, so that a world
// built twice from one seed has the same keys and log ID (certificates and
// signatures still differ: ECDSA signing is randomized). Empty, the default,
// means random keys.
func WithSeed(seed []byte) Option {
	return func(o *options) error { o.seed = append([]byte(nil), seed...); return nil }
}

// WithConcurrency bounds how many cases Build publishes at once. Default
// 4 (the work is CPU-bound signing plus loopback round trips).
func WithConcurrency(n int) Option {
	return func(o *options) error {
		if n < 1 || n > 256 {
			return fmt.Errorf("concurrency %d: want 1..256", n)
		}
		o.concurrency = n
		return nil
	}
}

// New returns a World rooted at dir (created by Start if missing). It starts
// nothing; an invalid option is reported by Start.
func New(dir string, opts ...Option) *World {
	w := &World{dir: dir, opts: options{referrersAPI: true, concurrency: 4}}
	for _, o := range opts {
		if err := o(&w.opts); err != nil && w.optErr == nil {
			w.optErr = err
		}
	}
	return w
}

// Start creates the CA, the Rekor v1 log, the Rekor v2 log and the
// timestamp authority (each served on 127.0.0.1, random port), the signer,
// the registry, and writes TrustedRootPath. The trusted root names the v1
// log at LogURL, the v2 log at RekorV2URL and the TSA at TSAURL. Start may
// be called once.
func (w *World) Start(ctx context.Context) (err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.optErr != nil {
		return fmt.Errorf("start sandbox: %w", w.optErr)
	}
	if w.started {
		return errors.New("start sandbox: already started")
	}
	w.started = true
	defer func() {
		if err != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = w.closeLocked(cctx)
		}
	}()
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return fmt.Errorf("start sandbox: %w", err)
	}

	var caOpts []ca.Option
	var logOpts []tlog.Option
	v2Opts := []rekorv2.Option{rekorv2.WithOrigin(loopback)}
	var tsaOpts []tsa.Option
	if len(w.opts.seed) > 0 {
		caOpts = append(caOpts, ca.WithSeed(w.opts.seed))
		logOpts = append(logOpts, tlog.WithSeed(w.opts.seed))
		v2Opts = append(v2Opts, rekorv2.WithSeed(w.opts.seed))
		tsaOpts = append(tsaOpts, tsa.WithSeed(w.opts.seed))
	}
	if w.ca, err = ca.New(caOpts...); err != nil {
		return fmt.Errorf("start sandbox: ca: %w", err)
	}
	if w.log, err = tlog.New(logOpts...); err != nil {
		return fmt.Errorf("start sandbox: log: %w", err)
	}
	// The Rekor v2 log's checkpoint origin is the host it is reached at
	// (127.0.0.1), as rekor-tiles runs with --hostname set to it.
	if w.v2, err = rekorv2.New(v2Opts...); err != nil {
		return fmt.Errorf("start sandbox: rekor v2 log: %w", err)
	}
	if w.tsa, err = tsa.New(tsaOpts...); err != nil {
		return fmt.Errorf("start sandbox: timestamp authority: %w", err)
	}
	for _, s := range []struct {
		name string
		h    http.Handler
		url  *string
	}{{"log", w.log.Handler(), &w.logURL}, {"rekor v2 log", w.v2.Handler(), &w.v2URL}, {"timestamp authority", w.tsa.Handler(), &w.tsaURL}} {
		srv, err := serve(ctx, s.h)
		if err != nil {
			return fmt.Errorf("start sandbox: %s: %w", s.name, err)
		}
		w.servers = append(w.servers, srv)
		*s.url = srv.url
	}

	// Keyless signing: an OIDC issuer and a Fulcio front to the CA.
	if w.issuer, err = fulcio.NewIssuer(); err != nil {
		return fmt.Errorf("start sandbox: oidc issuer: %w", err)
	}
	isrv, err := serve(ctx, w.issuer.Handler())
	if err != nil {
		return fmt.Errorf("start sandbox: oidc issuer: %w", err)
	}
	w.servers = append(w.servers, isrv)
	w.issuer.SetURL(isrv.url)
	fsrv, err := serve(ctx, fulcio.New(w.ca, isrv.url).Handler())
	if err != nil {
		return fmt.Errorf("start sandbox: fulcio: %w", err)
	}
	w.servers = append(w.servers, fsrv)
	w.fulURL = fsrv.url

	sopts := []signer.Option{signer.WithLogURL(w.logURL), signer.WithRekorV2(w.v2, w.v2URL), signer.WithTSA(w.tsa, w.tsaURL)}
	if w.opts.leafReuse > 0 {
		sopts = append(sopts, signer.WithLeafReuse(w.opts.leafReuse))
	}
	if w.signer, err = signer.New(w.ca, w.log, sopts...); err != nil {
		return fmt.Errorf("start sandbox: signer: %w", err)
	}

	w.reg = registry.New(registry.WithReferrersAPI(w.opts.referrersAPI))
	if err := w.reg.Start(ctx); err != nil {
		w.reg = nil
		return fmt.Errorf("start sandbox: %w", err)
	}
	w.pub = publish.NewPublisher()

	tr, err := w.signer.TrustedRootJSON()
	if err != nil {
		return fmt.Errorf("start sandbox: trusted root: %w", err)
	}
	if err := atomicfile.WriteBytes(w.TrustedRootPath(), 0o644, tr); err != nil {
		return fmt.Errorf("start sandbox: %w", err)
	}
	return nil
}

// Close stops the servers and the registry, waiting for in-flight
// requests until ctx is done. The files under Dir stay. Close is idempotent.
func (w *World) Close(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closeLocked(ctx)
}

func (w *World) closeLocked(ctx context.Context) error {
	if w.closed {
		return nil
	}
	w.closed = true
	var errs []error
	for _, srv := range w.servers {
		if err := srv.close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if w.reg != nil {
		if err := w.reg.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close registry: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Dir returns the world's directory.
func (w *World) Dir() string { return w.dir }

// RegistryHost returns "127.0.0.1:PORT", the host part of every OCI reference
// the world publishes; empty before Start.
func (w *World) RegistryHost() string {
	if w.reg == nil {
		return ""
	}
	return w.reg.Host()
}

// Registry returns the in-process OCI registry (faults, deletion, request
// counts); nil before Start.
func (w *World) Registry() *registry.Registry { return w.reg }

// LogURL returns the transparency log's base URL ("http://127.0.0.1:PORT"),
// the trusted root's baseUrl and what rekor.url must name; empty before Start.
func (w *World) LogURL() string { return w.logURL }

// Log returns the Rekor v1 transparency log (test hooks: SetStatus,
// Rewind); nil before Start.
func (w *World) Log() *tlog.Log { return w.log }

// RekorV2 returns the Rekor v2 log (test hooks: SetStatus, Rewind,
// ForgeCheckpoint); nil before Start.
func (w *World) RekorV2() *rekorv2.Log { return w.v2 }

// RekorV2URL returns the Rekor v2 log's base URL ("http://127.0.0.1:PORT"),
// named in the trusted root; its host is the log's checkpoint origin.
func (w *World) RekorV2URL() string { return w.v2URL }

// TSA returns the RFC 3161 timestamp authority; nil before Start.
func (w *World) TSA() *tsa.TSA { return w.tsa }

// TSAURL returns the timestamp authority's base URL (POST
// /api/v1/timestamp); empty before Start.
func (w *World) TSAURL() string { return w.tsaURL }

// OIDCIssuer returns the OIDC issuer whose tokens FulcioURL certifies
// (Token, SetActions); nil before Start.
func (w *World) OIDCIssuer() *fulcio.Issuer { return w.issuer }

// FulcioURL returns the base URL of the Fulcio-like front to the CA
// ("http://127.0.0.1:PORT"), for keyless signing; "" before Start.
func (w *World) FulcioURL() string { return w.fulURL }

// Signer returns the signer (CA and log composed); nil before Start.
func (w *World) Signer() *signer.Signer { return w.signer }

// CA returns the certificate authority; nil before Start.
func (w *World) CA() *ca.CA { return w.ca }

// TrustedRootPath returns <dir>/trusted_root.json, written by Start.
func (w *World) TrustedRootPath() string { return filepath.Join(w.dir, TrustedRootFile) }

// RepoDir returns <dir>/repo, where Build generates the git repository.
func (w *World) RepoDir() string { return filepath.Join(w.dir, RepoDirName) }

// ConfigPath returns <dir>/evidence-auditd.yaml, the usual WriteConfig path.
func (w *World) ConfigPath() string { return filepath.Join(w.dir, ConfigFile) }

// loopback is where every server of a world listens.
const loopback = "127.0.0.1"

// server is one of the world's HTTP servers on loopback.
type server struct {
	url  string
	srv  *http.Server
	done chan struct{}
}

func serve(ctx context.Context, h http.Handler) (*server, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", loopback+":0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &server{
		url:  "http://" + ln.Addr().String(),
		srv:  &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln) // ends with http.ErrServerClosed on close
	}()
	return s, nil
}

func (s *server) close(ctx context.Context) error {
	var err error
	if err = s.srv.Shutdown(ctx); err != nil {
		err = fmt.Errorf("close server %s: %w", s.url, err)
		_ = s.srv.Close()
	}
	<-s.done
	return err
}

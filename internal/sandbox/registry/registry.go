package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// Option configures a Registry; see New.
type Option func(*options)

type options struct {
	referrers bool
	logOut    io.Writer
}

// WithReferrersAPI enables (true) or disables (false, the default) the OCI
// 1.1 Referrers API (GET /v2/<name>/referrers/<digest>). Without it clients
// must use the sha256-<hex> tag schema, as with CNCF distribution 2.8.
func WithReferrersAPI(enabled bool) Option {
	return func(o *options) { o.referrers = enabled }
}

// WithRequestLog sends pkg/registry's one-line-per-request log to w.
// The default discards it.
func WithRequestLog(w io.Writer) Option {
	return func(o *options) { o.logOut = w }
}

// Registry is an in-process OCI registry on 127.0.0.1. Create it with New,
// then Start; Close stops it. All methods are safe for concurrent use.
type Registry struct {
	opts    options
	inner   http.Handler // the real pkg/registry handler
	closing chan struct{}

	mu     sync.Mutex
	faults map[string]*activeFault
	counts map[string]*Counts
	// referrers indexes manifests with a subject; see referrers.go.
	referrers referrersIndex

	newConns map[net.Conn]struct{} // connections that have not sent a request yet

	srv       *http.Server
	ln        net.Listener
	serveDone chan struct{}
	serveErr  error
	closeOnce sync.Once
}

// New returns a Registry that is not yet listening; it starts nothing.
func New(opts ...Option) *Registry {
	o := options{logOut: io.Discard}
	for _, opt := range opts {
		opt(&o)
	}
	return &Registry{
		opts: o,
		inner: ggcrregistry.New(
			ggcrregistry.Logger(log.New(o.logOut, "registry: ", log.LstdFlags)),
			ggcrregistry.WithReferrersSupport(o.referrers),
		),
		closing: make(chan struct{}),
		faults:  map[string]*activeFault{},
		counts:  map[string]*Counts{},

		referrers: newReferrersIndex(),

		newConns: map[net.Conn]struct{}{},
	}
}

// Start listens on 127.0.0.1 on a free port and serves in the background
// until Close.
func (r *Registry) Start(ctx context.Context) error {
	if r.srv != nil {
		return errors.New("start registry: already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start registry: %w", err)
	}
	r.ln = ln
	r.srv = &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		ConnState:         r.connState,
	}
	r.serveDone = make(chan struct{})
	go func() {
		defer close(r.serveDone)
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.serveErr = err
		}
	}()
	return nil
}

// Close stops accepting requests, aborts injected delays, waits for
// in-flight requests until ctx is done, then closes what is left.
func (r *Registry) Close(ctx context.Context) error {
	if r.srv == nil {
		return nil
	}
	var err error
	r.closeOnce.Do(func() {
		r.mu.Lock()
		close(r.closing)
		for c := range r.newConns {
			_ = c.Close()
		}
		r.mu.Unlock()
		if serr := r.srv.Shutdown(ctx); serr != nil {
			_ = r.srv.Close()
			err = fmt.Errorf("close registry: %w", serr)
		}
		<-r.serveDone
		if err == nil && r.serveErr != nil {
			err = fmt.Errorf("close registry: serve: %w", r.serveErr)
		}
	})
	return err
}

// connState closes connections that have not sent a request once Close has
// begun. http.Server.Shutdown would wait five seconds for them: clients dial
// spare connections they may never use.
func (r *Registry) connState(c net.Conn, s http.ConnState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch s {
	case http.StateNew:
		select {
		case <-r.closing:
			_ = c.Close()
		default:
			r.newConns[c] = struct{}{}
		}
	default:
		delete(r.newConns, c)
	}
}

// Host returns "127.0.0.1:PORT", the registry part of references; empty
// before Start.
func (r *Registry) Host() string {
	if r.ln == nil {
		return ""
	}
	return r.ln.Addr().String()
}

// URL returns "http://127.0.0.1:PORT".
func (r *Registry) URL() string { return "http://" + r.Host() }

// ReferrersAPI reports whether the registry serves the OCI 1.1 Referrers API.
func (r *Registry) ReferrersAPI() bool { return r.opts.referrers }

// ServeHTTP counts the request, applies any fault for its repository, and
// otherwise hands it to pkg/registry.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	repo, kind := route(req.URL.Path)
	r.count(repo, kind)
	f, ok := r.takeFault(req, repo, kind)
	switch {
	case !ok:
		r.serve(w, req, repo, kind)
	case r.serveFault(w, req, f):
	case f.mangles():
		serveMangled(w, req, f, func(w http.ResponseWriter) { r.serve(w, req, repo, kind) })
	default:
		r.serve(w, req, repo, kind)
	}
}

// serve answers a request as the registry does without faults.
func (r *Registry) serve(w http.ResponseWriter, req *http.Request, repo string, kind Endpoint) {
	switch {
	case kind == EndpointReferrers && r.opts.referrers:
		r.serveReferrers(w, req, repo)
	case kind == EndpointManifests && req.Method == http.MethodPut:
		r.putManifest(w, req, repo)
	case kind == EndpointManifests && req.Method == http.MethodDelete:
		sw := &statusWriter{ResponseWriter: w}
		r.inner.ServeHTTP(sw, req)
		if target := req.URL.Path[strings.LastIndexByte(req.URL.Path, '/')+1:]; sw.status == http.StatusAccepted && validDigest(target) {
			r.forgetManifest(repo, target)
		}
	default:
		r.inner.ServeHTTP(w, req)
	}
}

// Endpoint is the kind of an OCI distribution request: the path segment
// after the repository name.
type Endpoint string

// Endpoints of the OCI distribution API. EndpointOther is the version check
// (/v2/), the catalog and anything unrecognised.
const (
	EndpointOther     Endpoint = ""
	EndpointManifests Endpoint = "manifests"
	EndpointBlobs     Endpoint = "blobs" // including uploads
	EndpointTags      Endpoint = "tags"
	EndpointReferrers Endpoint = "referrers"
)

// route splits an OCI distribution path into repository name and endpoint
// kind. The version check and the catalog have repository "".
func route(path string) (repo string, kind Endpoint) {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok || rest == "" {
		return "", EndpointOther
	}
	seg := strings.Split(rest, "/")
	n := len(seg)
	// /v2/<name>/blobs/uploads/ and /v2/<name>/blobs/uploads/<id>
	if n >= 4 && seg[n-3] == "blobs" && seg[n-2] == "uploads" {
		return strings.Join(seg[:n-3], "/"), EndpointBlobs
	}
	if n >= 3 {
		name := strings.Join(seg[:n-2], "/")
		switch seg[n-2] {
		case "manifests":
			return name, EndpointManifests
		case "blobs":
			return name, EndpointBlobs
		case "tags":
			return name, EndpointTags
		case "referrers":
			return name, EndpointReferrers
		}
	}
	return "", EndpointOther
}

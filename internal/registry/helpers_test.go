package registry_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/evidence-auditd/evidence-auditd/internal/registry"
)

// world is an in-process go-containerregistry registry behind httptest,
// with a fault-injecting middleware in front of it.
type world struct {
	registry http.Handler // the registry without faults
	srv      *httptest.Server
	host     string
	faults   *faults
}

func newWorld(tb testing.TB, referrers bool) *world {
	tb.Helper()
	f := &faults{}
	h := ggcr.New(ggcr.Logger(nilLogger()), ggcr.WithReferrersSupport(referrers))
	srv := httptest.NewServer(f.wrap(h))
	tb.Cleanup(srv.Close)
	return &world{registry: h, srv: srv, host: strings.TrimPrefix(srv.URL, "http://"), faults: f}
}

// modes runs fn against a registry with and without the Referrers API.
func modes(t *testing.T, fn func(t *testing.T, w *world)) {
	for _, referrers := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrers=%v", referrers), func(t *testing.T) {
			fn(t, newWorld(t, referrers))
		})
	}
}

// sleeps records backoff delays instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

var testRetry = registry.RetryPolicy{
	MaxAttempts:   3,
	BaseBackoff:   10 * time.Millisecond,
	MaxBackoff:    40 * time.Millisecond,
	Jitter:        0,
	MaxRetryAfter: 30 * time.Second,
}

// client returns a client for w that never really sleeps.
func (w *world) client(tb testing.TB, opts ...registry.Option) (*registry.Client, *sleeps) {
	tb.Helper()
	s := &sleeps{}
	base := []registry.Option{
		registry.WithPlainHTTP(w.host),
		registry.AllowPrivateNetworksUnsafe(true),
		registry.WithRetry(testRetry),
		registry.WithSleep(s.sleep),
		registry.WithTimeout(5 * time.Second),
	}
	c, err := registry.New(append(base, opts...)...)
	if err != nil {
		tb.Fatalf("registry.New: %v", err)
	}
	return c, s
}

func (w *world) repo(tb testing.TB, repo string) name.Repository {
	tb.Helper()
	r, err := name.NewRepository(w.host + "/" + repo)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

type tarEntry struct {
	name     string
	body     string
	typ      byte
	linkname string
	size     int64 // header size override when > 0
}

func tarGz(tb testing.TB, entries ...tarEntry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Mode: 0o644, Linkname: e.linkname, ModTime: time.Unix(0, 0)}
		if typ == tar.TypeXGlobalHeader {
			h = &tar.Header{Typeflag: typ, PAXRecords: map[string]string{"comment": "global"}}
		}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			tb.Fatalf("tar header %q: %v", e.name, err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func bundleFiles(recipe string) []tarEntry {
	return []tarEntry{
		{name: "recipe.yaml", body: "name: " + recipe + "\n"},
		{name: "snapshot.yaml", body: "snapshot: {}\n"},
		{name: "bom.cdx.json", body: `{"bomFormat":"CycloneDX"}`},
		{name: "ctrf/deployment.json", body: `{"results":{}}`},
		{name: "manifest.json", body: `{"schemaVersion":"1.0.0","files":[]}`},
		{name: "statement.intoto.json", body: `{"_type":"https://in-toto.io/Statement/v1"}`},
	}
}

// pushed is a summary bundle in the registry.
type pushed struct {
	digest      string
	layerDigest string
	desc        v1.Descriptor
	layer       []byte
}

// pushSummary pushes a one-layer OCI artifact holding entries, tagged tag.
func (w *world) pushSummary(tb testing.TB, repo, tag string, entries ...tarEntry) pushed {
	tb.Helper()
	layerBytes := tarGz(tb, entries...)
	img, err := mutate.AppendLayers(empty.Image, static.NewLayer(layerBytes, types.OCILayer))
	if err != nil {
		tb.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, "application/vnd.aicr.evidence.config.v1+json")
	ref := w.repo(tb, repo).Tag(tag)
	if err := remote.Write(ref, img); err != nil {
		tb.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	raw, _ := img.RawManifest()
	return pushed{
		digest:      d.String(),
		layerDigest: fmt.Sprintf("sha256:%x", sha256.Sum256(layerBytes)),
		desc:        v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: d, Size: int64(len(raw))},
		layer:       layerBytes,
	}
}

// rawManifest is a remote.Taggable for hand-written manifests.
type rawManifest struct {
	b  []byte
	mt types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.b, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

func blobDesc(mt string, b []byte) map[string]any {
	return map[string]any{"mediaType": mt, "digest": fmt.Sprintf("sha256:%x", sha256.Sum256(b)), "size": len(b)}
}

// pushReferrer pushes a hand-written OCI 1.1 artifact manifest (as cosign
// does for bundles: artifactType set, empty config) referring to subject,
// with one layer per (mediaType, body) pair. It returns the manifest digest.
func (w *world) pushReferrer(tb testing.TB, repo string, subject v1.Descriptor, artifactType string, annotations map[string]string, layers ...[2]string) string {
	tb.Helper()
	r := w.repo(tb, repo)
	empty := []byte("{}")
	if err := remote.WriteLayer(r, static.NewLayer(empty, types.MediaType(registry.MediaTypeOCIEmpty))); err != nil {
		tb.Fatal(err)
	}
	var ls []any
	for _, l := range layers {
		if err := remote.WriteLayer(r, static.NewLayer([]byte(l[1]), types.MediaType(l[0]))); err != nil {
			tb.Fatal(err)
		}
		ls = append(ls, blobDesc(l[0], []byte(l[1])))
	}
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     registry.MediaTypeOCIManifest,
		"config":        blobDesc(registry.MediaTypeOCIEmpty, empty),
		"layers":        ls,
		"subject":       subject,
	}
	if artifactType != "" {
		m["artifactType"] = artifactType
	}
	if annotations != nil {
		m["annotations"] = annotations
	}
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	d := fmt.Sprintf("sha256:%x", sha256.Sum256(b))
	if err := remote.Put(r.Digest(d), rawManifest{b: b, mt: types.OCIManifestSchema1}); err != nil {
		tb.Fatalf("put referrer: %v", err)
	}
	return d
}

// pushImageReferrer pushes a referrer the go-containerregistry way:
// empty.Image, a config media type, layers, mutate.Subject.
func (w *world) pushImageReferrer(tb testing.TB, repo string, subject v1.Descriptor, configType, layerType, body string) string {
	tb.Helper()
	img, err := mutate.AppendLayers(empty.Image, static.NewLayer([]byte(body), types.MediaType(layerType)))
	if err != nil {
		tb.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.MediaType(configType))
	img = mutate.Subject(img, subject).(v1.Image)
	d, err := img.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	if err := remote.Write(w.repo(tb, repo).Digest(d.String()), img); err != nil {
		tb.Fatalf("push referrer: %v", err)
	}
	return d.String()
}

// faults injects failures in front of the registry and logs requests.
type faults struct {
	mu             sync.Mutex
	rules          []*rule
	log            []string
	delay          time.Duration // added to every request
	inflight, peak int
}

// setDelay delays every later request by d and restarts peakInflight.
func (f *faults) setDelay(d time.Duration) {
	f.mu.Lock()
	f.delay = d
	f.peak = f.inflight
	f.mu.Unlock()
}

// resetLog forgets the requests seen so far (pushes, for instance).
func (f *faults) resetLog() {
	f.mu.Lock()
	f.log = nil
	f.mu.Unlock()
}

// peakInflight is the most requests the registry ever served at once.
func (f *faults) peakInflight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.peak
}

type rule struct {
	method string
	path   *regexp.Regexp
	times  int // how many requests it hits; <0 forever
	act    func(w http.ResponseWriter, r *http.Request)
}

func (f *faults) add(method, pathRE string, times int, act func(w http.ResponseWriter, r *http.Request)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, &rule{method: method, path: regexp.MustCompile(pathRE), times: times, act: act})
}

func (f *faults) requests(method, pathRE string) int {
	re := regexp.MustCompile(pathRE)
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, l := range f.log {
		m, p, _ := strings.Cut(l, " ")
		if (method == "" || m == method) && re.MatchString(p) {
			n++
		}
	}
	return n
}

func (f *faults) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.inflight++
		f.peak = max(f.peak, f.inflight)
		delay := f.delay
		f.log = append(f.log, r.Method+" "+r.URL.Path)
		var act func(http.ResponseWriter, *http.Request)
		for _, ru := range f.rules {
			if ru.times != 0 && (ru.method == "" || ru.method == r.Method) && ru.path.MatchString(r.URL.Path) {
				if ru.times > 0 {
					ru.times--
				}
				act = ru.act
				break
			}
		}
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			f.inflight--
			f.mu.Unlock()
		}()
		time.Sleep(delay)
		if act != nil {
			act(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func status(code int, header ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
	}
}

func registryError(code int, ociCode string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"injected"}]}`, ociCode)
	}
}

// reset hijacks the connection and closes it with an RST.
func reset(w http.ResponseWriter, r *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

// hang answers only when the client gives up.
func hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

// serveBytes answers 200 with body.
func serveBytes(body []byte, contentType string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	}
}

func wantKind(tb testing.TB, err error, want registry.Kind) *registry.FetchError {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got nil error, want kind %v", want)
	}
	fe, ok := err.(*registry.FetchError)
	if !ok {
		tb.Fatalf("got %T %v, want *registry.FetchError", err, err)
	}
	if fe.Kind != want {
		tb.Fatalf("got kind %v (%v), want %v", fe.Kind, err, want)
	}
	if !errorsIs(err, want.Sentinel()) {
		tb.Fatalf("errors.Is(%v, %v) = false", err, want.Sentinel())
	}
	return fe
}

func sha256Hex(s string) string { return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(s))) }
func nilLogger() *log.Logger    { return log.New(io.Discard, "", 0) }

func errorsIs(err, target error) bool { return errors.Is(err, target) }

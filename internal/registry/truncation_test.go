package registry_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/registry"
	sbreg "github.com/evidence-auditd/evidence-auditd/internal/sandbox/registry"
)

// newSandboxWorld is a world whose registry is the sandbox's
// (go-containerregistry's pkg/registry with fault injection), still behind
// the test middleware that logs requests.
func newSandboxWorld(tb testing.TB, referrers bool) (*world, *sbreg.Registry) {
	tb.Helper()
	f := &faults{}
	sb := sbreg.New(sbreg.WithReferrersAPI(referrers))
	srv := httptest.NewServer(f.wrap(sb))
	tb.Cleanup(srv.Close)
	return &world{registry: sb, srv: srv, host: strings.TrimPrefix(srv.URL, "http://"), faults: f}, sb
}

// serveUnframed answers 200 with body and no Content-Length, closing the
// connection after it: only the bytes tell how long the body is.
func serveUnframed(body []byte) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Transfer-Encoding", "identity")
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	}
}

// truncationTarget is one response of the summary or signature fetch.
type truncationTarget struct {
	name     string
	endpoint sbreg.Endpoint
	ref      func(s signedSummary) string // the path's last segment
	find     bool                         // FindSigstoreBundle, else FetchSummary
	stream   bool                         // Fetch and Layer, the audit's path
}

var truncationTargets = []truncationTarget{
	{"manifest", sbreg.EndpointManifests, func(s signedSummary) string { return s.digest }, false, false},
	{"layer", sbreg.EndpointBlobs, func(s signedSummary) string { return s.layerDigest }, false, false},
	{"layer streamed", sbreg.EndpointBlobs, func(s signedSummary) string { return s.layerDigest }, false, true},
	{"referrers index", sbreg.EndpointReferrers, func(s signedSummary) string { return s.digest }, true, false},
	{"referrers tag index", sbreg.EndpointManifests, func(s signedSummary) string { return strings.Replace(s.digest, ":", "-", 1) }, true, false},
	{"bundle blob", sbreg.EndpointBlobs, func(s signedSummary) string { return s.bundleDigest }, true, false},
}

type signedSummary struct {
	pushed
	referrer, bundle, bundleDigest string
}

func pushSigned(tb testing.TB, w *world) signedSummary {
	tb.Helper()
	a := w.pushSummary(tb, "evidence/x", "v1", bundleFiles("a")...)
	bundle := `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{},"dsseEnvelope":{}}`
	ref := w.pushReferrer(tb, "evidence/x", a.desc, bundleV03,
		map[string]string{registry.AnnotationCreated: "2026-07-21T19:46:00Z"}, [2]string{bundleV03, bundle})
	return signedSummary{pushed: a, referrer: ref, bundle: bundle, bundleDigest: sha256Hex(bundle)}
}

// fetchTarget runs the fetch that reads tc's response.
func (tc truncationTarget) fetch(c *registry.Client, w *world, s signedSummary) error {
	ctx := context.Background()
	if tc.find {
		got, err := c.FindSigstoreBundle(ctx, w.host+"/evidence/x", s.digest)
		if err == nil && string(got.BundleJSON) != s.bundle {
			return &registry.FetchError{Op: "test", Err: errorString("wrong bundle " + string(got.BundleJSON))}
		}
		return err
	}
	if tc.stream {
		ev, err := c.Fetch(ctx, w.host+"/evidence/x", s.digest)
		if err != nil {
			return err
		}
		// The blob is kept too (as for the archive), so a retry must not
		// append to what a cut attempt kept.
		l, err := c.Layer(ctx, w.host+"/evidence/x", ev, true)
		switch {
		case err != nil:
		case string(l.Files["recipe.yaml"].Data) != "name: a\n":
			return &registry.FetchError{Op: "test", Err: errorString("wrong recipe.yaml " + string(l.Files["recipe.yaml"].Data))}
		case l.Blob == nil || !bytes.Equal(l.Blob.Data, s.layer) || l.Blob.Digest != s.layerDigest:
			return &registry.FetchError{Op: "test", Err: errorString("wrong layer blob kept")}
		}
		return err
	}
	got, err := c.FetchSummary(ctx, w.host+"/evidence/x", s.digest)
	if err == nil && !bytes.Equal(got.Layer, s.layer) {
		return &registry.FetchError{Op: "test", Err: errorString("wrong layer")}
	}
	return err
}

type errorString string

func (e errorString) Error() string { return string(e) }

// A response cut short — by a body that ends early without a Content-Length
// (close-delimited or chunked) or by a reset mid-body — is a transport
// failure: retried with backoff, then transient, never integrity. A cut
// that heals on retry is not a failure at all.
func TestTruncatedResponsesAreTransient(t *testing.T) {
	faultsByName := []struct {
		name  string
		fault sbreg.Fault
	}{
		{"close-delimited", sbreg.Fault{TruncateAfter: 10}},
		{"chunked", sbreg.Fault{TruncateAfter: 10, Chunked: true}},
		{"reset mid-body", sbreg.Fault{ResetAfter: 10}},
	}
	for _, tc := range truncationTargets {
		for _, fc := range faultsByName {
			t.Run(tc.name+"/"+fc.name, func(t *testing.T) {
				w, sb := newSandboxWorld(t, tc.endpoint == sbreg.EndpointReferrers)
				s := pushSigned(t, w)
				c, sl := w.client(t)
				ref := tc.ref(s)
				pathRE := "/" + string(tc.endpoint) + "/" + ref + "$"

				f := fc.fault
				f.Endpoint, f.Reference = tc.endpoint, ref
				sb.SetFault("evidence/x", f)
				w.faults.resetLog()
				err := tc.fetch(c, w, s)
				fe := wantKind(t, err, registry.KindTransient)
				if fe.Attempts != testRetry.MaxAttempts {
					t.Errorf("attempts: got %d, want %d (%v)", fe.Attempts, testRetry.MaxAttempts, err)
				}
				if n := w.faults.requests(http.MethodGet, pathRE); n != testRetry.MaxAttempts {
					t.Errorf("requests for %s: got %d, want %d", ref, n, testRetry.MaxAttempts)
				}
				if got := len(sl.all()); got != testRetry.MaxAttempts-1 {
					t.Errorf("backoff waits: got %d, want %d", got, testRetry.MaxAttempts-1)
				}

				// Flaky: cut once, served whole on the retry.
				f.Times = 1
				sb.SetFault("evidence/x", f)
				if err := tc.fetch(c, w, s); err != nil {
					t.Fatalf("after one cut response: %v", err)
				}
			})
		}
	}
}

// Complete bytes that are not the pinned ones are integrity failures, not
// retried: the same length as the descriptor with another digest, a
// well-formed manifest that hashes to another digest (with or without a
// Content-Length), a complete body that is not JSON.
func TestDifferentBytesAreIntegrity(t *testing.T) {
	for _, tc := range truncationTargets {
		t.Run(tc.name+"/corrupt", func(t *testing.T) {
			w, sb := newSandboxWorld(t, tc.endpoint == sbreg.EndpointReferrers)
			s := pushSigned(t, w)
			c, _ := w.client(t)
			sb.SetFault("evidence/x", sbreg.Fault{Corrupt: true, Endpoint: tc.endpoint, Reference: tc.ref(s)})
			fe := wantKind(t, tc.fetch(c, w, s), registry.KindIntegrity)
			if fe.Attempts > 1 {
				t.Errorf("attempts: got %d, want 1 (integrity failures are not retried)", fe.Attempts)
			}
		})
	}

	t.Run("layer/same length without Content-Length", func(t *testing.T) {
		w, _ := newSandboxWorld(t, false)
		s := pushSigned(t, w)
		c, _ := w.client(t)
		evil := bytes.Clone(s.layer)
		evil[len(evil)/2] ^= 0xff
		w.faults.add(http.MethodGet, "/blobs/"+s.layerDigest+"$", -1, serveUnframed(evil))
		_, err := c.FetchSummary(context.Background(), w.host+"/evidence/x", s.digest)
		wantKind(t, err, registry.KindIntegrity)
	})
	t.Run("layer/longer without Content-Length", func(t *testing.T) {
		w, _ := newSandboxWorld(t, false)
		s := pushSigned(t, w)
		c, _ := w.client(t)
		w.faults.add(http.MethodGet, "/blobs/"+s.layerDigest+"$", -1, serveUnframed(append(bytes.Clone(s.layer), 0)))
		_, err := c.FetchSummary(context.Background(), w.host+"/evidence/x", s.digest)
		wantKind(t, err, registry.KindIntegrity)
	})
	for _, tc := range []struct {
		name string
		body func(layer []byte) []byte
	}{
		{"same length", func(l []byte) []byte { evil := bytes.Clone(l); evil[len(evil)/2] ^= 0xff; return evil }},
		{"longer", func(l []byte) []byte { return append(bytes.Clone(l), 0) }},
	} {
		t.Run("layer streamed/"+tc.name+" without Content-Length", func(t *testing.T) {
			w, _ := newSandboxWorld(t, false)
			s := pushSigned(t, w)
			c, _ := w.client(t)
			w.faults.add(http.MethodGet, "/blobs/"+s.layerDigest+"$", -1, serveUnframed(tc.body(s.layer)))
			_, err := c.Layer(context.Background(), w.host+"/evidence/x", &audit.Evidence{LayerDigest: s.layerDigest, LayerSize: int64(len(s.layer))}, false)
			fe := wantKind(t, err, registry.KindIntegrity)
			if fe.Attempts != 1 {
				t.Errorf("attempts: got %d, want 1", fe.Attempts)
			}
		})
	}
	t.Run("manifest/another well-formed manifest without Content-Length", func(t *testing.T) {
		w, _ := newSandboxWorld(t, false)
		s := pushSigned(t, w)
		b := w.pushSummary(t, "evidence/x", "v2", bundleFiles("b")...)
		bm, _ := remoteManifest(t, w, "evidence/x", b.digest)
		c, _ := w.client(t)
		w.faults.add(http.MethodGet, "/manifests/"+s.digest+"$", -1, serveUnframed(bm))
		_, err := c.FetchSummary(context.Background(), w.host+"/evidence/x", s.digest)
		fe := wantKind(t, err, registry.KindIntegrity)
		if fe.Attempts != 1 {
			t.Errorf("attempts: got %d, want 1", fe.Attempts)
		}
	})
	t.Run("referrers index/over the limit without Content-Length", func(t *testing.T) {
		w, _ := newSandboxWorld(t, true)
		s := pushSigned(t, w)
		c, _ := w.client(t, registry.WithLimits(registry.Limits{Manifest: 1 << 10}))
		big := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"x":"` + strings.Repeat("a", 2<<10) + `"}`)
		w.faults.add(http.MethodGet, "/referrers/"+s.digest+"$", -1, func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("Content-Type", registry.MediaTypeOCIIndex)
			serveUnframed(big)(rw, r)
		})
		_, err := c.FindSigstoreBundle(context.Background(), w.host+"/evidence/x", s.digest)
		wantKind(t, err, registry.KindIntegrity)
	})
}

package registry_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/evidence-auditd/evidence-auditd/internal/registry"
)

func TestFetchSummaryByDigestIgnoresTag(t *testing.T) {
	w := newWorld(t, true)
	a := w.pushSummary(t, "evidence/h100", "latest", bundleFiles("a")...)
	b := w.pushSummary(t, "evidence/h100", "latest", bundleFiles("b")...) // the tag now points at b
	c, _ := w.client(t)

	s, err := c.FetchSummary(context.Background(), w.host+"/evidence/h100:latest", a.digest)
	if err != nil {
		t.Fatalf("FetchSummary: %v", err)
	}
	if got, want := s.Digest, a.digest; got != want {
		t.Errorf("digest: got %s, want %s", got, want)
	}
	if got, want := s.Repository, w.host+"/evidence/h100"; got != want {
		t.Errorf("repository: got %s, want %s", got, want)
	}
	if !bytes.Equal(s.Layer, a.layer) {
		t.Errorf("layer: got the bytes of another bundle (b is %s)", b.digest)
	}
	if got, want := s.LayerDescriptor.Digest, a.layerDigest; got != want {
		t.Errorf("layer digest: got %s, want %s", got, want)
	}
	if got, want := s.MediaType, registry.MediaTypeOCIManifest; got != want {
		t.Errorf("media type: got %s, want %s", got, want)
	}
	if len(s.Config) == 0 || len(s.Manifest) == 0 {
		t.Errorf("config %d bytes, manifest %d bytes: want both", len(s.Config), len(s.Manifest))
	}
	files, err := s.Files(registry.TarLimits{})
	if err != nil {
		t.Fatalf("Files: %v", err)
	}
	if got, want := string(files["recipe.yaml"]), "name: a\n"; got != want {
		t.Errorf("recipe.yaml: got %q, want %q", got, want)
	}
	if got, want := len(files), 6; got != want {
		t.Errorf("files: got %d, want %d", got, want)
	}
	if n := w.faults.requests(http.MethodGet, "/manifests/latest$"); n != 0 {
		t.Errorf("the tag was fetched %d times; only the digest may be", n)
	}
}

func TestFetchSummaryDigestMismatch(t *testing.T) {
	w := newWorld(t, false)
	a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
	b := w.pushSummary(t, "evidence/x", "v2", bundleFiles("b")...)
	c, _ := w.client(t)

	// The registry answers a's digest with b's manifest.
	bm, _ := remoteManifest(t, w, "evidence/x", b.digest)
	w.faults.add(http.MethodGet, "/manifests/"+a.digest+"$", -1, serveBytes(bm, registry.MediaTypeOCIManifest))
	_, err := c.FetchSummary(context.Background(), w.host+"/evidence/x", a.digest)
	fe := wantKind(t, err, registry.KindIntegrity)
	if fe.Attempts != 1 {
		t.Errorf("attempts: got %d, want 1 (integrity failures are not retried)", fe.Attempts)
	}
}

func TestFetchSummaryLayerTampered(t *testing.T) {
	w := newWorld(t, false)
	a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
	c, _ := w.client(t)
	evil := bytes.Clone(a.layer)
	evil[len(evil)-1] ^= 0xff
	w.faults.add(http.MethodGet, "/blobs/"+a.layerDigest+"$", -1, serveBytes(evil, "application/octet-stream"))
	_, err := c.FetchSummary(context.Background(), w.host+"/evidence/x", a.digest)
	wantKind(t, err, registry.KindIntegrity)

	// A longer body than the descriptor says is refused too.
	w2 := newWorld(t, false)
	a2 := w2.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
	c2, _ := w2.client(t)
	w2.faults.add(http.MethodGet, "/blobs/"+a2.layerDigest+"$", -1, serveBytes(append(bytes.Clone(a2.layer), 0), "application/octet-stream"))
	_, err = c2.FetchSummary(context.Background(), w2.host+"/evidence/x", a2.digest)
	wantKind(t, err, registry.KindIntegrity)
}

func TestFetchSummaryGone(t *testing.T) {
	w := newWorld(t, true)
	a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
	if err := remote.Delete(w.repo(t, "evidence/x").Digest(a.digest)); err != nil {
		t.Fatalf("delete: %v", err)
	}
	c, _ := w.client(t)
	_, err := c.FetchSummary(context.Background(), w.host+"/evidence/x:v1", a.digest)
	fe := wantKind(t, err, registry.KindGone)
	if fe.Status != http.StatusNotFound {
		t.Errorf("status: got %d, want 404", fe.Status)
	}

	_, err = c.FetchSummary(context.Background(), w.host+"/no/such/repo", a.digest)
	fe = wantKind(t, err, registry.KindGone)
	if fe.Code != "NAME_UNKNOWN" {
		t.Errorf("code: got %q, want NAME_UNKNOWN", fe.Code)
	}
}

func TestFetchSummaryLayerGone(t *testing.T) {
	w := newWorld(t, false)
	a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
	w.faults.add(http.MethodGet, "/blobs/"+a.layerDigest+"$", -1, registryError(http.StatusNotFound, "BLOB_UNKNOWN"))
	c, _ := w.client(t)
	_, err := c.FetchSummary(context.Background(), w.host+"/evidence/x", a.digest)
	wantKind(t, err, registry.KindGone)
}

func TestFetchSummaryRejectsShapes(t *testing.T) {
	w := newWorld(t, false)
	a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
	// An artifact that is not a summary bundle: two layers.
	two := w.pushReferrer(t, "evidence/x", a.desc, "", nil,
		[2]string{registry.MediaTypeOCILayerGzip, "a"}, [2]string{registry.MediaTypeOCILayerGzip, "b"})
	// A layer that is not gzip.
	plain := w.pushReferrer(t, "evidence/x", a.desc, "", nil, [2]string{"application/vnd.oci.image.layer.v1.tar", "a"})
	c, _ := w.client(t)
	for _, d := range []string{two, plain} {
		_, err := c.FetchSummary(context.Background(), w.host+"/evidence/x", d)
		wantKind(t, err, registry.KindIntegrity)
	}
}

func TestFetchSummaryLimits(t *testing.T) {
	w := newWorld(t, false)
	a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
	c, _ := w.client(t, registry.WithLimits(registry.Limits{Layer: int64(len(a.layer) - 1)}))
	_, err := c.FetchSummary(context.Background(), w.host+"/evidence/x", a.digest)
	wantKind(t, err, registry.KindIntegrity)
	if n := w.faults.requests(http.MethodGet, "/blobs/"+a.layerDigest); n != 0 {
		t.Errorf("an oversize layer was requested %d times; its descriptor alone should refuse it", n)
	}

	c, _ = w.client(t, registry.WithLimits(registry.Limits{Manifest: 100}))
	_, err = c.FetchSummary(context.Background(), w.host+"/evidence/x", a.digest)
	wantKind(t, err, registry.KindIntegrity)
}

func TestFetchSummaryInvalidRef(t *testing.T) {
	w := newWorld(t, false)
	c, _ := w.client(t)
	good := "sha256:" + string(bytes.Repeat([]byte("a"), 64))
	for _, tc := range []struct{ ref, digest string }{
		{"owner/repo", good},                // no host
		{w.host + "/Bad Repo", good},        // invalid repository
		{w.host + "/ok", "sha256:abc"},      // short digest
		{w.host + "/ok", "md5:" + good[7:]}, // wrong algorithm
	} {
		_, err := c.FetchSummary(context.Background(), tc.ref, tc.digest)
		wantKind(t, err, registry.KindInvalidRef)
	}
}

func remoteManifest(tb testing.TB, w *world, repo, digest string) ([]byte, error) {
	tb.Helper()
	d, err := remote.Get(w.repo(tb, repo).Digest(digest))
	if err != nil {
		tb.Fatal(err)
	}
	return d.Manifest, nil
}

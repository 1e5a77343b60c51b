package registry_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/registry"
)

// Fetch reads the manifest and the signatures side by side; a manifest that
// is gone is the answer whatever the signature search found, and a
// manifest that is served with no signature is KindNoSignature. It never
// reads the layer: that is Layer's, once a signature holds.
func TestFetchManifestAndSignatures(t *testing.T) {
	modes(t, func(t *testing.T, w *world) {
		a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
		c, _ := w.client(t)
		ref := w.host + "/evidence/x"
		wantKind(t, fetchErr(c, ref, a.digest), registry.KindNoSignature)

		w.faults.add(http.MethodGet, "/manifests/"+a.digest+"$", 1, registryError(http.StatusNotFound, "MANIFEST_UNKNOWN"))
		wantKind(t, fetchErr(c, ref, a.digest), registry.KindGone)

		sig := w.pushReferrer(t, "evidence/x", a.desc, bundleV03, nil, [2]string{bundleV03, `{"which":"sig"}`})
		w.faults.add(http.MethodGet, "/manifests/"+a.digest+"$", 1, registryError(http.StatusNotFound, "MANIFEST_UNKNOWN"))
		wantKind(t, fetchErr(c, ref, a.digest), registry.KindGone)

		w.faults.resetLog()
		ev, err := c.Fetch(context.Background(), ref, a.digest)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		if ev.Signature.ReferrerDigest != sig || string(ev.Signature.BundleJSON) != `{"which":"sig"}` {
			t.Errorf("signature %s %q, want %s", ev.Signature.ReferrerDigest, ev.Signature.BundleJSON, sig)
		}
		if ev.LayerDigest != a.layerDigest || ev.LayerSize != int64(len(a.layer)) || ev.Files != nil {
			t.Errorf("layer %s (%d bytes), files %v: want the descriptor of %s and no files", ev.LayerDigest, ev.LayerSize, ev.Files, a.layerDigest)
		}
		if n := w.faults.requests(http.MethodGet, "/blobs/"+a.layerDigest+"$"); n != 0 {
			t.Errorf("Fetch read the layer %d times", n)
		}
	})
}

func fetchErr(c *registry.Client, ref, digest string) error {
	_, err := c.Fetch(context.Background(), ref, digest)
	return err
}

// Workers that start together on a repository not yet seen share one ping
// (and token exchange) instead of each sending its own.
func TestOnePingPerRepository(t *testing.T) {
	w := newWorld(t, false)
	var ps []pushed
	for i := range 8 {
		ps = append(ps, w.pushSummary(t, "evidence/x", "v1", bundleFiles(string(rune('a'+i)))...))
	}
	c, _ := w.client(t)
	w.faults.resetLog()
	w.faults.setDelay(5 * time.Millisecond) // the pings overlap
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.FetchSummary(context.Background(), w.host+"/evidence/x", p.digest); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := w.faults.requests(http.MethodGet, "^/v2/$"); n != 1 {
		t.Errorf("%d pings for one repository, want 1", n)
	}
}

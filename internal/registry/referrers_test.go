package registry_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/registry"
)

const bundleV03 = registry.MediaTypeSigstoreBundleV03

func TestFindSigstoreBundle(t *testing.T) {
	modes(t, func(t *testing.T, w *world) {
		a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
		other := w.pushSummary(t, "evidence/x", "v2", bundleFiles("other")...)

		// Noise: referrers of other types, and a bundle for another subject.
		sbom := w.pushReferrer(t, "evidence/x", a.desc, "application/spdx+json", nil, [2]string{"application/spdx+json", `{"spdxVersion":"SPDX-2.3"}`})
		notary := w.pushImageReferrer(t, "evidence/x", a.desc, "application/vnd.cncf.notary.signature", "application/jose+json", `{"sig":1}`)
		twoLayers := w.pushReferrer(t, "evidence/x", a.desc, bundleV03, nil, [2]string{bundleV03, `{"n":1}`}, [2]string{bundleV03, `{"n":2}`})
		w.pushReferrer(t, "evidence/x", other.desc, bundleV03, nil, [2]string{bundleV03, `{"other":true}`})
		// The signature.
		want := w.pushReferrer(t, "evidence/x", a.desc, bundleV03,
			map[string]string{registry.AnnotationCreated: "2026-07-21T19:46:00Z", "dev.sigstore.bundle.content": "dsse-envelope"},
			[2]string{bundleV03, `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`})

		c, _ := w.client(t)
		got, err := c.FindSigstoreBundle(context.Background(), w.host+"/evidence/x:v2", a.digest)
		if err != nil {
			t.Fatalf("FindSigstoreBundle: %v", err)
		}
		if got.Kind != registry.AttestationSigstoreBundle {
			t.Errorf("kind: got %s, want %s", got.Kind, registry.AttestationSigstoreBundle)
		}
		if got.ReferrerDigest != want {
			t.Errorf("referrer: got %s, want %s (sbom %s, two-layer %s)", got.ReferrerDigest, want, sbom, twoLayers)
		}
		if got, want := string(got.BundleJSON), `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`; got != want {
			t.Errorf("bundle: got %s, want %s", got, want)
		}
		if got.BundleMediaType != bundleV03 {
			t.Errorf("bundle media type: got %s", got.BundleMediaType)
		}
		wantVia := registry.ViaTagSchema
		if strings.HasSuffix(t.Name(), "referrers=true") {
			wantVia = registry.ViaReferrersAPI
		}
		if got.Via != wantVia {
			t.Errorf("via: got %s, want %s", got.Via, wantVia)
		}
		if n := w.faults.requests(http.MethodGet, "/manifests/"+notary); n != 0 {
			t.Errorf("a referrer of a definite other type was fetched %d times", n)
		}
		if !slices.Equal(got.Candidates, []string{want}) {
			t.Errorf("candidates: got %v, want [%s]", got.Candidates, want)
		}

		// The fast path's probes succeed with what was found.
		if err := c.Probe(context.Background(), w.host+"/evidence/x", a.digest, a.layerDigest, got.ReferrerDigest); err != nil {
			t.Errorf("Probe: %v", err)
		}
	})
}

func TestFindSigstoreBundleNewestWins(t *testing.T) {
	modes(t, func(t *testing.T, w *world) {
		a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
		old := w.pushReferrer(t, "evidence/x", a.desc, bundleV03,
			map[string]string{registry.AnnotationCreated: "2026-01-01T00:00:00Z"}, [2]string{bundleV03, `{"which":"old"}`})
		undated := w.pushReferrer(t, "evidence/x", a.desc, "",
			nil, [2]string{"application/vnd.dev.sigstore.bundle+json;version=0.3", `{"which":"undated"}`})
		newest := w.pushReferrer(t, "evidence/x", a.desc, bundleV03,
			map[string]string{registry.AnnotationCreated: "2026-02-01T00:00:00+01:00"}, [2]string{bundleV03, `{"which":"new"}`})
		// The go-containerregistry way: the bundle type as config media type.
		viaConfig := w.pushImageReferrer(t, "evidence/x", a.desc, bundleV03, bundleV03, `{"which":"config"}`)

		c, _ := w.client(t)
		for range 5 { // pkg/registry lists referrers in random order
			got, err := c.FindSigstoreBundle(context.Background(), w.host+"/evidence/x", a.digest)
			if err != nil {
				t.Fatalf("FindSigstoreBundle: %v", err)
			}
			if got.ReferrerDigest != newest || string(got.BundleJSON) != `{"which":"new"}` {
				t.Fatalf("got %s %s, want the newest %s", got.ReferrerDigest, got.BundleJSON, newest)
			}
			undatedPair := []string{undated, viaConfig}
			slices.Sort(undatedPair)
			want := append([]string{newest, old}, undatedPair...)
			if !slices.Equal(got.Candidates, want) {
				t.Fatalf("candidates: got %v, want %v", got.Candidates, want)
			}
		}
	})
}

func TestFindSigstoreBundleLegacyAtt(t *testing.T) {
	modes(t, func(t *testing.T, w *world) {
		a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
		// An unrelated referrer must not stop the search.
		w.pushReferrer(t, "evidence/x", a.desc, "application/spdx+json", nil, [2]string{"application/spdx+json", `{}`})

		envelope := `{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"MEUC"}]}`
		img, err := mutate.Append(empty.Image, mutate.Addendum{
			Layer: static.NewLayer([]byte(envelope), registry.MediaTypeDSSEEnvelope),
			Annotations: map[string]string{
				registry.AnnotationCosignCertificate: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
				registry.AnnotationCosignChain:       "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n",
				registry.AnnotationCosignBundle:      `{"SignedEntryTimestamp":"MEQ","Payload":{"logIndex":7}}`,
				registry.AnnotationCosignRFC3161:     `{"SignedRFC3161Timestamp":"MIIC"}`,
				registry.AnnotationCosignSignature:   "",
			},
		}, mutate.Addendum{Layer: static.NewLayer([]byte("ignored"), "application/octet-stream")})
		if err != nil {
			t.Fatal(err)
		}
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		att := w.repo(t, "evidence/x").Tag(strings.Replace(a.digest, ":", "-", 1) + ".att")
		if err := remote.Write(att, img); err != nil {
			t.Fatal(err)
		}
		attDigest, _ := img.Digest()

		c, _ := w.client(t)
		got, err := c.FindSigstoreBundle(context.Background(), w.host+"/evidence/x", a.digest)
		if err != nil {
			t.Fatalf("FindSigstoreBundle: %v", err)
		}
		if got.Kind != registry.AttestationCosignLegacy || got.Via != registry.ViaCosignAtt {
			t.Fatalf("got kind %s via %s, want %s via %s", got.Kind, got.Via, registry.AttestationCosignLegacy, registry.ViaCosignAtt)
		}
		if got.ReferrerDigest != attDigest.String() {
			t.Errorf("referrer digest: got %s, want %s", got.ReferrerDigest, attDigest)
		}
		if len(got.Legacy) != 1 {
			t.Fatalf("legacy layers: got %d, want 1", len(got.Legacy))
		}
		l := got.Legacy[0]
		if string(l.Envelope) != envelope {
			t.Errorf("envelope: got %s", l.Envelope)
		}
		if !strings.Contains(l.Certificate, "MIIB") || !strings.Contains(l.Chain, "MIIC") || !strings.Contains(l.Bundle, "logIndex") {
			t.Errorf("annotations not carried: %+v", l)
		}
		if l.RFC3161Timestamp != `{"SignedRFC3161Timestamp":"MIIC"}` {
			t.Errorf("RFC 3161 timestamp annotation: got %q", l.RFC3161Timestamp)
		}
		if err := c.Probe(context.Background(), w.host+"/evidence/x", a.digest, a.layerDigest, got.ReferrerDigest); err != nil {
			t.Errorf("Probe: %v", err)
		}

		// Fetch hands every annotation the verifier needs to audit.
		ev, err := c.Fetch(context.Background(), w.host+"/evidence/x", a.digest)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		if ev.Signature.Kind != audit.CosignLegacy || len(ev.Signature.Legacy) != 1 {
			t.Fatalf("Fetch: signature %s with %d layers", ev.Signature.Kind, len(ev.Signature.Legacy))
		}
		el := ev.Signature.Legacy[0]
		if string(el.Envelope) != envelope || el.Certificate != l.Certificate || el.Chain != l.Chain ||
			el.Bundle != l.Bundle || el.RFC3161Timestamp != l.RFC3161Timestamp {
			t.Errorf("Fetch: legacy layer %+v, want the annotations of %+v", el, l)
		}
	})
}

func TestFindSigstoreBundleNone(t *testing.T) {
	modes(t, func(t *testing.T, w *world) {
		a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
		w.pushReferrer(t, "evidence/x", a.desc, "application/spdx+json", nil, [2]string{"application/spdx+json", `{}`})
		c, _ := w.client(t)
		_, err := c.FindSigstoreBundle(context.Background(), w.host+"/evidence/x", a.digest)
		wantKind(t, err, registry.KindNoSignature)

		_, err = c.FindSigstoreBundle(context.Background(), w.host+"/gone/repo", a.digest)
		wantKind(t, err, registry.KindGone)
	})
}

func TestFindSigstoreBundleTransient(t *testing.T) {
	modes(t, func(t *testing.T, w *world) {
		a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
		w.pushReferrer(t, "evidence/x", a.desc, bundleV03, nil, [2]string{bundleV03, `{}`})
		c, _ := w.client(t)
		w.faults.add("", "/(referrers/|manifests/sha256-)", -1, status(http.StatusServiceUnavailable))
		_, err := c.FindSigstoreBundle(context.Background(), w.host+"/evidence/x", a.digest)
		wantKind(t, err, registry.KindTransient)
	})
}

func TestFindSigstoreBundleTamperedBundle(t *testing.T) {
	w := newWorld(t, true)
	a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
	body := `{"real":true}`
	w.pushReferrer(t, "evidence/x", a.desc, bundleV03, nil, [2]string{bundleV03, body})
	w.faults.add(http.MethodGet, "/blobs/"+sha256Hex(body)+"$", -1, serveBytes([]byte(`{"fake":1}`), "application/octet-stream"))
	c, _ := w.client(t)
	_, err := c.FindSigstoreBundle(context.Background(), w.host+"/evidence/x", a.digest)
	wantKind(t, err, registry.KindIntegrity)
}

func TestProbe(t *testing.T) {
	modes(t, func(t *testing.T, w *world) {
		a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
		sig := w.pushReferrer(t, "evidence/x", a.desc, bundleV03, nil, [2]string{bundleV03, `{}`})
		c, _ := w.client(t)
		ref := w.host + "/evidence/x"
		w.faults.resetLog()
		if err := c.Probe(context.Background(), ref, a.digest, a.layerDigest, sig); err != nil {
			t.Fatalf("Probe: %v", err)
		}
		if n := w.faults.requests(http.MethodGet, "/(manifests|blobs)/"); n != 0 {
			t.Errorf("Probe made %d GET requests; want HEAD only", n)
		}

		w.faults.add(http.MethodHead, "/manifests/"+sig+"$", 1, status(http.StatusNotFound))
		wantKind(t, c.Probe(context.Background(), ref, a.digest, a.layerDigest, sig), registry.KindNoSignature)

		w.faults.add(http.MethodHead, "/blobs/"+a.layerDigest+"$", 1, status(http.StatusNotFound))
		wantKind(t, c.Probe(context.Background(), ref, a.digest, a.layerDigest, sig), registry.KindGone)

		w.faults.add(http.MethodHead, "/manifests/"+a.digest+"$", 1, status(http.StatusForbidden))
		wantKind(t, c.Probe(context.Background(), ref, a.digest, a.layerDigest, sig), registry.KindForbidden)

		// The HEADs go out together; the answer is still the first
		// failure in the order manifest, layer, referrer.
		w.faults.add(http.MethodHead, "/manifests/"+sig+"$", 1, status(http.StatusNotFound))
		w.faults.add(http.MethodHead, "/blobs/"+a.layerDigest+"$", 1, status(http.StatusNotFound))
		w.faults.add(http.MethodHead, "/manifests/"+a.digest+"$", 1, status(http.StatusForbidden))
		wantKind(t, c.Probe(context.Background(), ref, a.digest, a.layerDigest, sig), registry.KindForbidden)
		w.faults.add(http.MethodHead, "/manifests/"+sig+"$", 1, status(http.StatusNotFound))
		w.faults.add(http.MethodHead, "/blobs/"+a.layerDigest+"$", 1, status(http.StatusNotFound))
		wantKind(t, c.Probe(context.Background(), ref, a.digest, a.layerDigest, sig), registry.KindGone)

		w.faults.add(http.MethodHead, "/manifests/"+a.digest+"$", 1, status(http.StatusTooManyRequests, "Retry-After", "1"))
		if err := c.Probe(context.Background(), ref, a.digest, a.layerDigest, sig); err != nil {
			t.Errorf("Probe after one 429: %v", err)
		}

		if err := remote.Delete(w.repo(t, "evidence/x").Digest(a.digest)); err != nil {
			t.Fatal(err)
		}
		wantKind(t, c.Probe(context.Background(), ref, a.digest, a.layerDigest, sig), registry.KindGone)
	})
}

// Every usable bundle referrer is returned, in preference order; those the
// registry cannot use are named with why, and do not stop the search.
func TestFindSigstoreBundleAlternatives(t *testing.T) {
	modes(t, func(t *testing.T, w *world) {
		a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
		created := func(ts string) map[string]string { return map[string]string{registry.AnnotationCreated: ts} }
		old := w.pushReferrer(t, "evidence/x", a.desc, bundleV03, created("2026-01-01T00:00:00Z"), [2]string{bundleV03, `{"which":"old"}`})
		mid := w.pushReferrer(t, "evidence/x", a.desc, bundleV03, created("2026-02-01T00:00:00Z"), [2]string{bundleV03, `{"which":"mid"}`})
		gone := w.pushReferrer(t, "evidence/x", a.desc, bundleV03, created("2026-03-01T00:00:00Z"), [2]string{bundleV03, `{"which":"gone"}`})
		w.faults.add(http.MethodGet, "/blobs/"+sha256Hex(`{"which":"gone"}`)+"$", -1, registryError(http.StatusNotFound, "BLOB_UNKNOWN"))
		big := w.pushReferrer(t, "evidence/x", a.desc, bundleV03, created("2026-04-01T00:00:00Z"), [2]string{bundleV03, `{"which":"big","pad":"` + strings.Repeat("x", 200) + `"}`})
		wrongType := w.pushReferrer(t, "evidence/x", a.desc, bundleV03, created("2026-05-01T00:00:00Z"), [2]string{"application/json", `{"which":"json"}`})
		newest := w.pushReferrer(t, "evidence/x", a.desc, bundleV03, created("2026-06-01T00:00:00Z"), [2]string{bundleV03, `{"which":"new"}`})

		c, _ := w.client(t, registry.WithLimits(registry.Limits{Bundle: 100}))
		got, err := c.FindSigstoreBundle(context.Background(), w.host+"/evidence/x", a.digest)
		if err != nil {
			t.Fatalf("FindSigstoreBundle: %v", err)
		}
		if got.ReferrerDigest != newest || string(got.BundleJSON) != `{"which":"new"}` {
			t.Errorf("first: got %s %s, want the newest %s", got.ReferrerDigest, got.BundleJSON, newest)
		}
		var alts []string
		for _, alt := range got.Alternatives {
			alts = append(alts, alt.Digest+" "+string(alt.JSON)+" "+alt.Via)
		}
		want := []string{mid + ` {"which":"mid"} ` + got.Via, old + ` {"which":"old"} ` + got.Via}
		if !slices.Equal(alts, want) {
			t.Errorf("alternatives:\n got %v\nwant %v", alts, want)
		}
		skipped := map[string]registry.SkippedReferrer{}
		for _, s := range got.Skipped {
			skipped[s.Digest] = s
		}
		for _, tc := range []struct {
			digest string
			kind   registry.Kind
			reason string
		}{
			{gone, registry.KindGone, "is not served"},
			{big, registry.KindIntegrity, "exceeds the 100-byte limit"},
			{wrongType, registry.KindNoSignature, "no layer of a Sigstore bundle media type"},
		} {
			s, ok := skipped[tc.digest]
			if !ok || s.Kind != tc.kind || !strings.Contains(s.Reason, tc.reason) {
				t.Errorf("skipped %s: got %+v (present %v), want kind %v, reason with %q", tc.digest, s, ok, tc.kind, tc.reason)
			}
		}
		if len(got.Skipped) != 3 {
			t.Errorf("skipped: got %+v, want 3", got.Skipped)
		}
		if n := w.faults.requests(http.MethodGet, "/blobs/"+sha256Hex(`{"which":"big","pad":"`+strings.Repeat("x", 200)+`"}`)); n != 0 {
			t.Errorf("the oversize bundle was requested %d times; its descriptor alone should refuse it", n)
		}
	})
}

// With no usable referrer the search ends in an error naming each: no
// signature, or integrity when one was refused for its bytes; a referrer
// the registry fails to serve stops it as transient.
func TestFindSigstoreBundleOnlyUnusable(t *testing.T) {
	modes(t, func(t *testing.T, w *world) {
		a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
		gone := w.pushReferrer(t, "evidence/x", a.desc, bundleV03, nil, [2]string{bundleV03, `{"which":"gone"}`})
		w.faults.add(http.MethodGet, "/blobs/"+sha256Hex(`{"which":"gone"}`)+"$", -1, registryError(http.StatusNotFound, "BLOB_UNKNOWN"))
		c, _ := w.client(t)
		_, err := c.FindSigstoreBundle(context.Background(), w.host+"/evidence/x", a.digest)
		if fe := wantKind(t, err, registry.KindNoSignature); !strings.Contains(fe.Error(), gone) {
			t.Errorf("error %v does not name %s", err, gone)
		}

		tampered := w.pushReferrer(t, "evidence/x", a.desc, bundleV03, nil, [2]string{bundleV03, `{"which":"tampered"}`})
		w.faults.add(http.MethodGet, "/blobs/"+sha256Hex(`{"which":"tampered"}`)+"$", -1, serveBytes([]byte(`{"which":"tamperer"}`), "application/octet-stream"))
		_, err = c.FindSigstoreBundle(context.Background(), w.host+"/evidence/x", a.digest)
		if fe := wantKind(t, err, registry.KindIntegrity); !strings.Contains(fe.Error(), gone) || !strings.Contains(fe.Error(), tampered) {
			t.Errorf("error %v does not name %s and %s", err, gone, tampered)
		}

		w.pushReferrer(t, "evidence/x", a.desc, bundleV03, map[string]string{registry.AnnotationCreated: "2026-01-01T00:00:00Z"}, [2]string{bundleV03, `{"which":"valid"}`})
		w.faults.add(http.MethodGet, "/blobs/"+sha256Hex(`{"which":"valid"}`)+"$", -1, status(http.StatusServiceUnavailable))
		_, err = c.FindSigstoreBundle(context.Background(), w.host+"/evidence/x", a.digest)
		wantKind(t, err, registry.KindTransient)
	})
}

// At most 8 bundle blobs are fetched per search, newest first; the older
// referrers are named as not fetched.
func TestFindSigstoreBundleFetchesAtMostEightBundles(t *testing.T) {
	w := newWorld(t, true)
	a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
	var pushed []string
	for i := range 10 {
		pushed = append(pushed, w.pushReferrer(t, "evidence/x", a.desc, bundleV03,
			map[string]string{registry.AnnotationCreated: fmt.Sprintf("2026-01-%02dT00:00:00Z", 10-i)}, [2]string{bundleV03, fmt.Sprintf(`{"n":%d}`, i)}))
	}
	c, _ := w.client(t)
	w.faults.resetLog()
	got, err := c.FindSigstoreBundle(context.Background(), w.host+"/evidence/x", a.digest)
	if err != nil {
		t.Fatal(err)
	}
	if got.ReferrerDigest != pushed[0] || len(got.Alternatives) != 7 || got.Alternatives[6].Digest != pushed[7] {
		t.Errorf("got %s and %d alternatives, want %s and 7 ending in %s", got.ReferrerDigest, len(got.Alternatives), pushed[0], pushed[7])
	}
	if len(got.Skipped) != 2 || got.Skipped[0].Digest != pushed[8] || got.Skipped[1].Digest != pushed[9] {
		t.Errorf("skipped %+v, want the two oldest", got.Skipped)
	}
	if n := w.faults.requests(http.MethodGet, "/blobs/"); n != 8 {
		t.Errorf("blob requests: got %d, want 8", n)
	}
}

// TestReferrersAPIAskedOncePerHost: a registry that lacks the Referrers
// API is asked once per client; later searches on that host, in any
// repository, go straight to the tag-schema fallback (DESIGN: each probe of
// an API the registry lacks costs a round trip).
func TestReferrersAPIAskedOncePerHost(t *testing.T) {
	modes(t, func(t *testing.T, w *world) {
		a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
		b := w.pushSummary(t, "evidence/y", "v1", bundleFiles("b")...)
		for _, s := range []struct {
			repo string
			p    pushed
		}{{"evidence/x", a}, {"evidence/y", b}} {
			w.pushReferrer(t, s.repo, s.p.desc, bundleV03, nil, [2]string{bundleV03, `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`})
		}
		c, _ := w.client(t)
		before := w.faults.requests(http.MethodGet, "/referrers/") // the pushes' own
		for _, s := range []struct{ repo, digest string }{{"evidence/x", a.digest}, {"evidence/y", b.digest}, {"evidence/x", a.digest}} {
			if _, err := c.FindSigstoreBundle(context.Background(), w.host+"/"+s.repo+":v1", s.digest); err != nil {
				t.Fatalf("FindSigstoreBundle %s: %v", s.repo, err)
			}
		}
		asked := w.faults.requests(http.MethodGet, "/referrers/") - before
		want := 3 // a registry with the API is asked every time
		if !strings.HasSuffix(t.Name(), "referrers=true") {
			want = 1
		}
		if asked != want {
			t.Errorf("the Referrers API was asked %d times over three searches, want %d", asked, want)
		}
	})
}

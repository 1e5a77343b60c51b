package publish_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/registry"
)

var (
	signedAt = attestedAt.Add(3 * time.Minute)
	signerID = publish.Identity{
		Issuer: "https://token.actions.githubusercontent.com",
		SAN:    "https://github.com/o/r/.github/workflows/x.yaml@refs/heads/main",
	}
)

const fakeBundle = `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","fake":true}`

// fakeSigner records what it signs and returns a fixed document.
type fakeSigner struct {
	mu         sync.Mutex
	statements [][]byte
	ids        []publish.Identity
	times      []time.Time
}

func (f *fakeSigner) signer() publish.SignerFunc {
	return func(statement []byte, id publish.Identity, at time.Time) ([]byte, int64, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.statements = append(f.statements, statement)
		f.ids = append(f.ids, id)
		f.times = append(f.times, at)
		return []byte(fakeBundle), 35699965, nil
	}
}

func startRegistry(tb testing.TB, referrersAPI bool) *registry.Registry {
	tb.Helper()
	r := registry.New(registry.WithReferrersAPI(referrersAPI))
	if err := r.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			tb.Errorf("close registry: %v", err)
		}
	})
	return r
}

func target(r *registry.Registry) publish.Target {
	return publish.Target{Host: r.Host(), Repo: "owner/aicr-evidence", Tag: "run-1", PlainHTTP: true}
}

func digestRef(tb testing.TB, t publish.Target, digest string) name.Digest {
	tb.Helper()
	d, err := name.NewDigest(t.Repository()+"@"+digest, name.Insecure)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func blob(tb testing.TB, t publish.Target, digest string) []byte {
	tb.Helper()
	d := digestRef(tb, t, digest)
	h, _ := v1.NewHash(digest)
	l, err := remote.Layer(d.Context().Digest(h.String()))
	if err != nil {
		tb.Fatal(err)
	}
	rc, err := l.Compressed()
	if err != nil {
		tb.Fatalf("fetch blob %s: %v", digest, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatalf("fetch blob %s: %v", digest, err)
	}
	return b
}

func registryModes() map[string]bool {
	return map[string]bool{"referrers-api": true, "no-referrers-api": false}
}

func TestPublishRoundTrip(t *testing.T) {
	for regName, api := range registryModes() {
		for _, mode := range []publish.AttachMode{publish.AttachAuto, publish.TagSchema, publish.ReferrersAPI} {
			if mode == publish.ReferrersAPI && !api {
				continue // see TestPublishReferrersAPIModeNeedsAPI
			}
			t.Run(regName+"/"+mode.String(), func(t *testing.T) {
				ctx := context.Background()
				r := startRegistry(t, api)
				tgt := target(r)
				s := build(t, goodSpec())
				var fs fakeSigner
				pub, err := publish.Publish(ctx, tgt, s, fs.signer(), signerID, signedAt, mode)
				if err != nil {
					t.Fatalf("Publish: %v", err)
				}
				if pub.ManifestDigest != s.ManifestDigest || pub.LayerDigest != s.LayerDigest || pub.LogIndex != 35699965 ||
					pub.OCIRef != r.Host()+"/owner/aicr-evidence:run-1" || string(pub.Bundle) != fakeBundle {
					t.Errorf("Published %+v", pub)
				}

				// The summary, by tag and by digest.
				tag, _ := name.NewTag(pub.OCIRef, name.Insecure)
				desc, err := remote.Get(tag)
				if err != nil {
					t.Fatalf("get %s: %v", tag, err)
				}
				if desc.Digest.String() != s.ManifestDigest || string(desc.Manifest) != string(s.Manifest) {
					t.Errorf("pulled manifest %s, want %s", desc.Digest, s.ManifestDigest)
				}
				if got := blob(t, tgt, s.LayerDigest); string(got) != string(s.Layer) {
					t.Errorf("pulled layer differs")
				}
				if got := findings(t, s, pub.Statement); len(got) != 0 {
					t.Errorf("published statement findings %v", got)
				}

				// The referrer, discoverable with the stock client.
				idx, err := remote.Referrers(digestRef(t, tgt, s.ManifestDigest))
				if err != nil {
					t.Fatalf("Referrers: %v", err)
				}
				im, err := idx.IndexManifest()
				if err != nil {
					t.Fatal(err)
				}
				if len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != pub.ReferrerDigest {
					t.Fatalf("referrers %+v, want only %s", im.Manifests, pub.ReferrerDigest)
				}
				if !api && im.Manifests[0].ArtifactType != publish.MediaTypeBundle {
					t.Errorf("tag index artifactType %q", im.Manifests[0].ArtifactType)
				}

				ref, err := remote.Get(digestRef(t, tgt, pub.ReferrerDigest))
				if err != nil {
					t.Fatal(err)
				}
				m := decode[ociManifest](t, ref.Manifest)
				if m.ArtifactType != publish.MediaTypeBundle || m.Config.MediaType != publish.MediaTypeEmpty ||
					len(m.Layers) != 1 || m.Layers[0].MediaType != publish.MediaTypeBundle {
					t.Errorf("referrer manifest %s", ref.Manifest)
				}
				if m.Subject == nil || m.Subject.Digest != s.ManifestDigest || m.Subject.Size != int64(len(s.Manifest)) ||
					m.Subject.MediaType != "application/vnd.oci.image.manifest.v1+json" {
					t.Errorf("referrer subject %+v", m.Subject)
				}
				wantAnn := map[string]string{
					"dev.sigstore.bundle.content":       "dsse-envelope",
					"dev.sigstore.bundle.predicateType": publish.PredicateV3,
					"org.opencontainers.image.created":  "2026-07-21T19:48:26Z",
				}
				for k, v := range wantAnn {
					if m.Annotations[k] != v {
						t.Errorf("annotation %s = %q, want %q", k, m.Annotations[k], v)
					}
				}
				if got := blob(t, tgt, m.Layers[0].Digest); string(got) != fakeBundle {
					t.Errorf("bundle layer %q", got)
				}

				// The tag schema index exists exactly when it should.
				fallback, _ := name.NewTag(tgt.Repository()+":"+publish.FallbackTag(s.ManifestDigest), name.Insecure)
				_, err = remote.Head(fallback)
				wantTag := !api || mode == publish.TagSchema
				if gotTag := err == nil; gotTag != wantTag {
					t.Errorf("fallback tag present = %v (%v), want %v", gotTag, err, wantTag)
				}
				if wantTag {
					idx, err := remote.Index(fallback)
					if err != nil {
						t.Fatal(err)
					}
					im, _ := idx.IndexManifest()
					if len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != pub.ReferrerDigest ||
						im.Manifests[0].ArtifactType != publish.MediaTypeBundle ||
						im.Manifests[0].Annotations["dev.sigstore.bundle.predicateType"] != publish.PredicateV3 {
						t.Errorf("fallback index %+v", im.Manifests)
					}
				}

				// What was signed.
				if len(fs.statements) != 1 || fs.ids[0] != signerID || !fs.times[0].Equal(signedAt) {
					t.Fatalf("signer calls: %d, %v, %v", len(fs.statements), fs.ids, fs.times)
				}
				st := decode[publish.Statement](t, fs.statements[0])
				if st.Subject[0].Name != tgt.Repository() || st.Subject[0].Digest["sha256"] != s.ManifestDigest[7:] {
					t.Errorf("signed subject %+v", st.Subject)
				}
			})
		}
	}
}

func TestPublishTwiceIsIdempotent(t *testing.T) {
	for regName, api := range registryModes() {
		t.Run(regName, func(t *testing.T) {
			r := startRegistry(t, api)
			s := build(t, goodSpec())
			var fs fakeSigner
			var digests []string
			for range 2 {
				pub, err := publish.Publish(context.Background(), target(r), s, fs.signer(), signerID, signedAt, publish.TagSchema)
				if err != nil {
					t.Fatal(err)
				}
				digests = append(digests, pub.ReferrerDigest)
			}
			if digests[0] != digests[1] {
				t.Errorf("referrer digests %v", digests)
			}
			idx, err := remote.Referrers(digestRef(t, target(r), s.ManifestDigest))
			if err != nil {
				t.Fatal(err)
			}
			if im, _ := idx.IndexManifest(); len(im.Manifests) != 1 {
				t.Errorf("%d referrers after publishing twice, want 1", len(im.Manifests))
			}
		})
	}
}

func TestPublishTwoReferrersInTagIndex(t *testing.T) {
	r := startRegistry(t, false)
	s := build(t, goodSpec())
	var fs fakeSigner
	var want []string
	for _, at := range []time.Time{signedAt, signedAt.Add(time.Hour)} {
		pub, err := publish.Publish(context.Background(), target(r), s, fs.signer(), signerID, at, publish.TagSchema)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, pub.ReferrerDigest)
	}
	idx, err := remote.Referrers(digestRef(t, target(r), s.ManifestDigest))
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	var got []string
	for _, d := range im.Manifests {
		got = append(got, d.Digest.String())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("referrers %v, want %v", got, want)
	}
}

func TestPublishReferrersAPIModeNeedsAPI(t *testing.T) {
	r := startRegistry(t, false)
	var fs fakeSigner
	_, err := publish.Publish(context.Background(), target(r), build(t, goodSpec()), fs.signer(), signerID, signedAt, publish.ReferrersAPI)
	if err == nil {
		t.Fatal("Publish with ReferrersAPI on a registry without it succeeded")
	}
}

func TestPublishUnsigned(t *testing.T) {
	r := startRegistry(t, true)
	s := build(t, goodSpec())
	pub, err := publish.Publish(context.Background(), target(r), s, nil, publish.Identity{}, time.Time{}, publish.AttachAuto)
	if err != nil {
		t.Fatal(err)
	}
	if pub.ReferrerDigest != "" || pub.LogIndex != -1 || pub.Statement != nil || pub.Bundle != nil {
		t.Errorf("unsigned Published %+v", pub)
	}
	idx, err := remote.Referrers(digestRef(t, target(r), s.ManifestDigest))
	if err != nil {
		t.Fatal(err)
	}
	if im, _ := idx.IndexManifest(); len(im.Manifests) != 0 {
		t.Errorf("unsigned summary has referrers %+v", im.Manifests)
	}
}

func TestPublishWrongSubjectSignsOtherDigest(t *testing.T) {
	r := startRegistry(t, true)
	spec := goodSpec()
	spec.WrongSubject = true
	s := build(t, spec)
	var fs fakeSigner
	pub, err := publish.Publish(context.Background(), target(r), s, fs.signer(), signerID, signedAt, publish.AttachAuto)
	if err != nil {
		t.Fatal(err)
	}
	st := decode[publish.Statement](t, pub.Statement)
	if got := st.Subject[0].Digest["sha256"]; got == s.ManifestDigest[7:] || len(got) != 64 {
		t.Errorf("wrong-subject statement names %q", got)
	}
	// The referrer is still attached to the real manifest.
	idx, err := remote.Referrers(digestRef(t, target(r), s.ManifestDigest))
	if err != nil {
		t.Fatal(err)
	}
	if im, _ := idx.IndexManifest(); len(im.Manifests) != 1 {
		t.Errorf("referrers %+v", im.Manifests)
	}
}

func TestPublishDefaultTag(t *testing.T) {
	r := startRegistry(t, true)
	s := build(t, goodSpec())
	tgt := target(r)
	tgt.Tag = ""
	pub, err := publish.Publish(context.Background(), tgt, s, nil, publish.Identity{}, time.Time{}, publish.AttachAuto)
	if err != nil {
		t.Fatal(err)
	}
	want := tgt.Repository() + ":h100-aks-ubuntu-inference-dynamo-" + s.ManifestDigest[7:19]
	if pub.OCIRef != want || publish.DefaultTag(s) != want[len(tgt.Repository())+1:] {
		t.Errorf("OCIRef %q, want %q", pub.OCIRef, want)
	}
}

func TestPublishRegistryFaults(t *testing.T) {
	r := startRegistry(t, true)
	r.SetFault("owner/aicr-evidence", registry.Fault{Status: http.StatusForbidden})
	var fs fakeSigner
	_, err := publish.Publish(context.Background(), target(r), build(t, goodSpec()), fs.signer(), signerID, signedAt, publish.AttachAuto)
	if err == nil {
		t.Fatal("Publish into a forbidden repository succeeded")
	}
	if len(fs.statements) != 0 {
		t.Error("signed although the push failed")
	}

	// A transient 500 is retried by the client and the publish succeeds.
	r.SetFault("owner/aicr-evidence", registry.Fault{Status: http.StatusInternalServerError, Times: 1})
	if _, err := publish.Publish(context.Background(), target(r), build(t, goodSpec()), fs.signer(), signerID, signedAt, publish.AttachAuto); err != nil {
		t.Fatalf("Publish after one 500: %v", err)
	}
}

func TestPublisherConcurrent(t *testing.T) {
	for regName, api := range registryModes() {
		t.Run(regName, func(t *testing.T) {
			r := startRegistry(t, api)
			pub := publish.NewPublisher()
			var fs fakeSigner
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for i := range 16 {
				wg.Go(func() {
					spec := goodSpec()
					spec.RunID = fmt.Sprint(i)
					s, err := publish.BuildSummary(spec)
					if err != nil {
						errs <- err
						return
					}
					tgt := target(r)
					tgt.Tag = ""
					mode := []publish.AttachMode{publish.AttachAuto, publish.TagSchema}[i%2]
					p, err := pub.Publish(context.Background(), tgt, s, fs.signer(), signerID, signedAt, mode)
					if err != nil {
						errs <- err
						return
					}
					idx, err := remote.Referrers(digestRef(t, tgt, p.ManifestDigest))
					if err != nil {
						errs <- err
						return
					}
					if im, _ := idx.IndexManifest(); len(im.Manifests) != 1 {
						errs <- fmt.Errorf("%s: %d referrers", p.ManifestDigest, len(im.Manifests))
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

func TestPublishLegacyAttestation(t *testing.T) {
	ctx := context.Background()
	r := startRegistry(t, false)
	tgt := target(r)
	s := build(t, goodSpec())
	if _, err := publish.Publish(ctx, tgt, s, nil, publish.Identity{}, time.Time{}, publish.AttachAuto); err != nil {
		t.Fatal(err)
	}
	layer := func(i int) publish.LegacyLayer {
		return publish.LegacyLayer{
			Envelope:      []byte(fmt.Sprintf(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"c2lnLSVk%d"}]}`, i)),
			PredicateType: publish.PredicateLegacy,
			Certificate:   "-----BEGIN CERTIFICATE-----\nleaf\n-----END CERTIFICATE-----\n",
			Chain:         "-----BEGIN CERTIFICATE-----\nintermediate\n-----END CERTIFICATE-----\n",
			Bundle:        fmt.Sprintf(`{"SignedEntryTimestamp":"c2V0","Payload":{"logIndex":%d}}`, i),
		}
	}
	attDigest, err := publish.PublishLegacyAttestation(ctx, tgt, s.ManifestDigest, []publish.LegacyLayer{layer(1), layer(2)})
	if err != nil {
		t.Fatalf("PublishLegacyAttestation: %v", err)
	}

	att, _ := name.NewTag(tgt.Repository()+":sha256-"+s.ManifestDigest[7:]+".att", name.Insecure)
	desc, err := remote.Get(att)
	if err != nil {
		t.Fatalf("get %s: %v", att, err)
	}
	if desc.Digest.String() != attDigest {
		t.Errorf(".att digest %s, want %s", desc.Digest, attDigest)
	}
	m := decode[ociManifest](t, desc.Manifest)
	if m.MediaType != "application/vnd.oci.image.manifest.v1+json" || m.Config.MediaType != "application/vnd.oci.image.config.v1+json" {
		t.Errorf(".att manifest %s", desc.Manifest)
	}
	if len(m.Layers) != 2 {
		t.Fatalf(".att has %d layers, want 2", len(m.Layers))
	}
	for i, l := range m.Layers {
		want := layer(i + 1)
		if l.MediaType != "application/vnd.dsse.envelope.v1+json" {
			t.Errorf("layer %d media type %q", i, l.MediaType)
		}
		wantAnn := map[string]string{
			"dev.cosignproject.cosign/signature": "",
			"dev.sigstore.cosign/certificate":    want.Certificate,
			"dev.sigstore.cosign/chain":          want.Chain,
			"dev.sigstore.cosign/bundle":         want.Bundle,
			"predicateType":                      publish.PredicateLegacy,
		}
		for k, v := range wantAnn {
			if got, ok := l.Annotations[k]; !ok || got != v {
				t.Errorf("layer %d annotation %s = %q (present %v), want %q", i, k, got, ok, v)
			}
		}
		if got := blob(t, tgt, l.Digest); string(got) != string(want.Envelope) {
			t.Errorf("layer %d content %q", i, got)
		}
	}
	// The whole image pulls with the stock client (config, diff IDs).
	img, err := remote.Image(att)
	if err != nil {
		t.Fatal(err)
	}
	if cf, err := img.ConfigFile(); err != nil || len(cf.RootFS.DiffIDs) != 2 {
		t.Errorf("config %+v, %v", cf, err)
	}

	// Appending: the known layer is skipped, the new one added.
	if _, err := publish.PublishLegacyAttestation(ctx, tgt, s.ManifestDigest, []publish.LegacyLayer{layer(2), layer(3)}); err != nil {
		t.Fatal(err)
	}
	desc, err = remote.Get(att)
	if err != nil {
		t.Fatal(err)
	}
	if m := decode[ociManifest](t, desc.Manifest); len(m.Layers) != 3 {
		t.Errorf("after append: %d layers, want 3", len(m.Layers))
	}
}

func TestPublishLegacyAttestationRejects(t *testing.T) {
	r := startRegistry(t, false)
	ctx := context.Background()
	if _, err := publish.PublishLegacyAttestation(ctx, target(r), "sha256:nothex", []publish.LegacyLayer{{Envelope: []byte("{}")}}); err == nil {
		t.Error("bad digest accepted")
	}
	if _, err := publish.PublishLegacyAttestation(ctx, target(r), build(t, goodSpec()).ManifestDigest, nil); err == nil {
		t.Error("no layers accepted")
	}
}

// BenchmarkBuildAndPublish builds and publishes one signed summary bundle
// (fake signer, one reused Publisher, one repository) per iteration: the
// sandbox cost per pointer when generating 10 000 of them. The registry runs
// in the same process, so ns/op includes its CPU.
func BenchmarkBuildAndPublish(b *testing.B) {
	for regName, api := range registryModes() {
		b.Run(regName, func(b *testing.B) {
			r := startRegistry(b, api)
			tgt := target(r)
			tgt.Tag = ""
			sign := publish.SignerFunc(func(st []byte, id publish.Identity, at time.Time) ([]byte, int64, error) {
				return []byte(fakeBundle), 1, nil
			})
			ctx := context.Background()
			pub := publish.NewPublisher()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				spec := goodSpec()
				spec.RunID = fmt.Sprint(i)
				i++
				s, err := publish.BuildSummary(spec)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := pub.Publish(ctx, tgt, s, sign, signerID, signedAt, publish.AttachAuto); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(r.TotalRequests())/float64(i), "requests/op")
		})
	}
}

func BenchmarkBuildSummary(b *testing.B) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		spec := goodSpec()
		spec.RunID = fmt.Sprint(i)
		i++
		if _, err := publish.BuildSummary(spec); err != nil {
			b.Fatal(err)
		}
	}
}

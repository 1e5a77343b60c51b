package registry_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/registry"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
)

// mapStore is a registry.Store over objects held in memory, as the archive
// holds them on disk: manifests and blobs by digest, tags, referrers by
// their manifests' subject.
type mapStore struct {
	objects map[string]audit.Object
	tags    map[string]string
	fail    error
}

func newMapStore(objs ...audit.Object) *mapStore {
	s := &mapStore{objects: map[string]audit.Object{}, tags: map[string]string{}}
	for _, o := range objs {
		s.objects[o.Digest] = o
	}
	return s
}

func (s *mapStore) Name() string { return "map" }

func (s *mapStore) Manifest(_ context.Context, ref string) ([]byte, string, error) {
	if s.fail != nil {
		return nil, "", s.fail
	}
	if d, ok := s.tags[ref]; ok {
		ref = d
	}
	o, ok := s.objects[ref]
	if !ok || !o.Manifest {
		return nil, "", &registry.FetchError{Op: "get manifest", Ref: ref, Kind: registry.KindGone}
	}
	return o.Data, o.MediaType, nil
}

func (s *mapStore) Blob(_ context.Context, d registry.Descriptor) ([]byte, error) {
	o, ok := s.objects[d.Digest]
	if !ok {
		return nil, &registry.FetchError{Op: "get blob", Ref: d.Digest, Kind: registry.KindGone}
	}
	return o.Data, nil
}

func (s *mapStore) Referrers(_ context.Context, digest string) ([]registry.Descriptor, error) {
	var out []registry.Descriptor
	for _, o := range s.objects {
		var m struct {
			ArtifactType string               `json:"artifactType"`
			Subject      *registry.Descriptor `json:"subject"`
		}
		if !o.Manifest || json.Unmarshal(o.Data, &m) != nil || m.Subject == nil || m.Subject.Digest != digest {
			continue
		}
		out = append(out, registry.Descriptor{MediaType: o.MediaType, Digest: o.Digest, Size: o.Size(), ArtifactType: m.ArtifactType})
	}
	return out, nil
}

// checkObjects asserts every object's bytes match its digest and every
// blob a manifest names is among them: a copy of objs is whole.
func checkObjects(t *testing.T, what string, objs []audit.Object) {
	t.Helper()
	have := map[string]bool{}
	for _, o := range objs {
		if got := fmt.Sprintf("sha256:%x", sha256.Sum256(o.Data)); got != o.Digest {
			t.Errorf("%s: object %s holds bytes of %s", what, o.Digest, got)
		}
		have[o.Digest] = true
	}
	for _, o := range objs {
		if !o.Manifest {
			continue
		}
		var m struct {
			Config registry.Descriptor   `json:"config"`
			Layers []registry.Descriptor `json:"layers"`
		}
		if err := json.Unmarshal(o.Data, &m); err != nil {
			t.Fatalf("%s: manifest %s: %v", what, o.Digest, err)
		}
		for _, d := range append(m.Layers, m.Config) {
			if !have[d.Digest] {
				t.Errorf("%s: manifest %s names %s, which is not among the objects", what, o.Digest, d.Digest)
			}
		}
	}
}

// TestEvidenceObjects: FetchWhole keeps the raw objects of the summary and
// of every usable signature, whole and digest-true, and ReadEvidence reads
// the same evidence back from a Store holding only those objects. Fetch,
// the audit's, keeps the manifest and config, and Layer the layer when
// asked to: the same objects, the layer streamed.
func TestEvidenceObjects(t *testing.T) {
	modes(t, func(t *testing.T, w *world) {
		a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
		w.pushReferrer(t, "evidence/x", a.desc, "application/spdx+json", nil, [2]string{"application/spdx+json", `{"spdxVersion":"SPDX-2.3"}`})
		sig := w.pushReferrer(t, "evidence/x", a.desc, bundleV03, map[string]string{registry.AnnotationCreated: "2026-07-21T19:46:00Z"},
			[2]string{bundleV03, `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`})
		c, _ := w.client(t)
		ev, err := c.FetchWhole(context.Background(), w.host+"/evidence/x", a.digest)
		if err != nil {
			t.Fatal(err)
		}
		streamed, err := c.Fetch(context.Background(), w.host+"/evidence/x", a.digest)
		if err != nil {
			t.Fatal(err)
		}
		l, err := c.Layer(context.Background(), w.host+"/evidence/x", streamed, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(streamed.Objects) != 2 || l.Blob == nil ||
			!reflect.DeepEqual(append(streamed.Objects, *l.Blob), ev.Objects) || !reflect.DeepEqual(l.Files, ev.Files) {
			t.Errorf("Fetch and Layer: objects %v and blob %v, files %d; want FetchWhole's %v, files %d",
				refs(streamed.Objects), l.Blob != nil, len(l.Files), refs(ev.Objects), len(ev.Files))
		}
		l.Release()
		if len(ev.Objects) != 3 || ev.Objects[0].Digest != a.digest || !ev.Objects[0].Manifest || ev.Objects[2].Digest != a.layerDigest {
			t.Fatalf("summary objects %+v, want manifest, config, layer", refs(ev.Objects))
		}
		if len(ev.Signature.Objects) != 3 || ev.Signature.Objects[0].Digest != sig || ev.Signature.Objects[0].Digest != ev.Signature.ReferrerDigest {
			t.Fatalf("signature objects %+v, want the referrer %s, its config and bundle", refs(ev.Signature.Objects), sig)
		}
		all := append(append([]audit.Object{}, ev.Objects...), ev.Signature.Objects...)
		checkObjects(t, "fetched", all)

		st := newMapStore(all...)
		back, err := c.ReadEvidence(context.Background(), st, a.digest)
		if err != nil {
			t.Fatalf("ReadEvidence: %v", err)
		}
		if !bytes.Equal(back.Signature.BundleJSON, ev.Signature.BundleJSON) || back.Signature.ReferrerDigest != sig ||
			len(back.Files) != len(ev.Files) || back.Signature.Via != registry.ViaReferrersAPI {
			t.Errorf("read back: signature %s via %s, %d files; want %s via referrers-api, %d files",
				back.Signature.ReferrerDigest, back.Signature.Via, len(back.Files), sig, len(ev.Files))
		}
		checkObjects(t, "read back", append(back.Objects, back.Signature.Objects...))
	})
}

func refs(objs []audit.Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Digest+" "+o.MediaType)
	}
	return out
}

// TestReadEvidenceJudgesTheStore: a Store's wrong bytes are integrity
// failures and its missing objects gone, whatever the Store claims; an
// unclassified Store error is transient.
func TestReadEvidenceJudgesTheStore(t *testing.T) {
	w := newWorld(t, true)
	a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
	w.pushReferrer(t, "evidence/x", a.desc, bundleV03, nil, [2]string{bundleV03, `{"b":1}`})
	c, _ := w.client(t)
	ev, err := c.FetchWhole(context.Background(), w.host+"/evidence/x", a.digest)
	if err != nil {
		t.Fatal(err)
	}
	all := append(append([]audit.Object{}, ev.Objects...), ev.Signature.Objects...)

	flipped := newMapStore(all...)
	layer := flipped.objects[a.layerDigest]
	layer.Data = append([]byte{}, layer.Data...)
	layer.Data[len(layer.Data)/2] ^= 1
	flipped.objects[a.layerDigest] = layer
	_, err = c.ReadEvidence(context.Background(), flipped, a.digest)
	if fe := wantKind(t, err, registry.KindIntegrity); fe != nil && !errors.Is(err, audit.ErrIntegrity) {
		t.Errorf("flipped byte: %v does not match audit.ErrIntegrity", err)
	}

	missing := newMapStore(all...)
	delete(missing.objects, ev.Signature.Objects[2].Digest) // the bundle blob
	_, err = c.ReadEvidence(context.Background(), missing, a.digest)
	if err == nil || registry.KindOf(err) == registry.KindTransient {
		t.Errorf("bundle blob missing: %v, want no signature found (not transient)", err)
	}

	broken := newMapStore(all...)
	broken.fail = errors.New("disk on fire")
	_, err = c.ReadEvidence(context.Background(), broken, a.digest)
	wantKind(t, err, registry.KindTransient)
	if _, err := c.ReadEvidence(context.Background(), newMapStore(), a.digest); !errors.Is(err, audit.ErrGone) {
		t.Errorf("empty store: %v, want gone", err)
	}
}

// TestLegacyEvidenceObjects: a cosign .att image is kept whole (manifest,
// config, every DSSE layer) and read back by its tag.
func TestLegacyEvidenceObjects(t *testing.T) {
	w := newWorld(t, false)
	a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
	att, err := publish.PublishLegacyAttestation(context.Background(), publish.Target{Host: w.host, Repo: "evidence/x", PlainHTTP: true}, a.digest,
		[]publish.LegacyLayer{{Envelope: []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`), Certificate: "-----BEGIN CERTIFICATE-----\n"}})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := w.client(t)
	ev, err := c.FetchWhole(context.Background(), w.host+"/evidence/x", a.digest)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Signature.Kind != audit.CosignLegacy || len(ev.Signature.Objects) != 3 || ev.Signature.Objects[0].Digest != att {
		t.Fatalf("legacy objects %v (kind %s), want the .att manifest %s, its config and one layer", refs(ev.Signature.Objects), ev.Signature.Kind, att)
	}
	all := append(append([]audit.Object{}, ev.Objects...), ev.Signature.Objects...)
	checkObjects(t, "legacy", all)
	st := newMapStore(all...)
	st.tags[strings.Replace(a.digest, ":", "-", 1)+".att"] = att
	back, err := c.ReadEvidence(context.Background(), st, a.digest)
	if err != nil {
		t.Fatal(err)
	}
	if back.Signature.Kind != audit.CosignLegacy || len(back.Signature.Legacy) != 1 || back.Signature.Legacy[0].Certificate == "" {
		t.Errorf("read back %+v, want the legacy layer with its annotations", back.Signature)
	}
}

package publish_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
)

// Attach adds referrers beside Publish's own, in both discovery modes:
// listed for the subject, carrying the layer, media type and created time
// asked for, and, with OmitBlob, a manifest whose bundle blob is not
// served.
func TestAttach(t *testing.T) {
	for regName, api := range registryModes() {
		t.Run(regName, func(t *testing.T) {
			r := startRegistry(t, api)
			tgt := target(r)
			s := build(t, goodSpec())
			var fs fakeSigner
			pub, err := publish.Publish(context.Background(), tgt, s, fs.signer(), signerID, signedAt, publish.AttachAuto)
			if err != nil {
				t.Fatal(err)
			}
			pb := publish.NewPublisher()
			later := signedAt.Add(time.Hour)
			odd, err := pb.Attach(context.Background(), tgt, s, publish.Referrer{Bundle: []byte(`{"not":"a bundle"}`), MediaType: "application/json", At: later}, publish.AttachAuto)
			if err != nil {
				t.Fatalf("Attach: %v", err)
			}
			lost, err := pb.Attach(context.Background(), tgt, s, publish.Referrer{Bundle: []byte(fakeBundle + " "), At: later, OmitBlob: true}, publish.AttachAuto)
			if err != nil {
				t.Fatalf("Attach OmitBlob: %v", err)
			}

			idx, err := remote.Referrers(digestRef(t, tgt, s.ManifestDigest))
			if err != nil {
				t.Fatal(err)
			}
			im, _ := idx.IndexManifest()
			var got []string
			for _, d := range im.Manifests {
				got = append(got, d.Digest.String())
			}
			want := []string{pub.ReferrerDigest, odd, lost}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("referrers %v, want %v", got, want)
			}

			raw, err := remote.Get(digestRef(t, tgt, odd))
			if err != nil {
				t.Fatal(err)
			}
			var m struct {
				ArtifactType string `json:"artifactType"`
				Layers       []struct {
					MediaType string `json:"mediaType"`
					Digest    string `json:"digest"`
				} `json:"layers"`
				Annotations map[string]string `json:"annotations"`
			}
			if err := json.Unmarshal(raw.Manifest, &m); err != nil {
				t.Fatal(err)
			}
			if m.ArtifactType != publish.MediaTypeBundle || len(m.Layers) != 1 || m.Layers[0].MediaType != "application/json" ||
				m.Annotations[publish.AnnotationCreated] != later.UTC().Format(time.RFC3339) {
				t.Errorf("referrer manifest %s", raw.Manifest)
			}
			if got := string(blob(t, tgt, m.Layers[0].Digest)); got != `{"not":"a bundle"}` {
				t.Errorf("layer %q", got)
			}

			raw, err = remote.Get(digestRef(t, tgt, lost))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw.Manifest, &m); err != nil {
				t.Fatal(err)
			}
			resp, err := http.Get(r.URL() + "/v2/" + tgt.Repo + "/blobs/" + m.Layers[0].Digest)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("omitted blob: status %d, want 404", resp.StatusCode)
			}
		})
	}
}

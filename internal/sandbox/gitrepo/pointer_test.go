package gitrepo_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/gitrepo"
)

func ptr(i int64) *int64 { return &i }

// referencePointer returns a reference file's YAML body and the path named
// in its header comment.
func referencePointer(t *testing.T, name string) (body, path string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "pointers", name))
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.SplitAfter(string(raw), "\n") {
		if p, ok := strings.CutPrefix(l, "# recipes/"); ok {
			path = "recipes/" + strings.TrimSpace(p)
			continue
		}
		if !strings.HasPrefix(l, "#") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, ""), path
}

func TestPointerYAMLMatchesReference(t *testing.T) {
	tests := []struct {
		file   string
		fields gitrepo.PointerFields
	}{
		{
			file: "per-source-v1.yaml",
			fields: gitrepo.PointerFields{
				Recipe:        "h100-aks-ubuntu-inference-dynamo",
				AttestedAt:    time.Date(2026, 7, 21, 19, 45, 26, 0, time.UTC),
				OCI:           "ghcr.io/yuanchen8911/aicr-evidence:h100-aks-ubuntu-inference-dynamo-e3ef293218ba",
				Digest:        "sha256:edc042d2e32d58bde9bb0e7cfdaa14568a13c144fdf0869958a4d582f3fc8cfc",
				PredicateType: "https://aicr.run/recipe-evidence/v1",
				Identity:      "https://github.com/yuanchen8911/aicr/.github/workflows/evidence-publish.yaml@refs/heads/evidence/aks-h100-training-inference",
				Issuer:        "https://token.actions.githubusercontent.com",
				RekorLogIndex: ptr(35699965),
			},
		},
		{
			file: "per-source-v2-profile.yaml",
			fields: gitrepo.PointerFields{
				Recipe:        "gb200-gke-cos-inference-gpustack-bundle-installer",
				Profile:       "gpuStack=bundle-installer",
				AttestedAt:    time.Date(2026, 9, 16, 2, 31, 44, 0, time.FixedZone("CEST", 2*3600)),
				OCI:           "ghcr.io/mikecook/aicr-evidence:gb200-gke-cos-inference-gpustack-bundle-installer-6a41ec93f9ee",
				Digest:        "sha256:a60e5141bcfa079553d1595d2320e52a15afc1640c93398a8dfbb490fd9655c2",
				PredicateType: "https://aicr.run/recipe-evidence/v2",
				Identity:      "1082845+mikecook@users.noreply.github.com",
				Issuer:        "https://github.com/login/oauth",
				RekorLogIndex: ptr(111692565),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			want, wantPath := referencePointer(t, tt.file)
			if got := string(gitrepo.PointerYAML(tt.fields)); got != want {
				t.Errorf("PointerYAML:\n%s\nwant:\n%s", got, want)
			}
			f := tt.fields
			if got := gitrepo.PerSourcePath(f.Recipe, f.Issuer, f.Identity, f.Digest); got != wantPath {
				t.Errorf("PerSourcePath = %s, want %s", got, wantPath)
			}
		})
	}
}

func TestFlatPath(t *testing.T) {
	if got, want := gitrepo.FlatPath("h100-eks-ubuntu-inference-dynamo"), "recipes/evidence/h100-eks-ubuntu-inference-dynamo.yaml"; got != want {
		t.Errorf("FlatPath = %s, want %s", got, want)
	}
}

// pointerDoc is the schema as a reader sees it.
type pointerDoc struct {
	SchemaVersion string `yaml:"schemaVersion"`
	Recipe        string `yaml:"recipe"`
	Profile       string `yaml:"profile"`
	Attestations  []struct {
		AttestedAt string `yaml:"attestedAt"`
		Bundle     struct {
			OCI           string `yaml:"oci"`
			Digest        string `yaml:"digest"`
			PredicateType string `yaml:"predicateType"`
		} `yaml:"bundle"`
		Signer *struct {
			Identity      string `yaml:"identity"`
			Issuer        string `yaml:"issuer"`
			RekorLogIndex *int64 `yaml:"rekorLogIndex"`
		} `yaml:"signer"`
	} `yaml:"attestations"`
}

func TestPointerYAMLRoundTripsAwkwardValues(t *testing.T) {
	f := gitrepo.PointerFields{
		SchemaVersion: "1.0",
		Recipe:        "true",
		Profile:       "a: b # c",
		OCI:           "127.0.0.1:5000/x:y",
		Digest:        "sha256:0123",
		PredicateType: "'quoted'",
		Identity:      "line\nbreak",
		Issuer:        "@at",
	}
	var d pointerDoc
	if err := yaml.Unmarshal(gitrepo.PointerYAML(f), &d); err != nil {
		t.Fatalf("unmarshal: %v\n%s", err, gitrepo.PointerYAML(f))
	}
	a := d.Attestations[0]
	got := []string{d.SchemaVersion, d.Recipe, d.Profile, a.Bundle.OCI, a.Bundle.Digest, a.Bundle.PredicateType, a.Signer.Identity, a.Signer.Issuer}
	want := []string{f.SchemaVersion, f.Recipe, f.Profile, f.OCI, f.Digest, f.PredicateType, f.Identity, f.Issuer}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d = %q, want %q", i, got[i], want[i])
		}
	}
	if a.AttestedAt != "" || a.Signer.RekorLogIndex != nil {
		t.Errorf("zero AttestedAt/RekorLogIndex rendered: %+v", a)
	}
}

func TestPointerYAMLUnsigned(t *testing.T) {
	out := gitrepo.PointerYAML(gitrepo.PointerFields{Recipe: "r", Digest: "sha256:00", Unsigned: true,
		AttestedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	var d pointerDoc
	if err := yaml.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	if d.Attestations[0].Signer != nil {
		t.Errorf("unsigned pointer has a signer:\n%s", out)
	}
	if got, want := d.Attestations[0].AttestedAt, "2026-01-02T03:04:05Z"; got != want {
		t.Errorf("attestedAt = %s, want %s", got, want)
	}
}

// TestPointerYAMLDenormalized: the older pointer shape parses, with its
// extra keys listed, and stays a valid pointer otherwise.
func TestPointerYAMLDenormalized(t *testing.T) {
	f := gitrepo.PointerFields{
		Recipe: "h100-eks-ubuntu-training", AttestedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		OCI: "ghcr.io/acme/evidence:x", Digest: "sha256:" + strings.Repeat("ab", 32), PredicateType: "https://aicr.run/recipe-evidence/v1",
		Identity: "alice@example.com", Issuer: "https://github.com/login/oauth", RekorLogIndex: ptr(7), Denormalized: true,
	}
	out := gitrepo.PointerYAML(f)
	var doc struct {
		Attestations []struct {
			Fingerprint   map[string]string `yaml:"fingerprint"`
			CriteriaMatch map[string]bool   `yaml:"criteriaMatch"`
			PhaseSummary  map[string]struct {
				Passed, Failed int
			} `yaml:"phaseSummary"`
			Signer map[string]any `yaml:"signer"`
		} `yaml:"attestations"`
	}
	if err := yaml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	a := doc.Attestations[0]
	if a.Fingerprint["accelerator"] != "h100" || a.Fingerprint["service"] != "eks" || a.Fingerprint["os"] != "ubuntu" ||
		!a.CriteriaMatch["matched"] || len(a.PhaseSummary) != 3 || a.Signer["rekorLogIndex"] != 7 {
		t.Errorf("denormalized pointer:\n%s", out)
	}
}

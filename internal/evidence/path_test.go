package evidence_test

import (
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

func TestParsePath(t *testing.T) {
	const (
		slug = "5bf9e82f0e90a11528ac85f4bcb866c8"
		hex  = "edc042d2e32d58bde9bb0e7cfdaa14568a13c144fdf0869958a4d582f3fc8cfc"
	)
	tests := []struct {
		dir, path string
		ok        bool
		want      evidence.Location
	}{
		{"", "recipes/evidence/r1/" + slug + "/sha256-" + hex + ".yaml", true,
			evidence.Location{Layout: "per-source", Recipe: "r1", Source: slug, FileDigest: "sha256:" + hex}},
		{"recipes/evidence", "recipes/evidence/h100-eks.yaml", true, evidence.Location{Layout: "flat", Recipe: "h100-eks"}},
		{"recipes/evidence/", "recipes/evidence/h100-eks.yaml", true, evidence.Location{Layout: "flat", Recipe: "h100-eks"}},
		{"./recipes/evidence", "recipes/evidence/h100-eks.yaml", true, evidence.Location{Layout: "flat", Recipe: "h100-eks"}},
		{"ev", "ev/r.yaml", true, evidence.Location{Layout: "flat", Recipe: "r"}},
		// Not pointers.
		{"", "recipes/evidence/allowlist.yaml", false, evidence.Location{}},
		{"", "recipes/evidence/README.md", false, evidence.Location{}},
		{"", "recipes/evidence/.gitkeep", false, evidence.Location{}},
		{"", "recipes/evidence/r1/" + slug + "/notes.txt", false, evidence.Location{}},
		{"", "recipes/overlays/r1.yaml", false, evidence.Location{}},
		{"", "recipes/evidence.yaml", false, evidence.Location{}},
		{"", "recipes/evidence", false, evidence.Location{}},
		{"", "/recipes/evidence/r.yaml", false, evidence.Location{}},
		{"", `recipes\evidence\r.yaml`, false, evidence.Location{}},
		{"", "recipes/evidence/../overlays/r.yaml", false, evidence.Location{}},
		// Candidates that fit no layout: kept, with Layout "".
		{"", "recipes/evidence/r1.yml", true, evidence.Location{Recipe: "r1"}},
		{"", "recipes/evidence/r1/x.yaml", true, evidence.Location{Recipe: "r1"}},
		{"", "recipes/evidence/r1/allowlist.yaml", true, evidence.Location{Recipe: "r1"}},
		{"", "recipes/evidence/r1/" + slug + "/sha256-" + hex + ".yml", true, evidence.Location{Recipe: "r1", Source: slug}},
		{"", "recipes/evidence/r1/" + slug + "/sha256-EDC042.yaml", true, evidence.Location{Recipe: "r1", Source: slug}},
		{"", "recipes/evidence/r1/" + slug + "/sha256:" + hex + ".yaml", true, evidence.Location{Recipe: "r1", Source: slug}},
		{"", "recipes/evidence/r1/not-a-slug/sha256-" + hex + ".yaml", true, evidence.Location{Recipe: "r1", Source: "not-a-slug", FileDigest: "sha256:" + hex}},
		{"", "recipes/evidence/r1/" + slug + "/extra/sha256-" + hex + ".yaml", true, evidence.Location{Recipe: "r1"}},
		{"", "recipes/evidence/r1/" + slug + "/x.YAML", true, evidence.Location{Recipe: "r1", Source: slug}},
	}
	for _, tt := range tests {
		got, ok := evidence.ParsePath(tt.dir, tt.path)
		if ok && tt.ok {
			tt.want.Path = tt.path
		}
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParsePath(%q, %q):\n got %+v, %v\nwant %+v, %v", tt.dir, tt.path, got, ok, tt.want, tt.ok)
		}
	}
}

package evidence_test

import (
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

const (
	v1Path  = "recipes/evidence/h100-aks-ubuntu-inference-dynamo/5bf9e82f0e90a11528ac85f4bcb866c8/sha256-edc042d2e32d58bde9bb0e7cfdaa14568a13c144fdf0869958a4d582f3fc8cfc.yaml"
	v2Path  = "recipes/evidence/gb200-gke-cos-inference-gpustack-bundle-installer/2e85f8702c6214cafcc0ed714d928720/sha256-a60e5141bcfa079553d1595d2320e52a15afc1640c93398a8dfbb490fd9655c2.yaml"
	flatLeg = "recipes/evidence/h100-eks-ubuntu-inference-dynamo.yaml"
)

// kinds renders problems as "kind field" lines for comparison.
func kinds(ps []evidence.Problem) string {
	var b []string
	for _, p := range ps {
		b = append(b, string(p.Kind)+" "+p.Field)
	}
	return strings.Join(b, "; ")
}

// pathComment returns the path named in a fixture's header comment.
func pathComment(t *testing.T, data []byte) string {
	t.Helper()
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "# recipes/evidence/"); ok {
			return "recipes/evidence/" + strings.TrimSpace(rest)
		}
	}
	t.Fatal("fixture names no path")
	return ""
}

func TestInspectReal(t *testing.T) {
	tests := []struct {
		file, path, want, layout string
	}{
		{"per-source-v1.yaml", v1Path, "", "per-source"},
		{"per-source-v2-profile.yaml", v2Path, "", "per-source"},
		{"legacy-flat.yaml", flatLeg, "legacy-predicate attestations[0].bundle.predicateType", "flat"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := fixture(t, "pointers/"+tt.file)
			if got := pathComment(t, data); got != tt.path {
				t.Fatalf("fixture comment names %q, test uses %q", got, tt.path)
			}
			p, loc, problems := evidence.Inspect("", tt.path, data)
			if p == nil {
				t.Fatalf("pointer: got nil, problems %v", problems)
			}
			if got := kinds(problems); got != tt.want {
				t.Errorf("problems: got %q, want %q (%v)", got, tt.want, problems)
			}
			if got, want := loc.Layout, tt.layout; got != want {
				t.Errorf("layout: got %q, want %q", got, want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	base := func(t *testing.T) *evidence.Pointer {
		t.Helper()
		p, err := evidence.ParsePointer(fixture(t, "pointers/per-source-v1.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	loc, _ := evidence.ParsePath("", v1Path)
	flat, _ := evidence.ParsePath("", "recipes/evidence/h100-aks-ubuntu-inference-dynamo.yaml")
	tests := []struct {
		name   string
		loc    evidence.Location
		mutate func(p *evidence.Pointer)
		want   string
	}{
		{"clean", loc, nil, ""},
		{"clean flat", flat, nil, ""},
		{"unknown location skips placement", evidence.Location{}, func(p *evidence.Pointer) { p.Recipe = "other" }, ""},
		{"recipe directory", loc, func(p *evidence.Pointer) { p.Recipe = "other" }, "placement recipe"},
		{"source directory", loc, func(p *evidence.Pointer) { p.Attestations[0].Signer.Identity = "mallory@example.com" }, "placement attestations[0].signer"},
		{"issuer changes the slug", loc, func(p *evidence.Pointer) { p.Attestations[0].Signer.Issuer = "https://github.com/login/oauth" }, "placement attestations[0].signer"},
		{"file digest", loc, func(p *evidence.Pointer) {
			p.Attestations[0].Bundle.Digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
		}, "placement attestations[0].bundle.digest"},
		{"flat name", flat, func(p *evidence.Pointer) { p.Recipe = "other" }, "placement recipe"},
		{"no layout", evidence.Location{Path: "recipes/evidence/x/y.yaml", Recipe: "x"}, nil, "placement path"},
		{"v2 without profile", loc, func(p *evidence.Pointer) { p.Attestations[0].Bundle.PredicateType = evidence.PredicateTypeV2 }, "schema profile"},
		{"v3", loc, func(p *evidence.Pointer) { p.Attestations[0].Bundle.PredicateType = evidence.PredicateTypeV3 }, ""},
		{"unknown predicate", loc, func(p *evidence.Pointer) { p.Attestations[0].Bundle.PredicateType = "https://example.com/x" }, "schema attestations[0].bundle.predicateType"},
		{"legacy", loc, func(p *evidence.Pointer) { p.Attestations[0].Bundle.PredicateType = evidence.PredicateTypeLegacy }, "legacy-predicate attestations[0].bundle.predicateType"},
		{"profile incoherent", loc, func(p *evidence.Pointer) {
			p.Profile = "gpuStack=bundle-installer"
			p.Attestations[0].Bundle.PredicateType = evidence.PredicateTypeV3
		}, "schema profile"},
		{"unsigned", loc, func(p *evidence.Pointer) { p.Attestations[0].Signer = nil }, "unsigned attestations[0].signer"},
		{"no attestations", loc, func(p *evidence.Pointer) { p.Attestations = nil }, "schema attestations"},
		{"many at once", loc, func(p *evidence.Pointer) {
			p.Recipe = "other"
			p.Attestations[0].Signer = nil
			p.Attestations[0].Bundle.PredicateType = evidence.PredicateTypeLegacy
		}, "placement recipe; legacy-predicate attestations[0].bundle.predicateType; unsigned attestations[0].signer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base(t)
			if tt.mutate != nil {
				tt.mutate(p)
			}
			if got := kinds(evidence.Validate(tt.loc, p)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if got := evidence.Validate(evidence.Location{}, nil); got != nil {
		t.Errorf("Validate(zero, nil): got %v, want nil", got)
	}
}

func TestValidateProfiled(t *testing.T) {
	p, err := evidence.ParsePointer(fixture(t, "pointers/per-source-v2-profile.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := evidence.ParsePath("", v2Path)
	p.Recipe = "gb200-gke-cos-inference-gpustack-operator"
	loc.Recipe = p.Recipe
	if got, want := kinds(evidence.Validate(loc, p)), "schema profile"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}

	// A profiled pointer naming v1 evidence: v1 cannot carry the profile;
	// v3 can.
	p, _ = evidence.ParsePointer(fixture(t, "pointers/per-source-v2-profile.yaml"))
	loc, _ = evidence.ParsePath("", v2Path)
	p.Attestations[0].Bundle.PredicateType = evidence.PredicateTypeV1
	if got, want := kinds(evidence.Validate(loc, p)), "schema profile"; got != want {
		t.Errorf("v1 with profile: got %q, want %q", got, want)
	}
	p.Attestations[0].Bundle.PredicateType = evidence.PredicateTypeV3
	if got := evidence.Validate(loc, p); len(got) != 0 {
		t.Errorf("v3 with profile: got %v, want no problem", got)
	}
}

func TestInspect(t *testing.T) {
	v1 := fixture(t, "pointers/per-source-v1.yaml")
	tests := []struct {
		name, path string
		data       []byte
		wantNil    bool
		want       string
	}{
		{"parse error names field", v1Path, []byte(strings.Replace(string(v1), "rekorLogIndex: 35699965", "rekorLogIndex: -3", 1)), true,
			"schema attestations[0].signer.rekorLogIndex"},
		{"syntax error", v1Path, []byte("a: ["), true, "schema "},
		{"too large", v1Path, make([]byte, evidence.MaxPointerSize+1), true, "schema "},
		{"parse error and misplaced", "recipes/evidence/x/y.yaml", []byte("x: 1"), true, "schema schemaVersion; placement path"},
		{"not a pointer path", "recipes/evidence/allowlist.yaml", v1, false, "placement path"},
		{"outside the evidence dir", "docs/x.yaml", v1, false, "placement path"},
		{"unknown path", "", v1, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, problems := evidence.Inspect("", tt.path, tt.data)
			if (p == nil) != tt.wantNil {
				t.Errorf("pointer: got %v, want nil=%v", p, tt.wantNil)
			}
			if got := kinds(problems); got != tt.want {
				t.Errorf("problems: got %q, want %q (%v)", got, tt.want, problems)
			}
			for _, pr := range problems {
				if pr.Detail == "" {
					t.Errorf("problem %v has no detail", pr)
				}
			}
		})
	}
}

func FuzzInspect(f *testing.F) {
	for _, name := range []string{"per-source-v1.yaml", "per-source-v2-profile.yaml", "legacy-flat.yaml"} {
		data := fixture(f, "pointers/"+name)
		for _, l := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(l, "# recipes/evidence/"); ok {
				f.Add("recipes/evidence/"+rest, data)
			}
		}
	}
	f.Add("recipes/evidence/x/y/z/w.yaml", []byte(validPointer))
	f.Fuzz(func(t *testing.T, path string, data []byte) {
		p, loc, problems := evidence.Inspect("", path, data)
		valid := map[evidence.ProblemKind]bool{evidence.ProblemSchema: true, evidence.ProblemPlacement: true,
			evidence.ProblemLegacyPredicate: true, evidence.ProblemUnsigned: true}
		for _, pr := range problems {
			if !valid[pr.Kind] || pr.Detail == "" {
				t.Fatalf("bad problem %+v", pr)
			}
		}
		if p == nil && (len(problems) == 0 || problems[0].Kind != evidence.ProblemSchema) {
			t.Fatalf("no pointer but problems %v", problems)
		}
		if len(problems) == 0 && p != nil {
			// A clean pointer sits where its content says it should.
			a := p.Attestations[0]
			if a.Signer == nil {
				t.Fatal("clean but unsigned")
			}
			if loc.Layout == evidence.LayoutPerSource && (loc.Recipe != p.Recipe || loc.FileDigest != a.Bundle.Digest ||
				loc.Source != evidence.SourceSlug(a.Signer.Issuer, a.Signer.Identity)) {
				t.Fatalf("clean but misplaced: %+v", loc)
			}
			if era, ok := evidence.PredicateEra(a.Bundle.PredicateType); !ok || era == evidence.EraLegacy {
				t.Fatalf("clean with predicate type %q", a.Bundle.PredicateType)
			}
		}
	})
}

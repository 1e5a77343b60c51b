package evidence_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

func TestParseStatementReal(t *testing.T) {
	s, err := evidence.ParseStatement(fixture(t, "statement/valid.json"))
	if err != nil {
		t.Fatalf("ParseStatement: %v", err)
	}
	d, err := s.SubjectDigest()
	if err != nil {
		t.Fatal(err)
	}
	// The subject digest is the pointer's bundle.digest (SPEC §2.2).
	p, err := evidence.ParsePointer(fixture(t, "pointers/per-source-v1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d, p.Attestations[0].Bundle.Digest; got != want {
		t.Errorf("subject digest: got %s, want %s", got, want)
	}
	pr := s.Predicate
	if got, want := pr.AttestedAt, time.Date(2026, 7, 21, 19, 45, 26, 0, time.UTC); !got.Equal(want) {
		t.Errorf("attestedAt: got %v, want %v", got, want)
	}
	if got, want := pr.Recipe.Name, "h100-aks-ubuntu-inference-dynamo"; got != want {
		t.Errorf("recipe: got %q, want %q", got, want)
	}
	if got, want := pr.Phases["deployment"], (evidence.Phase{Passed: 12, Skipped: 1, CTRFDigest: "sha256:4444444444444444444444444444444444444444444444444444444444444444"}); got != want {
		t.Errorf("deployment: got %+v, want %+v", got, want)
	}
	if got, want := strings.Join(pr.FailedPhases(), ","), "performance"; got != want {
		t.Errorf("failed phases: got %q, want %q", got, want)
	}
	if got, want := pr.Manifest.FileCount, 6; got != want {
		t.Errorf("fileCount: got %d, want %d", got, want)
	}
	if !strings.Contains(string(s.RawPredicate), `"validator"`) {
		t.Error("raw predicate lost unknown fields")
	}

	s2, err := evidence.ParseStatement(fixture(t, "statement/v2-profile.json"))
	if err != nil {
		t.Fatalf("v2: %v", err)
	}
	want := evidence.PredicateProfile{Selection: "gpuStack=bundle-installer", Advertiser: "example-partner",
		PolicyDescriptorIdentity: "sha256:6666666666666666666666666666666666666666666666666666666666666666"}
	if got := s2.Predicate.Profile; got == nil || *got != want {
		t.Errorf("profile: got %+v, want %+v", got, want)
	}
	if got := s2.Predicate.ProfileSelection(); got != want.Selection {
		t.Errorf("ProfileSelection() = %q, want %q", got, want.Selection)
	}
	if s.Predicate.Profile != nil || s.Predicate.ProfileSelection() != "" {
		t.Errorf("v1 statement has profile %+v", s.Predicate.Profile)
	}
}

// TestParseStatementProfileEras: v3 may carry the profile block or not;
// its fields other than selection are optional.
func TestParseStatementProfileEras(t *testing.T) {
	v2 := string(fixture(t, "statement/v2-profile.json"))
	v3 := replace(t, v2, `"https://aicr.run/recipe-evidence/v2"`, `"https://aicr.run/recipe-evidence/v3"`)
	for name, in := range map[string]string{
		"v3 with profile":    v3,
		"v3 without profile": replace(t, v3, `"profile": {`, `"x": {`),
		"v2 selection only": replace(t, v2, `"advertiser": "example-partner",
      "policyDescriptorIdentity": "sha256:6666666666666666666666666666666666666666666666666666666666666666"`, `"policyDescriptorIdentity": ""`),
	} {
		t.Run(name, func(t *testing.T) {
			s, err := evidence.ParseStatement([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Predicate.ProfileSelection(); strings.Contains(in, `"profile": {`) != (got == "gpuStack=bundle-installer") {
				t.Errorf("selection %q", got)
			}
		})
	}
}

func TestParseStatementRejects(t *testing.T) {
	valid := string(fixture(t, "statement/valid.json"))
	v2 := string(fixture(t, "statement/v2-profile.json"))
	tests := []struct {
		name, base, old, new, field string
	}{
		{"wrong _type", valid, `"https://in-toto.io/Statement/v1"`, `"https://in-toto.io/Statement/v2"`, "_type"},
		{"missing _type", valid, `"_type": "https://in-toto.io/Statement/v1",`, ``, "_type"},
		{"no subject", valid, `"subject": [`, `"subject": [], "x": [`, "subject"},
		{"subject digest empty", valid, `"digest": {"sha256": "edc042d2e32d58bde9bb0e7cfdaa14568a13c144fdf0869958a4d582f3fc8cfc"}`, `"digest": {}`, "subject[0].digest"},
		{"subject digest short", valid, `"sha256": "edc042d2e32d58bde9bb0e7cfdaa14568a13c144fdf0869958a4d582f3fc8cfc"`, `"sha256": "edc0"`, "subject[0].digest.sha256"},
		{"subject digest prefixed", valid, `"sha256": "edc042d2e32d58bde9bb0e7cfdaa14568a13c144fdf0869958a4d582f3fc8cfc"`, `"sha256": "sha256:edc042d2e32d58bde9bb0e7cfdaa14568a13c144fdf0869958a4d582f3fc8c"`, "subject[0].digest.sha256"},
		{"subject digest uppercase", valid, `"sha256": "edc042d2e32d58bde9bb0e7cfdaa14568a13c144fdf0869958a4d582f3fc8cfc"`, `"sha256": "EDC042D2E32D58BDE9BB0E7CFDAA14568A13C144FDF0869958A4D582F3FC8CFC"`, "subject[0].digest.sha256"},
		{"missing predicateType", valid, `"predicateType": "https://aicr.run/recipe-evidence/v1",`, ``, "predicateType"},
		{"missing predicate", valid, `"predicate": {`, `"predicate": null, "x": {`, "predicate"},
		{"predicate not an object", valid, `"predicate": {`, `"predicate": "x", "x": {`, "predicate"},
		{"missing attestedAt", valid, `"attestedAt": "2026-07-21T19:45:26Z",`, ``, "predicate.attestedAt"},
		{"bad attestedAt", valid, `"2026-07-21T19:45:26Z"`, `"2026-07-21"`, "predicate.attestedAt"},
		{"missing recipe", valid, `"recipe": {`, `"x": {`, "predicate.recipe"},
		{"recipe digest prefixed", valid, `"digest": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"`, `"digest": "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"`, "predicate.recipe.digest"},
		{"recipe name missing", valid, `"name": "h100-aks-ubuntu-inference-dynamo", `, ``, "predicate.recipe.name"},
		{"recipe name bad", valid, `"name": "h100-aks-ubuntu-inference-dynamo"`, `"name": "../etc"`, "predicate.recipe.name"},
		{"missing phases", valid, `"phases": {`, `"x": {`, "predicate.phases"},
		{"negative failed", valid, `"failed": 1`, `"failed": -1`, "predicate.phases.performance.failed"},
		{"string passed", valid, `"passed": 3`, `"passed": "3"`, "predicate.phases.passed"},
		{"bare ctrfDigest", valid, `"ctrfDigest": "sha256:4444444444444444444444444444444444444444444444444444444444444444"`, `"ctrfDigest": "4444444444444444444444444444444444444444444444444444444444444444"`, "predicate.phases.deployment.ctrfDigest"},
		{"bad phase name", valid, `"deployment": {`, `"Deploy ment": {`, "predicate.phases.Deploy ment"},
		{"missing manifest", valid, `"manifest": {`, `"x": {`, "predicate.manifest"},
		{"bare manifest digest", valid, `"digest": "sha256:6666666666666666666666666666666666666666666666666666666666666666"`, `"digest": "6666666666666666666666666666666666666666666666666666666666666666"`, "predicate.manifest.digest"},
		{"missing fileCount", valid, `, "fileCount": 6`, ``, "predicate.manifest.fileCount"},
		{"negative fileCount", valid, `"fileCount": 6`, `"fileCount": -6`, "predicate.manifest.fileCount"},
		{"missing bom", valid, `"bom": {`, `"x": {`, "predicate.bom"},
		{"bad bom digest", valid, `"digest": "sha256:3333333333333333333333333333333333333333333333333333333333333333", "components"`, `"digest": "md5:33", "components"`, "predicate.bom.digest"},
		{"v2 without profile", v2, `"profile": {`, `"x": {`, "predicate.profile"},
		{"v1 with profile", v2, `"https://aicr.run/recipe-evidence/v2"`, `"https://aicr.run/recipe-evidence/v1"`, "predicate.profile"},
		{"profile as a string (not AICR's shape)", v2, `"profile": {`, `"profile": "gpuStack=bundle-installer", "x": {`, "predicate.profile"},
		{"profile without selection", v2, `"selection": "gpuStack=bundle-installer",`, ``, "predicate.profile.selection"},
		{"profile selection empty", v2, `"selection": "gpuStack=bundle-installer"`, `"selection": ""`, "predicate.profile.selection"},
		{"profile selection not name=value", v2, `"selection": "gpuStack=bundle-installer"`, `"selection": "gpuStack"`, "predicate.profile.selection"},
		{"profile selection incoherent with recipe", v2, `"selection": "gpuStack=bundle-installer"`, `"selection": "gpuStack=operator"`, "predicate.profile.selection"},
		{"profile selection not a string", v2, `"selection": "gpuStack=bundle-installer"`, `"selection": 7`, "predicate.profile.selection"},
		{"policyDescriptorIdentity bare hex", v2, `"policyDescriptorIdentity": "sha256:6666`, `"policyDescriptorIdentity": "6666`, "predicate.profile.policyDescriptorIdentity"},
		{"advertiser with control characters", v2, `"advertiser": "example-partner"`, `"advertiser": "example\u0007partner"`, "predicate.profile.advertiser"},
		{"trailing data", valid, "", "{}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := replace(t, tt.base, tt.old, tt.new)
			s, err := evidence.ParseStatement([]byte(in))
			if err == nil {
				t.Fatalf("got %+v, want an error", s)
			}
			if tt.field != "" {
				checkSchemaErr(t, err, tt.field)
			}
		})
	}
}

func TestParseStatementLenient(t *testing.T) {
	// A legacy or unknown predicate type need not carry the AICR fields,
	// but what it carries is checked.
	const legacy = `{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"name":"x","digest":{"sha256":"edc042d2e32d58bde9bb0e7cfdaa14568a13c144fdf0869958a4d582f3fc8cfc"}}],` +
		`"predicateType":"https://aicr.nvidia.com/recipe-evidence/v1","predicate":{"recipe":{"name":"r","digest":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}}}`
	s, err := evidence.ParseStatement([]byte(legacy))
	if err != nil {
		t.Fatalf("legacy: %v", err)
	}
	if got, want := s.Predicate.Recipe.Name, "r"; got != want {
		t.Errorf("recipe: got %q, want %q", got, want)
	}
	_, err = evidence.ParseStatement([]byte(strings.Replace(legacy, `"digest":"9f86`, `"digest":"sha256:9f86`, 1)))
	checkSchemaErr(t, err, "predicate.recipe.digest")
}

func TestSubjectDigest(t *testing.T) {
	s := &evidence.Statement{Subject: []evidence.Subject{{Digest: map[string]string{"sha512": strings.Repeat("a", 128)}}}}
	if _, err := s.SubjectDigest(); err == nil {
		t.Error("sha512-only subject: got no error")
	}
	if _, err := (&evidence.Statement{}).SubjectDigest(); err == nil {
		t.Error("no subject: got no error")
	}
	_, err := evidence.ParseStatement(make([]byte, evidence.MaxStatementSize+1))
	if !errors.Is(err, evidence.ErrTooLarge) {
		t.Errorf("got %v, want ErrTooLarge", err)
	}
}

func FuzzParseStatement(f *testing.F) {
	addSeeds(f, "statement")
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := evidence.ParseStatement(data)
		if err != nil {
			return
		}
		if len(s.Subject) == 0 || s.PredicateType == "" || len(s.RawPredicate) == 0 {
			t.Fatalf("accepted %+v", s)
		}
		if d, err := s.SubjectDigest(); err == nil && (len(d) != 71 || !strings.HasPrefix(d, "sha256:")) {
			t.Fatalf("subject digest %q", d)
		}
		p := s.Predicate
		for _, d := range []string{p.Manifest.Digest, p.BOM.Digest} {
			if d != "" && (len(d) != 71 || !strings.HasPrefix(d, "sha256:")) {
				t.Fatalf("accepted digest %q", d)
			}
		}
		if p.Recipe.Digest != "" && len(p.Recipe.Digest) != 64 {
			t.Fatalf("accepted recipe digest %q", p.Recipe.Digest)
		}
		for name, ph := range p.Phases {
			if name == "" || ph.Passed < 0 || ph.Failed < 0 || ph.Skipped < 0 {
				t.Fatalf("accepted phase %q %+v", name, ph)
			}
		}
		if era, _ := evidence.PredicateEra(s.PredicateType); era == evidence.EraV1 || era == evidence.EraV2 || era == evidence.EraV3 {
			if p.AttestedAt.IsZero() && !strings.Contains(string(data), "0001-01-01") || p.Recipe.Name == "" || p.Manifest.Digest == "" || p.BOM.Digest == "" || p.Phases == nil {
				t.Fatalf("accepted incomplete %v predicate %+v", era, p)
			}
		}
	})
}

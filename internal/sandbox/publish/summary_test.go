package publish_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
)

var attestedAt = time.Date(2026, 7, 21, 19, 45, 26, 0, time.UTC)

func goodSpec() publish.SummarySpec {
	return publish.SummarySpec{Recipe: "h100-aks-ubuntu-inference-dynamo", AttestedAt: attestedAt}
}

func build(tb testing.TB, spec publish.SummarySpec) *publish.Summary {
	tb.Helper()
	s, err := publish.BuildSummary(spec)
	if err != nil {
		tb.Fatalf("BuildSummary: %v", err)
	}
	return s
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

type tarFile struct {
	hdr  *tar.Header
	data []byte
}

// untar reads a tar+gzip layer into its entries, in order.
func untar(tb testing.TB, layer []byte) []tarFile {
	tb.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(layer))
	if err != nil {
		tb.Fatalf("gzip: %v", err)
	}
	tr := tar.NewReader(zr)
	var out []tarFile
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatalf("tar: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			tb.Fatalf("tar %s: %v", hdr.Name, err)
		}
		out = append(out, tarFile{hdr, data})
	}
	return out
}

func files(tb testing.TB, layer []byte) map[string][]byte {
	tb.Helper()
	m := map[string][]byte{}
	for _, f := range untar(tb, layer) {
		m[f.hdr.Name] = f.data
	}
	return m
}

func decode[T any](tb testing.TB, b []byte) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatalf("decode %T: %v\n%s", v, err, b)
	}
	return v
}

type ctrf struct {
	Results struct {
		Summary struct {
			Tests, Passed, Failed, Skipped, Pending, Other int
		} `json:"summary"`
		Tests []struct {
			Name, Status string
		} `json:"tests"`
	} `json:"results"`
}

// findings checks a built summary the way an auditor would, from the layer
// and the signed statement alone, and names every disagreement.
func findings(tb testing.TB, s *publish.Summary, statement []byte) []string {
	tb.Helper()
	var out []string
	fs := files(tb, s.Layer)
	inv := decode[publish.Inventory](tb, fs["manifest.json"])
	for _, e := range inv.Files {
		data, ok := fs[e.Path]
		switch {
		case !ok:
			out = append(out, "inventory: missing "+e.Path)
		case "sha256:"+sha(data) != e.SHA256:
			out = append(out, "inventory: hash "+e.Path)
		case int64(len(data)) != e.Size:
			out = append(out, "inventory: size "+e.Path)
		}
	}
	st := decode[publish.Statement](tb, statement)
	if st.Subject[0].Digest["sha256"] != s.ManifestDigest[len("sha256:"):] {
		out = append(out, "subject")
	}
	p := st.Predicate
	if p.Recipe.Name != s.Spec.Recipe {
		out = append(out, "recipe name")
	}
	if d, err := evidence.RecipeDigest(fs["recipe.yaml"], st.PredicateType); err != nil || p.Recipe.Digest != d {
		out = append(out, "recipe digest")
	}
	if p.Manifest.Digest != "sha256:"+sha(fs["manifest.json"]) || p.Manifest.FileCount != len(inv.Files) {
		out = append(out, "manifest digest")
	}
	if p.BOM.Digest != "sha256:"+sha(fs["bom.cdx.json"]) {
		out = append(out, "bom digest")
	}
	for _, phase := range publish.Phases {
		got, ok := p.Phases[phase]
		data := fs["ctrf/"+phase+".json"]
		if !ok || got.CTRFDigest != "sha256:"+sha(data) {
			out = append(out, "ctrf digest "+phase)
			continue
		}
		c := decode[ctrf](tb, data)
		if c.Results.Summary.Passed != got.Passed || c.Results.Summary.Failed != got.Failed || c.Results.Summary.Skipped != got.Skipped {
			out = append(out, "ctrf counts "+phase)
		}
		if got.Failed > 0 {
			out = append(out, "failed "+phase)
		}
	}
	if st.PredicateType != publish.PredicateV3 {
		out = append(out, "predicate type "+st.PredicateType)
	}
	if p.Profile != nil {
		out = append(out, "profile "+p.Profile.Selection)
	}
	sort.Strings(out)
	return out
}

func TestBuildSummaryLayout(t *testing.T) {
	s := build(t, goodSpec())

	entries := untar(t, s.Layer)
	var names []string
	for _, e := range entries {
		names = append(names, e.hdr.Name)
		if e.hdr.Typeflag != tar.TypeReg || e.hdr.Mode != 0o644 || e.hdr.Uid != 0 || e.hdr.Gid != 0 || !e.hdr.ModTime.Equal(attestedAt) {
			t.Errorf("%s: header %+v, want regular file 0644 0:0 at %v", e.hdr.Name, e.hdr, attestedAt)
		}
	}
	want := []string{"recipe.yaml", "snapshot.yaml", "bom.cdx.json", "ctrf/deployment.json", "ctrf/performance.json", "ctrf/conformance.json", "manifest.json", "statement.intoto.json"}
	if !slices.Equal(names, want) {
		t.Errorf("layer files %v, want %v", names, want)
	}

	fs := files(t, s.Layer)
	inv := decode[publish.Inventory](t, fs["manifest.json"])
	if inv.SchemaVersion != "1.0.0" {
		t.Errorf("manifest.json schemaVersion %q", inv.SchemaVersion)
	}
	var listed []string
	for _, e := range inv.Files {
		listed = append(listed, e.Path)
		if e.MediaType == "" {
			t.Errorf("%s: no mediaType", e.Path)
		}
	}
	wantListed := []string{"bom.cdx.json", "ctrf/conformance.json", "ctrf/deployment.json", "ctrf/performance.json", "recipe.yaml", "snapshot.yaml"}
	if !slices.Equal(listed, wantListed) {
		t.Errorf("manifest.json lists %v, want %v (sorted; neither itself nor the statement)", listed, wantListed)
	}
	if got := findings(t, s, s.Statement("127.0.0.1:1/owner/evidence")); len(got) != 0 {
		t.Errorf("good summary has findings %v", got)
	}
	if got, want := len(s.Files), len(entries); got != want {
		t.Errorf("Summary.Files has %d entries, layer %d", got, want)
	}

	// The in-layer statement: same predicate, subject manifest.json.
	in := decode[publish.Statement](t, fs["statement.intoto.json"])
	signed := decode[publish.Statement](t, s.Statement("127.0.0.1:1/owner/evidence"))
	if got, want := in.Subject, []publish.Subject{{Name: "manifest.json", Digest: map[string]string{"sha256": sha(fs["manifest.json"])}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("in-layer subject %+v, want %+v", got, want)
	}
	if got, want := signed.Subject, []publish.Subject{{Name: "127.0.0.1:1/owner/evidence", Digest: map[string]string{"sha256": s.ManifestDigest[7:]}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("signed subject %+v, want %+v", got, want)
	}
	if !reflect.DeepEqual(in.Predicate, signed.Predicate) || in.PredicateType != signed.PredicateType {
		t.Errorf("predicates differ:\nin-layer %+v\nsigned   %+v", in, signed)
	}
	if in.Type != "https://in-toto.io/Statement/v1" {
		t.Errorf("_type %q", in.Type)
	}
	p := signed.Predicate
	if p.AttestedAt != "2026-07-21T19:45:26Z" {
		t.Errorf("attestedAt %q", p.AttestedAt)
	}
	if len(p.Recipe.Digest) != 64 {
		t.Errorf("recipe.digest %q, want bare hex", p.Recipe.Digest)
	}
	if p.BOM.Format != "CycloneDX" || p.BOM.Version != "1.6" || p.BOM.ImageCount != 3 || p.Manifest.FileCount != 6 {
		t.Errorf("bom %+v manifest %+v", p.BOM, p.Manifest)
	}
	if got, want := p.Phases["conformance"], (publish.PhaseResult{Passed: 4, Skipped: 1, CTRFDigest: p.Phases["conformance"].CTRFDigest}); got != want {
		t.Errorf("conformance %+v, want %+v", got, want)
	}

	// CycloneDX and CTRF are the real formats.
	bom := decode[map[string]any](t, fs["bom.cdx.json"])
	if bom["bomFormat"] != "CycloneDX" || bom["specVersion"] != p.BOM.Version || len(bom["components"].([]any)) != p.BOM.ImageCount {
		t.Errorf("bom.cdx.json: %v", bom)
	}
	c := decode[ctrf](t, fs["ctrf/deployment.json"])
	if s := c.Results.Summary; s.Tests != len(c.Results.Tests) || s.Tests != s.Passed+s.Failed+s.Skipped || s.Tests == 0 {
		t.Errorf("ctrf summary %+v for %d tests", s, len(c.Results.Tests))
	}
}

type ociManifest struct {
	SchemaVersion int
	MediaType     string
	ArtifactType  string
	Config        struct {
		MediaType, Digest string
		Size              int64
	}
	Layers []struct {
		MediaType, Digest string
		Size              int64
		Annotations       map[string]string
	}
	Subject *struct {
		MediaType, Digest string
		Size              int64
	}
	Annotations map[string]string
}

func TestBuildSummaryOCIManifest(t *testing.T) {
	s := build(t, goodSpec())
	m := decode[ociManifest](t, s.Manifest)
	if m.SchemaVersion != 2 || m.MediaType != "application/vnd.oci.image.manifest.v1+json" || m.ArtifactType != publish.ArtifactTypeSummary {
		t.Errorf("manifest header %+v", m)
	}
	if m.Config.MediaType != "application/vnd.oci.empty.v1+json" || m.Config.Size != 2 || m.Config.Digest != "sha256:"+sha([]byte("{}")) {
		t.Errorf("config %+v, want the empty descriptor", m.Config)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" ||
		m.Layers[0].Digest != s.LayerDigest || m.Layers[0].Size != int64(len(s.Layer)) || s.LayerDigest != "sha256:"+sha(s.Layer) {
		t.Errorf("layers %+v", m.Layers)
	}
	if m.Subject != nil {
		t.Errorf("summary manifest has a subject")
	}
	if s.ManifestDigest != "sha256:"+sha(s.Manifest) {
		t.Errorf("ManifestDigest %s is not the digest of Manifest", s.ManifestDigest)
	}
	if d := s.Descriptor(); d.Digest.String() != s.ManifestDigest || d.Size != int64(len(s.Manifest)) {
		t.Errorf("Descriptor %+v", d)
	}
}

func TestBuildSummaryDeterministic(t *testing.T) {
	a := build(t, goodSpec())
	b := build(t, goodSpec())
	if a.ManifestDigest != b.ManifestDigest || !bytes.Equal(a.Layer, b.Layer) {
		t.Errorf("same spec, different digests: %s %s", a.ManifestDigest, b.ManifestDigest)
	}
	// The gzip header carries no time and no name.
	if mtime := a.Layer[4:8]; !bytes.Equal(mtime, []byte{0, 0, 0, 0}) || a.Layer[3]&0x08 != 0 {
		t.Errorf("gzip header %x carries a time or a name", a.Layer[:10])
	}
	// A time zone or sub-second part does not change anything.
	spec := goodSpec()
	spec.AttestedAt = attestedAt.In(time.FixedZone("X", 3600)).Add(400 * time.Millisecond)
	if c := build(t, spec); c.ManifestDigest != a.ManifestDigest {
		t.Errorf("time zone changed the digest")
	}

	for name, mod := range map[string]func(*publish.SummarySpec){
		"RunID":      func(s *publish.SummarySpec) { s.RunID = "run-2" },
		"AttestedAt": func(s *publish.SummarySpec) { s.AttestedAt = s.AttestedAt.Add(time.Second) },
		"Recipe":     func(s *publish.SummarySpec) { s.Recipe = "gb200-eks-ubuntu-training" },
	} {
		spec := goodSpec()
		mod(&spec)
		if c := build(t, spec); c.ManifestDigest == a.ManifestDigest {
			t.Errorf("%s: digest unchanged", name)
		}
	}
}

func TestBuildSummaryBadCases(t *testing.T) {
	good := build(t, goodSpec())
	tests := []struct {
		name string
		mod  func(*publish.SummarySpec)
		want []string
		// sameLayer: the option must not touch the layer at all.
		sameLayer bool
	}{
		{"failed phases", func(s *publish.SummarySpec) { s.FailedPhases = map[string]int{"performance": 2} }, []string{"failed performance"}, false},
		{"wrong hash", func(s *publish.SummarySpec) { s.BreakInventory = publish.InventoryWrongHash }, []string{"inventory: hash recipe.yaml"}, false},
		{"missing file", func(s *publish.SummarySpec) { s.BreakInventory = publish.InventoryMissingFile }, []string{"inventory: missing snapshot.yaml"}, false},
		{"wrong subject", func(s *publish.SummarySpec) { s.WrongSubject = true }, []string{"subject"}, true},
		{"predicate recipe", func(s *publish.SummarySpec) { s.PredicateRecipe = "someone-elses-recipe" }, []string{"recipe name"}, false},
		{"perturbed recipe digest", func(s *publish.SummarySpec) { s.PerturbRecipeDigest = true }, []string{"recipe digest"}, false},
		{"profile", func(s *publish.SummarySpec) {
			s.Profile = "gpuStack=bundle-installer"
			s.PredicateType = publish.PredicateV2
		}, []string{"predicate type " + publish.PredicateV2, "profile gpuStack=bundle-installer"}, false},
		{"legacy predicate", func(s *publish.SummarySpec) { s.PredicateType = publish.PredicateLegacy }, []string{"predicate type " + publish.PredicateLegacy}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := goodSpec()
			tt.mod(&spec)
			s := build(t, spec)
			if got := findings(t, s, s.Statement("r/x")); !slices.Equal(got, tt.want) {
				t.Errorf("findings %q, want %q", got, tt.want)
			}
			if same := s.ManifestDigest == good.ManifestDigest; same != tt.sameLayer {
				t.Errorf("manifest digest unchanged = %v, want %v", same, tt.sameLayer)
			}
		})
	}
}

func TestBuildSummaryFailedPhaseCounts(t *testing.T) {
	spec := goodSpec()
	spec.FailedPhases = map[string]int{"deployment": 1, "conformance": 3}
	s := build(t, spec)
	for phase, want := range map[string]int{"deployment": 1, "performance": 0, "conformance": 3} {
		if got := s.Predicate.Phases[phase].Failed; got != want {
			t.Errorf("%s failed = %d, want %d", phase, got, want)
		}
	}
}

func TestBuildSummaryRejects(t *testing.T) {
	for name, spec := range map[string]publish.SummarySpec{
		"no recipe":     {AttestedAt: attestedAt},
		"no time":       {Recipe: "r"},
		"unknown phase": {Recipe: "r", AttestedAt: attestedAt, FailedPhases: map[string]int{"smoke": 1}},
		"negative":      {Recipe: "r", AttestedAt: attestedAt, FailedPhases: map[string]int{"deployment": -1}},
		"break":         {Recipe: "r", AttestedAt: attestedAt, BreakInventory: 9},
	} {
		if _, err := publish.BuildSummary(spec); !errors.Is(err, publish.ErrSpec) {
			t.Errorf("%s: err = %v, want ErrSpec", name, err)
		}
	}
}

func TestRecipeYAMLOverride(t *testing.T) {
	spec := goodSpec()
	spec.RecipeYAML = []byte("# hand-written\nkind: Recipe\nmetadata: {version: v1, name: r}\n")
	s := build(t, spec)
	if got := files(t, s.Layer)["recipe.yaml"]; !bytes.Equal(got, spec.RecipeYAML) {
		t.Errorf("recipe.yaml = %q", got)
	}
	// v3 (the default): canonical text without metadata.version.
	if want := sha([]byte("kind: Recipe\nmetadata: {name: r}\n")); s.Predicate.Recipe.Digest != want {
		t.Errorf("recipe digest %s, want the v3 canonical digest %s", s.Predicate.Recipe.Digest, want)
	}
	spec.PredicateType = publish.PredicateV1
	if want := sha([]byte("kind: Recipe\nmetadata: {name: r, version: v1}\n")); build(t, spec).Predicate.Recipe.Digest != want {
		t.Errorf("v1 recipe digest is not the v1 canonical digest %s", want)
	}
	spec.RecipeYAML = []byte("a: [\n")
	if _, err := publish.BuildSummary(spec); !errors.Is(err, publish.ErrSpec) {
		t.Errorf("unparsable recipe.yaml: err = %v, want ErrSpec", err)
	}
}

// TestBuildSummaryAICRPredicate: the signed predicate has the fields AICR
// writes (reference/statements/v2-profile.json), in sorted key order, and
// recipe.yaml is a RecipeResult whose canonical digest it signs.
func TestBuildSummaryAICRPredicate(t *testing.T) {
	spec := publish.SummarySpec{Recipe: "gb200-gke-cos-inference-dynamo-gpustack-bundle-installer", AttestedAt: attestedAt,
		Profile: "gpuStack=bundle-installer", ProfileAdvertiser: "example-partner", PredicateType: publish.PredicateV2, Redacted: true}
	s := build(t, spec)
	var st struct {
		Predicate map[string]json.RawMessage `json:"predicate"`
	}
	raw := s.Statement("r/x")
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range st.Predicate {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"aicrVersion", "attestedAt", "bom", "criteriaMatch", "fingerprint", "manifest", "phases", "profile",
		"recipe", "redaction", "schemaVersion", "validatorCatalogVersion", "validatorImages"}
	if !slices.Equal(keys, want) {
		t.Errorf("predicate keys %v, want %v", keys, want)
	}
	if i, j := bytes.Index(raw, []byte(`"aicrVersion"`)), bytes.Index(raw, []byte(`"validatorImages"`)); i < 0 || j < i {
		t.Errorf("predicate keys are not in sorted order:\n%s", raw)
	}
	p := s.Predicate
	if p.Profile == nil || p.Profile.Selection != spec.Profile || p.Profile.Advertiser != "example-partner" ||
		!strings.HasPrefix(p.Profile.PolicyDescriptorIdentity, "sha256:") || len(p.Profile.PolicyDescriptorIdentity) != 71 {
		t.Errorf("profile block %+v", p.Profile)
	}
	if p.Redaction == nil || p.Redaction.Policy != "minimal" {
		t.Errorf("redaction %+v", p.Redaction)
	}
	if p.Fingerprint["accelerator"].Value != "gb200" || p.Fingerprint["service"].Value != "gke" || p.Fingerprint["os"].Value != "cos" ||
		!p.CriteriaMatch.Matched || len(p.ValidatorImages) != 3 || p.SchemaVersion != "1.0.0" {
		t.Errorf("fingerprint %+v, criteria %+v, images %+v", p.Fingerprint, p.CriteriaMatch, p.ValidatorImages)
	}
	// The evidence package reads it as AICR's statement.
	parsed, err := evidence.ParseStatement(raw)
	if err != nil {
		t.Fatalf("ParseStatement: %v", err)
	}
	if got := parsed.Predicate.ProfileSelection(); got != spec.Profile {
		t.Errorf("parsed selection %q", got)
	}

	recipe := string(files(t, s.Layer)["recipe.yaml"])
	for _, w := range []string{"kind: RecipeResult\n", "  version: ", "  selectedProfile:\n    name: gpuStack\n    value: bundle-installer\n",
		"  accelerator: gb200\n", "  intent: inference\n", "  platform: dynamo\n", "deploymentOrder:\n"} {
		if !strings.Contains(recipe, w) {
			t.Errorf("recipe.yaml lacks %q:\n%s", w, recipe)
		}
	}
	if p.Recipe.Digest == sha([]byte(recipe)) {
		t.Error("recipe digest is the raw file's sha256, not the canonical digest")
	}
	// Without a profile, neither the recipe nor the predicate has one.
	plain := build(t, goodSpec())
	if plain.Predicate.Profile != nil || plain.Predicate.Redaction != nil ||
		strings.Contains(string(files(t, plain.Layer)["recipe.yaml"]), "selectedProfile") {
		t.Errorf("unprofiled summary carries a profile or redaction")
	}
}

package publish

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

// Predicate types by era (SPEC §2.1). PredicateLegacy is the pre-migration
// form an auditor reports as its own class.
const (
	PredicateV1     = "https://aicr.run/recipe-evidence/v1"
	PredicateV2     = "https://aicr.run/recipe-evidence/v2" // requires a profile
	PredicateV3     = "https://aicr.run/recipe-evidence/v3" // current
	PredicateLegacy = "https://aicr.nvidia.com/recipe-evidence/v1"
)

// StatementType is the in-toto Statement v1 _type.
const StatementType = "https://in-toto.io/Statement/v1"

// OCI media and artifact types of a summary bundle and its referrer.
const (
	ArtifactTypeSummary = "application/vnd.aicr.evidence.summary.v1"
	MediaTypeEmpty      = "application/vnd.oci.empty.v1+json"
	MediaTypeLayer      = string(types.OCILayer) // tar+gzip
	MediaTypeBundle     = "application/vnd.dev.sigstore.bundle.v0.3+json"
	MediaTypeDSSE       = "application/vnd.dsse.envelope.v1+json"
)

// Annotation keys written on manifests and layers.
const (
	AnnotationCreated       = "org.opencontainers.image.created"
	AnnotationTitle         = "org.opencontainers.image.title"
	AnnotationBundleContent = "dev.sigstore.bundle.content"
	AnnotationPredicateType = "dev.sigstore.bundle.predicateType"
)

// Names of the files in the summary layer that are not CTRF reports.
const (
	FileRecipe    = "recipe.yaml"
	FileSnapshot  = "snapshot.yaml"
	FileBOM       = "bom.cdx.json"
	FileInventory = "manifest.json"
	FileStatement = "statement.intoto.json"
)

// CTRFPath returns the layer path of a phase's CTRF report.
func CTRFPath(phase string) string { return "ctrf/" + phase + ".json" }

// emptyConfig is the OCI empty JSON blob and its descriptor.
var (
	emptyConfig     = []byte("{}")
	emptyConfigHash = v1.Hash{Algorithm: "sha256", Hex: sha256Hex(emptyConfig)}
)

// InventoryBreak selects how BuildSummary breaks manifest.json; the zero
// value keeps it intact.
type InventoryBreak int

const (
	// InventoryIntact: manifest.json lists every file with its true size and hash.
	InventoryIntact InventoryBreak = iota
	// InventoryWrongHash: the entry for recipe.yaml carries a wrong sha256
	// (its size stays right).
	InventoryWrongHash
	// InventoryMissingFile: snapshot.yaml is listed, correctly, but left out
	// of the tar.
	InventoryMissingFile
)

// SummarySpec describes one summary bundle. Only Recipe and AttestedAt are
// required; the zero value of every other field is the good case.
type SummarySpec struct {
	// Recipe is the recipe name (for a profiled recipe, the full name ending
	// in -<name>-<value>).
	Recipe string
	// Profile is the optional profile selection, e.g.
	// "gpuStack=bundle-installer": recipe.yaml then carries
	// metadata.selectedProfile and the predicate a profile block (ADR-015),
	// whatever the predicate type (a v1 predicate carrying one is a bad
	// case).
	Profile string
	// ProfileAdvertiser is the profile block's optional advertiser.
	ProfileAdvertiser string
	// PredicateType defaults to PredicateV3.
	PredicateType string
	// AttestedAt is the end of the validation run: predicate.attestedAt, the
	// CTRF times and the tar header times. Truncated to seconds, UTC.
	AttestedAt time.Time
	// RunID, when set, is written into snapshot.yaml, the CTRF reports and
	// the BOM serial number, so runs of one recipe at one time differ.
	RunID string
	// RecipeYAML replaces the generated recipe.yaml.
	RecipeYAML []byte

	// FailedPhases adds that many failed tests to a phase (keys from Phases):
	// a valid bundle recording a known failure.
	FailedPhases map[string]int
	// BreakInventory makes manifest.json disagree with the layer.
	BreakInventory InventoryBreak
	// WrongSubject makes the signed statement name a digest other than the
	// summary manifest's (digest substitution). The in-layer statement is
	// unaffected.
	WrongSubject bool
	// PredicateRecipe, when set, is the predicate's recipe.name instead of
	// Recipe (recipe mismatch); recipe.yaml still names Recipe.
	PredicateRecipe string
	// PerturbRecipeDigest signs a predicate.recipe.digest that is not the
	// canonical digest of the bundle's recipe.yaml (its last hex digit
	// changed): the statement describes another recipe than the bundle
	// holds. The inventory stays intact.
	PerturbRecipeDigest bool
	// Redacted records a minimal bundle's redaction block in the predicate
	// (AICR omits it for full bundles).
	Redacted bool
}

// File is one file of the summary layer.
type File struct {
	Path      string
	MediaType string
	Data      []byte
}

// Summary is a built summary bundle: every byte that Publish pushes, except
// the Sigstore bundle.
type Summary struct {
	// Spec is the normalised spec it was built from.
	Spec SummarySpec
	// Files are the layer's files in tar order (manifest.json and
	// statement.intoto.json last).
	Files []File
	// Inventory is manifest.json; Predicate the predicate of both statements.
	Inventory []byte
	Predicate Predicate
	// LayerStatement is statement.intoto.json, the pre-push statement whose
	// subject is manifest.json.
	LayerStatement []byte
	// Layer is the tar+gzip layer blob.
	Layer       []byte
	LayerDigest string // "sha256:<hex>"
	// Manifest is the OCI image manifest; ManifestDigest its digest, the
	// pointer's bundle.digest.
	Manifest       []byte
	ManifestDigest string
}

// Predicate is the AICR recipe-evidence predicate (SPEC §2.2), field for
// field as AICR's pkg/evidence/attestation writes it. The fields are
// declared in the order of their JSON names: AICR signs protojson output of
// a structpb.Struct, whose keys come out sorted, and so do these.
type Predicate struct {
	AICRVersion             string                 `json:"aicrVersion"`
	AttestedAt              string                 `json:"attestedAt"`
	BOM                     BOMRef                 `json:"bom"`
	CriteriaMatch           CriteriaMatch          `json:"criteriaMatch"`
	Fingerprint             map[string]Dimension   `json:"fingerprint"`
	Manifest                InventoryRef           `json:"manifest"`
	Phases                  map[string]PhaseResult `json:"phases"`
	Profile                 *ProfileBlock          `json:"profile,omitempty"`
	Recipe                  RecipeRef              `json:"recipe"`
	Redaction               *Redaction             `json:"redaction,omitempty"`
	SchemaVersion           string                 `json:"schemaVersion"`
	ValidatorCatalogVersion string                 `json:"validatorCatalogVersion"`
	ValidatorImages         []ValidatorImage       `json:"validatorImages"`
}

// RecipeRef names the recipe; Digest is the bare hex canonical recipe
// digest (evidence.RecipeDigest for the predicate type).
type RecipeRef struct {
	Digest string `json:"digest"`
	Name   string `json:"name"`
}

// PhaseResult are a phase's test counts and the digest of its CTRF report.
type PhaseResult struct {
	CTRFDigest string `json:"ctrfDigest"`
	Failed     int    `json:"failed"`
	Passed     int    `json:"passed"`
	Skipped    int    `json:"skipped"`
}

// InventoryRef pins manifest.json: its digest and how many files it lists.
type InventoryRef struct {
	Digest    string `json:"digest"`
	FileCount int    `json:"fileCount"`
}

// BOMRef pins bom.cdx.json.
type BOMRef struct {
	Digest     string `json:"digest"`
	Format     string `json:"format"`
	ImageCount int    `json:"imageCount"`
	Version    string `json:"version"`
}

// ProfileBlock is the predicate's profile identity (ADR-015).
type ProfileBlock struct {
	Advertiser               string `json:"advertiser,omitempty"`
	PolicyDescriptorIdentity string `json:"policyDescriptorIdentity"`
	Selection                string `json:"selection"`
}

// Dimension is one fingerprint dimension measured on the cluster.
type Dimension struct {
	Value   string `json:"value"`
	Version string `json:"version,omitempty"`
}

// CriteriaMatch says how the fingerprint met the recipe's criteria.
type CriteriaMatch struct {
	Matched      bool             `json:"matched"`
	PerDimension []DimensionMatch `json:"perDimension"`
}

// DimensionMatch is one criterion compared with the fingerprint.
type DimensionMatch struct {
	Dimension           string `json:"dimension"`
	FingerprintProvides string `json:"fingerprintProvides"`
	Match               string `json:"match"`
	RecipeRequires      string `json:"recipeRequires"`
}

// Redaction is a minimal bundle's redaction provenance.
type Redaction struct {
	Applied []string `json:"applied"`
	Policy  string   `json:"policy"`
	Version string   `json:"version"`
}

// ValidatorImage is one validator image that ran.
type ValidatorImage struct {
	Digest string `json:"digest"`
	Image  string `json:"image"`
}

// Statement is an in-toto Statement v1 with the AICR predicate.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Predicate `json:"predicate"`
}

// Subject is an in-toto resource descriptor.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Inventory is the schema of manifest.json.
type Inventory struct {
	SchemaVersion string          `json:"schemaVersion"`
	Files         []InventoryFile `json:"files"`
}

// InventoryFile is one manifest.json entry; SHA256 is "sha256:<hex>".
type InventoryFile struct {
	Path      string `json:"path"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	MediaType string `json:"mediaType"`
}

// ErrSpec: the summary spec is incomplete or inconsistent.
var ErrSpec = errors.New("invalid summary spec")

// BuildSummary builds the summary bundle spec describes, deterministically.
func BuildSummary(spec SummarySpec) (*Summary, error) {
	if spec.Recipe == "" {
		return nil, fmt.Errorf("build summary: %w: Recipe is empty", ErrSpec)
	}
	if spec.AttestedAt.IsZero() {
		return nil, fmt.Errorf("build summary %s: %w: AttestedAt is zero", spec.Recipe, ErrSpec)
	}
	for phase, n := range spec.FailedPhases {
		if phaseIndex(phase) < 0 {
			return nil, fmt.Errorf("build summary %s: %w: FailedPhases: unknown phase %q", spec.Recipe, ErrSpec, phase)
		}
		if n < 0 {
			return nil, fmt.Errorf("build summary %s: %w: FailedPhases[%s] = %d", spec.Recipe, ErrSpec, phase, n)
		}
	}
	if spec.BreakInventory < InventoryIntact || spec.BreakInventory > InventoryMissingFile {
		return nil, fmt.Errorf("build summary %s: %w: BreakInventory = %d", spec.Recipe, ErrSpec, spec.BreakInventory)
	}
	spec.AttestedAt = spec.AttestedAt.UTC().Truncate(time.Second)
	if spec.PredicateType == "" {
		spec.PredicateType = PredicateV3
	}

	s := &Summary{Spec: spec}
	recipe := recipeYAML(spec)
	recipeDigest, err := evidence.RecipeDigest(recipe, spec.PredicateType)
	if err != nil {
		// AICR cannot sign a recipe it cannot canonicalize.
		return nil, fmt.Errorf("build summary %s: %w: recipe.yaml: %v", spec.Recipe, ErrSpec, err)
	}
	if spec.PerturbRecipeDigest {
		recipeDigest = perturbHex(recipeDigest)
	}
	files := []File{
		{FileRecipe, MediaTypeYAML, recipe},
		{FileSnapshot, MediaTypeYAML, snapshotYAML(spec)},
		{FileBOM, MediaTypeCycloneDX, bomJSON(spec)},
	}
	crit := criteriaOf(spec)
	pred := Predicate{
		SchemaVersion:           "1.0.0",
		AttestedAt:              spec.AttestedAt.Format(time.RFC3339),
		AICRVersion:             aicrVersion,
		ValidatorCatalogVersion: "",
		ValidatorImages:         validatorImages(),
		Recipe:                  RecipeRef{Name: spec.Recipe, Digest: recipeDigest},
		Fingerprint:             fingerprintOf(crit),
		CriteriaMatch:           criteriaMatchOf(crit),
		Phases:                  map[string]PhaseResult{},
	}
	if spec.Profile != "" {
		pred.Profile = &ProfileBlock{
			Selection:                spec.Profile,
			Advertiser:               spec.ProfileAdvertiser,
			PolicyDescriptorIdentity: "sha256:" + sha256Hex([]byte("policy-descriptors:"+spec.Profile)),
		}
	}
	if spec.Redacted {
		pred.Redaction = &Redaction{Policy: "minimal", Version: "v1",
			Applied: []string{"ctrf.tests.omit:message", "ctrf.tests.omit:stdout", "snapshot.measurements.allowlist"}}
	}
	if spec.PredicateRecipe != "" {
		pred.Recipe.Name = spec.PredicateRecipe
	}
	for _, phase := range Phases {
		data, counts := ctrfJSON(spec, phase)
		counts.CTRFDigest = "sha256:" + sha256Hex(data)
		pred.Phases[phase] = counts
		files = append(files, File{CTRFPath(phase), MediaTypeCTRF, data})
	}
	bom := files[2].Data
	pred.BOM = BOMRef{Digest: "sha256:" + sha256Hex(bom), Format: "CycloneDX", Version: bomSpecVersion, ImageCount: len(bomComponents)}

	// manifest.json lists every file so far, sorted by path (SPEC §2.2).
	inv := Inventory{SchemaVersion: "1.0.0"}
	for _, f := range files {
		inv.Files = append(inv.Files, InventoryFile{
			Path: f.Path, Size: int64(len(f.Data)), SHA256: "sha256:" + sha256Hex(f.Data), MediaType: f.MediaType,
		})
	}
	sort.Slice(inv.Files, func(i, j int) bool { return inv.Files[i].Path < inv.Files[j].Path })
	switch spec.BreakInventory {
	case InventoryWrongHash:
		for i := range inv.Files {
			if inv.Files[i].Path == FileRecipe {
				inv.Files[i].SHA256 = "sha256:" + sha256Hex(append(append([]byte{}, recipe...), '\n'))
			}
		}
	case InventoryMissingFile:
		kept := files[:0]
		for _, f := range files {
			if f.Path != FileSnapshot {
				kept = append(kept, f)
			}
		}
		files = kept
	}
	s.Inventory = mustJSON(inv)
	pred.Manifest = InventoryRef{Digest: "sha256:" + sha256Hex(s.Inventory), FileCount: len(inv.Files)}
	s.Predicate = pred

	s.LayerStatement = mustJSON(Statement{
		Type:          StatementType,
		Subject:       []Subject{{Name: FileInventory, Digest: map[string]string{"sha256": sha256Hex(s.Inventory)}}},
		PredicateType: spec.PredicateType,
		Predicate:     pred,
	})
	files = append(files,
		File{FileInventory, "application/json", s.Inventory},
		File{FileStatement, MediaTypeInToto, s.LayerStatement},
	)
	s.Files = files

	layer, err := tarGzip(files, spec.AttestedAt)
	if err != nil {
		return nil, fmt.Errorf("build summary %s: %w", spec.Recipe, err)
	}
	s.Layer = layer
	s.LayerDigest = "sha256:" + sha256Hex(layer)

	created := spec.AttestedAt.Format(time.RFC3339)
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  ArtifactTypeSummary,
		Config:        v1.Descriptor{MediaType: types.MediaType(MediaTypeEmpty), Size: int64(len(emptyConfig)), Digest: emptyConfigHash},
		Layers: []v1.Descriptor{{
			MediaType:   types.MediaType(MediaTypeLayer),
			Size:        int64(len(layer)),
			Digest:      v1.Hash{Algorithm: "sha256", Hex: sha256Hex(layer)},
			Annotations: map[string]string{AnnotationTitle: "summary.tar.gz"},
		}},
		Annotations: map[string]string{AnnotationCreated: created},
	}
	s.Manifest, err = json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("build summary %s: %w", spec.Recipe, err)
	}
	s.ManifestDigest = "sha256:" + sha256Hex(s.Manifest)
	return s, nil
}

// Descriptor is the OCI descriptor of the summary manifest, the subject of
// its referrers.
func (s *Summary) Descriptor() v1.Descriptor {
	h, _ := v1.NewHash(s.ManifestDigest)
	return v1.Descriptor{
		MediaType:    types.OCIManifestSchema1,
		Size:         int64(len(s.Manifest)),
		Digest:       h,
		ArtifactType: ArtifactTypeSummary,
	}
}

// SubjectDigest is the hex digest the signed statement names: the summary
// manifest's, or with WrongSubject a different one (the SHA-256 of the
// string "wrong-subject:" followed by the manifest digest).
func (s *Summary) SubjectDigest() string {
	hexDigest := s.ManifestDigest[len("sha256:"):]
	if s.Spec.WrongSubject {
		return sha256Hex([]byte("wrong-subject:" + s.ManifestDigest))
	}
	return hexDigest
}

// Statement returns the statement to sign: subject[0] is {name: repository
// (e.g. "127.0.0.1:5000/owner/aicr-evidence"), digest: SubjectDigest()},
// with the same predicate as the in-layer statement. It is compact JSON.
func (s *Summary) Statement(repository string) []byte {
	b, err := json.Marshal(Statement{
		Type:          StatementType,
		Subject:       []Subject{{Name: repository, Digest: map[string]string{"sha256": s.SubjectDigest()}}},
		PredicateType: s.Spec.PredicateType,
		Predicate:     s.Predicate,
	})
	if err != nil {
		panic(fmt.Sprintf("publish: marshal statement: %v", err))
	}
	return b
}

// gzipWriters recycles gzip writers: each holds ≈ 800 KiB of compressor
// state, which dominated allocation when building thousands of summaries.
// Reset keeps the level, so the output is the same as a fresh writer's.
var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

// tarGzip writes files as a deterministic tar+gzip stream: regular files,
// mode 0644, owner 0:0, modification time at, no gzip name or time.
func tarGzip(files []File, at time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     f.Path,
			Mode:     0o644,
			Size:     int64(len(f.Data)),
			ModTime:  at,
			Format:   tar.FormatPAX,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("tar %s: %w", f.Path, err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, fmt.Errorf("tar %s: %w", f.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

package evidence

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"time"
)

// MaxStatementSize bounds an in-toto statement, in bytes.
const MaxStatementSize = 4 << 20

// In-toto statement types. cosign's legacy attestations carry v0.1, which
// has the same shape as v1 for everything read here.
const (
	StatementTypeV1   = "https://in-toto.io/Statement/v1"
	StatementTypeV0_1 = "https://in-toto.io/Statement/v0.1"
)

const (
	maxSubjects = 1024
	maxPhases   = 64
)

// Statement is an in-toto Statement carrying an AICR recipe-evidence predicate.
type Statement struct {
	Type          string
	Subject       []Subject
	PredicateType string
	Predicate     Predicate
	// RawPredicate is the predicate as signed, unknown fields included.
	RawPredicate json.RawMessage
}

// Subject is one artifact the statement is about.
type Subject struct {
	Name   string
	Digest map[string]string // algorithm → lowercase hex
}

// Predicate is the recipe-evidence predicate (SPEC §2.2). For the aicr.run
// eras every field but Profile is required; for other predicate types
// (legacy, unknown) the named fields are checked when present.
type Predicate struct {
	AttestedAt time.Time
	Recipe     PredicateRecipe
	Phases     map[string]Phase // by phase name: deployment, performance, conformance, …
	Manifest   PredicateManifest
	BOM        PredicateBOM
	// Profile is the signed profile identity of a profiled recipe's
	// evidence (ADR-015); nil when the predicate carries none.
	Profile *PredicateProfile
}

// PredicateProfile is predicate.profile (SPEC §2.2): an object, not a
// string. v1 predicates must not carry it, v2 predicates must, v3
// predicates may.
type PredicateProfile struct {
	// Selection is the name=value profile selection baked into the recipe;
	// a pointer's profile must equal it.
	Selection string
	// Advertiser is who advertises the profile; "" when absent.
	Advertiser string
	// PolicyDescriptorIdentity is sha256:<hex> of the policy descriptors in
	// force when the evidence was produced; "" when absent.
	PolicyDescriptorIdentity string
}

// ProfileSelection returns the predicate's profile selection, "" when it
// carries no profile.
func (p *Predicate) ProfileSelection() string {
	if p == nil || p.Profile == nil {
		return ""
	}
	return p.Profile.Selection
}

// PredicateRecipe names the validated recipe.
type PredicateRecipe struct {
	Name   string
	Digest string // bare 64 lowercase hex: AICR's canonical recipe digest
}

// Phase counts the test results of one phase.
type Phase struct {
	Passed, Failed, Skipped int
	CTRFDigest              string // sha256:<hex> of ctrf/<phase>.json; "" when absent
}

// PredicateManifest pins manifest.json.
type PredicateManifest struct {
	Digest    string // sha256:<hex>
	FileCount int
}

// PredicateBOM pins bom.cdx.json.
type PredicateBOM struct {
	Digest string // sha256:<hex>
}

// FailedPhases returns the names of the phases with failures, sorted.
func (p *Predicate) FailedPhases() []string {
	var out []string
	for name, ph := range p.Phases {
		if ph.Failed > 0 {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

type rawStatement struct {
	Type          *string         `json:"_type"`
	Subject       *[]rawSubject   `json:"subject"`
	PredicateType *string         `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

type rawSubject struct {
	Name   *string           `json:"name"`
	Digest map[string]string `json:"digest"`
}

type rawPredicate struct {
	AttestedAt *string `json:"attestedAt"`
	Recipe     *struct {
		Name   *string `json:"name"`
		Digest *string `json:"digest"`
	} `json:"recipe"`
	Phases   *map[string]rawPhase `json:"phases"`
	Manifest *struct {
		Digest    *string `json:"digest"`
		FileCount *int    `json:"fileCount"`
	} `json:"manifest"`
	BOM *struct {
		Digest *string `json:"digest"`
	} `json:"bom"`
	Profile *rawProfile `json:"profile"`
}

type rawProfile struct {
	Selection                *string `json:"selection"`
	Advertiser               *string `json:"advertiser"`
	PolicyDescriptorIdentity *string `json:"policyDescriptorIdentity"`
}

type rawPhase struct {
	Passed     *int    `json:"passed"`
	Failed     *int    `json:"failed"`
	Skipped    *int    `json:"skipped"`
	CTRFDigest *string `json:"ctrfDigest"`
}

var (
	hexRE       = regexp.MustCompile(`^[0-9a-f]+$`)
	phaseNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
)

// ParseStatement parses an in-toto Statement (v1, or cosign's v0.1) and its
// recipe-evidence predicate. Unknown fields are tolerated for forward
// compatibility; the named ones are checked. Errors are *SchemaError naming
// the field, or wrap ErrTooLarge. Whether the predicate type is the one the
// pointer names is the caller's check.
func ParseStatement(data []byte) (*Statement, error) {
	if len(data) > MaxStatementSize {
		return nil, fmt.Errorf("statement: %w: %d bytes, limit is %d", ErrTooLarge, len(data), MaxStatementSize)
	}
	var raw rawStatement
	if err := decodeJSON(data, "", &raw); err != nil {
		return nil, err
	}
	var s Statement
	if raw.Type == nil || (*raw.Type != StatementTypeV1 && *raw.Type != StatementTypeV0_1) {
		got := "<missing>"
		if raw.Type != nil {
			got = truncate(*raw.Type)
		}
		return nil, schemaErr("_type", fmt.Sprintf("%q is not %s", got, StatementTypeV1))
	}
	s.Type = *raw.Type
	if raw.Subject == nil || len(*raw.Subject) == 0 {
		return nil, schemaErr("subject", "must list at least one subject")
	}
	if len(*raw.Subject) > maxSubjects {
		return nil, schemaErr("subject", fmt.Sprintf("lists %d subjects, limit is %d", len(*raw.Subject), maxSubjects))
	}
	for i, rs := range *raw.Subject {
		field := fmt.Sprintf("subject[%d]", i)
		sub := Subject{Digest: rs.Digest}
		if rs.Name != nil {
			if err := checkText(field+".name", *rs.Name, maxOCIRefLen); err != nil {
				return nil, err
			}
			sub.Name = *rs.Name
		}
		if len(rs.Digest) == 0 {
			return nil, schemaErr(field+".digest", "must name at least one digest")
		}
		if len(rs.Digest) > 16 {
			return nil, schemaErr(field+".digest", "names too many digests")
		}
		for alg, v := range rs.Digest {
			if err := checkSubjectDigest(field+".digest."+truncate(alg), alg, v); err != nil {
				return nil, err
			}
		}
		s.Subject = append(s.Subject, sub)
	}
	if raw.PredicateType == nil || *raw.PredicateType == "" {
		return nil, schemaErr("predicateType", "is required")
	}
	if err := checkURI("predicateType", *raw.PredicateType); err != nil {
		return nil, err
	}
	s.PredicateType = *raw.PredicateType
	if len(raw.Predicate) == 0 || string(raw.Predicate) == "null" {
		return nil, schemaErr("predicate", "is required")
	}
	s.RawPredicate = raw.Predicate
	era, _ := PredicateEra(s.PredicateType)
	strict := era == EraV1 || era == EraV2 || era == EraV3
	pred, err := parsePredicate(raw.Predicate, strict, era)
	if err != nil {
		return nil, err
	}
	s.Predicate = *pred
	return &s, nil
}

// checkSubjectDigest checks one algorithm → hex entry of a subject.
func checkSubjectDigest(field, alg, v string) error {
	want := map[string]int{"sha256": 64, "sha384": 96, "sha512": 128, "sha1": 40}[alg]
	switch {
	case alg == "" || len(alg) > 32:
		return schemaErr(field, "bad algorithm name")
	case len(v) == 0 || len(v) > 256 || !hexRE.MatchString(v):
		return schemaErr(field, fmt.Sprintf("%q is not lowercase hex", truncate(v)))
	case want != 0 && len(v) != want:
		return schemaErr(field, fmt.Sprintf("has %d hex characters, want %d", len(v), want))
	}
	return nil
}

// SubjectDigest returns subject[0]'s sha256 digest as sha256:<hex>: for an
// AICR statement, the summary bundle's OCI manifest digest (SPEC §2.2).
func (s *Statement) SubjectDigest() (string, error) {
	if s == nil || len(s.Subject) == 0 {
		return "", fmt.Errorf("statement has no subject")
	}
	h, ok := s.Subject[0].Digest["sha256"]
	if !ok || !bareHexRE.MatchString(h) {
		return "", fmt.Errorf("subject[0] has no sha256 digest")
	}
	return "sha256:" + h, nil
}

func parsePredicate(data json.RawMessage, strict bool, era Era) (*Predicate, error) {
	var raw rawPredicate
	if err := decodeJSON(data, "predicate", &raw); err != nil {
		return nil, err
	}
	var p Predicate
	missing := func(field string) error { return schemaErr("predicate."+field, "is required") }

	switch {
	case raw.AttestedAt != nil:
		t, err := time.Parse(time.RFC3339, *raw.AttestedAt)
		if err != nil {
			return nil, schemaErr("predicate.attestedAt", fmt.Sprintf("%q is not an RFC 3339 time", truncate(*raw.AttestedAt)))
		}
		p.AttestedAt = t
	case strict:
		return nil, missing("attestedAt")
	}

	switch {
	case raw.Recipe != nil:
		if raw.Recipe.Name == nil {
			return nil, missing("recipe.name")
		}
		if err := checkRecipeName("predicate.recipe.name", *raw.Recipe.Name); err != nil {
			return nil, err
		}
		p.Recipe.Name = *raw.Recipe.Name
		if raw.Recipe.Digest == nil {
			return nil, missing("recipe.digest")
		}
		if !bareHexRE.MatchString(*raw.Recipe.Digest) {
			return nil, schemaErr("predicate.recipe.digest", fmt.Sprintf("%q is not 64 bare lowercase hex", truncate(*raw.Recipe.Digest)))
		}
		p.Recipe.Digest = *raw.Recipe.Digest
	case strict:
		return nil, missing("recipe")
	}

	switch {
	case raw.Phases != nil:
		if len(*raw.Phases) > maxPhases {
			return nil, schemaErr("predicate.phases", fmt.Sprintf("has %d phases, limit is %d", len(*raw.Phases), maxPhases))
		}
		p.Phases = make(map[string]Phase, len(*raw.Phases))
		for name, rp := range *raw.Phases {
			field := "predicate.phases." + truncate(name)
			if !phaseNameRE.MatchString(name) {
				return nil, schemaErr(field, "is not a phase name")
			}
			ph, err := parsePhase(field, rp)
			if err != nil {
				return nil, err
			}
			p.Phases[name] = ph
		}
	case strict:
		return nil, missing("phases")
	}

	switch {
	case raw.Manifest != nil:
		if raw.Manifest.Digest == nil {
			return nil, missing("manifest.digest")
		}
		if !digestRE.MatchString(*raw.Manifest.Digest) {
			return nil, schemaErr("predicate.manifest.digest", fmt.Sprintf("%q is not sha256:<64 lowercase hex>", truncate(*raw.Manifest.Digest)))
		}
		p.Manifest.Digest = *raw.Manifest.Digest
		if raw.Manifest.FileCount == nil {
			return nil, missing("manifest.fileCount")
		}
		if *raw.Manifest.FileCount < 0 || *raw.Manifest.FileCount > MaxManifestFiles {
			return nil, schemaErr("predicate.manifest.fileCount", fmt.Sprintf("must be between 0 and %d", MaxManifestFiles))
		}
		p.Manifest.FileCount = *raw.Manifest.FileCount
	case strict:
		return nil, missing("manifest")
	}

	switch {
	case raw.BOM != nil:
		if raw.BOM.Digest == nil {
			return nil, missing("bom.digest")
		}
		if !digestRE.MatchString(*raw.BOM.Digest) {
			return nil, schemaErr("predicate.bom.digest", fmt.Sprintf("%q is not sha256:<64 lowercase hex>", truncate(*raw.BOM.Digest)))
		}
		p.BOM.Digest = *raw.BOM.Digest
	case strict:
		return nil, missing("bom")
	}

	if raw.Profile != nil {
		pp, err := parsePredicateProfile(*raw.Profile)
		if err != nil {
			return nil, err
		}
		p.Profile = pp
	}
	if err := checkProfileEra(era, p.Profile); err != nil {
		return nil, err
	}
	if p.Profile != nil && p.Recipe.Name != "" {
		if err := checkProfile(p.Recipe.Name, p.Profile.Selection); err != nil {
			return nil, schemaErr("predicate.profile.selection", err.Error())
		}
	}
	return &p, nil
}

// parsePredicateProfile reads predicate.profile: selection is required and
// name=value; advertiser is optional text; policyDescriptorIdentity is
// sha256:<hex> when present and non-empty.
func parsePredicateProfile(rp rawProfile) (*PredicateProfile, error) {
	var pp PredicateProfile
	if rp.Selection == nil || *rp.Selection == "" {
		return nil, schemaErr("predicate.profile.selection", "is required")
	}
	if _, _, err := ParseProfile(*rp.Selection); err != nil {
		return nil, schemaErr("predicate.profile.selection", err.Error())
	}
	pp.Selection = *rp.Selection
	if rp.Advertiser != nil && *rp.Advertiser != "" {
		if err := checkText("predicate.profile.advertiser", *rp.Advertiser, maxIdentityLen); err != nil {
			return nil, err
		}
		pp.Advertiser = *rp.Advertiser
	}
	if rp.PolicyDescriptorIdentity != nil && *rp.PolicyDescriptorIdentity != "" {
		if !digestRE.MatchString(*rp.PolicyDescriptorIdentity) {
			return nil, schemaErr("predicate.profile.policyDescriptorIdentity",
				fmt.Sprintf("%q is not sha256:<64 lowercase hex>", truncate(*rp.PolicyDescriptorIdentity)))
		}
		pp.PolicyDescriptorIdentity = *rp.PolicyDescriptorIdentity
	}
	return &pp, nil
}

// checkProfileEra applies the predicate types' profile rules (SPEC §2.2,
// ADR-015): v1 must not carry a profile block, v2 must, v3 may. Legacy and
// unknown types are judged elsewhere.
func checkProfileEra(era Era, pp *PredicateProfile) error {
	switch {
	case era == EraV1 && pp != nil:
		return schemaErr("predicate.profile", fmt.Sprintf("predicate type %s must not carry a profile block (profiled evidence is %s or %s)",
			PredicateTypeV1, PredicateTypeV2, PredicateTypeV3))
	case era.RequiresProfile() && pp == nil:
		return schemaErr("predicate.profile", "is required by predicate type "+PredicateTypeV2)
	}
	return nil
}

// parsePhase reads one phase. Counts default to 0 when absent; ctrfDigest
// is optional (a phase that did not run has no CTRF report).
func parsePhase(field string, rp rawPhase) (Phase, error) {
	var ph Phase
	for _, c := range []struct {
		name string
		src  *int
		dst  *int
	}{{"passed", rp.Passed, &ph.Passed}, {"failed", rp.Failed, &ph.Failed}, {"skipped", rp.Skipped, &ph.Skipped}} {
		if c.src == nil {
			continue
		}
		if *c.src < 0 {
			return ph, schemaErr(field+"."+c.name, "must be ≥ 0")
		}
		*c.dst = *c.src
	}
	if rp.CTRFDigest != nil && *rp.CTRFDigest != "" {
		if !digestRE.MatchString(*rp.CTRFDigest) {
			return ph, schemaErr(field+".ctrfDigest", fmt.Sprintf("%q is not sha256:<64 lowercase hex>", truncate(*rp.CTRFDigest)))
		}
		ph.CTRFDigest = *rp.CTRFDigest
	}
	return ph, nil
}

package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

func sha256Digest(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

func (s *state) checkStatement() outcome {
	st, err := evidence.ParseStatement(s.payload)
	if err != nil {
		return fail(audit.ClassSchema, "the signed statement is malformed: %v", schemaDetail(err)).
			withHint("the signature is good: the signing tool wrote a statement this auditor cannot read; re-attest with a current AICR")
	}
	s.st = st
	s.out.Statement = st
	s.out.SignedAt = st.Predicate.AttestedAt
	return pass("in-toto statement %s, predicate type %s", st.Type, st.PredicateType)
}

func schemaDetail(err error) string {
	var se *evidence.SchemaError
	if errors.As(err, &se) {
		return se.Error()
	}
	return err.Error()
}

func (s *state) checkSubjectDigest() outcome {
	want := s.att.Bundle.Digest
	got, err := s.st.SubjectDigest()
	if err != nil {
		return fail(audit.ClassSchema, "the signed statement names no artifact: %v", err)
	}
	if got != want {
		return fail(audit.ClassIntegrity, "signed statement names %s, pointer names %s: the signature covers another artifact (digest substitution)", got, want).
			withHint("the signature belongs to a different bundle; re-sign this bundle, or point at the bundle that was signed")
	}
	if md := s.ev.ManifestDigest; md != "" && md != want {
		return fail(audit.ClassIntegrity, "fetched manifest is %s, pointer names %s", md, want)
	}
	return pass("signed statement names %s, as the pointer does", got)
}

func (s *state) checkPredicateType() outcome {
	got, want := s.st.PredicateType, s.att.Bundle.PredicateType
	if got != want {
		return fail(audit.ClassIntegrity, "signed statement's predicate type is %s; the pointer names %s", got, want).
			withHint("fix bundle.predicateType in the pointer to the type that was signed")
	}
	era, ok := evidence.PredicateEra(got)
	if !ok {
		return fail(audit.ClassSchema, "predicate type %s is not an AICR recipe-evidence type", got)
	}
	s.era = era
	if era == evidence.EraLegacy {
		return fail(audit.ClassLegacyPredicate,
			"the signature verifies (signed by %s), but predicate type %s is the pre-migration form, not current recipe evidence",
			s.result.Signature.Certificate.SubjectAlternativeName, got).
			withHint("re-run the validation and attest with predicate type " + evidence.PredicateTypeV3)
	}
	return pass("%s (era %s), as the pointer names", got, era)
}

func (s *state) checkPredicate() outcome {
	// The eras' profile rules (v1 forbids the block, v2 requires it) are
	// schema rules of the statement, enforced by evidence.ParseStatement.
	p := &s.st.Predicate
	if p.AttestedAt.IsZero() {
		return fail(audit.ClassSchema, "the predicate has no attestedAt")
	}
	if m := s.att.AttestedAt; !m.IsZero() && !m.Equal(p.AttestedAt) {
		return warn("attested at %s (signed); the pointer's unsigned mirror says %s, the signed time is used",
			p.AttestedAt.UTC().Format(time.RFC3339), m.UTC().Format(time.RFC3339))
	}
	return pass("attested at %s; %d phase%s", p.AttestedAt.UTC().Format(time.RFC3339), len(p.Phases), plural(len(p.Phases), "", "s"))
}

func (s *state) checkRecipeName() outcome {
	got, want := s.st.Predicate.Recipe.Name, s.want.Pointer.Recipe
	if got != want {
		return fail(audit.ClassIntegrity, "signed predicate names recipe %q; the pointer names %q", got, want).
			withHint("the evidence validates another recipe; point at evidence for this recipe")
	}
	return pass("recipe %s", got)
}

// checkProfile binds the pointer's profile to the signed
// predicate.profile.selection (SPEC §2.2): both absent, or equal.
func (s *state) checkProfile() outcome {
	pp := s.st.Predicate.Profile
	got, want := s.st.Predicate.ProfileSelection(), s.want.Pointer.Profile
	switch {
	case got != want && want == "":
		return fail(audit.ClassIntegrity, "signed predicate.profile.selection is %q; the pointer names no profile", got).
			withHint("add `profile: " + got + "` to the pointer, or point at the evidence of the unprofiled recipe")
	case got != want && got == "":
		return fail(audit.ClassIntegrity, "the pointer names profile %q; the signed predicate carries no profile block", want).
			withHint("point at evidence of the profiled recipe, or remove the pointer's profile")
	case got != want:
		return fail(audit.ClassIntegrity, "signed predicate.profile.selection is %q; the pointer names %q", got, want).
			withHint("the evidence attests another profile of the recipe; point at evidence for this one")
	case pp == nil:
		return pass("no profile, as the pointer says")
	}
	detail := "profile " + got + " (signed predicate.profile.selection), as the pointer says"
	if pp.Advertiser != "" {
		detail += "; advertiser " + pp.Advertiser
	}
	if pp.PolicyDescriptorIdentity != "" {
		detail += "; policy descriptors " + short(pp.PolicyDescriptorIdentity)
	}
	return pass("%s", detail)
}

func (s *state) checkManifestDigest() outcome {
	data, ok := s.ev.Files[evidence.ManifestFileName]
	if !ok {
		return fail(audit.ClassIntegrity, "%s is missing from the bundle", evidence.ManifestFileName)
	}
	want := s.st.Predicate.Manifest
	if got := sha256Digest(data); got != want.Digest {
		return fail(audit.ClassIntegrity, "sha256(%s) is %s; the signed predicate pins %s",
			evidence.ManifestFileName, got, want.Digest)
	}
	m, err := evidence.ParseManifest(data)
	if err != nil {
		return fail(audit.ClassSchema, "%s is malformed: %v", evidence.ManifestFileName, schemaDetail(err))
	}
	if len(m.Files) != want.FileCount {
		return fail(audit.ClassIntegrity, "%s lists %d files; the signed predicate says %d",
			evidence.ManifestFileName, len(m.Files), want.FileCount)
	}
	s.manifest = m
	return pass("%s is %s, as signed, and lists %d files", evidence.ManifestFileName, short(want.Digest), len(m.Files))
}

func (s *state) checkInventory() outcome {
	var total int64
	for _, f := range s.manifest.Files {
		data, ok := s.ev.Files[f.Path]
		if !ok {
			return fail(audit.ClassIntegrity, "%s is listed in %s but missing from the bundle", f.Path, evidence.ManifestFileName)
		}
		if int64(len(data)) != f.Size {
			return fail(audit.ClassIntegrity, "%s is %d bytes; %s lists %d", f.Path, len(data), evidence.ManifestFileName, f.Size)
		}
		if got := sha256Digest(data); got != f.SHA256 {
			return fail(audit.ClassIntegrity, "%s has sha256 %s; %s lists %s", f.Path, got, evidence.ManifestFileName, f.SHA256)
		}
		total += f.Size
	}
	if bom := s.st.Predicate.BOM.Digest; bom != "" {
		if f, ok := s.manifest.Lookup("bom.cdx.json"); ok && f.SHA256 != bom {
			return fail(audit.ClassIntegrity, "bom.cdx.json has sha256 %s; the signed predicate pins %s", f.SHA256, bom)
		}
	}
	var extra []string
	for p := range s.ev.Files {
		if _, ok := s.manifest.Lookup(p); !ok && p != evidence.ManifestFileName && p != evidence.StatementFileName {
			extra = append(extra, p)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return warn("%d files (%d bytes) intact; not listed in %s: %s",
			len(s.manifest.Files), total, evidence.ManifestFileName, strings.Join(extra, ", "))
	}
	return pass("%d files (%d bytes) present with their listed size and sha256", len(s.manifest.Files), total)
}

// checkRecipeDigest is AICR's recipe identity binding (SPEC §2.2): the
// signed predicate.recipe.digest must be the canonical digest, with the
// algorithm of the predicate type, of the recipe.yaml that the inventory
// has just verified against manifest.json — else the signed statement
// describes another recipe than the bundle holds.
func (s *state) checkRecipeDigest() outcome {
	f, listed := s.manifest.Lookup(evidence.RecipeFileName)
	if !listed {
		return fail(audit.ClassIntegrity, "%s lists no %s: the signed recipe digest %s cannot be bound to the bundle's recipe",
			evidence.ManifestFileName, evidence.RecipeFileName, short(s.st.Predicate.Recipe.Digest)).
			withHint("re-publish the bundle with its recipe.yaml")
	}
	data := s.ev.Files[f.Path] // present and hashed by the inventory check
	algo := evidence.RecipeDigestAlgorithm(s.era)
	got, err := s.v.recipes.digest(data, s.st.PredicateType)
	if err != nil {
		return fail(audit.ClassSchema, "%s cannot be canonicalized for the recipe digest: %v", evidence.RecipeFileName, err).
			withHint("the signed manifest pins a recipe.yaml that is not YAML; re-run the validation and re-attest")
	}
	if want := s.st.Predicate.Recipe.Digest; got != want {
		return fail(audit.ClassIntegrity, "signed predicate.recipe.digest is %s; the bundle's %s has canonical digest %s (%s form: %s): the signed statement describes another recipe than the bundle holds",
			want, evidence.RecipeFileName, got, s.era, algo).
			withHint("re-run the validation of this recipe and re-attest; never edit recipe.yaml or the predicate of signed evidence")
	}
	return pass("%s has canonical digest %s, as signed (%s form)", evidence.RecipeFileName, short(got), s.era)
}

func ctrfPath(phase string) string { return "ctrf/" + phase + ".json" }

func (s *state) checkCTRFDigests() outcome {
	names := sortedPhases(s.st.Predicate.Phases)
	var checked, unpinned []string
	for _, name := range names {
		ph := s.st.Predicate.Phases[name]
		if ph.CTRFDigest == "" {
			unpinned = append(unpinned, name)
			continue
		}
		p := ctrfPath(name)
		data, ok := s.ev.Files[p]
		if !ok {
			return fail(audit.ClassIntegrity, "phase %s pins %s, which is missing from the bundle", name, p)
		}
		if got := sha256Digest(data); got != ph.CTRFDigest {
			return fail(audit.ClassIntegrity, "%s has sha256 %s; the signed predicate pins %s for phase %s", p, got, ph.CTRFDigest, name)
		}
		checked = append(checked, name)
	}
	switch {
	case len(checked) == 0 && len(unpinned) == 0:
		return skip("the predicate records no phases")
	case len(unpinned) > 0:
		return pass("CTRF reports match for %s; no digest pinned for %s", listOrNone(checked), strings.Join(unpinned, ", "))
	}
	return pass("CTRF reports match for %s", strings.Join(checked, ", "))
}

func (s *state) checkPhases() outcome {
	p := &s.st.Predicate
	s.out.Phases = make(map[string]audit.PhaseCounts, len(p.Phases))
	var parts []string
	for _, name := range sortedPhases(p.Phases) {
		ph := p.Phases[name]
		s.out.Phases[name] = audit.PhaseCounts{Passed: ph.Passed, Failed: ph.Failed, Skipped: ph.Skipped}
		parts = append(parts, fmt.Sprintf("%s %d/%d/%d", name, ph.Passed, ph.Failed, ph.Skipped))
	}
	counts := strings.Join(parts, ", ")
	signer := s.result.Signature.Certificate.SubjectAlternativeName
	failed := p.FailedPhases()
	if len(failed) > 0 {
		var fs []string
		for _, name := range failed {
			ph := p.Phases[name]
			fs = append(fs, fmt.Sprintf("%s (%d of %d failed)", name, ph.Failed, ph.Passed+ph.Failed+ph.Skipped))
		}
		s.out.Verdict = audit.VerifiedWithFailures
		s.out.Detail = fmt.Sprintf("signed by %s, intact; the signed predicate records failures in %s", signer, strings.Join(fs, ", "))
		s.out.Hint = "a known failure: fix the recipe and re-run its validation"
		return warn("failures recorded in %s (passed/failed/skipped: %s)", strings.Join(fs, ", "), counts)
	}
	s.out.Verdict = audit.Verified
	s.out.Detail = fmt.Sprintf("signed by %s at %s, %s, %d files intact, no recorded failures",
		signer, p.AttestedAt.UTC().Format(time.RFC3339), s.entryPhrase(), len(s.manifest.Files))
	if len(parts) == 0 {
		return pass("no phases recorded")
	}
	return pass("no failures (passed/failed/skipped: %s)", counts)
}

func sortedPhases(m map[string]evidence.Phase) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func listOrNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

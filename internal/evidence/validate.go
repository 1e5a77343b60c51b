package evidence

import (
	"errors"
	"fmt"
	"slices"
)

// ProblemKind classifies what is wrong with a pointer file by itself, before
// any bundle is fetched. The values match the invalid classes of SPEC §3,
// except ProblemUnsigned, which the audit maps to invalid/signature.
type ProblemKind string

// Problem kinds.
const (
	ProblemSchema          ProblemKind = "schema"
	ProblemPlacement       ProblemKind = "placement"
	ProblemLegacyPredicate ProblemKind = "legacy-predicate"
	ProblemUnsigned        ProblemKind = "unsigned"
)

// Problem is one thing wrong with a pointer file. Field names the pointer
// field concerned (e.g. `attestations[0].bundle.digest`), or "path" when
// the file's location alone is at fault.
type Problem struct {
	Kind   ProblemKind
	Field  string
	Detail string
}

func (p Problem) String() string {
	if p.Field == "" {
		return string(p.Kind) + ": " + p.Detail
	}
	return string(p.Kind) + ": " + p.Field + ": " + p.Detail
}

// Validate applies the rules that span fields or tie the pointer to its
// path. Problems come in a fixed order: schema, placement,
// legacy-predicate, unsigned. A nil pointer yields only the path's own
// problems; the zero Location skips placement checks.
//
// Placement of a per-source pointer compares the source directory with the
// SourceSlug of the signer the pointer claims; an unsigned pointer has no
// slug to compare and is reported as unsigned only.
func Validate(loc Location, p *Pointer) []Problem {
	var out []Problem
	add := func(k ProblemKind, field, format string, args ...any) {
		out = append(out, Problem{Kind: k, Field: field, Detail: fmt.Sprintf(format, args...)})
	}
	var a *Attestation
	if p != nil {
		if len(p.Attestations) != 1 {
			add(ProblemSchema, "attestations", "must hold exactly one entry in schema 1.0, has %d", len(p.Attestations))
		} else {
			a = &p.Attestations[0]
		}
	}
	var era Era
	if a != nil {
		var known bool
		era, known = PredicateEra(a.Bundle.PredicateType)
		if !known {
			add(ProblemSchema, "attestations[0].bundle.predicateType", "unknown predicate type %q", truncate(a.Bundle.PredicateType))
		}
		switch {
		case era.RequiresProfile() && p.Profile == "":
			add(ProblemSchema, "profile", "predicate type %s requires a profile", a.Bundle.PredicateType)
		case era == EraV1 && p.Profile != "":
			// As AICR's pointer loader: a profiled recipe's evidence is v2
			// or v3; v1 evidence would lack the signed profile identity.
			add(ProblemSchema, "profile", "predicate type %s cannot carry profile %q; profiled evidence is %s or %s",
				a.Bundle.PredicateType, truncate(p.Profile), PredicateTypeV2, PredicateTypeV3)
		}
	}
	if p != nil {
		if err := checkProfile(p.Recipe, p.Profile); err != nil {
			add(ProblemSchema, "profile", "%v", err)
		}
	}

	if loc != (Location{}) {
		switch loc.Layout {
		case LayoutPerSource:
			if p != nil && loc.Recipe != p.Recipe {
				add(ProblemPlacement, "recipe", "pointer for recipe %q sits in directory %q", p.Recipe, truncate(loc.Recipe))
			}
			if a != nil && a.Signer != nil {
				if want := SourceSlug(a.Signer.Issuer, a.Signer.Identity); loc.Source != want {
					add(ProblemPlacement, "attestations[0].signer", "source directory %s is not the signer's slug %s", loc.Source, want)
				}
			}
			if a != nil && loc.FileDigest != a.Bundle.Digest {
				add(ProblemPlacement, "attestations[0].bundle.digest", "file name names %s, bundle.digest is %s", loc.FileDigest, a.Bundle.Digest)
			}
		case LayoutFlat:
			if p != nil && loc.Recipe != p.Recipe {
				add(ProblemPlacement, "recipe", "flat pointer file %q holds recipe %q", truncate(loc.Recipe)+".yaml", p.Recipe)
			}
		default:
			add(ProblemPlacement, "path", "%q fits neither <recipe>/<source>/sha256-<hex>.yaml nor <recipe>.yaml", truncate(loc.Path))
		}
	}

	if a != nil && era == EraLegacy {
		add(ProblemLegacyPredicate, "attestations[0].bundle.predicateType", "pre-migration predicate type %s", a.Bundle.PredicateType)
	}
	if a != nil && a.Signer == nil {
		add(ProblemUnsigned, "attestations[0].signer", "no signer: pending evidence")
	}
	return out
}

// Inspect parses and validates one pointer file at a repository-relative
// path and never fails: a parse error becomes a schema problem naming the
// field (and the pointer is nil). A path that ParsePath rejects yields a
// placement problem; an empty path means the location is unknown and skips
// placement checks.
func Inspect(evidenceDir, path string, data []byte) (*Pointer, Location, []Problem) {
	var loc Location
	var problems []Problem
	if path != "" {
		var ok bool
		if loc, ok = ParsePath(evidenceDir, path); !ok {
			loc = Location{}
			problems = append(problems, Problem{Kind: ProblemPlacement, Field: "path",
				Detail: fmt.Sprintf("%q is not a pointer location under the evidence directory", truncate(path))})
		}
	}
	p, err := ParsePointer(data)
	if err != nil {
		pr := Problem{Kind: ProblemSchema, Detail: err.Error()}
		var se *SchemaError
		if errors.As(err, &se) {
			pr.Field, pr.Detail = se.Field, se.Detail
		}
		return nil, loc, sortProblems(append(append(problems, pr), Validate(loc, nil)...))
	}
	return p, loc, sortProblems(append(problems, Validate(loc, p)...))
}

var kindRank = map[ProblemKind]int{ProblemSchema: 0, ProblemPlacement: 1, ProblemLegacyPredicate: 2, ProblemUnsigned: 3}

// sortProblems puts problems in Validate's kind order, keeping the order
// within a kind.
func sortProblems(ps []Problem) []Problem {
	slices.SortStableFunc(ps, func(a, b Problem) int { return kindRank[a.Kind] - kindRank[b.Kind] })
	return ps
}

package evidence

// Predicate types of AICR recipe evidence, by era (SPEC §2.1).
const (
	// PredicateTypeV1 is the first aicr.run predicate.
	PredicateTypeV1 = "https://aicr.run/recipe-evidence/v1"
	// PredicateTypeV2 added recipe profiles; a v2 pointer must name its profile.
	PredicateTypeV2 = "https://aicr.run/recipe-evidence/v2"
	// PredicateTypeV3 is the current predicate.
	PredicateTypeV3 = "https://aicr.run/recipe-evidence/v3"
	// PredicateTypeLegacy is the pre-migration form; it is reported as its own
	// class (legacy-predicate), never as tampering.
	PredicateTypeLegacy = "https://aicr.nvidia.com/recipe-evidence/v1"
)

// Era is the generation of an AICR predicate type. The zero Era is unknown.
type Era int

// Eras in chronological order.
const (
	EraUnknown Era = iota
	EraLegacy
	EraV1
	EraV2
	EraV3
)

func (e Era) String() string {
	switch e {
	case EraLegacy:
		return "legacy"
	case EraV1:
		return "v1"
	case EraV2:
		return "v2"
	case EraV3:
		return "v3"
	}
	return "unknown"
}

// RequiresProfile reports whether pointers and predicates of this era must
// carry a profile (only v2 does).
func (e Era) RequiresProfile() bool { return e == EraV2 }

// PredicateEra maps a predicate type to its era. The comparison is exact:
// AICR writes these URIs verbatim, so a variant spelling is an unknown type.
func PredicateEra(t string) (Era, bool) {
	switch t {
	case PredicateTypeLegacy:
		return EraLegacy, true
	case PredicateTypeV1:
		return EraV1, true
	case PredicateTypeV2:
		return EraV2, true
	case PredicateTypeV3:
		return EraV3, true
	}
	return EraUnknown, false
}

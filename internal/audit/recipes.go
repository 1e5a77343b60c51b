package audit

import (
	"sort"
	"time"
)

// Reasons a recipe needs re-certification (SPEC §3, §5).
const (
	ReasonExpired   = "expired"
	ReasonExpiring  = "expiring"
	ReasonNoHealthy = "no-healthy-attestation"
)

// RecipeStatus is one recipe's re-certification status in a run.
type RecipeStatus struct {
	Recipe      string
	NeedsRecert bool
	Reason      string // ReasonExpired, ReasonExpiring, ReasonNoHealthy; "" when fresh
	// Undetermined is true when the recipe has no healthy attestation but
	// some of its live pointers got no-verdict: the auditor cannot tell, so
	// nothing is claimed (SPEC §3: no-verdict is never a finding).
	Undetermined bool
	// Freshest is the live healthy attestation with the newest timestamp.
	Freshest           VersionKey
	FreshestAttestedAt time.Time
	FreshestAge        Age
	LivePointers       int
	// Lost lists live pointers whose bytes the registry no longer serves
	// (archived, rekor-only, or invalid/not-found or forbidden): SPEC §7's
	// "lost" issues.
	Lost []VersionKey
}

// RecipeStatuses derives each recipe's status from a run's results. Only
// live pointer versions (still present at the walked head) count: a removed
// pointer or a superseded flat version is history, not current evidence. A
// recipe whose pointers were all removed is retired and not listed.
func RecipeStatuses(results []Result, live map[VersionKey]bool) []RecipeStatus {
	byRecipe := map[string]*RecipeStatus{}
	noVerdict := map[string]bool{}
	for _, r := range results {
		if !live[r.Key] || r.Recipe == "" {
			continue
		}
		st := byRecipe[r.Recipe]
		if st == nil {
			st = &RecipeStatus{Recipe: r.Recipe}
			byRecipe[r.Recipe] = st
		}
		st.LivePointers++
		switch {
		case r.Verdict.Healthy():
			if st.Freshest == (VersionKey{}) || r.AttestedAt.After(st.FreshestAttestedAt) {
				st.Freshest, st.FreshestAttestedAt, st.FreshestAge = r.Key, r.AttestedAt, r.Age
			}
		case r.Verdict == NoVerdict:
			noVerdict[r.Recipe] = true
		}
		if r.Verdict == Archived || r.Verdict == RekorOnly || (r.Verdict == Invalid && (r.Class == ClassNotFound || r.Class == ClassForbidden)) {
			st.Lost = append(st.Lost, r.Key)
		}
	}
	out := make([]RecipeStatus, 0, len(byRecipe))
	for _, st := range byRecipe {
		switch {
		case st.Freshest == (VersionKey{}) && noVerdict[st.Recipe]:
			st.Undetermined = true
		case st.Freshest == (VersionKey{}):
			st.NeedsRecert, st.Reason = true, ReasonNoHealthy
		case st.FreshestAge == AgeExpired:
			st.NeedsRecert, st.Reason = true, ReasonExpired
		case st.FreshestAge == AgeExpiring:
			st.NeedsRecert, st.Reason = true, ReasonExpiring
		}
		sort.Slice(st.Lost, func(i, j int) bool { return st.Lost[i].String() < st.Lost[j].String() })
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Recipe < out[j].Recipe })
	return out
}

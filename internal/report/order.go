package report

import (
	"cmp"
	"slices"
	"strings"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// Group is a section of the human reports, in the order they are shown:
// what needs action first.
type Group int

// Groups of pointers, in report order.
const (
	// GroupLost: the registry no longer serves the bundle (archived,
	// rekor-only, or invalid/not-found or forbidden) — the bytes are lost
	// from their origin (SPEC §7 "lost").
	GroupLost Group = iota
	// GroupInvalid: every other invalid verdict — the evidence is wrong.
	GroupInvalid
	// GroupNoVerdict: the auditor could not decide; retried next run, never
	// a finding.
	GroupNoVerdict
	// GroupHealthy: verified, with or without recorded phase failures.
	GroupHealthy
)

// GroupOf returns the section a result belongs to.
func GroupOf(r *audit.Result) Group {
	switch {
	case r.Verdict == audit.Archived, r.Verdict == audit.RekorOnly,
		r.Verdict == audit.Invalid && (r.Class == audit.ClassNotFound || r.Class == audit.ClassForbidden):
		return GroupLost
	case r.Verdict == audit.Invalid:
		return GroupInvalid
	case r.Verdict.Healthy():
		return GroupHealthy
	default:
		return GroupNoVerdict
	}
}

// sections holds the pointers of a snapshot split by group, each sorted with
// live pointers first, then by recipe, path and added time.
type sections [GroupHealthy + 1][]*Pointer

func groupPointers(s *Snapshot) sections {
	var sec sections
	for i := range s.Pointers {
		g := GroupOf(&s.Pointers[i].Result)
		sec[g] = append(sec[g], &s.Pointers[i])
	}
	for g := range sec {
		slices.SortStableFunc(sec[g], func(a, b *Pointer) int {
			return cmp.Or(
				cmpBool(a.Live(), b.Live()),
				strings.Compare(a.Info.Recipe, b.Info.Recipe),
				comparePath(*a, *b),
			)
		})
	}
	return sec
}

// cmpBool orders true before false.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	default:
		return 1
	}
}

// recertOrder returns the recipes needing re-certification, expired first,
// then expiring, then those without a healthy attestation; within a reason,
// the oldest freshest attestation first, then by name.
func recertOrder(rs []Recipe) []*Recipe {
	rank := map[string]int{audit.ReasonExpired: 0, audit.ReasonExpiring: 1, audit.ReasonNoHealthy: 2}
	var out []*Recipe
	for i := range rs {
		if rs[i].NeedsRecert {
			out = append(out, &rs[i])
		}
	}
	slices.SortStableFunc(out, func(a, b *Recipe) int {
		ra, oka := rank[a.Reason]
		rb, okb := rank[b.Reason]
		if !oka {
			ra = 3
		}
		if !okb {
			rb = 3
		}
		return cmp.Or(cmp.Compare(ra, rb), a.FreshestAttestedAt.Compare(b.FreshestAttestedAt), strings.Compare(a.Recipe, b.Recipe))
	})
	return out
}

// undetermined returns the recipes whose status the run could not decide.
func undetermined(rs []Recipe) []*Recipe {
	var out []*Recipe
	for i := range rs {
		if rs[i].Undetermined {
			out = append(out, &rs[i])
		}
	}
	return out
}

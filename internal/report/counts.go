package report

import (
	"strconv"
	"strings"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// sectionCounts is how the run's pointers spread over the human reports'
// sections. The summary shows these numbers, so that each equals its
// section's heading and row count, and the four sections add up to the
// pointers; the per-verdict counts (SPEC §5, the JSON summary) are shown
// beside them, reconciled: a lost bundle is rekor-only or
// invalid/not-found|forbidden, so the invalid verdicts are split between
// two sections.
type sectionCounts struct {
	Healthy, Verified, WithFailures             int
	Lost, LostRekorOnly, LostNotFound, LostForb int
	LostArchived                                int // origin lost, the archived copy verifies (SPEC §9)
	Invalid                                     int // the Invalid evidence section: invalid, not lost
	NoVerdict                                   int
}

func countSections(sec sections) sectionCounts {
	var c sectionCounts
	for _, p := range sec[GroupHealthy] {
		c.Healthy++
		if p.Result.Verdict == audit.VerifiedWithFailures {
			c.WithFailures++
		} else {
			c.Verified++
		}
	}
	for _, p := range sec[GroupLost] {
		c.Lost++
		switch {
		case p.Result.Verdict == audit.Archived:
			c.LostArchived++
		case p.Result.Class == audit.ClassNotFound:
			c.LostNotFound++
		case p.Result.Class == audit.ClassForbidden:
			c.LostForb++
		default:
			c.LostRekorOnly++
		}
	}
	c.Invalid = len(sec[GroupInvalid])
	c.NoVerdict = len(sec[GroupNoVerdict])
	return c
}

// lostInvalid is the number of invalid verdicts listed as lost bundles.
func (c sectionCounts) lostInvalid() int { return c.LostNotFound + c.LostForb }

// healthyMakeup: "18 verified, 1 verified-with-failures".
func (c sectionCounts) healthyMakeup() string {
	return strconv.Itoa(c.Verified) + " verified, " + strconv.Itoa(c.WithFailures) + " verified-with-failures"
}

// lostMakeup: "1 archived, 3 rekor-only, 3 invalid (2 not-found, 1
// forbidden)".
func (c sectionCounts) lostMakeup() string {
	return strconv.Itoa(c.LostArchived) + " archived, " + strconv.Itoa(c.LostRekorOnly) + " rekor-only, " + strconv.Itoa(c.lostInvalid()) + " invalid (" +
		strconv.Itoa(c.LostNotFound) + " not-found, " + strconv.Itoa(c.LostForb) + " forbidden)"
}

// invalidMakeup relates the Invalid evidence section to the invalid
// verdict count: "11 of the 14 invalid verdicts; the other 3 are lost
// bundles (not-found, forbidden)". "" when the two agree.
func (c sectionCounts) invalidMakeup(s *Summary) string {
	if c.lostInvalid() == 0 {
		return ""
	}
	return strconv.Itoa(c.Invalid) + " of the " + strconv.Itoa(s.Invalid) + " invalid verdicts; the other " +
		strconv.Itoa(c.lostInvalid()) + " are lost bundles (not-found, forbidden)"
}

// byVerdict is the per-verdict count of SPEC §5, reconciled with the
// sections: "18 verified, 1 verified-with-failures, 1 archived, 3
// rekor-only, 14 invalid (11 invalid evidence + 3 lost), 2 no-verdict".
func byVerdict(s *Summary, c sectionCounts) string {
	invalid := strconv.Itoa(s.Invalid) + " invalid"
	if c.lostInvalid() > 0 {
		invalid += " (" + strconv.Itoa(c.Invalid) + " invalid evidence + " + strconv.Itoa(c.lostInvalid()) + " lost)"
	}
	return strings.Join([]string{
		strconv.Itoa(s.Verified) + " verified",
		strconv.Itoa(s.VerifiedWithFailures) + " verified-with-failures",
		strconv.Itoa(s.Archived) + " archived",
		strconv.Itoa(s.RekorOnly) + " rekor-only",
		invalid,
		strconv.Itoa(s.NoVerdict) + " no-verdict",
	}, ", ")
}

// agesLine: "Ages of the 18 pointers: 12 fresh, 3 expiring, 3 expired".
func agesLine(s *Summary) string {
	return "Ages of the " + plural(s.Pointers, "pointer", "pointers") + ": " + strconv.Itoa(s.Fresh) + " fresh, " +
		strconv.Itoa(s.Expiring) + " expiring, " + strconv.Itoa(s.Expired) + " expired"
}

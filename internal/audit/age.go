package audit

import "time"

// Policy is the re-certification and re-verification policy (SPEC §3, §4).
type Policy struct {
	WarnAfterMonths   int           // expiring at or after this age; default 23
	ExpireAfterMonths int           // expired at or after this age; default 24
	DeepEvery         time.Duration // full re-verification at least this often; 0 = every run
	FailUnlisted      bool          // an unlisted signer is invalid/identity
}

// DefaultPolicy is SPEC §4's defaults.
func DefaultPolicy() Policy {
	return Policy{WarnAfterMonths: 23, ExpireAfterMonths: 24, DeepEvery: 90 * 24 * time.Hour}
}

// AgeAt classifies an attestation made at t, seen at asOf. Months are
// calendar months (t + N months <= asOf), so "24 months" means the same
// day two years later, whatever the month lengths.
func (p Policy) AgeAt(t, asOf time.Time) Age {
	switch {
	case !t.AddDate(0, p.ExpireAfterMonths, 0).After(asOf):
		return AgeExpired
	case !t.AddDate(0, p.WarnAfterMonths, 0).After(asOf):
		return AgeExpiring
	default:
		return AgeFresh
	}
}

// Timestamps are the candidate times an attestation's age is measured from.
type Timestamps struct {
	Signed  time.Time // the verified predicate's attestedAt
	Log     time.Time // the transparency log's integrated time
	Pointer time.Time // the pointer's unsigned attestedAt
	Commit  time.Time // the merge commit
}

// MostTrusted returns the most trustworthy non-zero timestamp and its
// source, in SPEC §3's order: signed, log, pointer, commit.
func (ts Timestamps) MostTrusted() (time.Time, TimeSource) {
	for _, c := range []struct {
		t   time.Time
		src TimeSource
	}{{ts.Signed, TimeSigned}, {ts.Log, TimeLog}, {ts.Pointer, TimePointer}, {ts.Commit, TimeCommit}} {
		if !c.t.IsZero() {
			return c.t.UTC(), c.src
		}
	}
	return time.Time{}, TimeCommit
}

package audit

import "time"

// VersionKey identifies one merged version of a pointer file: the path and
// the first-parent commit that merged those bytes. A flat pointer edited in
// place has one key per edit; a file reverted to earlier bytes gets a new key.
type VersionKey struct {
	Path        string // repository-relative, slash-separated
	AddedCommit string // full hex commit id
}

// String renders the key as "path@commit".
func (k VersionKey) String() string { return k.Path + "@" + k.AddedCommit }

// Check is one named step of verifying a pointer, as `verify` prints it.
type Check struct {
	Name   string      `json:"name"`
	Status CheckStatus `json:"status"`
	Detail string      `json:"detail,omitempty"`
}

// CheckStatus is the outcome of one Check.
type CheckStatus string

// Check outcomes.
const (
	CheckPass CheckStatus = "pass"
	CheckFail CheckStatus = "fail"
	CheckSkip CheckStatus = "skip"
	CheckWarn CheckStatus = "warn"
)

// PhaseCounts are the test counts the signed predicate records for one phase.
type PhaseCounts struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

// Result is the audit of one pointer version in one run. It is what the
// ledger chains and what reports render.
type Result struct {
	Key    VersionKey
	Recipe string

	Verdict Verdict
	Class   Class  // empty unless Verdict is Invalid or NoVerdict
	Detail  string // human explanation, never empty
	Hint    string // optional next step for the operator

	VerifiedVia   Via
	BundleDigest  string // sha256:<hex> as the pointer names it
	RekorLogIndex int64  // -1 when unknown

	AttestedAt       time.Time  // zero when no timestamp is known
	AttestedAtSource TimeSource // which timestamp AttestedAt is
	Age              Age

	Phases map[string]PhaseCounts // from the verified predicate; nil otherwise
	Checks []Check                // every check performed, in order

	// Deep is true when the full cryptographic verification ran (not the fast path).
	Deep bool
	// CheckedAt is when the result was decided (wall clock, not as-of).
	CheckedAt time.Time
}

// Warned reports whether the check named check ended with a warning.
func (r *Result) Warned(check string) bool {
	for _, c := range r.Checks {
		if c.Name == check && c.Status == CheckWarn {
			return true
		}
	}
	return false
}

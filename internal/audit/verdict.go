package audit

// Verdict is the outcome of auditing one pointer version in one run (SPEC §3).
type Verdict string

// Verdicts of SPEC §3.
const (
	// Verified: bundle fetched by digest, signature and proof verify, signer
	// matches, inventory intact, no recorded phase failures.
	Verified Verdict = "verified"
	// VerifiedWithFailures: as Verified, but the signed predicate records failed phases.
	VerifiedWithFailures Verdict = "verified-with-failures"
	// Archived: the registry lost the bytes, but the auditor's own archive
	// holds a digest-identical copy that passes every check Verified
	// requires (SPEC §9): healthy for the recipe, a finding for the pointer.
	Archived Verdict = "archived"
	// RekorOnly: the registry lost the bytes, the transparency log still proves the entry.
	RekorOnly Verdict = "rekor-only"
	// Invalid: a positive failure; Class says which.
	Invalid Verdict = "invalid"
	// NoVerdict: the auditor could not decide; never reported as tampering.
	NoVerdict Verdict = "no-verdict"
)

// Verdicts lists every verdict in report order.
var Verdicts = []Verdict{Verified, VerifiedWithFailures, Archived, RekorOnly, Invalid, NoVerdict}

// Healthy reports whether the verdict counts as a healthy attestation of its
// recipe (SPEC §3): verified, with or without failures, or archived.
func (v Verdict) Healthy() bool { return v == Verified || v == VerifiedWithFailures || v == Archived }

// FromOrigin reports whether the verdict is a healthy verification of the
// bytes the pointer's registry serves: what the fast path may reuse, and
// what the archive copies.
func (v Verdict) FromOrigin() bool { return v == Verified || v == VerifiedWithFailures }

// Finding reports whether the verdict is a finding for exit code 3 (SPEC §4):
// archived counts, since the pointer's origin is lost.
func (v Verdict) Finding() bool { return v == Archived || v == RekorOnly || v == Invalid }

// Valid reports whether v is one of the defined verdicts.
func (v Verdict) Valid() bool {
	for _, k := range Verdicts {
		if v == k {
			return true
		}
	}
	return false
}

// Class refines an Invalid or NoVerdict verdict (SPEC §3). Empty for healthy
// and rekor-only verdicts.
type Class string

// Classes of invalid verdicts.
const (
	ClassNotFound          Class = "not-found"
	ClassForbidden         Class = "forbidden"
	ClassSignature         Class = "signature"
	ClassIdentity          Class = "identity"
	ClassIntegrity         Class = "integrity"
	ClassSchema            Class = "schema"
	ClassPlacement         Class = "placement"
	ClassLegacyPredicate   Class = "legacy-predicate"
	ClassUntrustedRegistry Class = "untrusted-registry"
)

// Classes of no-verdict verdicts.
const (
	ClassTransient Class = "transient"
	ClassCanceled  Class = "canceled"
)

// Age is how old an attestation is at the run's as-of time (SPEC §3).
type Age string

// Ages of SPEC §3.
const (
	AgeFresh    Age = "fresh"
	AgeExpiring Age = "expiring"
	AgeExpired  Age = "expired"
)

// TimeSource names the timestamp an age was measured from, most trustworthy first.
type TimeSource string

// Time sources of SPEC §3, in order of trust.
const (
	TimeSigned  TimeSource = "signed"  // the verified predicate's attestedAt
	TimeLog     TimeSource = "log"     // the transparency log's integrated time
	TimePointer TimeSource = "pointer" // the unsigned pointer's attestedAt
	TimeCommit  TimeSource = "commit"  // the merge commit's time
)

// Via says where the verdict's evidence came from (SPEC §5 verifiedVia).
type Via string

// Sources of a verdict.
const (
	ViaOCI   Via = "oci"
	ViaCache Via = "cache"
	// ViaArchive: the auditor's own archived copy (SPEC §9).
	ViaArchive Via = "archive"
	ViaRekor   Via = "rekor"
	ViaNone    Via = "none"
)

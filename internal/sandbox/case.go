package sandbox

import (
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/gitrepo"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/registry"
)

// DefaultRepository is the OCI repository a Case publishes to when it names
// none.
const DefaultRepository = "aicr/evidence"

// RunToSign is how long before its signing time a case's validation run
// ended: the predicate's attestedAt is SignedAt minus RunToSign, so that the
// log's integrated time is later than attestedAt, as in production (SPEC
// §2.2).
const RunToSign = 5 * time.Minute

// Signer classes an Identity can be listed under in the world's allowlist
// (SPEC §2.1).
const (
	FirstParty = "first-party"
	Partner    = "partner"
	Community  = "community"
	Unlisted   = ""
)

// Verdicts, classes and ages an Expectation names (SPEC §3). They are the
// strings of the audit core's types, spelled out here so that the sandbox,
// which produces the auditor's input, does not depend on the auditor.
const (
	Verified             = "verified"
	VerifiedWithFailures = "verified-with-failures"
	Archived             = "archived"
	RekorOnly            = "rekor-only"
	Invalid              = "invalid"
	NoVerdict            = "no-verdict"

	ClassNotFound        = "not-found"
	ClassForbidden       = "forbidden"
	ClassSignature       = "signature"
	ClassIdentity        = "identity"
	ClassIntegrity       = "integrity"
	ClassSchema          = "schema"
	ClassPlacement       = "placement"
	ClassLegacyPredicate = "legacy-predicate"
	ClassTransient       = "transient"

	AgeFresh    = "fresh"
	AgeExpiring = "expiring"
	AgeExpired  = "expired"
)

// Era is the transparency-log era a case's bundle is signed in.
type Era string

// Eras of a Case.
const (
	// EraV1: a Rekor v1 dsse entry with a signed entry timestamp and the
	// log's integrated time; findable by digest through the index search.
	EraV1 Era = ""
	// EraV2: a Rekor v2 hashedrekord entry over the envelope's PAE with an
	// inclusion proof under a C2SP checkpoint, and an RFC 3161 timestamp;
	// no search, no integrated time.
	EraV2 Era = "rekor-v2"
)

// Identity is a signer: the certificate's subject alternative name (a GitHub
// workflow URI or an e-mail address) and its OIDC issuer, as a pointer's
// signer.identity and signer.issuer name them.
type Identity struct {
	Identity string
	Issuer   string
	// Class is the allowlist list the world names this signer in
	// (FirstParty, Partner, Community); Unlisted ("") leaves it out. It does
	// not change what is signed.
	Class string
}

// Expectation is what an auditor must conclude about a case's pointer at the
// Build's "now" (SPEC §3): the verdict, its class (empty for healthy
// verdicts) and the age.
type Expectation struct {
	Verdict string
	Class   string
	Age     string
	// Warn, when set, names a check that must end with status warn (e.g.
	// "pointer-keys"): a warning that does not change the verdict.
	Warn string
}

// Case declares one pointer version of the world: how its summary bundle is
// built, signed and published, how its pointer is written and merged, and
// what happens to it afterwards. The zero value of every optional field is
// the good case.
type Case struct {
	// Name is unique within a Build; it is also the summary's run ID, so two
	// cases of one recipe at one time still differ.
	Name string
	// Recipe is the pointer's recipe (for a profiled recipe the full name,
	// ending in -<name>-<value>); Profile the optional profile selection:
	// recipe.yaml's metadata.selectedProfile, the predicate's profile block
	// (whatever the predicate type) and the pointer's profile.
	Recipe, Profile string
	// ProfileAdvertiser is the predicate profile block's advertiser (and
	// recipe.yaml's), "" for none.
	ProfileAdvertiser string
	// Redacted marks the summary as a minimal (redacted) bundle: the
	// predicate records its redaction block.
	Redacted bool
	// PointerProfile, when not nil, is what the pointer's profile says
	// instead of Profile ("" omits it): a pointer that disagrees with the
	// signed predicate, or a v1 pointer over a predicate carrying a profile.
	PointerProfile *string
	// Signer signs the statement: the certificate names it.
	Signer Identity
	// ClaimedSigner is the signer the pointer names (and whose source
	// directory it is placed in); nil means Signer. Another identity is the
	// "wrong signer" case.
	ClaimedSigner *Identity
	// Layout is the pointer layout; empty means per-source.
	Layout gitrepo.Layout
	// PredicateType defaults to publish.PredicateV3;
	// publish.PredicateLegacy is the pre-migration form.
	PredicateType string
	// SignedAt is the signing time (certificate NotBefore; the log integrates
	// the entry a few seconds later). Back-date it for aged evidence.
	// Required, also for unsigned cases (it dates the validation run).
	SignedAt time.Time
	// MergedAt is when the pointer's pull request merged; zero means a day
	// after SignedAt. RemovedAt, when set, is when a later pull request
	// removed the pointer again.
	MergedAt, RemovedAt time.Time

	// FailedPhases records failed tests per phase: a valid bundle with a
	// known failure.
	FailedPhases map[string]int
	// BreakInventory makes manifest.json disagree with the layer.
	BreakInventory publish.InventoryBreak
	// WrongSubject signs a statement naming another digest (substitution).
	WrongSubject bool
	// WrongLogIndex writes a rekorLogIndex naming another log entry.
	WrongLogIndex bool
	// PerturbRecipeDigest signs a predicate.recipe.digest that is not the
	// canonical digest of the bundle's recipe.yaml.
	PerturbRecipeDigest bool
	// PointerExtraKeys writes the pointer as older AICR tooling did, with
	// fingerprint, criteriaMatch and phaseSummary caches beyond schema
	// 1.0.0 in its attestation entry.
	PointerExtraKeys bool
	// OmitLogIndex leaves rekorLogIndex out of the pointer (still auditable
	// through the log's index search).
	OmitLogIndex bool
	// Unsigned publishes the summary without a signature and writes a
	// pointer without a signer block (pending evidence).
	Unsigned bool
	// Malformed makes the pointer file syntactically broken YAML.
	Malformed bool
	// PlaceUnder puts the per-source pointer under this signer's source
	// directory instead of the claimed signer's (a path squat).
	PlaceUnder *Identity
	// LegacyCosign attaches the signature as a cosign .att attestation
	// (Rekor intoto entry) instead of a Sigstore bundle v0.3 referrer.
	LegacyCosign bool
	// LegacyTimestamped adds cosign's RFC 3161 timestamp annotation (from
	// the world's TSA) to a LegacyCosign attestation; LegacyUnlogged, with
	// it, leaves the attestation out of the log, as `cosign attest
	// --tlog-upload=false --timestamp-server-url` does: its pointer can
	// name no rekorLogIndex.
	LegacyTimestamped, LegacyUnlogged bool
	// Era is the transparency-log era the bundle is signed in: EraV1 (the
	// zero value: a Rekor v1 dsse entry with SET and integrated time) or
	// EraV2 (a Rekor v2 hashedrekord entry with a C2SP checkpoint and an
	// RFC 3161 timestamp; SPEC §2.2).
	Era Era

	// Repository is the OCI repository ("owner/name"); empty means
	// DefaultRepository. A case with a Fault needs a repository of its own:
	// Build refuses to share one between cases with different faults.
	Repository string
	// DeleteAfterPublish deletes the summary manifest by digest once the
	// world is built: the bytes are gone (404), the log entry stays.
	DeleteAfterPublish bool
	// Fault makes the case's repository misbehave once the world is built:
	// Status 403 (forbidden), 500 or 429 (flaky: no-verdict).
	Fault *registry.Fault
	// DeleteAfterAudit deletes the summary manifest only when
	// World.DeleteAudited is called — after a first audit verified the
	// bundle and cached its signature — so that a later audit must prove
	// it from that cache (the only way a Rekor v2 entry can be tied to a
	// digest). Expect is the verdict before, AfterDelete the one after.
	DeleteAfterAudit bool
	// AfterDelete is the verdict an auditor must reach once
	// DeleteAudited removed the bytes; only with DeleteAfterAudit.
	AfterDelete Expectation
	// WithoutArchive, when set, is the verdict an auditor without its own
	// archive (SPEC §9) reaches after the deletion instead of AfterDelete:
	// what the archive changed, for the demo's scenario table.
	WithoutArchive Expectation

	// Expect is the verdict an auditor must reach on the world as Build
	// leaves it.
	Expect Expectation
}

func (c *Case) claimed() Identity {
	if c.ClaimedSigner != nil {
		return *c.ClaimedSigner
	}
	return c.Signer
}

// pointerProfile is the profile the pointer names.
func (c *Case) pointerProfile() string {
	if c.PointerProfile != nil {
		return *c.PointerProfile
	}
	return c.Profile
}

func (c *Case) repository() string {
	if c.Repository == "" {
		return DefaultRepository
	}
	return c.Repository
}

func (c *Case) mergedAt() time.Time {
	if c.MergedAt.IsZero() {
		return c.SignedAt.Add(24 * time.Hour)
	}
	return c.MergedAt
}

// attestedAt is the predicate's attestedAt, as BuildSummary normalises it.
func (c *Case) attestedAt() time.Time {
	return c.SignedAt.Add(-RunToSign).UTC().Truncate(time.Second)
}

package sandbox

import (
	"fmt"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/gitrepo"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/registry"
)

// OIDC issuers of the catalogue's signers.
const (
	IssuerGitHubActions = "https://token.actions.githubusercontent.com"
	IssuerGoogle        = "https://accounts.google.com"
)

// The catalogue's signers: NVIDIA's CI (first-party, listed by source), a
// partner's CI (listed by identity pattern), a validation lab signing with an
// e-mail identity (community), and an unlisted fork that signs evidence it
// then claims is NVIDIA's.
var (
	SignerNVIDIA  = Identity{Identity: "https://github.com/NVIDIA/aicr/.github/workflows/evidence.yaml@refs/heads/main", Issuer: IssuerGitHubActions, Class: FirstParty}
	SignerPartner = Identity{Identity: "https://github.com/acme-gpu/aicr-validation/.github/workflows/validate.yaml@refs/heads/main", Issuer: IssuerGitHubActions, Class: Partner}
	SignerLab     = Identity{Identity: "validation-lab@example.com", Issuer: IssuerGoogle, Class: Community}
	SignerFork    = Identity{Identity: "https://github.com/mallory/aicr-fork/.github/workflows/evidence.yaml@refs/heads/main", Issuer: IssuerGitHubActions}
)

// Repositories of the demo world whose cases get registry faults: each needs
// its own, so the fault hits only them.
const (
	RepoFlaky     = "partner-flaky/evidence"
	RepoBusy      = "partner-busy/evidence"
	RepoForbidden = "private-org/evidence"
)

// DemoCases is the demo world (issue 4, item 6) as of now: every scenario an
// auditor must tell apart, each with the verdict, class and age (at now,
// with the default policy of 23/24 months) it must reach. Every signing and
// merge lies at least two days before now.
func DemoCases(now time.Time) []Case {
	now = now.UTC().Truncate(time.Second)
	ago := func(months, days int) time.Time { return now.AddDate(0, -months, -days) }
	ok := Expectation{Verdict: Verified, Age: AgeFresh}
	bad := func(class string) Expectation { return Expectation{Verdict: Invalid, Class: class, Age: AgeFresh} }
	nvidia, partner := SignerNVIDIA, SignerPartner

	const (
		h100Training  = "h100-eks-ubuntu-training"
		h100Dynamo    = "h100-aks-ubuntu-inference-dynamo"
		gb200Training = "gb200-eks-ubuntu-training"
		a100Inference = "a100-gke-cos-inference"
		l40sInference = "l40s-oke-ubuntu-inference"
		h100Profiled  = "h100-eks-ubuntu-training-gpustack-bundle-installer"
		h200Training  = "h200-oke-ubuntu-training"
		a100Training  = "a100-aks-ubuntu-training"
		h100Flat      = "h100-gke-cos-training"
		gb200Dynamo   = "gb200-aks-ubuntu-inference-dynamo"
		h200Inference = "h200-eks-ubuntu-inference"
		l40sTraining  = "l40s-aks-ubuntu-training"
		a100Flaky     = "a100-eks-ubuntu-inference"
	)

	return []Case{
		// Healthy evidence: several recipes, three signers, per-source.
		{Name: "good-h100-training", Recipe: h100Training, Signer: nvidia, SignedAt: ago(0, 30), Expect: ok},
		{Name: "good-h100-dynamo", Recipe: h100Dynamo, Signer: partner, SignedAt: ago(0, 60), Expect: ok},
		{Name: "good-gb200-training-lab", Recipe: gb200Training, Signer: SignerLab, SignedAt: ago(0, 10), Expect: ok},
		{Name: "good-a100-inference-nvidia", Recipe: a100Inference, Signer: nvidia, SignedAt: ago(3, 10), Expect: ok},
		{Name: "good-a100-inference-partner", Recipe: a100Inference, Signer: partner, SignedAt: ago(3, 5), Expect: ok},
		// No rekorLogIndex: found through the log's index search.
		{Name: "good-no-log-index", Recipe: l40sInference, Signer: nvidia, SignedAt: ago(1, 2), OmitLogIndex: true, Expect: ok},
		// Profiled recipes, routed through their base overlay: the signed
		// predicate carries AICR's profile object {selection, advertiser,
		// policyDescriptorIdentity}; v2 requires it, v3 may carry it.
		{Name: "good-v2-profiled", Recipe: h100Profiled, Profile: "gpuStack=bundle-installer", ProfileAdvertiser: "acme-gpu",
			PredicateType: publish.PredicateV2, Signer: nvidia, SignedAt: ago(2, 0), Expect: ok},
		{Name: "good-v3-profiled", Recipe: h100Profiled, Profile: "gpuStack=bundle-installer", Redacted: true, Signer: partner, SignedAt: ago(1, 10), Expect: ok},
		// An older pointer with fingerprint/criteriaMatch caches beyond
		// schema 1.0.0: verified, with a warning that lists the keys.
		{Name: "pointer-extra-keys", Recipe: gb200Training, Signer: SignerLab, SignedAt: ago(0, 14), PointerExtraKeys: true,
			Expect: Expectation{Verdict: Verified, Age: AgeFresh, Warn: "pointer-keys"}},
		// The known failure: valid, with failed tests recorded.
		{Name: "known-failure", Recipe: h100Training, Signer: partner, SignedAt: ago(0, 20),
			FailedPhases: map[string]int{"performance": 2}, Expect: Expectation{Verdict: VerifiedWithFailures, Age: AgeFresh}},

		// Positive failures.
		{Name: "wrong-signer", Recipe: h100Dynamo, Signer: SignerFork, ClaimedSigner: &nvidia, SignedAt: ago(0, 40), Expect: bad(ClassIdentity)},
		{Name: "broken-inventory-hash", Recipe: gb200Training, Signer: partner, SignedAt: ago(0, 45), BreakInventory: publish.InventoryWrongHash, Expect: bad(ClassIntegrity)},
		{Name: "broken-inventory-missing", Recipe: l40sTraining, Signer: nvidia, SignedAt: ago(0, 50), BreakInventory: publish.InventoryMissingFile, Expect: bad(ClassIntegrity)},
		{Name: "wrong-subject", Recipe: a100Inference, Signer: nvidia, SignedAt: ago(0, 35), WrongSubject: true, Expect: bad(ClassIntegrity)},
		// The pointer names another log entry than the bundle's: the signer
		// claims (identity, issuer, rekorLogIndex) are one family (SPEC §3).
		{Name: "wrong-log-index", Recipe: l40sTraining, Signer: partner, SignedAt: ago(0, 25), WrongLogIndex: true, Expect: bad(ClassIdentity)},
		// The signed predicate.recipe.digest is not the canonical digest of
		// the bundle's recipe.yaml: it describes another recipe.
		{Name: "perturbed-recipe-digest", Recipe: h100Training, Signer: nvidia, SignedAt: ago(0, 18), PerturbRecipeDigest: true, Expect: bad(ClassIntegrity)},
		// A v1 predicate carrying a profile block (the v1 pointer names no
		// profile): schema. The v1 type forbids the block (ADR-015); the
		// signature is good and nothing disagrees with the bundle, so it is
		// a malformed statement, not tampering.
		{Name: "v1-with-profile", Recipe: h100Profiled, Profile: "gpuStack=bundle-installer", PointerProfile: new(string),
			PredicateType: publish.PredicateV1, Signer: nvidia, SignedAt: ago(0, 22), Expect: bad(ClassSchema)},
		{Name: "misplaced-source", Recipe: h100Training, Signer: partner, PlaceUnder: &nvidia, SignedAt: ago(0, 15), Expect: bad(ClassPlacement)},
		{Name: "malformed", Recipe: gb200Training, Signer: nvidia, SignedAt: ago(0, 12), Malformed: true, Expect: bad(ClassSchema)},
		{Name: "unsigned", Recipe: l40sInference, Signer: partner, SignedAt: ago(0, 8), Unsigned: true, Expect: bad(ClassSignature)},
		{Name: "legacy-predicate", Recipe: h100Dynamo, Signer: nvidia, SignedAt: ago(14, 0), PredicateType: publish.PredicateLegacy, Expect: bad(ClassLegacyPredicate)},

		// Registry trouble.
		{Name: "flaky-500", Recipe: a100Flaky, Signer: partner, SignedAt: ago(0, 28), Repository: RepoFlaky,
			Fault: &registry.Fault{Status: 500}, Expect: Expectation{Verdict: NoVerdict, Class: ClassTransient, Age: AgeFresh}},
		{Name: "flaky-429", Recipe: a100Flaky, Signer: SignerLab, SignedAt: ago(0, 27), Repository: RepoBusy,
			Fault: &registry.Fault{Status: 429, RetryAfter: time.Second}, Expect: Expectation{Verdict: NoVerdict, Class: ClassTransient, Age: AgeFresh}},
		// Bytes gone before any audit, the log entry stays: the Rekor v1
		// fallback (issue 5) proves the entry from the log alone — by the
		// pointer's rekorLogIndex, or through the index search for the
		// digest when it names none.
		{Name: "deleted-bundle", Recipe: gb200Dynamo, Signer: nvidia, SignedAt: ago(4, 0), DeleteAfterPublish: true,
			Expect: Expectation{Verdict: RekorOnly, Age: AgeFresh}},
		{Name: "deleted-no-log-index", Recipe: gb200Dynamo, Signer: partner, SignedAt: ago(4, 5), OmitLogIndex: true, DeleteAfterPublish: true,
			Expect: Expectation{Verdict: RekorOnly, Age: AgeFresh}},
		// Bytes gone and the pointer's rekorLogIndex names someone else's
		// entry: the log's index does not tie it to the digest, nothing
		// proves the evidence.
		{Name: "deleted-wrong-log-index", Recipe: h200Inference, Signer: nvidia, SignedAt: ago(4, 10), WrongLogIndex: true, DeleteAfterPublish: true,
			Expect: bad(ClassNotFound)},
		// The Rekor v2 era (SPEC §2.2): a hashedrekord entry in the v2 log,
		// a C2SP checkpoint and an RFC 3161 timestamp, no SET. Verified from
		// the registry; deleted after an audit verified and cached it, it is
		// proven from that cache and the log's tiles; deleted before any
		// audit, nothing can tie a v2 entry to its digest (no search, no
		// statement in the log).
		{Name: "good-v2-rekor", Recipe: h200Inference, Signer: partner, SignedAt: ago(0, 22), Era: EraV2, Expect: ok},
		// Deleted after the first audit verified (and archived) them: the
		// auditor's archive (SPEC §9) proves every check of a verified
		// bundle (archived); without it, a v1 or v2 bundle would be proven
		// only from the ledger's cache and the log (rekor-only), and a
		// legacy .att attestation too.
		{Name: "deleted-v2-after-audit", Recipe: gb200Training, Signer: nvidia, SignedAt: ago(1, 12), Era: EraV2, DeleteAfterAudit: true,
			Expect: ok, AfterDelete: Expectation{Verdict: Archived, Age: AgeFresh}, WithoutArchive: Expectation{Verdict: RekorOnly, Age: AgeFresh}},
		{Name: "deleted-v1-after-audit", Recipe: h100Training, Signer: partner, SignedAt: ago(2, 20), DeleteAfterAudit: true,
			Expect: ok, AfterDelete: Expectation{Verdict: Archived, Age: AgeFresh}, WithoutArchive: Expectation{Verdict: RekorOnly, Age: AgeFresh}},
		{Name: "deleted-legacy-after-audit", Recipe: a100Inference, Signer: nvidia, PredicateType: publish.PredicateV1, SignedAt: ago(19, 0),
			LegacyCosign: true, DeleteAfterAudit: true,
			Expect: ok, AfterDelete: Expectation{Verdict: Archived, Age: AgeFresh}, WithoutArchive: Expectation{Verdict: RekorOnly, Age: AgeFresh}},
		{Name: "deleted-v2-never-audited", Recipe: a100Flaky, Signer: nvidia, SignedAt: ago(2, 3), Era: EraV2, DeleteAfterPublish: true,
			Expect: bad(ClassNotFound)},
		// The namespace went private (SPEC §3 counts 403 among "bytes
		// lost"), and here too the pointer names another entry: with no log
		// proof the class stays forbidden. (A 403 whose entry the log proves
		// is rekor-only; internal/rekor's tests cover it.)
		{Name: "forbidden-repository", Recipe: h200Inference, Signer: partner, SignedAt: ago(5, 0), Repository: RepoForbidden,
			WrongLogIndex: true, Fault: &registry.Fault{Status: 403}, Expect: bad(ClassForbidden)},

		// Age: 23.5 months is expiring, 25 months expired (default policy).
		{Name: "aged-expiring", Recipe: h200Training, Signer: nvidia, SignedAt: ago(23, 15), Expect: Expectation{Verdict: Verified, Age: AgeExpiring}},
		{Name: "aged-expired", Recipe: a100Training, Signer: partner, SignedAt: ago(25, 0), Expect: Expectation{Verdict: Verified, Age: AgeExpired}},

		// Older history: a flat pointer edited in place twice (v1 era), a
		// pointer merged then removed, a cosign .att attestation.
		{Name: "flat-v1", Recipe: h100Flat, Signer: nvidia, Layout: gitrepo.LayoutFlat, PredicateType: publish.PredicateV1, SignedAt: ago(20, 0), Expect: ok},
		{Name: "flat-v2-edit", Recipe: h100Flat, Signer: nvidia, Layout: gitrepo.LayoutFlat, PredicateType: publish.PredicateV1, SignedAt: ago(16, 0), Expect: ok},
		{Name: "flat-v3-edit", Recipe: h100Flat, Signer: nvidia, Layout: gitrepo.LayoutFlat, PredicateType: publish.PredicateV1, SignedAt: ago(11, 0), Expect: ok},
		{Name: "removed-pointer", Recipe: l40sInference, Signer: nvidia, SignedAt: ago(7, 0), RemovedAt: ago(6, 0), Expect: ok},
		{Name: "legacy-cosign-att", Recipe: a100Inference, Signer: nvidia, PredicateType: publish.PredicateV1, SignedAt: ago(18, 0), LegacyCosign: true, Expect: ok},
		// A cosign .att attestation timestamped by the TSA instead of
		// logged (cosign attest --tlog-upload=false --timestamp-server-url):
		// it verifies through its RFC 3161 timestamp, with a warning that no
		// log entry stands behind it.
		{Name: "legacy-cosign-att-timestamped", Recipe: h100Training, Signer: partner, PredicateType: publish.PredicateV1, SignedAt: ago(9, 0),
			LegacyCosign: true, LegacyTimestamped: true, LegacyUnlogged: true, Expect: ok},
	}
}

// ScaleRecipes is how many recipes ScaleCases spreads its pointers over.
const ScaleRecipes = 100

// ScaleBatch is how many pointers one validation run of ScaleCases signs
// within a minute, so that WithLeafReuse shares leaves across a run.
const ScaleBatch = 50

// ScaleCases returns n good pointers (verified, fresh at now) over
// ScaleRecipes recipes and three signers, per-source, signed in nightly runs
// of ScaleBatch pointers spread over the 20 months before now and merged
// within hours of signing: the world for benchmarks.
func ScaleCases(n int, now time.Time) []Case {
	now = now.UTC().Truncate(time.Second)
	accels := []string{"h100", "h200", "gb200", "a100", "l40s"}
	services := []string{"eks", "aks", "gke", "oke"}
	intents := []string{"training", "inference", "inference-dynamo", "inference-nim", "training-kubeflow"}
	signers := []Identity{SignerNVIDIA, SignerPartner, SignerLab}
	recipe := func(i int) string {
		i %= ScaleRecipes
		return fmt.Sprintf("%s-%s-ubuntu-%s", accels[i%len(accels)], services[(i/len(accels))%len(services)], intents[(i/(len(accels)*len(services)))%len(intents)])
	}
	start := now.AddDate(0, -20, 0)
	span := now.Add(-48 * time.Hour).Sub(start)
	batches := (n + ScaleBatch - 1) / ScaleBatch
	cases := make([]Case, n)
	for i := range cases {
		b, j := i/ScaleBatch, i%ScaleBatch
		run := start.Add(time.Duration(int64(span) / int64(max(batches, 1)) * int64(b)))
		signed := run.Add(time.Duration(j) * time.Second)
		cases[i] = Case{
			Name:     fmt.Sprintf("scale-%06d", i),
			Recipe:   recipe(i),
			Signer:   signers[i%len(signers)],
			SignedAt: signed,
			MergedAt: signed.Add(6*time.Hour + time.Duration(j)*time.Minute),
			Expect:   Expectation{Verdict: Verified, Age: AgeFresh},
		}
	}
	return cases
}

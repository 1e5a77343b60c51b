// Package reporttest writes a small, fully pinned audit history into a
// ledger through the real ledger API, for the report's golden tests and the
// CLI tests: two complete runs over pointers that cover every verdict,
// class, age, time source and route of a verdict, so that the second run
// has changes against the first. Nothing in it reads the clock.
//
// It imports internal/audit, internal/ledger and internal/sandbox/gitrepo
// (for valid pointer files); only tests import it.
package reporttest

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/gitrepo"
)

// Facts of the fixture that tests assert on.
const (
	Repo        = "https://github.com/example/aicr.git"
	Ref         = "main"
	EvidenceDir = "recipes/evidence"
)

// Pinned times of the fixture's runs.
var (
	AsOf1     = time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC)
	AsOf2     = time.Date(2026, 9, 1, 3, 0, 0, 0, time.UTC)
	Started1  = AsOf1.Add(2 * time.Second)
	Finished1 = AsOf1.Add(95 * time.Second)
	Started2  = AsOf2.Add(2 * time.Second)
	Finished2 = AsOf2.Add(101 * time.Second)
	Started3  = AsOf2.Add(24 * time.Hour)
)

// Clock is a ledger clock for the fixture: the walk and other times the
// ledger takes itself are pinned too.
func Clock() func() time.Time {
	now := time.Date(2026, 9, 1, 2, 0, 0, 0, time.UTC)
	return func() time.Time {
		now = now.Add(time.Second)
		return now
	}
}

// Signers of the fixture, by allowlist class.
var (
	FirstParty = signer{"https://github.com/NVIDIA/aicr/.github/workflows/uat-aws.yaml@refs/heads/main", "https://token.actions.githubusercontent.com"}
	Community  = signer{"alice@example.com", "https://github.com/login/oauth"}
	Unlisted   = signer{"https://github.com/someone/fork/.github/workflows/x.yaml@refs/heads/main", "https://token.actions.githubusercontent.com"}
)

type signer struct{ Identity, Issuer string }

// Allowlist is the allowlist the fixture's runs record.
const Allowlist = `schemaVersion: 1.0.0
firstParty:
  - label: aicr-uat-aws
    issuer: https://token.actions.githubusercontent.com
    identityPattern: '^https://github\.com/NVIDIA/aicr/\.github/workflows/uat-aws\.yaml@refs/heads/.+$'
community:
  - issuer: https://github.com/login/oauth
    source: ` + "SOURCE" + `
partner: []
`

// entry is one pointer version and its results in the two runs.
type entry struct {
	n       int // seed of its commit and digest
	recipe  string
	path    string // "" = per-source path from the fields
	fields  gitrepo.PointerFields
	content []byte // overrides fields (malformed files)
	addedAt time.Time
	removed bool
	// results in run 1 (zero Verdict: not audited) and run 2
	r1, r2 audit.Result
}

func commit(n int) string {
	s := sha1.Sum([]byte(fmt.Sprintf("commit-%d", n)))
	return hex.EncodeToString(s[:])
}

// Digest is the bundle digest of the fixture's entry n.
func Digest(n int) string { return digest(n) }

func digest(n int) string {
	s := sha256.Sum256([]byte(fmt.Sprintf("bundle-%d", n)))
	return "sha256:" + hex.EncodeToString(s[:])
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 14, 30, 0, 0, time.UTC) }

func idx(i int64) *int64 { return &i }

var allPass = map[string]audit.PhaseCounts{
	"deployment": {Passed: 4}, "performance": {Passed: 2}, "conformance": {Passed: 31, Skipped: 2},
}

// res is a result with the fields every result has.
func res(v audit.Verdict, c audit.Class, via audit.Via, at time.Time, src audit.TimeSource, age audit.Age, detail, hint string) audit.Result {
	return audit.Result{Verdict: v, Class: c, VerifiedVia: via, AttestedAt: at, AttestedAtSource: src, Age: age,
		Detail: detail, Hint: hint, RekorLogIndex: -1}
}

func entries() []entry {
	const (
		typeV3     = "https://aicr.run/recipe-evidence/v3"
		typeLegacy = "https://aicr.nvidia.com/recipe-evidence/v1"
	)
	ok := func(at time.Time, age audit.Age, via audit.Via, logIdx int64, phases map[string]audit.PhaseCounts) audit.Result {
		r := res(audit.Verified, "", via, at, audit.TimeSigned, age, "bundle verified: signature, log proof, signer and 9 files", "")
		r.RekorLogIndex, r.Phases, r.Deep = logIdx, phases, via == audit.ViaOCI
		return r
	}
	ptr := func(recipe string, s signer, n int, at time.Time, oci string) gitrepo.PointerFields {
		return gitrepo.PointerFields{Recipe: recipe, AttestedAt: at, OCI: oci, Digest: digest(n), PredicateType: typeV3,
			Identity: s.Identity, Issuer: s.Issuer, RekorLogIndex: idx(int64(35699000 + n))}
	}
	const ghcr = "ghcr.io/nvidia/aicr-evidence:run"
	withFailures := map[string]audit.PhaseCounts{"deployment": {Passed: 4}, "conformance": {Passed: 29, Failed: 2, Skipped: 2}}

	rekorOnly := res(audit.RekorOnly, "", audit.ViaRekor, day(2025, 1, 20), audit.TimeLog, audit.AgeFresh,
		"registry answered 404 MANIFEST_UNKNOWN; Rekor entry 35699004 proves the statement was signed by the pointer's signer",
		"re-publish the bundle or re-certify the recipe")
	rekorOnly.RekorLogIndex = 35699004

	es := []entry{
		{n: 1, recipe: "h100-aks-ubuntu-training", fields: ptr("h100-aks-ubuntu-training", FirstParty, 1, day(2026, 7, 21), ghcr), addedAt: day(2026, 7, 22),
			r1: audit.Result{}, // merged after run 1
			r2: ok(day(2026, 7, 21), audit.AgeFresh, audit.ViaOCI, 35699001, allPass)},
		{n: 2, recipe: "h100-aks-ubuntu-training", fields: ptr("h100-aks-ubuntu-training", Community, 2, day(2025, 3, 10), ghcr), addedAt: day(2025, 3, 11),
			r1: func() audit.Result {
				r := ok(day(2025, 3, 10), audit.AgeFresh, audit.ViaOCI, 35699002, withFailures)
				r.Verdict, r.Detail = audit.VerifiedWithFailures, "bundle verified; the signed predicate records 2 failed conformance tests"
				return r
			}(),
			r2: func() audit.Result {
				r := ok(day(2025, 3, 10), audit.AgeFresh, audit.ViaCache, 35699002, withFailures)
				r.Verdict, r.Detail = audit.VerifiedWithFailures, "bundle verified; the signed predicate records 2 failed conformance tests"
				return r
			}()},
		{n: 3, recipe: "gb200-eks-ubuntu-inference", fields: ptr("gb200-eks-ubuntu-inference", FirstParty, 3, day(2024, 6, 15), ghcr), addedAt: day(2024, 6, 16),
			r1: ok(day(2024, 6, 15), audit.AgeExpiring, audit.ViaOCI, 35699003, allPass),
			r2: ok(day(2024, 6, 15), audit.AgeExpired, audit.ViaOCI, 35699003, allPass)},
		{n: 4, recipe: "gb200-eks-ubuntu-inference", fields: ptr("gb200-eks-ubuntu-inference", FirstParty, 4, day(2025, 1, 20), "ghcr.io/gone-org/aicr-evidence:run"), addedAt: day(2025, 1, 21),
			r1: ok(day(2025, 1, 20), audit.AgeFresh, audit.ViaOCI, 35699004, allPass),
			r2: rekorOnly},
		{n: 5, recipe: "a100-gke-cos-training-gpustack-bundle-installer", fields: func() gitrepo.PointerFields {
			f := ptr("a100-gke-cos-training-gpustack-bundle-installer", Community, 5, day(2024, 9, 20), ghcr)
			f.Profile = "gpuStack=bundle-installer" // a profiled recipe's evidence
			return f
		}(), addedAt: day(2024, 9, 21),
			r1: ok(day(2024, 9, 20), audit.AgeFresh, audit.ViaOCI, 35699005, allPass),
			r2: ok(day(2024, 9, 20), audit.AgeExpiring, audit.ViaCache, 35699005, allPass)},
		{n: 6, recipe: "l40s-oke-ubuntu-inference", fields: ptr("l40s-oke-ubuntu-inference", Community, 6, day(2025, 2, 1), "quay.io/acme/evidence:v1"), addedAt: day(2025, 2, 2),
			r1: res(audit.NoVerdict, audit.ClassTransient, audit.ViaNone, day(2025, 2, 1), audit.TimePointer, audit.AgeFresh,
				"registry quay.io answered 503 three times; retried next run", ""),
			r2: res(audit.Invalid, audit.ClassNotFound, audit.ViaNone, day(2025, 2, 1), audit.TimePointer, audit.AgeFresh,
				"registry answered 404 NAME_UNKNOWN and the transparency log has no entry for the bundle digest",
				"the evidence is gone: re-run the validation and merge a new pointer")},
		{n: 7, recipe: "l40s-oke-ubuntu-inference", fields: func() gitrepo.PointerFields {
			f := ptr("l40s-oke-ubuntu-inference", Community, 7, time.Time{}, "ghcr.io/private-org/evidence:v1")
			f.RekorLogIndex = nil
			return f
		}(), addedAt: day(2025, 4, 2),
			r1: res(audit.Invalid, audit.ClassForbidden, audit.ViaNone, day(2025, 4, 2), audit.TimeCommit, audit.AgeFresh,
				"registry answered 403 DENIED: the namespace is private", "ask the owner to make ghcr.io/private-org public again"),
			r2: res(audit.Invalid, audit.ClassForbidden, audit.ViaNone, day(2025, 4, 2), audit.TimeCommit, audit.AgeFresh,
				"registry answered 403 DENIED: the namespace is private", "ask the owner to make ghcr.io/private-org public again")},
		{n: 8, recipe: "h200-aks-ubuntu-inference", fields: ptr("h200-aks-ubuntu-inference", FirstParty, 8, day(2026, 2, 14), ghcr), addedAt: day(2026, 2, 15),
			r1: ok(day(2026, 2, 14), audit.AgeFresh, audit.ViaOCI, 35699008, allPass),
			r2: ok(day(2026, 2, 14), audit.AgeFresh, audit.ViaOCI, 35699008, allPass)},
		{n: 9, recipe: "h200-aks-ubuntu-inference", fields: ptr("h200-aks-ubuntu-inference", FirstParty, 9, day(2026, 1, 5), ghcr), addedAt: day(2026, 1, 6),
			r1: ok(day(2026, 1, 5), audit.AgeFresh, audit.ViaOCI, 35699009, allPass),
			r2: res(audit.Invalid, audit.ClassSignature, audit.ViaOCI, day(2026, 1, 5), audit.TimePointer, audit.AgeFresh,
				"DSSE signature does not verify | <script>alert('x')</script> *bold* @octocat [link](https://evil.example) `tick`",
				"the bundle bytes changed since they were signed")},
		{n: 10, recipe: "h200-aks-ubuntu-inference", fields: ptr("h200-aks-ubuntu-inference", Unlisted, 10, day(2025, 12, 1), ghcr), addedAt: day(2025, 12, 2),
			r1: res(audit.Invalid, audit.ClassIdentity, audit.ViaOCI, day(2025, 12, 1), audit.TimeLog, audit.AgeFresh,
				"certificate SAN https://github.com/other/repo/.github/workflows/x.yaml@refs/heads/main is not the pointer's signer", ""),
			r2: res(audit.Invalid, audit.ClassIdentity, audit.ViaOCI, day(2025, 12, 1), audit.TimeLog, audit.AgeFresh,
				"certificate SAN https://github.com/other/repo/.github/workflows/x.yaml@refs/heads/main is not the pointer's signer", "")},
		{n: 11, recipe: "h200-aks-ubuntu-inference", fields: ptr("h200-aks-ubuntu-inference", FirstParty, 11, day(2025, 11, 3), ghcr), addedAt: day(2025, 11, 4),
			r1: res(audit.Invalid, audit.ClassIntegrity, audit.ViaOCI, day(2025, 11, 3), audit.TimeSigned, audit.AgeFresh,
				"manifest.json lists ctrf/conformance.json with sha256:1111…, the layer holds sha256:2222…", ""),
			r2: res(audit.Invalid, audit.ClassIntegrity, audit.ViaOCI, day(2025, 11, 3), audit.TimeSigned, audit.AgeFresh,
				"manifest.json lists ctrf/conformance.json with sha256:1111…, the layer holds sha256:2222…", "")},
		{n: 12, recipe: "h200-aks-ubuntu-inference", fields: func() gitrepo.PointerFields {
			f := ptr("h200-aks-ubuntu-inference", FirstParty, 12, day(2025, 10, 1), ghcr)
			f.Unsigned, f.RekorLogIndex = true, nil
			return f
		}(), path: "recipes/evidence/h200-aks-ubuntu-inference/00000000000000000000000000000000/" + "sha256-" + digest(12)[7:] + ".yaml", addedAt: day(2025, 10, 2),
			r1: res(audit.Invalid, audit.ClassSignature, audit.ViaNone, day(2025, 10, 1), audit.TimePointer, audit.AgeFresh,
				"the pointer has no signer: pending evidence must never be merged", "remove the pointer or sign the bundle"),
			r2: res(audit.Invalid, audit.ClassSignature, audit.ViaNone, day(2025, 10, 1), audit.TimePointer, audit.AgeFresh,
				"the pointer has no signer: pending evidence must never be merged", "remove the pointer or sign the bundle")},
		{n: 13, recipe: "b200-eks-ubuntu-training", fields: ptr("b200-eks-ubuntu-training", FirstParty, 13, day(2026, 3, 3), ghcr),
			path: "recipes/evidence/b200-eks-ubuntu-training/not-a-source/sha256-" + digest(13)[7:] + ".yaml", addedAt: day(2026, 3, 4),
			r1: res(audit.Invalid, audit.ClassPlacement, audit.ViaNone, day(2026, 3, 3), audit.TimePointer, audit.AgeFresh,
				"the source directory not-a-source is not the signer's slug", "move the pointer to its signer's directory"),
			r2: res(audit.Invalid, audit.ClassPlacement, audit.ViaNone, day(2026, 3, 3), audit.TimePointer, audit.AgeFresh,
				"the source directory not-a-source is not the signer's slug", "move the pointer to its signer's directory")},
		{n: 14, recipe: "b200-eks-ubuntu-training", path: "recipes/evidence/b200-eks-ubuntu-training/" + sourceOf(FirstParty) + "/sha256-" + digest(14)[7:] + ".yaml",
			content: []byte("schemaVersion: 1.0.0\nrecipe: b200-eks-ubuntu-training\nattestations: []\n"), addedAt: day(2026, 3, 10),
			r1: res(audit.Invalid, audit.ClassSchema, audit.ViaNone, day(2026, 3, 10), audit.TimeCommit, audit.AgeFresh,
				"attestations: exactly one entry required, found 0", ""),
			r2: res(audit.Invalid, audit.ClassSchema, audit.ViaNone, day(2026, 3, 10), audit.TimeCommit, audit.AgeFresh,
				"attestations: exactly one entry required, found 0", "")},
		{n: 15, recipe: "h100-eks-ubuntu-inference-dynamo", path: gitrepo.FlatPath("h100-eks-ubuntu-inference-dynamo"), fields: func() gitrepo.PointerFields {
			f := ptr("h100-eks-ubuntu-inference-dynamo", Community, 15, day(2024, 5, 3), "ghcr.io/nvidia/aicr-evidence:v1")
			f.PredicateType = typeLegacy
			return f
		}(), addedAt: day(2024, 5, 4), removed: true,
			r1: res(audit.Invalid, audit.ClassLegacyPredicate, audit.ViaNone, day(2024, 5, 3), audit.TimePointer, audit.AgeExpiring,
				"predicate type https://aicr.nvidia.com/recipe-evidence/v1 is the pre-migration legacy form", ""),
			r2: res(audit.Invalid, audit.ClassLegacyPredicate, audit.ViaNone, day(2024, 5, 3), audit.TimePointer, audit.AgeExpired,
				"predicate type https://aicr.nvidia.com/recipe-evidence/v1 is the pre-migration legacy form", "")},
		{n: 16, recipe: "mi300-aks-ubuntu-inference", fields: ptr("mi300-aks-ubuntu-inference", Unlisted, 16, day(2026, 4, 1), "10.0.0.5:5000/evidence:v1"), addedAt: day(2026, 4, 2),
			r1: res(audit.Invalid, audit.ClassUntrustedRegistry, audit.ViaNone, day(2026, 4, 1), audit.TimePointer, audit.AgeFresh,
				"registry 10.0.0.5:5000 is a private address and registry.allowPrivateNetworks is off", ""),
			r2: res(audit.Invalid, audit.ClassUntrustedRegistry, audit.ViaNone, day(2026, 4, 1), audit.TimePointer, audit.AgeFresh,
				"registry 10.0.0.5:5000 is a private address and registry.allowPrivateNetworks is off", "")},
		{n: 17, recipe: "mi300-aks-ubuntu-inference", fields: ptr("mi300-aks-ubuntu-inference", FirstParty, 17, day(2026, 4, 20), "registry.example.org/aicr/evidence:v1"), addedAt: day(2026, 4, 21),
			r1: ok(day(2026, 4, 20), audit.AgeFresh, audit.ViaOCI, 35699017, allPass),
			r2: res(audit.NoVerdict, audit.ClassTransient, audit.ViaNone, day(2026, 4, 20), audit.TimePointer, audit.AgeFresh,
				"registry.example.org answered 429 Too Many Requests (Retry-After 3600) after 4 attempts", "retried next run")},
		{n: 18, recipe: "h100-aks-ubuntu-training", fields: ptr("h100-aks-ubuntu-training", FirstParty, 18, day(2026, 8, 30), ghcr), addedAt: day(2026, 8, 31),
			r2: res(audit.NoVerdict, audit.ClassCanceled, audit.ViaNone, day(2026, 8, 30), audit.TimePointer, audit.AgeFresh,
				"the run was canceled before this pointer was audited; it is retried next run", "")},
		// Verified and archived in run 1, deleted from its registry before
		// run 2, which proves it from the archive (SPEC §9).
		{n: 19, recipe: "h200-aks-ubuntu-inference", fields: ptr("h200-aks-ubuntu-inference", Community, 19, day(2025, 9, 1), "ghcr.io/gone-user/aicr-evidence:run"), addedAt: day(2025, 9, 2),
			r1: ok(day(2025, 9, 1), audit.AgeFresh, audit.ViaOCI, 35699019, allPass),
			r2: func() audit.Result {
				r := ok(day(2025, 9, 1), audit.AgeFresh, audit.ViaArchive, 35699019, allPass)
				r.Verdict, r.Deep = audit.Archived, true
				r.Detail = "the registry no longer serves the bundle; the auditor's archived copy (oci-layout:/var/lib/evidence-auditd/archive, archived 2026-06-01) is digest-identical and passes every check of a verified bundle"
				r.Hint = "restore it with `evidence-auditd archive restore POINTER.yaml --to REGISTRY/REPOSITORY` (or --lost), then point bundle.oci at the new repository if it differs"
				return r
			}()},
	}
	for i := range es {
		e := &es[i]
		if e.content == nil {
			e.content = gitrepo.PointerYAML(e.fields)
		}
		if e.path == "" {
			e.path = gitrepo.PerSourcePath(e.fields.Recipe, e.fields.Issuer, e.fields.Identity, e.fields.Digest)
		}
		key := audit.VersionKey{Path: e.path, AddedCommit: commit(e.n)}
		for _, r := range []*audit.Result{&e.r1, &e.r2} {
			if r.Verdict == "" {
				continue
			}
			r.Key, r.Recipe, r.BundleDigest = key, e.recipe, digest(e.n)
			if r.RekorLogIndex < 0 && e.fields.RekorLogIndex != nil {
				r.RekorLogIndex = *e.fields.RekorLogIndex
			}
			r.CheckedAt = e.addedAt // pinned; any fixed time will do
			r.Checks = []audit.Check{{Name: "fixture", Status: audit.CheckPass}}
		}
	}
	return es
}

// sourceOf is the source slug of s (SPEC §2.1), as gitrepo computes it.
func sourceOf(s signer) string {
	sum := sha256.Sum256([]byte(s.Issuer + "\n" + s.Identity))
	return hex.EncodeToString(sum[:])[:32]
}

// Runs are the ids of the fixture's runs.
type Runs struct {
	First, Second int64
}

// Build writes the fixture into db: the pointer inventory, run 1 (complete,
// as of AsOf1) and run 2 (complete, as of AsOf2, with a verdict change, a
// new pointer and a canceled one), each with its inputs and recipe
// statuses, and recert issues for two recipes.
func Build(ctx context.Context, db *ledger.DB) (Runs, error) {
	es := entries()
	var versions []audit.PointerVersion
	live := map[audit.VersionKey]bool{}
	for _, e := range es {
		v := audit.PointerVersion{
			Key:     audit.VersionKey{Path: e.path, AddedCommit: commit(e.n)},
			Blob:    fmt.Sprintf("%x", sha1.Sum(e.content)),
			Content: e.content,
			AddedAt: e.addedAt,
		}
		if e.removed {
			v.RemovedCommit, v.RemovedAt = commit(100+e.n), e.addedAt.AddDate(1, 0, 0)
		} else {
			live[v.Key] = true
		}
		versions = append(versions, v)
	}
	head := commit(1000)
	if err := db.ApplyWalk(ctx, Repo, &audit.WalkDelta{Ref: Ref, Head: head, Full: true, Added: versions}); err != nil {
		return Runs{}, err
	}
	allow := []byte(strings.Replace(Allowlist, "SOURCE", sourceOf(Community), 1))
	trustRoot := "sha256:" + hex.EncodeToString(func() []byte { s := sha256.Sum256([]byte("trusted_root.json")); return s[:] }())

	var ids Runs
	for i, spec := range []struct {
		asOf, started, finished time.Time
		pick                    func(e entry) audit.Result
	}{
		{AsOf1, Started1, Finished1, func(e entry) audit.Result { return e.r1 }},
		{AsOf2, Started2, Finished2, func(e entry) audit.Result { return e.r2 }},
	} {
		run, err := db.BeginRun(ctx, ledger.RunMeta{Repo: Repo, Ref: Ref, Commit: head, AsOf: spec.asOf, TrustRoot: trustRoot,
			VerifierVersion: "evidence-auditd/verify 1", Deep: i == 0, StartedAt: spec.started})
		if err != nil {
			return Runs{}, err
		}
		if err := db.PutRunInputs(ctx, run.ID, ledger.RunInputs{EvidenceDir: EvidenceDir, Allowlist: allow, Archive: ArchiveStore}); err != nil {
			return Runs{}, err
		}
		var results []audit.Result
		for _, e := range es {
			if r := spec.pick(e); r.Verdict != "" {
				results = append(results, r)
			}
		}
		if _, err := db.AppendResults(ctx, run.ID, results); err != nil {
			return Runs{}, err
		}
		if err := db.RecordArchived(ctx, archived(run.ID, i)); err != nil {
			return Runs{}, err
		}
		if err := db.PutRecipeStatuses(ctx, run.ID, audit.RecipeStatuses(results, live)); err != nil {
			return Runs{}, err
		}
		if _, err := db.FinishRun(ctx, run.ID, true, spec.finished); err != nil {
			return Runs{}, err
		}
		if i == 0 {
			ids.First = run.ID
		} else {
			ids.Second = run.ID
		}
	}
	for _, is := range []ledger.IssueRecord{
		{Issue: ledger.Issue{Recipe: "gb200-eks-ubuntu-inference", Kind: "recert", Number: 12, URL: "https://github.com/example/aicr/issues/12", State: "open", UpdatedAt: Finished2},
			RoutedVia: "maintainers", Assignees: []string{"alice", "bob"}, Condition: audit.ReasonExpired},
		{Issue: ledger.Issue{Recipe: "gb200-eks-ubuntu-inference", Kind: "lost", Number: 13, URL: "https://github.com/example/aicr/issues/13", State: "open", UpdatedAt: Finished2},
			RoutedVia: "maintainers", Assignees: []string{"alice", "bob"}},
		{Issue: ledger.Issue{Recipe: "l40s-oke-ubuntu-inference", Kind: "recert", Number: 15, URL: "https://github.com/example/aicr/issues/15", State: "open", UpdatedAt: Finished2},
			RoutedVia: "codeowners", Assignees: []string{"oci-team-lead"}, Condition: audit.ReasonNoHealthy},
		{Issue: ledger.Issue{Recipe: "a100-gke-cos-training-gpustack-bundle-installer", Kind: "recert", Number: 16, URL: "https://github.com/example/aicr/issues/16", State: "open", UpdatedAt: Finished2},
			RoutedVia: "default"},
		{Issue: ledger.Issue{Recipe: "h200-aks-ubuntu-inference", Kind: "recert", Number: 9, URL: "https://github.com/example/aicr/issues/9", State: "closed", UpdatedAt: Finished1},
			RoutedVia: "maintainers", Assignees: []string{"carol"}},
	} {
		if err := db.PutIssueRecord(ctx, is); err != nil {
			return Runs{}, err
		}
	}
	return ids, nil
}

// ArchiveStore is the archive the fixture's runs copy into.
const ArchiveStore = "oci-layout:/var/lib/evidence-auditd/archive"

// archived are the copies the fixture's run i (0 or 1, id runID) makes:
// run 1 archives bundles 3, 4, 8 and 19 while it runs; a backfill between
// the runs archives 9; run 2 archives 1. Bundles 2 and 5 stay pending
// (reused on the fast path, never copied).
func archived(runID int64, i int) []audit.ArchivedBundle {
	rec := func(n int, at time.Time, run int64) audit.ArchivedBundle {
		return audit.ArchivedBundle{Digest: digest(n), Store: ArchiveStore, Signature: audit.SigstoreBundle, ReferrerDigest: digest(500 + n),
			Objects: []audit.ObjectRef{{Digest: digest(n), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 420, Manifest: true}},
			Bytes:   420, At: at, RunID: run}
	}
	if i == 0 {
		return []audit.ArchivedBundle{rec(3, Started1.Add(10*time.Second), runID), rec(4, Started1.Add(11*time.Second), runID),
			rec(8, Started1.Add(12*time.Second), runID), rec(19, Started1.Add(13*time.Second), runID)}
	}
	return []audit.ArchivedBundle{rec(9, Finished1.Add(time.Hour), 0), rec(1, Started2.Add(5*time.Second), runID)}
}

// AddUnfinishedRun begins a third run that records two results and is
// never finished, as a run killed midway leaves the ledger.
func AddUnfinishedRun(ctx context.Context, db *ledger.DB) (int64, error) {
	run, err := db.BeginRun(ctx, ledger.RunMeta{Repo: Repo, Ref: Ref, Commit: commit(1000), AsOf: Started3,
		TrustRoot: "sha256:" + fmt.Sprintf("%064x", 7), VerifierVersion: "evidence-auditd/verify 1", StartedAt: Started3})
	if err != nil {
		return 0, err
	}
	es := entries()
	for _, e := range es[:2] {
		r := e.r2
		r.CheckedAt = Started3
		if _, err := db.AppendResult(ctx, run.ID, r); err != nil {
			return 0, err
		}
	}
	return run.ID, nil
}

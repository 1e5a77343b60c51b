// Package publish builds AICR summary bundles (SPEC §2.2) and publishes them
// to an OCI registry the way AICR's tooling does: the summary artifact, its
// Sigstore bundle v0.3 attached as an OCI 1.1 referrer (Referrers API or the
// sha256-<hex> tag schema), and, for older history, the legacy cosign form
// (tag sha256-<hex>.att with DSSE layers and cosign's annotations).
//
// # The statement circularity
//
// The layer cannot contain a statement naming the digest of the manifest that
// contains the layer. So there are two statements with the same predicate:
//
//   - statement.intoto.json inside the layer is the pre-push statement: its
//     subject is {name: "manifest.json", digest: sha256 of manifest.json}.
//   - the signed statement, carried in the Sigstore bundle referrer, has
//     subject {name: <registry>/<repository>, digest: OCI manifest digest}
//     (SPEC §2.2: subject[0].digest.sha256 is the pointer's bundle.digest).
//
// The order is therefore: files → manifest.json → predicate → in-layer
// statement → tar+gzip layer → OCI manifest → its digest → signed statement.
//
// # Determinism
//
// [BuildSummary] is a pure function of its [SummarySpec]: tar headers carry
// AttestedAt as their time, mode 0644, uid/gid 0 and no user names; the gzip
// header has no name and no time; JSON is written from structs and sorted
// maps. The same spec gives the same layer and manifest digests (with the
// same Go version: compress/flate output is not guaranteed across releases,
// so never pin a digest in a fixture without the bytes).
//
// # Signing
//
// publish does not sign. [Publish] hands the signed statement to a
// [StatementSigner] (the sandbox signer: CA, DSSE, transparency log) and
// treats the returned Sigstore bundle as opaque bytes.
//
// # Publishing many
//
// [Publish] is one-shot. A [Publisher] reused across calls skips the
// per-call version check and blob existence checks go-containerregistry
// would repeat, which matters when generating 10 000 pointers
// (BenchmarkBuildAndPublish).
//
// # Bad cases
//
// [SummarySpec] has options that produce the findings an auditor must
// report: failed phases (a known failure, still valid), a broken inventory,
// a signed statement naming another digest, a predicate naming another
// recipe or signing another recipe digest, a legacy predicate type; and a
// nil signer publishes an unsigned artifact.
//
// # Fidelity
//
// The predicate has AICR's fields (schemaVersion, aicrVersion, validator
// images, fingerprint, criteriaMatch, phases, bom, manifest, the profile
// block of a profiled recipe, optional redaction), and recipe.yaml is a
// hydrated RecipeResult whose canonical digest (evidence.RecipeDigest, the
// input format's own definition, for the predicate type) is
// predicate.recipe.digest.
//
// publish imports go-containerregistry, internal/evidence (for that digest
// and the profile grammar) and the standard library; it must not import the
// audit core, the verifier, or other sandbox packages (the signer satisfies
// [StatementSigner], not the other way round).
package publish

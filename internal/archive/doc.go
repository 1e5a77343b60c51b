// Package archive keeps the auditor's own digest-preserving copies of the
// bundles it verified healthy (SPEC §9; ADR-007's deferred "archive
// registry"), so that evidence stays verifiable after its registry deleted
// it or went private. It satisfies audit.Archive with two stores:
//
//   - Layout, an OCI image layout directory (archive.dir, the default, under
//     dataDir; works offline): blobs/sha256/<hex> holds every object,
//     index.json lists up to 256 shard indexes (nested image indexes, by the
//     first two hex digits of the summary digest), and each shard lists the
//     summary manifests and signature manifests of its bundles, annotated
//     with the summary they belong to. Any OCI tool can read it.
//   - Repository, an OCI repository (archive.url) written through
//     go-containerregistry: blobs, the summary manifest by digest, then the
//     signature as an OCI 1.1 referrer (its sha256-<hex> tag index kept
//     where the registry lacks the Referrers API) or, for a legacy cosign
//     attestation, the .att image under its tag.
//
// Copying is write, verify, then record: every object is checked against
// its digest as it is written (and an object already there is re-hashed,
// and rewritten when damaged); in the layout a bundle becomes visible only
// when the index entry naming it is written, after every object it needs
// is on disk (fsync'd); the ledger records the copy after that (the caller,
// internal/audit, does). A crash therefore leaves at worst unreferenced
// blobs — harmless, reused by a later copy, and counted by Verify — never
// an index entry or a record naming something incomplete. Index entries are
// group-committed: copies finishing while the index is being written go
// into the next write, so a deep run of thousands of bundles rewrites the
// index a few hundred times rather than once per bundle, and each write
// rewrites only the shards it touches.
//
// Reading back goes through internal/registry's ReadEvidence (a Layout is a
// registry.Store) or the registry client itself (a Repository), so an
// archived copy is judged with every rule its origin was: limits, digests,
// referrer choice, legacy .att layers. A copy that does not match its
// digests is an integrity error, which the audit reports and never uses as
// proof. Verify re-hashes every object of every archived bundle; Restore
// pushes an archived bundle, with its signature, to another repository.
//
// Only what passed the registry client's limits is ever copied (the copy
// is made from the very bytes the verification read), and a copy must be
// whole: every blob its manifests name, the signature's subject the
// summary. archive imports internal/audit (the port it satisfies),
// internal/registry (to read copies back) and internal/atomicfile; it
// never prints and never logs.
package archive

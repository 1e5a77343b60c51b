// Package registry is the auditor's read-only access to OCI registries,
// built on go-containerregistry's transport (ping, bearer/basic auth, the
// Docker credential chain) with its own requests, limits, retries and
// error classes.
//
// It owns:
//
//   - FetchSummary: a summary bundle (SPEC §2.2) fetched as
//     repository@digest only — the locator's tag is never trusted — with
//     every read size-bounded (Limits) and digest-verified;
//   - the audit's Source (evidence.go, layer.go): Fetch reads the manifest
//     and the signatures side by side; Layer, which the audit calls only
//     once a signature holds (issue 15: signature first), streams the
//     layer through gunzip, untar and sha256 as it arrives, keeping in
//     memory only the files verification reads (audit.ReadInFull) and
//     digest-verifying the blob when it ends;
//   - ExtractLayer: the bundle's tar+gzip layer into memory, refusing path
//     escapes, links, devices, duplicates and oversize content (the same
//     walk, walkLayer, that Layer streams through);
//   - the memory budget (WithBudget): every body read and every file kept
//     holds its size of the run's budget while in memory; a kept file that
//     does not fit is never waited for while others are held (Layer reads
//     the layer again once it holds all it needs), so the budget cannot
//     deadlock;
//   - FindSigstoreBundle: the Sigstore bundle referrers (Referrers API,
//     then the sha256-<hex> tag schema), or a legacy cosign .att
//     attestation, returned raw; verification belongs to the caller;
//   - Probe: the fast path's HEAD existence checks;
//   - ReadEvidence: the same reading (limits, digest checks, referrer
//     choice, legacy .att) from a Store that is not a registry — the
//     auditor's archive (internal/archive) — so that an archived copy is
//     judged exactly as its origin was; the Evidence carries the raw
//     objects it was read from, which the archive copies;
//   - the host policy: https unless a host is listed as plain http,
//     registry.allow globs, and refusal of loopback, link-local, private
//     and unique-local addresses, checked on the dialed address so DNS
//     rebinding cannot bypass it;
//   - error classes (*FetchError, Kind, errors.Is sentinels) that map onto
//     the verdicts of SPEC §3: KindGone → bytes lost, KindForbidden,
//     KindIntegrity → invalid/integrity, KindPolicy →
//     invalid/untrusted-registry, KindNoSignature → invalid/signature,
//     KindInvalidRef → invalid/schema, KindTransient and KindCanceled →
//     no-verdict. Transient failures (429, 5xx, timeouts, DNS, resets,
//     bodies cut short) are retried with capped exponential backoff,
//     jitter and Retry-After before being returned. Whether a body was cut
//     short or is complete but different is decided in one place,
//     body.judge (body.go), from the Content-Length, the descriptor's size
//     and digest, and whether a manifest or index is whole JSON.
//
// Decisions where the SPEC is silent:
//
//   - A locator must name its host explicitly (no implicit Docker Hub).
//   - Summary manifests may be OCI image manifests or Docker v2 schema 2;
//     the single layer's media type must end in "+gzip" (or be Docker's
//     rootfs tar.gzip), and may not be non-distributable.
//   - Several Sigstore bundle referrers are all returned, newest by
//     org.opencontainers.image.created first, then the smallest digest;
//     the auditor verifies them in that order until one verifies. A
//     referrer whose bundle cannot be used (blob gone, over the limit,
//     wrong bytes, no single bundle layer, another subject) is skipped and
//     named; one the registry fails to serve makes the search transient.
//     Bundle media types v0.3 and v0.2 are accepted in both spellings.
//   - The tag schema is also consulted when the Referrers API exists but
//     lists no bundle (the bundle may have been pushed before the registry
//     gained the API); that costs a round trip only when unsigned.
//   - The caller's context canceled is KindCanceled; the caller's deadline
//     expiring is KindTransient (a timeout, as SPEC §3 means it).
//   - Unexpected 4xx answers (400, 405, …) are KindTransient but not
//     retried: they prove nothing about the bundle.
//   - No HTTP proxy is used: a proxy would resolve names where the
//     private-network check cannot see them.
//
// The client keeps one authenticated transport per repository for its
// lifetime (a ping and token exchange each); it starts no goroutines.
//
// registry imports internal/audit (the port it implements) and
// internal/budget; it must not import any other internal package.
package registry

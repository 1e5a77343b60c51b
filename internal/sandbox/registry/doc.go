// Package registry serves a real OCI distribution registry in-process on
// loopback for the sandbox, the demo and tests: go-containerregistry's
// pkg/registry (in-memory), with or without the OCI 1.1 Referrers API.
//
// Around the real handler it adds what tests of an auditor need and a
// production registry does by accident: per-repository fault injection
// (404, 403, 429 with Retry-After, 500, 503, slow responses, connection
// resets, bodies cut short without a Content-Length, resets mid-body,
// complete bodies with a changed byte, failing N times then recovering,
// optionally limited to one endpoint or reference), per-repository request
// counters, and deletion of manifests by tag and by digest.
//
// Known behaviour of pkg/registry that clients must cope with (see
// notes/real-components.md): with the Referrers API enabled it reports each
// referrer's artifactType as the referrer's config media type, ignores
// ?artifactType= and lists referrers in random order. Without it, clients
// fall back to the sha256-<hex> tag index (OCI distribution spec, referrers
// tag schema).
//
// One deliberate substitution: pkg/registry computes each Referrers API
// answer by parsing every manifest of the repository, which makes a probe
// cost O(manifests) (≈ 200 ms at 10 000 pointers in one repository) and
// would dominate every benchmark. The Registry answers the Referrers API
// from an index kept as manifests are pushed and deleted, with the same
// answer pkg/registry gives, quirks included (config media type as
// artifactType, filter ignored, random order). Everything else is served by
// pkg/registry itself.
//
// Deletion: pkg/registry keeps a tag resolvable after its manifest is deleted
// by digest. [Registry.Delete] of a digest therefore also deletes every tag of
// that repository that points at the digest, so "deleted" means gone, as in
// CNCF distribution. Deleting a tag only untags: the manifest stays reachable
// by digest. Neither touches blobs or referrers of the deleted manifest.
//
// registry imports only go-containerregistry and the standard library; it
// must not import the audit core or any other sandbox package.
package registry

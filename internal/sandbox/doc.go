// Package sandbox composes the sandbox parts into a complete private evidence
// world: the Fulcio-like CA (ca), the Rekor v1 compatible transparency log
// (tlog), the Rekor v2 tile log (rekorv2), the RFC 3161 timestamp
// authority (tsa) and an OIDC issuer with a Fulcio-like front to the CA for
// keyless signing (fulcio), each served over HTTP on loopback, the signer that turns
// statements into Sigstore bundles of either era (signer), the in-process OCI registry with faults
// (registry), the summary-bundle publisher (publish) and the AICR git
// repository generator (gitrepo). It powers `evidence-auditd demo` and the
// end-to-end tests, so it is product code: everything it makes is what
// production verification accepts.
//
// A World lives in one directory:
//
//	<dir>/trusted_root.json     the CA, both logs and the TSA (written by Start)
//	<dir>/repo/                 the AICR repository (written by Build)
//	<dir>/evidence-auditd.yaml  a configuration for it (WriteConfig)
//
// New starts nothing; Start brings up the log server and the registry; Close
// stops them. Build takes a declarative catalogue of Cases — one pointer
// version each, good or bad in a named way, with the verdict an auditor
// must reach (SPEC §3) — and publishes, signs, merges and finally breaks the
// registry as the cases say. DemoCases is the demo's catalogue (every
// scenario of the audit issue); ScaleCases makes thousands of good pointers
// for benchmarks.
//
// The sandbox produces the auditor's input, so it must not import the
// auditor (internal/audit, internal/registry, internal/rekor, ...). It uses
// internal/evidence only for the format helpers that define the input
// (SourceSlug, BaseRecipe), internal/atomicfile to write files, and nothing
// from cmd/.
package sandbox

// Package rekorv2 is the sandbox's Rekor v2 transparency log: what
// rekor-tiles (github.com/sigstore/rekor-tiles/v2, v2.3.0) writes and what
// public-good log2025-1 serves, over an in-memory RFC 6962 Merkle tree
// (internal/sandbox/merkle).
//
//   - Entries are hashedrekord v0.0.2, validated and built by rekor-tiles'
//     own pkg/types/hashedrekord (the signature is verified against the
//     certificate or key before the entry is accepted) and stored as the
//     server stores them: the protobuf-JSON of the entry, canonicalized
//     (RFC 8785). A DSSE envelope is logged as a hashedrekord over its PAE
//     bytes, as sigstore-go ≥ 1.3 submits it.
//   - Checkpoints are C2SP signed notes (tlog-checkpoint: origin, size,
//     base64 root hash) signed with rekor-tiles' note signer: the origin is
//     the host the log is reached at (the trusted root's baseUrl host), the
//     key hint the first 4 bytes of the C2SP key hash, sha256(origin ‖ "\n"
//     ‖ 0x01 ‖ Ed25519 key) — or, for an ECDSA key, sha256(SPKI) as
//     rekor-tiles computes it. The full key hash is the log ID a trusted
//     root names the log by.
//   - Entries carry no integrated time and no signed entry timestamp: the
//     trusted time of a v2 bundle is an RFC 3161 timestamp (see package
//     tsa). So appending has no notion of time at all, and back-dated
//     evidence needs nothing from the log.
//
// Handler serves the write API (POST /api/v2/log/entries) and the read-only
// C2SP tlog-tiles view (/checkpoint, /tile/<L>/<N>[.p/<W>],
// /tile/entries/<N>[.p/<W>]) that public-good serves as static objects
// beside it. SetStatus, SetDown, Rewind and ForgeCheckpoint are test hooks
// that make the log misbehave (outage, fork, forged checkpoint).
//
// The package is product code (it powers `evidence-auditd demo`); of the
// evidence-auditd packages it imports only internal/sandbox/merkle.
package rekorv2

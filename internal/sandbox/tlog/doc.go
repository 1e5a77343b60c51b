// Package tlog is the sandbox's transparency log: a Rekor v1 compatible log
// over an in-memory RFC 6962 Merkle tree, with its own ECDSA P-256 key.
//
// Entries are built with rekor's own types (kinds dsse v0.0.1 and intoto
// v0.0.2 for evidence, hashedrekord v0.0.1 for signed messages), so the canonicalized body, the entry UUID (the RFC 6962 leaf
// hash), the index keys, the signed entry timestamp (a signature over the
// canonical JSON of {body, integratedTime, logIndex, logID}) and the signed
// checkpoint ("<hostname> - <treeID>" note) are exactly what a Rekor v1
// server would produce. The integrated time of each entry is chosen by the
// caller, so entries can be back-dated.
//
// Handler serves the subset of the Rekor v1 REST API that
// github.com/sigstore/rekor/pkg/client uses to read a log (log info, public
// key, consistency proof, entry by index or UUID, entry retrieval, index
// search) and also accepts new entries. Rewind and SetStatus are test hooks
// that make the log misbehave (fork, outage).
//
// A Rekor v1 log has no tile API: the sandbox's Rekor v2 log, with its own
// entry format, checkpoints and tiles, is package rekorv2.
//
// The package is product code (it powers `evidence-auditd demo`); it
// imports only the sandbox's Merkle tree (internal/sandbox/merkle) of the
// evidence-auditd packages.
package tlog

// Package merkle is the sandbox logs' Merkle tree: an in-memory RFC 6962
// tree that answers roots, inclusion and consistency proofs for any size it
// has held, and the subtree hashes C2SP tlog-tiles serves. Both sandbox
// logs — the Rekor v1 log (tlog) and the Rekor v2 tile log (rekorv2) —
// build on it, so their proofs come from one implementation.
//
// It must not import other evidence-auditd packages.
package merkle

// Package tsa is the sandbox's RFC 3161 timestamp authority, built as
// sigstore's timestamp-authority (v2.1.3) builds its in-memory signer and
// answers requests: a root, an intermediate with the timeStamping extended
// key usage, and a leaf whose extended key usage is id-kp-timeStamping and
// marked critical (RFC 3161 §2.3); responses are made with
// github.com/digitorus/timestamp, as timestamp-authority and sigstore-go's
// testing/ca make them. Unlike the real server, the time a response names
// is chosen by the caller (Timestamp) or pinned (SetTime), so that the
// sandbox can back-date Rekor v2 evidence, whose only trusted time is this
// timestamp.
//
// Handler serves timestamp-authority's API: POST /api/v1/timestamp
// (application/timestamp-query or application/json) and GET
// /api/v1/timestamp/certchain (PEM, leaf first).
//
// The package is product code (it powers `evidence-auditd demo`); of the
// evidence-auditd packages it imports only internal/sandbox/ca (for its key
// derivation).
package tsa

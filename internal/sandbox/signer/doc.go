// Package signer composes the sandbox CA (package ca) and transparency log
// (package tlog) into a private Sigstore: it signs in-toto statements at any
// chosen time into Sigstore bundles v0.3 (DSSE envelope, Fulcio-style leaf
// certificate, Rekor v1 dsse entry with SET and inclusion proof) or into the
// legacy cosign attestation form, and describes itself in a trusted_root.json
// that sigstore-go loads.
//
// Everything it produces is what production verification accepts: real
// ECDSA signatures, real certificate chains, real RFC 6962 proofs. Nothing in
// it is a shortcut.
//
// The package is product code (it powers `evidence-auditd demo` and the
// sandbox publisher); it may import the other sandbox packages ca and tlog,
// and no other evidence-auditd package.
package signer

// Package verify decides whether fetched evidence is what its pointer says
// it is: it implements audit.Verifier with sigstore-go against a configured
// trusted root (a trusted_root.json file, or Sigstore's public-good root
// through TUF), and then checks the signed statement and the summary
// bundle's files (SPEC §2.2, §3).
//
// Verification is a fixed, ordered list of named checks (CheckNames). The
// first positive failure decides the verdict's class; the checks after it
// are reported as skipped, so that `verify` always prints the whole list.
//
// The first checks, bundle-parse to signer-identity, are the signature and
// identity path: VerifySignature runs them alone on any Sigstore bundle over
// an in-toto statement against an expected signer (for signed material
// that is not recipe evidence, and to prove the verifier on bundles real
// Sigstore wrote); Verify and VerifyCached run the same steps first.
//
// The sigstore-go verifier and trusted material are built once by New and
// shared: a Verifier is safe for concurrent use. Verify is pure (no I/O, no
// context); only PublicGood talks to the network.
//
// verify imports internal/audit (the port it implements) and
// internal/evidence (the formats it checks); it must not import any other
// package of this module outside its tests.
package verify

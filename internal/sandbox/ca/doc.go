// Package ca is the sandbox's Fulcio-like certificate authority: a root and
// an intermediate with a long validity, issuing ten-minute leaf certificates
// for ephemeral signing keys at any chosen time in the past or present.
//
// Leaves carry what Fulcio puts in its code-signing certificates and what
// sigstore-go checks: KeyUsage DigitalSignature, ExtKeyUsage CodeSigning, a
// subject alternative name (a URI such as a GitHub workflow reference, or an
// e-mail address) and the OIDC issuer in both Fulcio extensions
// (1.3.6.1.4.1.57264.1.1, raw string, deprecated; 1.3.6.1.4.1.57264.1.8,
// DER UTF8String).
//
// The package is product code (it powers `evidence-auditd demo`) and uses the
// standard library only; it must not import other evidence-auditd packages.
package ca

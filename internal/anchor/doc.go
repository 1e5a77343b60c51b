// Package anchor keeps each finished run's ledger head outside the database
// and checks the ledger against it (SPEC §6, §10).
//
// When a run finishes, internal/ledger seals it (the seal covers everything
// a report is rendered from). Anchor writes that seal as a checkpoint — a
// C2SP signed note whose body names the ledger (origin), the run, the rows
// of the result chain covered and the head — signed with anchor.key, or
// keyless through Fulcio when an ambient OIDC token is available, or
// unsigned. The note is kept in a file in the anchors directory (beside the
// ledger by default) and in the ledger; with anchor.log it is also logged to
// a transparency log (Rekor v1 hashedrekord, or Rekor v2), and the Sigstore
// bundle that proves it is kept beside the note. While a run is unfinished,
// its progress (the result chain head it reached) is written before every
// commit, so rows forged into a run that crashed are told from the rows the
// auditor wrote.
//
// Check recomputes the ledger (ledger.Verify) and compares every sealed run
// with every anchor it can read — files, ledger, log — and names the first
// run whose anchored head no longer matches. Unsigned anchors catch a
// rewrite by anyone who cannot also rewrite the anchor files; signed ones
// catch anyone without the key (or the keyless identity); logged ones also
// survive the loss of the anchor files.
//
// The same signer makes signed compliance snapshots (snapshot.go): a
// Sigstore bundle over an in-toto statement about a report file, which
// VerifySnapshot checks (signature, identity, subject) and, with the
// ledger, matches against the anchored run.
//
// Keys and tokens never leave this package: they are not logged, not
// stored, not put in errors.
//
// anchor imports internal/ledger, internal/report (to re-render a signed
// report's run), internal/audit, internal/config, internal/verify (the
// signature path of keyless reports) and internal/atomicfile; it must not
// import cmd/, internal/job or the sandbox. It never prints; callers log the
// warnings it returns.
package anchor

// Package ledger is the SQLite store of evidence-auditd (SPEC §6): the
// inventory of pointer versions, audit runs, the append-only hash-chained
// result rows, the Sigstore bundle cache, transparency-log checkpoints, the
// issue map and the cross-process lease — and each finished run's seal
// (seal.go), the ledger head that covers everything a report is rendered
// from and that internal/anchor anchors outside the database, with the
// anchors themselves.
//
// The schema lives in the repository's migrations/ directory, embedded, and is
// applied at Open. Every public method is one transaction; writes begin
// IMMEDIATE so that concurrent writers queue on the busy timeout instead of
// failing on a lock upgrade.
//
// ledger imports internal/audit for the domain types it stores and
// internal/atomicfile for its temporary-file conventions, and no other
// internal package; it never prints and never logs.
package ledger

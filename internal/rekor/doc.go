// Package rekor is the audit's view of the transparency log (SPEC §1.3,
// DESIGN "rekor fallback"). It implements two ports of internal/audit:
//
//   - audit.Fallback (Log.Prove): when a registry no longer serves a bundle,
//     prove from the log what can still be proven — from the ledger's cached
//     Sigstore bundle first (re-verified offline, then its entry fetched
//     from the log and checked against a fresh signed checkpoint), otherwise
//     from the log alone (the entry named by the pointer's rekorLogIndex or
//     found through the index search for the bundle digest). Rekor v1 is
//     read through the REST API with rekor's generated client and checked
//     with rekor/pkg/verify; Rekor v2 (tile-based, C2SP tlog-tiles) at the
//     baseUrl the trusted root names for the cached entry's log: its
//     checkpoint verified as a C2SP signed note (rekor-tiles' note
//     verifier over golang.org/x/mod/sumdb/note, origin = the baseUrl host,
//     Ed25519 or ECDSA; body parsed by transparency-dev/formats), the entry
//     read from its entry bundle and proven included with proofs built from
//     its tiles (transparency-dev/merkle). A v2 entry is proven from a
//     cached bundle only: v2 logs have no search and their entries hold no
//     statement, so nothing else ties an entry to a digest.
//   - audit.LogMonitor (Log.CheckConsistency): every checkpoint the fallback
//     saw is recorded in the ledger; once per run the newest one of each log
//     is proven consistent with the last one recorded by earlier runs, so a
//     log that rewound or forked is a finding.
//
// Every request is retried with capped exponential backoff, full jitter and
// Retry-After on network errors, 429 and 5xx; a log that stays unreachable
// yields no-verdict/transient, never invalid.
//
// rekor imports internal/audit (the ports and verdicts) and internal/ledger
// (for its Checkpoint record; the ledger satisfies Store); it must not import
// the registry, the verifier (it consumes verify's offline re-verification
// through CachedVerifier) or the sandbox outside its tests.
package rekor

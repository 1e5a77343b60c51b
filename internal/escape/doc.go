// Package escape makes untrusted text safe to show to people (SPEC §4).
//
// Text that comes from the audited repository or from bundles — pointer
// paths, recipe names, profiles, signer identities and issuers, OCI
// locators, predicate fields, and the details and hints that quote them —
// may carry control characters (ESC sequences that drive a terminal, CR
// that overwrites a line, tab that shifts a column, NUL) and Unicode format
// characters (bidirectional overrides and isolates, U+202A–U+202E and
// U+2066–U+2069, marks U+200E, U+200F, U+061C, zero-width and tag
// characters) that reorder or hide what a reader sees. Every human output —
// the terminal, Markdown, HTML, CSV, issue titles, bodies and file names —
// passes such text through Line first; JSON and the ledger keep it exact.
//
// The rule, once: every rune that unicode.IsPrint rejects (everything but
// letters, marks, numbers, punctuation, symbols and the ASCII space), and
// every byte that is not valid UTF-8, is replaced by its Go escape —
// \t \n \r \a \b \f \v, \x1b for other bytes below U+0080 and for invalid
// bytes, \u202e or \U000e0041 above. Nothing is ever dropped, so a reader
// sees that something was there and what it was. It is the notation of Go's
// %q, which details already use when they quote a value, and of log/slog's
// text handler, so a character reads the same in a detail, a report and a
// log line.
//
// A backslash is not doubled: paths cannot contain one (a pointer path with
// a backslash is not a pointer), recipe names cannot, and doubling it would
// mangle the %q quotes inside details. The escape is therefore visible but
// not reversible when the original text itself spelled out "\x1b"; the JSON
// report and `list --format json` carry the exact text.
//
// Markdown and Code add GitHub-flavoured Markdown escaping on top of Line,
// for the report and for issue bodies, so that a pointer can inject neither
// links, mentions, tables nor HTML.
//
// escape imports only the standard library, so that every package that
// renders output can import it.
package escape

// Package report renders compliance snapshots of one audit run (SPEC §5):
// Load builds a Snapshot from the ledger alone — no network, no git — and
// JSON, Markdown, CSV and HTML render it.
//
// The JSON form is the machine contract; its schema is
// docs/report.schema.json. Every renderer is deterministic for a given
// Snapshot: rows are sorted, maps are rendered in key order, and nothing
// reads the clock.
//
// Markdown and HTML lead with what needs action (SPEC §3, §5): recipes
// needing re-certification (expired, then expiring, then without a healthy
// attestation), lost bundles, invalid evidence, then no-verdict pointers
// (retried, never findings), then healthy ones, then the changes since the
// previous complete run. JSON and CSV list pointers by path.
//
// Every string from the ledger is escaped in the human formats (SPEC §4):
// escape.Line in HTML and CSV, escape.Markdown and escape.Code in Markdown.
// JSON carries it exactly.
//
// report imports internal/audit, internal/escape, internal/evidence and
// internal/ledger; it never prints, never logs and never reads
// configuration, so it cannot leak secrets.
package report

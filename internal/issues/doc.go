// Package issues turns a run's findings into re-certification issues
// (SPEC §2.3, §7): it routes each recipe to the people who can act on it
// (overlay spec.maintainers → CODEOWNERS → configured defaults), plans the
// operations that bring the tracker in line with the run (open, update,
// reopen, close), and applies them through a Tracker — GitHub (go-github),
// a directory of Markdown files, or none — journaling each operation in the
// ledger before and after it is sent.
//
// Decisions (documented here because operators meet them):
//
//   - Issues are found by the hidden body marker
//     `<!-- evidence-auditd:kind=<kind> recipe=<recipe> -->` and by the
//     ledger's issue map, never by title: the auditor sets the title only
//     when it opens an issue, so a human may rename it freely.
//   - Updates edit the body, and add (never remove) labels and assignees,
//     so what humans added stays.
//   - An issue closed by a human is not reopened for the same or a better
//     state; it is reopened, with a comment, only for a worse one (recert:
//     expiring → expired → no healthy attestation; lost: a pointer lost that
//     the closed issue did not list). An issue the auditor closed because the
//     recipe recovered is reopened as soon as the recipe needs action again.
//   - Nothing is planned from no-verdict alone: an Undetermined recipe gets no
//     recert operation (its open issue is neither updated nor closed), and a
//     pointer previously reported lost that got no-verdict stays listed.
//   - A recipe missing from the run (retired, or outside --only) gets no
//     operation.
//   - Tracker failures are not audit failures: an operation that could not be
//     sent is journaled as failed and planned again by the next run; a rate
//     limit that would make the run wait longer than the configured maximum
//     stops the run's remaining operations, which wait for the next run.
//   - An open whose journal entry is still pending or failed (in doubt: a
//     crash, or a lost response, between sending and recording) searches the
//     tracker thoroughly for the marker before creating anything.
//
// Titles, bodies, file names and printed plans escape text from the audited
// repository by the rule of SPEC §4 (package escape); a recipe name that
// breaks the recipe-name rule gets no file named after it (FileSink.Path)
// and is percent-encoded in the marker.
//
// issues imports audit, budget, config, escape, evidence and ledger; it must
// not import cmd/, report or daemon. It never prints; diagnostics go to the
// *slog.Logger the caller passes.
package issues

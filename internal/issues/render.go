package issues

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/escape"
)

// render writes the issue for a finding. The body depends only on the
// state it reports (never on the run's id or time), so that an unchanged
// state renders the same body and needs no update. Text from the audited
// repository and its bundles — recipe names, paths, digests, details,
// routes — is escaped (SPEC §4): the title by escape.Line, the body by
// escape.Code and escape.Markdown, so that it can neither drive a terminal,
// hide text, nor inject links, mentions or tables.
func render(f finding, rt Route, labels Labels, byKey map[audit.VersionKey]audit.Result) Draft {
	var b strings.Builder
	d := Draft{Labels: []string{labels.Of(f.kind)}, Assignees: append([]string(nil), rt.Assignees...)}
	if f.kind == KindRecert {
		d.Title = fmt.Sprintf("Re-certify recipe %s: %s", escape.Line(f.recipe), reasonText(f.condition))
		fmt.Fprintf(&b, "## Re-certification needed: %s\n\n", escape.Code(f.recipe))
		fmt.Fprintf(&b, "**State: %s.** %s\n\n", f.condition, reasonDetail(f.condition))
		st := f.status
		if st.Freshest != (audit.VersionKey{}) {
			r := byKey[st.Freshest]
			fmt.Fprintf(&b, "| | |\n|---|---|\n")
			fmt.Fprintf(&b, "| Freshest healthy attestation | %s |\n", escape.Code(st.Freshest.Path))
			fmt.Fprintf(&b, "| Attested at | %s (%s timestamp) |\n", day(st.FreshestAttestedAt), orDash(string(r.AttestedAtSource)))
			fmt.Fprintf(&b, "| Age | %s |\n", st.FreshestAge)
			fmt.Fprintf(&b, "| Live pointers | %d |\n\n", st.LivePointers)
		} else {
			fmt.Fprintf(&b, "None of the recipe's %d live pointers has a healthy (verified) attestation:\n\n", st.LivePointers)
			writePointerTable(&b, recipeFindings(f.recipe, byKey))
		}
		b.WriteString("### What to do\n\nRe-run the recipe's validation, sign the new summary bundle and merge its pointer under the recipe's evidence directory. This issue is closed automatically when the audit sees a fresh healthy attestation.\n\n")
	} else {
		d.Title = fmt.Sprintf("Evidence bundles lost for recipe %s", escape.Line(f.recipe))
		fmt.Fprintf(&b, "## Evidence bundles lost: %s\n\n", escape.Code(f.recipe))
		fmt.Fprintf(&b, "The registry no longer serves %s of this recipe's live evidence:\n\n", plural(len(f.lost), "bundle"))
		var rs []audit.Result
		for _, l := range f.lost {
			r := l.result
			if !l.current {
				r.Detail = "no verdict this run (" + strings.TrimSpace(r.Detail) + "); listed as lost since an earlier run"
			}
			rs = append(rs, r)
		}
		writePointerTable(&b, rs)
		writeArchivedNote(&b, rs)
		b.WriteString("### What to do\n\nRestore the bundles to their registry (same digest), or re-certify the recipe and remove the pointers whose evidence is gone. `rekor-only` means the transparency log still proves what was signed; the bytes themselves are gone. This issue is closed automatically when no live pointer of the recipe is lost.\n\n")
	}
	writeRoute(&b, rt)
	b.WriteString("---\n_Filed by evidence-auditd. The title may be changed freely; the issue is found by the marker below._\n")
	b.WriteString(Marker(f.kind, f.recipe))
	b.WriteString("\n")
	d.Body = b.String()
	sort.Strings(d.Labels)
	sort.Strings(d.Assignees)
	d.Fingerprint = fingerprint(d)
	return d
}

// writeArchivedNote says, for lost bundles the auditor's archive still
// holds (SPEC §7, §9), that the origin is gone, that the archived copy
// verifies, and how to restore it.
func writeArchivedNote(b *strings.Builder, rs []audit.Result) {
	n := 0
	for _, r := range rs {
		if r.Verdict == audit.Archived {
			n++
		}
	}
	if n == 0 {
		return
	}
	which := "1 of these bundles is"
	if n > 1 {
		which = fmt.Sprintf("%d of these bundles are", n)
	}
	fmt.Fprintf(b, "%s `archived`: the origin no longer serves it, but the auditor's own archive holds a digest-identical copy that passes every check of a verified bundle, so the recipe keeps its healthy attestation. "+
		"Restore it with `evidence-auditd archive restore --lost --to REGISTRY/REPOSITORY` (or name the pointer files instead of `--lost`); "+
		"the command verifies the bundle from its new place and prints the `bundle.oci` change each pointer needs (the digest stays).\n\n", which)
}

func writeRoute(b *strings.Builder, rt Route) {
	b.WriteString("### Routing\n\n")
	fmt.Fprintf(b, "Routed via **%s** (%s).\n\n", rt.Via, escape.Markdown(rt.Source))
	if len(rt.Assignees) > 0 {
		fmt.Fprintf(b, "- Assigned: @%s\n", strings.Join(lines(rt.Assignees), ", @"))
	} else {
		b.WriteString("- Assigned: nobody (no assignable handle on any route)\n")
	}
	if len(rt.Mentions) > 0 {
		// Mentions stay mentions: escaped as one line, not as Markdown.
		fmt.Fprintf(b, "- For attention: %s\n", strings.Join(lines(rt.Mentions), ", "))
	}
	if len(rt.Contacts) > 0 {
		fmt.Fprintf(b, "- Escalation contacts: %s\n", strings.Join(lines(rt.Contacts), "; "))
	}
	if len(rt.Skipped) > 0 {
		b.WriteString("\nEarlier routes did not apply:\n")
		for _, s := range rt.Skipped {
			fmt.Fprintf(b, "- %s\n", escape.Markdown(s))
		}
	}
	b.WriteString("\n")
}

func writePointerTable(b *strings.Builder, rs []audit.Result) {
	b.WriteString("| Pointer | Verdict | Bundle | Detail |\n|---|---|---|---|\n")
	for _, r := range rs {
		v := string(r.Verdict)
		if r.Class != "" {
			v += "/" + string(r.Class)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", escape.Code(r.Key.Path), orDash(v), orDash(escape.Code(r.BundleDigest)), cell(r.Detail))
	}
	b.WriteString("\n")
}

// recipeFindings are the recipe's results that are not healthy, by path.
func recipeFindings(recipe string, byKey map[audit.VersionKey]audit.Result) []audit.Result {
	var rs []audit.Result
	for _, r := range byKey {
		if r.Recipe == recipe && !r.Verdict.Healthy() {
			rs = append(rs, r)
		}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Key.String() < rs[j].Key.String() })
	return rs
}

func closeComment(f finding, byKey map[audit.VersionKey]audit.Result) string {
	st := f.status
	fresh := "no healthy attestation is recorded"
	if st.Freshest != (audit.VersionKey{}) {
		r := byKey[st.Freshest]
		fresh = fmt.Sprintf("freshest healthy attestation %s (bundle %s, attested %s, %s)",
			escape.Code(st.Freshest.Path), orDash(escape.Code(r.BundleDigest)), day(st.FreshestAttestedAt), st.FreshestAge)
	}
	if f.kind == KindRecert {
		return "Closed by evidence-auditd: the recipe is re-certified — " + fresh + "."
	}
	return "Closed by evidence-auditd: every live pointer of the recipe is served again or was removed; " + fresh + "."
}

func changeComment(kind Kind, before, now string) string {
	if kind == KindRecert {
		return fmt.Sprintf("State changed: **%s** → **%s**. %s", orDash(before), now, reasonDetail(now))
	}
	old := map[string]bool{}
	for _, k := range strings.Split(before, "\n") {
		old[k] = true
	}
	cur := map[string]bool{}
	var added, gone []string
	for _, k := range strings.Split(now, "\n") {
		cur[k] = true
		if !old[k] {
			added = append(added, escape.Code(k))
		}
	}
	for _, k := range strings.Split(before, "\n") {
		if k != "" && !cur[k] {
			gone = append(gone, escape.Code(k))
		}
	}
	s := "Lost pointers changed."
	if len(added) > 0 {
		s += " Newly lost: " + strings.Join(added, ", ") + "."
	}
	if len(gone) > 0 {
		s += " No longer lost: " + strings.Join(gone, ", ") + "."
	}
	return s
}

func reasonText(reason string) string {
	switch reason {
	case audit.ReasonExpiring:
		return "evidence expiring"
	case audit.ReasonExpired:
		return "evidence expired"
	default:
		return "no healthy evidence"
	}
}

func reasonDetail(reason string) string {
	switch reason {
	case audit.ReasonExpiring:
		return "The freshest healthy attestation is past the warning age and will expire soon."
	case audit.ReasonExpired:
		return "The freshest healthy attestation is past the re-certification cutoff."
	default:
		return "The recipe has no healthy attestation left."
	}
}

func fingerprint(d Draft) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s", d.Body, strings.Join(d.Labels, ","), strings.Join(d.Assignees, ","))
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// cell is a detail as a Markdown table cell.
func cell(s string) string {
	return orDash(escape.Markdown(strings.TrimSpace(s)))
}

// lines escapes each of ss by escape.Line.
func lines(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = escape.Line(s)
	}
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

package report

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/escape"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// Markdown writes the snapshot as GitHub-flavoured Markdown, readable as an
// issue or pull-request comment: tables only, no HTML. It leads with what
// needs action (see the package documentation), then the changes since the
// previous complete run. Text from the ledger is escaped so that a pointer
// cannot inject links, tables or mentions, and every string from the ledger
// is escaped by the rule of SPEC §4 (package escape).
func Markdown(w io.Writer, s *Snapshot, opts ...Option) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	m := &mdWriter{w: bw, o: newOptions(opts)}
	m.header(s)
	m.summary(s)
	sec := groupPointers(s)
	m.recert(s)
	m.lost(s, sec[GroupLost])
	m.invalid(s, sec[GroupInvalid])
	m.noVerdict(s, sec[GroupNoVerdict])
	m.healthy(s, sec[GroupHealthy])
	m.changes(s)
	m.notes(s)
	return bw.Flush()
}

type mdWriter struct {
	w *bufio.Writer
	o options
}

func (m *mdWriter) p(format string, args ...any) { fmt.Fprintf(m.w, format, args...) }

func (m *mdWriter) line(s string) {
	m.w.WriteString(s)
	m.w.WriteByte('\n')
}

// row writes one table row of already-escaped cells.
func (m *mdWriter) row(cells ...string) {
	m.w.WriteString("|")
	for _, c := range cells {
		m.w.WriteByte(' ')
		if c == "" {
			c = "—"
		}
		m.w.WriteString(c)
		m.w.WriteString(" |")
	}
	m.w.WriteByte('\n')
}

// tableHead writes a header row and its delimiter row; numeric columns
// (numeric[i] true) are right-aligned.
func (m *mdWriter) tableHead(cols ...string) { m.alignedHead(nil, cols...) }

func (m *mdWriter) alignedHead(numeric []bool, cols ...string) {
	m.row(cols...)
	m.w.WriteString("|")
	for i := range cols {
		if i < len(numeric) && numeric[i] {
			m.w.WriteString("---:|")
		} else {
			m.w.WriteString("---|")
		}
	}
	m.w.WriteByte('\n')
}

func (m *mdWriter) header(s *Snapshot) {
	r := &s.Run
	m.p("# Evidence audit — run %d\n\n", r.ID)
	if !r.LedgerVerified {
		m.p("> **Do not rely on this report: %s.** It is shown as stored; the ledger was edited or damaged after it was written (`evidence-auditd ledger verify` names the row).\n\n",
			mdText(r.LedgerProblem))
	}
	if r.Kind == ledger.KindWhatIf {
		m.p("> **What-if run.** Ages are measured as of %s, not today: this shows what an audit then would conclude. It is never the latest run or a baseline, and its issues were planned, not filed.\n\n", mdTime(r.AsOf))
	}
	if r.Degraded {
		m.p("> **Degraded run: the auditor could not decide %d of %d pointers** (registry or transparency log unreachable, rate-limited, or canceled). Recipe statuses below are mostly undetermined, not healthy; this run is not a baseline for later reports' changes.\n\n",
			s.Summary.NoVerdict, s.Summary.Pointers)
	}
	if !r.Complete {
		m.p("> **Incomplete run.** Run %d is %s. It is shown as recorded; pointers it did not reach are missing or `no-verdict/canceled`, and `--run latest` skips it.\n\n",
			r.ID, runStateOf(r))
	}
	m.line("- **Repository:** " + mdCode(r.Repo) + " @ " + mdCode(r.Ref))
	m.line("- **Commit:** " + mdCode(r.Commit))
	m.line("- **As of:** " + mdTime(r.AsOf))
	finished := "not finished"
	if r.Finished {
		finished = mdTime(r.FinishedAt)
	}
	m.line("- **Started / finished:** " + mdTime(r.StartedAt) + " / " + finished)
	m.line("- **Trusted root:** " + orNone(mdCode(r.TrustRoot)))
	if r.LedgerVerified {
		m.line("- **Ledger chain head:** " + orNone(mdCode(r.LedgerHead)) + " (recomputed)")
	} else {
		m.line("- **Ledger chain head:** unverified — the chain is broken")
	}
	m.line("- **Anchor:** " + anchorText(r.Anchor))
	if s.Previous != nil {
		m.p("- **Compared with:** run %d (finished %s)\n", s.Previous.ID, mdTime(s.Previous.FinishedAt))
	} else {
		m.line("- **Compared with:** no earlier complete run")
	}
	m.line("")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func runStateOf(r *RunInfo) string {
	if !r.Finished {
		return "unfinished (in progress or killed)"
	}
	return "finished incomplete (canceled)"
}

// summary counts the sections that follow — each number is its section's
// heading — then the per-verdict counts of the JSON summary, reconciled
// with them, and the ages.
func (m *mdWriter) summary(s *Snapshot) {
	c := &s.Summary
	n := countSections(groupPointers(s))
	m.line("## Summary\n")
	num := []bool{true, true, true, true, true, true}
	m.alignedHead(num, "Pointers", "Healthy", "Lost bundles", "Invalid evidence", "No verdict", "Recipes to re-certify")
	m.row(strconv.Itoa(c.Pointers), strconv.Itoa(n.Healthy), strconv.Itoa(n.Lost), strconv.Itoa(n.Invalid),
		strconv.Itoa(n.NoVerdict), strconv.Itoa(c.RecipesNeedingRecert))
	m.line("")
	m.line("By verdict: " + byVerdict(c, n) + ". " + agesLine(c) + ".\n")
	m.line("**Archive:** " + mdText(archiveLine(s)) + ".\n")
	m.line(actionLine(s) + "\n")
}

// actionLine says in one sentence what needs action.
func actionLine(s *Snapshot) string {
	sec := groupPointers(s)
	var parts []string
	if n := s.Summary.RecipesNeedingRecert; n > 0 {
		parts = append(parts, plural(n, "recipe", "recipes")+" to re-certify")
	}
	if n := len(sec[GroupLost]); n > 0 {
		parts = append(parts, plural(n, "lost bundle", "lost bundles"))
	}
	if n := len(sec[GroupInvalid]); n > 0 {
		parts = append(parts, plural(n, "invalid pointer", "invalid pointers"))
	}
	retry := ""
	if n := len(sec[GroupNoVerdict]); n > 0 {
		retry = " " + plural(n, "pointer has", "pointers have") + " no verdict and will be retried (not a finding)."
	}
	if len(parts) == 0 {
		return "**Nothing needs action.**" + retry
	}
	return "**Needs action:** " + strings.Join(parts, ", ") + "." + retry
}

// upper capitalises the first letter of an ASCII sentence.
func upper(s string) string {
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		return string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func (m *mdWriter) recert(s *Snapshot) {
	rs := recertOrder(s.Recipes)
	m.p("## Recipes needing re-certification (%d)\n\n", len(rs))
	if len(rs) == 0 {
		m.line("None.\n")
		return
	}
	m.tableHead("Recipe", "Reason", "Freshest healthy attestation", "Issue", "Routed via", "Assignees")
	for _, r := range rs {
		fresh := "none"
		if !r.FreshestAttestedAt.IsZero() {
			fresh = mdDate(r.FreshestAttestedAt) + " (" + mdCode(r.FreshestPath) + ")"
		}
		m.row(mdCode(r.Recipe), "**"+mdText(r.Reason)+"**", fresh, m.issue(r.Issue), mdText(r.RoutedVia), mdHandles(r.Assignees))
	}
	m.line("")
}

// section writes a "## title (n)" heading and, for an empty section,
// "None."; it reports whether the section has rows to write.
func (m *mdWriter) section(title string, n int) bool {
	m.p("## %s (%d)\n\n", title, n)
	if n == 0 {
		m.line("None.\n")
		return false
	}
	return true
}

func (m *mdWriter) lost(s *Snapshot, ps []*Pointer) {
	if !m.section("Lost bundles", len(ps)) {
		return
	}
	m.line("The registry no longer serves these bundles: " + countSections(groupPointers(s)).lostMakeup() + ". `archived`: the auditor's archived copy is digest-identical and passes every check (restore it with `evidence-auditd archive restore`); `rekor-only`: the transparency log still proves the signed entry; `not-found` / `forbidden`: nothing proves it any more.\n")
	lostIssue := map[string]*Issue{}
	for i := range s.Recipes {
		lostIssue[s.Recipes[i].Recipe] = s.Recipes[i].LostIssue
	}
	m.tableHead("Pointer", "Recipe", "Verdict", "Attested", "Detail", "Hint", "Issue")
	for _, p := range ps {
		m.row(mdPointer(p), mdRecipe(p), mdVerdict(&p.Result), mdAttested(&p.Result), mdText(p.Result.Detail), mdText(p.Result.Hint),
			m.issue(lostIssue[p.Info.Recipe]))
	}
	m.line("")
}

func (m *mdWriter) invalid(s *Snapshot, ps []*Pointer) {
	if !m.section("Invalid evidence", len(ps)) {
		return
	}
	if t := countSections(groupPointers(s)).invalidMakeup(&s.Summary); t != "" {
		m.line(upper(t) + ".\n")
	}
	m.tableHead("Pointer", "Recipe", "Class", "Signer", "Detail", "Hint")
	for _, p := range ps {
		m.row(mdPointer(p), mdRecipe(p), mdText(string(p.Result.Class)), mdSigner(&p.Info), mdText(p.Result.Detail), mdText(p.Result.Hint))
	}
	m.line("")
}

func (m *mdWriter) noVerdict(s *Snapshot, ps []*Pointer) {
	if !m.section("No verdict — retried next run", len(ps)) {
		return
	}
	m.line("Not findings: the auditor could not decide (registry or log unreachable, rate-limited, or the run was canceled).\n")
	if und := undetermined(s.Recipes); len(und) > 0 {
		names := make([]string, len(und))
		for i, r := range und {
			names[i] = mdCode(r.Recipe)
		}
		m.p("Recipes whose status is undetermined until these are retried: %s.\n\n", strings.Join(names, ", "))
	}
	m.tableHead("Pointer", "Recipe", "Class", "Detail", "Hint")
	for _, p := range ps {
		m.row(mdPointer(p), mdRecipe(p), mdText(string(p.Result.Class)), mdText(p.Result.Detail), mdText(p.Result.Hint))
	}
	m.line("")
}

func (m *mdWriter) healthy(s *Snapshot, ps []*Pointer) {
	if !m.section("Healthy", len(ps)) {
		return
	}
	m.line(upper(countSections(groupPointers(s)).healthyMakeup()) + ".\n")
	m.tableHead("Pointer", "Recipe", "Verdict", "Signer", "Attested", "Age", "Via", "Archive", "Phases (passed/failed/skipped)")
	for _, p := range ps {
		m.row(mdPointer(p), mdRecipe(p), mdVerdict(&p.Result), mdSigner(&p.Info), mdAttested(&p.Result),
			mdAge(p.Result.Age), mdText(string(p.Result.VerifiedVia)), mdText(archiveText(p.Archive)), mdText(phaseText(p.Result.Phases)))
	}
	m.line("")
}

func (m *mdWriter) changes(s *Snapshot) {
	if s.Previous == nil {
		m.line("## Changes since the previous run\n")
		m.line("No earlier complete run to compare with.\n")
		return
	}
	m.p("## Changes since run %d (%d)\n\n", s.Previous.ID, len(s.Changes))
	if len(s.Changes) == 0 {
		m.line("No verdict changed.\n")
		return
	}
	m.tableHead("Pointer", "Added in", "From", "To")
	for _, c := range s.Changes {
		from := "(new)"
		if c.From != "" {
			from = mdText(string(c.From))
		}
		m.row(mdCode(c.Path), mdCode(short(c.AddedCommit)), from, mdText(string(c.To)))
	}
	m.line("")
}

func (m *mdWriter) notes(s *Snapshot) {
	if len(s.Notes) == 0 {
		return
	}
	m.line("## Notes\n")
	for _, n := range s.Notes {
		m.line("- " + mdText(n))
	}
	m.line("")
}

// mdText and mdCode are the escaping rule of SPEC §4 for Markdown: every
// string from the ledger passes through one of them.
func mdText(s string) string { return escape.Markdown(s) }

func mdCode(s string) string { return escape.Code(s) }

// mdRecipe is a pointer's recipe and, when it names one, its profile
// selection (bound to the signed predicate.profile.selection once verified).
func mdRecipe(p *Pointer) string {
	s := mdCode(p.Info.Recipe)
	if p.Info.Profile != "" {
		s += " (profile " + mdCode(p.Info.Profile) + ")"
	}
	return s
}

func mdPointer(p *Pointer) string {
	s := mdCode(p.Info.Path)
	if p.Info.RemovedCommit != nil {
		s += " (removed in " + mdCode(short(*p.Info.RemovedCommit)) + ")"
	}
	return s
}

func mdVerdict(r *audit.Result) string {
	if r.Class != "" {
		return mdText(string(r.Verdict) + "/" + string(r.Class))
	}
	return mdText(string(r.Verdict))
}

func mdSigner(in *audit.PointerInfo) string {
	if in.Signer == nil {
		return noSigner(in)
	}
	return mdCode(in.Signer.Identity) + " (" + mdText(in.Signer.Class) + ")"
}

// noSigner is what the signer column says when the pointer names none:
// "unsigned" when the file parsed without a signer block, "" when it did
// not parse far enough to tell.
func noSigner(in *audit.PointerInfo) string {
	for _, p := range in.Problems {
		if p.Class == string(evidence.ProblemUnsigned) {
			return "unsigned"
		}
	}
	return ""
}

func mdAttested(r *audit.Result) string {
	if r.AttestedAt.IsZero() {
		return ""
	}
	return mdDate(r.AttestedAt) + " (" + mdText(string(r.AttestedAtSource)) + ")"
}

func mdAge(a audit.Age) string {
	switch a {
	case audit.AgeExpired, audit.AgeExpiring:
		return "**" + string(a) + "**"
	}
	return string(a)
}

// issue links an issue: to the tracker, or to the file sink's file
// (relative to where the report is read, see LinksFrom).
func (m *mdWriter) issue(is *Issue) string {
	if is == nil {
		return ""
	}
	if href := m.o.issueHref(is); href != "" {
		return fmt.Sprintf("[%s](%s) (%s)", mdText(is.Label()), mdLinkURL(href), mdText(is.State))
	}
	return fmt.Sprintf("%s (%s)", mdText(is.Label()), mdText(is.State))
}

// mdLinkURL keeps a URL from closing the link or the cell early.
func mdLinkURL(u string) string {
	return strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "|", "%7C", "<", "%3C", ">", "%3E").Replace(u)
}

// mdHandles lists GitHub handles as code, so that posting the report as a
// comment does not notify them.
func mdHandles(hs []string) string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = mdCode("@" + strings.TrimPrefix(h, "@"))
	}
	return strings.Join(out, ", ")
}

func mdTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func mdDate(t time.Time) string { return t.UTC().Format("2006-01-02") }

// phaseText renders phase counts compactly, by phase name:
// "conformance 10/0/1, deployment 3/1/0".
func phaseText(ph map[string]audit.PhaseCounts) string {
	if len(ph) == 0 {
		return ""
	}
	names := make([]string, 0, len(ph))
	for n := range ph {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		c := ph[n]
		parts[i] = fmt.Sprintf("%s %d/%d/%d", n, c.Passed, c.Failed, c.Skipped)
	}
	return strings.Join(parts, ", ")
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// anchorText states a run's anchor (SPEC §10) in a few words.
func anchorText(a *AnchorInfo) string {
	if a == nil {
		return "none"
	}
	out := "unsigned"
	if a.Signed {
		out = "signed"
	}
	if a.LogIndex >= 0 {
		out += fmt.Sprintf(", transparency-log index %d", a.LogIndex)
	}
	return out + " (`evidence-auditd ledger verify` checks it)"
}

package report

import (
	"bufio"
	_ "embed"
	"html/template"
	"io"
	"strconv"
	"strings"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/escape"
)

//go:embed report.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Parse(htmlSource))

// HTML writes the snapshot as one self-contained HTML page: inline CSS, an
// inline SVG chart of verdicts and ages, no scripts, fonts or other assets
// (a Content-Security-Policy meta tag forbids loading any), printable. It
// has the Markdown report's sections in the same order.
//
// It is laid out for a 1280 px window: each pointer is one line — verdict,
// recipe, signer class, attested date and age, and a sentence saying what
// the audit proved and what it did not (proofLine) — and its full detail,
// hint, pointer fields and checks sit behind a <details> disclosure under
// that line. Columns are sized in the monospace font's ch units from the
// longest verdict and recipe of the section, so a badge never spills and a
// recipe name breaks at most at its hyphens. Every string from the ledger
// is escaped by escape.Line (SPEC §4) before html/template escapes it for
// HTML, which alone would let bidirectional overrides through.
func HTML(w io.Writer, s *Snapshot, opts ...Option) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := htmlTemplate.Execute(bw, htmlView(s, newOptions(opts))); err != nil {
		return err
	}
	return bw.Flush()
}

type htmlPage struct {
	RunID                     int64
	Repo, Ref, Commit         string
	TrustRoot, LedgerHead     string
	LedgerVerified            bool
	LedgerProblem             string
	Anchor                    string
	Archive                   string // the run's archive in one sentence
	WhatIf, Degraded          bool
	NoVerdictN, PointersN     int
	State                     string // "" when complete
	Action, Retry             string
	ActionClear               bool
	Cards                     []htmlCard
	ByVerdict, Ages           string
	Chart                     htmlChart
	Recert                    []htmlRecipe
	Sections                  []htmlSection
	Changes                   []htmlChange
	HasPrev                   bool
	PrevID                    int64
	PrevAt, Started, Finished string
	AsOf, SchemaVers          string
	Notes                     []string
	RecipeCh                  int // width of the recert table's recipe column, in ch
}

type htmlCard struct {
	Label, Href string
	N           int
	Class       string // css class: ok, warn, bad, muted
	Note        string // how the number is made up, in the verdicts' words
}

type htmlChart struct {
	Width, Height int
	Bars          []htmlBar
}

type htmlBar struct {
	Label    string
	Y, TextY int
	Segs     []htmlSeg
	Total    int
}

type htmlSeg struct {
	Label        string
	N            int
	X, W         string // user units, formatted
	LegendX      int
	LegendY      int
	LegendTextY  int
	Fill         string
	ShowInside   bool
	TextX, TextY string
}

type htmlRecipe struct {
	Recipe, Reason, ReasonCSS, Freshest, FreshestPath, FreshestShort, RoutedVia, Assignees string
	Issue                                                                                  *htmlIssue
}

type htmlIssue struct {
	Label, State, Title string
	Href                template.URL // "" when there is nothing to link to
}

// htmlSection is one section of pointer rows. Cols is the rows' CSS grid
// template; the Show* flags say which optional columns it has.
type htmlSection struct {
	ID, Title, Intro, Makeup string
	Undecided                []string
	Cols                     template.CSS
	ShowSigner, ShowAttested bool
	ShowIssue                bool
	Rows                     []htmlRow
}

type htmlRow struct {
	// The line.
	Verdict, VerdictCSS, Recipe, SignerClass, Attested, AttestedSource, Age, AgeCSS, Proof, Removed string
	Issue                                                                                           *htmlIssue
	// Behind the disclosure.
	Path, OCI                                                            template.HTML // escaped, breaking only after a slash
	PathText, Profile, Digest, PredicateType, Identity, Issuer           string
	LogIndex, AddedCommit, AddedAt, RemovedAt, Via, Phases, Detail, Hint string
	Archive                                                              string
	Problems                                                             []string
	Checks                                                               []htmlCheck
}

type htmlCheck struct{ Status, StatusCSS, Name, Detail string }

type htmlChange struct {
	Path                                       template.HTML
	PathText, Commit, From, FromCSS, To, ToCSS string
}

// Colours of the verdicts and ages, shared by the chart and the badges.
var (
	verdictFill = map[audit.Verdict]string{
		audit.Verified: "#2e7d32", audit.VerifiedWithFailures: "#7cb342", audit.Archived: "#0277bd", audit.RekorOnly: "#ef6c00",
		audit.Invalid: "#c62828", audit.NoVerdict: "#9e9e9e",
	}
	ageFill = map[audit.Age]string{audit.AgeFresh: "#2e7d32", audit.AgeExpiring: "#f9a825", audit.AgeExpired: "#c62828"}
)

// line is the escaping rule of SPEC §4 for text from the ledger.
func line(s string) string { return escape.Line(s) }

func htmlView(s *Snapshot, o options) *htmlPage {
	sec := groupPointers(s)
	n := countSections(sec)
	r := &s.Run
	pg := &htmlPage{
		RunID: r.ID, Repo: line(r.Repo), Ref: line(r.Ref), Commit: line(r.Commit), TrustRoot: line(r.TrustRoot),
		LedgerHead: line(r.LedgerHead), LedgerVerified: r.LedgerVerified, LedgerProblem: line(r.LedgerProblem),
		Anchor: strings.ReplaceAll(anchorText(r.Anchor), "`", ""),
		WhatIf: r.Kind == "what-if", Degraded: r.Degraded, NoVerdictN: s.Summary.NoVerdict, PointersN: s.Summary.Pointers,
		Action: actionText(s), SchemaVers: SchemaVersion,
		Started: mdTime(r.StartedAt), AsOf: mdTime(r.AsOf), Finished: "not finished",
		ByVerdict: byVerdict(&s.Summary, n), Ages: agesLine(&s.Summary), Archive: line(archiveLine(s)),
	}
	pg.ActionClear = s.Summary.RecipesNeedingRecert == 0 && n.Lost == 0 && n.Invalid == 0
	if r.Finished {
		pg.Finished = mdTime(r.FinishedAt)
	}
	if !r.Complete {
		pg.State = runStateOf(r)
	}
	if n.NoVerdict > 0 {
		pg.Retry = plural(n.NoVerdict, "pointer has", "pointers have") + " no verdict and will be retried (not a finding)."
	}
	c := &s.Summary
	pg.Cards = []htmlCard{
		{Label: "pointers", N: c.Pointers, Class: "muted", Note: "healthy + lost + invalid + no verdict"},
		{Label: "healthy", Href: "#healthy", N: n.Healthy, Class: okIf(n.Healthy), Note: n.healthyMakeup()},
		{Label: "lost bundles", Href: "#lost", N: n.Lost, Class: warnIf(n.Lost), Note: n.lostMakeup()},
		{Label: "invalid evidence", Href: "#invalid", N: n.Invalid, Class: badIf(n.Invalid), Note: invalidNote(c, n)},
		{Label: "no verdict", Href: "#no-verdict", N: n.NoVerdict, Class: "muted", Note: "retried next run; not findings"},
		{Label: "recipes to re-certify", Href: "#recert", N: c.RecipesNeedingRecert, Class: badIf(c.RecipesNeedingRecert),
			Note: reasonsNote(s.Recipes)},
	}
	pg.Chart = chart(c)
	for _, rc := range recertOrder(s.Recipes) {
		hr := htmlRecipe{Recipe: line(rc.Recipe), Reason: line(rc.Reason), ReasonCSS: "bad", Freshest: "none",
			FreshestPath: line(rc.FreshestPath), FreshestShort: shortPath(rc.FreshestPath), RoutedVia: line(rc.RoutedVia),
			Issue: o.htmlIssue(rc.Issue)}
		if rc.Reason == audit.ReasonExpiring {
			hr.ReasonCSS = "warn"
		}
		if !rc.FreshestAttestedAt.IsZero() {
			hr.Freshest = mdDate(rc.FreshestAttestedAt)
		}
		hs := make([]string, len(rc.Assignees))
		for i, h := range rc.Assignees {
			hs[i] = "@" + strings.TrimPrefix(line(h), "@")
		}
		hr.Assignees = strings.Join(hs, ", ")
		pg.Recert = append(pg.Recert, hr)
	}

	lostIssue := map[string]*Issue{}
	for i := range s.Recipes {
		lostIssue[s.Recipes[i].Recipe] = s.Recipes[i].LostIssue
	}
	pg.Sections = []htmlSection{
		{ID: "lost", Title: "Lost bundles", ShowAttested: true, ShowIssue: true,
			Intro:  "The registry no longer serves these bundles. archived: the auditor's archived copy is digest-identical and passes every check (restore it with evidence-auditd archive restore); rekor-only: the transparency log still proves the signed entry; not-found / forbidden: nothing proves it any more.",
			Makeup: upper(n.lostMakeup()) + "."},
		{ID: "invalid", Title: "Invalid evidence", ShowSigner: true, ShowAttested: true, Makeup: sentence(n.invalidMakeup(c))},
		{ID: "no-verdict", Title: "No verdict — retried next run",
			Intro: "Not findings: the auditor could not decide (registry or log unreachable, rate-limited, or the run was canceled)."},
		{ID: "healthy", Title: "Healthy", ShowSigner: true, ShowAttested: true, Makeup: upper(n.healthyMakeup()) + "."},
	}
	for i, g := range []Group{GroupLost, GroupInvalid, GroupNoVerdict, GroupHealthy} {
		hs := &pg.Sections[i]
		var issues map[string]*Issue
		if hs.ShowIssue {
			issues = lostIssue
		}
		hs.Rows = htmlRows(sec[g], issues, o)
		hs.Cols = gridColumns(hs)
	}
	for _, rc := range undetermined(s.Recipes) {
		pg.Sections[2].Undecided = append(pg.Sections[2].Undecided, line(rc.Recipe))
	}
	if s.Previous != nil {
		pg.HasPrev, pg.PrevID, pg.PrevAt = true, s.Previous.ID, mdTime(s.Previous.FinishedAt)
	}
	for _, ch := range s.Changes {
		from, fromCSS := "(new)", "muted"
		if ch.From != "" {
			from, fromCSS = string(ch.From), verdictCSS(ch.From)
		}
		pg.Changes = append(pg.Changes, htmlChange{Path: slashBreaks(line(ch.Path)), PathText: line(ch.Path),
			Commit: short(line(ch.AddedCommit)), From: from, FromCSS: fromCSS, To: line(string(ch.To)), ToCSS: verdictCSS(ch.To)})
	}
	for _, note := range s.Notes {
		pg.Notes = append(pg.Notes, line(note))
	}
	return pg
}

// maxRecipeCh caps a recipe column: longer names wrap at their hyphens.
const maxRecipeCh = 52

// gridColumns sizes a section's row grid: the disclosure marker, the
// verdict badge and the recipe from the longest of each (in the row's
// monospace ch), fixed columns for signer class, attested date and age, and
// issue, and the rest for the proof sentence.
func gridColumns(hs *htmlSection) template.CSS {
	verdictCh, recipeCh := len("verdict"), len("recipe")
	for _, r := range hs.Rows {
		verdictCh = max(verdictCh, runeLen(r.Verdict))
		recipeCh = max(recipeCh, runeLen(r.Recipe))
	}
	cols := []string{"1.5ch", strconv.Itoa(verdictCh+3) + "ch", strconv.Itoa(min(recipeCh+1, maxRecipeCh)) + "ch"}
	if hs.ShowSigner {
		cols = append(cols, "12ch")
	}
	if hs.ShowAttested {
		cols = append(cols, "20ch", "9ch")
	}
	cols = append(cols, "minmax(0, 1fr)")
	if hs.ShowIssue {
		cols = append(cols, "12ch")
	}
	return template.CSS("grid-template-columns: " + strings.Join(cols, " "))
}

func runeLen(s string) int { return len([]rune(s)) }

// actionText is actionLine without Markdown.
func actionText(s *Snapshot) string {
	t := actionLine(s)
	t = strings.ReplaceAll(t, "**", "")
	if i := strings.Index(t, ". "); i >= 0 && strings.HasSuffix(t, "(not a finding).") {
		t = t[:i+1]
	}
	return t
}

func invalidNote(c *Summary, n sectionCounts) string {
	if n.lostInvalid() == 0 {
		return strconv.Itoa(c.Invalid) + " invalid verdicts"
	}
	return "of " + strconv.Itoa(c.Invalid) + " invalid verdicts; " + strconv.Itoa(n.lostInvalid()) + " more are lost bundles"
}

// reasonsNote counts the recipes to re-certify by reason:
// "1 expired, 1 expiring, 2 without a healthy attestation".
func reasonsNote(rs []Recipe) string {
	by := map[string]int{}
	for _, r := range recertOrder(rs) {
		by[r.Reason]++
	}
	return strconv.Itoa(by[audit.ReasonExpired]) + " expired, " + strconv.Itoa(by[audit.ReasonExpiring]) + " expiring, " +
		strconv.Itoa(by[audit.ReasonNoHealthy]) + " without a healthy attestation"
}

func sentence(s string) string {
	if s == "" {
		return ""
	}
	return upper(s) + "."
}

func okIf(n int) string {
	if n > 0 {
		return "ok"
	}
	return "muted"
}

func warnIf(n int) string {
	if n > 0 {
		return "warn"
	}
	return "muted"
}

func badIf(n int) string {
	if n > 0 {
		return "bad"
	}
	return "muted"
}

func verdictCSS(v audit.Verdict) string {
	switch v {
	case audit.Verified, audit.VerifiedWithFailures:
		return "ok"
	case audit.Archived, audit.RekorOnly:
		return "warn"
	case audit.Invalid:
		return "bad"
	default:
		return "muted"
	}
}

// htmlIssue is an issue's link and label; nil when there is none.
func (o options) htmlIssue(is *Issue) *htmlIssue {
	if is == nil {
		return nil
	}
	hi := &htmlIssue{Label: line(is.Label()), State: line(is.State), Title: line(is.URL), Href: template.URL(o.issueHref(is))}
	if is.Number == 0 {
		hi.Label = "file" // the file sink's file name is long; its title says it
	}
	return hi
}

func htmlRows(ps []*Pointer, lostIssue map[string]*Issue, o options) []htmlRow {
	out := make([]htmlRow, 0, len(ps))
	for _, p := range ps {
		in, r := &p.Info, &p.Result
		verdict := string(r.Verdict)
		if r.Class != "" {
			verdict += "/" + string(r.Class)
		}
		row := htmlRow{
			Verdict: line(verdict), VerdictCSS: verdictCSS(r.Verdict), Recipe: line(in.Recipe), Profile: line(in.Profile),
			SignerClass: noSigner(in), Age: line(string(r.Age)), Proof: line(proofLine(r)),
			Path: slashBreaks(line(in.Path)), PathText: line(in.Path), Digest: line(in.BundleDigest), OCI: slashBreaks(line(in.OCI)),
			PredicateType: line(in.PredicateType), AddedCommit: line(in.AddedCommit), Via: line(string(r.VerifiedVia)),
			Phases: line(phaseText(r.Phases)), Detail: line(r.Detail), Hint: line(r.Hint), Archive: line(archiveText(p.Archive)),
		}
		if row.Digest == "" {
			row.Digest = line(r.BundleDigest)
		}
		if !in.AddedAt.IsZero() {
			row.AddedAt = mdTime(in.AddedAt)
		}
		if in.RemovedCommit != nil {
			row.Removed = short(line(*in.RemovedCommit))
			if in.RemovedAt != nil {
				row.RemovedAt = mdTime(*in.RemovedAt)
			}
		}
		if in.Signer != nil {
			row.SignerClass, row.Identity, row.Issuer = line(in.Signer.Class), line(in.Signer.Identity), line(in.Signer.Issuer)
		}
		if r.RekorLogIndex >= 0 {
			row.LogIndex = strconv.FormatInt(r.RekorLogIndex, 10)
		}
		if !r.AttestedAt.IsZero() {
			row.Attested, row.AttestedSource = mdDate(r.AttestedAt), line(string(r.AttestedAtSource))
		}
		switch r.Age {
		case audit.AgeExpired:
			row.AgeCSS = "bad"
		case audit.AgeExpiring:
			row.AgeCSS = "warn"
		}
		for _, pr := range in.Problems {
			row.Problems = append(row.Problems, line(pr.Class+": "+pr.Detail))
		}
		for _, c := range r.Checks {
			css := "muted"
			switch c.Status {
			case audit.CheckPass:
				css = "ok"
			case audit.CheckWarn:
				css = "warn"
			case audit.CheckFail:
				css = "bad"
			}
			row.Checks = append(row.Checks, htmlCheck{Status: line(string(c.Status)), StatusCSS: css, Name: line(c.Name), Detail: line(c.Detail)})
		}
		if lostIssue != nil {
			row.Issue = o.htmlIssue(lostIssue[in.Recipe])
		}
		out = append(out, row)
	}
	return out
}

// slashBreaks is s, escaped for HTML, with a line-break opportunity after
// every slash and none elsewhere (each segment is kept whole, hyphens
// included): a path wraps between its segments, never inside one.
func slashBreaks(s string) template.HTML {
	segs := strings.Split(s, "/")
	for i := range segs {
		if segs[i] != "" {
			segs[i] = `<span class="nb">` + template.HTMLEscapeString(segs[i]) + `</span>`
		}
	}
	return template.HTML(strings.Join(segs, "/<wbr>"))
}

// shortPath names a pointer file compactly: "…/sha256-d47c9a1b7105….yaml"
// for the per-source layout, the path itself otherwise.
func shortPath(p string) string {
	p = line(p)
	i := strings.LastIndex(p, "/")
	base := p[i+1:]
	if strings.HasPrefix(base, "sha256-") && len(base) > len("sha256-")+12 {
		return "…/" + base[:len("sha256-")+12] + "…"
	}
	return p
}

// chart lays out two stacked horizontal bars — verdicts and ages — with a
// legend under each. Geometry is computed here so the template only places
// it; widths are proportional, with a sliver for non-zero counts.
func chart(c *Summary) htmlChart {
	const (
		left, barW, barH = 130, 560, 26
		rowH             = 78
	)
	ch := htmlChart{Width: left + barW + 10, Height: 2*rowH + 4}
	type part struct {
		label string
		n     int
		fill  string
	}
	mk := func(label string, y int, parts []part) htmlBar {
		b := htmlBar{Label: label, Y: y, TextY: y + barH/2 + 5}
		for _, p := range parts {
			b.Total += p.n
		}
		x := float64(left)
		lx := left
		for _, p := range parts {
			w := 0.0
			if b.Total > 0 {
				w = float64(barW) * float64(p.n) / float64(b.Total)
			}
			seg := htmlSeg{
				Label: p.label, N: p.n, Fill: p.fill,
				X: fmtF(x), W: fmtF(w),
				LegendX: lx, LegendY: y + barH + 12, LegendTextY: y + barH + 22,
				ShowInside: w >= 34, TextX: fmtF(x + w/2), TextY: strconv.Itoa(y + barH/2 + 5),
			}
			b.Segs = append(b.Segs, seg)
			x += w
			lx += 14 + 7*len(p.label) + 7*len(strconv.Itoa(p.n)) + 22
		}
		return b
	}
	ch.Bars = []htmlBar{
		mk("Verdicts", 6, []part{
			{"verified", c.Verified, verdictFill[audit.Verified]},
			{"with failures", c.VerifiedWithFailures, verdictFill[audit.VerifiedWithFailures]},
			{"archived", c.Archived, verdictFill[audit.Archived]},
			{"rekor-only", c.RekorOnly, verdictFill[audit.RekorOnly]},
			{"invalid", c.Invalid, verdictFill[audit.Invalid]},
			{"no verdict", c.NoVerdict, verdictFill[audit.NoVerdict]},
		}),
		mk("Ages", 6+rowH, []part{
			{"fresh", c.Fresh, ageFill[audit.AgeFresh]},
			{"expiring", c.Expiring, ageFill[audit.AgeExpiring]},
			{"expired", c.Expired, ageFill[audit.AgeExpired]},
		}),
	}
	return ch
}

func fmtF(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

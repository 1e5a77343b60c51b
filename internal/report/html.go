package report

import (
	"bufio"
	_ "embed"
	"html/template"
	"io"
	"strconv"
	"strings"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

//go:embed report.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Parse(htmlSource))

// HTML writes the snapshot as one self-contained HTML page: inline CSS, an
// inline SVG chart of verdicts and ages, no scripts, fonts or other assets
// (a Content-Security-Policy meta tag forbids loading any), printable. It
// has the Markdown report's sections in the same order.
func HTML(w io.Writer, s *Snapshot) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := htmlTemplate.Execute(bw, htmlView(s)); err != nil {
		return err
	}
	return bw.Flush()
}

type htmlPage struct {
	S          *Snapshot
	State      string // "" when complete
	Action     string
	Retry      string
	Cards      []htmlCard
	Chart      htmlChart
	Recert     []htmlRecipe
	Lost       []htmlRow
	Invalid    []htmlRow
	NoVerdict  []htmlRow
	Healthy    []htmlRow
	Undecided  []string
	Changes    []htmlChange
	HasPrev    bool
	PrevID     int64
	PrevAt     string
	Started    string
	Finished   string
	AsOf       string
	SchemaVers string
}

type htmlCard struct {
	Label string
	N     int
	Class string // css class: ok, warn, bad, muted
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
	Recipe, Reason, Freshest, FreshestPath, RoutedVia, Assignees string
	Issue                                                        *Issue
	IssueURL                                                     template.URL
}

type htmlRow struct {
	Path, Removed, Recipe, Profile, Verdict, Class, VerdictCSS, Signer, SignerClass string
	Attested, AgeCSS, Age, Via, Phases, Detail, Hint, Digest                        string
}

type htmlChange struct {
	Path, Commit, From, To, ToCSS string
}

// Colours of the verdicts and ages, shared by the chart and the badges.
var (
	verdictFill = map[audit.Verdict]string{
		audit.Verified: "#2e7d32", audit.VerifiedWithFailures: "#7cb342", audit.RekorOnly: "#ef6c00",
		audit.Invalid: "#c62828", audit.NoVerdict: "#9e9e9e",
	}
	ageFill = map[audit.Age]string{audit.AgeFresh: "#2e7d32", audit.AgeExpiring: "#f9a825", audit.AgeExpired: "#c62828"}
)

func htmlView(s *Snapshot) *htmlPage {
	sec := groupPointers(s)
	pg := &htmlPage{
		S: s, Action: actionText(s), SchemaVers: SchemaVersion,
		Started: mdTime(s.Run.StartedAt), AsOf: mdTime(s.Run.AsOf), Finished: "not finished",
	}
	if s.Run.Finished {
		pg.Finished = mdTime(s.Run.FinishedAt)
	}
	if !s.Run.Complete {
		pg.State = runStateOf(&s.Run)
	}
	if n := len(sec[GroupNoVerdict]); n > 0 {
		pg.Retry = plural(n, "pointer has", "pointers have") + " no verdict and will be retried (not a finding)."
	}
	c := &s.Summary
	pg.Cards = []htmlCard{
		{"pointers", c.Pointers, "muted"}, {"verified", c.Verified, "ok"},
		{"verified with failures", c.VerifiedWithFailures, "ok"}, {"rekor-only", c.RekorOnly, warnIf(c.RekorOnly)},
		{"invalid", c.Invalid, badIf(c.Invalid)}, {"no verdict", c.NoVerdict, "muted"},
		{"expiring", c.Expiring, warnIf(c.Expiring)}, {"expired", c.Expired, badIf(c.Expired)},
		{"recipes to re-certify", c.RecipesNeedingRecert, badIf(c.RecipesNeedingRecert)},
	}
	pg.Chart = chart(c)
	for _, r := range recertOrder(s.Recipes) {
		hr := htmlRecipe{Recipe: r.Recipe, Reason: r.Reason, Freshest: "none", FreshestPath: r.FreshestPath,
			RoutedVia: r.RoutedVia, Issue: r.Issue}
		if !r.FreshestAttestedAt.IsZero() {
			hr.Freshest = mdDate(r.FreshestAttestedAt)
		}
		hs := make([]string, len(r.Assignees))
		for i, h := range r.Assignees {
			hs[i] = "@" + strings.TrimPrefix(h, "@")
		}
		hr.Assignees = strings.Join(hs, ", ")
		if r.Issue != nil && strings.HasPrefix(r.Issue.URL, "https://") {
			hr.IssueURL = template.URL(r.Issue.URL)
		}
		pg.Recert = append(pg.Recert, hr)
	}
	pg.Lost = htmlRows(sec[GroupLost])
	pg.Invalid = htmlRows(sec[GroupInvalid])
	pg.NoVerdict = htmlRows(sec[GroupNoVerdict])
	pg.Healthy = htmlRows(sec[GroupHealthy])
	for _, r := range undetermined(s.Recipes) {
		pg.Undecided = append(pg.Undecided, r.Recipe)
	}
	if s.Previous != nil {
		pg.HasPrev, pg.PrevID, pg.PrevAt = true, s.Previous.ID, mdTime(s.Previous.FinishedAt)
	}
	for _, ch := range s.Changes {
		from := "(new)"
		if ch.From != "" {
			from = string(ch.From)
		}
		pg.Changes = append(pg.Changes, htmlChange{Path: ch.Path, Commit: short(ch.AddedCommit), From: from,
			To: string(ch.To), ToCSS: verdictCSS(ch.To)})
	}
	return pg
}

// actionText is actionLine without Markdown.
func actionText(s *Snapshot) string {
	t := actionLine(s)
	t = strings.ReplaceAll(t, "**", "")
	if i := strings.Index(t, ". "); i >= 0 && strings.HasSuffix(t, "(not a finding).") {
		t = t[:i+1]
	}
	return t
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
	case audit.RekorOnly:
		return "warn"
	case audit.Invalid:
		return "bad"
	default:
		return "muted"
	}
}

func htmlRows(ps []*Pointer) []htmlRow {
	out := make([]htmlRow, 0, len(ps))
	for _, p := range ps {
		in, r := &p.Info, &p.Result
		row := htmlRow{
			Path: in.Path, Recipe: in.Recipe, Profile: in.Profile, Verdict: string(r.Verdict), Class: string(r.Class),
			VerdictCSS: verdictCSS(r.Verdict), Age: string(r.Age), Via: string(r.VerifiedVia),
			Phases: phaseText(r.Phases), Detail: r.Detail, Hint: r.Hint, Signer: noSigner(in),
			Digest: shortDigest(in.BundleDigest),
		}
		if in.RemovedCommit != nil {
			row.Removed = short(*in.RemovedCommit)
		}
		if in.Signer != nil {
			row.Signer, row.SignerClass = in.Signer.Identity, in.Signer.Class
		}
		if !r.AttestedAt.IsZero() {
			row.Attested = mdDate(r.AttestedAt) + " (" + string(r.AttestedAtSource) + ")"
		}
		switch r.Age {
		case audit.AgeExpired:
			row.AgeCSS = "bad"
		case audit.AgeExpiring:
			row.AgeCSS = "warn"
		}
		out = append(out, row)
	}
	return out
}

func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12] + "…"
	}
	return d
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

package report_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/report"
	"github.com/evidence-auditd/evidence-auditd/internal/report/reporttest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// fixtureDB builds the pinned two-run ledger of reporttest in a temp file.
func fixtureDB(tb testing.TB) (*ledger.DB, reporttest.Runs, string) {
	tb.Helper()
	ctx := context.Background()
	path := filepath.Join(tb.TempDir(), "ledger.db")
	db, err := ledger.Open(ctx, path, ledger.WithClock(reporttest.Clock()))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	runs, err := reporttest.Build(ctx, db)
	if err != nil {
		tb.Fatalf("reporttest.Build: %v", err)
	}
	return db, runs, path
}

func load(tb testing.TB, db *ledger.DB, id int64) *report.Snapshot {
	tb.Helper()
	s, err := report.Load(context.Background(), db, id)
	if err != nil {
		tb.Fatalf("Load(%d): %v", id, err)
	}
	return s
}

func render(tb testing.TB, s *report.Snapshot, f report.Format) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := report.Render(&b, s, f); err != nil {
		tb.Fatalf("Render %s: %v", f, err)
	}
	return b.Bytes()
}

// TestGolden renders the fixture's second run in every format and compares
// with testdata/golden/report.*; -update rewrites them.
func TestGolden(t *testing.T) {
	db, runs, _ := fixtureDB(t)
	s := load(t, db, runs.Second)
	for _, f := range report.Formats {
		t.Run(string(f), func(t *testing.T) {
			got := render(t, s, f)
			golden := filepath.Join("testdata", "golden", "report"+f.Ext())
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run with -update to create it): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s (run go test ./internal/report -run TestGolden -update and review the diff)\n%s",
					f, golden, firstDiff(got, want))
			}
			// Determinism: a second load and render give the same bytes.
			if again := render(t, load(t, db, runs.Second), f); !bytes.Equal(again, got) {
				t.Errorf("%s: a second render differs", f)
			}
		})
	}
}

// firstDiff shows the first differing line of got and want.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return ""
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	ctx := context.Background()
	db, err := ledger.Open(ctx, filepath.Join(t.TempDir(), "empty.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := report.Load(ctx, db, 1); !errors.Is(err, report.ErrNoRuns) {
		t.Errorf("Load on an empty ledger: %v, want ErrNoRuns", err)
	}
	if _, _, err := report.Latest(ctx, db); !errors.Is(err, report.ErrNoRuns) {
		t.Errorf("Latest on an empty ledger: %v, want ErrNoRuns", err)
	}

	fdb, runs, _ := fixtureDB(t)
	if _, err := report.Load(ctx, fdb, 99); !errors.Is(err, report.ErrUnknownRun) {
		t.Errorf("Load(99): %v, want ErrUnknownRun", err)
	}
	id, skipped, err := report.Latest(ctx, fdb)
	if err != nil || id != runs.Second || len(skipped) != 0 {
		t.Errorf("Latest = %d, %v, %v; want %d, none, nil", id, skipped, err, runs.Second)
	}
}

func TestLatestSkipsIncomplete(t *testing.T) {
	ctx := context.Background()
	db, runs, _ := fixtureDB(t)
	third, err := reporttest.AddUnfinishedRun(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	id, skipped, err := report.Latest(ctx, db)
	if err != nil || id != runs.Second {
		t.Fatalf("Latest = %d, %v; want %d", id, err, runs.Second)
	}
	if len(skipped) != 1 || skipped[0].ID != third {
		t.Errorf("skipped = %+v, want run %d", skipped, third)
	}

	// The unfinished run renders by id, marked incomplete everywhere.
	s := load(t, db, third)
	if s.Run.Complete || s.Run.Finished {
		t.Errorf("run %d: complete %v finished %v, want both false", third, s.Run.Complete, s.Run.Finished)
	}
	if s.Run.LedgerHead == "" {
		t.Error("an unfinished run's snapshot shows no chain head")
	}
	if s.Previous == nil || s.Previous.ID != runs.Second {
		t.Errorf("Previous = %+v, want run %d", s.Previous, runs.Second)
	}
	for f, want := range map[report.Format]string{
		report.FormatMarkdown: "**Incomplete run.**",
		report.FormatHTML:     `id="incomplete"`,
		report.FormatJSON:     `"complete": false`,
	} {
		if got := render(t, s, f); !bytes.Contains(got, []byte(want)) {
			t.Errorf("%s of an unfinished run lacks %q", f, want)
		}
	}
	if got := render(t, s, report.FormatJSON); !bytes.Contains(got, []byte(`"finishedAt": null`)) {
		t.Errorf("JSON of an unfinished run: finishedAt is not null")
	}
}

func TestChanges(t *testing.T) {
	db, runs, _ := fixtureDB(t)
	first := load(t, db, runs.First)
	if first.Previous != nil || len(first.Changes) != 0 {
		t.Errorf("first run: previous %+v, %d changes; want none", first.Previous, len(first.Changes))
	}
	s := load(t, db, runs.Second)
	got := map[string]string{}
	for _, c := range s.Changes {
		got[c.Path[strings.LastIndex(c.Path, "/")+1:]] = string(c.From) + ">" + string(c.To)
	}
	// Entries 1 and 18 are new in run 2; 4, 6, 9, 17 and 19 changed verdict.
	if len(s.Changes) != 7 {
		t.Errorf("%d changes, want 7: %v", len(s.Changes), got)
	}
	var fromNull int
	for _, c := range s.Changes {
		if c.From == "" {
			fromNull++
		}
	}
	if fromNull != 2 {
		t.Errorf("%d changes from null, want 2: %v", fromNull, got)
	}
}

func TestWriteAll(t *testing.T) {
	db, runs, _ := fixtureDB(t)
	s := load(t, db, runs.Second)
	dir := t.TempDir()
	paths, err := report.WriteAll(s, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range report.Formats {
		p := paths[string(f)]
		if p != filepath.Join(dir, "report"+f.Ext()) {
			t.Errorf("paths[%s] = %q", f, p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, render(t, s, f)) {
			t.Errorf("%s: file differs from Render", p)
		}
	}
}

// TestHTMLSelfContained: the page loads nothing from elsewhere and runs
// nothing; links only point at issues and at the page's own sections.
func TestHTMLSelfContained(t *testing.T) {
	db, runs, _ := fixtureDB(t)
	page := string(render(t, load(t, db, runs.Second), report.FormatHTML))
	for _, bad := range []string{"<script", "<link", "<img", "<iframe", "<object", "@import", "url(", " src=", "javascript:", "@font-face"} {
		if strings.Contains(strings.ToLower(page), bad) {
			t.Errorf("the HTML report contains %q", bad)
		}
	}
	for _, want := range []string{"Content-Security-Policy", "default-src 'none'", "@media print", "<svg"} {
		if !strings.Contains(page, want) {
			t.Errorf("the HTML report lacks %q", want)
		}
	}
	for _, href := range strings.Split(page, `href="`)[1:] {
		if !strings.HasPrefix(href, "https://github.com/example/aicr/issues/") && !strings.HasPrefix(href, "#") {
			t.Errorf("unexpected link %.80q", href)
		}
	}
}

// TestCountsReconcile: every number a reader can compare in the Markdown
// and HTML reports agrees — section headings, their rows, the summary, the
// action sentence — and the by-verdict line equals the JSON summary, the
// invalid verdicts split exactly between Invalid evidence and Lost bundles.
func TestCountsReconcile(t *testing.T) {
	db, runs, _ := fixtureDB(t)
	for _, id := range []int64{runs.First, runs.Second} {
		s := load(t, db, id)
		for _, p := range reporttest.CheckCounts(render(t, s, report.FormatMarkdown), render(t, s, report.FormatHTML), render(t, s, report.FormatJSON)) {
			t.Errorf("run %d: %s", id, p)
		}
	}
	// The checker notices a disagreement.
	s := load(t, db, runs.Second)
	md := bytes.Replace(render(t, s, report.FormatMarkdown), []byte("## Invalid evidence (8)"), []byte("## Invalid evidence (10)"), 1)
	if len(reporttest.CheckCounts(md, render(t, s, report.FormatHTML), render(t, s, report.FormatJSON))) == 0 {
		t.Error("CheckCounts accepts a heading that disagrees with its rows")
	}
}

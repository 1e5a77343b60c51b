package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/report"
	"github.com/evidence-auditd/evidence-auditd/internal/report/reporttest"
)

// TestArchiveStates: each pointer's archive state is as of its run's end —
// a copy a later backfill or run made does not change an earlier report —
// and the coverage counts distinct healthy bundles.
func TestArchiveStates(t *testing.T) {
	db, runs, _ := fixtureDB(t)
	state := func(s *report.Snapshot) map[int]string {
		out := map[int]string{}
		for _, p := range s.Pointers {
			for n := 1; n <= 19; n++ {
				if p.Result.BundleDigest == reporttest.Digest(n) {
					out[n] = p.Archive.State
				}
			}
		}
		return out
	}
	first := load(t, db, runs.First)
	want1 := map[int]string{2: "pending", 3: "archived", 4: "archived", 5: "pending", 8: "archived", 9: "pending", 17: "pending", 19: "archived", 6: "none", 7: "none", 10: "none"}
	got1 := state(first)
	for n, w := range want1 {
		if got1[n] != w {
			t.Errorf("run 1, bundle %d: archive %q, want %q", n, got1[n], w)
		}
	}
	// Run 1's healthy bundles: 2, 3, 4, 5, 8, 9, 17, 19 — four archived.
	if c := first.Archive.Coverage; c != (audit.ArchiveCoverage{Archived: 4, Healthy: 8}) || first.Archive.Store != reporttest.ArchiveStore {
		t.Errorf("run 1 archive %+v, want 4 of 8 in %s", first.Archive, reporttest.ArchiveStore)
	}

	second := load(t, db, runs.Second)
	want2 := map[int]string{1: "archived", 2: "pending", 4: "archived", 9: "archived", 17: "none", 19: "archived"}
	got2 := state(second)
	for n, w := range want2 {
		if got2[n] != w {
			t.Errorf("run 2, bundle %d: archive %q, want %q", n, got2[n], w)
		}
	}
	// Run 2's healthy bundles: 1, 2, 3, 5, 8, 19 (archived) — four archived.
	if c := second.Archive.Coverage; c != (audit.ArchiveCoverage{Archived: 4, Healthy: 6}) || second.Summary.Archived != 1 {
		t.Errorf("run 2: coverage %+v, %d archived verdicts; want 4 of 6 and 1", c, second.Summary.Archived)
	}

	var doc struct {
		Run     struct{ Archive *string }
		Summary struct {
			Archived        int
			ArchiveCoverage struct {
				Archived, Healthy int
				Ratio             *float64
			}
		}
		Pointers []struct {
			BundleDigest string
			Verdict      string
			VerifiedVia  string
			Archive      struct {
				State string
				At    *string
			}
		}
	}
	if err := json.Unmarshal(render(t, second, report.FormatJSON), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Run.Archive == nil || *doc.Run.Archive != reporttest.ArchiveStore || doc.Summary.Archived != 1 ||
		doc.Summary.ArchiveCoverage.Healthy != 6 || doc.Summary.ArchiveCoverage.Ratio == nil {
		t.Errorf("JSON run.archive %v, summary %+v", doc.Run.Archive, doc.Summary)
	}
	for _, p := range doc.Pointers {
		if p.BundleDigest == reporttest.Digest(19) && (p.Verdict != "archived" || p.VerifiedVia != "archive" || p.Archive.State != "archived" ||
			p.Archive.At == nil || !strings.HasPrefix(*p.Archive.At, "2026-06-01T03:00:")) {
			t.Errorf("JSON of the archived pointer: %+v", p)
		}
	}
	for _, f := range []report.Format{report.FormatMarkdown, report.FormatHTML, report.FormatCSV} {
		out := render(t, second, f)
		want := "4 of 6 healthy bundles archived (67%)"
		if f == report.FormatCSV {
			want = "archived,2026-06-01T03:00:15Z"
		}
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("%s lacks %q", f, want)
		}
	}
}

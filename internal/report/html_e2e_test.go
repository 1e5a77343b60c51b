//go:build e2e

package report_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/report"
)

// chromium finds Debian's chromium (.ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: apt-get install -y chromium (.ci/run does)")
	return ""
}

// headless runs chromium on page with the flags that keep it off the
// network and out of the user's profile, plus extra.
func headless(t *testing.T, bin, page string, extra ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir=" + t.TempDir(),
	}, extra...)
	args = append(args, "file://"+page)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, errb.String())
	}
	return out.String(), errb.String()
}

// TestE2EReportHTMLChromium renders the fixture's HTML report, has headless
// Chromium load it and checks that the page it built shows the summary;
// then takes a screenshot. REPORT_SCREENSHOT=FILE (absolute, or relative
// to this directory) keeps the screenshot; docs/report-screenshot.png is
// made with
//
//	REPORT_SCREENSHOT=$PWD/docs/report-screenshot.png go test -tags e2e -run TestE2EReportHTML ./internal/report/
func TestE2EReportHTMLChromium(t *testing.T) {
	bin := chromium(t)
	db, runs, _ := fixtureDB(t)
	s := load(t, db, runs.Second)
	page := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(page, render(t, s, report.FormatHTML), 0o644); err != nil {
		t.Fatal(err)
	}

	dom, _ := headless(t, bin, page, "--dump-dom")
	for _, want := range []string{
		"<h1>Evidence audit — run 2</h1>",
		"Needs action: 4 recipes to re-certify, 3 lost bundles, 8 invalid pointers.",
		`<div class="v">18</div><div class="l">pointers</div>`,
		`<div class="v">4</div><div class="l">recipes to re-certify</div>`,
		`aria-label="Verdict and age counts"`,
		"Changes since run 1",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the DOM Chromium built lacks %q", want)
		}
	}
	// The escaped detail stayed text: no element was injected.
	if strings.Contains(dom, "<script>") || !strings.Contains(dom, "&lt;script&gt;alert") {
		t.Error("the pointer detail's <script> reached the DOM as markup")
	}

	shot := os.Getenv("REPORT_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "report.png")
	} else {
		t.Logf("keeping the screenshot at %s", shot)
	}
	headless(t, bin, page, "--window-size=1280,1800", "--screenshot="+shot)
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 20_000 {
		t.Errorf("screenshot %s: %d bytes, not a plausible PNG of the page", shot, len(png))
	}
}

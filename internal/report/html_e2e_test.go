//go:build e2e

package report_test

import (
	"bytes"
	"context"
	"image/png"
	"net/url"
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

// viewport is the width the HTML report is laid out for.
const viewport = 1280

// layout is what layoutJS measures on the page Chromium laid out.
type layout struct {
	Problems    []string `json:"problems"`
	Rows        int      `json:"rows"`
	MaxRow      float64  `json:"maxRow"`
	ScrollWidth float64  `json:"scrollWidth"`
	Links       []string `json:"links"`
}

// layoutJS measures the facts a reader at 1280 px depends on, with every
// disclosure closed, then again with all of them open:
//   - nothing is wider than the window;
//   - every pointer row is one line (its summary no taller than a line);
//   - no badge is cut or spills out of its cell;
//   - recipe names break only after a hyphen, paths only after a slash
//     (found by the line each character is laid out on).
const layoutJS = `(() => {
  const out = {problems: [], rows: 0, maxRow: 0, scrollWidth: 0, links: []};
  const breaksAfter = (el) => {
    const chars = [];
    const w = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    let n, prevTop = null, prev = '';
    while ((n = w.nextNode())) {
      for (let i = 0; i < n.data.length; i++) {
        const r = document.createRange(); r.setStart(n, i); r.setEnd(n, i + 1);
        const rects = r.getClientRects();
        if (!rects.length) { continue; }
        if (n.data[i] === ' ') { prev = ' '; continue; }
        const top = rects[0].top;
        if (prevTop !== null && top > prevTop + 2) { chars.push(prev); }
        prevTop = top; prev = n.data[i];
      }
    }
    return chars;
  };
  const check = () => {
    out.scrollWidth = Math.max(out.scrollWidth, document.documentElement.scrollWidth);
    if (document.documentElement.scrollWidth > window.innerWidth) {
      out.problems.push('page wider than the window: ' + document.documentElement.scrollWidth + 'px');
    }
    document.querySelectorAll('.badge').forEach(b => {
      if (b.scrollWidth > b.clientWidth + 1) { out.problems.push('badge text cut: ' + b.textContent); }
      const cell = b.parentElement.getBoundingClientRect(), r = b.getBoundingClientRect();
      if (r.right > cell.right + 0.5 || r.left < cell.left - 0.5) { out.problems.push('badge spills out of its cell: ' + b.textContent); }
    });
    document.querySelectorAll('.c-recipe').forEach(el => {
      for (const c of breaksAfter(el)) { if (c !== '-') { out.problems.push('recipe name breaks after ' + JSON.stringify(c) + ': ' + el.textContent); } }
    });
    document.querySelectorAll('.more dd.path, td.path').forEach(el => {
      for (const c of breaksAfter(el)) { if (c !== '/' && c !== ' ') { out.problems.push('path breaks after ' + JSON.stringify(c) + ': ' + el.textContent); } }
    });
    document.querySelectorAll('.more').forEach(el => {
      if (el.scrollWidth > el.clientWidth + 1) { out.problems.push('disclosure wider than its row: ' + el.textContent.slice(0, 80)); }
    });
  };
  document.querySelectorAll('.ptr > summary').forEach(s => {
    out.rows++;
    const h = s.getBoundingClientRect().height;
    out.maxRow = Math.max(out.maxRow, h);
    if (h > 30) { out.problems.push('pointer row is ' + h + 'px tall, not one line: ' + s.textContent.slice(0, 100)); }
  });
  check();
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  check();
  document.querySelectorAll('details').forEach(d => { d.open = false; });
  document.querySelectorAll('a[href]').forEach(a => { out.links.push(a.getAttribute('href')); });
  return out;
})()`

// checkLayout loads page at 1280 px and fails on every layout problem.
func checkLayout(t *testing.T, b *browser, page string) layout {
	t.Helper()
	b.open(page)
	var l layout
	b.eval(layoutJS, &l)
	for _, p := range l.Problems {
		t.Error(p)
	}
	if l.Rows == 0 {
		t.Error("no pointer rows found")
	}
	t.Logf("%s: %d pointer rows, tallest %.0f px, page %.0f px wide", filepath.Base(page), l.Rows, l.MaxRow, l.ScrollWidth)
	return l
}

// TestE2EReportHTMLChromium renders the fixture's HTML report, has headless
// Chromium load it and checks the page it built: the summary, escaped
// text, and its layout at 1280 px.
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
		"Needs action: 4 recipes to re-certify, 4 lost bundles, 8 invalid pointers.",
		`<div class="v">19</div><div class="l">pointers</div>`,
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

	b := startBrowser(t, bin, viewport, 900)
	l := checkLayout(t, b, page)
	issues := 0
	for _, href := range l.Links {
		if strings.HasPrefix(href, "https://github.com/example/aicr/issues/") {
			issues++
		}
	}
	if issues == 0 {
		t.Error("no issue is a link")
	}
}

// TestE2EReportHTMLDemoWorld runs `evidence-auditd demo` and checks its
// HTML report at 1280 px: the layout facts of checkLayout, and issue links
// that reach the file sink's files. REPORT_SCREENSHOT=FILE (absolute, or
// relative to this directory) keeps a 1280 px wide screenshot of its top,
// with the first rekor-only pointer's disclosure open; docs/report-screenshot.png
// is made with
//
//	REPORT_SCREENSHOT=$PWD/docs/report-screenshot.png go test -tags e2e -run TestE2EReportHTMLDemoWorld ./internal/report/
func TestE2EReportHTMLDemoWorld(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	exe := filepath.Join(dir, "evidence-auditd")
	if out, err := exec.Command("go", "build", "-o", exe, "../../cmd/evidence-auditd").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	world := filepath.Join(dir, "world")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, exe, "demo", "--dir", world).CombinedOutput(); err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	page := filepath.Join(world, "reports", "report.html")

	b := startBrowser(t, bin, viewport, 900)
	l := checkLayout(t, b, page)
	files := 0
	for _, href := range l.Links {
		if strings.HasPrefix(href, "#") {
			continue
		}
		u, err := url.Parse(href)
		if err != nil || u.Scheme != "" || u.Host != "" {
			t.Errorf("issue link %q is not a relative link to the file sink's file", href)
			continue
		}
		target := filepath.Join(filepath.Dir(page), filepath.FromSlash(u.Path))
		if _, err := os.Stat(target); err != nil {
			t.Errorf("issue link %q does not reach a file: %v", href, err)
			continue
		}
		files++
	}
	if files == 0 {
		t.Error("no issue of the demo world is linked")
	}

	// The screenshot: the first rekor-only row opened, the top of the page.
	b.eval(`(() => { const d = [...document.querySelectorAll('#lost details')].find(d => d.textContent.includes('rekor-only')); if (d) { d.open = true; } return !!d; })()`, nil)
	var height float64
	b.eval(`Math.min(document.documentElement.scrollHeight, 2000)`, &height)
	shot := b.screenshot(viewport, int(height))
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if w := img.Bounds().Dx(); w != viewport {
		t.Errorf("screenshot is %d px wide, want %d", w, viewport)
	}
	if keep := os.Getenv("REPORT_SCREENSHOT"); keep != "" {
		if err := os.WriteFile(keep, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("kept the screenshot at %s (%dx%d)", keep, img.Bounds().Dx(), img.Bounds().Dy())
	}
}

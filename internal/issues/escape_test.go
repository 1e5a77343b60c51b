package issues_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/issues"
)

// hostile is a recipe name a malformed pointer's path can carry: a
// terminal escape, CR, tab, a right-to-left override, an isolate, a space
// and a comment terminator.
const hostile = "evil\x1b[2J\r\t\u202egpj.exe\u2066 -->"

var oneToken = regexp.MustCompile(`^<!-- evidence-auditd:kind=recert recipe=[!-~]+ -->$`)

// raw reports the first character of s that no human output may carry.
func raw(s string) (rune, bool) {
	for _, r := range s {
		if r != '\n' && !unicode.IsPrint(r) {
			return r, true
		}
	}
	return 0, false
}

// TestHostileRecipeFileSink: the file sink files the issue of a recipe
// whose name breaks the recipe-name rule under a hashed name, with an
// escaped title and body, and finds it again by its marker (SPEC §4, §7).
func TestHostileRecipeFileSink(t *testing.T) {
	e := newEnv(t, routingRepo())
	dir := filepath.Join(t.TempDir(), "issues")
	e.tr = &issues.FileSink{Dir: dir}
	run := e.record(ptr{hostile, 1, audit.Invalid, audit.ClassSchema, ""}, ptr{"maint", 2, audit.Verified, "", audit.AgeExpired})
	e.sync(run)
	files := listDir(t, dir)
	if len(files) != 2 || files[1] != "recert-maint.md" || !strings.HasPrefix(files[0], "recert-_invalid-recipe-") {
		t.Fatalf("files = %q, want a hashed file for the hostile recipe and recert-maint.md", files)
	}
	if got := (&issues.FileSink{Dir: dir}).Path(issues.KindRecert, hostile); filepath.Base(got) != files[0] {
		t.Errorf("Path = %q, the file is %q", got, files[0])
	}
	data, err := os.ReadFile(filepath.Join(dir, files[0]))
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := raw(string(data)); ok {
		t.Errorf("the issue file carries %U raw:\n%s", r, data)
	}
	for _, want := range []string{`# Re-certify recipe evil\x1b[2J\r\t\u202egpj.exe\u2066 -->: no healthy evidence`,
		"`evil\\x1b[2J\\r\\t\\u202egpj.exe\\u2066 -->`", issues.Marker(issues.KindRecert, hostile)} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the issue file lacks %q:\n%s", want, data)
		}
	}
	if m := issues.Marker(issues.KindRecert, hostile); !oneToken.MatchString(m) {
		t.Errorf("marker %q does not hold the recipe as one token", m)
	}
	if kind, recipe, ok := issues.ParseMarker(string(data)); !ok || kind != issues.KindRecert || recipe != hostile {
		t.Errorf("ParseMarker = %q, %q, %v; want the recipe back", kind, recipe, ok)
	}
	// Found again by its marker: nothing to do.
	if plan, _ := e.sync(run); len(plan.Ops) != 0 {
		t.Errorf("second sync planned %d ops for unchanged findings", len(plan.Ops))
	}
}

// TestHostileRecipeGitHub: on GitHub the issue is filed with an escaped
// title and body, and found again by its marker.
func TestHostileRecipeGitHub(t *testing.T) {
	e := newEnv(t, routingRepo())
	f := e.withGitHub("alice")
	run := e.record(ptr{hostile, 1, audit.RekorOnly, "", ""})
	e.sync(run)
	got := f.Issues()
	if len(got) != 2 { // recert (no healthy attestation) and lost
		t.Fatalf("%d issues, want 2", len(got))
	}
	for _, is := range got {
		if r, ok := raw(is.Title + is.Body); ok {
			t.Errorf("issue %q carries %U raw", is.Title, r)
		}
		if !strings.Contains(is.Title, `evil\x1b[2J\r\t\u202egpj.exe\u2066 -->`) {
			t.Errorf("title %q does not name the recipe escaped", is.Title)
		}
	}
	if plan, _ := e.sync(run); len(plan.Ops) != 0 {
		t.Errorf("second sync planned %d ops: the marker did not find the issues", len(plan.Ops))
	}
	if len(f.Issues()) != 2 {
		t.Errorf("%d issues after a second sync, want 2", len(f.Issues()))
	}
}

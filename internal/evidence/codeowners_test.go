package evidence_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

func TestCodeownersReal(t *testing.T) {
	c, err := evidence.ParseCodeowners(fixture(t, "codeowners/CODEOWNERS"))
	if err != nil {
		t.Fatalf("ParseCodeowners: %v", err)
	}
	if got, want := len(c.Invalid), 3; got != want {
		t.Errorf("invalid lines: got %d (%+v), want %d", got, c.Invalid, want)
	}
	tests := []struct {
		path   string
		owners string
		line   int
		ok     bool
	}{
		{"recipes/overlays/h100-aks-ubuntu-inference-dynamo.yaml", "@alice @NVIDIA/h100-team", 6, true},
		{"recipes/overlays/gb200-gke-cos-inference.yaml", "gb200-owners@example.com", 7, true},
		{"recipes/overlays/b200-eks.yaml", "@NVIDIA/aicr-recipes", 5, true},
		{"recipes/overlays/generated/x.yaml", "", 14, true}, // matched, deliberately unowned
		{"recipes/overlays/secret.yaml", "@NVIDIA/aicr-recipes", 5, true},
		{"recipes/evidence/allowlist.yaml", "@NVIDIA/security", 11, true},
		{"recipes/evidence/r/s/sha256-x.yaml", "@NVIDIA/evidence", 10, true},
		{"README.md", "@NVIDIA/docs", 16, true},
		{"recipes/overlays/README.md", "@NVIDIA/docs", 16, true},
		{"docs/intro.txt", "@NVIDIA/docs-root", 17, true},
		{"docs/deep/intro.txt", "@NVIDIA/aicr-maintainers", 2, true},
		{"build/logs/x.txt", "@octocat", 18, true},
		{"main.go", "@NVIDIA/aicr-maintainers", 2, true},
	}
	for _, tt := range tests {
		owners, line, ok := c.Owners(tt.path)
		if got := strings.Join(owners, " "); got != tt.owners || line != tt.line || ok != tt.ok {
			t.Errorf("Owners(%q): got %q, line %d, %v, want %q, line %d, %v", tt.path, got, line, ok, tt.owners, tt.line, tt.ok)
		}
	}
	var none *evidence.Codeowners
	if _, _, ok := none.Owners("x"); ok {
		t.Error("nil Codeowners matched")
	}
}

func TestCodeownersPatterns(t *testing.T) {
	tests := []struct {
		pattern string
		paths   map[string]bool
	}{
		{"foo", map[string]bool{"foo": true, "foo.txt": false, "foo/bar": true, "bar/foo": true, "bar/foo/baz": true, "bar/baz": false}},
		{"/foo", map[string]bool{"foo": true, "foo/bar": true, "bar/foo": false, "fool": false}},
		{"foo/", map[string]bool{"foo": false, "foo/bar": true, "bar/foo/baz": true, "bar/foo": false}},
		{"/foo/", map[string]bool{"foo": false, "foo/bar/baz": true, "bar/foo/baz": false}},
		{"foo/bar", map[string]bool{"foo/bar": true, "foo/bar/baz": true, "baz/foo/bar": false, "foo/bart": false}},
		{"*", map[string]bool{"foo": true, "foo/bar": true, "a/b/c": true}},
		{"/*", map[string]bool{"foo": true, "foo/bar": false}},
		{"f*", map[string]bool{"foo": true, "foo/bar": true, "bar/foo": true, "bar/baz": false, "xfoo": false}},
		{"/*/", map[string]bool{"foo": false, "foo/bar": true, "foo/bar/baz": true}},
		{"foo/*", map[string]bool{"foo": false, "foo/bar": true, "foo/bar/baz": false, "bar/foo/baz": false}},
		{"docs/*.md", map[string]bool{"docs/a.md": true, "docs/x/a.md": false, "x/docs/a.md": false}},
		{"*.js", map[string]bool{"a.js": true, "x/y/a.js": true, "a.jsx": false, "a.js/b": true}},
		{"foo/*/baz", map[string]bool{"foo/baz": false, "foo/bar/baz": true, "foo/bar/baz/qux": true, "foo/a/b/baz": false}},
		{"f?o", map[string]bool{"foo": true, "fo": false, "fooo": false, "f/o": false}},
		{`f\*o`, map[string]bool{"foo": false, "f*o": true}},
		{"**/foo/bar", map[string]bool{"foo/bar": true, "x/foo/bar": true, "x/foo/bar/baz": true, "foo/x/bar": false}},
		{"**/logs", map[string]bool{"logs": true, "build/logs/x": true, "a/b/logs/c/d": true, "logsx": false}},
		{"foo/**", map[string]bool{"foo": false, "foo/bar": true, "foo/bar/baz": true, "x/foo/bar": false}},
		{"foo/**/bar", map[string]bool{"foo/bar": true, "foo/x/bar": true, "foo/x/y/bar/z": true, "x/foo/bar": false}},
		{"foo/**/", map[string]bool{"foo": false, "foo/bar": true, "foo/bar/baz": true}},
		{"foo/**/bar/b*", map[string]bool{"foo/bar": false, "foo/bar/baz": true, "foo/bar/qux": false, "foo/q/bar/baz": true}},
		{"**", map[string]bool{"a": true, "a/b": true}},
		{"/", map[string]bool{"a": false, "a/b": false}},
		{`path\ with\ space`, map[string]bool{"path with space": true, "path": false}},
	}
	for _, tt := range tests {
		c, err := evidence.ParseCodeowners([]byte(tt.pattern + " @owner\n"))
		if err != nil || len(c.Rules) != 1 {
			t.Errorf("pattern %q: got %v, %+v", tt.pattern, err, c)
			continue
		}
		for p, want := range tt.paths {
			if got := c.Rules[0].Matches(p); got != want {
				t.Errorf("pattern %q, path %q: got %v, want %v", tt.pattern, p, got, want)
			}
		}
	}
}

func TestCodeownersLines(t *testing.T) {
	tests := []struct {
		name, in string
		rules    int
		invalid  int
	}{
		{"comments and blanks", "# c\n\n   \n\t# indented comment\n", 0, 0},
		{"crlf", "a @x\r\nb @y\r\n", 2, 0},
		{"trailing comment", "a @x # owner x\n", 1, 0},
		{"no owners", "a\n", 1, 0},
		{"team and e-mail", "a @org/team-1 dl@example.com\n", 1, 0},
		{"negation", "!a @x\n", 0, 1},
		{"range", "[ab] @x\n", 0, 1},
		{"escaped hash", `\#a @x` + "\n", 0, 1},
		{"three stars", "a/***/b @x\n", 0, 1},
		{"bad owner", "a x\n", 0, 1},
		{"bad team", "a @org/\n", 0, 1},
		{"lone backslash", `a\` + "\n", 0, 1},
		{"empty segment", "a//b @x\n", 0, 1},
		{"binary", "a\xff @x\n", 0, 1},
	}
	for _, tt := range tests {
		c, err := evidence.ParseCodeowners([]byte(tt.in))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if len(c.Rules) != tt.rules || len(c.Invalid) != tt.invalid {
			t.Errorf("%s: got %d rules, %d invalid (%+v), want %d, %d", tt.name, len(c.Rules), len(c.Invalid), c.Invalid, tt.rules, tt.invalid)
		}
	}
	c, _ := evidence.ParseCodeowners([]byte("* @a # all\n/docs/ @b\n/docs/x\n"))
	for _, tt := range []struct {
		path, owners string
		line         int
	}{{"docs/y", "@b", 2}, {"docs/x", "", 3}, {"src/z", "@a", 1}} {
		owners, line, ok := c.Owners(tt.path)
		if got := strings.Join(owners, " "); !ok || got != tt.owners || line != tt.line {
			t.Errorf("Owners(%q): got %q, %d, %v, want %q, %d", tt.path, got, line, ok, tt.owners, tt.line)
		}
	}
	_, err := evidence.ParseCodeowners(make([]byte, evidence.MaxCodeownersSize+1))
	if !errors.Is(err, evidence.ErrTooLarge) {
		t.Errorf("got %v, want ErrTooLarge", err)
	}
}

func FuzzParseCodeowners(f *testing.F) {
	f.Add(fixture(f, "codeowners/CODEOWNERS"), "recipes/overlays/h100-aks-ubuntu-inference-dynamo.yaml")
	f.Add(fixture(f, "codeowners/CODEOWNERS"), "recipes/overlays/generated/x.yaml")
	f.Add([]byte("**/**/**/**/**/**/**/a*b*c*d @x\n"), "a/b/c/d/e/f/abcd")
	f.Fuzz(func(t *testing.T, data []byte, p string) {
		c, err := evidence.ParseCodeowners(data)
		if err != nil {
			return
		}
		owners, line, ok := c.Owners(p)
		if !ok {
			if owners != nil || line != 0 {
				t.Fatalf("unmatched but got %v, %d", owners, line)
			}
			return
		}
		var rule *evidence.CodeownersRule
		for i := range c.Rules {
			if c.Rules[i].Line == line {
				rule = &c.Rules[i]
			}
		}
		if rule == nil || !rule.Matches(p) {
			t.Fatalf("line %d does not match %q", line, p)
		}
		for _, r := range c.Rules {
			if r.Line > line && r.Matches(p) {
				t.Fatalf("later line %d also matches %q", r.Line, p)
			}
		}
		if len(owners) != len(rule.Owners) {
			t.Fatalf("got %v, want %v", owners, rule.Owners)
		}
	})
}

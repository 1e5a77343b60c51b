package escape_test

import (
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/evidence-auditd/evidence-auditd/internal/escape"
)

func TestLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"recipes/evidence/h100-aks/ea3b/sha256-1.yaml", "recipes/evidence/h100-aks/ea3b/sha256-1.yaml"},
		{"kept: é ü ß 日本 — … → ✓ 😀", "kept: é ü ß 日本 — … → ✓ 😀"},
		{"clear\x1b[2Jscreen", `clear\x1b[2Jscreen`},
		{"over\rwrite", `over\rwrite`},
		{"col\tumn", `col\tumn`},
		{"two\nlines\r\n", `two\nlines\r\n`},
		{"nul\x00bell\a", `nul\x00bell\a`},
		{"del\x7f", `del\x7f`},
		{"c1\u0085\u009b", `c1\u0085\u009b`},
		{"txt.\u202eLMX", `txt.\u202eLMX`},
		{"isolate\u2066x\u2069", `isolate\u2066x\u2069`},
		{"marks\u200e\u200f\u061c", `marks\u200e\u200f\u061c`},
		{"zero\u200bwidth\ufeff", `zero\u200bwidth\ufeff`},
		{"tag\U000e0041", `tag\U000e0041`},
		{"line\u2028para\u2029", `line\u2028para\u2029`},
		{"nbsp\u00a0", `nbsp\u00a0`},
		{"bad\xffutf8\xc3", `bad\xffutf8\xc3`},
		{`already \x1b quoted`, `already \x1b quoted`},
	}
	for _, tt := range tests {
		if got := escape.Line(tt.in); got != tt.want {
			t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// visible reports whether s holds only what Line keeps.
func visible(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return utf8.ValidString(s)
}

func FuzzLine(f *testing.F) {
	for _, s := range []string{"plain", "a\x1b[2Jb", "\u202e\u2066\t\r\n\x00", "\xff\xfe", "日本\U000e0041"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := escape.Line(s)
		if !visible(got) {
			t.Fatalf("Line(%q) = %q still holds a character Line must escape", s, got)
		}
		if visible(s) && got != s {
			t.Fatalf("Line(%q) = %q changed visible text", s, got)
		}
		if escape.Line(got) != got {
			t.Fatalf("Line is not idempotent on %q", s)
		}
		if len(got) < len(s) {
			t.Fatalf("Line(%q) = %q dropped something", s, got)
		}
	})
}

func TestMarkdown(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"a|b *c* _d_ `e` [f](g) <h> #i ~j @k !l &#x202e; \\", `a\|b \*c\* \_d\_ \` + "`" + `e\` + "`" + ` \[f\](g) \<h\> \#i \~j \@k \!l \&\#x202e; \\`},
		{"esc\x1b[2J\u202e", `esc\\x1b\[2J\\u202e`},
		{"two\nlines", `two\\nlines`},
	}
	for _, tt := range tests {
		if got := escape.Markdown(tt.in); got != tt.want {
			t.Errorf("Markdown(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"recipes/evidence/x.yaml", "`recipes/evidence/x.yaml`"},
		{"a|b", "`a\\|b`"},
		{"tick`s", "`` tick`s ``"},
		{"`edge", "`` `edge ``"},
		{"esc\x1b\u202e\t", "`esc\\x1b\\u202e\\t`"},
	}
	for _, tt := range tests {
		if got := escape.Code(tt.in); got != tt.want {
			t.Errorf("Code(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func BenchmarkLinePlain(b *testing.B) {
	s := "recipes/evidence/h100-eks-ubuntu-training/ea3b15417b90b11adfae15220eafe0d8/sha256-46daf4895b62a6a83b5d34dead283d37710f82f38ad8492db62f63504de7fde8.yaml"
	for b.Loop() {
		_ = escape.Line(s)
	}
}

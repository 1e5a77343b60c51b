package escape

import "strings"

// mdReplacer backslash-escapes the ASCII punctuation that would change the
// meaning of GitHub-flavoured Markdown text or of a table cell: links and
// images, emphasis, code, raw HTML and entity references (&#x202e; would
// render the very override Line escaped), headings, strike-through,
// mentions and pipes.
var mdReplacer = strings.NewReplacer(
	`\`, `\\`, "|", `\|`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`,
	"<", `\<`, ">", `\>`, "#", `\#`, "~", `\~`, "@", `\@`, "!", `\!`, "&", `\&`,
)

// mdSpecial are the bytes mdReplacer changes; most text has none.
const mdSpecial = "\\|*_`[]<>#~@!&"

// Markdown returns s, escaped by Line, as GitHub-flavoured Markdown text
// that renders as exactly that text, also inside a table cell.
func Markdown(s string) string {
	s = Line(s)
	if !strings.ContainsAny(s, mdSpecial) {
		return s
	}
	return mdReplacer.Replace(s)
}

// Code returns s, escaped by Line, as a Markdown code span: pipes are
// escaped (GFM tables split on them even inside code) and the fence is
// longer than any run of backticks in s. The empty string stays empty.
func Code(s string) string {
	if s == "" {
		return ""
	}
	s = Line(s)
	if strings.Contains(s, "|") {
		s = strings.ReplaceAll(s, "|", `\|`)
	}
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if len(fence) > 1 || strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

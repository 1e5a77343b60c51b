package report

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/evidence-auditd/evidence-auditd/internal/atomicfile"
)

// Format is a report format.
type Format string

// Report formats; Markdown is the default.
const (
	FormatMarkdown Format = "markdown"
	FormatJSON     Format = "json"
	FormatCSV      Format = "csv"
	FormatHTML     Format = "html"
)

// Formats lists every format, in the order WriteAll writes them.
var Formats = []Format{FormatMarkdown, FormatJSON, FormatCSV, FormatHTML}

// ParseFormat accepts a format name (case-insensitive; "md" for markdown).
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatMarkdown, FormatJSON, FormatCSV, FormatHTML:
		return f, nil
	case "md":
		return FormatMarkdown, nil
	}
	return "", fmt.Errorf("unknown report format %q: want markdown, json, csv or html", s)
}

// Ext is the file extension of the format, with its dot.
func (f Format) Ext() string {
	if f == FormatMarkdown {
		return ".md"
	}
	return "." + string(f)
}

// Render writes s to w in format f. Options apply to the human formats
// (Markdown, HTML).
func Render(w io.Writer, s *Snapshot, f Format, opts ...Option) error {
	switch f {
	case FormatMarkdown:
		return Markdown(w, s, opts...)
	case FormatJSON:
		return JSON(w, s)
	case FormatCSV:
		return CSV(w, s)
	case FormatHTML:
		return HTML(w, s, opts...)
	}
	return fmt.Errorf("unknown report format %q", f)
}

// WriteAll writes the snapshot in every format into dir, atomically, as
// report.md, report.json, report.csv and report.html, and returns the path
// of each by format name ("markdown", "json", "csv", "html"). dir must
// exist. It is what `demo` leaves behind. Links to issue files are
// relative to dir.
func WriteAll(s *Snapshot, dir string) (paths map[string]string, err error) {
	paths = make(map[string]string, len(Formats))
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	for _, f := range Formats {
		p := filepath.Join(dir, "report"+f.Ext())
		if err := atomicfile.Write(p, 0o644, func(w io.Writer) error { return Render(w, s, f, LinksFrom(dir)) }); err != nil {
			return nil, fmt.Errorf("write %s report: %w", f, err)
		}
		paths[string(f)] = p
	}
	return paths, nil
}

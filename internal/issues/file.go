package issues

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/evidence-auditd/evidence-auditd/internal/atomicfile"
	"github.com/evidence-auditd/evidence-auditd/internal/escape"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

// FileSink is the file sink (SPEC §7): one Markdown file per open issue at
// <dir>/<kind>-<recipe>.md with the title, labels, assignees, route and the
// body with its marker. Closing an issue removes its file; its history stays
// in the ledger. Files are written atomically. Everyone is assignable.
// Issues have no numbers; a Ref's URL is the file's path.
type FileSink struct {
	Dir string
}

var _ Tracker = (*FileSink)(nil)

// Name implements Tracker.
func (f *FileSink) Name() string { return "file" }

// Path is the file of the issue of kind and recipe: <kind>-<recipe>.md.
// A recipe name that breaks the recipe-name rule (SPEC §4; a malformed
// pointer's path can carry control characters, bidirectional overrides,
// spaces or 255 bytes) gets no file named after it:
// <kind>-_invalid-recipe-<first 24 hex of its sha256>.md, stable for the
// same name, distinct from every valid name (none starts with '_'), and
// still filed — an unfiled finding would be a lost one. Its title and body
// name the recipe, escaped.
func (f *FileSink) Path(kind Kind, recipe string) string {
	if !evidence.ValidRecipeName(recipe) {
		sum := sha256.Sum256([]byte(recipe))
		return filepath.Join(f.Dir, string(kind)+"-_invalid-recipe-"+hex.EncodeToString(sum[:12])+".md")
	}
	return filepath.Join(f.Dir, string(kind)+"-"+recipe+".md")
}

// Assignable implements Tracker: a directory has no notion of users.
func (f *FileSink) Assignable(context.Context, string) (bool, error) { return true, nil }

// EnsureLabels implements Tracker; labels are just words in the file.
func (f *FileSink) EnsureLabels(context.Context, []string) error { return nil }

// Find implements Tracker: the file at Path, if it carries the marker.
func (f *FileSink) Find(ctx context.Context, kind Kind, recipe string, _ bool) (Ref, bool, error) {
	return f.Get(ctx, Ref{Kind: kind, Recipe: recipe})
}

// Get implements Tracker. A missing file is a closed (or deleted) issue.
func (f *FileSink) Get(_ context.Context, ref Ref) (Ref, bool, error) {
	p := f.Path(ref.Kind, ref.Recipe)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Ref{}, false, nil
	}
	if err != nil {
		return Ref{}, false, &TrackerError{Op: "read issue file", Msg: err.Error(), kind: ErrUnavailable}
	}
	out := parseIssueFile(string(data))
	if !hasMarker(out.Body, ref.Kind, ref.Recipe) {
		return Ref{}, false, nil
	}
	out.Kind, out.Recipe, out.URL, out.State = ref.Kind, ref.Recipe, p, StateOpen
	return out, true, nil
}

// Create implements Tracker.
func (f *FileSink) Create(_ context.Context, kind Kind, recipe string, d Draft) (Ref, error) {
	ref := Ref{Kind: kind, Recipe: recipe, URL: f.Path(kind, recipe), State: StateOpen, Title: d.Title, Body: d.Body,
		Labels: d.Labels, Assignees: d.Assignees}
	return ref, f.write(ref, nil)
}

// Update implements Tracker: the title and comments are kept.
func (f *FileSink) Update(ctx context.Context, ref Ref, d Draft, _ bool) (Ref, error) {
	cur, ok, err := f.Get(ctx, ref)
	if err != nil {
		return ref, err
	}
	title, comments := d.Title, []string(nil)
	if ok {
		title, comments = cur.Title, cur.comments()
	}
	out := Ref{Kind: ref.Kind, Recipe: ref.Recipe, URL: f.Path(ref.Kind, ref.Recipe), State: StateOpen, Title: title,
		Body: d.Body, Labels: union(cur.Labels, d.Labels), Assignees: union(cur.Assignees, d.Assignees)}
	return out, f.write(out, comments)
}

// Comment implements Tracker: comments are appended under "Activity".
func (f *FileSink) Comment(ctx context.Context, ref Ref, key, text string) error {
	cur, ok, err := f.Get(ctx, ref)
	if err != nil || !ok {
		return err // closing removes the file; its comment lives in the ledger's journal
	}
	mark := opMarker(key)
	comments := cur.comments()
	for _, c := range comments {
		if strings.Contains(c, mark) {
			return nil
		}
	}
	return f.write(cur, append(comments, text+" "+mark))
}

// Close implements Tracker: the file is removed.
func (f *FileSink) Close(_ context.Context, ref Ref) (Ref, error) {
	p := f.Path(ref.Kind, ref.Recipe)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ref, &TrackerError{Op: "remove issue file", Msg: err.Error(), kind: ErrUnavailable}
	}
	ref.State, ref.URL = StateClosed, p
	return ref, nil
}

const activityHeading = "\n## Activity\n\n"

func (f *FileSink) write(ref Ref, comments []string) error {
	if err := os.MkdirAll(f.Dir, 0o750); err != nil {
		return &TrackerError{Op: "issue directory", Msg: err.Error(), kind: ErrUnavailable}
	}
	var b strings.Builder
	// The title is rendered escaped; one a human edited in the file is
	// escaped again (a no-op on escaped text) before it is written back.
	fmt.Fprintf(&b, "# %s\n\n", escape.Line(ref.Title))
	fmt.Fprintf(&b, "- Labels: %s\n", strings.Join(ref.Labels, ", "))
	as := make([]string, len(ref.Assignees))
	for i, a := range ref.Assignees {
		as[i] = "@" + escape.Line(a)
	}
	fmt.Fprintf(&b, "- Assignees: %s\n", strings.Join(as, ", "))
	fmt.Fprintf(&b, "- Route: %s\n\n", routeLine(ref.Body))
	b.WriteString(bodyStart)
	b.WriteString(ref.Body)
	b.WriteString(bodyEnd)
	if len(comments) > 0 {
		b.WriteString(activityHeading)
		for _, c := range comments {
			fmt.Fprintf(&b, "- %s\n", c)
		}
	}
	if err := atomicfile.WriteBytes(f.Path(ref.Kind, ref.Recipe), 0o640, []byte(b.String())); err != nil {
		return &TrackerError{Op: "write issue file", Msg: err.Error(), kind: ErrUnavailable}
	}
	return nil
}

const (
	bodyStart = "<!-- body -->\n"
	bodyEnd   = "<!-- /body -->\n"
)

var routeRE = regexp.MustCompile(`Routed via \*\*([a-z]+)\*\* \(([^\n]*)\)\.`)

// routeLine extracts "via (source)" from a rendered body.
func routeLine(body string) string {
	if m := routeRE.FindStringSubmatch(body); m != nil {
		return m[1] + " (" + m[2] + ")"
	}
	return "-"
}

// parseIssueFile reads back what write wrote.
func parseIssueFile(s string) Ref {
	var r Ref
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# ") && r.Title == "":
			r.Title = strings.TrimPrefix(line, "# ")
		case strings.HasPrefix(line, "- Labels: "):
			r.Labels = splitList(strings.TrimPrefix(line, "- Labels: "), "")
		case strings.HasPrefix(line, "- Assignees: "):
			r.Assignees = splitList(strings.TrimPrefix(line, "- Assignees: "), "@")
		}
		if line+"\n" == bodyStart {
			break
		}
	}
	if i := strings.Index(s, bodyStart); i >= 0 {
		rest := s[i+len(bodyStart):]
		if j := strings.Index(rest, bodyEnd); j >= 0 {
			r.Body = rest[:j]
			r.activity = rest[j+len(bodyEnd):]
		}
	}
	return r
}

func (r Ref) comments() []string {
	a := strings.TrimPrefix(r.activity, activityHeading)
	var out []string
	for _, line := range strings.Split(a, "\n") {
		if strings.HasPrefix(line, "- ") {
			out = append(out, strings.TrimPrefix(line, "- "))
		}
	}
	return out
}

func splitList(s, prefix string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimPrefix(strings.TrimSpace(x), prefix); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func union(a, b []string) []string {
	out := append([]string(nil), a...)
	return append(out, missing(b, a)...)
}

package evidence

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaxCodeownersSize is GitHub's limit on a CODEOWNERS file, in bytes; GitHub
// does not load a larger one, and neither do we.
const MaxCodeownersSize = 3 << 20

// Codeowners is a parsed GitHub CODEOWNERS file.
type Codeowners struct {
	Rules []CodeownersRule
	// Invalid lists the lines skipped for bad syntax, as GitHub skips them.
	Invalid []CodeownersLineError
}

// CodeownersRule is one pattern line. No owners means "matched, unowned".
type CodeownersRule struct {
	Pattern string
	Owners  []string // @user, @org/team or e-mail, as written
	Line    int      // 1-based

	never bool // the pattern "/" matches nothing
	segs  []globSeg
}

// CodeownersLineError explains why a line was skipped.
type CodeownersLineError struct {
	Line   int
	Detail string
}

// globSeg is one compiled pattern element: a glob matching exactly one path
// segment, or (any) zero or more whole segments.
type globSeg struct {
	glob string
	any  bool
}

var (
	ownerTeamRE  = regexp.MustCompile(`^@[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}/[A-Za-z0-9][A-Za-z0-9_-]{0,99}$`)
	ownerUserRE  = regexp.MustCompile(`^@[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}$`)
	ownerEmailRE = regexp.MustCompile(`^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$`)
)

// ParseCodeowners parses a CODEOWNERS file with GitHub's rules. Blank lines
// and lines starting with '#' are ignored, and '#' after whitespace starts a
// trailing comment. A line GitHub would reject (negation with '!', '[ ]'
// ranges, an escaped leading '#', '***', an owner that is not @user,
// @org/team or an e-mail address) is skipped and recorded in Invalid, as
// GitHub skips it. The only error is input over MaxCodeownersSize.
func ParseCodeowners(data []byte) (*Codeowners, error) {
	if len(data) > MaxCodeownersSize {
		return nil, fmt.Errorf("codeowners: %w: %d bytes, limit is %d", ErrTooLarge, len(data), MaxCodeownersSize)
	}
	c := &Codeowners{}
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || line[0] == '#' {
			continue
		}
		r, err := parseCodeownersLine(line)
		if err != nil {
			c.Invalid = append(c.Invalid, CodeownersLineError{Line: n, Detail: err.Error()})
			continue
		}
		r.Line = n
		c.Rules = append(c.Rules, r)
	}
	return c, nil
}

func parseCodeownersLine(line string) (CodeownersRule, error) {
	var r CodeownersRule
	if !utf8.ValidString(line) {
		return r, fmt.Errorf("not valid UTF-8")
	}
	// The pattern runs to the first unescaped whitespace; '\' escapes one character.
	end := len(line)
	for i := 0; i < len(line); i++ {
		if line[i] == '\\' {
			i++
			continue
		}
		if line[i] == ' ' || line[i] == '\t' {
			end = i
			break
		}
	}
	r.Pattern = line[:end]
	if err := compilePattern(&r); err != nil {
		return r, err
	}
	for _, f := range strings.Fields(line[end:]) {
		if f[0] == '#' {
			break
		}
		if !ownerUserRE.MatchString(f) && !ownerTeamRE.MatchString(f) && !ownerEmailRE.MatchString(f) {
			return r, fmt.Errorf("owner %q is not @user, @org/team or an e-mail address", truncate(f))
		}
		r.Owners = append(r.Owners, f)
	}
	return r, nil
}

// compilePattern turns a gitignore-style pattern into segment globs, with
// GitHub's reading of it:
//   - a leading '/', or a '/' inside the pattern, anchors it at the root;
//     a pattern without one matches at any depth;
//   - a trailing '/' matches only what is inside a directory;
//   - '*' and '?' do not cross '/'; '**' as a whole segment spans any number
//     of directories (at least one when it ends the pattern);
//   - a pattern matches a file and, if it names a directory, everything
//     below it, except that a final lone '*' (docs/*) matches only the
//     directory's direct entries.
func compilePattern(r *CodeownersRule) error {
	p := r.Pattern
	switch {
	case strings.HasPrefix(p, "!"):
		return fmt.Errorf("negation with '!' is not supported")
	case strings.HasPrefix(p, `\#`):
		return fmt.Errorf("escaping a leading '#' is not supported")
	case strings.ContainsAny(p, "[]"):
		return fmt.Errorf("character ranges with '[ ]' are not supported")
	case strings.Contains(p, "***"):
		return fmt.Errorf("pattern cannot contain three consecutive asterisks")
	}
	anchored := strings.HasPrefix(p, "/")
	p = strings.TrimPrefix(p, "/")
	dirOnly := strings.HasSuffix(p, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" { // "/" matches nothing
		r.never = true
		return nil
	}
	parts := strings.Split(p, "/")
	for _, part := range parts {
		if part == "" {
			return fmt.Errorf("pattern has an empty path segment")
		}
	}
	if !anchored && len(parts) == 1 && parts[0] != "**" {
		parts = append([]string{"**"}, parts...)
	}
	for _, part := range parts {
		if part == "**" {
			r.segs = append(r.segs, globSeg{any: true})
			continue
		}
		if n := len(part) - len(strings.TrimRight(part, `\`)); n%2 == 1 {
			return fmt.Errorf("pattern segment %q ends with a lone backslash", truncate(part))
		}
		if _, err := path.Match(part, ""); err != nil {
			return fmt.Errorf("bad pattern segment %q", truncate(part))
		}
		r.segs = append(r.segs, globSeg{glob: part})
	}
	last := parts[len(parts)-1]
	switch {
	case dirOnly:
		r.segs = append(r.segs, globSeg{glob: "*"}, globSeg{any: true})
	case last == "**":
		r.segs = append(r.segs[:len(r.segs)-1], globSeg{glob: "*"}, globSeg{any: true})
	case last == "*":
		// docs/*: direct entries only.
	default:
		r.segs = append(r.segs, globSeg{any: true})
	}
	return nil
}

// Matches reports whether the rule's pattern matches the repository-relative
// file path p.
func (r *CodeownersRule) Matches(p string) bool {
	if r.never || r.segs == nil {
		return false
	}
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return false
	}
	segs := strings.Split(p, "/")
	// ok[j]: the pattern elements so far can match exactly segs[:j].
	ok := make([]bool, len(segs)+1)
	next := make([]bool, len(segs)+1)
	ok[0] = true
	for _, g := range r.segs {
		clear(next)
		if g.any {
			reach := false
			for j := range ok {
				reach = reach || ok[j]
				next[j] = reach
			}
		} else {
			for j := 0; j < len(segs); j++ {
				if ok[j] {
					if m, _ := path.Match(g.glob, segs[j]); m {
						next[j+1] = true
					}
				}
			}
		}
		ok, next = next, ok
	}
	return ok[len(segs)]
}

// Owners returns the owners of a repository-relative file path under
// GitHub's rule that the last matching line wins. ok is false when no line
// matches; a matching line with no owners returns ok true, nil owners and
// that line: the path is deliberately unowned.
func (c *Codeowners) Owners(p string) (owners []string, line int, ok bool) {
	if c == nil {
		return nil, 0, false
	}
	for i := len(c.Rules) - 1; i >= 0; i-- {
		r := &c.Rules[i]
		if r.Matches(p) {
			if len(r.Owners) == 0 {
				return nil, r.Line, true
			}
			return append([]string(nil), r.Owners...), r.Line, true
		}
	}
	return nil, 0, false
}

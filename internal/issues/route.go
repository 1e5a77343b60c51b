package issues

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

// Routes, in the order they are tried (SPEC §2.3).
const (
	ViaMaintainers = "maintainers"
	ViaCodeowners  = "codeowners"
	ViaDefault     = "default"
)

// CodeownersLocations are where GitHub looks for CODEOWNERS, in its order:
// the first file found is the only one used.
var CodeownersLocations = []string{".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"}

// Files reads repository files at the audited commit. A missing file is an
// error wrapping fs.ErrNotExist.
type Files interface {
	ReadFile(ctx context.Context, path string) ([]byte, error)
}

// Route is who an issue goes to and why.
type Route struct {
	Via    string // ViaMaintainers | ViaCodeowners | ViaDefault
	Source string // e.g. "recipes/overlays/x.yaml spec.maintainers", ".github/CODEOWNERS line 4", "issues.defaultAssignees"
	// Assignees are the users the tracker can assign, sorted.
	Assignees []string
	// Mentions are @-handles named in the body: teams, users the tracker
	// cannot assign, in the order met.
	Mentions []string
	// Contacts are escalation contacts and e-mail owners, named in the body.
	Contacts []string
	// Skipped says, for each earlier route, why it did not apply.
	Skipped []string
}

// Router decides routes. Files, OverlaysDir and Assignable are required.
type Router struct {
	Files       Files
	OverlaysDir string // e.g. recipes/overlays
	// Profiles maps a recipe to the profile its pointers declare (""
	// or absent: unprofiled), to find the base recipe's overlay.
	Profiles         map[string]string
	DefaultAssignees []string
	DefaultTeam      string // org/team, @-mentioned on the default route
	Assignable       func(ctx context.Context, user string) (bool, error)

	assignable map[string]bool
	codeowners *codeownersFile
}

type codeownersFile struct {
	path  string
	found bool
	c     *evidence.Codeowners
	err   error
}

// OverlayPath is the overlay that routes recipe (SPEC §2.3: for a profiled
// recipe, the base recipe's overlay).
func (r *Router) OverlayPath(recipe string) string {
	return path.Join(r.OverlaysDir, evidence.BaseRecipe(recipe, r.Profiles[recipe])+".yaml")
}

// Route decides who the issue for recipe goes to (SPEC §2.3): the overlay's
// spec.maintainers when it names an assignable user; else the CODEOWNERS
// rule for the overlay when it names an assignable user or a team (a
// team-only rule is route codeowners with the team @-mentioned and nobody
// assigned); else the configured defaults. It fails only when the tracker
// cannot say who is assignable.
func (r *Router) Route(ctx context.Context, recipe string) (Route, error) {
	var (
		rt                 Route
		mentions, contacts []string
	)
	overlay := r.OverlayPath(recipe)

	// 1. spec.maintainers of the (base) overlay.
	data, err := r.Files.ReadFile(ctx, overlay)
	if errors.Is(err, fs.ErrNotExist) && overlay != path.Join(r.OverlaysDir, recipe+".yaml") {
		// A profiled recipe whose base has no overlay: its own overlay, if
		// any, is the next best source of maintainers.
		own := path.Join(r.OverlaysDir, recipe+".yaml")
		if d, e := r.Files.ReadFile(ctx, own); e == nil {
			overlay, data, err = own, d, nil
		}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		rt.Skipped = append(rt.Skipped, fmt.Sprintf("maintainers: there is no overlay %s", overlay))
	case err != nil:
		rt.Skipped = append(rt.Skipped, fmt.Sprintf("maintainers: %s could not be read: %v", overlay, err))
	default:
		ms, perr := evidence.ParseMaintainers(data)
		switch {
		case perr != nil:
			rt.Skipped = append(rt.Skipped, fmt.Sprintf("maintainers: %s has a malformed spec.maintainers block: %v", overlay, perr))
		case len(ms) == 0:
			rt.Skipped = append(rt.Skipped, fmt.Sprintf("maintainers: %s has no spec.maintainers block", overlay))
		default:
			var users, why []string
			for _, m := range ms {
				if m.Escalation != "" {
					c := m.Escalation + " (escalation for @" + m.Handle
					if m.Org != "" {
						c += ", " + m.Org
					}
					contacts = appendNew(contacts, c+")")
				}
				if m.IsTeam() {
					mentions = appendNew(mentions, "@"+m.Handle)
					why = append(why, "@"+m.Handle+" is a team")
					continue
				}
				users = append(users, m.Handle)
			}
			ok, notOK, err := r.split(ctx, users)
			if err != nil {
				return Route{}, err
			}
			for _, u := range notOK {
				mentions = appendNew(mentions, "@"+u)
				why = append(why, "@"+u+" is not assignable")
			}
			if len(ok) > 0 {
				rt.Via, rt.Source, rt.Assignees = ViaMaintainers, overlay+" spec.maintainers", ok
				rt.Mentions, rt.Contacts = mentions, contacts
				return rt, nil
			}
			rt.Skipped = append(rt.Skipped, fmt.Sprintf("maintainers: %s spec.maintainers names nobody assignable (%s)", overlay, strings.Join(why, "; ")))
		}
	}

	// 2. The CODEOWNERS rule for the overlay path (last match wins).
	co, err := r.loadCodeowners(ctx)
	if err != nil {
		return Route{}, err
	}
	switch {
	case !co.found:
		rt.Skipped = append(rt.Skipped, "codeowners: the repository has no CODEOWNERS file ("+strings.Join(CodeownersLocations, ", ")+")")
	case co.err != nil:
		rt.Skipped = append(rt.Skipped, fmt.Sprintf("codeowners: %s could not be read: %v", co.path, co.err))
	default:
		owners, line, matched := co.c.Owners(overlay)
		switch {
		case !matched:
			rt.Skipped = append(rt.Skipped, fmt.Sprintf("codeowners: no rule in %s matches %s", co.path, overlay))
		case len(owners) == 0:
			rt.Skipped = append(rt.Skipped, fmt.Sprintf("codeowners: %s line %d leaves %s unowned", co.path, line, overlay))
		default:
			var users, why []string
			teams := 0
			for _, o := range owners {
				switch {
				case strings.HasPrefix(o, "@") && strings.Contains(o, "/"):
					mentions = appendNew(mentions, o)
					teams++
					why = append(why, o+" is a team")
				case strings.HasPrefix(o, "@"):
					users = append(users, strings.TrimPrefix(o, "@"))
				default: // e-mail owner
					contacts = appendNew(contacts, o+" (CODEOWNERS)")
					why = append(why, o+" is an e-mail address")
				}
			}
			ok, notOK, err := r.split(ctx, users)
			if err != nil {
				return Route{}, err
			}
			for _, u := range notOK {
				mentions = appendNew(mentions, "@"+u)
				why = append(why, "@"+u+" is not assignable")
			}
			// A team that owns the overlay is who the repository says
			// answers for it: the issue goes there (teams are @-mentioned,
			// not assigned) rather than to the defaults. A rule naming only
			// e-mail addresses or users the tracker cannot assign reaches
			// nobody on the tracker, and falls through.
			if len(ok) > 0 || teams > 0 {
				rt.Via, rt.Source, rt.Assignees = ViaCodeowners, fmt.Sprintf("%s line %d", co.path, line), ok
				rt.Mentions, rt.Contacts = mentions, contacts
				return rt, nil
			}
			rt.Skipped = append(rt.Skipped, fmt.Sprintf("codeowners: %s line %d names nobody the tracker can reach (%s)", co.path, line, strings.Join(why, "; ")))
		}
	}

	// 3. The configured defaults; always applies, even when empty.
	rt.Via, rt.Source = ViaDefault, "issues.defaultAssignees / issues.defaultTeam"
	ok, notOK, err := r.split(ctx, r.DefaultAssignees)
	if err != nil {
		return Route{}, err
	}
	rt.Assignees = ok
	for _, u := range notOK {
		mentions = appendNew(mentions, "@"+u)
	}
	if t := strings.TrimPrefix(r.DefaultTeam, "@"); t != "" {
		mentions = appendNew(mentions, "@"+t)
	}
	rt.Mentions, rt.Contacts = mentions, contacts
	return rt, nil
}

// split sorts users into those the tracker can assign (sorted, deduplicated)
// and the others (in order).
func (r *Router) split(ctx context.Context, users []string) (ok, notOK []string, err error) {
	if r.assignable == nil {
		r.assignable = map[string]bool{}
	}
	seen := map[string]bool{}
	for _, u := range users {
		u = strings.TrimPrefix(u, "@")
		if u == "" || seen[u] {
			continue
		}
		seen[u] = true
		a, known := r.assignable[u]
		if !known {
			if a, err = r.Assignable(ctx, u); err != nil {
				return nil, nil, fmt.Errorf("is %s assignable: %w", u, err)
			}
			r.assignable[u] = a
		}
		if a {
			ok = append(ok, u)
		} else {
			notOK = append(notOK, u)
		}
	}
	sort.Strings(ok)
	return ok, notOK, nil
}

func (r *Router) loadCodeowners(ctx context.Context) (*codeownersFile, error) {
	if r.codeowners != nil {
		return r.codeowners, nil
	}
	co := &codeownersFile{}
	for _, p := range CodeownersLocations {
		data, err := r.Files.ReadFile(ctx, p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		co.path, co.found = p, true
		if err != nil {
			co.err = err
			break
		}
		co.c, co.err = evidence.ParseCodeowners(data)
		break
	}
	r.codeowners = co
	return co, nil
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// Profiles derives, from pointer versions, the profile each recipe
// declares: the newest version's that has one. Unparsable versions are
// ignored.
func Profiles(versions []audit.PointerVersion, evidenceDir string) map[string]string {
	out := map[string]string{}
	newest := map[string]audit.PointerVersion{}
	for _, v := range versions {
		// Most pointers have no profile; only parse those that could.
		if !bytes.Contains(v.Content, []byte("profile")) {
			continue
		}
		info, _ := audit.Describe(v, evidenceDir, nil)
		if info.Recipe == "" || info.Profile == "" {
			continue
		}
		if old, ok := newest[info.Recipe]; ok && !v.AddedAt.After(old.AddedAt) {
			continue
		}
		newest[info.Recipe] = v
		out[info.Recipe] = info.Profile
	}
	return out
}

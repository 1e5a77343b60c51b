package evidence

import (
	"path"
	"regexp"
	"strings"
)

// DefaultEvidenceDir is where pointers live, relative to the repository root.
const DefaultEvidenceDir = "recipes/evidence"

// AllowlistFile is the allowlist's name directly under the evidence
// directory; it is not a pointer.
const AllowlistFile = "allowlist.yaml"

// Layouts of pointer files (SPEC §2.1).
const (
	// LayoutPerSource is <evidenceDir>/<recipe>/<source>/sha256-<hex>.yaml.
	LayoutPerSource = "per-source"
	// LayoutFlat is the legacy <evidenceDir>/<recipe>.yaml.
	LayoutFlat = "flat"
)

// Location is where a pointer file sits, as read from its path. Layout is
// LayoutPerSource, LayoutFlat, or "" for a YAML file under the evidence
// directory that fits neither (a placement problem). Recipe, Source and
// FileDigest are what the path claims, filled as far as the path allows.
// The zero Location means "placement unknown" (a file outside the
// repository, as given to `verify`): Validate then checks no placement.
type Location struct {
	Path       string // the repository-relative path as given
	Layout     string
	Recipe     string // directory (per-source) or file stem (flat)
	Source     string // per-source: the 32-hex source directory
	FileDigest string // per-source: sha256:<hex> from the file name
}

var perSourceFileRE = regexp.MustCompile(`^sha256-([0-9a-f]{64})\.yaml$`)

// ParsePath classifies a repository-relative, slash-separated path. It
// reports false for files that are not pointers: anything outside
// evidenceDir, the allowlist, and non-YAML files (README.md, .gitkeep).
// Every other .yaml or .yml file under evidenceDir is a pointer candidate,
// with Layout "" when it fits no layout, so that a misplaced pointer is
// reported rather than dropped. An empty evidenceDir means DefaultEvidenceDir.
func ParsePath(evidenceDir, p string) (Location, bool) {
	if evidenceDir == "" {
		evidenceDir = DefaultEvidenceDir
	}
	dir := strings.Trim(path.Clean("/"+evidenceDir), "/")
	if strings.Contains(p, `\`) || strings.HasPrefix(p, "/") {
		return Location{}, false
	}
	clean := path.Clean(p)
	rel := clean
	if dir != "" {
		var ok bool
		if rel, ok = strings.CutPrefix(clean, dir+"/"); !ok {
			return Location{}, false
		}
	}
	if rel == "" || rel == "." || strings.HasPrefix(rel, "../") || rel == ".." {
		return Location{}, false
	}
	segs := strings.Split(rel, "/")
	name := segs[len(segs)-1]
	ext := strings.ToLower(path.Ext(name))
	if ext != ".yaml" && ext != ".yml" {
		return Location{}, false
	}
	loc := Location{Path: p}
	switch len(segs) {
	case 1:
		if name == AllowlistFile {
			return Location{}, false
		}
		loc.Recipe = strings.TrimSuffix(name, path.Ext(name))
		if path.Ext(name) == ".yaml" && loc.Recipe != "" {
			loc.Layout = LayoutFlat
		}
	case 3:
		loc.Recipe, loc.Source = segs[0], segs[1]
		if m := perSourceFileRE.FindStringSubmatch(name); m != nil {
			loc.FileDigest = "sha256:" + m[1]
			if IsSourceSlug(loc.Source) && loc.Recipe != "" {
				loc.Layout = LayoutPerSource
			}
		}
	default:
		loc.Recipe = segs[0]
	}
	return loc, true
}

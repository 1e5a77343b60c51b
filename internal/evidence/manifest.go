package evidence

import (
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxManifestSize bounds manifest.json, in bytes.
const MaxManifestSize = 4 << 20

// MaxManifestFiles bounds the number of files manifest.json may list.
const MaxManifestFiles = 10000

const maxManifestPathLen = 1024

// Names of the bundle files that manifest.json must not list (SPEC §2.2):
// the manifest itself and the statement that covers it.
const (
	ManifestFileName  = "manifest.json"
	StatementFileName = "statement.intoto.json"
)

// Manifest is a summary bundle's manifest.json (SPEC §2.2).
type Manifest struct {
	SchemaVersion string
	Files         []ManifestFile
}

// ManifestFile is one file of the bundle's layer.
type ManifestFile struct {
	Path      string // relative, slash-separated, clean, inside the bundle
	Size      int64  // bytes, ≥ 0
	SHA256    string // sha256:<64 lowercase hex>
	MediaType string // optional; "" when not given
}

// Lookup returns the entry for path p.
func (m *Manifest) Lookup(p string) (ManifestFile, bool) {
	for _, f := range m.Files {
		if f.Path == p {
			return f, true
		}
	}
	return ManifestFile{}, false
}

type rawManifest struct {
	SchemaVersion *string            `json:"schemaVersion"`
	Files         *[]rawManifestFile `json:"files"`
}

type rawManifestFile struct {
	Path      *string `json:"path"`
	Size      *int64  `json:"size"`
	SHA256    *string `json:"sha256"`
	MediaType *string `json:"mediaType"`
}

// ParseManifest parses manifest.json. Unknown keys are tolerated; the
// named ones are checked: schemaVersion 1.0.x, a non-empty file list of at
// most MaxManifestFiles, each with a path that stays inside the bundle
// (relative, clean, no `..`, no backslash, no duplicates, neither
// manifest.json nor statement.intoto.json), a size ≥ 0 and a sha256:<hex>
// digest. Errors are *SchemaError naming the field, or wrap ErrTooLarge.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("manifest: %w: %d bytes, limit is %d", ErrTooLarge, len(data), MaxManifestSize)
	}
	var raw rawManifest
	if err := decodeJSON(data, "", &raw); err != nil {
		return nil, err
	}
	var m Manifest
	if raw.SchemaVersion == nil || *raw.SchemaVersion == "" {
		return nil, schemaErr("schemaVersion", "is required")
	}
	if !schemaVersionRE.MatchString(*raw.SchemaVersion) {
		return nil, schemaErr("schemaVersion", fmt.Sprintf("unsupported version %q (want 1.0.x)", truncate(*raw.SchemaVersion)))
	}
	m.SchemaVersion = *raw.SchemaVersion
	if raw.Files == nil {
		return nil, schemaErr("files", "is required")
	}
	files := *raw.Files
	if len(files) == 0 {
		return nil, schemaErr("files", "must list at least one file")
	}
	if len(files) > MaxManifestFiles {
		return nil, schemaErr("files", fmt.Sprintf("lists %d files, limit is %d", len(files), MaxManifestFiles))
	}
	seen := make(map[string]int, len(files))
	for i, rf := range files {
		field := fmt.Sprintf("files[%d]", i)
		if rf.Path == nil {
			return nil, schemaErr(field+".path", "is required")
		}
		p := *rf.Path
		if err := checkBundlePath(field+".path", p); err != nil {
			return nil, err
		}
		if j, dup := seen[p]; dup {
			return nil, schemaErr(field+".path", fmt.Sprintf("%q is also files[%d]", p, j))
		}
		seen[p] = i
		if rf.Size == nil {
			return nil, schemaErr(field+".size", "is required")
		}
		if *rf.Size < 0 {
			return nil, schemaErr(field+".size", "must be ≥ 0")
		}
		if rf.SHA256 == nil || *rf.SHA256 == "" {
			return nil, schemaErr(field+".sha256", "is required")
		}
		if !digestRE.MatchString(*rf.SHA256) {
			return nil, schemaErr(field+".sha256", fmt.Sprintf("%q is not sha256:<64 lowercase hex>", truncate(*rf.SHA256)))
		}
		f := ManifestFile{Path: p, Size: *rf.Size, SHA256: *rf.SHA256}
		if rf.MediaType != nil {
			if err := checkText(field+".mediaType", *rf.MediaType, 256); err != nil {
				return nil, err
			}
			f.MediaType = *rf.MediaType
		}
		m.Files = append(m.Files, f)
	}
	return &m, nil
}

// checkBundlePath requires a path that cannot escape the bundle or alias
// another entry: relative, slash-separated, already clean, printable.
func checkBundlePath(field, p string) error {
	bad := func(why string) error {
		return schemaErr(field, fmt.Sprintf("%q %s", truncate(p), why))
	}
	switch {
	case p == "":
		return schemaErr(field, "is empty")
	case len(p) > maxManifestPathLen:
		return bad(fmt.Sprintf("is longer than %d bytes", maxManifestPathLen))
	case !utf8.ValidString(p):
		return bad("is not valid UTF-8")
	case strings.Contains(p, `\`):
		return bad("contains a backslash")
	case strings.HasPrefix(p, "/"):
		return bad("is absolute")
	}
	for _, r := range p {
		if unicode.IsControl(r) {
			return bad("contains control characters")
		}
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return bad("escapes the bundle")
		}
	}
	if path.Clean(p) != p {
		return bad("is not a clean path")
	}
	if p == ManifestFileName || p == StatementFileName {
		return bad("must not be listed in the manifest")
	}
	return nil
}

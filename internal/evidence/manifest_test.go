package evidence_test

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

const hash1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

func TestParseManifestReal(t *testing.T) {
	m, err := evidence.ParseManifest(fixture(t, "manifest/valid.json"))
	if err != nil {
		t.Fatalf("ParseManifest: %v", err)
	}
	if got, want := len(m.Files), 6; got != want {
		t.Fatalf("files: got %d, want %d", got, want)
	}
	f, ok := m.Lookup("ctrf/performance.json")
	if !ok {
		t.Fatal("ctrf/performance.json not found")
	}
	if got, want := f.Size, int64(0); got != want {
		t.Errorf("size: got %d, want %d", got, want)
	}
	if got, want := m.Files[0], (evidence.ManifestFile{Path: "recipe.yaml", Size: 2048, SHA256: hash1, MediaType: "application/yaml"}); got != want {
		t.Errorf("files[0]: got %+v, want %+v", got, want)
	}
}

func manifestWith(files ...string) string {
	return `{"schemaVersion":"1.0.0","files":[` + strings.Join(files, ",") + `]}`
}

func file(p string) string {
	return fmt.Sprintf(`{"path":%q,"size":1,"sha256":%q}`, p, hash1)
}

func TestParseManifestRejects(t *testing.T) {
	tests := []struct{ name, in, field string }{
		{"absolute", manifestWith(file("/etc/passwd")), "files[0].path"},
		{"dot-dot", manifestWith(file("ctrf/../../x")), "files[0].path"},
		{"dot-dot only", manifestWith(file("..")), "files[0].path"},
		{"backslash", manifestWith(file(`ctrf\x.json`)), "files[0].path"},
		{"empty path", manifestWith(file("")), "files[0].path"},
		{"unclean", manifestWith(file("./recipe.yaml")), "files[0].path"},
		{"double slash", manifestWith(file("ctrf//x.json")), "files[0].path"},
		{"trailing slash", manifestWith(file("ctrf/")), "files[0].path"},
		{"control char", manifestWith(file("a\nb")), "files[0].path"},
		{"duplicate", manifestWith(file("a"), file("b"), file("a")), "files[2].path"},
		{"lists itself", manifestWith(file("manifest.json")), "files[0].path"},
		{"lists the statement", manifestWith(file("a"), file("statement.intoto.json")), "files[1].path"},
		{"missing path", manifestWith(`{"size":1,"sha256":"` + hash1 + `"}`), "files[0].path"},
		{"missing size", manifestWith(`{"path":"a","sha256":"` + hash1 + `"}`), "files[0].size"},
		{"negative size", manifestWith(`{"path":"a","size":-1,"sha256":"` + hash1 + `"}`), "files[0].size"},
		{"fractional size", manifestWith(`{"path":"a","size":1.5,"sha256":"` + hash1 + `"}`), "files.size"},
		{"string size", manifestWith(`{"path":"a","size":"1","sha256":"` + hash1 + `"}`), "files.size"},
		{"missing digest", manifestWith(`{"path":"a","size":1}`), "files[0].sha256"},
		{"bare digest", manifestWith(`{"path":"a","size":1,"sha256":"` + hash1[7:] + `"}`), "files[0].sha256"},
		{"uppercase digest", manifestWith(`{"path":"a","size":1,"sha256":"` + strings.ToUpper(hash1) + `"}`), "files[0].sha256"},
		{"short digest", manifestWith(`{"path":"a","size":1,"sha256":"sha256:11"}`), "files[0].sha256"},
		{"no files", manifestWith(), "files"},
		{"files missing", `{"schemaVersion":"1.0.0"}`, "files"},
		{"files null", `{"schemaVersion":"1.0.0","files":null}`, "files"},
		{"missing schemaVersion", `{"files":[` + file("a") + `]}`, "schemaVersion"},
		{"bad schemaVersion", `{"schemaVersion":"2.0.0","files":[` + file("a") + `]}`, "schemaVersion"},
		{"trailing data", manifestWith(file("a")) + "{}", ""},
		{"not JSON", "schemaVersion: 1.0.0", ""},
		{"empty", "", ""},
		{"array", "[]", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := evidence.ParseManifest([]byte(tt.in))
			if err == nil {
				t.Fatalf("got %+v, want an error", m)
			}
			if tt.field != "" {
				checkSchemaErr(t, err, tt.field)
			}
		})
	}
}

func TestParseManifestLimits(t *testing.T) {
	files := make([]string, evidence.MaxManifestFiles+1)
	for i := range files {
		files[i] = file(fmt.Sprintf("f%d", i))
	}
	_, err := evidence.ParseManifest([]byte(manifestWith(files...)))
	checkSchemaErr(t, err, "files")

	_, err = evidence.ParseManifest(make([]byte, evidence.MaxManifestSize+1))
	if !errors.Is(err, evidence.ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}

func FuzzParseManifest(f *testing.F) {
	addSeeds(f, "manifest")
	f.Add([]byte(manifestWith(file("a/b"), file("c"))))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := evidence.ParseManifest(data)
		if err != nil {
			return
		}
		if len(m.Files) == 0 || len(m.Files) > evidence.MaxManifestFiles {
			t.Fatalf("accepted %d files", len(m.Files))
		}
		seen := map[string]bool{}
		for _, f := range m.Files {
			p := f.Path
			if p == "" || path.IsAbs(p) || path.Clean(p) != p || strings.HasPrefix(p, "..") || strings.Contains(p, `\`) || seen[p] ||
				p == evidence.ManifestFileName || p == evidence.StatementFileName {
				t.Fatalf("accepted path %q", p)
			}
			seen[p] = true
			if f.Size < 0 || !strings.HasPrefix(f.SHA256, "sha256:") || len(f.SHA256) != 71 {
				t.Fatalf("accepted file %+v", f)
			}
		}
	})
}

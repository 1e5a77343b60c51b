package registry_test

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/registry"
)

func TestExtractLayer(t *testing.T) {
	b := tarGz(t,
		tarEntry{name: "./recipe.yaml", body: "r"},
		tarEntry{name: "ctrf/", typ: tar.TypeDir},
		tarEntry{name: "ctrf//deployment.json", body: "{}"},
		tarEntry{name: "pax_global_header", typ: tar.TypeXGlobalHeader},
	)
	files, err := registry.ExtractLayer(bytes.NewReader(b), registry.TarLimits{})
	if err != nil {
		t.Fatalf("ExtractLayer: %v", err)
	}
	if got, want := len(files), 2; got != want {
		t.Fatalf("files: got %d (%v), want %d", got, files, want)
	}
	if string(files["recipe.yaml"]) != "r" || string(files["ctrf/deployment.json"]) != "{}" {
		t.Errorf("files: got %q", files)
	}
}

func TestExtractLayerRefuses(t *testing.T) {
	big := strings.Repeat("x", 101)
	for _, tc := range []struct {
		name    string
		entries []tarEntry
		lim     registry.TarLimits
	}{
		{"dot-dot", []tarEntry{{name: "../x", body: "x"}}, registry.TarLimits{}},
		{"inner dot-dot", []tarEntry{{name: "a/../../x", body: "x"}}, registry.TarLimits{}},
		{"absolute", []tarEntry{{name: "/etc/passwd", body: "x"}}, registry.TarLimits{}},
		{"backslash", []tarEntry{{name: `..\x`, body: "x"}}, registry.TarLimits{}},
		{"symlink", []tarEntry{{name: "link", typ: tar.TypeSymlink, linkname: "/etc/passwd"}}, registry.TarLimits{}},
		{"hardlink", []tarEntry{{name: "a", body: "x"}, {name: "b", typ: tar.TypeLink, linkname: "a"}}, registry.TarLimits{}},
		{"char device", []tarEntry{{name: "null", typ: tar.TypeChar}}, registry.TarLimits{}},
		{"fifo", []tarEntry{{name: "fifo", typ: tar.TypeFifo}}, registry.TarLimits{}},
		{"duplicate", []tarEntry{{name: "a", body: "1"}, {name: "./a", body: "2"}}, registry.TarLimits{}},
		{"oversize entry", []tarEntry{{name: "big", body: big}}, registry.TarLimits{MaxEntrySize: 100}},
		{"too many entries", []tarEntry{{name: "a", body: "1"}, {name: "b", body: "2"}, {name: "c", body: "3"}}, registry.TarLimits{MaxEntries: 2}},
		{"total size", []tarEntry{{name: "a", body: big}, {name: "b", body: big}}, registry.TarLimits{MaxTotalSize: 150}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := registry.ExtractLayer(bytes.NewReader(tarGz(t, tc.entries...)), tc.lim)
			wantKind(t, err, registry.KindIntegrity)
		})
	}
	t.Run("not gzip", func(t *testing.T) {
		_, err := registry.ExtractLayer(strings.NewReader("plain text"), registry.TarLimits{})
		wantKind(t, err, registry.KindIntegrity)
	})
	t.Run("gzip but not tar", func(t *testing.T) {
		b := tarGz(t, tarEntry{name: "a", body: "x"})
		_, err := registry.ExtractLayer(bytes.NewReader(b[:len(b)/2]), registry.TarLimits{})
		wantKind(t, err, registry.KindIntegrity)
	})
}

func FuzzExtractLayer(f *testing.F) {
	f.Add(tarGz(f, bundleFiles("a")...))
	f.Add(tarGz(f, tarEntry{name: "../x", body: "x"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		files, err := registry.ExtractLayer(bytes.NewReader(b), registry.TarLimits{MaxEntries: 64, MaxEntrySize: 1 << 16, MaxTotalSize: 1 << 18})
		if err != nil {
			if registry.KindOf(err) != registry.KindIntegrity {
				t.Fatalf("kind: got %v, want integrity", registry.KindOf(err))
			}
			return
		}
		for name := range files {
			if strings.HasPrefix(name, "/") || strings.Contains("/"+name+"/", "/../") {
				t.Fatalf("escaping name %q accepted", name)
			}
		}
	})
}

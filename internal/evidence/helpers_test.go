package evidence_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

// fixture reads a file under testdata.
func fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
	if err != nil {
		tb.Fatalf("read fixture: %v", err)
	}
	return b
}

// addSeeds adds every file of a testdata directory to a fuzz corpus.
func addSeeds(f *testing.F, dir string) {
	f.Helper()
	entries, err := os.ReadDir(filepath.Join("testdata", dir))
	if err != nil {
		f.Fatalf("read seeds: %v", err)
	}
	for _, e := range entries {
		f.Add(fixture(f, dir+"/"+e.Name()))
	}
}

// checkSchemaErr fails unless err is a *SchemaError for field whose
// message names the field.
func checkSchemaErr(t *testing.T, err error, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want a schema error for %q", field)
	}
	var se *evidence.SchemaError
	if !errors.As(err, &se) {
		t.Fatalf("got %T %v, want *evidence.SchemaError", err, err)
	}
	if se.Field != field {
		t.Fatalf("got field %q (%v), want %q", se.Field, err, field)
	}
	if !strings.Contains(err.Error(), field) {
		t.Fatalf("got message %q, want it to name %q", err, field)
	}
}

// replace applies old→new once to s, failing when old is absent.
func replace(t *testing.T, s, old, new string) string {
	t.Helper()
	if old == "" {
		return s + new
	}
	if !strings.Contains(s, old) {
		t.Fatalf("test bug: %q not in input", old)
	}
	return strings.Replace(s, old, new, 1)
}

package issues_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/issues"
)

// TestLostIssueOfArchivedPointer (SPEC §7): a pointer whose origin is gone
// but whose archived copy verifies gets a lost issue — not a recert one:
// the recipe stays healthy — that says so and how to restore it.
func TestLostIssueOfArchivedPointer(t *testing.T) {
	e := newEnv(t, routingRepo())
	dir := filepath.Join(t.TempDir(), "issues")
	e.tr = &issues.FileSink{Dir: dir}
	e.sync(e.record(ptr{"maint", 1, audit.Archived, "", audit.AgeFresh}))
	if got := strings.Join(listDir(t, dir), ","); got != "lost-maint.md" {
		t.Fatalf("files = %s, want only the lost issue (an archived attestation is healthy for its recipe)", got)
	}
	data, err := os.ReadFile(filepath.Join(dir, "lost-maint.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| archived |", "1 of these bundles is `archived`: the origin no longer serves it",
		"passes every check of a verified bundle", "evidence-auditd archive restore --lost --to REGISTRY/REPOSITORY", "bundle.oci"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("lost issue lacks %q:\n%s", want, data)
		}
	}
}

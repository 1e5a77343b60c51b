package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/gitrepo"
)

// Untrusted text of TestUntrustedTextIsEscaped: a flat pointer file whose
// name (and so, the file being malformed, its recipe) carries a screen
// clear, CR, tab, a right-to-left override and an isolate; and a signer
// identity with an override and an isolate (control characters are a
// schema error there, format characters are not), which a detail quotes.
const (
	hostileStem    = "evil\x1b[2J\r\t\u202egpj.exe\u2066x"
	hostileEscaped = `evil\x1b[2J\r\t\u202egpj.exe\u2066x`
	hostileID      = "https://github.com/acme/aicr/.github/workflows/\u202eevil\u2066.yaml@refs/heads/main"
	hostileIDEsc   = `https://github.com/acme/aicr/.github/workflows/\u202eevil\u2066.yaml@refs/heads/main`
	hostileIssuer  = "https://token.actions.githubusercontent.com"
)

// unsafeRune is the first character of s that no human output may carry
// raw: anything but printable text, space and line ends.
func unsafeRune(s string) (rune, bool) {
	for _, r := range strings.ReplaceAll(s, "\r\n", "\n") {
		if r != '\n' && !unicode.IsPrint(r) {
			return r, true
		}
	}
	return 0, false
}

// assertEscaped fails when out carries a raw control or format character,
// or lacks any of the escaped forms in want.
func assertEscaped(t *testing.T, what, out string, want ...string) {
	t.Helper()
	if r, ok := unsafeRune(out); ok {
		i := strings.IndexRune(out, r)
		t.Errorf("%s carries %U raw, near %q", what, r, out[max(0, i-40):min(len(out), i+40)])
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks the escaped %q", what, w)
		}
	}
}

// hostileRepo merges the two hostile pointers into a new repository.
func hostileRepo(t *testing.T) (dir string, goodPointer []byte) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "aicr")
	digest := "sha256:" + strings.Repeat("ab", 32)
	goodPointer = gitrepo.PointerYAML(gitrepo.PointerFields{
		Recipe: "good-recipe", AttestedAt: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), OCI: "registry.example/aicr/evidence:run",
		Digest: digest, PredicateType: "https://aicr.run/recipe-evidence/v3", Identity: hostileID, Issuer: hostileIssuer,
	})
	at := time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC)
	if _, err := gitrepo.Generate(dir, gitrepo.Scenario{Pointers: []gitrepo.PointerMerge{
		{Path: "recipes/evidence/" + hostileStem + ".yaml", Content: []byte("recipe: [not yaml\n"), MergedAt: at},
		{Path: gitrepo.PerSourcePath("good-recipe", hostileIssuer, hostileID, digest), Content: goodPointer, MergedAt: at.Add(time.Hour)},
	}}); err != nil {
		t.Fatal(err)
	}
	return dir, goodPointer
}

// TestUntrustedTextIsEscaped feeds ESC, CR, tab, U+202E and U+2066 through
// a pointer path, a recipe and a detail into every human output of the
// built binary — list, run, verify, report in all four formats, and the
// file sink's names and files — and asserts that none reaches it raw and
// that the escaped form does (SPEC §4). JSON outputs stay exact and are not
// checked here.
func TestUntrustedTextIsEscaped(t *testing.T) {
	repo, goodPointer := hostileRepo(t)
	state := t.TempDir()
	issuesDir := filepath.Join(state, "issues")
	ledgerPath := filepath.Join(state, "ledger.db")
	env := []string{
		"EVIDENCE_AUDITD_TRUST_TRUSTED_ROOT=" + offlineTrustedRoot(t),
		"EVIDENCE_AUDITD_LEDGER_PATH=" + ledgerPath,
		"EVIDENCE_AUDITD_DATA_DIR=" + state,
		"EVIDENCE_AUDITD_ISSUES_DIR=" + issuesDir,
		"EVIDENCE_AUDITD_POLICY_FAIL_UNLISTED=true", // the detail then quotes the identity
	}

	list := run(t, env, "list", "--repo", repo)
	if list.code != 0 {
		t.Fatalf("list: exit %d\n%s", list.code, list.stderr)
	}
	assertEscaped(t, "list", list.stdout+list.stderr, hostileEscaped)

	audit := run(t, env, "run", "--repo", repo)
	if audit.code != 3 {
		t.Fatalf("run: exit %d, want 3\n%s\n%s", audit.code, audit.stdout, audit.stderr)
	}
	assertEscaped(t, "run", audit.stdout+audit.stderr, "recipes/evidence/"+hostileEscaped+".yaml", hostileIDEsc)

	for _, f := range []string{"markdown", "html", "csv"} {
		r := run(t, env, "report", "--ledger", ledgerPath, "--format", f)
		if r.code != 0 {
			t.Fatalf("report --format %s: exit %d\n%s", f, r.code, r.stderr)
		}
		assertEscaped(t, "report --format "+f, r.stdout+r.stderr, hostileEscaped, `\u202eevil\u2066.yaml`)
	}
	if r := run(t, env, "report", "--ledger", ledgerPath, "--format", "json"); r.code != 0 || !strings.Contains(r.stdout, "\u202eevil\u2066") {
		t.Errorf("report --format json: exit %d; JSON must keep the identity exact (JSON-escaped, not rewritten)", r.code)
	}

	entries, err := os.ReadDir(issuesDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		data, err := os.ReadFile(filepath.Join(issuesDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(e.Name(), "recert-_invalid-recipe-") {
			assertEscaped(t, "issue file "+e.Name(), string(data), "# Re-certify recipe "+hostileEscaped)
		} else {
			assertEscaped(t, "issue file "+e.Name(), string(data))
		}
	}
	assertEscaped(t, "issue file names", strings.Join(names, "\n"))
	if len(names) != 2 || !strings.HasPrefix(names[0], "recert-_invalid-recipe-") || names[1] != "recert-good-recipe.md" {
		t.Errorf("issue files %q, want a hashed name for the hostile recipe and recert-good-recipe.md", names)
	}

	// verify, on a file whose own name is hostile.
	file := filepath.Join(t.TempDir(), hostileStem+".yaml")
	if err := os.WriteFile(file, goodPointer, 0o644); err != nil {
		t.Fatal(err)
	}
	v := run(t, env, "verify", file)
	if v.code != 3 {
		t.Fatalf("verify: exit %d, want 3\n%s\n%s", v.code, v.stdout, v.stderr)
	}
	assertEscaped(t, "verify", v.stdout+v.stderr, hostileEscaped+".yaml", hostileIDEsc)
}

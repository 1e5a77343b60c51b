package evidence_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

func TestParseMaintainers(t *testing.T) {
	got, err := evidence.ParseMaintainers(fixture(t, "overlays/h100-aks-ubuntu-inference-dynamo.yaml"))
	if err != nil {
		t.Fatalf("ParseMaintainers: %v", err)
	}
	want := []evidence.Maintainer{
		{Handle: "alice", Org: "acme", Escalation: "gpu-recipes@acme.example"},
		{Handle: "acme/gpu-recipes"},
		{Handle: "bob-smith"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i, team := range []bool{false, true, false} {
		if got[i].IsTeam() != team {
			t.Errorf("%s.IsTeam(): got %v, want %v", got[i].Handle, got[i].IsTeam(), team)
		}
	}
}

func TestParseMaintainersAbsent(t *testing.T) {
	tests := []struct{ name, in string }{
		{"fixture without block", string(fixture(t, "overlays/no-maintainers.yaml"))},
		{"empty", ""},
		{"no spec", "kind: RecipeOverlay\n"},
		{"null spec", "spec:\n"},
		{"null maintainers", "spec:\n  maintainers:\n"},
		{"aliased sibling ignored", "x: &a 1\ny: *a\nspec:\n  base: *a\n"},
	}
	for _, tt := range tests {
		got, err := evidence.ParseMaintainers([]byte(tt.in))
		if err != nil || got != nil {
			t.Errorf("%s: got %v, %v, want nil, nil", tt.name, got, err)
		}
	}
	got, err := evidence.ParseMaintainers([]byte("spec:\n  maintainers: []\n"))
	if err != nil || len(got) != 0 {
		t.Errorf("empty list: got %v, %v, want empty", got, err)
	}
}

func TestParseMaintainersRejects(t *testing.T) {
	tests := []struct{ name, in, field string }{
		{"missing handle", "spec:\n  maintainers:\n    - org: acme\n", "spec.maintainers[0].handle"},
		{"handle with space", "spec:\n  maintainers:\n    - handle: al ice\n", "spec.maintainers[0].handle"},
		{"handle leading hyphen", "spec:\n  maintainers:\n    - handle: -alice\n", "spec.maintainers[0].handle"},
		{"handle double hyphen", "spec:\n  maintainers:\n    - handle: al--ice\n", "spec.maintainers[0].handle"},
		{"handle too long", "spec:\n  maintainers:\n    - handle: " + strings.Repeat("a", 40) + "\n", "spec.maintainers[0].handle"},
		{"handle e-mail", "spec:\n  maintainers:\n    - handle: alice@example.com\n", "spec.maintainers[0].handle"},
		{"team too deep", "spec:\n  maintainers:\n    - handle: a/b/c\n", "spec.maintainers[0].handle"},
		{"team empty", "spec:\n  maintainers:\n    - handle: acme/\n", "spec.maintainers[0].handle"},
		{"misspelled key", "spec:\n  maintainers:\n    - handle: alice\n      escalaton: x@y.z\n", "spec.maintainers[0].escalaton"},
		{"entry is a string", "spec:\n  maintainers:\n    - alice\n", "spec.maintainers[0]"},
		{"maintainers is a mapping", "spec:\n  maintainers:\n    handle: alice\n", "spec.maintainers"},
		{"spec is a list", "spec: [1]\n", "spec"},
		{"escalation with newline", "spec:\n  maintainers:\n    - handle: alice\n      escalation: \"a\\nb\"\n", "spec.maintainers[0].escalation"},
		{"alias entry", "x: &m {handle: alice}\nspec:\n  maintainers:\n    - *m\n", "spec.maintainers[0]"},
		{"top level list", "- a\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := evidence.ParseMaintainers([]byte(tt.in))
			if err == nil {
				t.Fatalf("got %+v, want an error", got)
			}
			if tt.field != "" {
				checkSchemaErr(t, err, tt.field)
			}
		})
	}
	_, err := evidence.ParseMaintainers(make([]byte, evidence.MaxOverlaySize+1))
	if !errors.Is(err, evidence.ErrTooLarge) {
		t.Errorf("got %v, want ErrTooLarge", err)
	}
}

func FuzzParseMaintainers(f *testing.F) {
	addSeeds(f, "overlays")
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := evidence.ParseMaintainers(data)
		if err != nil {
			return
		}
		for _, m := range ms {
			if !evidence.ValidHandle(m.Handle) || strings.HasPrefix(m.Handle, "@") {
				t.Fatalf("accepted handle %q", m.Handle)
			}
			if m.IsTeam() != strings.Contains(m.Handle, "/") {
				t.Fatalf("IsTeam(%q) = %v", m.Handle, m.IsTeam())
			}
		}
	})
}

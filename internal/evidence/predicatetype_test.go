package evidence_test

import (
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

func TestPredicateEra(t *testing.T) {
	tests := []struct {
		in      string
		want    evidence.Era
		known   bool
		profile bool
	}{
		{"https://aicr.run/recipe-evidence/v1", evidence.EraV1, true, false},
		{"https://aicr.run/recipe-evidence/v2", evidence.EraV2, true, true},
		{"https://aicr.run/recipe-evidence/v3", evidence.EraV3, true, false},
		{"https://aicr.nvidia.com/recipe-evidence/v1", evidence.EraLegacy, true, false},
		{"https://aicr.run/recipe-evidence/v4", evidence.EraUnknown, false, false},
		{"https://aicr.run/recipe-evidence/v1/", evidence.EraUnknown, false, false},
		{"HTTPS://aicr.run/recipe-evidence/v1", evidence.EraUnknown, false, false},
		{"", evidence.EraUnknown, false, false},
	}
	for _, tt := range tests {
		got, known := evidence.PredicateEra(tt.in)
		if got != tt.want || known != tt.known {
			t.Errorf("PredicateEra(%q): got %v, %v, want %v, %v", tt.in, got, known, tt.want, tt.known)
		}
		if got.RequiresProfile() != tt.profile {
			t.Errorf("%v.RequiresProfile(): got %v, want %v", got, got.RequiresProfile(), tt.profile)
		}
	}
	if got, want := evidence.EraLegacy.String(), "legacy"; got != want {
		t.Errorf("String: got %q, want %q", got, want)
	}
}

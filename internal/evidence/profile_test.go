package evidence_test

import (
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

func TestBaseRecipe(t *testing.T) {
	tests := []struct{ recipe, profile, want string }{
		{"gb200-gke-cos-inference-gpustack-bundle-installer", "gpuStack=bundle-installer", "gb200-gke-cos-inference"},
		{"gb200-gke-cos-inference", "", "gb200-gke-cos-inference"},
		{"gb200-gke-cos-inference", "gpuStack=bundle-installer", "gb200-gke-cos-inference"},                                    // incoherent: unchanged
		{"gb200-gke-cos-inference-gpustack-bundle-installer", "gpuStack", "gb200-gke-cos-inference-gpustack-bundle-installer"}, // malformed
		{"gpustack-bundle-installer", "gpuStack=bundle-installer", "gpustack-bundle-installer"},                                // nothing left
		{"a-gpustack-operator", "GPUStack=Operator", "a"},
	}
	for _, tt := range tests {
		if got := evidence.BaseRecipe(tt.recipe, tt.profile); got != tt.want {
			t.Errorf("BaseRecipe(%q, %q): got %q, want %q", tt.recipe, tt.profile, got, tt.want)
		}
	}
}

func TestParseProfile(t *testing.T) {
	tests := []struct {
		in, name, value string
		ok              bool
	}{
		{"gpuStack=bundle-installer", "gpuStack", "bundle-installer", true},
		{"a=b", "a", "b", true},
		{"gpuStack", "", "", false},
		{"=x", "", "", false},
		{"x=", "", "", false},
		{"a=b=c", "", "", false},
		{"a b=c", "", "", false},
		{"a=-b", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		name, value, err := evidence.ParseProfile(tt.in)
		if (err == nil) != tt.ok || name != tt.name || value != tt.value {
			t.Errorf("ParseProfile(%q): got %q, %q, %v, want %q, %q, ok=%v", tt.in, name, value, err, tt.name, tt.value, tt.ok)
		}
	}
}

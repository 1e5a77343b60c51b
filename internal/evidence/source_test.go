package evidence_test

import (
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

func TestSourceSlug(t *testing.T) {
	tests := []struct{ file, want string }{
		{"per-source-v1.yaml", "5bf9e82f0e90a11528ac85f4bcb866c8"},
		{"per-source-v2-profile.yaml", "2e85f8702c6214cafcc0ed714d928720"},
	}
	for _, tt := range tests {
		p, err := evidence.ParsePointer(fixture(t, "pointers/"+tt.file))
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		s := p.Attestations[0].Signer
		if got := evidence.SourceSlug(s.Issuer, s.Identity); got != tt.want {
			t.Errorf("%s: got slug %s, want %s", tt.file, got, tt.want)
		}
	}
	// Issuer and identity are not interchangeable.
	if evidence.SourceSlug("a", "b") == evidence.SourceSlug("b", "a") {
		t.Error("slug collides across issuer/identity boundary")
	}
	if got := evidence.SourceSlug("", ""); !evidence.IsSourceSlug(got) {
		t.Errorf("got %q, want 32 lowercase hex", got)
	}
}

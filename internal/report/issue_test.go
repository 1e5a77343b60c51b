package report_test

import (
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/report"
)

func TestIssueLabel(t *testing.T) {
	tests := []struct {
		is   report.Issue
		want string
	}{
		{report.Issue{Number: 12, URL: "https://github.com/o/r/issues/12"}, "#12"},
		{report.Issue{URL: "/var/lib/evidence-auditd/issues/recert-h100-eks.md"}, "recert-h100-eks.md"},
		{report.Issue{}, "#0"},
	}
	for _, tt := range tests {
		if got := tt.is.Label(); got != tt.want {
			t.Errorf("%+v.Label() = %q, want %q", tt.is, got, tt.want)
		}
	}
}

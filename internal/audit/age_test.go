package audit_test

import (
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

func TestAgeAt(t *testing.T) {
	p := audit.DefaultPolicy()
	signed := time.Date(2024, 1, 31, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		asOf time.Time
		want audit.Age
	}{
		{signed, audit.AgeFresh},
		{signed.AddDate(0, 23, 0).Add(-time.Second), audit.AgeFresh},
		{signed.AddDate(0, 23, 0), audit.AgeExpiring},
		{signed.AddDate(0, 24, 0).Add(-time.Second), audit.AgeExpiring},
		{signed.AddDate(0, 24, 0), audit.AgeExpired},
		{signed.AddDate(5, 0, 0), audit.AgeExpired},
	}
	for _, tt := range tests {
		if got := p.AgeAt(signed, tt.asOf); got != tt.want {
			t.Errorf("AgeAt(%s, %s) = %s, want %s", signed, tt.asOf, got, tt.want)
		}
	}
}

func TestMostTrusted(t *testing.T) {
	a, b, c, d := time.Unix(1, 0), time.Unix(2, 0), time.Unix(3, 0), time.Unix(4, 0)
	tests := []struct {
		ts   audit.Timestamps
		want audit.TimeSource
		at   time.Time
	}{
		{audit.Timestamps{Signed: a, Log: b, Pointer: c, Commit: d}, audit.TimeSigned, a},
		{audit.Timestamps{Log: b, Pointer: c, Commit: d}, audit.TimeLog, b},
		{audit.Timestamps{Pointer: c, Commit: d}, audit.TimePointer, c},
		{audit.Timestamps{Commit: d}, audit.TimeCommit, d},
	}
	for _, tt := range tests {
		at, src := tt.ts.MostTrusted()
		if src != tt.want || !at.Equal(tt.at) {
			t.Errorf("MostTrusted(%+v) = %s %s, want %s %s", tt.ts, at, src, tt.at, tt.want)
		}
	}
}

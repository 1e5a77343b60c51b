package ledger_test

import (
	"context"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

func TestIssueMap(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	if _, ok, err := db.IssueFor(ctx, "r1", "recert"); err != nil || ok {
		t.Fatalf("IssueFor before Put = ok %v, err %v", ok, err)
	}
	open := ledger.Issue{Recipe: "r1", Kind: "recert", Number: 12, URL: "https://example.test/12", State: "open", Fingerprint: "f1", UpdatedAt: t0}
	closed := open
	closed.State, closed.Fingerprint = "closed", "f2"
	for _, is := range []ledger.Issue{open, closed} {
		if err := db.PutIssue(ctx, is); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := db.IssueFor(ctx, "r1", "recert")
	if err != nil || !ok {
		t.Fatalf("IssueFor = ok %v, err %v", ok, err)
	}
	if got != closed {
		t.Errorf("IssueFor = %+v, want %+v", got, closed)
	}
	if _, ok, _ := db.IssueFor(ctx, "r1", "lost"); ok {
		t.Errorf("IssueFor(r1, lost) found an issue, want none")
	}
}

package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

func TestRuns(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)

	if _, err := db.LatestRun(ctx, false); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("LatestRun on empty ledger: err = %v, want ErrNotFound", err)
	}
	if _, err := db.BeginRun(ctx, ledger.RunMeta{Repo: "x"}); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("BeginRun without as-of: err = %v, want ErrInvalid", err)
	}

	r1 := beginRun(t, db)
	appendN(t, db, r1.ID, 0, 2)
	finishRun(t, db, r1.ID)
	r2 := beginRun(t, db) // killed: never finished
	r3 := beginRun(t, db)
	end := t0.Add(time.Hour)
	f3, err := db.FinishRun(ctx, r3.ID, false, end)
	if err != nil {
		t.Fatal(err)
	}
	if !f3.Finished || f3.Complete || !f3.FinishedAt.Equal(end) {
		t.Errorf("FinishRun(incomplete) = finished %v complete %v at %v, want true false %v", f3.Finished, f3.Complete, f3.FinishedAt, end)
	}
	if _, err := db.FinishRun(ctx, r3.ID, true, end); !errors.Is(err, ledger.ErrRunFinished) {
		t.Errorf("FinishRun twice: err = %v, want ErrRunFinished", err)
	}
	r4 := beginRun(t, db)
	finishRun(t, db, r4.ID)

	tests := []struct {
		name string
		get  func() (ledger.Run, error)
		want int64
	}{
		{"latest", func() (ledger.Run, error) { return db.LatestRun(ctx, false) }, r4.ID},
		{"latest complete", func() (ledger.Run, error) { return db.LatestRun(ctx, true) }, r4.ID},
		{"previous complete", func() (ledger.Run, error) { return db.PreviousCompleteRun(ctx, r4.ID) }, r1.ID},
		{"incomplete", func() (ledger.Run, error) { return db.IncompleteRun(ctx) }, r2.ID},
		{"by id", func() (ledger.Run, error) { return db.Run(ctx, r2.ID) }, r2.ID},
	}
	for _, tt := range tests {
		got, err := tt.get()
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got.ID != tt.want {
			t.Errorf("%s = run %d, want %d", tt.name, got.ID, tt.want)
		}
	}
	if _, err := db.PreviousCompleteRun(ctx, r1.ID); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("PreviousCompleteRun(first) err = %v, want ErrNotFound", err)
	}
	if _, err := db.Run(ctx, 99); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Run(99) err = %v, want ErrNotFound", err)
	}

	all, err := db.Runs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Fatalf("Runs = %d, want 4", len(all))
	}
	got := all[0]
	if got.Repo != "/srv/aicr" || got.Ref != "main" || got.Commit != "c0ffee" || !got.AsOf.Equal(t0) || !got.Deep ||
		got.VerifierVersion != "test" || got.StartedAt.IsZero() || !got.Complete || got.HeadSeq != 2 {
		t.Errorf("run 1 = %+v, want the metadata it began with, complete, head seq 2", got)
	}
}

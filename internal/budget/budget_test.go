package budget_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/budget"
)

func TestAcquireWaitsInLine(t *testing.T) {
	b := budget.New(100)
	ctx := context.Background()
	first, err := b.Acquire(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.TryAcquire(50); ok {
		t.Fatal("TryAcquire(50) succeeded with 40 bytes free")
	}
	got := make(chan *budget.Reservation)
	go func() {
		r, err := b.Acquire(ctx, 50)
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	for b.Stats().Waits == 0 {
		time.Sleep(time.Millisecond)
	}
	// One waits for 50: a smaller request may not overtake it.
	if _, ok := b.TryAcquire(10); ok {
		t.Error("TryAcquire(10) overtook a waiting Acquire(50)")
	}
	first.Release()
	second := <-got
	if s := second.Size(); s != 50 {
		t.Errorf("size %d, want 50", s)
	}
	st := b.Stats()
	if st.InUse != 50 || st.Peak != 60 || st.Waits != 1 {
		t.Errorf("stats %+v, want 50 in use, peak 60, 1 wait", st)
	}
	second.Release()
	second.Release() // twice is harmless
	if st := b.Stats(); st.InUse != 0 {
		t.Errorf("in use %d after release, want 0", st.InUse)
	}
}

// A request above the whole budget waits for all of it instead of failing
// or waiting forever.
func TestAcquireMoreThanTheBudget(t *testing.T) {
	b := budget.New(100)
	r, err := b.Acquire(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if r.Size() != 100 || b.Stats().Clamped != 1 {
		t.Errorf("size %d, stats %+v: want the whole budget, clamped once", r.Size(), b.Stats())
	}
	if r.TryGrow(1) {
		t.Error("grew past the whole budget")
	}
	r.Release()
}

func TestAcquireCanceled(t *testing.T) {
	b := budget.New(10)
	hold, _ := b.Acquire(context.Background(), 10)
	defer hold.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := b.Acquire(ctx, 5); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want the context's", err)
	}
	if st := b.Stats(); st.InUse != 10 {
		t.Errorf("in use %d, want 10: a failed Acquire reserves nothing", st.InUse)
	}
}

// TryGrow never waits: it grows when the bytes are free, else leaves the
// reservation as it was.
func TestTryGrow(t *testing.T) {
	b := budget.New(100)
	r, _ := b.Acquire(context.Background(), 0)
	if !r.TryGrow(70) || r.Size() != 70 {
		t.Fatalf("TryGrow(70) from empty: size %d", r.Size())
	}
	other, _ := b.TryAcquire(20)
	if r.TryGrow(20) {
		t.Error("TryGrow(20) succeeded with 10 bytes free")
	}
	if r.Size() != 70 {
		t.Errorf("size %d after a failed grow, want 70", r.Size())
	}
	other.Release()
	if !r.TryGrow(30) || r.Size() != 100 {
		t.Errorf("TryGrow(30) with 30 free: size %d", r.Size())
	}
	r.Release()

	// An empty reservation asking for more than the budget gets all of it.
	empty, _ := b.Acquire(context.Background(), 0)
	if !empty.TryGrow(500) || empty.Size() != 100 {
		t.Errorf("TryGrow(500) from empty: size %d, want the whole budget", empty.Size())
	}
	empty.Release()
}

func TestUnlimited(t *testing.T) {
	var b *budget.Budget = budget.New(0)
	r, err := b.Acquire(context.Background(), 1<<40)
	if err != nil || !r.TryGrow(1<<40) {
		t.Fatalf("unlimited budget refused: %v", err)
	}
	r.Release()
	var nilRes *budget.Reservation
	nilRes.Release()
	if nilRes.Size() != 0 || (b.Stats() != budget.Stats{}) {
		t.Error("nil reservation or unlimited budget reports use")
	}
}

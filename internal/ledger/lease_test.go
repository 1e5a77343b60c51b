package ledger_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// manualClock is a clock the test moves by hand.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func openWithClock(tb testing.TB, path string, c *manualClock) *ledger.DB {
	tb.Helper()
	db, err := ledger.Open(context.Background(), path, ledger.WithClock(c.Now))
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestLeaseLifecycle(t *testing.T) {
	ctx := context.Background()
	c := &manualClock{now: t0}
	path := ledgerPath(t)
	a, b := openWithClock(t, path, c), openWithClock(t, path, c)
	const ttl = time.Minute

	if _, err := a.Lease(ctx, "audit"); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("Lease on empty ledger: got %v, want ErrNotFound", err)
	}
	la, err := a.AcquireLease(ctx, "audit", "A", ttl)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := la.ExpiresAt, t0.Add(ttl); !got.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", got, want)
	}
	cur, err := b.AcquireLease(ctx, "audit", "B", ttl)
	if !errors.Is(err, ledger.ErrLeaseHeld) {
		t.Fatalf("second acquire: got %v, want ErrLeaseHeld", err)
	}
	if cur.Holder != "A" {
		t.Errorf("held lease names holder %q, want A", cur.Holder)
	}
	if _, err := b.RenewLease(ctx, "audit", "B", ttl); !errors.Is(err, ledger.ErrLeaseLost) {
		t.Errorf("renew by non-holder: got %v, want ErrLeaseLost", err)
	}

	// Heartbeat keeps it: after 50s and a renewal, B still cannot take it at 100s.
	c.Add(50 * time.Second)
	if _, err := a.RenewLease(ctx, "audit", "A", ttl); err != nil {
		t.Fatal(err)
	}
	c.Add(50 * time.Second)
	if _, err := b.AcquireLease(ctx, "audit", "B", ttl); !errors.Is(err, ledger.ErrLeaseHeld) {
		t.Fatalf("acquire of a renewed lease: got %v, want ErrLeaseHeld", err)
	}
	// Re-acquiring one's own lease renews it and keeps the acquisition time.
	if l, err := a.AcquireLease(ctx, "audit", "A", ttl); err != nil || !l.AcquiredAt.Equal(t0) {
		t.Fatalf("re-acquire own lease = %+v, %v; want AcquiredAt %v", l, err, t0)
	}

	// Expired: B takes it, and A has lost it.
	c.Add(ttl)
	lb, err := b.AcquireLease(ctx, "audit", "B", ttl)
	if err != nil {
		t.Fatalf("acquire of an expired lease: %v", err)
	}
	if lb.Holder != "B" || !lb.AcquiredAt.Equal(c.Now()) {
		t.Errorf("taken lease = %+v", lb)
	}
	if _, err := a.RenewLease(ctx, "audit", "A", ttl); !errors.Is(err, ledger.ErrLeaseLost) {
		t.Errorf("renew after takeover: got %v, want ErrLeaseLost", err)
	}
	if err := a.ReleaseLease(ctx, "audit", "A"); !errors.Is(err, ledger.ErrLeaseLost) {
		t.Errorf("release after takeover: got %v, want ErrLeaseLost", err)
	}
	if err := b.ReleaseLease(ctx, "audit", "B"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Lease(ctx, "audit"); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("after release: got %v, want ErrNotFound", err)
	}
}

func TestTakeOverLeaseIsCompareAndSwap(t *testing.T) {
	ctx := context.Background()
	c := &manualClock{now: t0}
	db := openWithClock(t, ledgerPath(t), c)
	if _, err := db.AcquireLease(ctx, "audit", "dead", time.Hour); err != nil {
		t.Fatal(err)
	}
	// Two would-be successors race to take over the dead holder's lease:
	// exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for _, h := range []string{"B", "C"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := db.TakeOverLease(ctx, "audit", h, "dead", time.Hour)
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, ledger.ErrLeaseHeld):
				t.Errorf("TakeOverLease(%s): %v", h, err)
			}
		}()
	}
	wg.Wait()
	if got := wins.Load(); got != 1 {
		t.Errorf("%d takeovers succeeded, want 1", got)
	}
}

func TestLeaseInvalid(t *testing.T) {
	db := newDB(t)
	if _, err := db.AcquireLease(context.Background(), "audit", "", time.Minute); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("empty holder: got %v, want ErrInvalid", err)
	}
	if _, err := db.AcquireLease(context.Background(), "audit", "A", 0); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("zero ttl: got %v, want ErrInvalid", err)
	}
}

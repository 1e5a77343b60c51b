package budget

import (
	"context"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// Budget is a number of bytes shared by every worker of a run. A nil
// *Budget is unlimited: every reservation succeeds at once and holds
// nothing. Safe for concurrent use.
type Budget struct {
	total int64
	sem   *semaphore.Weighted

	inUse  atomic.Int64
	peak   atomic.Int64
	waits  atomic.Int64
	capped atomic.Int64
}

// New returns a budget of total bytes; total ≤ 0 returns nil, the
// unlimited budget.
func New(total int64) *Budget {
	if total <= 0 {
		return nil
	}
	return &Budget{total: total, sem: semaphore.NewWeighted(total)}
}

// Total is the budget's size in bytes; 0 for the unlimited budget.
func (b *Budget) Total() int64 {
	if b == nil {
		return 0
	}
	return b.total
}

// Acquire reserves n bytes, waiting in line (first come, first served)
// while they are spent. n above the total waits for the whole budget and
// reserves it: the caller then runs alone. n ≤ 0 reserves nothing. The
// error is ctx's when it ends first; nothing is then reserved.
//
// A caller must hold no other reservation while it waits here (see
// TryGrow), or two workers could each wait for what the other holds.
func (b *Budget) Acquire(ctx context.Context, n int64) (*Reservation, error) {
	if b == nil || n <= 0 {
		return &Reservation{b: b}, nil
	}
	n = b.clamp(n)
	if !b.sem.TryAcquire(n) {
		b.waits.Add(1)
		if err := b.sem.Acquire(ctx, n); err != nil {
			return nil, err
		}
	}
	b.took(n)
	return &Reservation{b: b, n: n}, nil
}

// TryAcquire reserves n bytes if they are free now and nobody waits
// before it; ok is false otherwise and nothing is reserved. n above the
// total is clamped as in Acquire.
func (b *Budget) TryAcquire(n int64) (r *Reservation, ok bool) {
	if b == nil || n <= 0 {
		return &Reservation{b: b}, true
	}
	n = b.clamp(n)
	if !b.sem.TryAcquire(n) {
		return nil, false
	}
	b.took(n)
	return &Reservation{b: b, n: n}, true
}

func (b *Budget) clamp(n int64) int64 {
	if n > b.total {
		b.capped.Add(1)
		return b.total
	}
	return n
}

func (b *Budget) took(n int64) {
	use := b.inUse.Add(n)
	for {
		p := b.peak.Load()
		if use <= p || b.peak.CompareAndSwap(p, use) {
			return
		}
	}
}

func (b *Budget) give(n int64) {
	b.inUse.Add(-n)
	b.sem.Release(n)
}

// Stats is a snapshot of a budget's use, for tests, benchmarks and logs.
type Stats struct {
	Total int64 // bytes; 0 when unlimited
	InUse int64 // bytes reserved now
	Peak  int64 // most bytes reserved at once
	// Waits counts the reservations that had to wait for budget.
	Waits int64
	// Clamped counts the requests larger than the whole budget.
	Clamped int64
}

// Stats returns the budget's counters; zero for the unlimited budget.
func (b *Budget) Stats() Stats {
	if b == nil {
		return Stats{}
	}
	return Stats{Total: b.total, InUse: b.inUse.Load(), Peak: b.peak.Load(), Waits: b.waits.Load(), Clamped: b.capped.Load()}
}

// Reservation is bytes held from a Budget until Release. The zero value
// (and nil) holds nothing and grows without limit, like a reservation from
// the unlimited budget. Safe for concurrent use.
type Reservation struct {
	b  *Budget
	mu sync.Mutex
	n  int64
}

// Size is the number of bytes held.
func (r *Reservation) Size() int64 {
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// TryGrow adds n bytes to the reservation if they are free now, without
// waiting; ok is false otherwise and the reservation is unchanged. Growth
// never waits: a holder that waited for more could wait forever on another
// holder waiting for it. A caller that cannot grow releases what it holds
// and then Acquires all it needs at once.
//
// The reservation never grows past the whole budget: a request that would
// is refused unless the reservation holds nothing yet, when it is clamped
// as in Acquire.
func (r *Reservation) TryGrow(n int64) bool {
	if n <= 0 || r == nil {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.b == nil {
		return true // from an unlimited budget
	}
	if r.n+n > r.b.total {
		if r.n > 0 {
			return false
		}
		n = r.b.total
	}
	if !r.b.sem.TryAcquire(n) {
		return false
	}
	r.b.took(n)
	r.n += n
	return true
}

// Release gives the reserved bytes back; it may be called more than once.
func (r *Reservation) Release() {
	if r == nil {
		return
	}
	r.mu.Lock()
	n := r.n
	r.n = 0
	r.mu.Unlock()
	if n > 0 && r.b != nil {
		r.b.give(n)
	}
}

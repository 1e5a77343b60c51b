package daemon_test

import (
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/daemon"
)

// fakeClock is a manual clock: timers fire only when the test moves time.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[*fakeTimer]bool
}

type fakeTimer struct {
	c  *fakeClock
	at time.Time
	ch chan time.Time
}

func newFakeClock(t time.Time) *fakeClock {
	return &fakeClock{now: t, timers: map[*fakeTimer]bool{}}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) daemon.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
		return t
	}
	c.timers[t] = true
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	pending := t.c.timers[t]
	delete(t.c.timers, t)
	return pending
}

// Set moves the clock to at and fires every timer due by then.
func (c *fakeClock) Set(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = at
	for t := range c.timers {
		if !t.at.After(at) {
			delete(c.timers, t)
			t.ch <- at
		}
	}
}

// Advance moves the clock by d.
func (c *fakeClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// deadlines lists the pending timers' deadlines, earliest first.
func (c *fakeClock) deadlines() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Time
	for t := range c.timers {
		out = append(out, t.at)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// waitTimers waits (in real time, for goroutines to reach their timers —
// not for the clock) until n timers are pending, and returns their
// deadlines.
func (c *fakeClock) waitTimers(tb testing.TB, n int) []time.Time {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ds := c.deadlines(); len(ds) >= n {
			return ds
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %d pending timers (have %d)", n, len(c.deadlines()))
		}
		time.Sleep(time.Millisecond)
	}
}

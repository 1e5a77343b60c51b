package gcfloor

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		name        string
		live, floor int64
		base, want  int
	}{
		{"small heap grows to the floor", 8 * mib, 40 * mib, 100, 400},
		{"heap at half the floor keeps the base pace", 20 * mib, 40 * mib, 100, 100},
		{"large heap keeps the base pace", 100 * mib, 40 * mib, 100, 100},
		{"a higher base is kept", 10 * mib, 40 * mib, 300, 300},
		{"just under half the floor", 19 * mib, 40 * mib, 100, 110},
		{"nearly empty heap is capped", 1024, 40 * mib, 100, maxPercent},
		{"nothing measured yet", 0, 40 * mib, 100, maxPercent},
	} {
		if got := Percent(c.live, c.floor, c.base); got != c.want {
			t.Errorf("%s: Percent(%d, %d, %d) = %d, want %d", c.name, c.live, c.floor, c.base, got, c.want)
		}
	}
}

// TestKeepRaisesThePaceOfASmallHeap: after a collection, a heap far below
// the floor gets a pace above the default, read back from the runtime.
func TestKeepRaisesThePaceOfASmallHeap(t *testing.T) {
	Keep(1 << 30)
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC() // finalizers, and so the pacer, run after a collection
		metrics.Read(s)
		if got := s[0].Value.Uint64(); got > 100 {
			if got > maxPercent {
				t.Fatalf("pace %d%% above the cap %d%%", got, maxPercent)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pace still %d%% after collections with a 1 GiB floor", s[0].Value.Uint64())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Package gcfloor keeps the Go collector from collecting a small heap over
// and over: below a floor, the heap may grow to the floor before the next
// collection; above it, the collector keeps its usual pace (GOGC).
//
// A short audit's live heap is a few MiB, and the runtime's default of
// collecting whenever the heap has doubled (from a 4 MiB minimum) made a
// deep run of 200 pointers spend about a tenth of its CPU collecting. A
// higher GOGC for the whole run would fix that but let a large run's heap
// grow to three times what is live, past the memory target. The floor
// changes nothing for a heap live above half of it.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// maxPercent bounds the pace set for a nearly empty heap.
const maxPercent = 1000

// Keep sets the collector's pace after every collection so that the next
// one starts when the heap reaches max(floor, live heap × (1 + base/100)),
// where base is the pace in force when Keep is called (GOGC, 100 by
// default). The process's memory limit (debug.SetMemoryLimit) still
// applies. Keep is for a process's main function: it runs for the life of
// the process, and only its first call takes effect.
func Keep(floor int64) {
	once.Do(func() {
		base := debug.SetGCPercent(100)
		debug.SetGCPercent(base)
		if base < 0 || floor <= 0 {
			return // collection off, or no floor: nothing to keep
		}
		p := &pacer{floor: floor, base: base, current: base}
		p.sample = []metrics.Sample{{Name: liveHeap}}
		p.adjust()
		p.arm()
	})
}

var once sync.Once

// liveHeap is the heap that survived the last collection.
const liveHeap = "/gc/heap/live:bytes"

type pacer struct {
	floor   int64
	base    int
	current int
	sample  []metrics.Sample
}

// arm asks to be called after the next collection: a finalizer runs once
// the object it is set on has been found unreachable, which takes a
// collection.
func (p *pacer) arm() {
	runtime.SetFinalizer(&sentinel{p: p}, func(s *sentinel) {
		s.p.adjust()
		s.p.arm()
	})
}

type sentinel struct{ p *pacer }

// adjust sets the pace for the next collection from the live heap now.
func (p *pacer) adjust() {
	metrics.Read(p.sample)
	var live int64
	if p.sample[0].Value.Kind() == metrics.KindUint64 {
		live = int64(p.sample[0].Value.Uint64())
	}
	want := Percent(live, p.floor, p.base)
	if want != p.current {
		debug.SetGCPercent(want)
		p.current = want
	}
}

// Percent is the pace that starts the next collection at
// max(floor, live × (1 + base/100)), never below base nor above
// maxPercent.
func Percent(live, floor int64, base int) int {
	if live <= 0 {
		return maxPercent
	}
	if live*int64(100+base)/100 >= floor {
		return base
	}
	want := floor*100/live - 100
	if want > maxPercent {
		return maxPercent
	}
	return int(want)
}

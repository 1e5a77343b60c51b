package audit

import (
	"context"
	"fmt"
	"time"
)

// maxBatch bounds one group commit.
const maxBatch = 256

// batchWindow is how long a group commit waits for more results after its
// first one. Each commit costs an fsync of the ledger and one of its
// progress mark (the anchor of an unfinished run); waiting a few
// milliseconds turns a deep run's trickle of results into a handful of
// commits a second, and a kill loses at most this much more work, audited
// again on resume.
const batchWindow = 15 * time.Millisecond

// recorder writes results to the ledger as they are decided, with group
// commit: whatever results are waiting when the previous transaction ends go
// into the next one. A result is durable a transaction after it is decided
// (each transaction is one fsync), so a killed run loses at most the
// results of one transaction — they are audited again on resume, never
// duplicated — while a fast-path run is not limited to one fsync per pointer.
type recorder struct {
	ledger Ledger
	opts   Options
	total  int

	ctx    context.Context // canceled when the ledger fails
	cancel context.CancelCauseFunc
	in     chan recorded
	out    chan error

	// Owned by loop until out is read.
	results  []Result
	done     int
	archived int // bundles recorded as archived
}

func newRecorder(parent context.Context, l Ledger, opts Options, total int) *recorder {
	ctx, cancel := context.WithCancelCause(parent)
	return &recorder{
		ledger: l, opts: opts, total: total,
		ctx: ctx, cancel: cancel,
		in:  make(chan recorded, 2*maxBatch),
		out: make(chan error, 1),
	}
}

// recorded is one decided result and, for a healthy bundle, what to cache
// and what the archive wrote for it.
type recorded struct {
	res      Result
	bundle   *CachedBundle
	archived *ArchivedBundle
}

// submit hands one decided result to the writer.
func (rc *recorder) submit(r recorded) { rc.in <- r }

// wait closes the input, waits for the writer and returns every result
// recorded, or the ledger's error.
func (rc *recorder) wait() ([]Result, error) {
	close(rc.in)
	err := <-rc.out
	rc.cancel(nil)
	return rc.results, err
}

func (rc *recorder) loop() {
	var failed error
	for res := range rc.in {
		if failed != nil {
			continue // drain, so that workers never block
		}
		batch := rc.gather(res)
		if err := rc.write(batch); err != nil {
			failed = err
			rc.cancel(err)
			continue
		}
		for _, it := range batch {
			rc.results = append(rc.results, summarized(it.res))
			if it.archived != nil {
				rc.archived++
			}
		}
		rc.done += len(batch)
		if rc.opts.Progress != nil {
			rc.opts.Progress(rc.done, rc.total)
		}
	}
	rc.out <- failed
}

// gather collects the group commit that starts with first: what arrives
// within batchWindow, up to maxBatch.
func (rc *recorder) gather(first recorded) []recorded {
	batch := []recorded{first}
	window := time.NewTimer(batchWindow)
	defer window.Stop()
	for len(batch) < maxBatch {
		select {
		case more, ok := <-rc.in:
			if !ok {
				return batch
			}
			batch = append(batch, more)
		case <-window.C:
			return batch
		}
	}
	return batch
}

// write records a batch even while the run is being canceled: a decided
// result must not be lost (SPEC §6), and canceled ones are how the run
// says it stopped.
//
// Bundles are cached, archive copies recorded and results chained in one
// transaction: never a recorded healthy result whose bundle was not kept.
// An archive copy is recorded only after the Archive wrote and checked it
// (SPEC §9: write, verify, then record).
func (rc *recorder) write(batch []recorded) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(rc.ctx), 30*time.Second)
	defer cancel()
	b := Batch{Results: make([]Result, len(batch))}
	for i, it := range batch {
		b.Results[i] = it.res
		if it.bundle != nil {
			b.Bundles = append(b.Bundles, *it.bundle)
		}
		if it.archived != nil {
			b.Archived = append(b.Archived, *it.archived)
		}
	}
	if err := rc.ledger.RecordBatch(wctx, rc.opts.RunID, b); err != nil {
		return fmt.Errorf("record %d results (first %s): %w", len(b.Results), b.Results[0].Key, err)
	}
	return nil
}

// summarized is what a run's Summary keeps of a recorded result: all but
// its checks and phase counts, which the ledger holds for the reports. At
// 10 000 pointers they were four fifths of the run's live heap (their
// details alone tens of MiB), and nothing after the run reads them.
func summarized(r Result) Result {
	r.Checks, r.Phases = nil, nil
	return r
}

package ledger_test

import (
	"context"
	"sync"
	"testing"
)

// TestConcurrentWriters appends from several goroutines through two
// handles on the same file (as two processes would): no write may fail with
// a busy error and the chain must come out whole.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	path := ledgerPath(t)
	a, b := openAt(t, path), openAt(t, path)
	run := beginRun(t, a)

	const workers, each = 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		db := a
		if w%2 == 1 {
			db = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * each; i < (w+1)*each; i++ {
				if _, err := db.AppendResult(ctx, run.ID, result(i)); err != nil {
					errs <- err
					return
				}
				if _, err := db.Verify(ctx); err != nil { // readers alongside writers
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent append: %v", err)
	}
	rep, err := b.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Rows != workers*each {
		t.Errorf("Verify = OK %v, %d rows (first bad %+v); want OK, %d rows", rep.OK, rep.Rows, rep.FirstBad, workers*each)
	}
}

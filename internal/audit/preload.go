package audit

import "context"

// Preload is the fast path's references — a run's largest read of the
// ledger before its first pointer — read in the background from when
// StartPreload is called, so that a caller can overlap it with its own
// preparation (the job walks the history meanwhile). Run waits for it;
// without one, Run reads the references itself.
type Preload struct {
	deep bool
	done chan struct{}
	last map[VersionKey]LastVerification
	err  error
}

// StartPreload starts reading from l what a run needs before its first
// pointer: the fast path's references, unless the run is deep (it has no
// fast path). The read is one transaction beside whatever the caller
// writes meanwhile; the caller must hold the audit lock, so that no other
// run records results before Run starts.
func StartPreload(ctx context.Context, l Ledger, deep bool) *Preload {
	p := &Preload{deep: deep, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		if !deep {
			p.last, p.err = l.LastVerifications(ctx)
		}
	}()
	return p
}

// Wait returns the references once read. Run calls it; a caller that
// gives up before Run calls it too, so that the read ends before the
// ledger is closed.
func (p *Preload) Wait(ctx context.Context) (map[VersionKey]LastVerification, error) {
	select {
	case <-p.done:
		return p.last, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

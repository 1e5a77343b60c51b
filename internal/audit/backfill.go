package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"
)

// Backfilled is what Backfill did with one pointer version.
type Backfilled struct {
	Key    VersionKey
	Digest string
	// Archived is the copy made; nil when none was.
	Archived *ArchivedBundle
	// Result is the full verification the copy followed (the copy is
	// made only when it is verified or verified-with-failures); its
	// archive check says why no copy was made when Archived is nil.
	Result Result
}

// Backfill archives the bundles of versions that the Runner's Archive does
// not hold yet (SPEC §9 `archive backfill`, for ledgers older than the
// archive, or bundles last verified on the fast path): each is fetched from
// its origin and fully verified first, exactly as a deep audit does, and
// copied only when healthy; each copy is recorded in the ledger as soon as
// it is written. Versions whose bundle is archived already, or named twice,
// are skipped. Results are not recorded: a backfill is not an audit run.
// progress, when set, is called after each version. An error means the
// ledger failed; everything about one bundle is in its Backfilled.
func (r *Runner) Backfill(ctx context.Context, versions []PointerVersion, opts Options, progress func(done, total int)) ([]Backfilled, error) {
	if r.Archive == nil || r.Ledger == nil || r.Source == nil || r.Verifier == nil {
		return nil, errors.New("audit: backfill needs a source, a verifier, a ledger and an archive")
	}
	opts.Deep = true
	if opts.AsOf.IsZero() {
		opts.AsOf = r.now()
	}
	if opts.Concurrency < 1 {
		opts.Concurrency = 1
	}
	if err := r.loadArchived(ctx, &opts); err != nil {
		return nil, err
	}
	out := make([]Backfilled, len(versions))
	var mu sync.Mutex
	done := 0
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Concurrency)
	for i, v := range versions {
		g.Go(func() error {
			rec := r.auditOne(gctx, v, opts)
			out[i] = Backfilled{Key: v.Key, Digest: rec.res.BundleDigest, Archived: rec.archived, Result: rec.res}
			if rec.archived != nil {
				if err := r.Ledger.RecordArchived(context.WithoutCancel(gctx), []ArchivedBundle{*rec.archived}); err != nil {
					return fmt.Errorf("record the copy of %s: %w", rec.archived.Digest, err)
				}
			}
			mu.Lock()
			done++
			if progress != nil {
				progress(done, len(versions))
			}
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

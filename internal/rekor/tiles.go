package rekor

import (
	"context"
	"errors"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

func (p *prover) fromCacheTiles(ctx context.Context, cb audit.CachedBundle, off audit.Verification, tle *tlogEntryRef, want bodyFacts) audit.Verification {
	return p.noVerdict(errors.New("rekor v2 entries are not supported yet"))
}

func (l *Log) tileConsistencyProof(ctx context.Context, to seenCheckpoint, first int64) ([][]byte, error) {
	return nil, errors.New("not yet")
}

package ledger

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// This file is what the Rekor fallback (internal/rekor) needs from the
// ledger: the cached bundle of a digest in the audit's own shape, and every
// checkpoint recorded for a log. rekor declares the port (rekor.Store) and
// asserts that *DB satisfies it; ledger must not import rekor.

// CachedBundle returns the Sigstore bundle and statement cached for digest
// (SPEC §6) with its latest verification, as audit.CachedBundle; ok is
// false when the digest was never verified.
func (d *DB) CachedBundle(ctx context.Context, digest string) (audit.CachedBundle, bool, error) {
	rec, ok, err := d.Bundle(ctx, digest)
	if err != nil || !ok {
		return audit.CachedBundle{}, false, err
	}
	return audit.CachedBundle{
		Digest:          rec.Digest,
		BundleJSON:      rec.SigstoreBundle,
		StatementJSON:   rec.Statement,
		TrustRoot:       rec.TrustRoot,
		VerifierVersion: rec.VerifierVersion,
		VerifiedAt:      rec.VerifiedAt,
		LogIndex:        rec.LogIndex,
		IntegratedTime:  rec.IntegratedTime,
		LayerDigest:     rec.LayerDigest,
		ReferrerDigest:  rec.ReferrerDigest,
	}, true, nil
}

// Checkpoints returns every checkpoint recorded for logID, largest tree
// first (the first seen first among equal sizes). Two rows of one size with
// different roots are evidence of a fork.
func (d *DB) Checkpoints(ctx context.Context, logID string) ([]Checkpoint, error) {
	var out []Checkpoint
	err := d.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT log_id, tree_size, root_hash, raw, seen_at, run_id FROM checkpoints
			WHERE log_id = ? ORDER BY tree_size DESC, id ASC`, logID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c Checkpoint
			var seen string
			var run sql.NullInt64
			if err := rows.Scan(&c.LogID, &c.TreeSize, &c.RootHash, &c.Raw, &seen, &run); err != nil {
				return err
			}
			c.RunID = run.Int64
			if c.SeenAt, err = parseTime(seen); err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoints %s: %w", logID, err)
	}
	return out, nil
}

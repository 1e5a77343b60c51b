package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// RecordArchived implements audit.Ledger: it records bundles an archive
// store has written and checked (SPEC §9), all or none. A bundle already
// recorded for its store keeps its first record.
func (d *DB) RecordArchived(ctx context.Context, bs []audit.ArchivedBundle) error {
	err := d.write(ctx, func(tx *sql.Tx) error { return d.recordArchivedTx(ctx, tx, bs) })
	if err != nil {
		return fmt.Errorf("record archived bundles: %w", err)
	}
	return nil
}

func (d *DB) recordArchivedTx(ctx context.Context, tx *sql.Tx, bs []audit.ArchivedBundle) error {
	stmts := newTxStmts(tx)
	defer stmts.Close()
	for _, b := range bs {
		if !strings.HasPrefix(b.Digest, "sha256:") || b.Store == "" {
			return fmt.Errorf("%s: %w: digest sha256:<hex> and store are required", b.Digest, ErrInvalid)
		}
		objs := b.Objects
		if objs == nil {
			objs = []audit.ObjectRef{}
		}
		oj, err := json.Marshal(objs)
		if err != nil {
			return err
		}
		at := b.At
		if at.IsZero() {
			at = d.now()
		}
		var run any
		if b.RunID != 0 {
			run = b.RunID
		}
		if _, err := stmts.ExecContext(ctx, `INSERT INTO archived_bundles
			(digest, store, signature_kind, referrer_digest, objects, bytes, archived_at, run_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (digest, store) DO NOTHING`,
			b.Digest, b.Store, string(b.Signature), b.ReferrerDigest, string(oj), b.Bytes, fmtTime(at), run); err != nil {
			return fmt.Errorf("%s: %w", b.Digest, err)
		}
	}
	return nil
}

// ArchivedBundles implements audit.Ledger: the bundles recorded as held by
// store, by summary digest. With store "", every store's records count and
// each digest maps to its earliest record (what a report shows).
func (d *DB) ArchivedBundles(ctx context.Context, store string) (map[string]audit.ArchivedBundle, error) {
	out := map[string]audit.ArchivedBundle{}
	q := `SELECT digest, store, signature_kind, referrer_digest, objects, bytes, archived_at, run_id
		FROM archived_bundles WHERE store = ? ORDER BY id`
	args := []any{store}
	if store == "" {
		q, args = `SELECT digest, store, signature_kind, referrer_digest, objects, bytes, archived_at, run_id
			FROM archived_bundles ORDER BY archived_at, id`, nil
	}
	err := d.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var b audit.ArchivedBundle
			var kind, objs, at string
			var run sql.NullInt64
			if err := rows.Scan(&b.Digest, &b.Store, &kind, &b.ReferrerDigest, &objs, &b.Bytes, &at, &run); err != nil {
				return err
			}
			if _, seen := out[b.Digest]; seen {
				continue
			}
			b.Signature, b.RunID = audit.SignatureKind(kind), run.Int64
			if b.At, err = parseTime(at); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(objs), &b.Objects); err != nil {
				return fmt.Errorf("%s: objects: %w", b.Digest, err)
			}
			out[b.Digest] = b
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("archived bundles: %w", err)
	}
	return out, nil
}

// ArchiveCoverage returns how many of a run's healthy bundles (distinct
// digests of its verified, verified-with-failures and archived results)
// were archived by the time the run finished — by now, for an unfinished
// run (SPEC §5, §9). Every report format and /metrics take it from here.
func (d *DB) ArchiveCoverage(ctx context.Context, runID int64) (audit.ArchiveCoverage, error) {
	var c audit.ArchiveCoverage
	err := d.read(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `WITH run AS (SELECT finished_at FROM runs WHERE id = ?),
			healthy AS (SELECT DISTINCT bundle_digest AS digest FROM results
				WHERE run_id = ? AND bundle_digest <> '' AND verdict IN (?, ?, ?))
			SELECT count(*), coalesce(sum(EXISTS (SELECT 1 FROM archived_bundles a, run
				WHERE a.digest = healthy.digest AND (run.finished_at = '' OR a.archived_at <= run.finished_at))), 0)
			FROM healthy`, runID, runID, string(audit.Verified), string(audit.VerifiedWithFailures), string(audit.Archived)).
			Scan(&c.Healthy, &c.Archived)
	})
	if err != nil {
		return audit.ArchiveCoverage{}, fmt.Errorf("archive coverage of run %d: %w", runID, err)
	}
	return c, nil
}

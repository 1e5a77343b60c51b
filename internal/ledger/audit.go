package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

var _ audit.Ledger = (*DB)(nil)

// LastVerifications implements audit.Ledger: for every pointer version, its
// newest deep result with the newest verification of that result's bundle
// digest. Versions whose bundle was never cached are left out. One query
// each for results and verifications, so the fast path costs no ledger
// round trip per pointer.
func (d *DB) LastVerifications(ctx context.Context) (map[audit.VersionKey]audit.LastVerification, error) {
	out := map[audit.VersionKey]audit.LastVerification{}
	err := d.read(ctx, func(tx *sql.Tx) error {
		type verification struct {
			trustRoot, version, layer, referrer, oci string
			at                                       time.Time
		}
		latest := map[string]verification{}
		rows, err := tx.QueryContext(ctx, `SELECT digest, trust_root, verifier_version, verified_at, layer_digest, referrer_digest, oci
			FROM bundle_verifications WHERE id IN (SELECT max(id) FROM bundle_verifications GROUP BY digest)`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var digest, at string
			var v verification
			if err := rows.Scan(&digest, &v.trustRoot, &v.version, &at, &v.layer, &v.referrer, &v.oci); err != nil {
				return err
			}
			if v.at, err = parseTime(at); err != nil {
				return err
			}
			latest[digest] = v
		}
		if err := rows.Err(); err != nil {
			return err
		}
		results, err := queryRowsTx(ctx, tx, `WHERE seq IN (SELECT max(seq) FROM results WHERE deep = 1 GROUP BY path, added_commit)`)
		if err != nil {
			return err
		}
		for _, row := range results {
			// The fast path writes its own checks and keeps only the
			// warnings of the verification it reuses; decoding every row's
			// checks is most of the cost, so only rows with a warning are.
			if !strings.Contains(row.Checks, `"status":"warn"`) {
				row.Checks = ""
			}
			r, err := row.result()
			if err != nil {
				return fmt.Errorf("seq %d: %w", row.Seq, err)
			}
			v, ok := latest[r.BundleDigest]
			if !ok {
				continue
			}
			out[r.Key] = audit.LastVerification{
				Result: r, TrustRoot: v.trustRoot, VerifierVersion: v.version, VerifiedAt: v.at,
				LayerDigest: v.layer, ReferrerDigest: v.referrer, OCI: v.oci,
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("last verifications: %w", err)
	}
	return out, nil
}

// CacheBundles implements audit.Ledger: PutBundle for each, in one
// transaction (one fsync for a batch of verified pointers).
func (d *DB) CacheBundles(ctx context.Context, bs []audit.CachedBundle) error {
	err := d.write(ctx, func(tx *sql.Tx) error { return d.cacheBundlesTx(ctx, tx, bs) })
	if err != nil {
		return fmt.Errorf("cache bundles: %w", err)
	}
	return nil
}

func (d *DB) cacheBundlesTx(ctx context.Context, tx *sql.Tx, bs []audit.CachedBundle) error {
	stmts := newTxStmts(tx)
	defer stmts.Close()
	for _, b := range bs {
		if err := d.putBundleTx(ctx, stmts, BundleRecord{
			Digest: b.Digest, SigstoreBundle: b.BundleJSON, Statement: b.StatementJSON,
			TrustRoot: b.TrustRoot, VerifierVersion: b.VerifierVersion, VerifiedAt: b.VerifiedAt,
			LogIndex: b.LogIndex, IntegratedTime: b.IntegratedTime,
			LayerDigest: b.LayerDigest, ReferrerDigest: b.ReferrerDigest, OCI: b.OCI,
		}); err != nil {
			return fmt.Errorf("%s: %w", b.Digest, err)
		}
	}
	return nil
}

type lostKey struct {
	Path        string `json:"path"`
	AddedCommit string `json:"addedCommit"`
}

// PutRecipeStatuses records a run's per-recipe statuses, replacing any
// recorded for that run before (a resumed run recomputes them).
func (d *DB) PutRecipeStatuses(ctx context.Context, runID int64, sts []audit.RecipeStatus) error {
	err := d.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM run_recipes WHERE run_id = ?`, runID); err != nil {
			return err
		}
		stmts := newTxStmts(tx)
		defer stmts.Close()
		for _, s := range sts {
			lost := make([]lostKey, 0, len(s.Lost))
			for _, k := range s.Lost {
				lost = append(lost, lostKey{k.Path, k.AddedCommit})
			}
			lj, err := json.Marshal(lost)
			if err != nil {
				return err
			}
			if _, err := stmts.ExecContext(ctx, `INSERT INTO run_recipes
				(run_id, recipe, needs_recert, reason, undetermined, freshest_path, freshest_commit,
				 freshest_attested_at, freshest_age, live_pointers, lost)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				runID, s.Recipe, boolInt(s.NeedsRecert), s.Reason, boolInt(s.Undetermined),
				s.Freshest.Path, s.Freshest.AddedCommit, fmtTime(s.FreshestAttestedAt), string(s.FreshestAge),
				s.LivePointers, string(lj)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put recipe statuses of run %d: %w", runID, err)
	}
	return nil
}

// RecipeStatuses returns a run's per-recipe statuses, by recipe name.
func (d *DB) RecipeStatuses(ctx context.Context, runID int64) ([]audit.RecipeStatus, error) {
	var out []audit.RecipeStatus
	err := d.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT recipe, needs_recert, reason, undetermined, freshest_path,
			freshest_commit, freshest_attested_at, freshest_age, live_pointers, lost
			FROM run_recipes WHERE run_id = ? ORDER BY recipe`, runID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s audit.RecipeStatus
			var needs, undet int
			var at, age, lost string
			if err := rows.Scan(&s.Recipe, &needs, &s.Reason, &undet, &s.Freshest.Path, &s.Freshest.AddedCommit,
				&at, &age, &s.LivePointers, &lost); err != nil {
				return err
			}
			s.NeedsRecert, s.Undetermined, s.FreshestAge = needs == 1, undet == 1, audit.Age(age)
			if s.FreshestAttestedAt, err = parseTime(at); err != nil {
				return err
			}
			var lk []lostKey
			if err := json.Unmarshal([]byte(lost), &lk); err != nil {
				return fmt.Errorf("recipe %s: lost: %w", s.Recipe, err)
			}
			for _, k := range lk {
				s.Lost = append(s.Lost, audit.VersionKey{Path: k.Path, AddedCommit: k.AddedCommit})
			}
			out = append(out, s)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("recipe statuses of run %d: %w", runID, err)
	}
	return out, nil
}

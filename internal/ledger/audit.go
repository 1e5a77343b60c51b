package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

var _ audit.Ledger = (*DB)(nil)

// LastVerification implements audit.Ledger: the newest deep result of key
// for the bundle digest, with the newest verification of those bytes.
func (d *DB) LastVerification(ctx context.Context, key audit.VersionKey, digest string) (audit.LastVerification, bool, error) {
	sr, ok, err := d.LastResultFor(ctx, key, true)
	if err != nil || !ok || sr.Result.BundleDigest != digest {
		return audit.LastVerification{}, false, err
	}
	lv, found := audit.LastVerification{Result: sr.Result}, false
	// Only the newest verification row: the fast path must not load the
	// cached bundle bytes for every pointer.
	err = d.read(ctx, func(tx *sql.Tx) error {
		var verified string
		e := tx.QueryRowContext(ctx, `SELECT trust_root, verifier_version, verified_at, layer_digest, referrer_digest
			FROM bundle_verifications WHERE digest = ? ORDER BY id DESC LIMIT 1`, digest).
			Scan(&lv.TrustRoot, &lv.VerifierVersion, &verified, &lv.LayerDigest, &lv.ReferrerDigest)
		if errors.Is(e, sql.ErrNoRows) {
			return nil
		}
		if e != nil {
			return e
		}
		found = true
		lv.VerifiedAt, e = parseTime(verified)
		return e
	})
	if err != nil || !found {
		return audit.LastVerification{}, false, err
	}
	return lv, true, nil
}

// CacheBundle implements audit.Ledger through PutBundle.
func (d *DB) CacheBundle(ctx context.Context, b audit.CachedBundle) error {
	return d.PutBundle(ctx, BundleRecord{
		Digest: b.Digest, SigstoreBundle: b.BundleJSON, Statement: b.StatementJSON,
		TrustRoot: b.TrustRoot, VerifierVersion: b.VerifierVersion, VerifiedAt: b.VerifiedAt,
		LogIndex: b.LogIndex, IntegratedTime: b.IntegratedTime,
		LayerDigest: b.LayerDigest, ReferrerDigest: b.ReferrerDigest,
	})
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
		for _, s := range sts {
			lost := make([]lostKey, 0, len(s.Lost))
			for _, k := range s.Lost {
				lost = append(lost, lostKey{k.Path, k.AddedCommit})
			}
			lj, err := json.Marshal(lost)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO run_recipes
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

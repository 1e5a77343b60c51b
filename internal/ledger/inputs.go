package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// RunInputs is what a run read besides the pointer files.
type RunInputs struct {
	EvidenceDir string
	Allowlist   []byte // recipes/evidence/allowlist.yaml at the walked head; nil if absent
	// Archive names the archive store the run copied verified bundles into
	// (audit.Archive.Name); "" when the archive was disabled.
	Archive string
}

// PutRunInputs records (or, for a resumed run, re-records) a run's inputs.
func (d *DB) PutRunInputs(ctx context.Context, runID int64, in RunInputs) error {
	al := in.Allowlist
	if al == nil {
		al = []byte{}
	}
	err := d.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO run_inputs (run_id, evidence_dir, allowlist, archive) VALUES (?, ?, ?, ?)
			ON CONFLICT (run_id) DO UPDATE SET evidence_dir = excluded.evidence_dir, allowlist = excluded.allowlist,
				archive = excluded.archive`,
			runID, in.EvidenceDir, al, in.Archive)
		return err
	})
	if err != nil {
		return fmt.Errorf("put inputs of run %d: %w", runID, err)
	}
	return nil
}

// RunInputs returns a run's inputs; ok is false when none were recorded.
func (d *DB) RunInputs(ctx context.Context, runID int64) (in RunInputs, ok bool, err error) {
	err = d.read(ctx, func(tx *sql.Tx) error {
		e := tx.QueryRowContext(ctx, `SELECT evidence_dir, allowlist, archive FROM run_inputs WHERE run_id = ?`, runID).
			Scan(&in.EvidenceDir, &in.Allowlist, &in.Archive)
		if errors.Is(e, sql.ErrNoRows) {
			return nil
		}
		if e != nil {
			return e
		}
		if len(in.Allowlist) == 0 {
			in.Allowlist = nil
		}
		ok = true
		return nil
	})
	if err != nil {
		return RunInputs{}, false, fmt.Errorf("inputs of run %d: %w", runID, err)
	}
	return in, ok, nil
}

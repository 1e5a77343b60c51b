package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// AnchorRecord is the anchor of a sealed run as the ledger keeps it
// (SPEC §10). internal/anchor makes, signs and checks it; the ledger only
// stores it, beside the copies in files.
type AnchorRecord struct {
	RunID int64
	// Note is the checkpoint as a C2SP signed note (unsigned: its body).
	Note string
	// Bundle is a Sigstore bundle over the note body, when the anchor was
	// signed keyless or logged; nil otherwise.
	Bundle []byte
	// LogURL and LogIndex name the transparency-log entry ("" and -1 when
	// the anchor was not logged).
	LogURL    string
	LogIndex  int64
	CreatedAt time.Time
}

// Signed reports whether the anchor carries a signature: a signature line
// in its note, or a Sigstore bundle. It does not check it (internal/anchor
// does).
func (a AnchorRecord) Signed() bool {
	return strings.Contains(a.Note, "\n\n\u2014 ") || len(a.Bundle) > 0
}

// PutAnchor records run's anchor. A run has one anchor: recording a second
// is an error (anchors, like seals, are never replaced).
func (d *DB) PutAnchor(ctx context.Context, a AnchorRecord) error {
	if a.RunID <= 0 || a.Note == "" {
		return fmt.Errorf("put anchor: %w: run id and note are required", ErrInvalid)
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = d.now()
	}
	b := a.Bundle
	if b == nil {
		b = []byte{}
	}
	err := d.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO anchors (run_id, note, bundle, log_url, log_index, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, a.RunID, a.Note, b, a.LogURL, a.LogIndex, fmtTime(a.CreatedAt))
		if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed") {
			return fmt.Errorf("%w: run %d is already anchored", ErrInvalid, a.RunID)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("put anchor of run %d: %w", a.RunID, err)
	}
	return nil
}

// Anchor returns run runID's anchor as recorded; ok is false when it has
// none.
func (d *DB) Anchor(ctx context.Context, runID int64) (a AnchorRecord, ok bool, err error) {
	err = d.read(ctx, func(tx *sql.Tx) error {
		rows, e := anchorsTx(ctx, tx, `WHERE run_id = ?`, runID)
		if e != nil || len(rows) == 0 {
			return e
		}
		a, ok = rows[0], true
		return nil
	})
	if err != nil {
		return AnchorRecord{}, false, fmt.Errorf("anchor of run %d: %w", runID, err)
	}
	return a, ok, nil
}

// Anchors returns every anchor recorded, by run id.
func (d *DB) Anchors(ctx context.Context) ([]AnchorRecord, error) {
	var out []AnchorRecord
	err := d.read(ctx, func(tx *sql.Tx) error {
		var e error
		out, e = anchorsTx(ctx, tx, ``)
		return e
	})
	if err != nil {
		return nil, fmt.Errorf("anchors: %w", err)
	}
	return out, nil
}

func anchorsTx(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]AnchorRecord, error) {
	rows, err := tx.QueryContext(ctx, `SELECT run_id, note, bundle, log_url, log_index, created_at FROM anchors `+where+` ORDER BY run_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AnchorRecord
	for rows.Next() {
		var a AnchorRecord
		var at string
		if err := rows.Scan(&a.RunID, &a.Note, &a.Bundle, &a.LogURL, &a.LogIndex, &at); err != nil {
			return nil, err
		}
		if len(a.Bundle) == 0 {
			a.Bundle = nil
		}
		if a.CreatedAt, err = parseTime(at); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

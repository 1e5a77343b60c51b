package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Issue is the ledger's record of the one issue per (recipe, kind) (SPEC §7).
type Issue struct {
	Recipe      string
	Kind        string // recert | lost
	Number      int
	URL         string
	State       string // open | closed
	Fingerprint string // of the last body sent, to skip no-op updates
	UpdatedAt   time.Time
}

// IssueFor returns the issue recorded for recipe and kind; ok is false when
// none is.
func (d *DB) IssueFor(ctx context.Context, recipe, kind string) (is Issue, ok bool, err error) {
	err = d.read(ctx, func(tx *sql.Tx) error {
		var updated string
		e := tx.QueryRowContext(ctx, `SELECT recipe, kind, number, url, state, fingerprint, updated_at
			FROM issues WHERE recipe = ? AND kind = ?`, recipe, kind).Scan(
			&is.Recipe, &is.Kind, &is.Number, &is.URL, &is.State, &is.Fingerprint, &updated)
		if errors.Is(e, sql.ErrNoRows) {
			return nil
		}
		if e != nil {
			return e
		}
		if is.UpdatedAt, e = parseTime(updated); e != nil {
			return e
		}
		ok = true
		return nil
	})
	if err != nil {
		return Issue{}, false, fmt.Errorf("issue %s/%s: %w", recipe, kind, err)
	}
	return is, ok, nil
}

// PutIssue records (inserts or replaces) the issue for is.Recipe and is.Kind.
// A zero UpdatedAt means the ledger's clock.
func (d *DB) PutIssue(ctx context.Context, is Issue) error {
	if is.Recipe == "" || is.Kind == "" {
		return fmt.Errorf("put issue: %w: recipe and kind are required", ErrInvalid)
	}
	if is.UpdatedAt.IsZero() {
		is.UpdatedAt = d.now()
	}
	err := d.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO issues (recipe, kind, number, url, state, fingerprint, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (recipe, kind) DO UPDATE SET number = excluded.number, url = excluded.url,
				state = excluded.state, fingerprint = excluded.fingerprint, updated_at = excluded.updated_at`,
			is.Recipe, is.Kind, is.Number, is.URL, is.State, is.Fingerprint, fmtTime(is.UpdatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("put issue %s/%s: %w", is.Recipe, is.Kind, err)
	}
	return nil
}

package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// IssueRecord is an Issue with what the issue planner remembers besides the
// number (migration 0005): the route taken, the handles assigned and the
// condition the issue last reported (SPEC §2.3, §5, §7).
type IssueRecord struct {
	Issue
	RoutedVia string   // maintainers | codeowners | default; "" when unknown
	Assignees []string // handles assigned, sorted; nil when none
	// Condition is what the issue last reported: for recert the reason, for
	// lost the lost pointer versions (path@commit, sorted, newline-separated);
	// "" after the auditor closed it because the recipe recovered.
	Condition string
}

// Issue operation journal states (table issue_ops).
const (
	OpPending = "pending" // recorded before sending; still pending after a crash: in doubt
	OpSent    = "sent"    // the tracker accepted it
	OpFailed  = "failed"  // the tracker refused it or could not be reached; retried next run
)

// IssueOp is one journaled issue operation.
type IssueOp struct {
	ID        int64  // assigned by the ledger
	OpID      string // caller's idempotency key, unique
	RunID     int64  // run whose plan produced it; 0 for none
	Recipe    string
	Kind      string
	Action    string // open | update | reopen | close
	Number    int    // issue number acted on; 0 before an open is sent
	State     string // OpPending | OpSent | OpFailed
	Error     string // last failure, "" otherwise
	Attempts  int    // times BeginIssueOp was called for OpID
	CreatedAt time.Time
	UpdatedAt time.Time
}

// IssueRecords returns every issue the ledger maps, by recipe then kind.
func (d *DB) IssueRecords(ctx context.Context) ([]IssueRecord, error) {
	var out []IssueRecord
	err := d.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT recipe, kind, number, url, state, fingerprint, updated_at,
			routed_via, assignees, condition FROM issues ORDER BY recipe, kind`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				r                  IssueRecord
				updated, assignees string
			)
			if err := rows.Scan(&r.Recipe, &r.Kind, &r.Number, &r.URL, &r.State, &r.Fingerprint, &updated,
				&r.RoutedVia, &assignees, &r.Condition); err != nil {
				return err
			}
			if r.UpdatedAt, err = parseTime(updated); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(assignees), &r.Assignees); err != nil {
				return fmt.Errorf("issue %s/%s assignees: %w", r.Recipe, r.Kind, err)
			}
			if len(r.Assignees) == 0 {
				r.Assignees = nil
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("issue records: %w", err)
	}
	return out, nil
}

// PutIssueRecord records (inserts or replaces) the issue and its planner
// state. A zero UpdatedAt means the ledger's clock.
func (d *DB) PutIssueRecord(ctx context.Context, r IssueRecord) error {
	if r.Recipe == "" || r.Kind == "" {
		return fmt.Errorf("put issue record: %w: recipe and kind are required", ErrInvalid)
	}
	err := d.write(ctx, func(tx *sql.Tx) error { return d.putIssueRecordTx(ctx, tx, r) })
	if err != nil {
		return fmt.Errorf("put issue record %s/%s: %w", r.Recipe, r.Kind, err)
	}
	return nil
}

func (d *DB) putIssueRecordTx(ctx context.Context, tx *sql.Tx, r IssueRecord) error {
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = d.now()
	}
	as := r.Assignees
	if as == nil {
		as = []string{}
	}
	aj, err := json.Marshal(as)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO issues (recipe, kind, number, url, state, fingerprint, updated_at,
			routed_via, assignees, condition)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (recipe, kind) DO UPDATE SET number = excluded.number, url = excluded.url,
			state = excluded.state, fingerprint = excluded.fingerprint, updated_at = excluded.updated_at,
			routed_via = excluded.routed_via, assignees = excluded.assignees, condition = excluded.condition`,
		r.Recipe, r.Kind, r.Number, r.URL, r.State, r.Fingerprint, fmtTime(r.UpdatedAt),
		r.RoutedVia, string(aj), r.Condition)
	return err
}

// BeginIssueOp journals op as pending before it is sent (SPEC §7: an
// operation is recorded before and after it is sent, so a crash between the
// two leaves it pending, in doubt, for the next run to reconcile). Beginning
// an OpID already journaled and not sent sets it pending again and counts
// the attempt; beginning one already sent is ErrInvalid.
func (d *DB) BeginIssueOp(ctx context.Context, op IssueOp) error {
	if op.OpID == "" || op.Recipe == "" || op.Kind == "" || op.Action == "" {
		return fmt.Errorf("begin issue op: %w: opID, recipe, kind and action are required", ErrInvalid)
	}
	err := d.write(ctx, func(tx *sql.Tx) error {
		now := fmtTime(d.now())
		var state string
		e := tx.QueryRowContext(ctx, `SELECT state FROM issue_ops WHERE op_id = ?`, op.OpID).Scan(&state)
		switch {
		case errors.Is(e, sql.ErrNoRows):
			var run any
			if op.RunID != 0 {
				run = op.RunID
			}
			_, e = tx.ExecContext(ctx, `INSERT INTO issue_ops (op_id, run_id, recipe, kind, action, state, error,
				created_at, updated_at, number, attempts) VALUES (?, ?, ?, ?, ?, 'pending', '', ?, ?, ?, 1)`,
				op.OpID, run, op.Recipe, op.Kind, op.Action, now, now, op.Number)
			return e
		case e != nil:
			return e
		case state == OpSent:
			return fmt.Errorf("%w: operation %s was already sent", ErrInvalid, op.OpID)
		}
		_, e = tx.ExecContext(ctx, `UPDATE issue_ops SET state = 'pending', updated_at = ?, attempts = attempts + 1,
			number = CASE WHEN ? <> 0 THEN ? ELSE number END WHERE op_id = ?`, now, op.Number, op.Number, op.OpID)
		return e
	})
	if err != nil {
		return fmt.Errorf("begin issue op %s: %w", op.OpID, err)
	}
	return nil
}

// FailIssueOp records that op could not be sent; errText must already be
// free of secrets. The operation is retried by a later plan.
func (d *DB) FailIssueOp(ctx context.Context, opID, errText string) error {
	err := d.write(ctx, func(tx *sql.Tx) error {
		return finishOpTx(ctx, tx, opID, OpFailed, errText, 0, fmtTime(d.now()))
	})
	if err != nil {
		return fmt.Errorf("fail issue op %s: %w", opID, err)
	}
	return nil
}

// CompleteIssueOp records, in one transaction, that op was sent and what
// the issue map now holds for its (recipe, kind).
func (d *DB) CompleteIssueOp(ctx context.Context, opID string, rec IssueRecord) error {
	err := d.write(ctx, func(tx *sql.Tx) error {
		if err := finishOpTx(ctx, tx, opID, OpSent, "", rec.Number, fmtTime(d.now())); err != nil {
			return err
		}
		return d.putIssueRecordTx(ctx, tx, rec)
	})
	if err != nil {
		return fmt.Errorf("complete issue op %s: %w", opID, err)
	}
	return nil
}

func finishOpTx(ctx context.Context, tx *sql.Tx, opID, state, errText string, number int, now string) error {
	res, err := tx.ExecContext(ctx, `UPDATE issue_ops SET state = ?, error = ?, updated_at = ?,
		number = CASE WHEN ? <> 0 THEN ? ELSE number END WHERE op_id = ?`, state, errText, now, number, number, opID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: issue op %s", ErrNotFound, opID)
	}
	return nil
}

// UnsentIssueOps returns the operations still owed to the tracker: for each
// (recipe, kind, action), the newest journaled operation when it is pending
// (in doubt after a crash) or failed, and no operation on the same (recipe,
// kind) was sent after it. Ordered by journal id. Reports show them; the
// issue planner reconciles in-doubt opens with them.
func (d *DB) UnsentIssueOps(ctx context.Context) ([]IssueOp, error) {
	var out []IssueOp
	err := d.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT o.id, o.op_id, coalesce(o.run_id, 0), o.recipe, o.kind, o.action,
				o.number, o.state, o.error, o.attempts, o.created_at, o.updated_at
			FROM issue_ops o
			WHERE o.state <> 'sent'
			  AND o.id = (SELECT max(id) FROM issue_ops x
			              WHERE x.recipe = o.recipe AND x.kind = o.kind AND x.action = o.action)
			  AND NOT EXISTS (SELECT 1 FROM issue_ops s
			                  WHERE s.recipe = o.recipe AND s.kind = o.kind AND s.state = 'sent' AND s.id > o.id)
			ORDER BY o.id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				op               IssueOp
				created, updated string
			)
			if err := rows.Scan(&op.ID, &op.OpID, &op.RunID, &op.Recipe, &op.Kind, &op.Action, &op.Number,
				&op.State, &op.Error, &op.Attempts, &created, &updated); err != nil {
				return err
			}
			if op.CreatedAt, err = parseTime(created); err != nil {
				return err
			}
			if op.UpdatedAt, err = parseTime(updated); err != nil {
				return err
			}
			out = append(out, op)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("unsent issue ops: %w", err)
	}
	return out, nil
}

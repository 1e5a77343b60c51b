package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// WalkHead returns the last commit recorded for repoKey and ref by ApplyWalk,
// or "" when that ref was never walked.
func (d *DB) WalkHead(ctx context.Context, repoKey, ref string) (commit string, err error) {
	err = d.read(ctx, func(tx *sql.Tx) error {
		var e error
		commit, e = walkHeadTx(ctx, tx, repoKey, ref)
		return e
	})
	if err != nil {
		return "", fmt.Errorf("walk head %s %s: %w", repoKey, ref, err)
	}
	return commit, nil
}

func walkHeadTx(ctx context.Context, tx *sql.Tx, repoKey, ref string) (string, error) {
	var head string
	err := tx.QueryRowContext(ctx,
		`SELECT head_commit FROM walks WHERE repo_key = ? AND ref = ?`, repoKey, ref).Scan(&head)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return head, err
}

// ApplyWalk records what a history walk of repoKey learned, in one
// transaction:
//
//   - Removals end the version live at each path (versions the delta itself
//     adds are never ended by them);
//   - Added versions are inserted, or their removal and reachability updated
//     when already known (content is never replaced);
//   - on a full walk, every known version of repoKey/d.Ref the walk did not
//     report is marked unreachable (rows are kept: results name them);
//   - the walk head becomes d.Head.
//
// An incremental delta must start at the recorded head (ErrWalkMismatch);
// one whose Head is already recorded is a no-op, so applying a delta twice
// is harmless. A full delta is authoritative and may be re-applied.
func (d *DB) ApplyWalk(ctx context.Context, repoKey string, delta *audit.WalkDelta) error {
	if delta == nil || repoKey == "" || delta.Ref == "" || delta.Head == "" {
		return fmt.Errorf("apply walk %s: %w: repo key, ref and head are required", repoKey, ErrInvalid)
	}
	err := d.write(ctx, func(tx *sql.Tx) error { return d.applyWalkTx(ctx, tx, repoKey, delta) })
	if err != nil {
		return fmt.Errorf("apply walk %s %s..%s: %w", repoKey, delta.From, delta.Head, err)
	}
	return nil
}

func (d *DB) applyWalkTx(ctx context.Context, tx *sql.Tx, repoKey string, w *audit.WalkDelta) error {
	head, err := walkHeadTx(ctx, tx, repoKey, w.Ref)
	if err != nil {
		return err
	}
	if !w.Full {
		if head == w.Head {
			return nil // already applied
		}
		if w.From != head {
			return fmt.Errorf("%w: delta starts at %q, ledger head is %q", ErrWalkMismatch, w.From, head)
		}
	}
	stmts := newTxStmts(tx)
	defer stmts.Close()
	added := make(map[audit.VersionKey]bool, len(w.Added))
	for _, v := range w.Added {
		if v.Key.Path == "" || v.Key.AddedCommit == "" {
			return fmt.Errorf("%w: pointer version without path or commit", ErrInvalid)
		}
		added[v.Key] = true
	}

	for _, r := range w.Removed {
		rows, err := tx.QueryContext(ctx, `SELECT added_commit FROM pointer_versions
			WHERE repo_key = ? AND ref = ? AND path = ? AND removed_commit = '' AND unreachable = 0`,
			repoKey, w.Ref, r.Path)
		if err != nil {
			return err
		}
		var live []string
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				rows.Close()
				return err
			}
			if !added[audit.VersionKey{Path: r.Path, AddedCommit: c}] {
				live = append(live, c)
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		for _, c := range live {
			if _, err := stmts.ExecContext(ctx, `UPDATE pointer_versions SET removed_commit = ?, removed_at = ?
				WHERE repo_key = ? AND ref = ? AND path = ? AND added_commit = ?`,
				r.Commit, fmtTime(r.At), repoKey, w.Ref, r.Path, c); err != nil {
				return err
			}
		}
	}

	for _, v := range w.Added {
		content := v.Content
		if content == nil {
			content = []byte{}
		}
		if _, err := stmts.ExecContext(ctx, `INSERT INTO pointer_versions
			(repo_key, ref, path, added_commit, blob, content, added_at, removed_commit, removed_at, unreachable, too_large)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)
			ON CONFLICT (repo_key, ref, path, added_commit) DO UPDATE SET
				removed_commit = excluded.removed_commit,
				removed_at = excluded.removed_at,
				unreachable = 0`,
			repoKey, w.Ref, v.Key.Path, v.Key.AddedCommit, v.Blob, content, fmtTime(v.AddedAt),
			v.RemovedCommit, fmtTime(v.RemovedAt), boolInt(v.TooLarge)); err != nil {
			return err
		}
	}

	if w.Full {
		rows, err := tx.QueryContext(ctx, `SELECT path, added_commit FROM pointer_versions
			WHERE repo_key = ? AND ref = ? AND unreachable = 0`, repoKey, w.Ref)
		if err != nil {
			return err
		}
		var gone []audit.VersionKey
		for rows.Next() {
			var k audit.VersionKey
			if err := rows.Scan(&k.Path, &k.AddedCommit); err != nil {
				rows.Close()
				return err
			}
			if !added[k] {
				gone = append(gone, k)
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		for _, k := range gone {
			if _, err := stmts.ExecContext(ctx, `UPDATE pointer_versions SET unreachable = 1
				WHERE repo_key = ? AND ref = ? AND path = ? AND added_commit = ?`,
				repoKey, w.Ref, k.Path, k.AddedCommit); err != nil {
				return err
			}
		}
	}

	_, err = tx.ExecContext(ctx, `INSERT INTO walks (repo_key, ref, head_commit, full_walk, walked_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (repo_key, ref) DO UPDATE SET
			head_commit = excluded.head_commit, full_walk = excluded.full_walk, walked_at = excluded.walked_at`,
		repoKey, w.Ref, w.Head, boolInt(w.Full), fmtTime(d.now()))
	return err
}

// PointerVersions returns the reachable pointer versions of repoKey and ref,
// removed ones included, ordered by added time, then path, then insertion.
func (d *DB) PointerVersions(ctx context.Context, repoKey, ref string) ([]audit.PointerVersion, error) {
	var out []audit.PointerVersion
	err := d.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT path, added_commit, blob, content, added_at, removed_commit, removed_at, too_large
			FROM pointer_versions WHERE repo_key = ? AND ref = ? AND unreachable = 0
			ORDER BY added_at, path, id`, repoKey, ref)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var v audit.PointerVersion
			var added, removed string
			if err := rows.Scan(&v.Key.Path, &v.Key.AddedCommit, &v.Blob, &v.Content, &added, &v.RemovedCommit, &removed, &v.TooLarge); err != nil {
				return err
			}
			if v.AddedAt, err = parseTime(added); err != nil {
				return err
			}
			if v.RemovedAt, err = parseTime(removed); err != nil {
				return err
			}
			out = append(out, v)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("pointer versions %s %s: %w", repoKey, ref, err)
	}
	return out, nil
}

package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// StoredResult is a result with its place in the chain.
type StoredResult struct {
	Seq    int64
	RunID  int64
	Hash   string // sha256:<hex>
	Result audit.Result
}

// AppendResult appends r to run runID at the end of the result chain and
// returns its sequence number. The run must exist and be unfinished
// (ErrNotFound, ErrRunFinished); a second result for the same pointer
// version in the same run is ErrDuplicateResult (resume with ResultKeys).
func (d *DB) AppendResult(ctx context.Context, runID int64, r audit.Result) (seq int64, err error) {
	seqs, err := d.AppendResults(ctx, runID, []audit.Result{r})
	if err != nil {
		return 0, err
	}
	return seqs[0], nil
}

// AppendResults appends several results to run runID in one transaction:
// all are committed or none. Each is checked as by AppendResult.
func (d *DB) AppendResults(ctx context.Context, runID int64, rs []audit.Result) (seqs []int64, err error) {
	rows := make([]*resultRow, len(rs))
	for i := range rs {
		if rows[i], err = rowFromResult(runID, &rs[i]); err != nil {
			return nil, fmt.Errorf("append result %s: %w", rs[i].Key, err)
		}
	}
	err = d.write(ctx, func(tx *sql.Tx) error {
		seqs, err = d.appendResultsTx(ctx, tx, runID, rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("append result: %w", err)
	}
	return seqs, nil
}

// RecordBatch implements audit.Ledger: in one transaction (one fsync, one
// append hook), it caches the batch's verified bundles, records its archive
// copies and chains its results — all or none, so that no healthy result is
// ever recorded without the bundle it was verified from (SPEC §6) and no
// copy is recorded before it was written (SPEC §9).
func (d *DB) RecordBatch(ctx context.Context, runID int64, b audit.Batch) error {
	rows := make([]*resultRow, len(b.Results))
	for i := range b.Results {
		var err error
		if rows[i], err = rowFromResult(runID, &b.Results[i]); err != nil {
			return fmt.Errorf("record batch: result %s: %w", b.Results[i].Key, err)
		}
	}
	err := d.write(ctx, func(tx *sql.Tx) error {
		if err := d.cacheBundlesTx(ctx, tx, b.Bundles); err != nil {
			return fmt.Errorf("cache bundles: %w", err)
		}
		if err := d.recordArchivedTx(ctx, tx, b.Archived); err != nil {
			return fmt.Errorf("record archived bundles: %w", err)
		}
		_, err := d.appendResultsTx(ctx, tx, runID, rows)
		return err
	})
	if err != nil {
		return fmt.Errorf("record batch of %d results: %w", len(rows), err)
	}
	return nil
}

// appendResultsTx chains rows into run runID, which must be unfinished, and
// tells the append hook (if any) the chain head before and after.
func (d *DB) appendResultsTx(ctx context.Context, tx *sql.Tx, runID int64, rows []*resultRow) ([]int64, error) {
	run, err := runTx(ctx, tx, runID)
	if err != nil {
		return nil, fmt.Errorf("run %d: %w", runID, err)
	}
	if run.Finished {
		return nil, fmt.Errorf("run %d: %w", runID, ErrRunFinished)
	}
	seqs := make([]int64, 0, len(rows))
	if d.hook == nil {
		return seqs, appendRowsTx(ctx, tx, rows, func(seq int64) { seqs = append(seqs, seq) })
	}
	var before ChainPoint
	if before.Seq, before.Hash, err = chainHeadTx(ctx, tx); err != nil {
		return nil, err
	}
	if err := appendRowsTx(ctx, tx, rows, func(seq int64) { seqs = append(seqs, seq) }); err != nil {
		return nil, err
	}
	after := before
	if n := len(rows); n > 0 {
		after = ChainPoint{Seq: rows[n-1].Seq, Hash: rows[n-1].Hash}
	}
	return seqs, d.hook(runID, before, after)
}

// appendRowsTx chains rows after the current head: the head is read once
// per batch and the insert prepared once, so a batch costs one statement
// per row. The UNIQUE (run_id, path, added_commit) constraint is what
// refuses a second result for a pointer in a run.
func appendRowsTx(ctx context.Context, tx *sql.Tx, rows []*resultRow, appended func(seq int64)) error {
	seq, head, err := chainHeadTx(ctx, tx)
	if err != nil {
		return err
	}
	if head == "" {
		head = genesisHash
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO results (`+resultColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for _, row := range rows {
		row.Seq, row.PrevHash, row.Enc = seq+1, head, encV1
		if row.Hash, err = rowHash(head, row); err != nil {
			return err
		}
		if _, err := ins.ExecContext(ctx,
			row.Seq, row.RunID, row.Path, row.AddedCommit, row.Recipe, row.Verdict, row.Class, row.Detail, row.Hint,
			row.Via, row.BundleDigest, row.RekorLogIndex, row.AttestedAt, row.AttestedAtSource, row.Age,
			row.Phases, row.Checks, boolInt(row.Deep), row.CheckedAt, row.Enc, row.PrevHash, row.Hash); err != nil {
			if strings.Contains(err.Error(), "UNIQUE constraint failed: results.run_id") {
				err = ErrDuplicateResult
			}
			return fmt.Errorf("%s@%s: %w", row.Path, row.AddedCommit, err)
		}
		seq, head = row.Seq, row.Hash
		appended(row.Seq)
	}
	return nil
}

// chainHeadTx returns the last row's seq and hash; 0 and "" when empty.
func chainHeadTx(ctx context.Context, tx *sql.Tx) (int64, string, error) {
	var seq int64
	var hash string
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM results ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", nil
	}
	return seq, hash, err
}

// ChainHead returns the sequence number and hash ("sha256:<hex>") of the
// last result row; 0 and "" for an empty chain.
func (d *DB) ChainHead(ctx context.Context) (seq int64, hash string, err error) {
	err = d.read(ctx, func(tx *sql.Tx) error {
		var e error
		seq, hash, e = chainHeadTx(ctx, tx)
		return e
	})
	if err != nil {
		return 0, "", fmt.Errorf("chain head: %w", err)
	}
	return seq, hash, nil
}

// LastRowOfRun returns the seq and hash of run runID's last result row; the
// zero ChainPoint when it has none.
func (d *DB) LastRowOfRun(ctx context.Context, runID int64) (ChainPoint, error) {
	var p ChainPoint
	err := d.read(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM results WHERE run_id = ? ORDER BY seq DESC LIMIT 1`, runID).Scan(&p.Seq, &p.Hash)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return ChainPoint{}, fmt.Errorf("last row of run %d: %w", runID, err)
	}
	return p, nil
}

// ChainPointAt returns the result row at seq as a chain point; ok is false
// when there is none.
func (d *DB) ChainPointAt(ctx context.Context, seq int64) (p ChainPoint, ok bool, err error) {
	err = d.read(ctx, func(tx *sql.Tx) error {
		e := tx.QueryRowContext(ctx, `SELECT seq, hash FROM results WHERE seq = ?`, seq).Scan(&p.Seq, &p.Hash)
		if errors.Is(e, sql.ErrNoRows) {
			return nil
		}
		ok = e == nil
		return e
	})
	if err != nil {
		return ChainPoint{}, false, fmt.Errorf("result row %d: %w", seq, err)
	}
	return p, ok, nil
}

// Results returns the results of run runID in append order.
func (d *DB) Results(ctx context.Context, runID int64) ([]audit.Result, error) {
	var out []audit.Result
	err := d.read(ctx, func(tx *sql.Tx) error {
		rows, err := queryRowsTx(ctx, tx, `WHERE run_id = ? ORDER BY seq`, runID)
		if err != nil {
			return err
		}
		for _, row := range rows {
			r, err := row.result()
			if err != nil {
				return fmt.Errorf("seq %d: %w", row.Seq, err)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("results of run %d: %w", runID, err)
	}
	return out, nil
}

// ResultKeys returns the pointer versions run runID already has a result
// for: what a resumed run skips.
func (d *DB) ResultKeys(ctx context.Context, runID int64) (map[audit.VersionKey]bool, error) {
	keys := make(map[audit.VersionKey]bool)
	err := d.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT path, added_commit FROM results WHERE run_id = ?`, runID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k audit.VersionKey
			if err := rows.Scan(&k.Path, &k.AddedCommit); err != nil {
				return err
			}
			keys[k] = true
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("result keys of run %d: %w", runID, err)
	}
	return keys, nil
}

// LastResultFor returns the newest result recorded for key in any run; with
// deepOnly, the newest from a full cryptographic verification (the fast
// path's reference). ok is false when there is none.
func (d *DB) LastResultFor(ctx context.Context, key audit.VersionKey, deepOnly bool) (sr StoredResult, ok bool, err error) {
	where := `WHERE path = ? AND added_commit = ? ORDER BY seq DESC LIMIT 1`
	if deepOnly {
		where = `WHERE path = ? AND added_commit = ? AND deep = 1 ORDER BY seq DESC LIMIT 1`
	}
	err = d.read(ctx, func(tx *sql.Tx) error {
		rows, err := queryRowsTx(ctx, tx, where, key.Path, key.AddedCommit)
		if err != nil || len(rows) == 0 {
			return err
		}
		row := rows[0]
		r, err := row.result()
		if err != nil {
			return fmt.Errorf("seq %d: %w", row.Seq, err)
		}
		sr, ok = StoredResult{Seq: row.Seq, RunID: row.RunID, Hash: row.Hash, Result: r}, true
		return nil
	})
	if err != nil {
		return StoredResult{}, false, fmt.Errorf("last result for %s: %w", key, err)
	}
	return sr, ok, nil
}

const resultColumns = `seq, run_id, path, added_commit, recipe, verdict, class, detail, hint, via, bundle_digest,
	rekor_log_index, attested_at, attested_at_source, age, phases, checks, deep, checked_at, enc, prev_hash, hash`

// queryRowsTx reads results rows; tail is the WHERE/ORDER clause.
func queryRowsTx(ctx context.Context, tx *sql.Tx, tail string, args ...any) ([]*resultRow, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+resultColumns+` FROM results `+tail, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*resultRow
	for rows.Next() {
		row, err := scanResultRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

func scanResultRow(s scanner) (*resultRow, error) {
	var r resultRow
	var deep int
	err := s.Scan(&r.Seq, &r.RunID, &r.Path, &r.AddedCommit, &r.Recipe, &r.Verdict, &r.Class, &r.Detail, &r.Hint,
		&r.Via, &r.BundleDigest, &r.RekorLogIndex, &r.AttestedAt, &r.AttestedAtSource, &r.Age,
		&r.Phases, &r.Checks, &deep, &r.CheckedAt, &r.Enc, &r.PrevHash, &r.Hash)
	r.Deep = deep == 1
	return &r, err
}

// rowFromResult validates r and renders the stored form (without seq and hashes).
func rowFromResult(runID int64, r *audit.Result) (*resultRow, error) {
	switch {
	case r.Key.Path == "" || r.Key.AddedCommit == "":
		return nil, fmt.Errorf("%w: key needs path and commit", ErrInvalid)
	case !r.Verdict.Valid():
		return nil, fmt.Errorf("%w: verdict %q", ErrInvalid, r.Verdict)
	case r.Detail == "":
		return nil, fmt.Errorf("%w: empty detail", ErrInvalid)
	}
	row := &resultRow{
		RunID: runID, Path: r.Key.Path, AddedCommit: r.Key.AddedCommit, Recipe: r.Recipe,
		Verdict: string(r.Verdict), Class: string(r.Class), Detail: r.Detail, Hint: r.Hint,
		Via: string(r.VerifiedVia), BundleDigest: r.BundleDigest, RekorLogIndex: r.RekorLogIndex,
		AttestedAt: fmtTime(r.AttestedAt), AttestedAtSource: string(r.AttestedAtSource), Age: string(r.Age),
		Deep: r.Deep, CheckedAt: fmtTime(r.CheckedAt),
	}
	if r.Phases != nil {
		b, err := json.Marshal(r.Phases) // map keys come out sorted
		if err != nil {
			return nil, err
		}
		row.Phases = string(b)
	}
	if r.Checks != nil {
		b, err := json.Marshal(r.Checks)
		if err != nil {
			return nil, err
		}
		row.Checks = string(b)
	}
	return row, nil
}

// result converts a stored row back into the domain type (times in UTC).
func (row *resultRow) result() (audit.Result, error) {
	r := audit.Result{
		Key:    audit.VersionKey{Path: row.Path, AddedCommit: row.AddedCommit},
		Recipe: row.Recipe, Verdict: audit.Verdict(row.Verdict), Class: audit.Class(row.Class),
		Detail: row.Detail, Hint: row.Hint, VerifiedVia: audit.Via(row.Via), BundleDigest: row.BundleDigest,
		RekorLogIndex: row.RekorLogIndex, AttestedAtSource: audit.TimeSource(row.AttestedAtSource),
		Age: audit.Age(row.Age), Deep: row.Deep,
	}
	var err error
	if r.AttestedAt, err = parseTime(row.AttestedAt); err != nil {
		return r, err
	}
	if r.CheckedAt, err = parseTime(row.CheckedAt); err != nil {
		return r, err
	}
	if row.Phases != "" {
		if err := json.Unmarshal([]byte(row.Phases), &r.Phases); err != nil {
			return r, fmt.Errorf("phases: %w", err)
		}
	}
	if row.Checks != "" {
		if err := json.Unmarshal([]byte(row.Checks), &r.Checks); err != nil {
			return r, fmt.Errorf("checks: %w", err)
		}
	}
	return r, nil
}

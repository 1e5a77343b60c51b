package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// VerifyReport is the outcome of Verify.
type VerifyReport struct {
	OK       bool
	Rows     int64  // result rows read
	HeadSeq  int64  // seq of the last row read
	Head     string // stored hash of the last row read; "" for an empty chain
	FirstBad *BadRow
}

// BadRow names the first place the chain is broken.
type BadRow struct {
	Seq    int64 // the row at fault; for a deletion, the row after the gap
	RunID  int64
	Path   string // "" when the fault is a missing row the chain cannot show
	Reason string
}

// Verify recomputes the result chain in seq order and checks it against the
// runs that recorded a head (SPEC §6). It detects, reporting the first fault
// in seq order:
//
//   - an edited row (any stored field: the recomputed hash differs);
//   - a deleted row (a gap in seq, or prev_hash not the previous row's hash);
//   - rows swapped or reordered (seq is hashed, and each row names its
//     predecessor's hash);
//   - a row appended to a run after it finished, or one older than its run;
//   - a deleted tail, or a chain rewritten with recomputed hashes, as far back
//     as the last finished run: each finished run recorded the head it saw.
//
// It cannot detect rows deleted from the tail after the last finished run
// (the run in progress or killed), an attacker who rewrites the chain and
// the runs' recorded heads together, or edits to tables outside the chain
// (runs metadata, pointer versions, bundle cache, checkpoints, issues). The
// chain head printed in reports is the anchor to compare against a copy
// kept elsewhere.
//
// Verify returns an error only when the ledger cannot be read.
func (d *DB) Verify(ctx context.Context) (*VerifyReport, error) {
	var rep *VerifyReport
	err := d.read(ctx, func(tx *sql.Tx) error {
		var e error
		rep, e = verifyTx(ctx, tx)
		return e
	})
	if err != nil {
		return nil, fmt.Errorf("verify ledger: %w", err)
	}
	return rep, nil
}

func verifyTx(ctx context.Context, tx *sql.Tx) (*VerifyReport, error) {
	runs, err := runsTx(ctx, tx)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]Run, len(runs))
	for _, r := range runs {
		byID[r.ID] = r
	}

	rep := &VerifyReport{}
	rows, err := tx.QueryContext(ctx, `SELECT `+resultColumns+` FROM results ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	prev := genesisHash
	var prevSeq int64
	bad := func(row *resultRow, format string, args ...any) {
		rep.FirstBad = &BadRow{Seq: row.Seq, RunID: row.RunID, Path: row.Path, Reason: fmt.Sprintf(format, args...)}
	}
	for rows.Next() {
		row, err := scanResultRow(rows)
		if err != nil {
			return nil, err
		}
		rep.Rows++
		switch run, known := byID[row.RunID]; {
		case row.Seq != prevSeq+1:
			bad(row, "seq gap: rows %d..%d are missing (deleted)", prevSeq+1, row.Seq-1)
		case row.PrevHash != prev:
			bad(row, "prev_hash %s does not match the hash of row %d (%s): rows deleted, reordered or edited", row.PrevHash, prevSeq, prev)
		default:
			got, err := rowHash(prev, row)
			switch {
			case err != nil:
				bad(row, "cannot recompute hash: %v", err)
			case got != row.Hash:
				bad(row, "hash mismatch: stored %s, recomputed %s: row edited", row.Hash, got)
			case !known:
				bad(row, "row names run %d, which does not exist", row.RunID)
			case row.Seq <= run.StartSeq:
				bad(row, "row precedes its run %d, which began at seq %d", row.RunID, run.StartSeq)
			case run.Finished && row.Seq > run.HeadSeq:
				bad(row, "row appended to run %d after it finished at seq %d", row.RunID, run.HeadSeq)
			}
		}
		if rep.FirstBad != nil {
			return rep, nil
		}
		prev, prevSeq = row.Hash, row.Seq
		rep.HeadSeq, rep.Head = row.Seq, row.Hash
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// The chain is internally consistent; every head a run recorded must
	// still be in it, unchanged.
	for _, r := range runs {
		if !r.Finished || r.HeadSeq == 0 {
			continue
		}
		var hash string
		err := tx.QueryRowContext(ctx, `SELECT hash FROM results WHERE seq = ?`, r.HeadSeq).Scan(&hash)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			rep.FirstBad = &BadRow{Seq: r.HeadSeq, RunID: r.ID, Reason: fmt.Sprintf(
				"run %d finished with head seq %d %s, but the chain ends at seq %d: tail deleted", r.ID, r.HeadSeq, r.LedgerHead, rep.HeadSeq)}
		case err != nil:
			return nil, err
		case hash != r.LedgerHead:
			rep.FirstBad = &BadRow{Seq: r.HeadSeq, RunID: r.ID, Reason: fmt.Sprintf(
				"run %d finished with head %s at seq %d, the chain now has %s there: chain rewritten", r.ID, r.LedgerHead, r.HeadSeq, hash)}
		}
		if rep.FirstBad != nil {
			return rep, nil
		}
	}
	rep.OK = true
	return rep, nil
}

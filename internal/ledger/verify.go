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
	// Runs is how many runs the ledger holds; Seals are their seals in
	// sealing order, as stored (and, when OK, as recomputed).
	Runs  int
	Seals []Seal
	// Notes are facts that are not faults: rows added since the newest
	// seal (the next seal covers them), removal marks changed by a walk
	// since.
	Notes []string
}

// BadRow names the first place the ledger is broken: a result row (Seq > 0)
// or, for a fault of a run as a whole, its run (Seq 0).
type BadRow struct {
	Seq    int64 // the row at fault; for a deletion, the row after the gap; 0 for a run-level fault
	RunID  int64
	Path   string // "" when the fault is a missing row the chain cannot show
	Reason string
}

// Verify recomputes the result chain in seq order and every run's seal
// (SPEC §6) and reports the damaged run with the smallest id, if any. It
// detects:
//
//   - an edited result row (any stored field: the recomputed hash differs);
//   - a deleted result row (a gap in seq, or prev_hash not the previous
//     row's hash), rows swapped or reordered (seq is hashed, and each row
//     names its predecessor's hash);
//   - a row appended to a run after it finished, or one older than its run;
//   - a deleted tail of the chain, as far back as the last finished run
//     (each finished run recorded the head it saw);
//   - a deleted run (run ids are contiguous, and SQLite's AUTOINCREMENT
//     counter remembers the highest id ever given);
//   - any edit to what a seal covers (seal.go: the runs, recipe-status,
//     run-input, pointer-version, bundle-cache and checkpoint tables), to a
//     seal, or a deleted seal — unless the rewrite recomputed every hash.
//
// A rewrite that recomputes every hash and seal from some run on, or that
// deletes the newest runs whole, is consistent: only the run heads anchored
// outside the database (internal/anchor, SPEC §10) can show it. Rows added
// since the newest seal (a run in progress or killed) are covered by no
// seal yet; internal/anchor keeps that run's progress outside the database.
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
	rep := &VerifyReport{Runs: len(runs)}
	var faults []*BadRow
	for _, check := range []func(context.Context, *sql.Tx, []Run, *VerifyReport) (*BadRow, error){
		verifyResultsTx, verifyRunIDsTx, verifySealsTx,
	} {
		bad, err := check(ctx, tx, runs, rep)
		if err != nil {
			return nil, err
		}
		if bad != nil {
			faults = append(faults, bad)
		}
	}
	for _, f := range faults {
		if rep.FirstBad == nil || f.RunID < rep.FirstBad.RunID {
			rep.FirstBad = f
		}
	}
	rep.OK = rep.FirstBad == nil
	return rep, nil
}

// verifyResultsTx recomputes the result chain and checks it against the
// heads the finished runs recorded; it returns the first fault in seq
// order.
func verifyResultsTx(ctx context.Context, tx *sql.Tx, runs []Run, rep *VerifyReport) (*BadRow, error) {
	byID := make(map[int64]Run, len(runs))
	for _, r := range runs {
		byID[r.ID] = r
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+resultColumns+` FROM results ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	prev := genesisHash
	var prevSeq int64
	var first *BadRow
	bad := func(row *resultRow, format string, args ...any) {
		first = &BadRow{Seq: row.Seq, RunID: row.RunID, Path: row.Path, Reason: fmt.Sprintf(format, args...)}
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
		if first != nil {
			return first, nil
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
			return &BadRow{Seq: r.HeadSeq, RunID: r.ID, Reason: fmt.Sprintf(
				"run %d finished with head seq %d %s, but the chain ends at seq %d: tail deleted", r.ID, r.HeadSeq, r.LedgerHead, rep.HeadSeq)}, nil
		case err != nil:
			return nil, err
		case hash != r.LedgerHead:
			return &BadRow{Seq: r.HeadSeq, RunID: r.ID, Reason: fmt.Sprintf(
				"run %d finished with head %s at seq %d, the chain now has %s there: chain rewritten", r.ID, r.LedgerHead, r.HeadSeq, hash)}, nil
		}
	}
	return nil, nil
}

// verifyRunIDsTx checks that run ids are 1, 2, 3, ... with no gap, and that
// no run newer than the last was ever recorded (runs uses AUTOINCREMENT,
// whose counter in sqlite_sequence survives a deleted row).
func verifyRunIDsTx(ctx context.Context, tx *sql.Tx, runs []Run, _ *VerifyReport) (*BadRow, error) {
	for i, r := range runs {
		if want := int64(i + 1); r.ID != want {
			return &BadRow{RunID: want, Reason: fmt.Sprintf("run %d is missing: run ids jump from %d to %d (a run was deleted)", want, want-1, r.ID)}, nil
		}
	}
	var seq sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'runs'`).Scan(&seq)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	if n := int64(len(runs)); seq.Int64 > n {
		return &BadRow{RunID: n + 1, Reason: fmt.Sprintf("run %d is missing: the ledger recorded runs up to %d and holds %d (the newest runs were deleted)", n+1, seq.Int64, n)}, nil
	}
	return nil, nil
}

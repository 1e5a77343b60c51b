package ledger

import (
	"context"
	"database/sql"
	"fmt"
)

// RehashUnsafe rewrites the ledger at path so that it verifies again after
// someone edited it: it drops the append-only triggers, renumbers the
// result rows 1, 2, 3, … grouped by run (in run id order, then their
// current order within the run) and recomputes every
// row's hash, every run's recorded heads and every seal (range for range,
// at the seal's time) with this package's own algorithms, fixes the run id
// counter, and re-creates the triggers — exactly what an attacker with
// write access to the file and this program's source can do (SPEC §6).
//
// The program never calls it. It exists so that tests can prove that
// anchors kept outside the database (internal/anchor) catch a rewrite the
// ledger alone cannot; as the name says, it destroys the ledger's evidence.
func RehashUnsafe(ctx context.Context, path string) error {
	d, err := open(path, false, nil)
	if err != nil {
		return err
	}
	defer d.db.Close()
	err = d.write(ctx, func(tx *sql.Tx) error {
		for _, trg := range appendOnlyTriggers {
			if _, err := tx.ExecContext(ctx, `DROP TRIGGER IF EXISTS `+trg.name); err != nil {
				return err
			}
		}
		if err := rehashResultsTx(ctx, tx); err != nil {
			return err
		}
		if err := reheadRunsTx(ctx, tx); err != nil {
			return err
		}
		if err := resealTx(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sqlite_sequence SET seq = (SELECT coalesce(max(id), 0) FROM runs) WHERE name = 'runs'`); err != nil {
			return err
		}
		for _, trg := range appendOnlyTriggers {
			if _, err := tx.ExecContext(ctx, trg.create); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rehash ledger %s: %w", path, err)
	}
	return nil
}

// appendOnlyTriggers are the triggers of migrations 0001 and 0010.
var appendOnlyTriggers = []struct{ name, create string }{
	{"results_no_update", `CREATE TRIGGER results_no_update BEFORE UPDATE ON results BEGIN SELECT RAISE(ABORT, 'results are append-only'); END`},
	{"results_no_delete", `CREATE TRIGGER results_no_delete BEFORE DELETE ON results BEGIN SELECT RAISE(ABORT, 'results are append-only'); END`},
	{"run_seals_no_update", `CREATE TRIGGER run_seals_no_update BEFORE UPDATE ON run_seals BEGIN SELECT RAISE(ABORT, 'run seals are append-only'); END`},
	{"run_seals_no_delete", `CREATE TRIGGER run_seals_no_delete BEFORE DELETE ON run_seals BEGIN SELECT RAISE(ABORT, 'run seals are append-only'); END`},
}

func rehashResultsTx(ctx context.Context, tx *sql.Tx) error {
	rows, err := queryRowsTx(ctx, tx, `ORDER BY run_id, seq`)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE results SET seq = -seq`); err != nil {
		return err
	}
	prev := genesisHash
	for i, row := range rows {
		old := row.Seq
		row.Seq, row.PrevHash, row.Enc = int64(i+1), prev, encV1
		if row.Hash, err = rowHash(prev, row); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE results SET seq = ?, prev_hash = ?, hash = ?, enc = ? WHERE seq = ?`,
			row.Seq, row.PrevHash, row.Hash, row.Enc, -old); err != nil {
			return err
		}
		prev = row.Hash
	}
	return nil
}

// reheadRunsTx sets each run's start and (when finished) head to the chain
// as it now is: a run starts after the rows of the runs before it and, when
// finished, ends at its own last row (or where it started).
func reheadRunsTx(ctx context.Context, tx *sql.Tx) error {
	runs, err := runsTx(ctx, tx)
	if err != nil {
		return err
	}
	for _, r := range runs {
		var start, head ChainPoint
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0), coalesce((SELECT hash FROM results WHERE seq =
			(SELECT max(seq) FROM results WHERE run_id < ?)), '') FROM results WHERE run_id < ?`, r.ID, r.ID).Scan(&start.Seq, &start.Hash); err != nil {
			return err
		}
		head = start
		var last sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT max(seq) FROM results WHERE run_id = ?`, r.ID).Scan(&last); err != nil {
			return err
		}
		if last.Valid {
			head.Seq = last.Int64
			if err := tx.QueryRowContext(ctx, `SELECT hash FROM results WHERE seq = ?`, last.Int64).Scan(&head.Hash); err != nil {
				return err
			}
		}
		if !r.Finished {
			head = ChainPoint{}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET start_seq = ?, start_head = ?, head_seq = ?, ledger_head = ? WHERE id = ?`,
			start.Seq, start.Hash, head.Seq, head.Hash, r.ID); err != nil {
			return err
		}
	}
	return nil
}

// resealTx recomputes every seal in sealing order, each over the same
// ranges and at the same time as before; runs finished without a seal are
// sealed after them.
func resealTx(ctx context.Context, tx *sql.Tx) error {
	seals, err := loadSealsTx(ctx, tx)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM run_seals`); err != nil {
		return err
	}
	sealed := map[int64]bool{}
	for _, s := range seals {
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM runs WHERE id = ? AND finished_at != ''`, s.RunID).Scan(&exists); err != nil {
			return err
		}
		if exists == 0 {
			continue // the run was deleted: its seal goes with it
		}
		marks := map[string]int64{}
		for name, c := range s.comps {
			if c.mark >= 0 {
				marks[name] = c.mark
			}
		}
		// The state a seal recorded cannot be recomputed later; the
		// newest seal's can, and is (an edit of it is part of the
		// rewrite).
		var state *component
		if c, ok := s.comps[stateComponent]; ok && s != seals[len(seals)-1] {
			state = &c
		}
		if _, err := sealRunMarksTx(ctx, tx, s.RunID, s.SealedAt, marks, state); err != nil {
			return err
		}
		sealed[s.RunID] = true
	}
	runs, err := runsTx(ctx, tx)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.Finished && !sealed[r.ID] {
			if _, err := sealRunTx(ctx, tx, r.ID, r.FinishedAt); err != nil {
				return err
			}
		}
	}
	return nil
}

package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// storedSeal is a run_seals row as stored.
type storedSeal struct {
	Seal
	enc      int
	covers   string
	prev     string
	comps    map[string]component
	sealedAt string
}

// verifySealsTx checks the seal chain (see seal.go): the chain of seal
// hashes, that every finished run is sealed, and every component against the
// tables it covers. It returns the fault of the run with the smallest id
// found by any of these checks, and notes what is pending.
func verifySealsTx(ctx context.Context, tx *sql.Tx, runs []Run, rep *VerifyReport) (*BadRow, error) {
	seals, err := loadSealsTx(ctx, tx)
	if err != nil {
		return nil, err
	}
	for _, s := range seals {
		rep.Seals = append(rep.Seals, s.Seal)
	}
	var faults faultSet
	byID := make(map[int64]Run, len(runs))
	for _, r := range runs {
		byID[r.ID] = r
	}
	sealed := make(map[int64]*storedSeal, len(seals))

	// The chain of seals.
	prev := genesisHash
	for i, s := range seals {
		r, known := byID[s.RunID]
		switch {
		case s.Seq != int64(i+1):
			faults.add(s.RunID, "seal gap: the seals of sealing order %d..%d are missing (deleted) before run %d's", i+1, s.Seq-1, s.RunID)
		case s.prev != prev:
			faults.add(s.RunID, "run %d's seal chains to %s, but the seal before it is %s: seals deleted, reordered or rewritten", s.RunID, s.prev, prev)
		case !known:
			faults.add(s.RunID, "a seal names run %d, which does not exist (the run was deleted)", s.RunID)
		case !r.Finished:
			faults.add(s.RunID, "run %d is sealed but recorded as unfinished: its runs row was edited", s.RunID)
		default:
			got, err := sealHash(s.enc, prev, s.RunID, s.covers)
			switch {
			case err != nil:
				faults.add(s.RunID, "run %d's seal cannot be recomputed: %v", s.RunID, err)
			case got != s.Head:
				faults.add(s.RunID, "run %d's seal is %s, recomputed %s: the seal was edited", s.RunID, s.Head, got)
			case s.comps == nil:
				faults.add(s.RunID, "run %d's seal does not parse", s.RunID)
			}
		}
		prev = s.Head
		sealed[s.RunID] = s
	}
	for _, r := range runs {
		if r.Finished && sealed[r.ID] == nil {
			faults.add(r.ID, "run %d finished but has no seal (every finished run is sealed): its seal was deleted", r.ID)
			break
		}
	}

	// What the seals cover.
	for _, t := range runTables {
		if err := checkRunTableTx(ctx, tx, t, sealed, &faults); err != nil {
			return nil, err
		}
	}
	for _, t := range rangedTables {
		if err := checkRangedTableTx(ctx, tx, t, seals, rep, &faults); err != nil {
			return nil, err
		}
	}
	if err := checkStateTx(ctx, tx, seals, runs, rep, &faults); err != nil {
		return nil, err
	}
	return faults.first(), nil
}

// faultSet keeps, per run, the first fault found.
type faultSet map[int64]*BadRow

func (f *faultSet) add(runID int64, format string, args ...any) {
	if *f == nil {
		*f = faultSet{}
	}
	if _, ok := (*f)[runID]; !ok {
		(*f)[runID] = &BadRow{RunID: runID, Reason: fmt.Sprintf(format, args...)}
	}
}

func (f faultSet) first() *BadRow {
	var out *BadRow
	for _, b := range f {
		if out == nil || b.RunID < out.RunID {
			out = b
		}
	}
	return out
}

func loadSealsTx(ctx context.Context, tx *sql.Tx) ([]*storedSeal, error) {
	rows, err := tx.QueryContext(ctx, `SELECT s.seq, s.run_id, coalesce(r.head_seq, 0), s.seal, s.sealed_at, s.enc, s.covers, s.prev_seal
		FROM run_seals s LEFT JOIN runs r ON r.id = s.run_id ORDER BY s.seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*storedSeal
	for rows.Next() {
		s := &storedSeal{}
		if err := rows.Scan(&s.Seq, &s.RunID, &s.Rows, &s.Head, &s.sealedAt, &s.enc, &s.covers, &s.prev); err != nil {
			return nil, err
		}
		s.SealedAt, _ = parseTime(s.sealedAt)
		s.comps, _ = parseCovers(s.covers) // nil when damaged: a fault above
		out = append(out, s)
	}
	return out, rows.Err()
}

// checkRunTableTx recomputes, for every sealed run, the digest of its rows
// in t.
func checkRunTableTx(ctx context.Context, tx *sql.Tx, t runTable, sealed map[int64]*storedSeal, faults *faultSet) error {
	got := map[int64]*rowHasher{}
	rows, err := tx.QueryContext(ctx, t.query(""))
	if err != nil {
		return fmt.Errorf("verify %s: %w", t.name, err)
	}
	defer rows.Close()
	n, err := columnCount(rows)
	if err != nil {
		return err
	}
	for rows.Next() {
		vals, err := scanValues(rows, n)
		if err != nil {
			return err
		}
		id, _ := vals[0].(int64)
		if sealed[id] == nil {
			continue // an unfinished run's rows: sealed when it finishes
		}
		rh := got[id]
		if rh == nil {
			rh = newRowHasher(t.name)
			got[id] = rh
		}
		if err := rh.row(vals[1:]); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for id, s := range sealed {
		want, ok := s.comps[t.name]
		if !ok {
			continue // sealed before the table was covered, or a damaged seal (a fault already)
		}
		rh := got[id]
		if rh == nil {
			rh = newRowHasher(t.name)
		}
		if d := rh.sum(); d != want.digest || rh.rows != want.rows {
			faults.add(id, "run %d's %s changed since it was sealed: %d rows now (digest %s), %d sealed (%s)",
				id, rowsOf(t.name), rh.rows, short(d), want.rows, short(want.digest))
		}
	}
	return nil
}

// checkRangedTableTx recomputes, for every seal, the digest of the rows of
// t it covers: keys in (previous mark, its mark].
func checkRangedTableTx(ctx context.Context, tx *sql.Tx, t rangedTable, seals []*storedSeal, rep *VerifyReport, faults *faultSet) error {
	rows, err := tx.QueryContext(ctx, t.query(""))
	if err != nil {
		return fmt.Errorf("verify %s: %w", t.name, err)
	}
	defer rows.Close()
	n, err := columnCount(rows)
	if err != nil {
		return err
	}
	// Walk the seals in order alongside the rows in key order.
	i, lo := 0, int64(0)
	cur := newRowHasher(t.name)
	var firstKey, lastKey int64
	// settle compares what seal i covers with the rows seen for it.
	settle := func() {
		s := seals[i]
		if want, ok := s.comps[t.name]; ok {
			if d := cur.sum(); d != want.digest || cur.rows != want.rows {
				span := "none"
				if cur.rows > 0 {
					span = fmt.Sprintf("keys %d..%d", firstKey, lastKey)
				}
				faults.add(s.RunID, "%s sealed by run %d (keys %d..%d) changed since: %d rows now (%s, digest %s), %d sealed (%s)",
					rowsOf(t.name), s.RunID, lo+1, want.mark, cur.rows, span, short(d), want.rows, short(want.digest))
			}
			lo = want.mark
		}
		i++
		cur = newRowHasher(t.name)
	}
	mark := func() int64 { // the upper key of seal i's range
		if c, ok := seals[i].comps[t.name]; ok {
			return c.mark
		}
		return lo
	}
	var pending int64
	for rows.Next() {
		vals, err := scanValues(rows, n)
		if err != nil {
			return err
		}
		key, ok := vals[0].(int64)
		if !ok {
			// No key: a row the auditor never writes (a cached bundle
			// without its verification). It belongs to no seal.
			run := int64(0)
			if len(seals) > 0 {
				run = seals[len(seals)-1].RunID
			}
			faults.add(run, "%s holds a row no seal can cover (%s): inserted outside the auditor", rowsOf(t.name), describeRow(vals[1:]))
			continue
		}
		for i < len(seals) && key > mark() {
			settle()
		}
		if i == len(seals) {
			pending++
			continue
		}
		if cur.rows == 0 {
			firstKey = key
		}
		lastKey = key
		if err := cur.row(vals[1:]); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i < len(seals) {
		settle()
	}
	if pending > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d %s added since the newest seal: the next run's seal covers them", pending, rowsOf(t.name)))
	}
	return nil
}

// checkStateTx compares the mutable columns (seal.go "state") with the
// newest seal. A walk since then changes them legitimately: then it only
// says so.
func checkStateTx(ctx context.Context, tx *sql.Tx, seals []*storedSeal, runs []Run, rep *VerifyReport, faults *faultSet) error {
	if len(seals) == 0 {
		return nil
	}
	newest := seals[len(seals)-1]
	want, ok := newest.comps[stateComponent]
	if !ok {
		return nil
	}
	st := newRowHasher(stateComponent)
	if err := hashRowsTx(ctx, tx, stateQuery, st, 0); err != nil {
		return fmt.Errorf("verify state: %w", err)
	}
	if st.sum() == want.digest {
		return nil
	}
	// A walk happens at the start of every audit job, before its run
	// begins: a run newer than the newest seal, a walk recorded after it,
	// or a walk head other than the sealed run's commit says one did.
	var sealedCommit string
	for _, r := range runs {
		if r.ID == newest.RunID {
			sealedCommit = r.Commit
		}
	}
	var walked string
	var elsewhere int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(walked_at), ''), coalesce(sum(head_commit != ?), 0) FROM walks`,
		sealedCommit).Scan(&walked, &elsewhere); err != nil {
		return err
	}
	later := elsewhere > 0 || walked > newest.sealedAt
	for _, r := range runs {
		if r.ID > newest.RunID {
			later = true
		}
	}
	if later {
		rep.Notes = append(rep.Notes, fmt.Sprintf("pointer removal marks changed since run %d was sealed, by a walk since; the next run's seal covers them", newest.RunID))
		return nil
	}
	faults.add(newest.RunID, "pointer removal marks (removed commit, time, reachability) changed since run %d was sealed, and no walk since explains it", newest.RunID)
	return nil
}

// rowsOf names a table's rows for people.
func rowsOf(table string) string {
	switch table {
	case "runs":
		return "run record"
	case "run_recipes":
		return "recipe statuses"
	case "run_inputs":
		return "run inputs"
	case "pointer_versions":
		return "pointer versions"
	case "bundles":
		return "cached bundles"
	case "bundle_verifications":
		return "bundle verifications"
	case "checkpoints":
		return "log checkpoints"
	case "run_archive":
		return "run's archive store"
	case "archived_bundles":
		return "archive records"
	}
	return strings.ReplaceAll(table, "_", " ") + " rows"
}

// describeRow names a row by its first text value, bounded.
func describeRow(vals []any) string {
	for _, v := range vals {
		if s, ok := v.(string); ok && s != "" {
			if len(s) > 80 {
				s = s[:80] + "…"
			}
			return fmt.Sprintf("%q", s)
		}
	}
	return "a row"
}

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19] + "…"
	}
	return digest
}

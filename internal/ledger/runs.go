package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// RunMeta describes an audit run as it begins.
type RunMeta struct {
	Repo            string    // repository audited (path or URL)
	Ref             string    // branch audited
	Commit          string    // commit the walk reached
	AsOf            time.Time // time ages are measured at; required
	TrustRoot       string    // sha256:<hex> of the trusted root used
	VerifierVersion string    // version of the verification pipeline
	Deep            bool      // full cryptographic verification of every pointer
	Options         string    // free-form record of the options (e.g. JSON); may be empty
	// Kind is KindAudit (also when empty) or KindWhatIf.
	Kind string
	// StartedAt is when the run began; zero means the ledger's clock.
	StartedAt time.Time
}

// Kinds of run (RunMeta.Kind).
const (
	// KindAudit is an audit of the present: the runs that latest, baselines,
	// resumption and issues are about.
	KindAudit = "audit"
	// KindWhatIf is `run --as-of`: what an audit at another time would
	// conclude. Recorded, but never latest, never a baseline, never resumed
	// by an audit, and its issue plan is never sent (SPEC §4).
	KindWhatIf = "what-if"
)

// Run is a run as recorded.
type Run struct {
	ID int64
	RunMeta
	// StartSeq and StartHead are the result chain head when the run began
	// (0 and "" on an empty ledger).
	StartSeq  int64
	StartHead string
	// Finished is false while the run is in progress or after it was killed.
	Finished   bool
	FinishedAt time.Time
	// Complete is true when the run audited every pointer it meant to.
	Complete bool
	// HeadSeq and LedgerHead are the chain head when the run finished
	// ("sha256:<hex>"; "" for an unfinished run or an empty chain).
	HeadSeq    int64
	LedgerHead string
}

// BeginRun records a new, unfinished run and returns it.
func (d *DB) BeginRun(ctx context.Context, m RunMeta) (Run, error) {
	if m.AsOf.IsZero() {
		return Run{}, fmt.Errorf("begin run: %w: as-of time is required", ErrInvalid)
	}
	if m.StartedAt.IsZero() {
		m.StartedAt = d.now()
	}
	switch m.Kind {
	case "":
		m.Kind = KindAudit
	case KindAudit, KindWhatIf:
	default:
		return Run{}, fmt.Errorf("begin run: %w: kind %q", ErrInvalid, m.Kind)
	}
	var r Run
	err := d.write(ctx, func(tx *sql.Tx) error {
		seq, head, err := chainHeadTx(ctx, tx)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO runs
			(repo, ref, commit_id, as_of, trust_root, verifier_version, deep, options, started_at, start_seq, start_head, kind)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.Repo, m.Ref, m.Commit, fmtTime(m.AsOf), m.TrustRoot, m.VerifierVersion, boolInt(m.Deep), m.Options,
			fmtTime(m.StartedAt), seq, head, m.Kind)
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		r, err = runTx(ctx, tx, id)
		return err
	})
	if err != nil {
		return Run{}, fmt.Errorf("begin run: %w", err)
	}
	return r, nil
}

// FinishRun marks the run finished at finishedAt (zero: the ledger's clock),
// complete or not, records the current result chain head in it so that a
// later truncation of the result chain is detectable, and seals it (Seal:
// the run's ledger head, which internal/anchor anchors), in one
// transaction. Finishing a finished run is ErrRunFinished.
func (d *DB) FinishRun(ctx context.Context, id int64, complete bool, finishedAt time.Time) (Run, error) {
	if finishedAt.IsZero() {
		finishedAt = d.now()
	}
	var r Run
	err := d.write(ctx, func(tx *sql.Tx) error {
		cur, err := runTx(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur.Finished {
			return ErrRunFinished
		}
		seq, head, err := chainHeadTx(ctx, tx)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET finished_at = ?, complete = ?, head_seq = ?, ledger_head = ?
			WHERE id = ?`, fmtTime(finishedAt), boolInt(complete), seq, head, id); err != nil {
			return err
		}
		if _, err := sealRunTx(ctx, tx, id, d.now()); err != nil {
			return err
		}
		r, err = runTx(ctx, tx, id)
		return err
	})
	if err != nil {
		return Run{}, fmt.Errorf("finish run %d: %w", id, err)
	}
	return r, nil
}

// Run returns run id, or ErrNotFound.
func (d *DB) Run(ctx context.Context, id int64) (Run, error) {
	var r Run
	err := d.read(ctx, func(tx *sql.Tx) error {
		var e error
		r, e = runTx(ctx, tx, id)
		return e
	})
	if err != nil {
		return Run{}, fmt.Errorf("run %d: %w", id, err)
	}
	return r, nil
}

// LatestRun returns the newest audit run, or with completeOnly the newest
// finished complete one; ErrNotFound when there is none. What-if runs are
// never the latest run (SPEC §4).
func (d *DB) LatestRun(ctx context.Context, completeOnly bool) (Run, error) {
	q := `SELECT ` + runColumns + ` FROM runs WHERE kind = 'audit' ORDER BY id DESC LIMIT 1`
	if completeOnly {
		q = `SELECT ` + runColumns + ` FROM runs WHERE kind = 'audit' AND finished_at != '' AND complete = 1 ORDER BY id DESC LIMIT 1`
	}
	r, err := d.oneRun(ctx, q)
	if err != nil {
		return Run{}, fmt.Errorf("latest run: %w", err)
	}
	return r, nil
}

// PreviousCompleteRun returns the baseline of run beforeID (what a report's
// changes compare against): the newest finished, complete audit run older
// than it that is not degraded (see audit.Degraded) — neither a what-if
// run nor an audit that could not decide most pointers is a picture of
// the evidence to compare with. ErrNotFound when there is none.
func (d *DB) PreviousCompleteRun(ctx context.Context, beforeID int64) (Run, error) {
	var r Run
	err := d.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+runColumns+` FROM runs
			WHERE id < ? AND kind = 'audit' AND finished_at != '' AND complete = 1 ORDER BY id DESC`, beforeID)
		if err != nil {
			return err
		}
		var candidates []Run
		for rows.Next() {
			c, err := scanRun(rows)
			if err != nil {
				rows.Close()
				return err
			}
			candidates = append(candidates, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, c := range candidates {
			total, undecided, err := runCountsTx(ctx, tx, c.ID)
			if err != nil {
				return err
			}
			if !audit.Degraded(total, undecided) {
				r = c
				return nil
			}
		}
		return ErrNotFound
	})
	if err != nil {
		return Run{}, fmt.Errorf("run before %d: %w", beforeID, err)
	}
	return r, nil
}

// RunCounts returns how many results run id recorded and how many of them
// are no-verdict (for audit.Degraded).
func (d *DB) RunCounts(ctx context.Context, id int64) (results, noVerdict int, err error) {
	err = d.read(ctx, func(tx *sql.Tx) error {
		var e error
		results, noVerdict, e = runCountsTx(ctx, tx, id)
		return e
	})
	if err != nil {
		return 0, 0, fmt.Errorf("count results of run %d: %w", id, err)
	}
	return results, noVerdict, nil
}

func runCountsTx(ctx context.Context, tx *sql.Tx, id int64) (results, noVerdict int, err error) {
	err = tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(verdict = ?), 0) FROM results WHERE run_id = ?`,
		string(audit.NoVerdict), id).Scan(&results, &noVerdict)
	return results, noVerdict, err
}

// IncompleteRun returns the newest unfinished run (one that crashed or is in
// progress), for resuming; ErrNotFound when every run is finished.
func (d *DB) IncompleteRun(ctx context.Context) (Run, error) {
	r, err := d.oneRun(ctx, `SELECT `+runColumns+` FROM runs WHERE finished_at = '' ORDER BY id DESC LIMIT 1`)
	if err != nil {
		return Run{}, fmt.Errorf("incomplete run: %w", err)
	}
	return r, nil
}

// Runs returns every run, oldest first.
func (d *DB) Runs(ctx context.Context) ([]Run, error) {
	var out []Run
	err := d.read(ctx, func(tx *sql.Tx) error {
		var e error
		out, e = runsTx(ctx, tx)
		return e
	})
	if err != nil {
		return nil, fmt.Errorf("runs: %w", err)
	}
	return out, nil
}

func (d *DB) oneRun(ctx context.Context, q string, args ...any) (Run, error) {
	var r Run
	err := d.read(ctx, func(tx *sql.Tx) error {
		var e error
		r, e = scanRun(tx.QueryRowContext(ctx, q, args...))
		return e
	})
	return r, err
}

const runColumns = `id, repo, ref, commit_id, as_of, trust_root, verifier_version, deep, options,
	started_at, start_seq, start_head, finished_at, complete, head_seq, ledger_head, kind`

func runTx(ctx context.Context, tx *sql.Tx, id int64) (Run, error) {
	return scanRun(tx.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
}

func runsTx(ctx context.Context, tx *sql.Tx) ([]Run, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+runColumns+` FROM runs ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(...any) error }

func scanRun(s scanner) (Run, error) {
	var r Run
	var asOf, started, finished string
	var deep, complete int
	err := s.Scan(&r.ID, &r.Repo, &r.Ref, &r.Commit, &asOf, &r.TrustRoot, &r.VerifierVersion, &deep, &r.Options,
		&started, &r.StartSeq, &r.StartHead, &finished, &complete, &r.HeadSeq, &r.LedgerHead, &r.Kind)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, ErrNotFound
	}
	if err != nil {
		return Run{}, err
	}
	r.Deep, r.Complete, r.Finished = deep == 1, complete == 1, finished != ""
	if r.AsOf, err = parseTime(asOf); err != nil {
		return Run{}, err
	}
	if r.StartedAt, err = parseTime(started); err != nil {
		return Run{}, err
	}
	if r.FinishedAt, err = parseTime(finished); err != nil {
		return Run{}, err
	}
	return r, nil
}

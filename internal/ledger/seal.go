package ledger

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"
)

// A run's seal is its ledger head (SPEC §6, §10): SHA-256 chained over the
// previous seal and a digest of every row the run added to the tables a
// report is rendered from, so that one anchored value vouches for all of it.
// The result chain keeps hashing result rows one by one; the seal covers
// its head and everything else.
//
// What a seal covers, by kind of table:
//
//   - run tables (runTables): rows that belong to one run — the run's own
//     row in runs (kind, times, completeness, result chain head), its
//     recipe statuses, its inputs. Each seal covers its run's rows.
//   - ranged tables (rangedTables): append-only rows ordered by an integer
//     key that only grows — pointer versions, the bundle cache and its
//     verifications, transparency-log checkpoints. Each seal covers the
//     rows added since the previous seal: keys in (previous mark, mark].
//   - state: the columns a later walk legitimately changes (a pointer
//     version's removal and reachability). Each seal records their digest
//     as it was when the run finished; only the newest seal can be checked
//     against the tables, and only while no walk has changed them since.
//
// To cover a new table, add it to runTables or rangedTables. Changing what
// an existing entry hashes changes old seals: add a new encoding version
// instead (as the result chain does with its enc column).

// sealEncV1 is the only seal encoding so far (run_seals.enc).
const sealEncV1 = 1

// sealTagV1 opens the v1 seal encoding and, with the component name, every
// component digest (domain separation).
const sealTagV1 = "evidence-auditd/ledger/seal/v1"

// runTable is a table whose rows belong to one run.
type runTable struct {
	name  string // component name; the table unless from names it
	from  string // the table, when columns added to name's table are covered as a component of their own
	run   string // the column naming the run
	cols  string // the columns hashed, in order
	order string // the order rows are hashed in, within a run
}

// rangedTable is an append-only table whose rows are ordered by an integer
// key that grows with every insert.
type rangedTable struct {
	name string // component name; the table
	key  string // SQL expression of the key, over alias t; NULL = the row belongs to no seal (an error)
	cols string // the columns hashed, in order, over alias t
}

var runTables = []runTable{
	{name: "runs", run: "id", cols: `id, repo, ref, commit_id, as_of, trust_root, verifier_version, deep, options,
		started_at, start_seq, start_head, finished_at, complete, head_seq, ledger_head, kind`, order: "id"},
	{name: "run_recipes", run: "run_id", cols: `run_id, recipe, needs_recert, reason, undetermined, freshest_path,
		freshest_commit, freshest_attested_at, freshest_age, live_pointers, lost`, order: "recipe"},
	{name: "run_inputs", run: "run_id", cols: "run_id, evidence_dir, allowlist", order: "run_id"},
	// The archive store a run used (migration 0009), which reports show
	// (SPEC §5, §9): a component of its own, so that seals made before it
	// was covered keep their digests.
	{name: "run_archive", from: "run_inputs", run: "run_id", cols: "run_id, archive", order: "run_id"},
}

var rangedTables = []rangedTable{
	{name: "pointer_versions", key: "t.id",
		cols: "t.id, t.repo_key, t.ref, t.path, t.added_commit, t.blob, t.content, t.added_at, t.too_large"},
	// A bundle is cached with its first verification, in one transaction:
	// that verification's id orders it.
	{name: "bundles", key: "(SELECT min(v.id) FROM bundle_verifications v WHERE v.digest = t.digest)",
		cols: "t.digest, t.sigstore_bundle, t.statement, t.bundle_sha256, t.statement_sha256, t.created_at"},
	{name: "bundle_verifications", key: "t.id",
		cols: `t.id, t.digest, t.trust_root, t.verifier_version, t.verified_at, t.log_index, t.integrated_time,
			t.bundle_sha256, t.layer_digest, t.referrer_digest, t.oci`},
	{name: "checkpoints", key: "t.id", cols: "t.id, t.log_id, t.tree_size, t.root_hash, t.raw, t.seen_at, t.run_id"},
	// The archive's records (SPEC §9): reports render each pointer's
	// archive state and the coverage from them.
	{name: "archived_bundles", key: "t.id",
		cols: "t.id, t.digest, t.store, t.signature_kind, t.referrer_digest, t.objects, t.bytes, t.archived_at, t.run_id"},
}

// stateComponent names the digest of the mutable columns (see above).
const stateComponent = "state"

const stateQuery = `SELECT id, removed_commit, removed_at, unreachable FROM pointer_versions ORDER BY id`

// Seal is a run's seal as recorded.
type Seal struct {
	Seq   int64 // position in sealing order, 1, 2, 3, ...
	RunID int64
	// Rows is the length of the result chain the seal covers (the run's
	// head seq).
	Rows int64
	// Head is the seal, "sha256:<hex>": the run's ledger head, what its
	// anchor carries.
	Head     string
	SealedAt time.Time
}

// component is one line of a seal's covers text.
type component struct {
	name   string
	mark   int64 // ranged tables: the highest key covered so far; -1 for the others
	rows   int64
	digest string
}

func (c component) String() string {
	mark := "-"
	if c.mark >= 0 {
		mark = strconv.FormatInt(c.mark, 10)
	}
	return fmt.Sprintf("%s %s %d %s", c.name, mark, c.rows, c.digest)
}

func formatCovers(cs []component) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func parseCovers(s string) (map[string]component, error) {
	out := map[string]component{}
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			return nil, fmt.Errorf("covers line %q: want 4 fields", line)
		}
		c := component{name: f[0], mark: -1, digest: f[3]}
		var err error
		if f[1] != "-" {
			if c.mark, err = strconv.ParseInt(f[1], 10, 64); err != nil {
				return nil, fmt.Errorf("covers line %q: mark: %w", line, err)
			}
		}
		if c.rows, err = strconv.ParseInt(f[2], 10, 64); err != nil {
			return nil, fmt.Errorf("covers line %q: rows: %w", line, err)
		}
		if _, dup := out[c.name]; dup {
			return nil, fmt.Errorf("covers: %s twice", c.name)
		}
		out[c.name] = c
	}
	return out, nil
}

// sealHash computes the seal of run runID over covers, chained to prev.
func sealHash(enc int, prev string, runID int64, covers string) (string, error) {
	if enc != sealEncV1 {
		return "", fmt.Errorf("unknown seal encoding %d", enc)
	}
	raw, err := parseHash(prev)
	if err != nil {
		return "", fmt.Errorf("prev seal: %w", err)
	}
	h := sha256.New()
	h.Write(raw)
	h.Write([]byte(sealTagV1 + "\n"))
	writeField(h, []byte(strconv.FormatInt(runID, 10)))
	writeField(h, []byte(covers))
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// rowHasher digests the rows of one component: the tag and name, then each
// row as its fields, each field a type letter and a netstring of its stored
// value (i: integer, t: text, b: blob, r: real, n: null). Stored values are
// hashed as SQLite returns them, never re-rendered.
type rowHasher struct {
	h    hash.Hash
	rows int64
}

func newRowHasher(name string) *rowHasher {
	h := sha256.New()
	h.Write([]byte(sealTagV1 + "/" + name + "\n"))
	return &rowHasher{h: h}
}

func (r *rowHasher) row(vals []any) error {
	for _, v := range vals {
		switch x := v.(type) {
		case nil:
			r.h.Write([]byte{'n'})
			writeField(r.h, nil)
		case int64:
			r.h.Write([]byte{'i'})
			writeField(r.h, []byte(strconv.FormatInt(x, 10)))
		case string:
			r.h.Write([]byte{'t'})
			writeField(r.h, []byte(x))
		case []byte:
			r.h.Write([]byte{'b'})
			writeField(r.h, x)
		case float64:
			r.h.Write([]byte{'r'})
			writeField(r.h, []byte(strconv.FormatFloat(x, 'g', -1, 64)))
		case bool: // not returned by the driver for stored rows; kept total
			r.h.Write([]byte{'i'})
			writeField(r.h, []byte(strconv.Itoa(boolInt(x))))
		case time.Time:
			r.h.Write([]byte{'t'})
			writeField(r.h, []byte(x.UTC().Format(time.RFC3339Nano)))
		default:
			return fmt.Errorf("seal: unexpected stored value of type %T", v)
		}
	}
	r.h.Write([]byte{'\n'})
	r.rows++
	return nil
}

func (r *rowHasher) sum() string { return "sha256:" + hex.EncodeToString(r.h.Sum(nil)) }

// writeField writes <decimal length> ":" bytes ",".
func writeField(h hash.Hash, b []byte) {
	h.Write([]byte(strconv.Itoa(len(b))))
	h.Write([]byte{':'})
	h.Write(b)
	h.Write([]byte{','})
}

// scanValues scans a row of n columns as stored values.
func scanValues(rows *sql.Rows, n int) ([]any, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	return vals, nil
}

func columnCount(rows *sql.Rows) (int, error) {
	cols, err := rows.Columns()
	return len(cols), err
}

// runTableQuery selects a run table's rows with the run id first; where is
// "" or a WHERE clause.
func (t runTable) query(where string) string {
	table := t.name
	if t.from != "" {
		table = t.from
	}
	return `SELECT ` + t.run + `, ` + t.cols + ` FROM ` + table + ` ` + where + ` ORDER BY ` + t.run + `, ` + t.order
}

// rangedQuery selects a ranged table's rows with their key first, in key
// order (rows whose key is NULL first).
func (t rangedTable) query(where string) string {
	return `SELECT * FROM (SELECT ` + t.key + ` AS k, ` + t.cols + ` FROM ` + t.name + ` t) ` + where + ` ORDER BY k`
}

// sealRunTx seals run id, which must be finished and unsealed, after the
// newest seal; now is the seal's time.
func sealRunTx(ctx context.Context, tx *sql.Tx, id int64, now time.Time) (Seal, error) {
	return sealRunMarksTx(ctx, tx, id, now, nil, nil)
}

// sealRunMarksTx is sealRunTx with the ranged tables' marks given (by
// table name) instead of taken from the tables, and the state component
// given instead of computed: RehashUnsafe reproduces the seals of a
// rewritten ledger range for range.
func sealRunMarksTx(ctx context.Context, tx *sql.Tx, id int64, now time.Time, marks map[string]int64, state *component) (Seal, error) {
	prevSeq, prevSeal, prevCovers, err := newestSealTx(ctx, tx)
	if err != nil {
		return Seal{}, err
	}
	var cs []component
	for _, t := range runTables {
		rh := newRowHasher(t.name)
		if err := hashRowsTx(ctx, tx, t.query(`WHERE `+t.run+` = ?`), rh, 1, id); err != nil {
			return Seal{}, fmt.Errorf("seal %s: %w", t.name, err)
		}
		cs = append(cs, component{name: t.name, mark: -1, rows: rh.rows, digest: rh.sum()})
	}
	for _, t := range rangedTables {
		from := int64(0)
		if c, ok := prevCovers[t.name]; ok {
			from = c.mark
		}
		rh := newRowHasher(t.name)
		mark := from
		where, args := `WHERE k > ?`, []any{from}
		if m, ok := marks[t.name]; ok {
			where, args, mark = `WHERE k > ? AND k <= ?`, []any{from, m}, m
		}
		rows, err := tx.QueryContext(ctx, t.query(where), args...)
		if err != nil {
			return Seal{}, fmt.Errorf("seal %s: %w", t.name, err)
		}
		n, err := columnCount(rows)
		for err == nil && rows.Next() {
			var vals []any
			if vals, err = scanValues(rows, n); err != nil {
				break
			}
			if k := vals[0].(int64); k > mark { // WHERE k > ? excludes NULL keys
				mark = k
			}
			err = rh.row(vals[1:])
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
		if err != nil {
			return Seal{}, fmt.Errorf("seal %s: %w", t.name, err)
		}
		cs = append(cs, component{name: t.name, mark: mark, rows: rh.rows, digest: rh.sum()})
	}
	if state != nil {
		cs = append(cs, *state)
	} else {
		st := newRowHasher(stateComponent)
		if err := hashRowsTx(ctx, tx, stateQuery, st, 0); err != nil {
			return Seal{}, fmt.Errorf("seal state: %w", err)
		}
		cs = append(cs, component{name: stateComponent, mark: -1, rows: st.rows, digest: st.sum()})
	}

	covers := formatCovers(cs)
	if prevSeal == "" {
		prevSeal = genesisHash
	}
	seal, err := sealHash(sealEncV1, prevSeal, id, covers)
	if err != nil {
		return Seal{}, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO run_seals (seq, run_id, enc, covers, prev_seal, seal, sealed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, prevSeq+1, id, sealEncV1, covers, prevSeal, seal, fmtTime(now)); err != nil {
		return Seal{}, fmt.Errorf("seal run %d: %w", id, err)
	}
	s, _, err := sealTx(ctx, tx, id)
	return s, err
}

// hashRowsTx feeds the rows of q to rh, dropping the first skip columns.
func hashRowsTx(ctx context.Context, tx *sql.Tx, q string, rh *rowHasher, skip int, args ...any) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
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
		if err := rh.row(vals[skip:]); err != nil {
			return err
		}
	}
	return rows.Err()
}

// newestSealTx returns the newest seal's seq, hash and components; 0, ""
// and none when no run is sealed.
func newestSealTx(ctx context.Context, tx *sql.Tx) (int64, string, map[string]component, error) {
	var seq int64
	var seal, covers string
	err := tx.QueryRowContext(ctx, `SELECT seq, seal, covers FROM run_seals ORDER BY seq DESC LIMIT 1`).Scan(&seq, &seal, &covers)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", map[string]component{}, nil
	}
	if err != nil {
		return 0, "", nil, err
	}
	cs, err := parseCovers(covers)
	if err != nil {
		return 0, "", nil, fmt.Errorf("seal %d: %w", seq, err)
	}
	return seq, seal, cs, nil
}

// sealLegacyRunsTx seals, in id order, the finished runs that have no seal:
// the runs of a ledger from before sealing existed (migration 0010). Their
// seals vouch for the ledger as it is at the upgrade.
func sealLegacyRunsTx(ctx context.Context, tx *sql.Tx, now time.Time) error {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM runs WHERE finished_at != ''
		AND id NOT IN (SELECT run_id FROM run_seals) ORDER BY id`)
	if err != nil {
		return err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := sealRunTx(ctx, tx, id, now); err != nil {
			return err
		}
	}
	return nil
}

const sealColumns = `s.seq, s.run_id, r.head_seq, s.seal, s.sealed_at`

func scanSeal(sc scanner) (Seal, error) {
	var s Seal
	var rows sql.NullInt64 // NULL when the run's row is gone
	var at string
	if err := sc.Scan(&s.Seq, &s.RunID, &rows, &s.Head, &at); err != nil {
		return Seal{}, err
	}
	s.Rows = rows.Int64
	var err error
	s.SealedAt, err = parseTime(at)
	return s, err
}

func sealTx(ctx context.Context, tx *sql.Tx, runID int64) (Seal, bool, error) {
	s, err := scanSeal(tx.QueryRowContext(ctx, `SELECT `+sealColumns+` FROM run_seals s
		LEFT JOIN runs r ON r.id = s.run_id WHERE s.run_id = ?`, runID))
	if errors.Is(err, sql.ErrNoRows) {
		return Seal{}, false, nil
	}
	if err != nil {
		return Seal{}, false, err
	}
	return s, true, nil
}

// Seal returns the seal of run runID as stored; ok is false when the run is
// not sealed (unfinished, or no such run). Verify says whether it holds.
func (d *DB) Seal(ctx context.Context, runID int64) (s Seal, ok bool, err error) {
	err = d.read(ctx, func(tx *sql.Tx) error {
		var e error
		s, ok, e = sealTx(ctx, tx, runID)
		return e
	})
	if err != nil {
		return Seal{}, false, fmt.Errorf("seal of run %d: %w", runID, err)
	}
	return s, ok, nil
}

// Seals returns every seal as stored, in sealing order.
func (d *DB) Seals(ctx context.Context) ([]Seal, error) {
	var out []Seal
	err := d.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+sealColumns+` FROM run_seals s
			LEFT JOIN runs r ON r.id = s.run_id ORDER BY s.seq`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			s, err := scanSeal(rows)
			if err != nil {
				return err
			}
			out = append(out, s)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("seals: %w", err)
	}
	return out, nil
}

// ID returns the ledger's identity (ledger_meta id, 32 hex digits), made
// once when the ledger reached schema version 10.
func (d *DB) ID(ctx context.Context) (string, error) {
	var id string
	err := d.read(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `SELECT value FROM ledger_meta WHERE key = 'id'`).Scan(&id)
	})
	if err != nil {
		return "", fmt.Errorf("ledger id: %w", err)
	}
	return id, nil
}

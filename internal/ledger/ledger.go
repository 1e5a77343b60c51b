package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/evidence-auditd/evidence-auditd/internal/atomicfile"
)

// Sentinel errors. Callers match them with errors.Is.
var (
	// ErrNotFound: the run (or other record) asked for does not exist.
	ErrNotFound = errors.New("ledger: not found")
	// ErrSchemaTooNew: the ledger was written by a newer binary.
	ErrSchemaTooNew = errors.New("ledger: schema newer than this binary")
	// ErrSchemaOutdated: a read-only open found migrations not yet applied.
	ErrSchemaOutdated = errors.New("ledger: schema needs migration")
	// ErrNotLedger: the file is SQLite but holds no ledger schema.
	ErrNotLedger = errors.New("ledger: not an evidence-auditd ledger")
	// ErrReadOnly: a write was attempted on a ledger opened with OpenReadOnly.
	ErrReadOnly = errors.New("ledger: opened read-only")
	// ErrDuplicateResult: the run already holds a result for that pointer version.
	ErrDuplicateResult = errors.New("ledger: duplicate result for pointer version in run")
	// ErrRunFinished: the run is finished; it takes no more results.
	ErrRunFinished = errors.New("ledger: run already finished")
	// ErrInvalid: the record to store is malformed.
	ErrInvalid = errors.New("ledger: invalid record")
	// ErrWalkMismatch: a walk delta does not continue from the recorded head.
	ErrWalkMismatch = errors.New("ledger: walk delta does not continue from the recorded head")
)

// busyTimeoutMS is how long a connection waits for another writer (in this
// or another process) before a statement fails with SQLITE_BUSY.
const busyTimeoutMS = 5000

// DB is an open ledger. It is safe for concurrent use.
type DB struct {
	db       *sql.DB
	path     string
	readOnly bool
	now      func() time.Time
	hook     AppendHook

	// wmu serialises this process's writers so they queue on a mutex rather
	// than on SQLite's sleeping busy handler; other processes are held off by
	// BEGIN IMMEDIATE and busy_timeout.
	wmu sync.Mutex
}

// Option configures Open and OpenReadOnly.
type Option func(*options) error

type options struct {
	now  func() time.Time
	hook AppendHook
}

// ChainPoint is a place in the result chain: a row's seq and hash
// ("sha256:<hex>"); 0 and "" before the first row.
type ChainPoint struct {
	Seq  int64
	Hash string
}

// AppendHook is told, inside the transaction that appends result rows to a
// run and before it commits, the chain head before the rows and the head
// they make. An error rolls the append back. internal/anchor records the
// progress of an unfinished run outside the database with it, so that rows
// forged into a run that crashed are told from the rows the auditor wrote
// (SPEC §6).
type AppendHook func(runID int64, before, after ChainPoint) error

// WithAppendHook sets the hook AppendResults calls before each commit.
func WithAppendHook(h AppendHook) Option {
	return func(o *options) error {
		o.hook = h
		return nil
	}
}

// WithClock sets the clock used for timestamps the ledger takes itself
// (run start when RunMeta.StartedAt is zero, walk times, bundle rows).
// Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return fmt.Errorf("%w: WithClock(nil)", ErrInvalid)
		}
		o.now = now
		return nil
	}
}

// Open opens the ledger at path read-write, creating the file if it does not
// exist (its directory must exist), and applies pending migrations. It fails
// with ErrSchemaTooNew when the ledger was migrated by a newer binary.
//
// Connection pragmas (every pooled connection): busy_timeout(5000);
// journal_mode(wal); foreign_keys(1); synchronous(full). FULL rather than
// NORMAL: in WAL mode NORMAL survives a process crash but may lose the last
// committed transactions on power loss or an OS crash, and the ledger is the
// system of record that issue operations and the next run's resume are
// decided from; a result the daemon believed committed must stay committed.
// The price is one fsync of the WAL per commit; AppendResults batches.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	if err := create(ctx, path, opts); err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	d, err := open(path, false, opts)
	if err != nil {
		return nil, err
	}
	if _, err := d.Migrate(ctx); err != nil {
		d.db.Close()
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	return d, nil
}

// initKind names the temporary files a new ledger is built in.
const initKind = "init"

// create makes a new ledger at path complete or not at all: the schema is
// built in a temporary file beside it, closed (which checkpoints the
// write-ahead log into it) and linked into place, so that a process killed
// while creating a ledger leaves no half-made file for `ledger verify` or
// `report` to stumble on — only a temporary file, which the next create
// removes. An existing path is left alone (Open migrates it), also when
// another process linked its ledger first.
func create(ctx context.Context, path string, opts []Option) error {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return nil // exists, or a problem open reports with its own words
	}
	dir := filepath.Dir(path)
	atomicfile.RemoveStale(path, initKind)
	f, err := os.CreateTemp(dir, atomicfile.TempPattern(path, initKind))
	if err != nil {
		return err
	}
	tmp := f.Name()
	f.Close()
	defer func() {
		for _, p := range []string{tmp, tmp + "-wal", tmp + "-shm"} {
			os.Remove(p)
		}
	}()
	d, err := open(tmp, false, opts)
	if err != nil {
		return err
	}
	if _, err := d.Migrate(ctx); err != nil {
		d.db.Close()
		return err
	}
	if err := d.db.Close(); err != nil {
		return err
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	syncDir(dir)
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// syncDir makes a new directory entry durable (best effort: not every file
// system supports it).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// OpenReadOnly opens an existing ledger for reading (report, ledger verify,
// export). It never creates the file and never migrates: a missing file is an
// error matching fs.ErrNotExist, a ledger from a newer binary is
// ErrSchemaTooNew and one that still needs migrating is ErrSchemaOutdated.
func OpenReadOnly(ctx context.Context, path string, opts ...Option) (*DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	d, err := open(path, true, opts)
	if err != nil {
		return nil, err
	}
	cur, latest, err := d.SchemaVersion(ctx)
	if err == nil {
		switch {
		case cur > latest:
			err = fmt.Errorf("%w: ledger is at version %d, this binary knows up to %d", ErrSchemaTooNew, cur, latest)
		case cur < latest:
			err = fmt.Errorf("%w: ledger is at version %d, this binary expects %d; run `evidence-auditd ledger migrate`", ErrSchemaOutdated, cur, latest)
		}
	}
	if err != nil {
		d.db.Close()
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	return d, nil
}

func open(path string, readOnly bool, opts []Option) (*DB, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if path == "" {
		return nil, fmt.Errorf("open ledger: %w: empty path", ErrInvalid)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	dir := filepath.Dir(abs)
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("open ledger %s: directory %s: %w", path, dir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("open ledger %s: %s is not a directory", path, dir)
	}
	immutable := false
	if readOnly {
		if immutable, err = readOnlyAccess(abs, dir); err != nil {
			return nil, fmt.Errorf("open ledger %s: %w", path, err)
		}
	}
	db, err := sql.Open("sqlite", dsn(abs, readOnly, immutable))
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	return &DB{db: db, path: abs, readOnly: readOnly, now: o.now, hook: o.hook}, nil
}

// readOnlyAccess decides how a read-only open can read the ledger when its
// directory is not writable — the common case of an auditor handed the file
// (SPEC §4). SQLite's WAL mode needs to create the -shm file beside the
// database even to read: with the -wal and -shm files present it reads
// through them; with no write-ahead log (or an empty one) every committed
// row is in the main file, and the file is opened immutable (no locks, no
// -shm). A non-empty -wal without its -shm cannot be read from here, and
// reading the main file alone would silently miss the newest rows, so that
// is an error that says what to do.
func readOnlyAccess(abs, dir string) (immutable bool, err error) {
	if syscall.Access(dir, 0x2 /* W_OK */) == nil {
		return false, nil
	}
	wal, werr := os.Stat(abs + "-wal")
	_, serr := os.Stat(abs + "-shm")
	switch {
	case werr != nil || wal.Size() == 0:
		return true, nil
	case serr == nil:
		return false, nil
	}
	return false, fmt.Errorf("%s holds changes not yet in the main file and %s is not writable, so SQLite cannot read them: "+
		"copy the ledger with its -wal file to a writable directory, or ask its owner to checkpoint it (evidence-auditd ledger migrate)", abs+"-wal", dir)
}

// pageCacheKiB is each connection's SQLite page cache. SQLite's default
// (2 MiB) makes a 10 000-pointer run re-read the same index pages from the
// file system thousands of times (a quarter of the fast path's CPU was
// pread); 8 MiB keeps a run's working set of result and verification
// indexes, for a few MiB of heap per pooled connection.
const pageCacheKiB = 8 << 10

// dsn builds a file: URI so that SQLite's own mode parameter applies and odd
// characters in the path are escaped. Pragmas go in the DSN so that every
// pooled connection gets them.
func dsn(abs string, readOnly, immutable bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", fmt.Sprintf("cache_size(%d)", -pageCacheKiB))
	if readOnly {
		q.Set("mode", "ro")
		if immutable {
			q.Set("immutable", "1")
		}
	} else {
		q.Set("mode", "rwc")
		q.Add("_pragma", "journal_mode(wal)")
		q.Add("_pragma", "synchronous(full)")
		// Writers take the lock at BEGIN: a deferred transaction that
		// reads and then writes fails with SQLITE_BUSY at once under WAL
		// when another writer got in between, busy_timeout or not.
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}
	return u.String()
}

// Path is the absolute path of the ledger file.
func (d *DB) Path() string { return d.path }

// Close closes the ledger.
func (d *DB) Close() error {
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("close ledger: %w", err)
	}
	return nil
}

// read runs fn in a read transaction: one consistent snapshot.
func (d *DB) read(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// write runs fn in an IMMEDIATE transaction and commits it.
func (d *DB) write(ctx context.Context, fn func(*sql.Tx) error) error {
	if d.readOnly {
		return ErrReadOnly
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// execer runs one statement in a transaction: the *sql.Tx itself, or a
// txStmts for a loop over many rows.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// txStmts prepares each statement once for a transaction that runs it for
// many rows; SQLite would otherwise parse and plan it again for every row.
type txStmts struct {
	tx *sql.Tx
	m  map[string]*sql.Stmt
}

func newTxStmts(tx *sql.Tx) *txStmts { return &txStmts{tx: tx, m: map[string]*sql.Stmt{}} }

func (s *txStmts) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, ok := s.m[query]
	if !ok {
		var err error
		if st, err = s.tx.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		s.m[query] = st
	}
	return st.ExecContext(ctx, args...)
}

// Close closes the prepared statements (the transaction's end would too).
func (s *txStmts) Close() {
	for _, st := range s.m {
		st.Close()
	}
}

// timeLayout is fixed-width so that stored times sort as strings.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// fmtTime renders t in UTC with timeLayout; the zero time is "".
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// parseTime reverses fmtTime.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

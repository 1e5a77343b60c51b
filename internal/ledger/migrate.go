package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/evidence-auditd/evidence-auditd/migrations"
)

// migration is one numbered schema file.
type migration struct {
	version int
	name    string // file name, e.g. 0001_init.sql
	sql     string
}

var migrationName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

// loadMigrations reads and checks the embedded files: versions 1..n, no gap,
// no duplicate.
func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		m := migrationName.FindStringSubmatch(name)
		if m == nil {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.sql", name)
		}
		v, _ := strconv.Atoi(m[1])
		body, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %04d", m.name, i+1)
		}
	}
	return ms, nil
}

// sealingVersion is the migration that introduced run seals
// (0010_run_seals): a ledger that crosses it has its finished runs sealed,
// after every pending migration, in the same transaction (the seal covers
// tables later migrations may add).
const sealingVersion = 10

const createSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`

// SchemaVersion reports the ledger's schema version (0 for an empty file) and
// the newest version this binary knows.
func (d *DB) SchemaVersion(ctx context.Context) (current, latest int, err error) {
	ms, err := loadMigrations()
	if err != nil {
		return 0, 0, err
	}
	err = d.read(ctx, func(tx *sql.Tx) error {
		var e error
		current, e = schemaVersionTx(ctx, tx)
		return e
	})
	if err != nil {
		return 0, 0, fmt.Errorf("schema version: %w", err)
	}
	return current, len(ms), nil
}

// schemaVersionTx returns the highest applied migration, 0 for an empty
// database and ErrNotLedger for a database with tables but no
// schema_migrations.
func schemaVersionTx(ctx context.Context, tx *sql.Tx) (int, error) {
	var n int
	if err := tx.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n); err != nil {
		return 0, err
	}
	if n == 0 {
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master`).Scan(&n); err != nil {
			return 0, err
		}
		if n > 0 {
			return 0, ErrNotLedger
		}
		return 0, nil
	}
	var v sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, err
	}
	return int(v.Int64), nil
}

// Migrate applies the pending migrations and returns the names of those it
// applied (none when up to date). Open calls it; `ledger migrate` calls it
// explicitly. All pending migrations go in one transaction: a process
// killed mid-upgrade leaves the ledger at its old version, never between
// two (SQLite's DDL is transactional). Concurrent migrators in several
// processes are safe: the version is re-read under the write lock.
func (d *DB) Migrate(ctx context.Context) (applied []string, err error) {
	ms, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	err = d.write(ctx, func(tx *sql.Tx) error {
		applied = applied[:0]
		sealing := false
		for _, m := range ms {
			done, err := applyMigrationTx(ctx, tx, m, len(ms), d.now())
			if err != nil {
				return fmt.Errorf("migrate %s: %w", m.name, err)
			}
			if done {
				applied = append(applied, m.name)
				sealing = sealing || m.version == sealingVersion
			}
		}
		if sealing {
			if err := sealLegacyRunsTx(ctx, tx, d.now()); err != nil {
				return fmt.Errorf("migrate: seal the runs finished before version %d: %w", sealingVersion, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}

func applyMigrationTx(ctx context.Context, tx *sql.Tx, m migration, latest int, now time.Time) (bool, error) {
	cur, err := schemaVersionTx(ctx, tx)
	if err != nil {
		return false, err
	}
	if cur > latest {
		return false, fmt.Errorf("%w: ledger is at version %d, this binary knows up to %d; upgrade evidence-auditd", ErrSchemaTooNew, cur, latest)
	}
	if cur >= m.version {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, createSchemaMigrations); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, fmtTime(now)); err != nil {
		return false, err
	}
	return true, nil
}

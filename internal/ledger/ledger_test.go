package ledger_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

func TestOpenMigratesNewLedger(t *testing.T) {
	ctx := context.Background()
	path := ledgerPath(t)
	db := openAt(t, path)
	cur, latest, err := db.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cur != latest || latest < 1 {
		t.Errorf("SchemaVersion = %d, %d; want current == latest >= 1", cur, latest)
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 {
		t.Errorf("Migrate on an up-to-date ledger applied %v, want nothing", applied)
	}

	raw := rawSQL(t, path)
	var mode string
	if err := raw.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if got, want := mode, "wal"; got != want {
		t.Errorf("journal_mode = %q, want %q", got, want)
	}
	var n int
	if err := raw.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != latest {
		t.Errorf("schema_migrations has %d rows, want %d", n, latest)
	}
}

func TestOpenTwiceIsIdempotent(t *testing.T) {
	path := ledgerPath(t)
	db := openAt(t, path)
	run := beginRun(t, db)
	appendN(t, db, run.ID, 0, 3)
	db.Close()

	db2 := openAt(t, path)
	seq, _, err := db2.ChainHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if seq != 3 {
		t.Errorf("after reopen ChainHead seq = %d, want 3", seq)
	}
}

func TestOpenMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope", "ledger.db")
	_, err := ledger.Open(context.Background(), path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open in a missing directory: err = %v, want fs.ErrNotExist", err)
	}
	if _, serr := os.Stat(filepath.Dir(path)); !errors.Is(serr, fs.ErrNotExist) {
		t.Errorf("Open created the directory")
	}
}

func TestOpenReadOnlyMissingFile(t *testing.T) {
	path := ledgerPath(t)
	_, err := ledger.OpenReadOnly(context.Background(), path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenReadOnly(missing) err = %v, want fs.ErrNotExist", err)
	}
	if _, serr := os.Stat(path); !errors.Is(serr, fs.ErrNotExist) {
		t.Errorf("OpenReadOnly created %s", path)
	}
}

func TestOpenReadOnlyRefusesWrites(t *testing.T) {
	ctx := context.Background()
	path := ledgerPath(t)
	openAt(t, path).Close()

	ro, err := ledger.OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.BeginRun(ctx, ledger.RunMeta{AsOf: t0}); !errors.Is(err, ledger.ErrReadOnly) {
		t.Errorf("BeginRun on read-only ledger: err = %v, want ErrReadOnly", err)
	}
	rep, err := ro.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Rows != 0 {
		t.Errorf("Verify of an empty ledger = %+v, want OK with 0 rows", rep)
	}
}

func TestSchemaNewerThanBinary(t *testing.T) {
	ctx := context.Background()
	path := ledgerPath(t)
	openAt(t, path).Close()
	mustExec(t, rawSQL(t, path), `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', '')`)

	if _, err := ledger.Open(ctx, path); !errors.Is(err, ledger.ErrSchemaTooNew) {
		t.Errorf("Open: err = %v, want ErrSchemaTooNew", err)
	}
	_, err := ledger.OpenReadOnly(ctx, path)
	if !errors.Is(err, ledger.ErrSchemaTooNew) {
		t.Errorf("OpenReadOnly: err = %v, want ErrSchemaTooNew", err)
	}
	if err != nil && !strings.Contains(err.Error(), "9999") {
		t.Errorf("error %q does not name the ledger's version", err)
	}
}

func TestOpenReadOnlyUnmigrated(t *testing.T) {
	path := ledgerPath(t)
	mustExec(t, rawSQL(t, path), `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`)
	if _, err := ledger.OpenReadOnly(context.Background(), path); !errors.Is(err, ledger.ErrSchemaOutdated) {
		t.Errorf("OpenReadOnly: err = %v, want ErrSchemaOutdated", err)
	}
}

func TestOpenForeignDatabase(t *testing.T) {
	path := ledgerPath(t)
	mustExec(t, rawSQL(t, path), `CREATE TABLE something_else (x INTEGER)`)
	if _, err := ledger.Open(context.Background(), path); !errors.Is(err, ledger.ErrNotLedger) {
		t.Errorf("Open: err = %v, want ErrNotLedger", err)
	}
}

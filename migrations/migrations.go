// Package migrations holds the ledger's SQLite schema as numbered SQL files
// (NNNN_name.sql), embedded into the binary. internal/ledger applies them in
// order, one transaction each, and records each in schema_migrations.
//
// Files are append-only: once a migration has shipped it is never edited;
// a change to the schema is a new file with the next number.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed *.sql
var files embed.FS

// FS is the directory of migration files, named NNNN_name.sql with NNNN
// starting at 0001 and increasing by one.
var FS fs.FS = files

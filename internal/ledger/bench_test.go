package ledger_test

import (
	"context"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// BenchmarkAppendResult is one result per transaction (one WAL fsync each).
func BenchmarkAppendResult(b *testing.B) {
	db := newDB(b)
	run := beginRun(b, db)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := db.AppendResult(context.Background(), run.ID, result(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendResults100 appends batches of 100 results per transaction.
func BenchmarkAppendResults100(b *testing.B) {
	db := newDB(b)
	run := beginRun(b, db)
	batch := make([]audit.Result, 100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range batch {
			batch[j] = result(i*100 + j)
		}
		if _, err := db.AppendResults(context.Background(), run.ID, batch); err != nil {
			b.Fatal(err)
		}
	}
}

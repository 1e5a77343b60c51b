package anchor_test

import (
	"context"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/anchor"
	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// BenchmarkAppendWithProgress is one result per transaction with the
// progress hook writing (and, with a key, signing) the run's progress mark
// before each commit: compare with ledger's BenchmarkAppendResult
// (go test -run '^$' -bench Append ./internal/ledger/ ./internal/anchor/).
func BenchmarkAppendWithProgress(b *testing.B) {
	for _, signed := range []bool{false, true} {
		name := "unsigned"
		if signed {
			name = "signed-ed25519"
		}
		b.Run(name, func(b *testing.B) {
			var opts anchor.SignerOptions
			if signed {
				opts.Key = loadKey(b, keyFile(b, "ed25519"))
			}
			s, _ := anchor.NewSigner(opts)
			dir := b.TempDir()
			an, _ := anchor.NewAnchorer(dir+"/anchors", s)
			db, err := ledger.Open(context.Background(), dir+"/l.db", ledger.WithAppendHook(an.Hook))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			an.Bind(context.Background(), db)
			run, _ := db.BeginRun(context.Background(), ledger.RunMeta{Repo: "r", Ref: "main", Commit: "c", AsOf: t0})
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := db.AppendResults(context.Background(), run.ID, []audit.Result{result(i)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

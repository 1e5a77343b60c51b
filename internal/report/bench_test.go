package report_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/report"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/gitrepo"
)

const benchPointers = 10_000

var benchAsOf = time.Date(2026, 9, 1, 3, 0, 0, 0, time.UTC)

// benchVersion is pointer version i of a large, mixed run: 200 recipes,
// every verdict, class and age represented.
func benchVersion(i int) (audit.PointerVersion, audit.Result) {
	recipe := fmt.Sprintf("recipe-%03d-eks-ubuntu-inference", i%200)
	identity := fmt.Sprintf("https://github.com/org%d/aicr/.github/workflows/uat.yaml@refs/heads/main", i%7)
	issuer := "https://token.actions.githubusercontent.com"
	digest := fmt.Sprintf("sha256:%064x", i+1)
	at := benchAsOf.AddDate(0, -(i % 30), -(i % 28))
	idx := int64(35_000_000 + i)
	content := gitrepo.PointerYAML(gitrepo.PointerFields{Recipe: recipe, AttestedAt: at, OCI: "ghcr.io/nvidia/aicr-evidence:run",
		Digest: digest, PredicateType: "https://aicr.run/recipe-evidence/v3", Identity: identity, Issuer: issuer, RekorLogIndex: &idx})
	v := audit.PointerVersion{
		Key:     audit.VersionKey{Path: gitrepo.PerSourcePath(recipe, issuer, identity, digest), AddedCommit: fmt.Sprintf("%040x", i+1)},
		Blob:    fmt.Sprintf("%040x", i+7),
		Content: content,
		AddedAt: at.Add(time.Hour),
	}
	if i%50 == 0 {
		v.RemovedCommit, v.RemovedAt = fmt.Sprintf("%040x", i+100_000), at.AddDate(0, 1, 0)
	}
	r := audit.Result{Key: v.Key, Recipe: recipe, BundleDigest: digest, RekorLogIndex: idx, VerifiedVia: audit.ViaOCI,
		AttestedAt: at, AttestedAtSource: audit.TimeSigned, Age: audit.DefaultPolicy().AgeAt(at, benchAsOf),
		Verdict: audit.Verified, Detail: "bundle verified: signature, log proof, signer and 9 files", CheckedAt: benchAsOf,
		Phases: map[string]audit.PhaseCounts{"deployment": {Passed: 4}, "performance": {Passed: 2}, "conformance": {Passed: 31, Skipped: 2}}}
	switch i % 20 {
	case 1:
		r.Verdict, r.Phases["conformance"] = audit.VerifiedWithFailures, audit.PhaseCounts{Passed: 29, Failed: 2}
	case 2:
		r.Verdict, r.VerifiedVia, r.Phases, r.Detail = audit.RekorOnly, audit.ViaRekor, nil, "registry answered 404; Rekor proves the entry"
	case 3:
		r.Verdict, r.Class, r.Phases, r.Detail, r.Hint = audit.Invalid, audit.ClassNotFound, nil, "registry answered 404 and the log has no entry", "re-certify"
	case 4:
		r.Verdict, r.Class, r.Phases, r.Detail = audit.Invalid, audit.ClassSignature, nil, "DSSE signature does not verify | <b>x</b>"
	case 5:
		r.Verdict, r.Class, r.Phases, r.Detail = audit.NoVerdict, audit.ClassTransient, nil, "registry answered 503"
	}
	return v, r
}

// benchSnapshot is a 10 000-pointer snapshot, loaded through the real
// ledger once per process.
var benchSnap *report.Snapshot

func loadBenchSnapshot(b *testing.B) *report.Snapshot {
	b.Helper()
	if benchSnap != nil {
		return benchSnap
	}
	db, runID := benchLedger(b, benchPointers)
	s, err := report.Load(context.Background(), db, runID)
	if err != nil {
		b.Fatal(err)
	}
	benchSnap = s
	return s
}

// benchLedger writes two complete runs of n pointers; the second differs
// in one verdict out of 37.
func benchLedger(b testing.TB, n int) (*ledger.DB, int64) {
	b.Helper()
	ctx := context.Background()
	db, err := ledger.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	versions := make([]audit.PointerVersion, n)
	results := make([]audit.Result, n)
	live := map[audit.VersionKey]bool{}
	for i := range versions {
		versions[i], results[i] = benchVersion(i)
		if versions[i].RemovedCommit == "" {
			live[versions[i].Key] = true
		}
	}
	if err := db.ApplyWalk(ctx, "bench", &audit.WalkDelta{Ref: "main", Head: fmt.Sprintf("%040x", 1), Full: true, Added: versions}); err != nil {
		b.Fatal(err)
	}
	var last int64
	for run := 0; run < 2; run++ {
		rs := append([]audit.Result(nil), results...)
		if run == 1 {
			for i := 0; i < len(rs); i += 37 {
				rs[i].Verdict, rs[i].Class, rs[i].Phases = audit.NoVerdict, audit.ClassTransient, nil
			}
		}
		r, err := db.BeginRun(ctx, ledger.RunMeta{Repo: "bench", Ref: "main", Commit: fmt.Sprintf("%040x", 1), AsOf: benchAsOf,
			TrustRoot: fmt.Sprintf("sha256:%064x", 9), StartedAt: benchAsOf})
		if err != nil {
			b.Fatal(err)
		}
		if err := db.PutRunInputs(ctx, r.ID, ledger.RunInputs{EvidenceDir: "recipes/evidence"}); err != nil {
			b.Fatal(err)
		}
		for from := 0; from < len(rs); from += 1000 {
			if _, err := db.AppendResults(ctx, r.ID, rs[from:min(from+1000, len(rs))]); err != nil {
				b.Fatal(err)
			}
		}
		if err := db.PutRecipeStatuses(ctx, r.ID, audit.RecipeStatuses(rs, live)); err != nil {
			b.Fatal(err)
		}
		if _, err := db.FinishRun(ctx, r.ID, true, benchAsOf.Add(time.Minute)); err != nil {
			b.Fatal(err)
		}
		last = r.ID
	}
	return db, last
}

// BenchmarkRender10k renders a 10 000-pointer snapshot in each format
// (target: < 1 s each, DESIGN "Targets").
func BenchmarkRender10k(b *testing.B) {
	s := loadBenchSnapshot(b)
	if len(s.Pointers) != benchPointers {
		b.Fatalf("snapshot has %d pointers", len(s.Pointers))
	}
	for _, f := range report.Formats {
		b.Run(string(f), func(b *testing.B) {
			cw := &countWriter{}
			b.ReportAllocs()
			for b.Loop() {
				cw.n = 0
				if err := report.Render(cw, s, f); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cw.n), "bytes/report")
		})
	}
}

// BenchmarkLoad10k reads the same 10 000-pointer run back from the ledger
// (results, pointer versions parsed and described, previous run).
func BenchmarkLoad10k(b *testing.B) {
	db, runID := benchLedger(b, benchPointers)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := report.Load(context.Background(), db, runID); err != nil {
			b.Fatal(err)
		}
	}
}

type countWriter struct{ n int }

func (c *countWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)

// TestLoadParallelDeterministic loads a run large enough for Load to
// describe pointers on several goroutines (run it with -race) and checks
// the result does not depend on scheduling.
func TestLoadParallelDeterministic(t *testing.T) {
	const n = 1500
	db, runID := benchLedger(t, n)
	wantChanges := 0 // every 37th pointer turns no-verdict, unless it was already
	for i := 0; i < n; i += 37 {
		if i%20 != 5 {
			wantChanges++
		}
	}
	var first []byte
	for range 3 {
		s, err := report.Load(context.Background(), db, runID)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Pointers) != n || len(s.Changes) != wantChanges {
			t.Fatalf("%d pointers, %d changes; want %d and %d", len(s.Pointers), len(s.Changes), n, wantChanges)
		}
		out := render(t, s, report.FormatJSON)
		if first == nil {
			first = out
		} else if !bytes.Equal(out, first) {
			t.Fatal("two loads of the same run render differently")
		}
	}
}

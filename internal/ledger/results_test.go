package ledger_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

func TestAppendResultRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	run := beginRun(t, db)

	full := result(1)
	full.AttestedAt = full.AttestedAt.In(time.FixedZone("CEST", 2*3600)) // stored in UTC
	sparse := audit.Result{
		Key:           audit.VersionKey{Path: "recipes/evidence/x.yaml", AddedCommit: "abc"},
		Verdict:       audit.NoVerdict,
		Class:         audit.ClassTransient,
		Detail:        "registry returned 503",
		Hint:          "retried next run",
		VerifiedVia:   audit.ViaNone,
		RekorLogIndex: -1,
	}
	for i, r := range []audit.Result{full, sparse} {
		seq, err := db.AppendResult(ctx, run.ID, r)
		if err != nil {
			t.Fatalf("AppendResult: %v", err)
		}
		if got, want := seq, int64(i+1); got != want {
			t.Errorf("seq = %d, want %d", got, want)
		}
	}
	got, err := db.Results(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	full.AttestedAt = full.AttestedAt.UTC()
	want := []audit.Result{full, sparse}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Results =\n%+v\nwant\n%+v", got, want)
	}
}

func TestAppendResultDuplicate(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	run := beginRun(t, db)
	appendN(t, db, run.ID, 0, 2)

	_, err := db.AppendResult(ctx, run.ID, result(1))
	if !errors.Is(err, ledger.ErrDuplicateResult) {
		t.Fatalf("second AppendResult for the same key: err = %v, want ErrDuplicateResult", err)
	}
	// A batch holding one duplicate commits nothing.
	if _, err := db.AppendResults(ctx, run.ID, []audit.Result{result(5), result(5)}); !errors.Is(err, ledger.ErrDuplicateResult) {
		t.Fatalf("AppendResults with a duplicate: err = %v, want ErrDuplicateResult", err)
	}
	keys, err := db.ResultKeys(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[audit.VersionKey]bool{result(0).Key: true, result(1).Key: true}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("ResultKeys = %v, want %v", keys, want)
	}
	// The same pointer in another run is fine.
	finishRun(t, db, run.ID)
	run2 := beginRun(t, db)
	if _, err := db.AppendResult(ctx, run2.ID, result(1)); err != nil {
		t.Errorf("AppendResult in a new run: %v", err)
	}
}

func TestAppendResultRefused(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	run := beginRun(t, db)
	finished := beginRun(t, db)
	finishRun(t, db, finished.ID)

	noDetail := result(1)
	noDetail.Detail = ""
	badVerdict := result(1)
	badVerdict.Verdict = "fine"
	noKey := result(1)
	noKey.Key.AddedCommit = ""

	tests := []struct {
		name  string
		runID int64
		r     audit.Result
		want  error
	}{
		{"finished run", finished.ID, result(1), ledger.ErrRunFinished},
		{"unknown run", 999, result(1), ledger.ErrNotFound},
		{"empty detail", run.ID, noDetail, ledger.ErrInvalid},
		{"unknown verdict", run.ID, badVerdict, ledger.ErrInvalid},
		{"no commit", run.ID, noKey, ledger.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := db.AppendResult(ctx, tt.runID, tt.r); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if seq, _, _ := db.ChainHead(ctx); seq != 0 {
		t.Errorf("ChainHead seq = %d after refused appends, want 0", seq)
	}
}

func TestLastResultFor(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	key := result(7).Key

	if _, ok, err := db.LastResultFor(ctx, key, false); err != nil || ok {
		t.Fatalf("LastResultFor on empty ledger = ok %v, err %v; want false, nil", ok, err)
	}
	run1 := beginRun(t, db)
	appendN(t, db, run1.ID, 7, 1) // deep
	finishRun(t, db, run1.ID)
	run2 := beginRun(t, db)
	fast := result(7)
	fast.Deep, fast.VerifiedVia, fast.Detail = false, audit.ViaCache, "fast path"
	if _, err := db.AppendResult(ctx, run2.ID, fast); err != nil {
		t.Fatal(err)
	}

	got, ok, err := db.LastResultFor(ctx, key, false)
	if err != nil || !ok {
		t.Fatalf("LastResultFor: ok %v, err %v", ok, err)
	}
	if got.RunID != run2.ID || got.Result.Detail != "fast path" {
		t.Errorf("LastResultFor(any) = run %d %q, want run %d %q", got.RunID, got.Result.Detail, run2.ID, "fast path")
	}
	got, ok, err = db.LastResultFor(ctx, key, true)
	if err != nil || !ok {
		t.Fatalf("LastResultFor(deep): ok %v, err %v", ok, err)
	}
	if got.RunID != run1.ID || !got.Result.Deep {
		t.Errorf("LastResultFor(deep) = run %d deep %v, want run %d deep true", got.RunID, got.Result.Deep, run1.ID)
	}
}

// TestChainHashIsStable pins the canonical encoding: if this hash changes,
// every existing ledger stops verifying. Add a new encoding version instead.
func TestChainHashIsStable(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	run := beginRun(t, db)
	appendN(t, db, run.ID, 1, 2)
	seq, head, err := db.ChainHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const want = "sha256:1424c522c3635d85bdc73c848e926da693e031f72d6b478cd0275192f432f062"
	if seq != 2 || head != want {
		t.Errorf("ChainHead = %d %s, want 2 %s", seq, head, want)
	}
}

// TestChainHashMatchesDocumentedEncoding recomputes the first row's hash from
// the encoding as documented (netstrings after a version tag), independently
// of the package's code.
func TestChainHashMatchesDocumentedEncoding(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	run := beginRun(t, db)
	r := result(1)
	if _, err := db.AppendResult(ctx, run.ID, r); err != nil {
		t.Fatal(err)
	}
	_, head, err := db.ChainHead(ctx)
	if err != nil {
		t.Fatal(err)
	}

	var b strings.Builder
	b.WriteString("evidence-auditd/ledger/result/v1\n")
	for _, f := range []string{
		"1", strconv.FormatInt(run.ID, 10), r.Key.Path, r.Key.AddedCommit, r.Recipe, string(r.Verdict), "", r.Detail, "",
		"oci", r.BundleDigest, "1001", "2026-03-01T11:00:00.000000000Z", "signed", "fresh",
		`{"conformance":{"passed":10,"failed":0,"skipped":1},"deployment":{"passed":3,"failed":0,"skipped":0}}`,
		`[{"name":"signature","status":"pass"},{"name":"inventory","status":"pass","detail":"6 files"}]`,
		"1", "2026-03-01T12:00:00.001000000Z",
	} {
		fmt.Fprintf(&b, "%d:%s,", len(f), f)
	}
	sum := sha256.Sum256(append(make([]byte, 32), b.String()...))
	if want := "sha256:" + hex.EncodeToString(sum[:]); head != want {
		t.Errorf("hash of row 1 = %s, want %s", head, want)
	}
}

package ledger_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

func TestBundleCacheKeepsFirstCopy(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	const digest = "sha256:" + "ab" + "00000000000000000000000000000000000000000000000000000000000000"

	if _, ok, err := db.Bundle(ctx, digest); err != nil || ok {
		t.Fatalf("Bundle before Put = ok %v, err %v; want false, nil", ok, err)
	}
	first := ledger.BundleRecord{
		Digest: digest, SigstoreBundle: []byte(`{"first":true}`), Statement: []byte(`{"stmt":1}`),
		TrustRoot: "sha256:root1", VerifierVersion: "v1", VerifiedAt: t0, LogIndex: 42, IntegratedTime: t0.Add(-time.Hour),
	}
	later := first
	later.SigstoreBundle, later.Statement = []byte(`{"first":false}`), []byte(`{"stmt":2}`)
	later.TrustRoot, later.VerifierVersion, later.VerifiedAt = "sha256:root2", "v2", t0.Add(24*time.Hour)
	for _, b := range []ledger.BundleRecord{first, later} {
		if err := db.PutBundle(ctx, b); err != nil {
			t.Fatal(err)
		}
	}

	got, ok, err := db.Bundle(ctx, digest)
	if err != nil || !ok {
		t.Fatalf("Bundle = ok %v, err %v", ok, err)
	}
	if !bytes.Equal(got.SigstoreBundle, first.SigstoreBundle) || !bytes.Equal(got.Statement, first.Statement) {
		t.Errorf("cached bytes = %s %s, want the first copy %s %s", got.SigstoreBundle, got.Statement, first.SigstoreBundle, first.Statement)
	}
	if got.TrustRoot != "sha256:root2" || got.VerifierVersion != "v2" || !got.VerifiedAt.Equal(later.VerifiedAt) {
		t.Errorf("latest verification = %s %s %v, want sha256:root2 v2 %v", got.TrustRoot, got.VerifierVersion, got.VerifiedAt, later.VerifiedAt)
	}
	if !got.FirstVerifiedAt.Equal(t0) || got.Verifications != 2 || got.LogIndex != 42 || !got.IntegratedTime.Equal(first.IntegratedTime) {
		t.Errorf("Bundle = first %v, %d verifications, log %d at %v; want %v, 2, 42 at %v",
			got.FirstVerifiedAt, got.Verifications, got.LogIndex, got.IntegratedTime, t0, first.IntegratedTime)
	}
}

func TestCheckpoints(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	run := beginRun(t, db)
	if _, ok, err := db.LatestCheckpoint(ctx, "log"); err != nil || ok {
		t.Fatalf("LatestCheckpoint before Put = ok %v, err %v", ok, err)
	}
	cps := []ledger.Checkpoint{
		{LogID: "log", TreeSize: 10, RootHash: []byte{1}, Raw: "note 10", SeenAt: t0, RunID: run.ID},
		{LogID: "log", TreeSize: 20, RootHash: []byte{2}, Raw: "note 20", SeenAt: t0.Add(time.Hour)},
		{LogID: "log", TreeSize: 20, RootHash: []byte{2}, Raw: "note 20", SeenAt: t0.Add(2 * time.Hour)}, // seen again
		{LogID: "other", TreeSize: 99, RootHash: []byte{9}, Raw: "other", SeenAt: t0},
	}
	for _, c := range cps {
		if err := db.PutCheckpoint(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := db.LatestCheckpoint(ctx, "log")
	if err != nil || !ok {
		t.Fatalf("LatestCheckpoint = ok %v, err %v", ok, err)
	}
	if got.TreeSize != 20 || !bytes.Equal(got.RootHash, []byte{2}) || got.Raw != "note 20" || !got.SeenAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("LatestCheckpoint = %+v, want size 20 first seen at %v", got, t0.Add(time.Hour))
	}
}

package ledger_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

func TestLastVerificationForFastPath(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	run := beginRun(t, db)
	r := result(1)
	lastOf := func() (audit.LastVerification, bool) {
		t.Helper()
		all, err := db.LastVerifications(ctx)
		if err != nil {
			t.Fatal(err)
		}
		lv, ok := all[r.Key]
		return lv, ok
	}
	if _, ok := lastOf(); ok {
		t.Fatal("LastVerifications on an empty ledger lists the pointer")
	}
	if _, err := db.AppendResult(ctx, run.ID, r); err != nil {
		t.Fatal(err)
	}
	// A deep result without a cached bundle is no fast-path reference.
	if _, ok := lastOf(); ok {
		t.Fatal("LastVerifications without a cached bundle lists the pointer")
	}
	at := t0.Add(time.Hour)
	if err := db.CacheBundles(ctx, []audit.CachedBundle{{
		Digest: r.BundleDigest, BundleJSON: []byte(`{"b":1}`), StatementJSON: []byte(`{"s":1}`),
		TrustRoot: "sha256:tr", VerifierVersion: "verify/1", VerifiedAt: at, LogIndex: 7, IntegratedTime: t0,
		LayerDigest: "sha256:layer", ReferrerDigest: "sha256:ref", OCI: "ghcr.io/acme/evidence:x",
	}}); err != nil {
		t.Fatal(err)
	}
	last, ok := lastOf()
	if !ok {
		t.Fatal("LastVerifications does not list the verified pointer")
	}
	if last.TrustRoot != "sha256:tr" || last.VerifierVersion != "verify/1" || !last.VerifiedAt.Equal(at) ||
		last.LayerDigest != "sha256:layer" || last.ReferrerDigest != "sha256:ref" || last.OCI != "ghcr.io/acme/evidence:x" ||
		last.Result.Key != r.Key {
		t.Errorf("LastVerification = %+v", last)
	}
	// A later non-deep result does not replace the deep reference.
	run2 := beginRun(t, db)
	fast := r
	fast.Deep, fast.VerifiedVia = false, audit.ViaCache
	if _, err := db.AppendResult(ctx, run2.ID, fast); err != nil {
		t.Fatal(err)
	}
	if last, _ := lastOf(); !last.Result.Deep {
		t.Error("LastVerifications returned a fast-path result as the reference")
	}
}

func TestRecipeStatusesRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	run := beginRun(t, db)
	want := []audit.RecipeStatus{
		{Recipe: "a", NeedsRecert: true, Reason: audit.ReasonExpired, Freshest: result(1).Key,
			FreshestAttestedAt: t0, FreshestAge: audit.AgeExpired, LivePointers: 2, Lost: []audit.VersionKey{result(2).Key}},
		{Recipe: "b", Undetermined: true, LivePointers: 1},
	}
	if err := db.PutRecipeStatuses(ctx, run.ID, want); err != nil {
		t.Fatal(err)
	}
	if err := db.PutRecipeStatuses(ctx, run.ID, want); err != nil { // a resumed run rewrites them
		t.Fatal(err)
	}
	got, err := db.RecipeStatuses(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d statuses, want 2", len(got))
	}
	a := got[0]
	if a.Recipe != "a" || !a.NeedsRecert || a.Reason != audit.ReasonExpired || a.Freshest != result(1).Key ||
		!a.FreshestAttestedAt.Equal(t0) || a.FreshestAge != audit.AgeExpired || a.LivePointers != 2 ||
		len(a.Lost) != 1 || a.Lost[0] != result(2).Key {
		t.Errorf("status a = %+v", a)
	}
	if b := got[1]; b.Recipe != "b" || !b.Undetermined || b.NeedsRecert {
		t.Errorf("status b = %+v", b)
	}
}

func TestRunInputsRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	run := beginRun(t, db)
	if _, ok, err := db.RunInputs(ctx, run.ID); err != nil || ok {
		t.Fatalf("RunInputs before Put = ok %v, err %v", ok, err)
	}
	for _, al := range [][]byte{[]byte("schemaVersion: 1.0.0\n"), nil} {
		if err := db.PutRunInputs(ctx, run.ID, ledger.RunInputs{EvidenceDir: "recipes/evidence", Allowlist: al}); err != nil {
			t.Fatal(err)
		}
		got, ok, err := db.RunInputs(ctx, run.ID)
		if err != nil || !ok || got.EvidenceDir != "recipes/evidence" || string(got.Allowlist) != string(al) || (al == nil) != (got.Allowlist == nil) {
			t.Errorf("RunInputs = %+v, %v, %v; want allowlist %q", got, ok, err, al)
		}
	}
}

func TestExportIncludesRunDerivedRecords(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	run := beginRun(t, db)
	if err := db.PutRunInputs(ctx, run.ID, ledger.RunInputs{EvidenceDir: "recipes/evidence", Allowlist: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutRecipeStatuses(ctx, run.ID, []audit.RecipeStatus{{Recipe: "a", NeedsRecert: true, Reason: audit.ReasonNoHealthy}}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := db.Export(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"type":"runInput","runId":1,"evidenceDir":"recipes/evidence"`, `"type":"runRecipe","runId":1,"recipe":"a","needsRecert":true`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("export lacks %s:\n%s", want, buf.String())
		}
	}
}

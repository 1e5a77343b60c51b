package ledger_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

func archivedRecord(i int, store string, at time.Time) audit.ArchivedBundle {
	return audit.ArchivedBundle{
		Digest: fmt.Sprintf("sha256:%064x", i), Store: store, Signature: audit.SigstoreBundle,
		ReferrerDigest: fmt.Sprintf("sha256:%064x", 1000+i),
		Objects:        []audit.ObjectRef{{Digest: fmt.Sprintf("sha256:%064x", i), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 400, Manifest: true}},
		Bytes:          400, At: at,
	}
}

// TestArchiveRecords: records are per store, idempotent, append-only, and
// read back as written.
func TestArchiveRecords(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	run := beginRun(t, db)
	a := archivedRecord(1, "oci-layout:/a", t0)
	a.RunID = run.ID
	if err := db.RecordArchived(ctx, []audit.ArchivedBundle{a, archivedRecord(2, "oci-layout:/a", t0.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	// Again, with another time: the first record stays.
	again := archivedRecord(1, "oci-layout:/a", t0.Add(48*time.Hour))
	if err := db.RecordArchived(ctx, []audit.ArchivedBundle{again, archivedRecord(1, "oci:reg.example/archive", t0.Add(24*time.Hour))}); err != nil {
		t.Fatal(err)
	}
	got, err := db.ArchivedBundles(ctx, "oci-layout:/a")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d records for the layout, want 2: %+v", len(got), got)
	}
	g := got[a.Digest]
	if !g.At.Equal(t0) || g.RunID != run.ID || g.Bytes != 400 || len(g.Objects) != 1 || g.Objects[0] != a.Objects[0] || g.Signature != audit.SigstoreBundle {
		t.Errorf("record = %+v, want %+v", g, a)
	}
	other, err := db.ArchivedBundles(ctx, "oci:reg.example/archive")
	if err != nil {
		t.Fatal(err)
	}
	if len(other) != 1 || other[a.Digest].RunID != 0 {
		t.Errorf("other store: %+v, want the one backfilled record", other)
	}
	all, err := db.ArchivedBundles(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || !all[a.Digest].At.Equal(t0) {
		t.Errorf("all stores: %+v, want each digest's earliest record", all)
	}
	if err := db.RecordArchived(ctx, []audit.ArchivedBundle{{Digest: "md5:x", Store: "s"}}); err == nil {
		t.Error("a record without a sha256 digest was accepted")
	}
}

// TestArchiveCoverage: distinct healthy digests of the run, and which were
// archived by the time the run finished.
func TestArchiveCoverage(t *testing.T) {
	ctx := context.Background()
	now := t0
	db, err := ledger.Open(ctx, ledgerPath(t), ledger.WithClock(func() time.Time { now = now.Add(time.Minute); return now }))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run := beginRun(t, db)
	rs := []audit.Result{result(1), result(2), result(3), result(4), result(5)}
	rs[1].Verdict = audit.VerifiedWithFailures
	rs[2].Verdict, rs[2].VerifiedVia = audit.Archived, audit.ViaArchive
	rs[3].Verdict, rs[3].Class = audit.Invalid, audit.ClassSignature
	rs[4].BundleDigest = rs[0].BundleDigest // a second pointer of bundle 1
	if _, err := db.AppendResults(ctx, run.ID, rs); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordArchived(ctx, []audit.ArchivedBundle{
		archivedRecord(1, "s", now), archivedRecord(3, "s", now), archivedRecord(4, "s", now),
	}); err != nil {
		t.Fatal(err)
	}
	cov, err := db.ArchiveCoverage(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cov != (audit.ArchiveCoverage{Archived: 2, Healthy: 3}) {
		t.Errorf("unfinished run: coverage %+v, want 2 of 3 (bundle 4 is not healthy)", cov)
	}
	finishRun(t, db, run.ID)
	// Archived after the run finished (a later backfill): not this run's.
	if err := db.RecordArchived(ctx, []audit.ArchivedBundle{archivedRecord(2, "s", now.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	if cov, err = db.ArchiveCoverage(ctx, run.ID); err != nil || cov != (audit.ArchiveCoverage{Archived: 2, Healthy: 3}) {
		t.Errorf("finished run: coverage %+v (%v), want still 2 of 3", cov, err)
	}
	if r, ok := cov.Ratio(); !ok || r < 0.66 || r > 0.67 {
		t.Errorf("ratio %v %v, want 2/3", r, ok)
	}
}

// TestArchiveRecordsAreAppendOnly: the triggers refuse edits and deletions,
// and the export carries the records.
func TestArchiveRecordsAreAppendOnly(t *testing.T) {
	ctx := context.Background()
	path := ledgerPath(t)
	db := openAt(t, path)
	if err := db.RecordArchived(ctx, []audit.ArchivedBundle{archivedRecord(1, "s", t0)}); err != nil {
		t.Fatal(err)
	}
	raw := rawSQL(t, path)
	for _, q := range []string{`UPDATE archived_bundles SET bytes = 1`, `DELETE FROM archived_bundles`} {
		if _, err := raw.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want refused as append-only", q, err)
		}
	}
	var buf bytes.Buffer
	if err := db.Export(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"type":"archived","digest":"sha256:`+fmt.Sprintf("%064x", 1)) {
		t.Errorf("export lacks the archive record:\n%s", buf.String())
	}
}

// TestRunInputsArchive: the run's archive store is kept with its inputs.
func TestRunInputsArchive(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	run := beginRun(t, db)
	if err := db.PutRunInputs(ctx, run.ID, ledger.RunInputs{EvidenceDir: "recipes/evidence", Archive: "oci-layout:/var/lib/x/archive"}); err != nil {
		t.Fatal(err)
	}
	in, ok, err := db.RunInputs(ctx, run.ID)
	if err != nil || !ok || in.Archive != "oci-layout:/var/lib/x/archive" {
		t.Errorf("inputs %+v, %v, %v; want the archive store kept", in, ok, err)
	}
}

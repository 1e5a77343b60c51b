package rekor_test

import (
	"context"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/registry"
	"github.com/evidence-auditd/evidence-auditd/internal/rekor"
)

// TestRunnerDeletedAfterVerification is issue 5's first scenario through
// the audit core, the OCI client and the ledger: a bundle verified (and
// cached) in one run, deleted from the registry, then proven from the cache
// and the log in the next — and one deleted before any run, proven from the
// log alone through the index search.
func TestRunnerDeletedAfterVerification(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	src, err := registry.New(registry.WithPlainHTTP(f.w.RegistryHost()), registry.AllowPrivateNetworksUnsafe(true))
	if err != nil {
		t.Fatal(err)
	}
	var versions []audit.PointerVersion
	for _, name := range []string{"good", "no-index"} {
		bp := f.pointer(t, name)
		versions = append(versions, audit.PointerVersion{
			Key: audit.VersionKey{Path: bp.Path, AddedCommit: bp.MergeCommit}, Content: bp.Content, AddedAt: bp.MergedAt,
		})
	}
	run := func(runID int64, vs []audit.PointerVersion) *audit.Summary {
		t.Helper()
		r, err := f.db.BeginRun(ctx, ledger.RunMeta{Repo: "test", Ref: "main", Commit: "c", AsOf: testNow,
			TrustRoot: f.v.TrustRoot(), VerifierVersion: f.v.Version(), Deep: true})
		if err != nil {
			t.Fatal(err)
		}
		l := f.log(t, "")
		runner := &audit.Runner{Source: src, Verifier: f.v, Ledger: f.db, Fallback: l, Monitor: l}
		sum, err := runner.Run(ctx, vs, nil, audit.Options{RunID: r.ID, AsOf: testNow, Deep: true, EvidenceDir: "recipes/evidence"})
		if err != nil {
			t.Fatal(err)
		}
		// The ledger's records, checks included: the summary leaves them out.
		if sum.Results, err = f.db.Results(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		return sum
	}

	if s := run(1, versions[:1]); s.ByVerdict[audit.Verified] != 1 {
		t.Fatalf("first run: %+v", s.Results)
	}
	for _, name := range []string{"good", "no-index"} {
		bp := f.pointer(t, name)
		if err := f.w.Registry().Delete(ctx, bp.OCI[:len(bp.OCI)-len(":"+tagOf(bp.OCI))]+"@"+bp.Digest); err != nil {
			t.Fatal(err)
		}
	}
	s := run(2, versions)
	if len(s.LogFindings) != 0 {
		t.Errorf("log findings %q", s.LogFindings)
	}
	for _, r := range s.Results {
		if r.Verdict != audit.RekorOnly || r.VerifiedVia != audit.ViaRekor || r.AttestedAtSource != audit.TimeLog {
			t.Errorf("%s: %s/%s via %s, age from %s: %s", r.Key.Path, r.Verdict, r.Class, r.VerifiedVia, r.AttestedAtSource, r.Detail)
		}
		cached := false
		for _, c := range r.Checks {
			cached = cached || c.Name == "cached-signature"
		}
		if want := r.Key.Path == versions[0].Key.Path; cached != want {
			t.Errorf("%s: proven from the cache %v, want %v", r.Key.Path, cached, want)
		}
	}
	if !s.Findings() {
		t.Error("rekor-only is a finding (exit 3)")
	}
}

// TestRunnerLegacyDeletedAfterVerification: a legacy cosign attestation
// verified (and cached, in its bundle form whose certificate is a chain) in
// one run and deleted before the next is proven from that cache and the
// log — rekor-only — not reported as a different certificate.
func TestRunnerLegacyDeletedAfterVerification(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	src, err := registry.New(registry.WithPlainHTTP(f.w.RegistryHost()), registry.AllowPrivateNetworksUnsafe(true))
	if err != nil {
		t.Fatal(err)
	}
	bp := f.pointer(t, "legacy")
	vs := []audit.PointerVersion{{Key: audit.VersionKey{Path: bp.Path, AddedCommit: bp.MergeCommit}, Content: bp.Content, AddedAt: bp.MergedAt}}
	run := func() audit.Result {
		t.Helper()
		r, err := f.db.BeginRun(ctx, ledger.RunMeta{Repo: "test", Ref: "main", Commit: "c", AsOf: testNow,
			TrustRoot: f.v.TrustRoot(), VerifierVersion: f.v.Version(), Deep: true})
		if err != nil {
			t.Fatal(err)
		}
		l := f.log(t, "")
		sum, err := (&audit.Runner{Source: src, Verifier: f.v, Ledger: f.db, Fallback: l}).Run(ctx, vs, nil,
			audit.Options{RunID: r.ID, AsOf: testNow, Deep: true, EvidenceDir: "recipes/evidence"})
		if err != nil {
			t.Fatal(err)
		}
		// The ledger's record, checks included: the summary leaves them out.
		rs, err := f.db.Results(ctx, r.ID)
		if err != nil || len(rs) != len(sum.Results) {
			t.Fatalf("recorded results: %d of %d, %v", len(rs), len(sum.Results), err)
		}
		return rs[0]
	}
	if r := run(); r.Verdict != audit.Verified {
		t.Fatalf("first run: %s/%s: %s", r.Verdict, r.Class, r.Detail)
	}
	if err := f.w.Registry().Delete(ctx, bp.OCI[:len(bp.OCI)-len(":"+tagOf(bp.OCI))]+"@"+bp.Digest); err != nil {
		t.Fatal(err)
	}
	r := run()
	match := false
	for _, c := range r.Checks {
		match = match || c.Name == rekor.CheckBodyMatch && c.Status == audit.CheckPass
	}
	if r.Verdict != audit.RekorOnly || !match {
		t.Errorf("after deletion: %s/%s (body match %v): %s", r.Verdict, r.Class, match, r.Detail)
	}
}

func tagOf(oci string) string {
	for i := len(oci) - 1; i >= 0; i-- {
		switch oci[i] {
		case ':':
			return oci[i+1:]
		case '/':
			return ""
		}
	}
	return ""
}

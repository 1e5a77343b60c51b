package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
)

// archiveWorld is one bundle of each signature form — a Rekor v1 Sigstore
// bundle, a Rekor v2 one, a legacy cosign .att attestation — on one
// registry, in recipes of their own.
func archiveWorld(t *testing.T) (*sandbox.World, *sandbox.Built) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	ok := sandbox.Expectation{Verdict: sandbox.Verified, Age: sandbox.AgeFresh}
	return startWorld(t, nil, []sandbox.Case{
		{Name: "v1", Recipe: "h100-eks-ubuntu-training", Signer: sandbox.SignerNVIDIA, SignedAt: now.AddDate(0, -1, 0), Expect: ok},
		{Name: "v2", Recipe: "gb200-eks-ubuntu-training", Signer: sandbox.SignerPartner, SignedAt: now.AddDate(0, -2, 0), Era: sandbox.EraV2, Expect: ok},
		{Name: "legacy", Recipe: "a100-gke-cos-inference", Signer: sandbox.SignerNVIDIA, PredicateType: "https://aicr.run/recipe-evidence/v1",
			SignedAt: now.AddDate(0, -6, 0), LegacyCosign: true, Expect: ok},
	})
}

// deleteSummaries deletes each case's summary manifest from the registry.
func deleteSummaries(t *testing.T, w *sandbox.World, built *sandbox.Built, names ...string) {
	t.Helper()
	for _, n := range names {
		bp := built.Pointer(n)
		repo := strings.TrimPrefix(bp.OCI[:strings.LastIndexByte(bp.OCI, ':')], w.RegistryHost()+"/")
		if err := w.Registry().Delete(context.Background(), repo+"@"+bp.Digest); err != nil {
			t.Fatal(err)
		}
	}
}

// TestArchiveLifecycle is issue 13's "done when" through the binary: the
// first run archives every healthy bundle; the registry deletes them; the
// next run proves each from the archive (archived, exit 3, a lost issue
// saying how to restore); `archive restore --lost` pushes them to another
// repository and verifies them there, printing the pointer change, after
// which `verify` of the changed pointer is verified; `archive verify`
// passes, then catches a flipped byte naming the blob.
func TestArchiveLifecycle(t *testing.T) {
	w, built := archiveWorld(t)
	cfg := w.ConfigPath()
	first := run(t, nil, "run", "-c", cfg)
	if first.code != 0 || !strings.Contains(first.stdout, "archive: 3 of 3 healthy bundles archived (100%), 3 copied by this run") {
		t.Fatalf("first run: exit %d\n%s\n%s", first.code, first.stdout, first.stderr)
	}
	if v := run(t, nil, "archive", "verify", "-c", cfg); v.code != 0 || !strings.Contains(v.stdout, "3 bundles") || !strings.Contains(v.stdout, "disk usage: ") {
		t.Fatalf("archive verify: exit %d\n%s\n%s", v.code, v.stdout, v.stderr)
	}

	deleteSummaries(t, w, built, "v1", "v2", "legacy")
	second := run(t, nil, "run", "-c", cfg)
	if second.code != 3 {
		t.Fatalf("second run: exit %d, want 3 (archived pointers are findings)\n%s\n%s", second.code, second.stdout, second.stderr)
	}
	for k, r := range runResults(t, w, 2) {
		if r.Verdict != audit.Archived || r.VerifiedVia != audit.ViaArchive {
			t.Errorf("%s: %s/%s via %s: %s", k.Path, r.Verdict, r.Class, r.VerifiedVia, r.Detail)
		}
	}
	lost, err := os.ReadFile(filepath.Join(w.Dir(), "issues", "lost-h100-eks-ubuntu-training.md"))
	if err != nil || !bytes.Contains(lost, []byte("archive restore --lost")) {
		t.Errorf("lost issue (%v) does not say how to restore:\n%s", err, lost)
	}
	if _, err := os.Stat(filepath.Join(w.Dir(), "issues", "recert-h100-eks-ubuntu-training.md")); err == nil {
		t.Error("a recipe whose only evidence is archived got a recert issue: archived is healthy for the recipe")
	}
	doc := reportJSON(t, "-c", cfg)
	summary := doc["summary"].(map[string]any)
	if summary["archived"] != 3.0 || summary["archiveCoverage"].(map[string]any)["ratio"] != 1.0 {
		t.Errorf("report summary %v, want 3 archived and full coverage", summary)
	}

	to := w.RegistryHost() + "/restored/evidence"
	rs := run(t, nil, "archive", "restore", "-c", cfg, "--lost", "--to", to)
	if rs.code != 0 || strings.Count(rs.stdout, ": verified there") != 3 || !strings.Contains(rs.stdout, "→ "+to) {
		t.Fatalf("archive restore --lost: exit %d\n%s\n%s", rs.code, rs.stdout, rs.stderr)
	}
	for _, n := range []string{"v1", "v2", "legacy"} {
		bp := built.Pointer(n)
		moved := bytes.Replace(bp.Content, []byte(bp.OCI), []byte(to+":restored"), 1)
		file := filepath.Join(t.TempDir(), "pointer.yaml")
		if err := os.WriteFile(file, moved, 0o600); err != nil {
			t.Fatal(err)
		}
		v := run(t, nil, "verify", "-c", cfg, "--format", "json", file)
		var got struct{ Verdict, Detail string }
		json.Unmarshal([]byte(v.stdout), &got)
		if v.code != 0 || got.Verdict != "verified" {
			t.Errorf("%s with its locator changed to %s: exit %d, %s: %s", n, to, v.code, got.Verdict, got.Detail)
		}
	}

	// A flipped byte in any archived object is named by archive verify.
	var victim string
	filepath.WalkDir(filepath.Join(w.Dir(), "archive", "blobs", "sha256"), func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && victim == "" {
			if info, _ := e.Info(); info.Size() > 1000 {
				victim = p
			}
		}
		return nil
	})
	b, _ := os.ReadFile(victim)
	b[len(b)/3] ^= 0x20
	os.Chmod(victim, 0o644)
	if err := os.WriteFile(victim, b, 0o644); err != nil {
		t.Fatal(err)
	}
	v := run(t, nil, "archive", "verify", "-c", cfg)
	if v.code != 3 || !strings.Contains(v.stdout, "sha256:"+filepath.Base(victim)) || !strings.Contains(v.stdout, "altered") {
		t.Errorf("archive verify after a flipped byte: exit %d, want 3 naming sha256:%s\n%s", v.code, filepath.Base(victim), v.stdout)
	}
}

// TestArchiveBackfill: a ledger written with the archive off is backfilled
// — every healthy bundle fetched, verified and archived — and the next
// (fast-path) run reports full coverage without copying anything.
func TestArchiveBackfill(t *testing.T) {
	w, _ := archiveWorld(t)
	cfg := w.ConfigPath()
	off := []string{"EVIDENCE_AUDITD_ARCHIVE_ENABLED=false"}
	if r := run(t, off, "run", "-c", cfg); r.code != 0 || !strings.Contains(r.stdout, "archive: disabled") {
		t.Fatalf("run without archive: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, off, "archive", "backfill", "-c", cfg); r.code != 2 {
		t.Errorf("backfill with the archive disabled: exit %d, want 2\n%s", r.code, r.stderr)
	}
	bf := run(t, nil, "archive", "backfill", "-c", cfg)
	if bf.code != 0 || !strings.Contains(bf.stdout, "0 healthy bundles archived already, 3 to archive") || !strings.Contains(bf.stdout, "3 archived now, 0 not") {
		t.Fatalf("backfill: exit %d\n%s\n%s", bf.code, bf.stdout, bf.stderr)
	}
	if again := run(t, nil, "archive", "backfill", "-c", cfg); again.code != 0 || !strings.Contains(again.stdout, "3 healthy bundles archived already, 0 to archive") {
		t.Errorf("second backfill: exit %d\n%s", again.code, again.stdout)
	}
	r := run(t, nil, "run", "-c", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "archive: 3 of 3 healthy bundles archived (100%), 0 copied by this run") {
		t.Errorf("run after backfill: exit %d\n%s", r.code, r.stdout)
	}
	if v := run(t, nil, "archive", "verify", "-c", cfg); v.code != 0 {
		t.Errorf("archive verify after backfill: exit %d\n%s", v.code, v.stdout)
	}
}

// TestDemoArchiveDifference: the demo's scenarios deleted after an audit
// reach AfterDelete with the archive and WithoutArchive without it, as the
// demo's scenario table claims.
func TestDemoArchiveDifference(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	var cases []sandbox.Case
	for _, c := range sandbox.DemoCases(now) {
		if c.DeleteAfterAudit {
			cases = append(cases, c)
		}
	}
	if len(cases) < 3 {
		t.Fatalf("the demo deletes %d bundles after an audit, want one of each signature form", len(cases))
	}
	w, built := startWorld(t, nil, cases)
	cfg := w.ConfigPath()
	if r := run(t, nil, "run", "-c", cfg); r.code != 0 {
		t.Fatalf("first run: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := w.DeleteAudited(context.Background(), built); err != nil {
		t.Fatal(err)
	}
	for i, env := range [][]string{{"EVIDENCE_AUDITD_ARCHIVE_ENABLED=false"}, nil} {
		r := run(t, env, "run", "-c", cfg)
		if r.code != 3 {
			t.Fatalf("run %d: exit %d\n%s", i+2, r.code, r.stderr)
		}
		got := runResults(t, w, int64(i+2))
		for _, p := range built.Pointers {
			want := p.Case.AfterDelete
			if env != nil {
				want = p.Case.WithoutArchive
			}
			res := got[audit.VersionKey{Path: p.Path, AddedCommit: p.MergeCommit}]
			if label(string(res.Verdict), string(res.Class)) != label(want.Verdict, want.Class) || string(res.Age) != want.Age {
				t.Errorf("%s (archive %v): %s/%s %s, want %s/%s %s: %s", p.Case.Name, env == nil, res.Verdict, res.Class, res.Age, want.Verdict, want.Class, want.Age, res.Detail)
			}
		}
	}
}

//go:build e2e

package main_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
)

// RegistryEnv names the real OCI registry (Debian's docker-registry, CNCF
// distribution 2.8: no Referrers API) the e2e suite archives to and
// restores into; .ci/run sets it from scripts/registry-up.sh.
const RegistryEnv = "EVIDENCE_AUDITD_E2E_REGISTRY"

// e2eRegistry returns the real registry's host and a repository prefix of
// this test's own, so that runs never share state.
func e2eRegistry(t *testing.T) (host, prefix string) {
	t.Helper()
	host = os.Getenv(RegistryEnv)
	if host == "" {
		t.Skipf("%s is not set: start Debian's docker-registry with scripts/registry-up.sh (as .ci/run does) to run this test", RegistryEnv)
	}
	b := make([]byte, 4)
	rand.Read(b)
	return host, "e2e-" + hex.EncodeToString(b)
}

// archiveEnv points the configuration's archive at the real registry (both
// registries over plain http: loopback).
func archiveEnv(w *sandbox.World, host, repo string) []string {
	return []string{"EVIDENCE_AUDITD_ARCHIVE_URL=" + host + "/" + repo,
		"EVIDENCE_AUDITD_REGISTRY_PLAIN_HTTP=" + w.RegistryHost() + "," + host}
}

// archivedCount counts the ledger's archive records; 0 while none can be read.
func archivedCount(path string) int {
	ctx := context.Background()
	db, err := ledger.OpenReadOnly(ctx, path)
	if err != nil {
		return 0
	}
	defer db.Close()
	recs, err := db.ArchivedBundles(ctx, "")
	if err != nil {
		return 0
	}
	return len(recs)
}

// TestE2EArchiveRealRegistry is issue 13's "done when" against Debian's
// docker-registry, as the archive (archive.url) and as the restore target:
// every form of signature is archived there (the referrer through the
// sha256-<hex> tag index: no Referrers API), proves its bundle once the
// origin deleted it, is restored to another repository of the same
// registry and verifies there; a blob deleted from the archive is named by
// archive verify.
func TestE2EArchiveRealRegistry(t *testing.T) {
	host, prefix := e2eRegistry(t)
	w, built := archiveWorld(t)
	cfg := w.ConfigPath()
	env := archiveEnv(w, host, prefix+"/archive")

	first := run(t, env, "run", "-c", cfg)
	if first.code != 0 || !strings.Contains(first.stdout, "archive: 3 of 3 healthy bundles archived (100%), 3 copied by this run") {
		t.Fatalf("first run: exit %d\n%s\n%s", first.code, first.stdout, first.stderr)
	}
	if v := run(t, env, "archive", "verify", "-c", cfg); v.code != 0 || !strings.Contains(v.stdout, "oci:"+host+"/"+prefix+"/archive") {
		t.Fatalf("archive verify: exit %d\n%s\n%s", v.code, v.stdout, v.stderr)
	}
	deleteSummaries(t, w, built, "v1", "v2", "legacy")
	second := run(t, env, "run", "-c", cfg)
	if second.code != 3 {
		t.Fatalf("second run: exit %d\n%s\n%s", second.code, second.stdout, second.stderr)
	}
	for k, r := range runResults(t, w, 2) {
		if r.Verdict != audit.Archived || r.VerifiedVia != audit.ViaArchive {
			t.Errorf("%s: %s/%s via %s: %s", k.Path, r.Verdict, r.Class, r.VerifiedVia, r.Detail)
		}
	}
	to := host + "/" + prefix + "/restored"
	rs := run(t, env, "archive", "restore", "-c", cfg, "--lost", "--to", to)
	if rs.code != 0 || strings.Count(rs.stdout, ": verified there") != 3 || !strings.Contains(rs.stdout, "→ "+to) {
		t.Fatalf("archive restore: exit %d\n%s\n%s", rs.code, rs.stdout, rs.stderr)
	}

	// A blob deleted from the archive registry is named by archive verify.
	ctx := context.Background()
	db, err := ledger.OpenReadOnly(ctx, ledgerPath(w))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := db.ArchivedBundles(ctx, "oci:"+host+"/"+prefix+"/archive")
	db.Close()
	if err != nil || len(recs) != 3 {
		t.Fatalf("%d archive records (%v), want 3", len(recs), err)
	}
	var victim string
	for _, rec := range recs {
		for _, o := range rec.Objects {
			if strings.HasSuffix(o.MediaType, "tar+gzip") {
				victim = o.Digest
			}
		}
	}
	req, _ := http.NewRequest(http.MethodDelete, fmt.Sprintf("http://%s/v2/%s/archive/blobs/%s", host, prefix, victim), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("delete blob %s: %v %v", victim, err, resp)
	}
	resp.Body.Close()
	v := run(t, env, "archive", "verify", "-c", cfg)
	if v.code != 3 || !strings.Contains(v.stdout, victim) {
		t.Errorf("archive verify after deleting %s: exit %d\n%s", victim, v.code, v.stdout)
	}
}

// TestE2EArchiveKillResume: a run killed with SIGKILL in the middle of
// archiving 1 000 bundles — into an OCI layout, and into the real
// registry — leaves an archive whose every recorded copy is intact
// (archive verify), and the resumed run archives the rest: full coverage,
// every copy intact.
func TestE2EArchiveKillResume(t *testing.T) {
	host, prefix := e2eRegistry(t)
	const n = 1000
	now := time.Now().UTC().Truncate(time.Second)
	w, _ := startWorld(t, []sandbox.Option{sandbox.WithLeafReuse(5 * time.Minute)}, sandbox.ScaleCases(n, now), sandbox.ConfigConcurrency(2))
	for _, store := range []string{"layout", "registry"} {
		t.Run(store, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), store)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(dir, "evidence-auditd.yaml")
			if err := w.WriteConfig(cfg, sandbox.ConfigDataDir(dir), sandbox.ConfigLedger(filepath.Join(dir, "ledger.db")),
				sandbox.ConfigIssuesDir(filepath.Join(dir, "issues")), sandbox.ConfigConcurrency(2)); err != nil {
				t.Fatal(err)
			}
			env := []string{"EVIDENCE_AUDITD_REGISTRY_PLAIN_HTTP=" + w.RegistryHost() + "," + host}
			if store == "registry" {
				env = archiveEnv(w, host, prefix+"/kill")
			}
			ledgerFile := filepath.Join(dir, "ledger.db")

			cmd := exec.Command(binary, "run", "-c", cfg)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Minute)
			for archivedCount(ledgerFile) < n/3 {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatal("the run did not archive a third of the bundles in 5 minutes")
				}
				time.Sleep(50 * time.Millisecond) // polling a child process, not waiting for time to pass
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			before := archivedCount(ledgerFile)
			if before >= n {
				t.Fatalf("the run archived everything (%d) before it was killed", before)
			}
			t.Logf("killed after %d of %d bundles were archived", before, n)

			v := run(t, env, "archive", "verify", "-c", cfg)
			if v.code != 0 || !strings.Contains(v.stdout, fmt.Sprintf("%d bundles", before)) {
				t.Fatalf("archive verify after the kill: exit %d\n%s\n%s", v.code, v.stdout, v.stderr)
			}
			r := run(t, env, "run", "-c", cfg)
			if r.code != 0 || !strings.Contains(r.stdout, "resumed an interrupted run") ||
				!strings.Contains(r.stdout, fmt.Sprintf("archive: %d of %d healthy bundles archived (100%%)", n, n)) {
				t.Fatalf("resumed run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			v = run(t, env, "archive", "verify", "-c", cfg)
			if v.code != 0 || !strings.Contains(v.stdout, fmt.Sprintf("%d bundles", n)) {
				t.Errorf("archive verify after the resumed run: exit %d\n%s", v.code, v.stdout)
			}
			if lv := run(t, env, "ledger", "verify", "-c", cfg); lv.code != 0 {
				t.Errorf("ledger verify: exit %d\n%s", lv.code, lv.stdout)
			}
		})
	}
}

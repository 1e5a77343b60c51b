//go:build e2e

package main_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
)

// rekorURLEnv names the real Rekor v1 (rekor-server v1.5.4 on Trillian)
// that .ci/run starts with scripts/rekor-up.sh.
const rekorURLEnv = "EVIDENCE_AUDITD_E2E_REKOR_URL"

// cosignVersion is the peer CLI bench/compare-cosign.sh builds.
const cosignVersion = "v2.6.5"

// cosignBinary returns the cosign CLI that bench/compare-cosign.sh builds
// into the ignored .ci/bin, building it the same way when it is missing
// (several minutes cold; never committed).
func cosignBinary(t *testing.T) string {
	t.Helper()
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("git rev-parse: %v", err)
	}
	bin := filepath.Join(strings.TrimSpace(string(top)), ".ci", "bin")
	cosign := filepath.Join(bin, "cosign")
	if out, err := exec.Command(cosign, "version").CombinedOutput(); err == nil && bytes.Contains(out, []byte(cosignVersion)) {
		return cosign
	}
	t.Logf("building cosign %s into %s (as bench/compare-cosign.sh does; slow the first time)", cosignVersion, bin)
	cmd := exec.Command("go", "install", "github.com/sigstore/cosign/v2/cmd/cosign@"+cosignVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build cosign: %v\n%s", err, out)
	}
	return cosign
}

// cosignVerify runs cosign verify-blob-attestation on a report and its
// bundle, isolated from the user's TUF cache and the network.
func cosignVerify(t *testing.T, cosign, reportPath string, args ...string) (int, string) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(cosign, append([]string{"verify-blob-attestation", "--new-bundle-format",
		"--bundle", reportPath + ".sigstore.json", "--type", "https://evidence-auditd.dev/compliance-snapshot/v1"}, append(args, reportPath)...)...)
	cmd.Env = []string{"HOME=" + home, "TUF_ROOT=" + filepath.Join(home, "tuf"), "PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("cosign: %v", err)
	}
	return code, string(out)
}

// TestE2ECosignAcceptsSignedReports: cosign verify-blob-attestation
// --bundle accepts what report --sign writes — keyless (sandbox Fulcio and
// Rekor v1, with the identity) and with a key — and refuses an edited
// report (SPEC §10).
func TestE2ECosignAcceptsSignedReports(t *testing.T) {
	cosign := cosignBinary(t)
	w, _ := smallWorld(t)
	tok, err := w.OIDCIssuer().Token(keylessWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"SIGSTORE_ID_TOKEN=" + tok}
	identity, issuer := keylessWorkflow.Identity(), w.OIDCIssuer().URL()
	addAnchorConfig(t, w, "fulcioURL: "+w.FulcioURL(), "log: "+w.LogURL(), "identity: "+identity, "issuer: "+issuer)
	if r := run(t, env, "run", "-c", w.ConfigPath()); r.code != 0 {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	dir := t.TempDir()
	for _, format := range []string{"markdown", "json", "html"} {
		out := filepath.Join(dir, "snapshot."+format)
		if s := run(t, env, "report", "-c", w.ConfigPath(), "--format", format, "-o", out, "--sign"); s.code != 0 {
			t.Fatalf("report --sign: exit %d\n%s", s.code, s.stderr)
		}
		code, msg := cosignVerify(t, cosign, out, "--trusted-root", w.TrustedRootPath(), "--insecure-ignore-sct",
			"--certificate-identity", identity, "--certificate-oidc-issuer", issuer)
		if code != 0 || !strings.Contains(msg, "Verified OK") {
			t.Fatalf("cosign on the keyless %s report: exit %d\n%s", format, code, msg)
		}
		code, msg = cosignVerify(t, cosign, out, "--trusted-root", w.TrustedRootPath(), "--insecure-ignore-sct",
			"--certificate-identity", "https://github.com/evil/fork/.github/workflows/x.yaml@refs/heads/main", "--certificate-oidc-issuer", issuer)
		if code == 0 {
			t.Errorf("cosign accepted the %s report for another identity:\n%s", format, msg)
		}
		body, _ := os.ReadFile(out)
		os.WriteFile(out, append(body, []byte("\nappended after signing\n")...), 0o644)
		if code, msg := cosignVerify(t, cosign, out, "--trusted-root", w.TrustedRootPath(), "--insecure-ignore-sct",
			"--certificate-identity", identity, "--certificate-oidc-issuer", issuer); code == 0 {
			t.Errorf("cosign accepted an edited %s report:\n%s", format, msg)
		}
		if v := run(t, nil, "verify-report", out, "-c", w.ConfigPath()); v.code != 3 {
			t.Errorf("verify-report accepted an edited %s report: exit %d\n%s", format, v.code, v.stdout)
		}
	}

	// With a key (logged in the sandbox log, which the trusted root names).
	priv, pub := writeKeyPair(t, w.Dir(), "ecdsa")
	addAnchorConfig(t, w, "key: "+priv, "log: "+w.LogURL())
	out := filepath.Join(dir, "keyed.md")
	if s := run(t, nil, "report", "-c", w.ConfigPath(), "-o", out, "--sign"); s.code != 0 {
		t.Fatalf("report --sign with a key: exit %d\n%s", s.code, s.stderr)
	}
	if code, msg := cosignVerify(t, cosign, out, "--trusted-root", w.TrustedRootPath(), "--key", pub); code != 0 || !strings.Contains(msg, "Verified OK") {
		t.Fatalf("cosign on the key-signed report: exit %d\n%s", code, msg)
	}
	_, otherPub := writeKeyPair(t, t.TempDir(), "ecdsa")
	if code, _ := cosignVerify(t, cosign, out, "--trusted-root", w.TrustedRootPath(), "--key", otherPub); code == 0 {
		t.Errorf("cosign accepted the report with another key")
	}
}

// TestE2EAnchorsLoggedToRealRekor: anchors (with a key, and keyless
// through the sandbox Fulcio) are logged to the real Rekor v1 as
// hashedrekord entries; ledger verify checks their proofs against the
// trusted root (which names the real log) and reads them back by index; a
// consistent rewrite is named at its run; report --sign logs there too and
// verify-report accepts it.
func TestE2EAnchorsLoggedToRealRekor(t *testing.T) {
	url := os.Getenv(rekorURLEnv)
	if url == "" {
		t.Skipf("%s is not set: start a real Rekor with scripts/rekor-up.sh (as .ci/run does) to run this test", rekorURLEnv)
	}
	w, _ := smallWorld(t)
	root := trustedRootWithRekor(t, w, url)
	priv, _ := writeKeyPair(t, w.Dir(), "ecdsa")
	setTrustedRoot(t, w, root)
	addAnchorConfig(t, w, "key: "+priv, "log: "+url)

	r := run(t, nil, "run", "-c", w.ConfigPath())
	if r.code != 0 || !regexp.MustCompile(`signed by key ecdsa-p256 sha256:[0-9a-f]{64}; logged at `+regexp.QuoteMeta(url)+`, index \d+`).MatchString(r.stdout) {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, nil, "run", "-c", w.ConfigPath()); r.code != 0 {
		t.Fatalf("second run: exit %d\n%s", r.code, r.stderr)
	}
	v := run(t, nil, "ledger", "verify", "-c", w.ConfigPath())
	if v.code != 0 || !strings.Contains(v.stdout, "read from anchor file, ledger anchor, log; logged at index") || strings.Contains(v.stdout, "note:") {
		t.Fatalf("ledger verify: exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}
	out := filepath.Join(t.TempDir(), "snapshot.md")
	if s := run(t, nil, "report", "-c", w.ConfigPath(), "-o", out, "--sign"); s.code != 0 || !strings.Contains(s.stderr, "logged at "+url) {
		t.Fatalf("report --sign: exit %d\n%s", s.code, s.stderr)
	}
	if vr := run(t, nil, "verify-report", out, "-c", w.ConfigPath()); vr.code != 0 || !strings.Contains(vr.stdout, "logged at index") {
		t.Fatalf("verify-report: exit %d\n%s%s", vr.code, vr.stdout, vr.stderr)
	}
	tamperLedger(t, ledgerPath(w), `UPDATE results SET detail = 'forged' WHERE seq = 1`)
	if v := run(t, nil, "ledger", "verify", "-c", w.ConfigPath()); v.code != 3 || !strings.Contains(v.stdout, "BROKEN at run 1 (anchor file)") {
		t.Fatalf("ledger verify after a rewrite: exit %d\n%s", v.code, v.stdout)
	}

	// Keyless anchors in the real log.
	k, _ := smallWorld(t)
	kroot := trustedRootWithRekor(t, k, url)
	tok, err := k.OIDCIssuer().Token(keylessWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	setTrustedRoot(t, k, kroot)
	addAnchorConfig(t, k, "fulcioURL: "+k.FulcioURL(), "log: "+url, "identity: "+keylessWorkflow.Identity(), "issuer: "+k.OIDCIssuer().URL())
	if r := run(t, []string{"SIGSTORE_ID_TOKEN=" + tok}, "run", "-c", k.ConfigPath()); r.code != 0 || !strings.Contains(r.stdout, "signed by keyless") || !strings.Contains(r.stdout, "logged at "+url) {
		t.Fatalf("keyless run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if v := run(t, nil, "ledger", "verify", "-c", k.ConfigPath()); v.code != 0 || !strings.Contains(v.stdout, "signed by keyless") || !strings.Contains(v.stdout, "log;") {
		t.Fatalf("ledger verify of keyless anchors: exit %d\n%s", v.code, v.stdout)
	}
}

// trustedRootWithRekor writes a copy of w's trusted root that also names
// the Rekor v1 log at url by its public key, and returns its path.
func trustedRootWithRekor(t *testing.T, w *sandbox.World, url string) string {
	t.Helper()
	resp, err := http.Get(strings.TrimRight(url, "/") + "/api/v1/log/publicKey")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	pemBytes, _ := io.ReadAll(resp.Body)
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatalf("Rekor public key: no PEM in %q", pemBytes)
	}
	var tr map[string]any
	raw, err := os.ReadFile(w.TrustedRootPath())
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &tr); err != nil {
		t.Fatal(err)
	}
	id := sha256.Sum256(block.Bytes)
	tlogs, _ := tr["tlogs"].([]any)
	tr["tlogs"] = append(tlogs, map[string]any{
		"baseUrl":       url,
		"hashAlgorithm": "SHA2_256",
		"publicKey": map[string]any{
			"rawBytes":   base64.StdEncoding.EncodeToString(block.Bytes),
			"keyDetails": "PKIX_ECDSA_P256_SHA_256",
			"validFor":   map[string]any{"start": "2000-01-01T00:00:00Z"},
		},
		"logId": map[string]any{"keyId": base64.StdEncoding.EncodeToString(id[:])},
	})
	out, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(w.Dir(), "trusted_root_with_rekor.json")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// setTrustedRoot points a world's configuration at another trusted root.
func setTrustedRoot(t *testing.T, w *sandbox.World, path string) {
	t.Helper()
	raw, err := os.ReadFile(w.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^(\s+trustedRoot:).*$`)
	if !re.Match(raw) {
		t.Fatalf("no trust.trustedRoot in %s", raw)
	}
	if err := os.WriteFile(w.ConfigPath(), re.ReplaceAll(raw, []byte("${1} "+path)), 0o644); err != nil {
		t.Fatal(err)
	}
}

package main_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/fulcio"
)

// writeKeyPair writes a PKCS#8 private key of alg ("ecdsa", "ed25519") and
// its PEM public key into dir, and returns their paths.
func writeKeyPair(t *testing.T, dir, alg string) (priv, pub string) {
	t.Helper()
	var key any
	var pubKey any
	switch alg {
	case "ecdsa":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key, pubKey = k, k.Public()
	case "ed25519":
		p, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key, pubKey = k, p
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pder, err := x509.MarshalPKIXPublicKey(pubKey)
	if err != nil {
		t.Fatal(err)
	}
	priv, pub = filepath.Join(dir, "anchor.key"), filepath.Join(dir, "anchor.pub")
	if err := os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}), 0o644); err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// addAnchorConfig sets the anchor block of a world's configuration (the
// last block of the file; a previous one is replaced).
func addAnchorConfig(t *testing.T, w *sandbox.World, lines ...string) {
	t.Helper()
	raw, err := os.ReadFile(w.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	if i := strings.Index(text, "\nanchor:\n"); i >= 0 {
		text = text[:i+1]
	}
	text += "anchor:\n"
	for _, l := range lines {
		text += "  " + l + "\n"
	}
	if err := os.WriteFile(w.ConfigPath(), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

var keylessWorkflow = fulcio.Claims{Subject: "repo:acme/audits:ref:refs/heads/main", JobWorkflowRef: "acme/audits/.github/workflows/audit.yaml@refs/heads/main"}

// TestRunAnchorsWithAKey: with anchor.key and anchor.log, run anchors its
// run (signed, logged, in a file beside the ledger), says so in its
// summary; ledger verify checks it and reads the log entry back; the
// report states it; nothing prints the key.
func TestRunAnchorsWithAKey(t *testing.T) {
	w, _ := smallWorld(t)
	priv, _ := writeKeyPair(t, w.Dir(), "ed25519")
	keyPEM, _ := os.ReadFile(priv)
	addAnchorConfig(t, w, "key: anchor.key", "log: "+w.LogURL())

	r := run(t, nil, "run", "-c", w.ConfigPath())
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	line := regexp.MustCompile(`(?m)^Anchor (\S+/run-000001\.note): signed by key ed25519 sha256:[0-9a-f]{64}; logged at ` + regexp.QuoteMeta(w.LogURL()) + `, index (\d+)$`).FindStringSubmatch(r.stdout)
	if line == nil {
		t.Fatalf("run summary has no anchor line:\n%s", r.stdout)
	}
	if _, err := os.Stat(line[1]); err != nil || filepath.Dir(line[1]) != ledgerPath(w)+".anchors" {
		t.Errorf("anchor file %s: %v; want it beside the ledger", line[1], err)
	}
	v := run(t, nil, "ledger", "verify", "-c", w.ConfigPath())
	if v.code != 0 || !strings.Contains(v.stdout, "OK,") ||
		!strings.Contains(v.stdout, "newest: run 1, signed by key ed25519") || !strings.Contains(v.stdout, "read from anchor file, ledger anchor, log") {
		t.Fatalf("ledger verify: exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}
	doc := reportJSON(t, "-c", w.ConfigPath())
	a, _ := doc["run"].(map[string]any)["anchor"].(map[string]any)
	if a == nil || a["signed"] != true || fmt.Sprint(a["logIndex"]) != line[2] {
		t.Errorf("report run.anchor = %v, want signed, logIndex %s", a, line[2])
	}
	for _, out := range []string{r.stdout, r.stderr, v.stdout, v.stderr} {
		if bytes.Contains([]byte(out), keyPEM[30:60]) {
			t.Errorf("key material printed")
		}
	}
}

// TestReportSignKeylessAndVerifyReport: a run in a keyless world (an
// ambient OIDC token, the sandbox Fulcio and Rekor v1): report --sign writes
// a bundle that verify-report accepts with the ledger; an edited report, an
// unexpected identity and an edited ledger are refused (exit 3); the token
// appears nowhere.
func TestReportSignKeylessAndVerifyReport(t *testing.T) {
	w, _ := smallWorld(t)
	tok, err := w.OIDCIssuer().Token(keylessWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"SIGSTORE_ID_TOKEN=" + tok}
	identity, issuer := keylessWorkflow.Identity(), w.OIDCIssuer().URL()
	addAnchorConfig(t, w, "fulcioURL: "+w.FulcioURL(), "log: "+w.LogURL(), "identity: "+identity, "issuer: "+issuer)

	r := run(t, env, "run", "-c", w.ConfigPath())
	if r.code != 0 || !strings.Contains(r.stdout, "signed by keyless "+identity+" (issuer "+issuer+")") {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	out := filepath.Join(t.TempDir(), "snapshot.md")
	s := run(t, env, "report", "-c", w.ConfigPath(), "-o", out, "--sign")
	if s.code != 0 || !strings.Contains(s.stderr, "signed the report of run 1") {
		t.Fatalf("report --sign: exit %d\n%s\n%s", s.code, s.stdout, s.stderr)
	}
	bundle, err := os.ReadFile(out + ".sigstore.json")
	if err != nil {
		t.Fatal(err)
	}

	ok := run(t, nil, "verify-report", out, "-c", w.ConfigPath())
	if ok.code != 0 || !strings.Contains(ok.stdout, "signature OK") || !strings.Contains(ok.stdout, "run 1 matches the report: its head is anchored; the report re-renders byte for byte") {
		t.Fatalf("verify-report: exit %d\n%s%s", ok.code, ok.stdout, ok.stderr)
	}
	// Without the ledger: the signature and subject only, said so.
	alone := run(t, nil, "verify-report", out, "--trusted-root", w.TrustedRootPath(), "--certificate-identity", identity, "--certificate-oidc-issuer", issuer)
	if alone.code != 0 || !strings.Contains(alone.stdout, "no ledger given") {
		t.Errorf("verify-report without the ledger: exit %d\n%s%s", alone.code, alone.stdout, alone.stderr)
	}
	// Keyless without saying whose signature to accept is a usage error.
	if u := run(t, nil, "verify-report", out, "--trusted-root", w.TrustedRootPath()); u.code != 2 {
		t.Errorf("verify-report with no identity: exit %d, want 2\n%s", u.code, u.stderr)
	}
	other := run(t, nil, "verify-report", out, "-c", w.ConfigPath(), "--certificate-identity", "https://github.com/evil/fork/.github/workflows/x.yaml@refs/heads/main", "--certificate-oidc-issuer", issuer)
	if other.code != 3 || !strings.Contains(other.stdout, "MISMATCH") {
		t.Errorf("verify-report expecting another identity: exit %d\n%s", other.code, other.stdout)
	}

	edited := filepath.Join(t.TempDir(), "snapshot.md")
	body, _ := os.ReadFile(out)
	if !bytes.Contains(body, []byte("verified")) {
		t.Fatalf("the report says nothing verified:\n%s", body)
	}
	os.WriteFile(edited, bytes.Replace(body, []byte("verified"), []byte("invalid"), 1), 0o644)
	os.WriteFile(edited+".sigstore.json", bundle, 0o644)
	bad := run(t, nil, "verify-report", edited, "-c", w.ConfigPath())
	if bad.code != 3 || !strings.Contains(bad.stdout, "edited after signing") {
		t.Errorf("verify-report of an edited report: exit %d\n%s", bad.code, bad.stdout)
	}
	if missing := run(t, nil, "verify-report", filepath.Join(t.TempDir(), "none.md"), "-c", w.ConfigPath()); missing.code != 1 {
		t.Errorf("verify-report of a missing file: exit %d, want 1", missing.code)
	}

	// The ledger is rewritten behind the report's back.
	tamperLedger(t, ledgerPath(w), `UPDATE run_recipes SET needs_recert = 1, reason = 'expired' WHERE run_id = 1`)
	moved := run(t, nil, "verify-report", out, "-c", w.ConfigPath())
	if moved.code != 3 || !strings.Contains(moved.stdout, "does not hold up to run 1") {
		t.Errorf("verify-report after a ledger rewrite: exit %d\n%s", moved.code, moved.stdout)
	}
	// And report refuses to present or sign that ledger as sound.
	again := run(t, env, "report", "-c", w.ConfigPath(), "-o", filepath.Join(t.TempDir(), "r.md"), "--sign")
	if again.code != 3 || !strings.Contains(again.stderr, "does not match its anchors") || !strings.Contains(again.stderr, "not signed") {
		t.Errorf("report --sign of a rewritten ledger: exit %d\n%s", again.code, again.stderr)
	}

	var seen bytes.Buffer
	for _, o := range []result{r, s, ok, alone, other, bad, moved, again} {
		seen.WriteString(o.stdout + o.stderr)
	}
	filepath.Walk(w.Dir(), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			seen.Write(b)
		}
		return nil
	})
	if bytes.Contains(seen.Bytes(), []byte(tok)) || bytes.Contains(seen.Bytes(), []byte(strings.Split(tok, ".")[2])) {
		t.Errorf("the OIDC token appears in an output or a file of the world")
	}
}

// TestReportSignWithAKey: report --sign with anchor.key; verify-report
// with --key; without key or token --sign is a usage error.
func TestReportSignWithAKey(t *testing.T) {
	w, _ := smallWorld(t)
	if r := run(t, nil, "run", "-c", w.ConfigPath()); r.code != 0 {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	out := filepath.Join(t.TempDir(), "snapshot.json")
	if u := run(t, nil, "report", "-c", w.ConfigPath(), "--format", "json", "-o", out, "--sign"); u.code != 2 || !strings.Contains(u.stderr, "anchor.key") {
		t.Fatalf("report --sign with nothing to sign with: exit %d, want 2\n%s", u.code, u.stderr)
	}
	if u := run(t, nil, "report", "-c", w.ConfigPath(), "--sign"); u.code != 2 {
		t.Errorf("report --sign without -o: exit %d, want 2", u.code)
	}
	priv, pub := writeKeyPair(t, w.Dir(), "ecdsa")
	addAnchorConfig(t, w, "key: "+priv)
	if s := run(t, nil, "report", "-c", w.ConfigPath(), "--format", "json", "-o", out, "--sign"); s.code != 0 {
		t.Fatalf("report --sign: exit %d\n%s", s.code, s.stderr)
	}
	v := run(t, nil, "verify-report", out, "--key", pub, "--ledger", ledgerPath(w))
	// The run was anchored unsigned (no key when it ran); the report is
	// signed with the key configured since.
	if v.code != 0 || !strings.Contains(v.stdout, "signed by key ecdsa-p256") || !strings.Contains(v.stdout, "over 3 rows, anchored\n") ||
		!strings.Contains(v.stdout, "its head is anchored") {
		t.Fatalf("verify-report --key: exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}
	_, otherPub := writeKeyPair(t, t.TempDir(), "ecdsa")
	if o := run(t, nil, "verify-report", out, "--key", otherPub); o.code != 3 {
		t.Errorf("verify-report with another key: exit %d, want 3\n%s", o.code, o.stdout)
	}
}

// tamperLedger rewrites the ledger at path as an attacker with the file and
// the program's source would: triggers dropped, the edit, every hash and
// seal recomputed (ledger.RehashUnsafe), triggers re-created.
func tamperLedger(t *testing.T, path string, queries ...string) {
	t.Helper()
	if err := tamperSQL(path, queries...); err != nil {
		t.Fatal(err)
	}
	if err := rehash(context.Background(), path); err != nil {
		t.Fatal(err)
	}
}

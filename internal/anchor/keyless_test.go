package anchor_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/anchor"
)

// TestKeylessAnchors signs anchors keyless through the sandbox's Fulcio
// front with a token of its OIDC issuer, logged to the sandbox's Rekor v1
// (hashedrekord) or v2 (with an RFC 3161 timestamp), or not logged; Check
// verifies the certificate chain, the identity, the log proof and the
// note, and reads v1 entries back from the log.
func TestKeylessAnchors(t *testing.T) {
	w := world(t)
	for _, tt := range []struct {
		name      string
		log, tsa  string
		logged    bool
		readsBack bool
	}{
		{name: "rekor v1", log: w.LogURL(), logged: true, readsBack: true},
		{name: "rekor v2 with timestamp", log: w.RekorV2URL(), tsa: w.TSAURL() + "/api/v1/timestamp", logged: true},
		{name: "unlogged"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tok := worldToken(t, w)
			s, err := anchor.NewSigner(anchor.SignerOptions{Tokens: tok, FulcioURL: w.FulcioURL(), LogURL: tt.log, TimestampURL: tt.tsa})
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t, s)
			f.run(t, 2, true)
			_, a := f.run(t, 3, true)
			wantBy := "keyless " + workflow.Identity() + " (issuer " + w.OIDCIssuer().URL() + ")"
			if a.Signature.By != wantBy || len(a.Signature.Warnings) > 0 || a.Signature.Bundle == nil {
				t.Fatalf("anchor signed by %q, warnings %q, bundle %d bytes; want %q", a.Signature.By, a.Signature.Warnings, len(a.Signature.Bundle), wantBy)
			}
			if tt.logged != (a.Signature.LogIndex >= 0) {
				t.Fatalf("log index %d, want logged %v", a.Signature.LogIndex, tt.logged)
			}
			if _, err := os.Stat(filepath.Join(f.dir, "run-000002.sigstore.json")); err != nil {
				t.Fatalf("bundle file: %v", err)
			}
			trust := worldTrust(t, w)
			opts := anchor.CheckOptions{Dir: f.dir, Trust: trust}
			if tt.readsBack {
				opts.LogReader = anchor.RekorReader{}
			}
			rep, err := anchor.Check(context.Background(), f.db, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Fatalf("Check = %v (notes %q)", rep.FirstBad, rep.Notes)
			}
			n := rep.Newest()
			wantSources := 2
			if tt.readsBack {
				wantSources = 3
			}
			if n.RunID != 2 || n.By != wantBy || len(n.Sources) != wantSources || (n.LogIndex >= 0) != tt.logged {
				t.Errorf("newest anchor = %+v; want run 2 by %q from %d sources", n, wantBy, wantSources)
			}

			// Another identity is not accepted.
			other := trust
			other.Identity = "https://github.com/evil/fork/.github/workflows/audit.yaml@refs/heads/main"
			rep, _ = anchor.Check(context.Background(), f.db, anchor.CheckOptions{Dir: f.dir, Trust: other})
			if rep.OK() || rep.FirstBad.RunID != 1 {
				t.Errorf("Check expecting another identity = %v; want run 1's anchor refused", rep.FirstBad)
			}
			// Without the trusted root nothing keyless can be checked: a
			// note, never a pass by default.
			rep, _ = anchor.Check(context.Background(), f.db, anchor.CheckOptions{Dir: f.dir})
			if !rep.OK() || rep.Newest().By != "" || !strings.Contains(strings.Join(rep.Notes, "\n"), "cannot be checked") {
				t.Errorf("Check without a trusted root = %v, by %q, notes %q; want unchecked, said so", rep.FirstBad, rep.Newest().By, rep.Notes)
			}
			// An edited bundle does not verify.
			b, _ := os.ReadFile(filepath.Join(f.dir, "run-000001.sigstore.json"))
			os.WriteFile(filepath.Join(f.dir, "run-000001.sigstore.json"), bytes.Replace(b, []byte(`"signature":"`), []byte(`"signature":"AAAA`), 1), 0o644)
			rep, _ = anchor.Check(context.Background(), f.db, opts)
			if rep.OK() || rep.FirstBad.RunID != 1 || rep.FirstBad.Source != anchor.SourceFile {
				t.Errorf("Check with an edited bundle = %v; want run 1's anchor file", rep.FirstBad)
			}
		})
	}
}

// TestKeyAnchorLoggedAndLogDown: a key-signed anchor is logged to the
// sandbox Rekor v1 as a hashedrekord and read back; with the log down the
// anchor is still written and signed, unlogged, with a warning.
func TestKeyAnchorLoggedAndLogDown(t *testing.T) {
	w := world(t)
	for _, alg := range []string{"ecdsa", "ed25519"} {
		t.Run(alg, func(t *testing.T) {
			key := loadKey(t, keyFile(t, alg))
			s, _ := anchor.NewSigner(anchor.SignerOptions{Key: key, LogURL: w.LogURL()})
			f := newFixture(t, s)
			_, a := f.run(t, 2, true)
			if a.Signature.LogIndex < 0 || a.Signature.LogURL != w.LogURL() || len(a.Signature.Warnings) > 0 {
				t.Fatalf("anchor log entry %d at %q, warnings %q; want logged", a.Signature.LogIndex, a.Signature.LogURL, a.Signature.Warnings)
			}
			trust := worldTrust(t, w)
			trust.Key = key.PublicKey()
			rep, err := anchor.Check(context.Background(), f.db, anchor.CheckOptions{Dir: f.dir, Trust: trust, LogReader: anchor.RekorReader{}})
			if err != nil || !rep.OK() || len(rep.Newest().Sources) != 3 {
				t.Fatalf("Check = %v, %v, newest %+v, notes %q", rep.FirstBad, err, rep.Newest(), rep.Notes)
			}

			w.Log().SetStatus(http.StatusServiceUnavailable)
			defer w.Log().SetStatus(0)
			_, a = f.run(t, 2, true)
			if !a.Signed() || a.Signature.LogIndex != -1 || !strings.Contains(strings.Join(a.Signature.Warnings, "\n"), "not logged to "+w.LogURL()) {
				t.Fatalf("anchor with the log down: signed %v, log %d, warnings %q", a.Signed(), a.Signature.LogIndex, a.Signature.Warnings)
			}
		})
	}
}

// TestAmbientTokenFromGitHubActions: the token comes from GitHub Actions'
// request endpoint; neither it nor the request token is written anywhere:
// anchor files, the ledger, errors.
func TestAmbientTokenFromGitHubActions(t *testing.T) {
	w := world(t)
	const request = "request-token-5ecret"
	w.OIDCIssuer().SetActions(workflow, request)
	env := map[string]string{anchor.EnvActionsTokenURL: w.OIDCIssuer().ActionsRequestURL(), anchor.EnvActionsTokenRequest: request}
	amb := anchor.Ambient{Getenv: func(k string) string { return env[k] }}
	tok, err := amb.Token(context.Background())
	if err != nil || strings.Count(tok.Reveal(), ".") != 2 {
		t.Fatalf("Ambient.Token = %v; want a JWT", err)
	}
	s, _ := anchor.NewSigner(anchor.SignerOptions{Tokens: amb, FulcioURL: w.FulcioURL(), LogURL: w.LogURL()})
	f := newFixture(t, s)
	_, a := f.run(t, 2, true)
	if !strings.HasPrefix(a.Signature.By, "keyless https://github.com/acme/audits/") {
		t.Fatalf("anchor signed by %q, warnings %q", a.Signature.By, a.Signature.Warnings)
	}
	var export bytes.Buffer
	if err := f.db.Export(context.Background(), &export); err != nil {
		t.Fatal(err)
	}
	files, _ := os.ReadDir(f.dir)
	for _, e := range files {
		b, _ := os.ReadFile(filepath.Join(f.dir, e.Name()))
		export.Write(b)
	}
	for _, secret := range []string{tok.Reveal(), request} {
		if bytes.Contains(export.Bytes(), []byte(secret)) {
			t.Errorf("a secret was written to the ledger or the anchor files")
		}
	}

	// Fulcio refusing (a token of another issuer) leaves the anchor
	// unsigned, with a warning that names no token.
	env[anchor.EnvSigstoreToken] = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
	_, a = f.run(t, 2, true)
	warn := strings.Join(a.Signature.Warnings, "\n")
	if a.Signed() || !strings.Contains(warn, "keyless signing through") || strings.Contains(warn, env[anchor.EnvSigstoreToken]) {
		t.Errorf("anchor with a refused token: signed %v, warnings %q", a.Signed(), warn)
	}
}

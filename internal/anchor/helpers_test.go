package anchor_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/anchor"
	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/fulcio"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// keyFile writes a PKCS#8 PEM private key of alg ("ecdsa" or "ed25519")
// and returns its path.
func keyFile(t testing.TB, alg string) string {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case "ecdsa":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), alg+".key")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func loadKey(t testing.TB, path string) *anchor.Key {
	t.Helper()
	k, err := anchor.LoadPrivateKey(path, "anchor.key")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// staticToken is a TokenSource with one token.
type staticToken string

func (s staticToken) Token(context.Context) (config.Secret, error) { return config.Secret(s), nil }

func result(i int) audit.Result {
	return audit.Result{
		Key:     audit.VersionKey{Path: fmt.Sprintf("recipes/evidence/r%d/src/sha256-%064x.yaml", i, i), AddedCommit: fmt.Sprintf("%040x", i)},
		Recipe:  fmt.Sprintf("r%d", i),
		Verdict: audit.Verified, Detail: fmt.Sprintf("bundle %d verified", i), VerifiedVia: audit.ViaOCI,
		BundleDigest: fmt.Sprintf("sha256:%064x", i), RekorLogIndex: int64(i), AttestedAt: t0, AttestedAtSource: audit.TimeSigned,
		Age: audit.AgeFresh, Deep: true, CheckedAt: t0,
	}
}

// world is a started sandbox world (its CA, logs, TSA, OIDC issuer and
// Fulcio), with nothing built in it.
func world(t *testing.T) *sandbox.World {
	t.Helper()
	w := sandbox.New(t.TempDir())
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	return w
}

// workflow is the keyless identity the tests sign as.
var workflow = fulcio.Claims{Subject: "repo:acme/audits:ref:refs/heads/main", JobWorkflowRef: "acme/audits/.github/workflows/audit.yaml@refs/heads/main"}

func worldToken(t *testing.T, w *sandbox.World) staticToken {
	t.Helper()
	tok, err := w.OIDCIssuer().Token(workflow)
	if err != nil {
		t.Fatal(err)
	}
	return staticToken(tok)
}

func worldTrust(t *testing.T, w *sandbox.World) anchor.Trust {
	t.Helper()
	tr, err := verify.LoadTrustedRoot(w.TrustedRootPath())
	if err != nil {
		t.Fatal(err)
	}
	return anchor.Trust{Root: tr.Material(), Identity: workflow.Identity(), Issuer: w.OIDCIssuer().URL()}
}

// fixture is a ledger with an anchorer, as the audit job uses them.
type fixture struct {
	path string
	dir  string
	db   *ledger.DB
	an   *anchor.Anchorer
}

func newFixture(t *testing.T, s *anchor.Signer) *fixture {
	t.Helper()
	f := &fixture{path: filepath.Join(t.TempDir(), "ledger.db")}
	f.dir = anchor.DefaultDir(f.path)
	var err error
	if f.an, err = anchor.NewAnchorer(f.dir, s); err != nil {
		t.Fatal(err)
	}
	f.open(t)
	return f
}

func (f *fixture) open(t *testing.T) {
	t.Helper()
	db, err := ledger.Open(context.Background(), f.path, ledger.WithAppendHook(f.an.Hook))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.an.Bind(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	f.db = db
	t.Cleanup(func() { db.Close() })
}

// run records a run of n results and, unless unfinished, finishes and
// anchors it.
func (f *fixture) run(t *testing.T, n int, finish bool) (ledger.Run, *anchor.Anchor) {
	t.Helper()
	ctx := context.Background()
	r, err := f.db.BeginRun(ctx, ledger.RunMeta{Repo: "aicr", Ref: "main", Commit: "c", AsOf: t0, TrustRoot: "sha256:r", VerifierVersion: "v"})
	if err != nil {
		t.Fatal(err)
	}
	base := int(r.ID) * 100
	for i := 0; i < n; i += 2 {
		batch := []audit.Result{result(base + i)}
		if i+1 < n {
			batch = append(batch, result(base+i+1))
		}
		if _, err := f.db.AppendResults(ctx, r.ID, batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.db.PutRecipeStatuses(ctx, r.ID, []audit.RecipeStatus{{Recipe: fmt.Sprintf("r%d", r.ID), LivePointers: n}}); err != nil {
		t.Fatal(err)
	}
	if !finish {
		return r, nil
	}
	if r, err = f.db.FinishRun(ctx, r.ID, true, time.Time{}); err != nil {
		t.Fatal(err)
	}
	a, err := f.an.AnchorRun(ctx, f.db, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	return r, a
}

func (f *fixture) check(t *testing.T, tr anchor.Trust) *anchor.Report {
	t.Helper()
	rep, err := anchor.Check(context.Background(), f.db, anchor.CheckOptions{Dir: f.dir, Trust: tr})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// tamper edits the ledger file with a separate handle (triggers dropped),
// then, when rehash, recomputes every hash with the ledger's own code.
func (f *fixture) tamper(t *testing.T, rehash bool, queries ...string) {
	t.Helper()
	f.db.Close()
	raw, err := sql.Open("sqlite", f.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append([]string{"DROP TRIGGER IF EXISTS results_no_update", "DROP TRIGGER IF EXISTS results_no_delete",
		"DROP TRIGGER IF EXISTS run_seals_no_update", "DROP TRIGGER IF EXISTS run_seals_no_delete",
		"DROP TRIGGER IF EXISTS anchors_no_update", "DROP TRIGGER IF EXISTS anchors_no_delete"}, queries...) {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()
	if rehash {
		if err := ledger.RehashUnsafe(context.Background(), f.path); err != nil {
			t.Fatal(err)
		}
	}
	f.open(t)
}

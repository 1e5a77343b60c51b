package archive_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/archive"
	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/registry"
	"github.com/evidence-auditd/evidence-auditd/internal/rekor"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

var testNow = time.Now().UTC().Truncate(time.Second)

func ago(days int) time.Time { return testNow.AddDate(0, 0, -days) }

// cases are one bundle of each signature form: a Sigstore bundle logged in
// Rekor v1, one logged in Rekor v2, a legacy cosign .att attestation.
func cases() []sandbox.Case {
	fresh := sandbox.Expectation{Verdict: sandbox.Verified, Age: sandbox.AgeFresh}
	return []sandbox.Case{
		{Name: "v1", Recipe: "h100-eks-ubuntu-training", Signer: sandbox.SignerNVIDIA, SignedAt: ago(30), Expect: fresh},
		{Name: "v2", Recipe: "gb200-eks-ubuntu-training", Signer: sandbox.SignerPartner, SignedAt: ago(20), Era: sandbox.EraV2, Expect: fresh},
		{Name: "legacy", Recipe: "a100-gke-cos-inference", Signer: sandbox.SignerNVIDIA, PredicateType: "https://aicr.run/recipe-evidence/v1",
			SignedAt: ago(200), LegacyCosign: true, Expect: fresh},
	}
}

// fixture is a sandbox world (registry, both logs, CA, TSA) with a ledger,
// a verifier for its trusted root and a registry client for it.
type fixture struct {
	w      *sandbox.World
	built  *sandbox.Built
	db     *ledger.DB
	v      *verify.Verifier
	client *registry.Client
	runs   int64
}

func newFixture(t *testing.T, cs []sandbox.Case, opts ...sandbox.Option) *fixture {
	t.Helper()
	ctx := context.Background()
	w := sandbox.New(t.TempDir(), opts...)
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	built, err := w.Build(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	db, err := ledger.Open(ctx, filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tr, err := verify.LoadTrustedRoot(w.TrustedRootPath())
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(tr)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{w: w, built: built, db: db, v: v, client: newClient(t, w.RegistryHost())}
}

// newClient is a registry client that reaches hosts over plain http on
// loopback, with fast retries.
func newClient(t *testing.T, hosts ...string) *registry.Client {
	t.Helper()
	c, err := registry.New(registry.WithPlainHTTP(hosts...), registry.AllowPrivateNetworksUnsafe(true),
		registry.WithRetry(registry.RetryPolicy{MaxAttempts: 2, BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) layout(t *testing.T) *archive.Layout {
	t.Helper()
	l, err := archive.OpenLayout(filepath.Join(t.TempDir(), "archive"), f.client, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (f *fixture) versions(names ...string) []audit.PointerVersion {
	var out []audit.PointerVersion
	for _, n := range names {
		bp := f.built.Pointer(n)
		out = append(out, audit.PointerVersion{Key: audit.VersionKey{Path: bp.Path, AddedCommit: bp.MergeCommit}, Content: bp.Content, AddedAt: bp.MergedAt})
	}
	return out
}

// run audits names in a new deep run with arch (nil: no archive), the
// transparency-log fallback and the ledger, as a job does.
func (f *fixture) run(t *testing.T, arch audit.Archive, names ...string) *audit.Summary {
	t.Helper()
	ctx := context.Background()
	r, err := f.db.BeginRun(ctx, ledger.RunMeta{Repo: "test", Ref: "main", Commit: "c", AsOf: testNow,
		TrustRoot: f.v.TrustRoot(), VerifierVersion: f.v.Version(), Deep: true})
	if err != nil {
		t.Fatal(err)
	}
	l, err := rekor.New(f.w.LogURL(), f.v.TrustedMaterial(), rekor.WithStore(f.db), rekor.WithCachedVerifier(f.v),
		rekor.WithRetry(2, time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	runner := &audit.Runner{Source: f.client, Verifier: f.v, Ledger: f.db, Fallback: l, Archive: arch}
	s, err := runner.Run(ctx, f.versions(names...), nil, audit.Options{RunID: r.ID, AsOf: testNow, Deep: true, EvidenceDir: "recipes/evidence", Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.FinishRun(ctx, r.ID, s.Complete, time.Time{}); err != nil {
		t.Fatal(err)
	}
	// The ledger's records, checks included: the summary leaves them out.
	if s.Results, err = f.db.Results(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	return s
}

// deleteOrigin deletes the summary manifest of each case from its registry.
func (f *fixture) deleteOrigin(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		bp := f.built.Pointer(n)
		repo := strings.TrimPrefix(bp.OCI[:strings.LastIndexByte(bp.OCI, ':')], f.w.RegistryHost()+"/")
		if err := f.w.Registry().Delete(context.Background(), repo+"@"+bp.Digest); err != nil {
			t.Fatal(err)
		}
	}
}

func byName(f *fixture, s *audit.Summary) map[string]audit.Result {
	out := map[string]audit.Result{}
	for _, r := range s.Results {
		for _, bp := range f.built.Pointers {
			if bp.Path == r.Key.Path {
				out[bp.Case.Name] = r
			}
		}
	}
	return out
}

func checkNamed(r audit.Result, name string) (audit.Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return audit.Check{}, false
}

// want is what the case's pointer claims, for the verifier.
func (f *fixture) want(t *testing.T, name string) audit.Expectation {
	t.Helper()
	bp := f.built.Pointer(name)
	p, err := evidence.ParsePointer(bp.Content)
	if err != nil {
		t.Fatal(err)
	}
	return audit.Expectation{Pointer: p, Path: bp.Path}
}

package rekor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/rekor"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

var testNow = time.Now().UTC().Truncate(time.Second)

// fixture is a sandbox world (CA, log over HTTP, registry, repository)
// with a ledger and a verifier for its trusted root.
type fixture struct {
	w     *sandbox.World
	built *sandbox.Built
	db    *ledger.DB
	v     *verify.Verifier
}

func ago(days int) time.Time { return testNow.AddDate(0, 0, -days) }

// cases are the pointers the tests prove from the log: good ones signed by
// NVIDIA's CI, one with no rekorLogIndex, one whose log entry is signed by
// a fork while the pointer names NVIDIA, and two in the Rekor v2 era.
func cases() []sandbox.Case {
	nvidia, fresh := sandbox.SignerNVIDIA, sandbox.Expectation{Verdict: sandbox.Verified, Age: sandbox.AgeFresh}
	return []sandbox.Case{
		{Name: "good", Recipe: "h100-eks-ubuntu-training", Signer: nvidia, SignedAt: ago(30), Expect: fresh},
		{Name: "good-2", Recipe: "h100-eks-ubuntu-training", Signer: sandbox.SignerPartner, SignedAt: ago(20), Expect: fresh},
		{Name: "no-index", Recipe: "l40s-oke-ubuntu-inference", Signer: nvidia, SignedAt: ago(25), OmitLogIndex: true, Expect: fresh},
		{Name: "wrong-signer", Recipe: "gb200-eks-ubuntu-training", Signer: sandbox.SignerFork, ClaimedSigner: &nvidia, SignedAt: ago(15),
			Expect: sandbox.Expectation{Verdict: sandbox.Invalid, Class: sandbox.ClassIdentity, Age: sandbox.AgeFresh}},
		{Name: "wrong-index", Recipe: "a100-gke-cos-inference", Signer: nvidia, SignedAt: ago(10), WrongLogIndex: true,
			Expect: sandbox.Expectation{Verdict: sandbox.Invalid, Class: sandbox.ClassIntegrity, Age: sandbox.AgeFresh}},
		// The Rekor v2 era: a hashedrekord entry in the v2 log, an RFC 3161
		// timestamp, no SET, no integrated time.
		{Name: "good-v2", Recipe: "h200-eks-ubuntu-training", Signer: nvidia, SignedAt: ago(40), Era: sandbox.EraV2, Expect: fresh},
		{Name: "wrong-signer-v2", Recipe: "gb200-eks-ubuntu-training", Signer: sandbox.SignerFork, ClaimedSigner: &nvidia, SignedAt: ago(14), Era: sandbox.EraV2,
			Expect: sandbox.Expectation{Verdict: sandbox.Invalid, Class: sandbox.ClassIdentity, Age: sandbox.AgeFresh}},
		// A legacy cosign .att attestation (Rekor v1 intoto entry): its
		// cached form carries the certificate as a chain.
		{Name: "legacy", Recipe: "a100-gke-cos-inference", Signer: nvidia, PredicateType: "https://aicr.run/recipe-evidence/v1", SignedAt: ago(60),
			LegacyCosign: true, Expect: fresh},
	}
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	w := sandbox.New(t.TempDir())
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	built, err := w.Build(ctx, cases())
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
	return &fixture{w: w, built: built, db: db, v: v}
}

// log is the fallback over the log at url (the world's by default), with
// the ledger and fast retries.
func (f *fixture) log(t *testing.T, url string, opts ...rekor.Option) *rekor.Log {
	t.Helper()
	if url == "" {
		url = f.w.LogURL()
	}
	opts = append([]rekor.Option{
		rekor.WithStore(f.db), rekor.WithCachedVerifier(f.v),
		rekor.WithRetry(3, time.Millisecond, 4*time.Millisecond), rekor.WithMaxRetryAfter(10 * time.Millisecond),
	}, opts...)
	l, err := rekor.New(url, f.v.TrustedMaterial(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (f *fixture) pointer(t *testing.T, name string) *sandbox.BuiltPointer {
	t.Helper()
	bp := f.built.Pointer(name)
	if bp == nil {
		t.Fatalf("no case %s", name)
	}
	return bp
}

func (f *fixture) want(t *testing.T, name string) audit.Expectation {
	t.Helper()
	bp := f.pointer(t, name)
	p, err := evidence.ParsePointer(bp.Content)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return audit.Expectation{Pointer: p, Path: bp.Path}
}

// cache stores the case's bundle and statement in the ledger, as a run that
// verified it would have.
func (f *fixture) cache(t *testing.T, name string) {
	t.Helper()
	bp := f.pointer(t, name)
	var b bundle.Bundle
	if err := b.UnmarshalJSON(bp.Bundle); err != nil {
		t.Fatal(err)
	}
	if err := f.db.PutBundle(context.Background(), ledger.BundleRecord{
		Digest: bp.Digest, SigstoreBundle: bp.Bundle, Statement: b.GetDsseEnvelope().GetPayload(),
		TrustRoot: f.v.TrustRoot(), VerifierVersion: f.v.Version(),
		VerifiedAt: ago(1), LogIndex: bp.LogIndex, IntegratedTime: ago(2),
	}); err != nil {
		t.Fatal(err)
	}
}

func gone(name string) error {
	return fmt.Errorf("fetch %s: %w: MANIFEST_UNKNOWN", name, audit.ErrGone)
}

func label(v audit.Verification) string {
	if v.Class == "" {
		return string(v.Verdict)
	}
	return string(v.Verdict) + "/" + string(v.Class)
}

func checkNamed(v audit.Verification, name string) (audit.Check, bool) {
	for _, c := range v.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return audit.Check{}, false
}

func dump(v audit.Verification) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", label(v), v.Detail)
	for _, c := range v.Checks {
		fmt.Fprintf(&b, "  %-26s %-4s %s\n", c.Name, c.Status, c.Detail)
	}
	return b.String()
}

// tamper serves the log through a proxy that rewrites every entry it
// returns with fn.
func tamper(t *testing.T, h http.Handler, fn func(*models.LogEntryAnon)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v1/log/entries") && rec.Code == http.StatusOK {
			var le models.LogEntry
			if err := json.Unmarshal(body, &le); err != nil {
				t.Errorf("tamper: %v", err)
			}
			for k, e := range le {
				fn(&e)
				le[k] = e
			}
			body, _ = json.Marshal(le)
		}
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = io.Copy(w, bytes.NewReader(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

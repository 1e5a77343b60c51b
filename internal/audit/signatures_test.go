package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/registry"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/gitrepo"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
	sbreg "github.com/evidence-auditd/evidence-auditd/internal/sandbox/registry"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

// These tests run the audit of one pointer with real parts: the sandbox's
// CA, transparency log and in-process OCI registry (with and without the
// Referrers API), the registry client and the sigstore-go verifier.

const (
	testRecipe = "h100-eks-ubuntu-training"
	testRepo   = "aicr/evidence"
	retries    = 3
)

var (
	signedAt = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	newer    = signedAt.Add(time.Hour)
	alice    = publish.Identity{Issuer: "https://token.actions.githubusercontent.com", SAN: "https://github.com/o/r/.github/workflows/validate.yaml@refs/heads/main"}
	bob      = publish.Identity{Issuer: "https://token.actions.githubusercontent.com", SAN: "https://github.com/mallory/r/.github/workflows/validate.yaml@refs/heads/main"}
)

// realWorld is a sandbox world and an audit runner reading from it.
type realWorld struct {
	w      *sandbox.World
	pub    *publish.Publisher
	target publish.Target
	runner *audit.Runner
	ledger *memLedger
}

func newRealWorld(t *testing.T, referrersAPI bool) *realWorld {
	t.Helper()
	ctx := context.Background()
	w := sandbox.New(t.TempDir(), sandbox.WithReferrersAPI(referrersAPI))
	if err := w.Start(ctx); err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := w.Close(cctx); err != nil {
			t.Errorf("close sandbox: %v", err)
		}
	})
	tr, err := verify.LoadTrustedRoot(w.TrustedRootPath())
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(tr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := registry.New(
		registry.WithPlainHTTP(w.RegistryHost()),
		registry.AllowPrivateNetworksUnsafe(true),
		registry.WithRetry(registry.RetryPolicy{MaxAttempts: retries, BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond}),
		registry.WithSleep(func(ctx context.Context, _ time.Duration) error { return ctx.Err() }),
	)
	if err != nil {
		t.Fatal(err)
	}
	l := &memLedger{}
	return &realWorld{
		w:      w,
		pub:    publish.NewPublisher(),
		target: publish.Target{Host: w.RegistryHost(), Repo: testRepo, PlainHTTP: true},
		runner: &audit.Runner{Source: c, Verifier: v, Ledger: l},
		ledger: l,
	}
}

// signer signs with the world's CA and Rekor v1 log (a dsse entry with
// an inclusion proof and a signed entry timestamp).
func (rw *realWorld) signer() publish.StatementSigner {
	return publish.SignerFunc(func(st []byte, id publish.Identity, at time.Time) ([]byte, int64, error) {
		b, info, err := rw.w.Signer().Sign(st, ca.Identity{Identity: id.SAN, Issuer: id.Issuer}, at)
		return b, info.LogIndex, err
	})
}

// signedPointer is a summary published with alice's signature and the
// pointer naming it.
type signedPointer struct {
	sum     *publish.Summary
	pub     *publish.Published
	version audit.PointerVersion
}

// pointerOpts vary publish: unsigned pushes the summary without a
// referrer (the pointer still names alice), noLogIndex leaves
// rekorLogIndex out of the pointer.
type pointerOpts struct{ unsigned, noLogIndex bool }

func (rw *realWorld) publish(t *testing.T, runID string, o pointerOpts) signedPointer {
	t.Helper()
	s, err := publish.BuildSummary(publish.SummarySpec{Recipe: testRecipe, AttestedAt: signedAt.Add(-sandbox.RunToSign), RunID: runID})
	if err != nil {
		t.Fatal(err)
	}
	var signer publish.StatementSigner
	if !o.unsigned {
		signer = rw.signer()
	}
	p, err := rw.pub.Publish(context.Background(), rw.target, s, signer, alice, signedAt, publish.AttachAuto)
	if err != nil {
		t.Fatal(err)
	}
	var idx *int64
	if !o.unsigned && !o.noLogIndex {
		idx = &p.LogIndex
	}
	content := gitrepo.PointerYAML(gitrepo.PointerFields{
		Recipe: testRecipe, AttestedAt: s.Spec.AttestedAt, OCI: p.OCIRef, Digest: s.ManifestDigest,
		PredicateType: s.Spec.PredicateType, Identity: alice.SAN, Issuer: alice.Issuer, RekorLogIndex: idx,
	})
	return signedPointer{sum: s, pub: p, version: audit.PointerVersion{
		Key:     audit.VersionKey{Path: gitrepo.PerSourcePath(testRecipe, alice.Issuer, alice.SAN, s.ManifestDigest), AddedCommit: strings.Repeat("a", 40)},
		Content: content,
		AddedAt: signedAt.Add(24 * time.Hour),
	}}
}

// sign signs sp's statement (or, with of, another summary's) as id at at.
func (rw *realWorld) sign(t *testing.T, sp signedPointer, of *publish.Summary, id publish.Identity, at time.Time) []byte {
	t.Helper()
	if of == nil {
		of = sp.sum
	}
	b, _, err := rw.signer().Sign(of.Statement(rw.target.Repository()), id, at)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (rw *realWorld) attach(t *testing.T, sp signedPointer, r publish.Referrer) string {
	t.Helper()
	d, err := rw.pub.Attach(context.Background(), rw.target, sp.sum, r, publish.AttachAuto)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// audit runs sp's pointer through a deep run and returns its result and the
// bundle the run cached, if any.
func (rw *realWorld) audit(t *testing.T, sp signedPointer) (audit.Result, *audit.CachedBundle) {
	t.Helper()
	rw.ledger.results, rw.ledger.bundles = nil, nil
	o := opts()
	o.AsOf = signedAt.AddDate(0, 1, 0)
	if _, err := rw.runner.Run(context.Background(), []audit.PointerVersion{sp.version}, nil, o); err != nil {
		t.Fatal(err)
	}
	if len(rw.ledger.results) != 1 {
		t.Fatalf("%d results, want 1", len(rw.ledger.results))
	}
	var cached *audit.CachedBundle
	if len(rw.ledger.bundles) > 0 {
		cached = &rw.ledger.bundles[0]
	}
	return rw.ledger.results[0], cached
}

func check(res audit.Result, name string) (audit.Check, bool) {
	for _, c := range res.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return audit.Check{}, false
}

func bothModes(t *testing.T, fn func(t *testing.T, rw *realWorld)) {
	for _, api := range []bool{true, false} {
		name := "tag-schema"
		if api {
			name = "referrers-api"
		}
		t.Run(name, func(t *testing.T) { fn(t, newRealWorld(t, api)) })
	}
}

func short(d string) string { return d[:len("sha256:")+12] }

// An unusable newer Sigstore-bundle referrer does not hide a valid older
// one: the pointer is verified by the older, a check names the newer and
// why it was passed over, and the fast path will probe the older.
func TestNewerUnusableReferrerFallsBackToOlder(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts pointerOpts
		// newer attaches the unusable referrer; it returns the words the
		// signature-candidates check must give as the reason.
		newer func(t *testing.T, rw *realWorld, sp signedPointer) (string, []string)
	}{
		{"unparseable bundle", pointerOpts{}, func(t *testing.T, rw *realWorld, sp signedPointer) (string, []string) {
			return rw.attach(t, sp, publish.Referrer{Bundle: []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":`), At: newer}),
				[]string{"invalid/signature", "does not parse"}
		}},
		{"wrong media type", pointerOpts{}, func(t *testing.T, rw *realWorld, sp signedPointer) (string, []string) {
			return rw.attach(t, sp, publish.Referrer{Bundle: rw.sign(t, sp, nil, alice, newer), MediaType: "application/json", At: newer}),
				[]string{"not usable", "no layer of a Sigstore bundle media type"}
		}},
		{"blob gone", pointerOpts{}, func(t *testing.T, rw *realWorld, sp signedPointer) (string, []string) {
			return rw.attach(t, sp, publish.Referrer{Bundle: rw.sign(t, sp, nil, alice, newer), At: newer, OmitBlob: true}),
				[]string{"not usable", "is not served"}
		}},
		{"over the size limit", pointerOpts{}, func(t *testing.T, rw *realWorld, sp signedPointer) (string, []string) {
			big := append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), registry.DefaultBundleLimit)...)
			return rw.attach(t, sp, publish.Referrer{Bundle: append(big, `"}`...), At: newer}),
				[]string{"not usable", "exceeds the 1048576-byte limit"}
		}},
		{"bundle for another artifact", pointerOpts{noLogIndex: true}, func(t *testing.T, rw *realWorld, sp signedPointer) (string, []string) {
			other, err := publish.BuildSummary(publish.SummarySpec{Recipe: testRecipe, AttestedAt: newer.Add(-sandbox.RunToSign), RunID: "other"})
			if err != nil {
				t.Fatal(err)
			}
			return rw.attach(t, sp, publish.Referrer{Bundle: rw.sign(t, sp, other, alice, newer), At: newer}),
				[]string{"invalid/integrity", "another artifact"}
		}},
		{"signed by someone else", pointerOpts{}, func(t *testing.T, rw *realWorld, sp signedPointer) (string, []string) {
			return rw.attach(t, sp, publish.Referrer{Bundle: rw.sign(t, sp, nil, bob, newer), At: newer}),
				[]string{"invalid/identity", "mallory"}
		}},
		{"re-signed, the pointer names the first log entry", pointerOpts{}, func(t *testing.T, rw *realWorld, sp signedPointer) (string, []string) {
			return rw.attach(t, sp, publish.Referrer{Bundle: rw.sign(t, sp, nil, alice, newer), At: newer}),
				[]string{"invalid/identity", "log index"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bothModes(t, func(t *testing.T, rw *realWorld) {
				sp := rw.publish(t, "run-1", tc.opts)
				bad, words := tc.newer(t, rw, sp)

				res, cached := rw.audit(t, sp)
				if res.Verdict != audit.Verified {
					t.Fatalf("verdict %s/%s (%s), want verified by the older referrer", res.Verdict, res.Class, res.Detail)
				}
				c, ok := check(res, audit.CheckSignatureCandidates)
				if !ok {
					t.Fatalf("no %s check in %+v", audit.CheckSignatureCandidates, res.Checks)
				}
				if c.Status != audit.CheckWarn {
					t.Errorf("%s status %s, want warn", c.Name, c.Status)
				}
				for _, w := range append([]string{short(bad), short(sp.pub.ReferrerDigest) + " verified"}, words...) {
					if !strings.Contains(c.Detail, w) {
						t.Errorf("%s detail %q does not say %q", c.Name, c.Detail, w)
					}
				}
				if !strings.Contains(res.Detail, "passed over") {
					t.Errorf("detail %q does not say a candidate was passed over", res.Detail)
				}
				if cached == nil || cached.ReferrerDigest != sp.pub.ReferrerDigest {
					t.Errorf("cached bundle %+v, want the verified referrer %s for the fast path", cached, sp.pub.ReferrerDigest)
				}
			})
		})
	}
}

// The preferred (newest) signature verifying leaves the result as it was
// with a single signature: no candidates check, no note in the detail.
func TestNewestValidReferrerWins(t *testing.T) {
	bothModes(t, func(t *testing.T, rw *realWorld) {
		sp := rw.publish(t, "run-1", pointerOpts{})
		// An older re-signature that does not match the pointer's log index.
		old := rw.attach(t, sp, publish.Referrer{Bundle: rw.sign(t, sp, nil, alice, signedAt.Add(-time.Hour)), At: signedAt.Add(-time.Hour)})
		res, cached := rw.audit(t, sp)
		if res.Verdict != audit.Verified {
			t.Fatalf("verdict %s/%s (%s), want verified", res.Verdict, res.Class, res.Detail)
		}
		if c, ok := check(res, audit.CheckSignatureCandidates); ok {
			t.Errorf("unexpected %s check: %s", c.Name, c.Detail)
		}
		if cached == nil || cached.ReferrerDigest != sp.pub.ReferrerDigest {
			t.Errorf("cached referrer %+v, want the newest %s (not %s)", cached, sp.pub.ReferrerDigest, old)
		}
	})
}

// When no candidate verifies, the verdict is the one whose verification got
// furthest, and the detail names what was wrong with every other.
func TestNoReferrerVerifiesGivesTheBestFailure(t *testing.T) {
	bothModes(t, func(t *testing.T, rw *realWorld) {
		sp := rw.publish(t, "run-1", pointerOpts{unsigned: true})
		garbage := rw.attach(t, sp, publish.Referrer{Bundle: []byte(`{"not":"a bundle"}`), At: newer.Add(time.Hour)})
		gone := rw.attach(t, sp, publish.Referrer{Bundle: rw.sign(t, sp, nil, alice, newer), At: newer, OmitBlob: true})
		byBob := rw.attach(t, sp, publish.Referrer{Bundle: rw.sign(t, sp, nil, bob, signedAt), At: signedAt})

		res, _ := rw.audit(t, sp)
		if res.Verdict != audit.Invalid || res.Class != audit.ClassIdentity {
			t.Fatalf("verdict %s/%s (%s), want invalid/identity: bob's signature got furthest", res.Verdict, res.Class, res.Detail)
		}
		for _, w := range []string{short(byBob), short(garbage), "invalid/signature", short(gone), "not usable"} {
			if !strings.Contains(res.Detail, w) {
				t.Errorf("detail %q does not name %q", res.Detail, w)
			}
		}
		c, ok := check(res, audit.CheckSignatureCandidates)
		if !ok || c.Status != audit.CheckFail || !strings.Contains(c.Detail, "none verifies") {
			t.Errorf("%s check %+v, want a failure saying none verifies", audit.CheckSignatureCandidates, c)
		}
	})
}

// Referrers the registry cannot use at all leave no signature to verify:
// invalid/signature naming each, or invalid/integrity when one was refused
// for its bytes.
func TestOnlyUnusableReferrers(t *testing.T) {
	bothModes(t, func(t *testing.T, rw *realWorld) {
		sp := rw.publish(t, "run-1", pointerOpts{unsigned: true})
		gone := rw.attach(t, sp, publish.Referrer{Bundle: rw.sign(t, sp, nil, alice, newer), At: newer, OmitBlob: true})
		res, _ := rw.audit(t, sp)
		if res.Verdict != audit.Invalid || res.Class != audit.ClassSignature || !strings.Contains(res.Detail, gone) {
			t.Fatalf("verdict %s/%s (%s), want invalid/signature naming %s", res.Verdict, res.Class, res.Detail, gone)
		}

		big := rw.attach(t, sp, publish.Referrer{Bundle: bytes.Repeat([]byte("a"), registry.DefaultBundleLimit+1), At: signedAt})
		res, _ = rw.audit(t, sp)
		if res.Verdict != audit.Invalid || res.Class != audit.ClassIntegrity || !strings.Contains(res.Detail, gone) || !strings.Contains(res.Detail, big) {
			t.Fatalf("verdict %s/%s (%s), want invalid/integrity naming %s and %s", res.Verdict, res.Class, res.Detail, gone, big)
		}
	})
}

// A response cut short is an outage: retried, then no-verdict/transient,
// for every response the audit reads; cut once, it heals on the retry;
// complete but different bytes are integrity.
func TestTruncatedResponses(t *testing.T) {
	type target struct {
		name     string
		endpoint sbreg.Endpoint
		ref      func(sp signedPointer) string
	}
	targets := func(api bool) []target {
		ts := []target{
			{"manifest", sbreg.EndpointManifests, func(sp signedPointer) string { return sp.sum.ManifestDigest }},
			{"layer", sbreg.EndpointBlobs, func(sp signedPointer) string { return sp.sum.LayerDigest }},
			{"bundle blob", sbreg.EndpointBlobs, func(sp signedPointer) string { return sha256Digest(sp.pub.Bundle) }},
		}
		if api {
			return append(ts, target{"referrers index", sbreg.EndpointReferrers, func(sp signedPointer) string { return sp.sum.ManifestDigest }})
		}
		return append(ts, target{"referrers tag index", sbreg.EndpointManifests, func(sp signedPointer) string { return publish.FallbackTag(sp.sum.ManifestDigest) }})
	}
	for _, api := range []bool{true, false} {
		rw := newRealWorld(t, api)
		sp := rw.publish(t, "run-1", pointerOpts{})
		reg := rw.w.Registry()
		for _, tg := range targets(api) {
			for _, f := range []sbreg.Fault{{TruncateAfter: 16}, {TruncateAfter: 16, Chunked: true}, {ResetAfter: 16}} {
				name := fmt.Sprintf("api=%v/%s/truncate=%d,chunked=%v,reset=%d", api, tg.name, f.TruncateAfter, f.Chunked, f.ResetAfter)
				t.Run(name, func(t *testing.T) {
					f.Endpoint, f.Reference = tg.endpoint, tg.ref(sp)
					reg.SetFault(testRepo, f)
					reg.ResetCounts()
					res, _ := rw.audit(t, sp)
					reg.ClearFault(testRepo)
					if res.Verdict != audit.NoVerdict || res.Class != audit.ClassTransient {
						t.Fatalf("verdict %s/%s (%s), want no-verdict/transient", res.Verdict, res.Class, res.Detail)
					}
					if want := fmt.Sprintf("after %d attempts", retries); !strings.Contains(res.Detail, want) {
						t.Errorf("detail %q does not say %q", res.Detail, want)
					}
					c := reg.Counts(testRepo)
					got := map[sbreg.Endpoint]int64{sbreg.EndpointManifests: c.Manifests, sbreg.EndpointBlobs: c.Blobs, sbreg.EndpointReferrers: c.Referrers}[tg.endpoint]
					if got < retries {
						t.Errorf("%s requests: %d, want at least %d attempts", tg.endpoint, got, retries)
					}

					f.Times = 1
					reg.SetFault(testRepo, f)
					res, _ = rw.audit(t, sp)
					reg.ClearFault(testRepo)
					if res.Verdict != audit.Verified {
						t.Errorf("cut once: verdict %s/%s (%s), want verified after the retry", res.Verdict, res.Class, res.Detail)
					}
				})
			}
			t.Run(fmt.Sprintf("api=%v/%s/corrupt", api, tg.name), func(t *testing.T) {
				reg.SetFault(testRepo, sbreg.Fault{Corrupt: true, Endpoint: tg.endpoint, Reference: tg.ref(sp)})
				res, _ := rw.audit(t, sp)
				reg.ClearFault(testRepo)
				if res.Verdict != audit.Invalid || res.Class != audit.ClassIntegrity {
					t.Errorf("verdict %s/%s (%s), want invalid/integrity", res.Verdict, res.Class, res.Detail)
				}
			})
		}
	}
}

func sha256Digest(b []byte) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256(b))
}

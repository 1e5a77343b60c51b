package audit_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/gitrepo"
)

// memLedger is an in-memory audit.Ledger.
type memLedger struct {
	mu       sync.Mutex
	results  []audit.Result
	bundles  []audit.CachedBundle
	fail     error
	last     map[audit.VersionKey]audit.LastVerification
	archived []audit.ArchivedBundle
}

func (l *memLedger) RecordBatch(_ context.Context, _ int64, b audit.Batch) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	l.results = append(l.results, b.Results...)
	l.bundles = append(l.bundles, b.Bundles...)
	l.archived = append(l.archived, b.Archived...)
	return nil
}

// full returns what the ledger recorded for a summary's results, in its
// order: the summary leaves their checks and phases to the ledger.
func (l *memLedger) full(tb testing.TB, s *audit.Summary) []audit.Result {
	tb.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	last := map[audit.VersionKey]audit.Result{}
	for _, r := range l.results {
		last[r.Key] = r
	}
	out := make([]audit.Result, len(s.Results))
	for i, r := range s.Results {
		f, ok := last[r.Key]
		if !ok {
			tb.Fatalf("%s: in the summary, not in the ledger", r.Key)
		}
		out[i] = f
	}
	return out
}

func (l *memLedger) LastVerifications(context.Context) (map[audit.VersionKey]audit.LastVerification, error) {
	return l.last, nil
}

func (l *memLedger) ArchivedBundles(_ context.Context, store string) (map[string]audit.ArchivedBundle, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]audit.ArchivedBundle{}
	for _, b := range l.archived {
		if b.Store == store {
			out[b.Digest] = b
		}
	}
	return out, nil
}

func (l *memLedger) RecordArchived(_ context.Context, bs []audit.ArchivedBundle) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.archived = append(l.archived, bs...)
	return nil
}

// gateSource serves every fetch after gate is closed, or fails with err.
type gateSource struct {
	gate    chan struct{}
	started chan string
	err     error
	fetches atomic.Int32
	layers  atomic.Int32
	probes  atomic.Int32
}

func (s *gateSource) Fetch(ctx context.Context, oci, digest string) (*audit.Evidence, error) {
	s.fetches.Add(1)
	if s.started != nil {
		s.started <- digest
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %v", audit.ErrCanceled, ctx.Err())
		}
	}
	if s.err != nil {
		return nil, s.err
	}
	return &audit.Evidence{ManifestDigest: digest, Signature: audit.Signature{Kind: audit.SigstoreBundle, BundleJSON: []byte("{}")}}, nil
}

func (s *gateSource) Layer(context.Context, string, *audit.Evidence, bool) (*audit.Layer, error) {
	s.layers.Add(1)
	return &audit.Layer{}, nil
}

func (s *gateSource) Probe(context.Context, string, string, string, string) error {
	s.probes.Add(1)
	return nil
}

// okVerifier accepts everything: the pipeline around it is under test.
type okVerifier struct{}

func (okVerifier) Verify(ev *audit.Evidence, want audit.Expectation) audit.Verification {
	return audit.Verification{Verdict: audit.Verified, Detail: "ok", LogIndex: 1, BundleJSON: []byte("{}"),
		SignedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}
func (okVerifier) TrustRoot() string { return "sha256:root" }
func (okVerifier) Version() string   { return "test/1" }

func versions(n int) []audit.PointerVersion {
	vs := make([]audit.PointerVersion, n)
	for i := range vs {
		digest := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte{byte(i)}))
		content := gitrepo.PointerYAML(gitrepo.PointerFields{
			Recipe: "h100-eks-ubuntu-training", AttestedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			OCI: "ghcr.io/acme/evidence:x", Digest: digest, PredicateType: "https://aicr.run/recipe-evidence/v3",
			Identity: "alice@example.com", Issuer: "https://github.com/login/oauth",
		})
		vs[i] = audit.PointerVersion{
			Key:     audit.VersionKey{Path: gitrepo.PerSourcePath("h100-eks-ubuntu-training", "https://github.com/login/oauth", "alice@example.com", digest), AddedCommit: fmt.Sprintf("%040d", i)},
			Content: content,
			AddedAt: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		}
	}
	return vs
}

func opts() audit.Options {
	return audit.Options{RunID: 1, AsOf: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), Deep: true, Concurrency: 2,
		EvidenceDir: "recipes/evidence", Policy: audit.DefaultPolicy()}
}

func TestRunVerifiesAndCaches(t *testing.T) {
	l := &memLedger{}
	r := &audit.Runner{Source: &gateSource{}, Verifier: okVerifier{}, Ledger: l}
	s, err := r.Run(context.Background(), versions(5), nil, opts())
	if err != nil {
		t.Fatal(err)
	}
	if !s.Complete || s.ByVerdict[audit.Verified] != 5 || len(l.results) != 5 || len(l.bundles) != 5 {
		t.Errorf("summary %+v, %d results, %d cached bundles; want 5 verified, recorded and cached", s.ByVerdict, len(l.results), len(l.bundles))
	}
	if len(s.Recipes) != 1 || s.Recipes[0].NeedsRecert {
		t.Errorf("recipes = %+v, want one fresh recipe", s.Recipes)
	}
}

// TestRunStopLetsInFlightFinish is the graceful shutdown of SPEC §8: after
// Stop, the pointers in flight finish and the rest are recorded canceled.
func TestRunStopLetsInFlightFinish(t *testing.T) {
	l := &memLedger{}
	src := &gateSource{gate: make(chan struct{}), started: make(chan string, 10)}
	r := &audit.Runner{Source: src, Verifier: okVerifier{}, Ledger: l}
	stop := make(chan struct{})
	o := opts()
	o.Stop = stop
	done := make(chan *audit.Summary)
	go func() {
		s, err := r.Run(context.Background(), versions(6), nil, o)
		if err != nil {
			t.Error(err)
		}
		done <- s
	}()
	<-src.started
	<-src.started // both workers are fetching
	close(stop)
	close(src.gate)
	s := <-done
	if got := s.ByVerdict[audit.Verified]; got != 2 {
		t.Errorf("verified = %d, want the 2 in flight", got)
	}
	if got := s.ByVerdict[audit.NoVerdict]; got != 4 || s.Complete {
		t.Errorf("no-verdict = %d, complete %v; want 4 canceled, incomplete", got, s.Complete)
	}
	if len(l.results) != 6 {
		t.Errorf("recorded %d results, want one per pointer (6)", len(l.results))
	}
}

func TestRunLedgerFailureStopsTheRun(t *testing.T) {
	boom := errors.New("disk full")
	r := &audit.Runner{Source: &gateSource{}, Verifier: okVerifier{}, Ledger: &memLedger{fail: boom}}
	if _, err := r.Run(context.Background(), versions(3), nil, opts()); !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want the ledger's error", err)
	}
}

func TestRunClassifiesFetchErrors(t *testing.T) {
	tests := []struct {
		err   error
		want  audit.Verdict
		class audit.Class
	}{
		{fmt.Errorf("%w: 503", audit.ErrTransient), audit.NoVerdict, audit.ClassTransient},
		{fmt.Errorf("%w: 404", audit.ErrGone), audit.Invalid, audit.ClassNotFound},
		{fmt.Errorf("%w: 403", audit.ErrForbidden), audit.Invalid, audit.ClassForbidden},
		{fmt.Errorf("%w: 10.0.0.1", audit.ErrPolicy), audit.Invalid, audit.ClassUntrustedRegistry},
		{fmt.Errorf("%w", audit.ErrNoSignature), audit.Invalid, audit.ClassSignature},
		{errors.New("something unexpected"), audit.NoVerdict, audit.ClassTransient},
	}
	for _, tt := range tests {
		l := &memLedger{}
		r := &audit.Runner{Source: &gateSource{err: tt.err}, Verifier: okVerifier{}, Ledger: l}
		s, err := r.Run(context.Background(), versions(1), nil, opts())
		if err != nil {
			t.Fatal(err)
		}
		got := s.Results[0]
		if got.Verdict != tt.want || got.Class != tt.class {
			t.Errorf("fetch error %q: %s/%s, want %s/%s", tt.err, got.Verdict, got.Class, tt.want, tt.class)
		}
		if tt.want == audit.NoVerdict && s.Findings() {
			t.Errorf("fetch error %q: no-verdict counted as a finding", tt.err)
		}
	}
}

func TestRunFailUnlisted(t *testing.T) {
	o := opts()
	o.Policy.FailUnlisted = true // and no allowlist: every signer is unlisted
	src := &gateSource{}
	r := &audit.Runner{Source: src, Verifier: okVerifier{}, Ledger: &memLedger{}}
	s, err := r.Run(context.Background(), versions(2), nil, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range s.Results {
		if res.Verdict != audit.Invalid || res.Class != audit.ClassIdentity {
			t.Errorf("%s: %s/%s, want invalid/identity", res.Key.Path, res.Verdict, res.Class)
		}
	}
	if n := src.fetches.Load(); n != 0 {
		t.Errorf("fetched %d bundles of unlisted signers, want none", n)
	}
}

// TestRunFastPath: a recent healthy deep verification under the same trust
// root and verifier is reused after probes only; anything else is fetched.
func TestRunFastPath(t *testing.T) {
	vs := versions(3)
	now := time.Now()
	ref := func(v audit.PointerVersion, root string) audit.LastVerification {
		return audit.LastVerification{
			Result: audit.Result{Key: v.Key, Recipe: "h100-eks-ubuntu-training", Verdict: audit.Verified, Detail: "ok",
				AttestedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), AttestedAtSource: audit.TimeSigned, Deep: true},
			TrustRoot: root, VerifierVersion: "test/1", VerifiedAt: now.Add(-time.Hour),
			LayerDigest: "sha256:l", ReferrerDigest: "sha256:r", OCI: "ghcr.io/acme/evidence:x",
		}
	}
	l := &memLedger{last: map[audit.VersionKey]audit.LastVerification{
		vs[0].Key: ref(vs[0], "sha256:root"),
		vs[1].Key: ref(vs[1], "sha256:another-root"), // trusted root changed: full path
	}}
	src := &gateSource{}
	o := opts()
	o.Deep = false
	r := &audit.Runner{Source: src, Verifier: okVerifier{}, Ledger: l, Now: func() time.Time { return now }}
	s, err := r.Run(context.Background(), vs, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	via := map[audit.VersionKey]audit.Via{}
	for _, res := range s.Results {
		via[res.Key] = res.VerifiedVia
	}
	if via[vs[0].Key] != audit.ViaCache || via[vs[1].Key] != audit.ViaOCI || via[vs[2].Key] != audit.ViaOCI {
		t.Errorf("verified via %v, %v, %v; want cache, oci, oci", via[vs[0].Key], via[vs[1].Key], via[vs[2].Key])
	}
	if p, f := src.probes.Load(), src.fetches.Load(); p != 1 || f != 2 {
		t.Errorf("%d probes and %d fetches, want 1 and 2", p, f)
	}
}

// TestRunUsesPreload: references read ahead by StartPreload are the ones
// the fast path uses (here they come from another ledger than the
// Runner's, which has none); a preload made for a deep run has none, and
// Run reads the Runner's ledger instead.
func TestRunUsesPreload(t *testing.T) {
	vs := versions(1)
	now := time.Now()
	refs := &memLedger{last: map[audit.VersionKey]audit.LastVerification{vs[0].Key: {
		Result: audit.Result{Key: vs[0].Key, Recipe: "h100-eks-ubuntu-training", Verdict: audit.Verified, Detail: "ok",
			AttestedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), AttestedAtSource: audit.TimeSigned, Deep: true},
		TrustRoot: "sha256:root", VerifierVersion: "test/1", VerifiedAt: now.Add(-time.Hour),
		LayerDigest: "sha256:l", ReferrerDigest: "sha256:r", OCI: "ghcr.io/acme/evidence:x",
	}}}
	for _, c := range []struct {
		name            string
		preloadDeep     bool
		preload, runner *memLedger
	}{
		{"preloaded references", false, refs, &memLedger{}},
		{"a deep run's preload", true, &memLedger{}, refs},
	} {
		o := opts()
		o.Deep = false
		o.Preload = audit.StartPreload(context.Background(), c.preload, c.preloadDeep)
		r := &audit.Runner{Source: &gateSource{}, Verifier: okVerifier{}, Ledger: c.runner, Now: func() time.Time { return now }}
		s, err := r.Run(context.Background(), vs, nil, o)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Results[0].VerifiedVia; got != audit.ViaCache {
			t.Errorf("%s: verified via %s, want the fast path (cache)", c.name, got)
		}
	}
}

// TestRunPointerKeysWarn: keys beyond pointer schema 1.0.0 (an older AICR
// pointer's caches) are a warning check that lists them and leaves the
// verdict alone, also when the fast path reuses the verification.
func TestRunPointerKeysWarn(t *testing.T) {
	vs := versions(2)
	vs[0].Content = gitrepo.PointerYAML(gitrepo.PointerFields{
		Recipe: "h100-eks-ubuntu-training", AttestedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		OCI: "ghcr.io/acme/evidence:x", Digest: fmt.Sprintf("sha256:%x", sha256.Sum256([]byte{0})), PredicateType: "https://aicr.run/recipe-evidence/v3",
		Identity: "alice@example.com", Issuer: "https://github.com/login/oauth", Denormalized: true,
	})
	l := &memLedger{}
	r := &audit.Runner{Source: &gateSource{}, Verifier: okVerifier{}, Ledger: l}
	s, err := r.Run(context.Background(), vs, nil, opts())
	if err != nil {
		t.Fatal(err)
	}
	warned := func(res audit.Result) string {
		for _, c := range res.Checks {
			if c.Name == audit.CheckPointerKeys {
				return string(c.Status) + " " + c.Detail
			}
		}
		return ""
	}
	byKey := map[audit.VersionKey]audit.Result{}
	for _, res := range l.full(t, s) {
		byKey[res.Key] = res
	}
	got := byKey[vs[0].Key]
	if got.Verdict != audit.Verified {
		t.Errorf("older pointer: %s/%s (%s), want verified", got.Verdict, got.Class, got.Detail)
	}
	if w := warned(got); !strings.HasPrefix(w, "warn ") ||
		!strings.Contains(w, "attestations[0].criteriaMatch, attestations[0].fingerprint, attestations[0].phaseSummary") {
		t.Errorf("pointer-keys check = %q, want a warning listing the extra keys", w)
	}
	if w := warned(byKey[vs[1].Key]); w != "" {
		t.Errorf("schema-only pointer has a pointer-keys check: %q", w)
	}

	// The fast path keeps the warning of the verification it reuses.
	now := time.Now()
	l2 := &memLedger{last: map[audit.VersionKey]audit.LastVerification{vs[0].Key: {
		Result: got, TrustRoot: "sha256:root", VerifierVersion: "test/1", VerifiedAt: now.Add(-time.Hour),
		LayerDigest: "sha256:l", ReferrerDigest: "sha256:r", OCI: "ghcr.io/acme/evidence:x",
	}}}
	o := opts()
	o.Deep = false
	r2 := &audit.Runner{Source: &gateSource{}, Verifier: okVerifier{}, Ledger: l2, Now: func() time.Time { return now }}
	s2, err := r2.Run(context.Background(), vs[:1], nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if res := l2.full(t, s2)[0]; res.VerifiedVia != audit.ViaCache || !strings.HasPrefix(warned(res), "warn ") {
		t.Errorf("fast path: via %s, checks %+v; want the cache with the warning kept", res.VerifiedVia, res.Checks)
	}
}

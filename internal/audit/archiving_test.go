package audit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// memArchive is an in-memory audit.Archive: the pipeline around the
// archive is under test here; internal/archive tests the real stores.
type memArchive struct {
	mu       sync.Mutex
	held     map[string]*audit.Evidence
	putErr   error
	fetchErr error
	puts     atomic.Int32
	fetches  atomic.Int32
}

func (a *memArchive) Name() string { return "mem:test" }

func (a *memArchive) Put(_ context.Context, digest string, ev *audit.Evidence, sig audit.Signature) (audit.ArchivedBundle, error) {
	a.puts.Add(1)
	if a.putErr != nil {
		return audit.ArchivedBundle{}, a.putErr
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.held == nil {
		a.held = map[string]*audit.Evidence{}
	}
	cp := *ev
	cp.Signature, cp.Alternatives = sig, nil
	a.held[digest] = &cp
	return audit.ArchivedBundle{Digest: digest, Store: a.Name(), Signature: sig.Kind, ReferrerDigest: sig.ReferrerDigest,
		Objects: []audit.ObjectRef{{Digest: digest, Size: 1, Manifest: true}}, Bytes: 1, At: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}, nil
}

func (a *memArchive) Fetch(_ context.Context, digest string) (*audit.Evidence, error) {
	a.fetches.Add(1)
	if a.fetchErr != nil {
		return nil, a.fetchErr
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	ev, ok := a.held[digest]
	if !ok {
		return nil, fmt.Errorf("%w: %s not archived", audit.ErrGone, digest)
	}
	return ev, nil
}

// countingFallback records that the log was asked and proves nothing.
type countingFallback struct{ calls atomic.Int32 }

func (f *countingFallback) Prove(_ context.Context, _ audit.Expectation, lost error) audit.Verification {
	f.calls.Add(1)
	return audit.Verification{Verdict: audit.RekorOnly, Detail: "the log proves the entry", LogIndex: 7,
		Checks: []audit.Check{{Name: "rekor", Status: audit.CheckPass}}}
}

func checkNamed(res audit.Result, name string) (audit.Check, bool) {
	for _, c := range res.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return audit.Check{}, false
}

// TestArchiveOnVerify: a full verification archives each healthy bundle
// once, records it after the write, and counts it; a bundle the ledger
// already records is not copied again.
func TestArchiveOnVerify(t *testing.T) {
	vs := versions(4)
	l := &memLedger{}
	arch := &memArchive{}
	r := &audit.Runner{Source: &gateSource{}, Verifier: okVerifier{}, Ledger: l, Archive: arch}
	s, err := r.Run(context.Background(), vs, nil, opts())
	if err != nil {
		t.Fatal(err)
	}
	if got := arch.puts.Load(); got != 4 || s.Archived != 4 || len(l.archived) != 4 {
		t.Fatalf("%d puts, summary archived %d, %d ledger records; want 4 of each", got, s.Archived, len(l.archived))
	}
	for _, res := range l.full(t, s) {
		if c, ok := checkNamed(res, audit.CheckArchive); !ok || c.Status != audit.CheckPass {
			t.Errorf("%s: archive check %+v, want pass", res.Key.Path, c)
		}
		if res.Verdict != audit.Verified {
			t.Errorf("%s: %s, want verified", res.Key.Path, res.Verdict)
		}
	}
	if l.archived[0].RunID != 1 {
		t.Errorf("record run id %d, want the run's (1)", l.archived[0].RunID)
	}

	// A second deep run: everything is recorded, nothing is copied again.
	s2, err := r.Run(context.Background(), vs, nil, opts())
	if err != nil {
		t.Fatal(err)
	}
	if got := arch.puts.Load(); got != 4 || s2.Archived != 0 {
		t.Errorf("after the second run %d puts (archived %d), want still 4 (0)", got, s2.Archived)
	}
	if res := l.full(t, s2)[0]; len(res.Checks) == 0 {
		t.Errorf("the second run's result has no checks recorded")
	} else if _, ok := checkNamed(res, audit.CheckArchive); ok {
		t.Errorf("an already archived bundle got an archive check: %+v", res.Checks)
	}
}

// TestArchiveOncePerBundle: two pointer versions naming one bundle (an
// edited flat pointer) copy it once in a run.
func TestArchiveOncePerBundle(t *testing.T) {
	vs := versions(1)
	twin := vs[0]
	twin.Key.AddedCommit = strings.Repeat("9", 40)
	l := &memLedger{}
	arch := &memArchive{}
	o := opts()
	o.Concurrency = 1
	r := &audit.Runner{Source: &gateSource{}, Verifier: okVerifier{}, Ledger: l, Archive: arch}
	if _, err := r.Run(context.Background(), []audit.PointerVersion{vs[0], twin}, nil, o); err != nil {
		t.Fatal(err)
	}
	if got := arch.puts.Load(); got != 1 {
		t.Errorf("%d puts for one bundle named twice, want 1", got)
	}
}

// TestArchivePutFailureIsAWarning: a bundle that cannot be archived keeps
// its verdict; the check says so and nothing is recorded.
func TestArchivePutFailureIsAWarning(t *testing.T) {
	l := &memLedger{}
	arch := &memArchive{putErr: errors.New("disk full")}
	r := &audit.Runner{Source: &gateSource{}, Verifier: okVerifier{}, Ledger: l, Archive: arch}
	s, err := r.Run(context.Background(), versions(1), nil, opts())
	if err != nil {
		t.Fatal(err)
	}
	res := l.full(t, s)[0]
	c, _ := checkNamed(res, audit.CheckArchive)
	if res.Verdict != audit.Verified || c.Status != audit.CheckWarn || !strings.Contains(c.Detail, "disk full") {
		t.Errorf("verdict %s, archive check %+v; want verified with a warning naming the cause", res.Verdict, c)
	}
	if len(l.archived) != 0 || s.Archived != 0 {
		t.Errorf("%d records, want none", len(l.archived))
	}
}

// TestFastPathNeverTouchesTheArchive: while the origin answers the probes,
// the archive is neither read nor written (no archive I/O on the fast
// path), also for a bundle not yet archived.
func TestFastPathNeverTouchesTheArchive(t *testing.T) {
	vs := versions(1)
	now := time.Now()
	l := &memLedger{last: map[audit.VersionKey]audit.LastVerification{vs[0].Key: {
		Result:    audit.Result{Key: vs[0].Key, Recipe: "h100-eks-ubuntu-training", Verdict: audit.Verified, Detail: "ok", Deep: true},
		TrustRoot: "sha256:root", VerifierVersion: "test/1", VerifiedAt: now.Add(-time.Hour),
		LayerDigest: "sha256:l", ReferrerDigest: "sha256:r", OCI: "ghcr.io/acme/evidence:x",
	}}}
	arch := &memArchive{}
	o := opts()
	o.Deep = false
	r := &audit.Runner{Source: &gateSource{}, Verifier: okVerifier{}, Ledger: l, Archive: arch, Now: func() time.Time { return now }}
	s, err := r.Run(context.Background(), vs, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if s.Results[0].VerifiedVia != audit.ViaCache || arch.puts.Load() != 0 || arch.fetches.Load() != 0 {
		t.Errorf("via %s, %d puts, %d fetches; want the fast path and no archive I/O", s.Results[0].VerifiedVia, arch.puts.Load(), arch.fetches.Load())
	}
}

// lostRun archives vs in a first run, then audits them with the origin
// answering err, with the archive failing reads with fetchErr. res is the
// recorded result, checks included.
func lostRun(t *testing.T, originErr, fetchErr error) (s *audit.Summary, res audit.Result, arch *memArchive, fb *countingFallback) {
	t.Helper()
	vs := versions(1)
	l := &memLedger{}
	arch = &memArchive{}
	r := &audit.Runner{Source: &gateSource{}, Verifier: okVerifier{}, Ledger: l, Archive: arch}
	if _, err := r.Run(context.Background(), vs, nil, opts()); err != nil {
		t.Fatal(err)
	}
	arch.fetchErr = fetchErr
	fb = &countingFallback{}
	r2 := &audit.Runner{Source: &gateSource{err: originErr}, Verifier: okVerifier{}, Ledger: l, Archive: arch, Fallback: fb}
	s, err := r2.Run(context.Background(), vs, nil, opts())
	if err != nil {
		t.Fatal(err)
	}
	return s, l.full(t, s)[0], arch, fb
}

// TestLostOriginVerifiedFromTheArchive: 404 and 403 at the origin, an
// archived copy that verifies: archived, via the archive, a finding for
// the pointer (exit 3) but healthy for the recipe; the log is not asked.
func TestLostOriginVerifiedFromTheArchive(t *testing.T) {
	for _, originErr := range []error{fmt.Errorf("%w: 404 MANIFEST_UNKNOWN", audit.ErrGone), fmt.Errorf("%w: 403", audit.ErrForbidden)} {
		s, res, arch, fb := lostRun(t, originErr, nil)
		if res.Verdict != audit.Archived || res.VerifiedVia != audit.ViaArchive || res.Class != "" {
			t.Errorf("origin %v: %s/%s via %s (%s), want archived via archive", originErr, res.Verdict, res.Class, res.VerifiedVia, res.Detail)
		}
		if arch.fetches.Load() != 1 || fb.calls.Load() != 0 {
			t.Errorf("origin %v: %d archive reads, %d log proofs; want 1 and 0", originErr, arch.fetches.Load(), fb.calls.Load())
		}
		if c, ok := checkNamed(res, audit.CheckArchive); !ok || c.Status != audit.CheckPass {
			t.Errorf("origin %v: archive check %+v, want pass", originErr, c)
		}
		if !strings.Contains(res.Hint, "archive restore") {
			t.Errorf("hint %q does not say how to restore", res.Hint)
		}
		if !s.Findings() {
			t.Error("an archived pointer is no finding, want exit 3 (origin lost)")
		}
		if len(s.Recipes) != 1 || s.Recipes[0].NeedsRecert || len(s.Recipes[0].Lost) != 1 {
			t.Errorf("recipe %+v: want healthy (no re-certification) with the pointer listed lost", s.Recipes)
		}
		if res.AttestedAtSource != audit.TimeSigned {
			t.Errorf("age source %s, want the verified predicate's (signed)", res.AttestedAtSource)
		}
	}
}

// TestDamagedArchiveIsNeverProof: a copy whose bytes do not match is
// reported and skipped; the log fallback decides as before. A copy that
// cannot be read now is no-verdict, not lost.
func TestDamagedArchiveIsNeverProof(t *testing.T) {
	gone := fmt.Errorf("%w: 404", audit.ErrGone)
	_, res, _, fb := lostRun(t, gone, fmt.Errorf("%w: blob sha256:ab… does not match its digest", audit.ErrIntegrity))
	c, _ := checkNamed(res, audit.CheckArchive)
	if res.Verdict != audit.RekorOnly || fb.calls.Load() != 1 || c.Status != audit.CheckFail || !strings.Contains(res.Detail, "damaged") {
		t.Errorf("damaged copy: %s (%s), %d log proofs, archive check %+v; want rekor-only from the log, the damage named", res.Verdict, res.Detail, fb.calls.Load(), c)
	}

	_, res, _, fb = lostRun(t, gone, fmt.Errorf("%w: archive registry 503", audit.ErrTransient))
	if res.Verdict != audit.NoVerdict || res.Class != audit.ClassTransient || fb.calls.Load() != 0 {
		t.Errorf("unreadable archive: %s/%s, %d log proofs; want no-verdict/transient without the log", res.Verdict, res.Class, fb.calls.Load())
	}
}

// TestLostWithoutArchiveRecordGoesToTheLog: nothing archived, nothing read.
func TestLostWithoutArchiveRecordGoesToTheLog(t *testing.T) {
	arch := &memArchive{}
	fb := &countingFallback{}
	r := &audit.Runner{Source: &gateSource{err: fmt.Errorf("%w: 404", audit.ErrGone)}, Verifier: okVerifier{}, Ledger: &memLedger{}, Archive: arch, Fallback: fb}
	s, err := r.Run(context.Background(), versions(1), nil, opts())
	if err != nil {
		t.Fatal(err)
	}
	if s.Results[0].Verdict != audit.RekorOnly || arch.fetches.Load() != 0 || fb.calls.Load() != 1 {
		t.Errorf("%s, %d archive reads, %d log proofs; want rekor-only from the log alone", s.Results[0].Verdict, arch.fetches.Load(), fb.calls.Load())
	}
}

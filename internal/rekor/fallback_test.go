package rekor_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-openapi/swag/conv"
	"github.com/sigstore/rekor/pkg/generated/models"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/rekor"
)

func TestProveFromCache(t *testing.T) {
	f := newFixture(t)
	f.cache(t, "good")
	got := f.log(t, "").Prove(context.Background(), f.want(t, "good"), gone("good"))
	if got.Verdict != audit.RekorOnly {
		t.Fatalf("got %s", dump(got))
	}
	bp := f.pointer(t, "good")
	if got.LogIndex != bp.LogIndex || got.IntegratedTime.IsZero() || got.Statement == nil || got.SignedAt.IsZero() {
		t.Errorf("facts: index %d (want %d), integrated %s, statement %v, signed %s", got.LogIndex, bp.LogIndex, got.IntegratedTime, got.Statement != nil, got.SignedAt)
	}
	for _, name := range []string{"cached-signature", "cached-signer-identity", "cached-subject-digest", rekor.CheckCache,
		rekor.CheckInclusion, rekor.CheckCheckpoint, rekor.CheckSET, rekor.CheckIdentity, rekor.CheckBodyMatch} {
		if c, ok := checkNamed(got, name); !ok || c.Status != audit.CheckPass {
			t.Errorf("check %s: %+v (present %v)\n%s", name, c, ok, dump(got))
		}
	}
	if c, _ := checkNamed(got, "cached-inventory"); c.Status != audit.CheckSkip {
		t.Errorf("cached-inventory: %+v, want skipped (bytes gone)", c)
	}
	for _, s := range []string{"cached Sigstore bundle", "re-verified offline", "still in it", "same certificate, payload hash and signature", "Not proven"} {
		if !strings.Contains(got.Detail, s) {
			t.Errorf("detail lacks %q: %s", s, got.Detail)
		}
	}
	cps, err := f.db.Checkpoints(context.Background(), f.w.Log().Origin())
	if err != nil || len(cps) != 1 || cps[0].TreeSize != f.w.Log().Size() {
		t.Errorf("recorded checkpoints %+v (%v), want one of size %d", cps, err, f.w.Log().Size())
	}
}

func TestProveFromLog(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		name, how string
	}{
		{"good", "named by the pointer's rekorLogIndex"},
		{"no-index", "found through the index search"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := f.log(t, "").Prove(context.Background(), f.want(t, tt.name), gone(tt.name))
			if got.Verdict != audit.RekorOnly {
				t.Fatalf("got %s", dump(got))
			}
			if got.LogIndex != f.pointer(t, tt.name).LogIndex || got.Statement != nil {
				t.Errorf("index %d, statement %v: want the entry's index and no statement (the log holds only its hash)", got.LogIndex, got.Statement)
			}
			for _, s := range []string{tt.how, "hashes to its UUID", "signed entry timestamp", "chains to the trusted CA",
				"the log's index lists it for " + f.pointer(t, tt.name).Digest, "Not proven: the statement itself"} {
				if !strings.Contains(got.Detail, s) {
					t.Errorf("detail lacks %q: %s", s, got.Detail)
				}
			}
			if _, ok := checkNamed(got, rekor.CheckCache); !ok {
				t.Errorf("no %s check saying the cache was empty", rekor.CheckCache)
			}
		})
	}
}

func TestProveFindings(t *testing.T) {
	f := newFixture(t)
	forbidden := fmt.Errorf("fetch: %w: 403", audit.ErrForbidden)
	for _, tt := range []struct {
		name  string
		lost  error
		want  string
		check string
	}{
		// The log's entry is the fork's; the pointer names NVIDIA.
		{"wrong-signer", nil, "invalid/identity", rekor.CheckIdentity},
		// rekorLogIndex names someone else's entry: nothing ties it to the digest.
		{"wrong-index", nil, "invalid/not-found", rekor.CheckIndex},
		{"wrong-index", forbidden, "invalid/forbidden", rekor.CheckIndex},
	} {
		t.Run(tt.name+"/"+tt.want, func(t *testing.T) {
			lost := tt.lost
			if lost == nil {
				lost = gone(tt.name)
			}
			got := f.log(t, "").Prove(context.Background(), f.want(t, tt.name), lost)
			if label(got) != tt.want {
				t.Fatalf("got %s, want %s", dump(got), tt.want)
			}
			if c, ok := checkNamed(got, tt.check); !ok || c.Status != audit.CheckFail {
				t.Errorf("check %s did not fail:\n%s", tt.check, dump(got))
			}
			if got.Hint == "" || got.Detail == "" {
				t.Errorf("no detail or hint: %+v", got)
			}
		})
	}
	t.Run("403 proven", func(t *testing.T) {
		got := f.log(t, "").Prove(context.Background(), f.want(t, "good"), forbidden)
		if got.Verdict != audit.RekorOnly {
			t.Fatalf("a 403 whose entry the log proves: %s", dump(got))
		}
	})
}

func TestProveTampered(t *testing.T) {
	f := newFixture(t)
	flip := func(s string) string {
		b, _ := hex.DecodeString(s)
		b[0] ^= 1
		return hex.EncodeToString(b)
	}
	for _, tt := range []struct {
		name  string
		fn    func(*models.LogEntryAnon)
		check string
	}{
		{"body", func(e *models.LogEntryAnon) {
			b, _ := base64.StdEncoding.DecodeString(e.Body.(string))
			e.Body = base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(b), `"dsse"`, `"dsse" `, 1)))
		}, rekor.CheckEntry},
		{"proof hash", func(e *models.LogEntryAnon) {
			e.Verification.InclusionProof.Hashes[0] = flip(e.Verification.InclusionProof.Hashes[0])
		}, rekor.CheckInclusion},
		{"proof root", func(e *models.LogEntryAnon) {
			e.Verification.InclusionProof.RootHash = conv.Pointer(flip(*e.Verification.InclusionProof.RootHash))
		}, rekor.CheckInclusion},
		{"checkpoint", func(e *models.LogEntryAnon) {
			cp := *e.Verification.InclusionProof.Checkpoint
			e.Verification.InclusionProof.Checkpoint = conv.Pointer(strings.Replace(cp, " - ", " -  ", 1))
		}, rekor.CheckCheckpoint},
		{"integrated time", func(e *models.LogEntryAnon) { *e.IntegratedTime -= 3600 }, rekor.CheckSET},
		{"SET", func(e *models.LogEntryAnon) { e.Verification.SignedEntryTimestamp[10] ^= 1 }, rekor.CheckSET},
	} {
		url := tamper(t, f.w.Log().Handler(), tt.fn)
		for _, cached := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/cached=%v", tt.name, cached), func(t *testing.T) {
				name := "good"
				if cached {
					name = "good-2"
					f.cache(t, name)
				}
				got := f.log(t, url).Prove(context.Background(), f.want(t, name), gone(name))
				if label(got) != "invalid/signature" {
					t.Fatalf("got %s, want invalid/signature", dump(got))
				}
				if c, ok := checkNamed(got, tt.check); !ok || c.Status != audit.CheckFail {
					t.Errorf("check %s did not fail:\n%s", tt.check, dump(got))
				}
			})
		}
	}
}

func TestProveLogUnavailable(t *testing.T) {
	f := newFixture(t)
	var requests atomic.Int64
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		f.w.Log().Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(counting.Close)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()

	for _, tt := range []struct {
		name   string
		status int
		url    string
	}{
		{"503", http.StatusServiceUnavailable, counting.URL},
		{"429 with Retry-After", http.StatusTooManyRequests, counting.URL},
		{"500", http.StatusInternalServerError, counting.URL},
		{"connection refused", 0, dead.URL},
	} {
		for _, name := range []string{"good", "no-index"} {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				f.w.Log().SetStatus(tt.status)
				defer f.w.Log().SetStatus(0)
				requests.Store(0)
				got := f.log(t, tt.url).Prove(context.Background(), f.want(t, name), gone(name))
				if label(got) != "no-verdict/transient" {
					t.Fatalf("got %s", dump(got))
				}
				if tt.status != 0 && requests.Load() != 3 {
					t.Errorf("%d requests, want 3 (one request, retried twice)", requests.Load())
				}
			})
		}
	}
	t.Run("recovers", func(t *testing.T) {
		if got := f.log(t, counting.URL).Prove(context.Background(), f.want(t, "good"), gone("good")); got.Verdict != audit.RekorOnly {
			t.Fatalf("after the outage: %s", dump(got))
		}
	})
}

func TestProveEntryGone(t *testing.T) {
	f := newFixture(t)
	f.cache(t, "good")
	bp := f.pointer(t, "good")
	if err := f.w.Log().Rewind(bp.LogIndex); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"good", "no-index"} {
		if f.pointer(t, name).LogIndex < bp.LogIndex {
			continue
		}
		got := f.log(t, "").Prove(context.Background(), f.want(t, name), gone(name))
		if label(got) != "invalid/not-found" {
			t.Errorf("%s after the log dropped its entry: %s", name, dump(got))
		}
	}
}

// A log answering enormous bodies (issue 15: 512 MiB of JSON) is an
// unusable log, not a reason to read 512 MiB: no-verdict/transient, with
// each answer refused at its Content-Length or cut at the response limit,
// and not asked again.
func TestProveLogAnswersHugeBodies(t *testing.T) {
	f := newFixture(t)
	const huge = 512 << 20
	for _, declared := range []bool{true, false} {
		t.Run(fmt.Sprintf("content-length=%v", declared), func(t *testing.T) {
			var written, requests atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				w.Header().Set("Content-Type", "application/json")
				if declared {
					w.Header().Set("Content-Length", fmt.Sprint(huge))
				}
				w.WriteHeader(http.StatusOK)
				// One JSON value that never ends: a decoder must read it all.
				io.WriteString(w, `{"x":"`)
				chunk := []byte(strings.Repeat("a", 64<<10))
				for n := 0; n < huge; n += len(chunk) {
					k, err := w.Write(chunk)
					written.Add(int64(k))
					if err != nil {
						return
					}
				}
			}))
			t.Cleanup(srv.Close)
			for _, name := range []string{"good", "no-index"} {
				requests.Store(0)
				got := f.log(t, srv.URL).Prove(context.Background(), f.want(t, name), gone(name))
				if label(got) != "no-verdict/transient" {
					t.Fatalf("%s: got %s", name, dump(got))
				}
				if !strings.Contains(got.Detail, "too large") {
					t.Errorf("%s: detail %q does not say the answer was too large", name, got.Detail)
				}
				if n := requests.Load(); n != 1 {
					t.Errorf("%s: %d requests, want 1 (a body too large is not retried)", name, n)
				}
			}
			srv.CloseClientConnections()
			if w := written.Load(); w > 64<<20 {
				t.Errorf("the log got %d bytes out before the auditor hung up; the client reads at most %d", w, rekor.DefaultMaxResponseBytes)
			}
		})
	}
}

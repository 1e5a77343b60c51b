package rekor_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/rekor"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

// offline is a narrow fake of verify's offline re-verification: a Rekor v2
// bundle needs an RFC 3161 timestamp authority the sandbox does not have,
// so the tile tests take the offline checks as passed and test what the
// fallback proves online.
type offline func(bundleJSON []byte, want audit.Expectation) audit.Verification

func (f offline) VerifyCached(b []byte, want audit.Expectation) audit.Verification { return f(b, want) }

// tileFixture serves the world's log as a tile log, names that server in
// the trusted root, and caches "good" as a Rekor v2 bundle (dsse 0.0.2, no
// integrated time, no SET) whose entry is the log's.
type tileFixture struct {
	*fixture
	tileURL string
	opts    []rekor.Option
}

func newTileFixture(t *testing.T, wrap func(http.Handler) http.Handler) *tileFixture {
	t.Helper()
	f := newFixture(t)
	h := f.w.Log().TileHandler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	f.w.Signer().SetLogURL(srv.URL)
	trJSON, err := f.w.Signer().TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := verify.ParseTrustedRoot(trJSON)
	if err != nil {
		t.Fatal(err)
	}
	if f.v, err = verify.New(tr); err != nil {
		t.Fatal(err)
	}

	bp := f.pointer(t, "good")
	var b protobundle.Bundle
	if err := protojson.Unmarshal(bp.Bundle, &b); err != nil {
		t.Fatal(err)
	}
	e := b.GetVerificationMaterial().GetTlogEntries()[0]
	e.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.2"}
	e.IntegratedTime, e.InclusionPromise = 0, nil
	v2, err := protojson.Marshal(&b)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.PutBundle(context.Background(), ledger.BundleRecord{
		Digest: bp.Digest, SigstoreBundle: v2, Statement: b.GetDsseEnvelope().GetPayload(), VerifiedAt: ago(1), LogIndex: bp.LogIndex,
	}); err != nil {
		t.Fatal(err)
	}
	pass := offline(func([]byte, audit.Expectation) audit.Verification {
		return audit.Verification{Verdict: audit.Verified, LogIndex: bp.LogIndex,
			Checks: []audit.Check{{Name: "signature", Status: audit.CheckPass, Detail: "(fake) offline checks passed"}}}
	})
	return &tileFixture{fixture: f, tileURL: srv.URL, opts: []rekor.Option{rekor.WithCachedVerifier(pass)}}
}

func (f *tileFixture) prove(t *testing.T) audit.Verification {
	t.Helper()
	return f.log(t, "", f.opts...).Prove(context.Background(), f.want(t, "good"), gone("good"))
}

func TestProveFromCacheTiles(t *testing.T) {
	f := newTileFixture(t, nil)
	f.appendEntries(t, 300) // more than one tile: full and partial tiles, two levels
	got := f.prove(t)
	if got.Verdict != audit.RekorOnly || got.LogIndex != f.pointer(t, "good").LogIndex {
		t.Fatalf("got %s", dump(got))
	}
	for _, name := range []string{rekor.CheckLogKey, rekor.CheckCheckpoint, rekor.CheckBodyMatch, rekor.CheckInclusion} {
		if c, ok := checkNamed(got, name); !ok || c.Status != audit.CheckPass {
			t.Errorf("check %s: %+v\n%s", name, c, dump(got))
		}
	}
	if !strings.Contains(got.Detail, "Rekor v2 log at "+f.tileURL+" through its tile API") {
		t.Errorf("detail: %s", got.Detail)
	}
}

func TestProveFromCacheTilesFindings(t *testing.T) {
	flipTile := func(prefix string) func(http.Handler) http.Handler {
		return func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				b := rec.Body.Bytes()
				switch {
				case !strings.HasPrefix(r.URL.Path, prefix):
				case prefix == "/tile/entries/":
					// Same lengths, other bytes: every entry's kind.
					b = bytes.ReplaceAll(b, []byte(`"dsse"`), []byte(`"dsxe"`))
				default:
					// Every hash of the tile, so any proof touches one.
					b = bytes.Clone(b)
					for i := 0; i < len(b); i += 32 {
						b[i] ^= 1
					}
				}
				w.WriteHeader(rec.Code)
				_, _ = io.Copy(w, bytes.NewReader(b))
			})
		}
	}
	for _, tt := range []struct {
		name  string
		wrap  func(http.Handler) http.Handler
		want  string
		check string
	}{
		{"tampered hash tile", flipTile("/tile/0/"), "invalid/signature", rekor.CheckInclusion},
		{"tampered entry bundle", flipTile("/tile/entries/"), "invalid/signature", rekor.CheckBodyMatch},
		{"forged checkpoint", func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				b := rec.Body.Bytes()
				if r.URL.Path == "/checkpoint" {
					lines := strings.SplitN(string(b), "\n", 3)
					b = []byte(lines[0] + "\n" + lines[1] + "\n" + strings.Replace(lines[2], "A", "B", 1))
				}
				w.WriteHeader(rec.Code)
				_, _ = w.Write(b)
			})
		}, "invalid/signature", rekor.CheckCheckpoint},
		{"tiles down", func(http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
		}, "no-verdict/transient", rekor.CheckEntry},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newTileFixture(t, tt.wrap)
			got := f.prove(t)
			if label(got) != tt.want {
				t.Fatalf("got %s, want %s", dump(got), tt.want)
			}
			if c, ok := checkNamed(got, tt.check); !ok || c.Status != audit.CheckFail {
				t.Errorf("check %s did not fail:\n%s", tt.check, dump(got))
			}
		})
	}
}

func TestCheckConsistencyTiles(t *testing.T) {
	f := newTileFixture(t, nil)
	run := func(runID int64) []string {
		t.Helper()
		l := f.log(t, "", f.opts...)
		if got := l.Prove(context.Background(), f.want(t, "good"), gone("good")); got.Verdict != audit.RekorOnly {
			t.Fatalf("run %d: %s", runID, dump(got))
		}
		return l.CheckConsistency(context.Background(), runID)
	}
	if got := run(1); len(got) != 0 {
		t.Fatalf("first run: %q", got)
	}
	f.appendEntries(t, 270)
	if got := run(2); len(got) != 0 {
		t.Fatalf("grown by 270 entries: %q", got)
	}
	if err := f.w.Log().Rewind(f.w.Log().Size() - 100); err != nil {
		t.Fatal(err)
	}
	f.appendEntries(t, 150)
	if got := run(3); len(got) != 1 || !strings.Contains(got[0], "forked") {
		t.Fatalf("rewound and regrown: %q, want a fork finding", got)
	}
}

// TestProveV2WithoutCache: with no cached bundle, only the Rekor v1 log is
// searched; a not-found verdict says that entries in the trusted root's
// other (v2, tile-based) logs cannot be found by digest.
func TestProveV2WithoutCache(t *testing.T) {
	f := newTileFixture(t, nil)
	got := f.log(t, "").Prove(context.Background(), f.want(t, "wrong-index"), gone("wrong-index"))
	if label(got) != "invalid/not-found" {
		t.Fatalf("got %s", dump(got))
	}
	if !strings.Contains(got.Detail, "cannot be found by digest") || !strings.Contains(got.Detail, f.tileURL) {
		t.Errorf("detail does not say that v2 logs cannot be searched: %s", got.Detail)
	}
}

package rekor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/rekor"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/rekorv2"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/signer"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

// appendV2 logs n more signatures of others in the world's Rekor v2 log.
func (f *fixture) appendV2(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		stmt := fmt.Appendf(nil, `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"%064x"}}],"predicateType":"https://example.com/p","predicate":{}}`, i)
		if _, _, err := f.w.Signer().SignV2(stmt, ca.Identity{Identity: "https://example.com/other", Issuer: "https://issuer.example"}, ago(1)); err != nil {
			t.Fatal(err)
		}
	}
}

// proveV2 caches the case, as a run that verified it would have, and
// proves it gone from the registry through the Rekor v2 log's tiles.
func (f *fixture) proveV2(t *testing.T, name string, opts ...rekor.Option) audit.Verification {
	t.Helper()
	f.cache(t, name)
	return f.log(t, "", opts...).Prove(context.Background(), f.want(t, name), gone(name))
}

// TestProveFromCacheTiles: a verified-then-deleted v2 bundle is rekor-only:
// its cached copy re-verifies offline (RFC 3161 timestamp, C2SP checkpoint
// under the baseUrl host, inclusion), its entry is byte for byte in the
// log's entry bundle, included under a fresh checkpoint through proofs
// built from the tiles, and the timestamp is the age source.
func TestProveFromCacheTiles(t *testing.T) {
	f := newFixture(t)
	f.appendV2(t, 300) // more than one tile: full and partial tiles, two levels
	got := f.proveV2(t, "good-v2")
	bp := f.pointer(t, "good-v2")
	if got.Verdict != audit.RekorOnly || got.LogIndex != bp.LogIndex {
		t.Fatalf("got %s", dump(got))
	}
	for _, name := range []string{rekor.CheckLogKey, rekor.CheckCheckpoint, rekor.CheckBodyMatch, rekor.CheckInclusion} {
		if c, ok := checkNamed(got, name); !ok || c.Status != audit.CheckPass {
			t.Errorf("check %s: %+v\n%s", name, c, dump(got))
		}
	}
	if !strings.Contains(got.Detail, "Rekor v2 log at "+f.w.RekorV2URL()+" through its tile API") {
		t.Errorf("detail: %s", got.Detail)
	}
	if got.LogID != f.w.RekorV2().LogIDHex() {
		t.Errorf("log ID %s, want the v2 log's key hash %s", got.LogID, f.w.RekorV2().LogIDHex())
	}
	want := bp.Case.SignedAt.Add(signer.DefaultIntegrationDelay).UTC().Truncate(time.Second)
	if !got.IntegratedTime.Equal(want) {
		t.Errorf("IntegratedTime (the log age source) = %s, want the RFC 3161 time %s", got.IntegratedTime, want)
	}
}

func TestProveFromCacheTilesFindings(t *testing.T) {
	flipTile := func(prefix string) func(*fixture) string {
		return func(f *fixture) string {
			h := f.w.RekorV2().Handler()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				b := rec.Body.Bytes()
				switch {
				case !strings.HasPrefix(r.URL.Path, prefix):
				case prefix == "/tile/entries/":
					// Same lengths, other bytes: every entry's kind.
					b = bytes.ReplaceAll(b, []byte(`"hashedrekord"`), []byte(`"hashedrekorx"`))
				default:
					// Every hash of the tile, so any proof touches one.
					b = bytes.Clone(b)
					for i := 0; i < len(b); i += 32 {
						b[i] ^= 1
					}
				}
				w.WriteHeader(rec.Code)
				_, _ = io.Copy(w, bytes.NewReader(b))
			}))
			t.Cleanup(srv.Close)
			return srv.URL
		}
	}
	for _, tt := range []struct {
		name  string
		setup func(*fixture) string // a URL to name in the trusted root instead of the log's
		want  string
		check string
	}{
		{"tampered hash tile", flipTile("/tile/0/"), "invalid/signature", rekor.CheckInclusion},
		{"tampered entry bundle", flipTile("/tile/entries/"), "invalid/signature", rekor.CheckBodyMatch},
		{"forged checkpoint", func(f *fixture) string { f.w.RekorV2().ForgeCheckpoint(true); return "" }, "invalid/signature", rekor.CheckCheckpoint},
		{"log down", func(f *fixture) string { f.w.RekorV2().SetDown(true); return "" }, "no-verdict/transient", rekor.CheckEntry},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.appendV2(t, 20)
			var opts []rekor.Option
			if u := tt.setup(f); u != "" {
				// The same log and trusted root, reached through the proxy.
				opts = append(opts, rekor.WithTransport(redirect(f.w.RekorV2URL(), u)))
			}
			got := f.proveV2(t, "good-v2", opts...)
			if label(got) != tt.want {
				t.Fatalf("got %s, want %s", dump(got), tt.want)
			}
			if c, ok := checkNamed(got, tt.check); !ok || c.Status != audit.CheckFail {
				t.Errorf("check %s did not fail:\n%s", tt.check, dump(got))
			}
			if strings.Contains(got.Hint, "altered") && tt.want == "no-verdict/transient" {
				t.Errorf("an outage hints at alteration: %s", got.Hint)
			}
		})
	}
}

// redirect sends requests for base to to instead, keeping the path.
func redirect(base, to string) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		if u := r.URL.String(); strings.HasPrefix(u, base) {
			r = r.Clone(r.Context())
			nu, _ := r.URL.Parse(to + strings.TrimPrefix(u, base))
			r.URL, r.Host = nu, nu.Host
		}
		return http.DefaultTransport.RoundTrip(r)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestProveV2WithECDSALog: a Rekor v2 log may sign its checkpoints with
// ECDSA (rekor-tiles accepts both); the note verifier follows the key.
func TestProveV2WithECDSALog(t *testing.T) {
	f := newFixture(t)
	l, err := rekorv2.New(rekorv2.WithOrigin("127.0.0.1"), rekorv2.WithECDSAKey())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l.Handler())
	t.Cleanup(srv.Close)
	s, err := signer.New(f.w.CA(), f.w.Log(), signer.WithRekorV2(l, srv.URL), signer.WithTSA(f.w.TSA(), f.w.TSAURL()))
	if err != nil {
		t.Fatal(err)
	}
	trJSON, err := s.TrustedRootJSON()
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
	bp := f.pointer(t, "good-v2")
	var b bundle.Bundle
	if err := b.UnmarshalJSON(bp.Bundle); err != nil {
		t.Fatal(err)
	}
	statement := b.GetDsseEnvelope().GetPayload()
	bundleJSON, info, err := s.SignV2(statement, ca.Identity{Identity: sandbox.SignerNVIDIA.Identity, Issuer: sandbox.SignerNVIDIA.Issuer}, ago(40))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.PutBundle(context.Background(), ledger.BundleRecord{
		Digest: bp.Digest, SigstoreBundle: bundleJSON, Statement: statement, TrustRoot: f.v.TrustRoot(), VerifierVersion: f.v.Version(),
		VerifiedAt: ago(1), LogIndex: info.LogIndex,
	}); err != nil {
		t.Fatal(err)
	}
	want := f.want(t, "good-v2")
	idx := info.LogIndex
	want.Pointer.Attestations[0].Signer.RekorLogIndex = &idx
	got := f.log(t, "").Prove(context.Background(), want, gone("good-v2"))
	if got.Verdict != audit.RekorOnly {
		t.Fatalf("ECDSA-signed v2 log: %s", dump(got))
	}
}

// TestUnknownV2Log: a cached v2 bundle whose log the trusted root does not
// name is not proven, and the detail names the log's key id with a hint to
// refresh the trusted root — never that the bundle was altered.
func TestUnknownV2Log(t *testing.T) {
	f := newFixture(t)
	f.cache(t, "good-v2")
	trJSON, err := f.w.Signer().TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	v1Only := dropLog(t, trJSON, f.w.RekorV2URL())
	tr, err := verify.ParseTrustedRoot(v1Only)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(tr)
	if err != nil {
		t.Fatal(err)
	}
	l, err := rekor.New(f.w.LogURL(), v.TrustedMaterial(), rekor.WithStore(f.db), rekor.WithCachedVerifier(v),
		rekor.WithRetry(2, time.Millisecond, 2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	got := l.Prove(context.Background(), f.want(t, "good-v2"), gone("good-v2"))
	if got.Verdict != audit.Invalid {
		t.Fatalf("got %s", dump(got))
	}
	if !strings.Contains(got.Detail, f.w.RekorV2().LogIDHex()) || !strings.Contains(got.Detail, "does not name") {
		t.Errorf("detail does not name the unknown log %s: %s", f.w.RekorV2().LogIDHex(), got.Detail)
	}
	if !strings.Contains(got.Hint, "refresh the trusted root") || strings.Contains(got.Detail+got.Hint, "re-sign") {
		t.Errorf("hint %q: want a trusted-root refresh, never an alteration", got.Hint)
	}
}

func TestCheckConsistencyTiles(t *testing.T) {
	f := newFixture(t)
	f.cache(t, "good-v2")
	run := func(runID int64) []string {
		t.Helper()
		l := f.log(t, "")
		if got := l.Prove(context.Background(), f.want(t, "good-v2"), gone("good-v2")); got.Verdict != audit.RekorOnly {
			t.Fatalf("run %d: %s", runID, dump(got))
		}
		return l.CheckConsistency(context.Background(), runID)
	}
	if got := run(1); len(got) != 0 {
		t.Fatalf("first run: %q", got)
	}
	f.appendV2(t, 270)
	if got := run(2); len(got) != 0 {
		t.Fatalf("grown by 270 entries: %q", got)
	}
	cps, err := f.db.Checkpoints(context.Background(), f.w.RekorV2().Origin())
	if err != nil || len(cps) != 2 {
		t.Fatalf("recorded v2 checkpoints: %d, %v; want 2", len(cps), err)
	}
	if err := f.w.RekorV2().Rewind(f.w.RekorV2().Size() - 100); err != nil {
		t.Fatal(err)
	}
	f.appendV2(t, 150)
	if got := run(3); len(got) != 1 || !strings.Contains(got[0], "forked") {
		t.Fatalf("rewound and regrown: %q, want a fork finding", got)
	}
}

// TestProveV2WithoutCache: a v2 bundle the ledger never cached cannot be
// proven: nothing finds a v2 entry by digest and no v2 entry holds the
// statement, so nothing ties one to the digest; the detail says so.
func TestProveV2WithoutCache(t *testing.T) {
	f := newFixture(t)
	got := f.log(t, "").Prove(context.Background(), f.want(t, "good-v2"), gone("good-v2"))
	if label(got) != "invalid/not-found" {
		t.Fatalf("got %s", dump(got))
	}
	for _, want := range []string{"cannot be proven without a cached bundle", "no search", "not the statement", f.w.RekorV2URL()} {
		if !strings.Contains(got.Detail, want) {
			t.Errorf("detail lacks %q: %s", want, got.Detail)
		}
	}
}

// dropLog removes the log at baseURL from a trusted_root.json.
func dropLog(t *testing.T, trJSON []byte, baseURL string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(trJSON, &m); err != nil {
		t.Fatal(err)
	}
	var kept []any
	for _, l := range m["tlogs"].([]any) {
		if l.(map[string]any)["baseUrl"] != baseURL {
			kept = append(kept, l)
		}
	}
	if len(kept) == len(m["tlogs"].([]any)) {
		t.Fatalf("no log at %s in the trusted root", baseURL)
	}
	m["tlogs"] = kept
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

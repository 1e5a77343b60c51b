//go:build e2e

package main_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/rekor"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/gitrepo"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
	sbregistry "github.com/evidence-auditd/evidence-auditd/internal/sandbox/registry"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

// The real Rekor v2 and timestamp authority the suite signs into; .ci/run
// sets these from scripts/rekor-v2-up.sh.
const (
	envRekorV2URL     = "EVIDENCE_AUDITD_E2E_REKOR_V2_URL"         // write API
	envRekorV2Storage = "EVIDENCE_AUDITD_E2E_REKOR_V2_STORAGE_DIR" // tiles and checkpoint
	envRekorV2Key     = "EVIDENCE_AUDITD_E2E_REKOR_V2_PUBLIC_KEY"  // PEM file
	envTSAURL         = "EVIDENCE_AUDITD_E2E_TSA_URL"              // RFC 3161
	inTotoPayloadType = "application/vnd.in-toto+json"
)

// TestE2ERekorV2RealServers is issue 11's real-server acceptance for the
// Rekor v2 era: summary bundles signed with sigstore-go's sign package into
// a real rekor-tiles v2.3.0 log (hashedrekord v0.0.2 over the DSSE PAE,
// Ed25519 C2SP checkpoints) with RFC 3161 timestamps from a real
// timestamp-authority v2.1.3, certificates from the sandbox CA, published
// to a registry and merged into a git repository, then audited by the built
// binary run after run:
//
//  1. every bundle served verifies; the observer time is the RFC 3161 time;
//     a bundle deleted before any audit is invalid/not-found (a v2 log has
//     no search: only a cached bundle locates an entry);
//  2. a verified bundle deleted from the registry is rekor-only, proven
//     from the ledger's cached bundle against the real log's tiles, its age
//     measured from the RFC 3161 time (source log);
//  3. after more entries were logged, the same proof against the grown log,
//     and the checkpoints of the two audits are consistent (no log finding);
//  4. a modified checkpoint served in place of the log's is invalid/signature;
//  5. the tiles server stopped is no-verdict/transient.
//
// The log's tiles are the storage directory of rekor-tiles (which answers
// only the write API), served read-only by this test as public-good serves
// them; their URL is the trusted root's baseUrl, whose host 127.0.0.1 is
// the checkpoint origin (rekor-v2-up.sh starts the log with
// --hostname=127.0.0.1).
func TestE2ERekorV2RealServers(t *testing.T) {
	env := map[string]string{}
	for _, k := range []string{envRekorV2URL, envRekorV2Storage, envRekorV2Key, envTSAURL} {
		if env[k] = os.Getenv(k); env[k] == "" {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not set: .ci/run must start the real Rekor v2 and TSA (scripts/rekor-v2-up.sh)", k)
			}
			t.Skipf("%s is not set: start a real Rekor v2 and TSA with scripts/rekor-v2-up.sh (as .ci/run does) to run this test", k)
		}
	}
	ctx := context.Background()
	dir := t.TempDir()

	tiles := newTilesServer(t, env[envRekorV2Storage])
	logKey := readEd25519PublicKey(t, env[envRekorV2Key])
	tsaChain := getTSAChain(t, env[envTSAURL])
	authority, err := ca.New()
	if err != nil {
		t.Fatal(err)
	}
	trJSON, logID := v2TrustedRoot(t, authority, tiles.URL(), logKey, env[envTSAURL], tsaChain)
	trPath := filepath.Join(dir, "trusted_root.json")
	if err := os.WriteFile(trPath, trJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromJSON(trJSON)
	if err != nil {
		t.Fatal(err)
	}
	sg := &v2Signer{
		ca:    authority,
		rekor: sign.NewRekor(&sign.RekorOptions{BaseURL: env[envRekorV2URL], Version: 2, Timeout: 30 * time.Second, Retries: 2}),
		tsa:   sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: strings.TrimRight(env[envTSAURL], "/") + "/api/v1/timestamp", Timeout: 30 * time.Second, Retries: 2}),
		trust: tr,
	}

	// The in-process registry (go-containerregistry's, as the other e2e
	// tests use): this test is about the log and the TSA, and a deletion by
	// digest is all it needs from a registry.
	reg := sbregistry.New()
	if err := reg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close(context.Background()) })

	// Three summary bundles signed now into the real log: one that stays
	// served, one deleted after the first audit cached it, one deleted
	// before any audit saw it.
	id := sandbox.SignerNVIDIA
	now := time.Now().UTC().Truncate(time.Second)
	attestedAt := now.Add(-2 * time.Hour) // the signed attestedAt, well apart from the RFC 3161 time
	type evidenceItem struct {
		name, recipe string
		pub          *publish.Published
		tsaTime      time.Time
		path         string
	}
	items := []*evidenceItem{
		{name: "kept", recipe: "h100-eks-ubuntu-training"},
		{name: "cached", recipe: "gb200-aks-ubuntu-inference-dynamo"},
		{name: "never-cached", recipe: "l40s-oke-ubuntu-inference"},
	}
	var merges []gitrepo.PointerMerge
	var recipes []gitrepo.Recipe
	for i, it := range items {
		sum, err := publish.BuildSummary(publish.SummarySpec{Recipe: it.recipe, AttestedAt: attestedAt, RunID: fmt.Sprintf("e2e-v2-%s-%d", it.name, now.UnixNano())})
		if err != nil {
			t.Fatal(err)
		}
		it.pub, err = publish.Publish(ctx, publish.Target{Host: reg.Host(), Repo: "nvidia/aicr-evidence", PlainHTTP: true},
			sum, sg, publish.Identity{Issuer: id.Issuer, SAN: id.Identity}, now, publish.AttachAuto)
		if err != nil {
			t.Fatalf("publish %s: %v", it.name, err)
		}
		it.tsaTime = rfc3161Time(t, it.pub.Bundle)
		checkV2Entry(t, it.pub.Bundle, logID)
		idx := it.pub.LogIndex
		content := gitrepo.PointerYAML(gitrepo.PointerFields{
			Recipe: it.recipe, AttestedAt: attestedAt, OCI: it.pub.OCIRef, Digest: it.pub.ManifestDigest,
			PredicateType: sum.Spec.PredicateType, Identity: id.Identity, Issuer: id.Issuer, RekorLogIndex: &idx,
		})
		it.path = gitrepo.PerSourcePath(it.recipe, id.Issuer, id.Identity, it.pub.ManifestDigest)
		merges = append(merges, gitrepo.PointerMerge{Path: it.path, Content: content, MergedAt: now.Add(time.Duration(i-10) * time.Minute)})
		recipes = append(recipes, gitrepo.Recipe{Name: it.recipe})
		t.Logf("%s: %s, Rekor v2 entry %d, RFC 3161 time %s", it.name, it.pub.ManifestDigest, idx, it.tsaTime.Format(time.RFC3339Nano))
	}
	kept, cached, neverCached := items[0], items[1], items[2]
	repoDir := filepath.Join(dir, "repo")
	if _, err := gitrepo.Generate(repoDir, gitrepo.Scenario{
		Recipes:   recipes,
		Allowlist: []byte(fmt.Sprintf("schemaVersion: 1.0.0\nfirstParty:\n  - issuer: %s\n    source: %s\n    label: NVIDIA\ncommunity: []\npartner: []\n", id.Issuer, evidence.SourceSlug(id.Issuer, id.Identity))),
		Pointers:  merges,
	}); err != nil {
		t.Fatal(err)
	}

	// rekor.url names the Rekor v1 API, which a cached v2 proof must never
	// need: it points at a v1 API without entries that records what it is
	// asked (only the never-cached pointer's rekorLogIndex is looked up
	// there, SPEC §2.2).
	var (
		v1mu  sync.Mutex
		v1Log []string
	)
	v1 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		v1mu.Lock()
		v1Log = append(v1Log, r.Method+" "+r.URL.RequestURI()+" "+string(body))
		v1mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"code":404,"message":"not found"}`)
	}))
	t.Cleanup(v1.Close)
	v1Asked := func(it *evidenceItem) []string {
		v1mu.Lock()
		defer v1mu.Unlock()
		var hits []string
		for _, l := range v1Log {
			if strings.Contains(l, strings.TrimPrefix(it.pub.ManifestDigest, "sha256:")) || strings.Contains(l, fmt.Sprintf("logIndex=%d", it.pub.LogIndex)) {
				hits = append(hits, l)
			}
		}
		return hits
	}
	cfgPath := filepath.Join(dir, "evidence-auditd.yaml")
	// The archive is off: this test proves what the transparency log alone
	// (with the ledger's cached bundle) still proves once the registry lost
	// a bundle; with the archive on, the archived copy would decide first.
	cfg := fmt.Sprintf("repo:\n  path: %s\n  ref: main\ndataDir: %s\nledger:\n  path: %s\ntrust:\n  trustedRoot: %s\nrekor:\n  url: %s\n"+
		"registry:\n  plainHTTP: [%q]\n  allowPrivateNetworks: true\nissues:\n  sink: none\narchive:\n  enabled: false\n",
		repoDir, dir, filepath.Join(dir, "evidence-auditd.db"), trPath, v1.URL, reg.Host())
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	deleteBundle := func(it *evidenceItem) {
		t.Helper()
		repo := it.pub.OCIRef[:strings.LastIndex(it.pub.OCIRef, ":")]
		if err := reg.Delete(ctx, repo+"@"+it.pub.ManifestDigest); err != nil {
			t.Fatal(err)
		}
	}
	runNo := int64(0)
	auditRun := func(wantCode int) (map[string]audit.Result, string) {
		t.Helper()
		runNo++
		r := run(t, nil, "run", "-c", cfgPath)
		if r.code != wantCode {
			t.Fatalf("run %d: exit %d, want %d\n%s\n%s", runNo, r.code, wantCode, r.stdout, r.stderr)
		}
		db, err := ledger.OpenReadOnly(ctx, filepath.Join(dir, "evidence-auditd.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rs, err := db.Results(ctx, runNo)
		if err != nil {
			t.Fatal(err)
		}
		byPath := map[string]audit.Result{}
		for _, res := range rs {
			byPath[res.Key.Path] = res
		}
		if len(byPath) != len(items) {
			t.Fatalf("run %d recorded %d results, want %d\n%s", runNo, len(byPath), len(items), r.stdout)
		}
		return byPath, r.stdout
	}

	// Run 1. The never-cached bundle is gone before the auditor saw it.
	deleteBundle(neverCached)
	res, _ := auditRun(3)
	for _, it := range []*evidenceItem{kept, cached} {
		r := res[it.path]
		if r.Verdict != audit.Verified || r.VerifiedVia != audit.ViaOCI {
			t.Fatalf("run 1, %s: %s/%s via %s, want verified via oci: %s", it.name, r.Verdict, r.Class, r.VerifiedVia, r.Detail)
		}
		if r.RekorLogIndex != it.pub.LogIndex {
			t.Errorf("run 1, %s: log index %d, want the v2 entry %d", it.name, r.RekorLogIndex, it.pub.LogIndex)
		}
		// The signed attestedAt is the most trusted time; the log's time —
		// for a v2 entry the RFC 3161 time — is the observer timestamp the
		// certificate was checked at.
		if r.AttestedAtSource != audit.TimeSigned || !r.AttestedAt.Equal(attestedAt) {
			t.Errorf("run 1, %s: attested %s from %s, want the signed %s", it.name, r.AttestedAt, r.AttestedAtSource, attestedAt)
		}
		if c := checkNamed(r, verify.CheckTransparencyLog); c.Status != audit.CheckPass || !strings.Contains(c.Detail, "observer time "+it.tsaTime.UTC().Format(time.RFC3339)) {
			t.Errorf("run 1, %s: %s check %+v, want pass with observer time %s (the RFC 3161 time)", it.name, verify.CheckTransparencyLog, c, it.tsaTime.UTC().Format(time.RFC3339))
		}
	}
	if r := res[neverCached.path]; r.Verdict != audit.Invalid || r.Class != audit.ClassNotFound || !strings.Contains(r.Detail, tiles.URL()) {
		t.Errorf("run 1, never-cached: %s/%s, want invalid/not-found naming the v2 log %s (no search there): %s", r.Verdict, r.Class, tiles.URL(), r.Detail)
	}

	// Run 2: the cached bundle is deleted; the ledger's copy and the real
	// log's tiles prove it.
	deleteBundle(cached)
	res, out := auditRun(3)
	if r := res[kept.path]; r.Verdict != audit.Verified {
		t.Errorf("run 2, kept: %s/%s: %s", r.Verdict, r.Class, r.Detail)
	}
	checkRekorOnly(t, 2, res[cached.path], cached.pub.LogIndex, cached.tsaTime)
	t.Logf("run 2, cached: %s", res[cached.path].Detail)
	if strings.Contains(out, "Transparency-log findings") {
		t.Errorf("run 2: log findings:\n%s", out)
	}
	size2 := checkpointSizes(t, dir)

	// Run 3: the log grew; the same proof against a larger checkpoint, and
	// the run's checkpoint is proven consistent with run 2's.
	for i := range 3 {
		stmt := fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"filler","digest":{"sha256":"%x"}}],"predicateType":"https://example.com/filler","predicate":{}}`,
			sha256.Sum256([]byte(fmt.Sprintf("%d-%d", now.UnixNano(), i))))
		if _, _, err := sg.Sign([]byte(stmt), publish.Identity{Issuer: id.Issuer, SAN: id.Identity}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	res, out = auditRun(3)
	checkRekorOnly(t, 3, res[cached.path], cached.pub.LogIndex, cached.tsaTime)
	if strings.Contains(out, "Transparency-log findings") {
		t.Errorf("run 3: the grown log is not consistent with run 2's checkpoint:\n%s", out)
	}
	size3 := checkpointSizes(t, dir)
	if slices.Max(size3) <= slices.Max(size2) {
		t.Errorf("checkpoints recorded after run 3: sizes %v, want a larger one than run 2's %v", size3, size2)
	}
	if hits := v1Asked(cached); len(hits) != 0 {
		t.Errorf("the cached v2 proofs asked the Rekor v1 API (rekor.url) %q; they need only the v2 log's tiles", hits)
	}

	// Run 4: a checkpoint modified in transit (another root hash under the
	// log's signature) is refused.
	tiles.forge.Store(true)
	res, _ = auditRun(3)
	if r := res[cached.path]; r.Verdict != audit.Invalid || r.Class != audit.ClassSignature || checkNamed(r, rekor.CheckCheckpoint).Status != audit.CheckFail {
		t.Errorf("run 4, forged checkpoint: %s/%s (%s check %+v), want invalid/signature failing %s: %s",
			r.Verdict, r.Class, rekor.CheckCheckpoint, checkNamed(r, rekor.CheckCheckpoint), rekor.CheckCheckpoint, r.Detail)
	}
	tiles.forge.Store(false)

	// Run 5: the tiles cannot be reached: no verdict, never tampering.
	tiles.srv.Close()
	res, _ = auditRun(3) // the never-cached pointer is still a finding
	if r := res[cached.path]; r.Verdict != audit.NoVerdict || r.Class != audit.ClassTransient {
		t.Errorf("run 5, tiles down: %s/%s, want no-verdict/transient: %s", r.Verdict, r.Class, r.Detail)
	}
	if r := res[kept.path]; r.Verdict != audit.Verified {
		t.Errorf("run 5, kept (served by the registry, bundle carries its proof): %s/%s: %s", r.Verdict, r.Class, r.Detail)
	}
}

// checkRekorOnly asserts the cached v2 proof: rekor-only from the ledger's
// bundle, the entry read from the real log's tiles, included under a fresh
// checkpoint, aged from the RFC 3161 time.
func checkRekorOnly(t *testing.T, runNo int, r audit.Result, index int64, tsaTime time.Time) {
	t.Helper()
	if r.Verdict != audit.RekorOnly || r.VerifiedVia != audit.ViaRekor || r.RekorLogIndex != index {
		t.Errorf("run %d, cached: %s/%s via %s, index %d; want rekor-only via rekor, index %d: %s",
			runNo, r.Verdict, r.Class, r.VerifiedVia, r.RekorLogIndex, index, r.Detail)
		return
	}
	for _, name := range []string{rekor.CheckCache, rekor.CheckCheckpoint, rekor.CheckBodyMatch, rekor.CheckInclusion} {
		if c := checkNamed(r, name); c.Status != audit.CheckPass {
			t.Errorf("run %d, cached: check %s = %+v, want pass", runNo, name, c)
		}
	}
	if r.AttestedAtSource != audit.TimeLog || r.AttestedAt.Sub(tsaTime).Abs() >= time.Second {
		t.Errorf("run %d, cached: attested %s from %s, want the RFC 3161 time %s (source log)", runNo, r.AttestedAt, r.AttestedAtSource, tsaTime)
	}
}

func checkNamed(r audit.Result, name string) audit.Check {
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	return audit.Check{Name: name, Status: "absent"}
}

// checkpointSizes lists the tree sizes of the v2 log's checkpoints the
// ledger recorded (its origin is the tiles host, 127.0.0.1).
func checkpointSizes(t *testing.T, dir string) []int64 {
	t.Helper()
	db, err := ledger.OpenReadOnly(context.Background(), filepath.Join(dir, "evidence-auditd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cps, err := db.Checkpoints(context.Background(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) == 0 {
		t.Fatal("no checkpoint of the v2 log (origin 127.0.0.1) recorded")
	}
	var sizes []int64
	for _, c := range cps {
		sizes = append(sizes, c.TreeSize)
	}
	return sizes
}

// tilesServer serves rekor-tiles' storage directory read-only (the C2SP
// tlog-tiles read API: /checkpoint, /tile/...), optionally with a forged
// checkpoint.
type tilesServer struct {
	srv   *httptest.Server
	forge atomic.Bool
}

func newTilesServer(t *testing.T, dir string) *tilesServer {
	t.Helper()
	ts := &tilesServer{}
	files := http.FileServerFS(os.DirFS(dir))
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "read-only", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == "/checkpoint" && ts.forge.Load() {
			b, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Write(forgeCheckpoint(t, b))
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.srv.Close)
	return ts
}

func (ts *tilesServer) URL() string { return ts.srv.URL }

// forgeCheckpoint changes the root hash of a signed note checkpoint
// ("origin\nsize\nbase64 root\n\n— signatures") and keeps its signature.
func forgeCheckpoint(t *testing.T, cp []byte) []byte {
	lines := strings.SplitN(string(cp), "\n", 4)
	if len(lines) < 4 {
		t.Errorf("checkpoint %q: not a signed note", cp)
		return cp
	}
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != 32 {
		t.Errorf("checkpoint root %q: %v", lines[2], err)
		return cp
	}
	h[0] ^= 0xff
	lines[2] = base64.StdEncoding.EncodeToString(h)
	return []byte(strings.Join(lines, "\n"))
}

// v2Signer signs statements the way AICR's tooling does against
// public-good: sigstore-go's sign package, an ephemeral key, a code-signing
// certificate (here from the sandbox CA, as Fulcio would issue it), an RFC
// 3161 timestamp and a Rekor v2 entry. It satisfies publish.StatementSigner.
type v2Signer struct {
	ca    *ca.CA
	rekor *sign.Rekor
	tsa   *sign.TimestampAuthority
	trust root.TrustedMaterial
}

func (s *v2Signer) Sign(statement []byte, id publish.Identity, _ time.Time) ([]byte, int64, error) {
	// The TSA and the log stamp the present: the certificate is issued now,
	// whatever time the caller asked for.
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		return nil, 0, err
	}
	b, err := sign.Bundle(&sign.DSSEData{Data: statement, PayloadType: inTotoPayloadType}, kp, sign.BundleOptions{
		CertificateProvider:  caProvider{ca: s.ca, id: ca.Identity{Identity: id.SAN, Issuer: id.Issuer}},
		TimestampAuthorities: []*sign.TimestampAuthority{s.tsa},
		TransparencyLogs:     []sign.Transparency{s.rekor},
		TrustedRoot:          s.trust, // sigstore-go verifies what it signed
		Context:              context.Background(),
	})
	if err != nil {
		return nil, 0, fmt.Errorf("sign into the real Rekor v2 and TSA: %w", err)
	}
	j, err := protojson.Marshal(b)
	if err != nil {
		return nil, 0, err
	}
	return j, b.GetVerificationMaterial().GetTlogEntries()[0].GetLogIndex(), nil
}

// caProvider is a sign.CertificateProvider backed by the sandbox CA.
type caProvider struct {
	ca *ca.CA
	id ca.Identity
}

func (p caProvider) GetCertificate(_ context.Context, kp sign.Keypair, _ *sign.CertificateProviderOptions) ([]byte, error) {
	cert, err := p.ca.IssueLeaf(kp.GetPublicKey(), p.id, time.Now().Add(-time.Minute))
	if err != nil {
		return nil, err
	}
	return cert.Raw, nil
}

// v2TrustedRoot names the sandbox CA, the v2 log (by its C2SP key hash,
// computed here from SPEC §2.2's formula, with baseUrl the tiles server)
// and the TSA chain; no CT logs.
func v2TrustedRoot(t *testing.T, authority *ca.CA, baseURL string, logKey ed25519.PublicKey, tsaURL string, tsaChain []*x509.Certificate) ([]byte, []byte) {
	t.Helper()
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	// sha256(origin ‖ "\n" ‖ 0x01 ‖ key): 0x01 is the Ed25519 signature type.
	h := sha256.New()
	h.Write([]byte(u.Hostname() + "\n"))
	h.Write([]byte{0x01})
	h.Write(logKey)
	logID := h.Sum(nil)
	spki, err := x509.MarshalPKIXPublicKey(logKey)
	if err != nil {
		t.Fatal(err)
	}
	since := timestamppb.New(time.Now().Add(-24 * time.Hour))
	var tsaCerts []*protocommon.X509Certificate
	for _, c := range tsaChain {
		tsaCerts = append(tsaCerts, &protocommon.X509Certificate{RawBytes: c.Raw})
	}
	inter := authority.Intermediate()
	tr := &prototrustroot.TrustedRoot{
		MediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
		Tlogs: []*prototrustroot.TransparencyLogInstance{{
			BaseUrl:       baseURL,
			HashAlgorithm: protocommon.HashAlgorithm_SHA2_256,
			PublicKey: &protocommon.PublicKey{
				RawBytes:   spki,
				KeyDetails: protocommon.PublicKeyDetails_PKIX_ED25519,
				ValidFor:   &protocommon.TimeRange{Start: since},
			},
			LogId: &protocommon.LogId{KeyId: logID},
		}},
		CertificateAuthorities: []*prototrustroot.CertificateAuthority{{
			Subject:   &protocommon.DistinguishedName{Organization: inter.Subject.Organization[0], CommonName: inter.Subject.CommonName},
			CertChain: &protocommon.X509CertificateChain{Certificates: []*protocommon.X509Certificate{{RawBytes: inter.Raw}, {RawBytes: authority.Root().Raw}}},
			ValidFor:  &protocommon.TimeRange{Start: timestamppb.New(authority.NotBefore())},
		}},
		TimestampAuthorities: []*prototrustroot.CertificateAuthority{{
			Subject:   &protocommon.DistinguishedName{Organization: firstOf(tsaChain[0].Subject.Organization), CommonName: tsaChain[0].Subject.CommonName},
			Uri:       tsaURL,
			CertChain: &protocommon.X509CertificateChain{Certificates: tsaCerts},
			ValidFor:  &protocommon.TimeRange{Start: since},
		}},
	}
	b, err := protojson.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.ParseTrustedRoot(b); err != nil {
		t.Fatalf("the auditor refuses the v2 trusted root: %v", err)
	}
	return b, logID
}

func firstOf(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0]
}

func readEd25519PublicKey(t *testing.T, path string) ed25519.PublicKey {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: not PEM", path)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	pk, ok := k.(ed25519.PublicKey)
	if !ok {
		t.Fatalf("%s: a %T, want the Ed25519 key rekor-v2-up.sh generates", path, k)
	}
	return pk
}

// getTSAChain fetches the timestamp authority's certificate chain (leaf
// first), as a trusted root's timestampAuthorities entry lists it.
func getTSAChain(t *testing.T, tsaURL string) []*x509.Certificate {
	t.Helper()
	resp, err := http.Get(strings.TrimRight(tsaURL, "/") + "/api/v1/timestamp/certchain")
	if err != nil {
		t.Fatalf("real TSA at %s: %v", tsaURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("TSA cert chain: HTTP %d, %v", resp.StatusCode, err)
	}
	var chain []*x509.Certificate
	for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatalf("TSA cert chain: %v", err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		t.Fatalf("TSA cert chain: no certificate in %q", b)
	}
	return chain
}

// rfc3161Time is the genTime of the bundle's RFC 3161 timestamp, read with
// the TSA's own parser.
func rfc3161Time(t *testing.T, bundleJSON []byte) time.Time {
	t.Helper()
	var b struct {
		VerificationMaterial struct {
			TimestampVerificationData struct {
				RFC3161Timestamps []struct {
					SignedTimestamp []byte `json:"signedTimestamp"`
				} `json:"rfc3161Timestamps"`
			} `json:"timestampVerificationData"`
		} `json:"verificationMaterial"`
	}
	if err := json.Unmarshal(bundleJSON, &b); err != nil {
		t.Fatal(err)
	}
	tss := b.VerificationMaterial.TimestampVerificationData.RFC3161Timestamps
	if len(tss) != 1 {
		t.Fatalf("bundle has %d RFC 3161 timestamps, want 1", len(tss))
	}
	ts, err := timestamp.Parse(tss[0].SignedTimestamp)
	if err != nil {
		if ts, err = timestamp.ParseResponse(tss[0].SignedTimestamp); err != nil {
			t.Fatalf("RFC 3161 timestamp: %v", err)
		}
	}
	return ts.Time
}

// checkV2Entry asserts the bundle's entry is what SPEC §2.2 says a Rekor v2
// entry is: hashedrekord 0.0.2 in the log named by the C2SP key hash, with
// an inclusion proof and checkpoint but no SET and no integrated time.
func checkV2Entry(t *testing.T, bundleJSON, logID []byte) {
	t.Helper()
	var b struct {
		VerificationMaterial struct {
			TlogEntries []struct {
				LogID          struct{ KeyID []byte } `json:"logId"`
				KindVersion    struct{ Kind, Version string }
				IntegratedTime string
				InclusionProof *struct {
					Checkpoint struct{ Envelope string }
				}
				InclusionPromise *struct{}
			}
		}
	}
	if err := json.Unmarshal(bundleJSON, &b); err != nil {
		t.Fatal(err)
	}
	es := b.VerificationMaterial.TlogEntries
	if len(es) != 1 {
		t.Fatalf("bundle has %d tlog entries, want 1", len(es))
	}
	e := es[0]
	if e.KindVersion.Kind != "hashedrekord" || e.KindVersion.Version != "0.0.2" || !bytes.Equal(e.LogID.KeyID, logID) ||
		e.InclusionProof == nil || e.InclusionPromise != nil || (e.IntegratedTime != "" && e.IntegratedTime != "0") {
		t.Fatalf("bundle entry %+v: want hashedrekord 0.0.2 in log %x with an inclusion proof, no SET, no integrated time", e, logID)
	}
	if origin, _, _ := strings.Cut(e.InclusionProof.Checkpoint.Envelope, "\n"); origin != "127.0.0.1" {
		t.Fatalf("checkpoint origin %q, want 127.0.0.1 (rekor-v2-up.sh --hostname)", origin)
	}
}

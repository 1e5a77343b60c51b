//go:build e2e

package rekor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/registry"
	"github.com/evidence-auditd/evidence-auditd/internal/rekor"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
	sbregistry "github.com/evidence-auditd/evidence-auditd/internal/sandbox/registry"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/signer"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/tlog"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

// RekorURLEnv names the real Rekor the e2e suite signs into; .ci/run sets
// it from scripts/rekor-up.sh.
const RekorURLEnv = "EVIDENCE_AUDITD_E2E_REKOR_URL"

// TestE2ERekorRealServer is issue 5's "real Rekor" acceptance: sandbox
// bundles signed into a real rekor-server v1.5.4 (Trillian, MariaDB),
// published to the sandbox registry, audited once (verified, cached), then
// deleted from the registry and audited again with the fallback at the real
// server: rekor-only from the ledger's cache, from the log by rekorLogIndex,
// and from the log through the index search. A third run proves the log's
// consistency with the checkpoints the second recorded.
func TestE2ERekorRealServer(t *testing.T) {
	url := os.Getenv(RekorURLEnv)
	if url == "" {
		t.Skipf("%s is not set: start a real Rekor with scripts/rekor-up.sh (as .ci/run does) to run this test", RekorURLEnv)
	}
	ctx := context.Background()
	pub := getPublicKey(t, url)

	authority, err := ca.New()
	if err != nil {
		t.Fatal(err)
	}
	unused, err := tlog.New() // the signer needs one for legacy signing; nothing is logged in it
	if err != nil {
		t.Fatal(err)
	}
	sg, err := signer.New(authority, unused, signer.WithRekorAPI(url, pub))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	trJSON, err := sg.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := verify.ParseTrustedRoot(trJSON)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(tr)
	if err != nil {
		t.Fatal(err)
	}
	reg := sbregistry.New()
	if err := reg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close(context.Background()) })

	// Three bundles signed now into the real log.
	type pointer struct {
		name    string
		pv      audit.PointerVersion
		oci     string
		digest  string
		index   int64
		omitIdx bool
	}
	id := sandbox.SignerNVIDIA
	sign := publish.SignerFunc(func(stmt []byte, pid publish.Identity, at time.Time) ([]byte, int64, error) {
		b, info, err := sg.Sign(stmt, ca.Identity{Identity: pid.SAN, Issuer: pid.Issuer}, at)
		return b, info.LogIndex, err
	})
	now := time.Now().UTC().Truncate(time.Second)
	var ps []*pointer
	for i, name := range []string{"cached", "by-index", "by-search"} {
		recipe := []string{"h100-eks-ubuntu-training", "gb200-aks-ubuntu-inference-dynamo", "l40s-oke-ubuntu-inference"}[i]
		runID := fmt.Sprintf("e2e-%s-%d", name, now.UnixNano())
		sum, err := publish.BuildSummary(publish.SummarySpec{Recipe: recipe, AttestedAt: now.Add(-time.Minute), RunID: runID})
		if err != nil {
			t.Fatal(err)
		}
		out, err := publish.Publish(ctx, publish.Target{Host: reg.Host(), Repo: "nvidia/aicr-evidence", PlainHTTP: true},
			sum, sign, publish.Identity{Issuer: id.Issuer, SAN: id.Identity}, now.Add(-5*time.Second), publish.AttachAuto)
		if err != nil {
			t.Fatalf("publish %s: %v", name, err)
		}
		p := &pointer{name: name, oci: out.OCIRef, digest: out.ManifestDigest, index: out.LogIndex, omitIdx: name == "by-search"}
		p.pv = pointerVersion(t, recipe, id, p.oci, p.digest, p.index, p.omitIdx, now)
		ps = append(ps, p)
		t.Logf("%s: %s, Rekor entry %d", name, p.digest, p.index)
	}

	db, err := ledger.Open(ctx, filepath.Join(dir, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	src, err := registry.New(registry.WithPlainHTTP(reg.Host()), registry.AllowPrivateNetworksUnsafe(true))
	if err != nil {
		t.Fatal(err)
	}
	asOf := now.AddDate(0, 1, 0) // the real server's entries are fresh; age them a month
	run := func(vs []audit.PointerVersion) *audit.Summary {
		t.Helper()
		r, err := db.BeginRun(ctx, ledger.RunMeta{Repo: "e2e", Ref: "main", Commit: "c", AsOf: asOf,
			TrustRoot: v.TrustRoot(), VerifierVersion: v.Version(), Deep: true})
		if err != nil {
			t.Fatal(err)
		}
		l, err := rekor.New(url, v.TrustedMaterial(), rekor.WithStore(db), rekor.WithCachedVerifier(v))
		if err != nil {
			t.Fatal(err)
		}
		runner := &audit.Runner{Source: src, Verifier: v, Ledger: db, Fallback: l, Monitor: l}
		s, err := runner.Run(ctx, vs, nil, audit.Options{RunID: r.ID, AsOf: asOf, Deep: true, EvidenceDir: "recipes/evidence"})
		if err != nil {
			t.Fatal(err)
		}
		// The ledger's records, checks included: the summary leaves them out.
		if s.Results, err = db.Results(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		return s
	}

	// Run 1: the first bundle is served, verifies against the real log's
	// key, and is cached.
	s1 := run([]audit.PointerVersion{ps[0].pv})
	if r := s1.Results[0]; r.Verdict != audit.Verified {
		t.Fatalf("run 1: %s/%s: %s", r.Verdict, r.Class, r.Detail)
	}

	// The registry loses all three.
	for _, p := range ps {
		repo := p.oci[:strings.LastIndex(p.oci, ":")]
		if err := reg.Delete(ctx, repo+"@"+p.digest); err != nil {
			t.Fatal(err)
		}
	}
	all := []audit.PointerVersion{ps[0].pv, ps[1].pv, ps[2].pv}
	for runNo := 2; runNo <= 3; runNo++ {
		s := run(all)
		if len(s.LogFindings) != 0 {
			t.Errorf("run %d: log findings %q", runNo, s.LogFindings)
		}
		for i, p := range ps {
			r := resultFor(s, p.pv.Key)
			if r.Verdict != audit.RekorOnly || r.VerifiedVia != audit.ViaRekor || r.RekorLogIndex != p.index {
				t.Errorf("run %d, %s: %s/%s via %s, index %d (want rekor-only via rekor, %d): %s",
					runNo, p.name, r.Verdict, r.Class, r.VerifiedVia, r.RekorLogIndex, p.index, r.Detail)
				continue
			}
			fromCache := hasCheck(r, "cached-signature")
			if fromCache != (i == 0) {
				t.Errorf("run %d, %s: proven from the cache %v, want %v", runNo, p.name, fromCache, i == 0)
			}
			if runNo == 2 {
				t.Logf("%s: %s", p.name, r.Detail)
			}
		}
		if runNo == 2 {
			// Grow the real log between the runs: run 3 proves consistency
			// over the server's own /api/v1/log/proof.
			if _, _, err := sg.Sign([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"`+
				strings.Repeat("0", 56)+fmt.Sprintf("%08x", now.Unix())+`"}}],"predicateType":"https://example.com/p","predicate":{}}`),
				ca.Identity{Identity: id.Identity, Issuer: id.Issuer}, time.Now().Add(-5*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
	}
	cps, err := db.Checkpoints(ctx, checkpointOrigin(t, db, url))
	if err != nil || len(cps) < 2 {
		t.Errorf("checkpoints of the real log recorded: %d (%v), want at least 2 (before and after it grew)", len(cps), err)
	}
}

// checkpointOrigin is the real log's checkpoint origin, "<hostname> - <treeID>".
func checkpointOrigin(t *testing.T, _ *ledger.DB, url string) string {
	t.Helper()
	resp, err := http.Get(strings.TrimRight(url, "/") + "/api/v1/log")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info struct {
		SignedTreeHead string `json:"signedTreeHead"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	origin, _, _ := strings.Cut(info.SignedTreeHead, "\n")
	return origin
}

func getPublicKey(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(strings.TrimRight(url, "/") + "/api/v1/log/publicKey")
	if err != nil {
		t.Fatalf("real Rekor at %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("real Rekor public key: HTTP %d, %v", resp.StatusCode, err)
	}
	return b
}

// pointerVersion writes the per-source pointer a maintainer would merge.
func pointerVersion(t *testing.T, recipe string, id sandbox.Identity, oci, digest string, index int64, omitIndex bool, at time.Time) audit.PointerVersion {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "schemaVersion: 1.0.0\nrecipe: %s\nattestations:\n  - attestedAt: %s\n", recipe, at.Add(-time.Minute).Format(time.RFC3339))
	fmt.Fprintf(&b, "    bundle:\n      oci: %s\n      digest: %s\n      predicateType: %s\n", oci, digest, publish.PredicateV3)
	fmt.Fprintf(&b, "    signer:\n      identity: %s\n      issuer: %s\n", id.Identity, id.Issuer)
	if !omitIndex {
		fmt.Fprintf(&b, "      rekorLogIndex: %d\n", index)
	}
	content := []byte(b.String())
	if _, err := evidence.ParsePointer(content); err != nil {
		t.Fatalf("pointer: %v\n%s", err, content)
	}
	path := fmt.Sprintf("recipes/evidence/%s/%s/%s.yaml", recipe, evidence.SourceSlug(id.Issuer, id.Identity), strings.Replace(digest, ":", "-", 1))
	return audit.PointerVersion{Key: audit.VersionKey{Path: path, AddedCommit: strings.Repeat("c", 40)}, Content: content, AddedAt: at}
}

func resultFor(s *audit.Summary, k audit.VersionKey) audit.Result {
	for _, r := range s.Results {
		if r.Key == k {
			return r
		}
	}
	return audit.Result{Detail: "no result"}
}

func hasCheck(r audit.Result, name string) bool {
	for _, c := range r.Checks {
		if c.Name == name {
			return true
		}
	}
	return false
}

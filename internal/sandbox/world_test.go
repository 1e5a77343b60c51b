package sandbox_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/rekor/pkg/client"
	"github.com/sigstore/rekor/pkg/generated/client/entries"
	"github.com/sigstore/rekor/pkg/generated/client/index"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
)

// The demo world is built once for the package's tests and closed by TestMain.
var (
	demoOnce  sync.Once
	demoWorld *sandbox.World
	demoBuilt *sandbox.Built
	demoErr   error
	demoNow   = time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	demoDir   string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if demoWorld != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = demoWorld.Close(ctx)
		cancel()
	}
	if demoDir != "" {
		_ = os.RemoveAll(demoDir)
	}
	os.Exit(code)
}

func demo(tb testing.TB) (*sandbox.World, *sandbox.Built) {
	tb.Helper()
	demoOnce.Do(func() {
		if demoDir, demoErr = os.MkdirTemp("", "sandbox-demo-"); demoErr != nil {
			return
		}
		demoWorld = sandbox.New(demoDir)
		ctx := context.Background()
		if demoErr = demoWorld.Start(ctx); demoErr != nil {
			return
		}
		demoBuilt, demoErr = demoWorld.Build(ctx, sandbox.DemoCases(demoNow))
	})
	if demoErr != nil {
		tb.Fatalf("demo world: %v", demoErr)
	}
	return demoWorld, demoBuilt
}

func startWorld(tb testing.TB, opts ...sandbox.Option) *sandbox.World {
	tb.Helper()
	w := sandbox.New(tb.TempDir(), opts...)
	if err := w.Start(context.Background()); err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := w.Close(ctx); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return w
}

// healthy reports whether an auditor must find the case's bundle intact.
func healthy(c sandbox.Case) bool {
	return c.Expect.Verdict == sandbox.Verified || c.Expect.Verdict == sandbox.VerifiedWithFailures
}

func TestDemoCatalogue(t *testing.T) {
	cases := sandbox.DemoCases(demoNow)
	if n := len(cases); n < 20 || n > 40 {
		t.Errorf("demo has %d cases, want 20..40", n)
	}
	verdicts := map[string]int{}
	for _, c := range cases {
		if c.Expect.Verdict == "" || c.Expect.Age == "" {
			t.Errorf("%s: incomplete expectation %+v", c.Name, c.Expect)
		}
		if (c.Expect.Verdict == sandbox.Invalid || c.Expect.Verdict == sandbox.NoVerdict) != (c.Expect.Class != "") {
			t.Errorf("%s: verdict %s with class %q", c.Name, c.Expect.Verdict, c.Expect.Class)
		}
		if c.MergedAt.After(demoNow) || c.SignedAt.After(demoNow.Add(-48*time.Hour)) {
			t.Errorf("%s: signed %s, merged %s: not in the past of %s", c.Name, c.SignedAt, c.MergedAt, demoNow)
		}
		verdicts[c.Expect.Verdict+"/"+c.Expect.Class]++
	}
	for _, want := range []string{"verified/", "verified-with-failures/", "invalid/identity", "invalid/integrity",
		"invalid/placement", "invalid/schema", "invalid/signature", "invalid/legacy-predicate", "invalid/not-found",
		"invalid/forbidden", "no-verdict/transient"} {
		if verdicts[want] == 0 {
			t.Errorf("no case expects %s", want)
		}
	}
}

func TestDemoRepository(t *testing.T) {
	w, built := demo(t)
	repo, err := git.PlainOpen(w.RepoDir())
	if err != nil {
		t.Fatalf("open repository: %v", err)
	}
	head, err := repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := head.Name().Short(), "main"; got != want {
		t.Errorf("HEAD on %s, want %s", got, want)
	}

	// One merge per pointer version, plus one per removal, on first-parent history.
	wantMerges := len(built.Pointers)
	for _, bp := range built.Pointers {
		if bp.RemovedCommit != "" {
			wantMerges++
		}
	}
	merges := 0
	for c, err := repo.CommitObject(head.Hash()); ; c, err = c.Parent(0) {
		if err != nil {
			t.Fatal(err)
		}
		if c.NumParents() == 2 {
			merges++
		}
		if c.NumParents() == 0 {
			break
		}
	}
	if merges != wantMerges || len(built.Repo.Merges) != wantMerges {
		t.Errorf("%d merges on main (%d recorded), want %d", merges, len(built.Repo.Merges), wantMerges)
	}

	for _, bp := range built.Pointers {
		c := bp.Case
		commit, err := repo.CommitObject(plumbing.NewHash(bp.MergeCommit))
		if err != nil {
			t.Errorf("%s: merge commit %q: %v", c.Name, bp.MergeCommit, err)
			continue
		}
		if commit.NumParents() != 2 || !commit.Committer.When.Equal(bp.MergedAt) {
			t.Errorf("%s: merge %s has %d parents, time %s, want 2 and %s", c.Name, bp.MergeCommit, commit.NumParents(), commit.Committer.When, bp.MergedAt)
		}
		if got := fileAt(t, commit, bp.Path); !bytes.Equal(got, bp.Content) {
			t.Errorf("%s: %s at its merge differs from the built pointer", c.Name, bp.Path)
		}
		if bp.RemovedCommit != "" {
			rc, err := repo.CommitObject(plumbing.NewHash(bp.RemovedCommit))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rc.File(bp.Path); err == nil {
				t.Errorf("%s: %s still present after its removal", c.Name, bp.Path)
			}
		}
		if !strings.HasPrefix(bp.OCI, w.RegistryHost()+"/") || !strings.Contains(bp.OCI, ":") {
			t.Errorf("%s: oci %q does not name the registry %s", c.Name, bp.OCI, w.RegistryHost())
		}

		// The pointer as the auditor's parser sees it.
		p, _, problems := evidence.Inspect(evidence.DefaultEvidenceDir, bp.Path, bp.Content)
		kinds := map[evidence.ProblemKind]bool{}
		for _, pr := range problems {
			kinds[pr.Kind] = true
		}
		var want evidence.ProblemKind
		switch {
		case c.Unsigned:
			want = evidence.ProblemUnsigned
		case c.Malformed:
			want = evidence.ProblemSchema
		case c.Expect.Class == sandbox.ClassPlacement, c.Expect.Class == sandbox.ClassLegacyPredicate:
			want = evidence.ProblemKind(c.Expect.Class)
		}
		switch {
		case want == "" && len(problems) > 0:
			t.Errorf("%s: unexpected problems %v", c.Name, problems)
		case want != "" && !kinds[want]:
			t.Errorf("%s: problems %v, want one of kind %s", c.Name, problems, want)
		}
		if p != nil && len(p.Attestations) == 1 {
			a := p.Attestations[0]
			if a.Bundle.Digest != bp.Digest || a.Bundle.OCI != bp.OCI {
				t.Errorf("%s: pointer names %s %s, want %s %s", c.Name, a.Bundle.OCI, a.Bundle.Digest, bp.OCI, bp.Digest)
			}
		}
	}

	// Allowlist: the signers' classes.
	tip, err := repo.CommitObject(head.Hash())
	if err != nil {
		t.Fatal(err)
	}
	al, err := evidence.ParseAllowlist(fileAt(t, tip, "recipes/evidence/allowlist.yaml"))
	if err != nil {
		t.Fatalf("allowlist: %v", err)
	}
	for _, tt := range []struct {
		id   sandbox.Identity
		want evidence.SignerClass
	}{
		{sandbox.SignerNVIDIA, evidence.SignerFirstParty},
		{sandbox.SignerPartner, evidence.SignerPartner},
		{sandbox.SignerLab, evidence.SignerCommunity},
		{sandbox.SignerFork, evidence.SignerUnlisted},
	} {
		if got := al.Classify(tt.id.Issuer, tt.id.Identity); got != tt.want {
			t.Errorf("allowlist classifies %s as %s, want %s", tt.id.Identity, got, tt.want)
		}
	}

	// Overlays: every maintainers shape the router must handle.
	shapes := map[string]int{}
	overlays, err := tip.Tree()
	if err != nil {
		t.Fatal(err)
	}
	err = overlays.Files().ForEach(func(f *object.File) error {
		if !strings.HasPrefix(f.Name, "recipes/overlays/") {
			return nil
		}
		body, err := f.Contents()
		if err != nil {
			return err
		}
		ms, err := evidence.ParseMaintainers([]byte(body))
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		assignable := false
		for _, m := range ms {
			assignable = assignable || !m.IsTeam()
		}
		switch {
		case len(ms) == 0:
			shapes["none"]++
		case assignable:
			shapes["user"]++
		default:
			shapes["team-only"]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"none", "user", "team-only"} {
		if shapes[s] == 0 {
			t.Errorf("no overlay with maintainers shape %q (%v)", s, shapes)
		}
	}
	if _, err := evidence.ParseCodeowners(fileAt(t, tip, "CODEOWNERS")); err != nil {
		t.Errorf("CODEOWNERS: %v", err)
	}
}

func fileAt(tb testing.TB, c *object.Commit, path string) []byte {
	tb.Helper()
	f, err := c.File(path)
	if err != nil {
		tb.Fatalf("%s at %s: %v", path, c.Hash, err)
	}
	s, err := f.Contents()
	if err != nil {
		tb.Fatal(err)
	}
	return []byte(s)
}

func TestDemoRegistry(t *testing.T) {
	_, built := demo(t)
	ctx := context.Background()
	for _, bp := range built.Pointers {
		c := bp.Case
		if !healthy(c) {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			ref := repoOf(t, &bp).Digest(bp.Digest)
			desc, err := remote.Get(ref, remote.WithContext(ctx))
			if err != nil {
				t.Fatalf("get %s: %v", ref, err)
			}
			if desc.Digest.String() != bp.Digest {
				t.Errorf("digest %s, want %s", desc.Digest, bp.Digest)
			}
			if c.LegacyCosign {
				att := ref.Context().Tag(strings.Replace(bp.Digest, ":", "-", 1) + ".att")
				img, err := remote.Image(att, remote.WithContext(ctx))
				if err != nil {
					t.Fatalf("cosign attestation %s: %v", att, err)
				}
				m, err := img.Manifest()
				if err != nil || len(m.Layers) != 1 {
					t.Fatalf("cosign attestation %s: %v layers, %v", att, len(m.Layers), err)
				}
				ann := m.Layers[0].Annotations
				if got := ann[publish.AnnotationCosignRFC3161] != ""; got != c.LegacyTimestamped {
					t.Errorf("RFC 3161 timestamp annotation present: %v, want %v", got, c.LegacyTimestamped)
				}
				if got := ann[publish.AnnotationCosignBundle] != ""; got == c.LegacyUnlogged {
					t.Errorf("Rekor bundle annotation present: %v, want %v", got, !c.LegacyUnlogged)
				}
				if c.LegacyUnlogged && (bp.LogIndex != -1 || bp.PointerLogIndex != nil) {
					t.Errorf("unlogged: log index %d, pointer's %v", bp.LogIndex, bp.PointerLogIndex)
				}
				return
			}
			h, _ := v1.NewHash(bp.Digest)
			idx, err := remote.Referrers(ref.Context().Digest(h.String()), remote.WithContext(ctx))
			if err != nil {
				t.Fatalf("referrers: %v", err)
			}
			im, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			if len(im.Manifests) != 1 {
				t.Fatalf("%d referrers, want 1", len(im.Manifests))
			}
			img, err := remote.Image(ref.Context().Digest(im.Manifests[0].Digest.String()), remote.WithContext(ctx))
			if err != nil {
				t.Fatal(err)
			}
			layers, err := img.Layers()
			if err != nil || len(layers) != 1 {
				t.Fatalf("referrer layers %d, %v", len(layers), err)
			}
			if mt, _ := layers[0].MediaType(); string(mt) != publish.MediaTypeBundle {
				t.Errorf("referrer layer media type %s, want %s", mt, publish.MediaTypeBundle)
			}
			rc, err := layers[0].Compressed()
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, bp.Bundle) {
				t.Errorf("referrer holds another bundle than the one signed")
			}
		})
	}
}

// repoOf returns the repository the pointer's OCI locator names.
func repoOf(tb testing.TB, bp *sandbox.BuiltPointer) name.Repository {
	tb.Helper()
	ref, err := name.ParseReference(bp.OCI, name.Insecure)
	if err != nil {
		tb.Fatalf("%s: oci %q: %v", bp.Case.Name, bp.OCI, err)
	}
	return ref.Context()
}

// status answers a plain GET of a manifest, bypassing client retries.
func status(tb testing.TB, w *sandbox.World, bp *sandbox.BuiltPointer) (int, http.Header) {
	tb.Helper()
	repo := repoOf(tb, bp).RepositoryStr()
	req, _ := http.NewRequest(http.MethodGet, w.Registry().URL()+"/v2/"+repo+"/manifests/"+bp.Digest, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

func TestDemoRegistryEffects(t *testing.T) {
	w, built := demo(t)
	for _, tt := range []struct {
		name       string
		want       int
		retryAfter string
	}{
		{"good-h100-training", 200, ""},
		{"deleted-bundle", 404, ""},
		{"forbidden-repository", 403, ""},
		{"flaky-500", 500, ""},
		{"flaky-429", 429, "1"},
	} {
		bp := built.Pointer(tt.name)
		if bp == nil {
			t.Fatalf("no case %s", tt.name)
		}
		got, h := status(t, w, bp)
		if got != tt.want || h.Get("Retry-After") != tt.retryAfter {
			t.Errorf("%s: GET manifest = %d (Retry-After %q), want %d (%q)", tt.name, got, h.Get("Retry-After"), tt.want, tt.retryAfter)
		}
	}
}

func trustedMaterial(tb testing.TB, w *sandbox.World) *root.TrustedRoot {
	tb.Helper()
	raw, err := os.ReadFile(w.TrustedRootPath())
	if err != nil {
		tb.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromJSON(raw)
	if err != nil {
		tb.Fatalf("NewTrustedRootFromJSON: %v", err)
	}
	var doc struct {
		Tlogs []struct {
			BaseURL string `json:"baseUrl"`
		} `json:"tlogs"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil || len(doc.Tlogs) != 2 || doc.Tlogs[0].BaseURL != w.LogURL() || doc.Tlogs[1].BaseURL != w.RekorV2URL() {
		tb.Errorf("trusted root tlogs %+v (%v), want the Rekor v1 log at %s and the Rekor v2 log at %s", doc.Tlogs, err, w.LogURL(), w.RekorV2URL())
	}
	if n := len(tr.TimestampingAuthorities()); n != 1 {
		tb.Errorf("trusted root names %d timestamp authorities, want the world's TSA", n)
	}
	return tr
}

func TestDemoBundlesVerify(t *testing.T) {
	w, built := demo(t)
	// One observer timestamp: the v1 integrated time or the v2 bundle's
	// RFC 3161 timestamp.
	v, err := verify.NewVerifier(trustedMaterial(t, w), verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	if err != nil {
		t.Fatal(err)
	}
	check := func(bp *sandbox.BuiltPointer, id sandbox.Identity) error {
		var b bundle.Bundle
		if err := b.UnmarshalJSON(bp.Bundle); err != nil {
			return err
		}
		certID, err := verify.NewShortCertificateIdentity(id.Issuer, "", id.Identity, "")
		if err != nil {
			return err
		}
		digest, _ := hex.DecodeString(strings.TrimPrefix(bp.Digest, "sha256:"))
		_, err = v.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", digest), verify.WithCertificateIdentity(certID)))
		return err
	}
	for _, bp := range built.Pointers {
		c := bp.Case
		if !healthy(c) || c.LegacyCosign {
			continue
		}
		if err := check(&bp, c.Signer); err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
	}
	// The bad ones fail for their reason.
	if err := check(built.Pointer("wrong-signer"), sandbox.SignerNVIDIA); err == nil {
		t.Error("wrong-signer verifies as the claimed signer")
	}
	if err := check(built.Pointer("wrong-subject"), sandbox.SignerNVIDIA); err == nil {
		t.Error("wrong-subject verifies against the manifest digest")
	}
	if bp := built.Pointer("aged-expired"); bp.MergedAt.After(demoNow.AddDate(0, -24, 0)) {
		t.Errorf("aged-expired merged %s, want 25 months before %s", bp.MergedAt, demoNow)
	}
}

func TestDemoLog(t *testing.T) {
	w, built := demo(t)
	rc, err := client.GetRekorClient(w.LogURL(), client.WithRetryCount(0))
	if err != nil {
		t.Fatal(err)
	}
	bp := built.Pointer("good-h100-dynamo")
	if bp.PointerLogIndex == nil || *bp.PointerLogIndex != bp.LogIndex {
		t.Fatalf("pointer rekorLogIndex %v, want %d", bp.PointerLogIndex, bp.LogIndex)
	}
	resp, err := rc.Entries.GetLogEntryByIndex(entries.NewGetLogEntryByIndexParams().WithLogIndex(*bp.PointerLogIndex))
	if err != nil {
		t.Fatalf("GetLogEntryByIndex(%d): %v", *bp.PointerLogIndex, err)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(bp.Bundle); err != nil {
		t.Fatal(err)
	}
	tle := b.GetVerificationMaterial().GetTlogEntries()[0]
	for _, e := range resp.Payload {
		if e.LogIndex == nil || *e.LogIndex != bp.LogIndex || e.IntegratedTime == nil || *e.IntegratedTime != tle.GetIntegratedTime() {
			t.Errorf("entry index %v time %v, want %d %d", e.LogIndex, e.IntegratedTime, bp.LogIndex, tle.GetIntegratedTime())
		}
	}

	wrong := built.Pointer("wrong-log-index")
	if *wrong.PointerLogIndex == wrong.LogIndex {
		t.Errorf("wrong-log-index pointer names its own entry %d", wrong.LogIndex)
	}

	// Without rekorLogIndex, the index search by subject digest finds it.
	nl := built.Pointer("good-no-log-index")
	if nl.PointerLogIndex != nil || bytes.Contains(nl.Content, []byte("rekorLogIndex")) {
		t.Errorf("good-no-log-index pointer names a log index")
	}
	sr, err := rc.Index.SearchIndex(index.NewSearchIndexParams().WithQuery(&models.SearchIndex{Hash: nl.Digest}))
	if err != nil {
		t.Fatalf("SearchIndex: %v", err)
	}
	if len(sr.Payload) != 1 {
		t.Fatalf("index search for %s: %v, want one entry", nl.Digest, sr.Payload)
	}
	e, err := w.Log().EntryByUUID(sr.Payload[0])
	if err != nil || e.LogIndex != nl.LogIndex {
		t.Errorf("index search found entry %v (%v), want index %d", e, err, nl.LogIndex)
	}
}

func TestWithoutReferrersAPI(t *testing.T) {
	w := startWorld(t, sandbox.WithReferrersAPI(false), sandbox.WithLeafReuse(5*time.Minute))
	now := time.Now()
	built, err := w.Build(context.Background(), sandbox.ScaleCases(3, now))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	for _, bp := range built.Pointers {
		ref := repoOf(t, &bp).Tag(strings.Replace(bp.Digest, ":", "-", 1))
		if _, err := remote.Get(ref); err != nil {
			t.Errorf("%s: referrers tag %s: %v", bp.Case.Name, ref, err)
		}
	}
}

func TestBuildRejects(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	unstarted := sandbox.New(t.TempDir())
	if _, err := unstarted.Build(ctx, sandbox.ScaleCases(1, now)); err == nil {
		t.Error("Build before Start succeeded")
	}
	if err := sandbox.New(t.TempDir(), sandbox.WithConcurrency(0)).Start(ctx); err == nil {
		t.Error("Start with concurrency 0 succeeded")
	}

	good := sandbox.ScaleCases(2, now)
	dup := append([]sandbox.Case(nil), good...)
	dup[1].Name = dup[0].Name
	shared := sandbox.DemoCases(now)
	for i := range shared {
		if shared[i].Fault != nil {
			shared[i].Repository = ""
		}
	}
	for _, tt := range []struct {
		name  string
		cases []sandbox.Case
	}{
		{"duplicate names", dup},
		{"fault on a shared repository", shared},
		{"no signing time", []sandbox.Case{{Name: "x", Recipe: "h100-eks-ubuntu-training"}}},
		{"unknown era", []sandbox.Case{{Name: "x", Recipe: "h100-eks-ubuntu-training", SignedAt: now, Era: "rekor-v3"}}},
		{"legacy cosign in the v2 era", []sandbox.Case{{Name: "x", Recipe: "h100-eks-ubuntu-training", SignedAt: now, Era: sandbox.EraV2, LegacyCosign: true}}},
		{"delete after audit without the verdict after", []sandbox.Case{{Name: "x", Recipe: "h100-eks-ubuntu-training", SignedAt: now, DeleteAfterAudit: true}}},
	} {
		if _, err := startWorld(t).Build(ctx, tt.cases); err == nil {
			t.Errorf("%s: Build succeeded", tt.name)
		}
	}

	w := startWorld(t)
	if _, err := w.Build(ctx, good); err != nil {
		t.Fatalf("Build: %v", err)
	}
	if _, err := w.Build(ctx, good); err == nil {
		t.Error("second Build succeeded")
	}
}

func TestScaleCases(t *testing.T) {
	now := time.Now()
	cases := sandbox.ScaleCases(1000, now)
	recipes, signers, names := map[string]bool{}, map[sandbox.Identity]bool{}, map[string]bool{}
	for _, c := range cases {
		recipes[c.Recipe], signers[c.Signer], names[c.Name] = true, true, true
		if c.SignedAt.Before(now.AddDate(0, -21, 0)) || c.MergedAt.After(now) {
			t.Errorf("%s: signed %s merged %s", c.Name, c.SignedAt, c.MergedAt)
		}
	}
	if len(recipes) != sandbox.ScaleRecipes || len(signers) != 3 || len(names) != len(cases) {
		t.Errorf("%d recipes, %d signers, %d names for %d cases", len(recipes), len(signers), len(names), len(cases))
	}
}

// BenchmarkBuildScale builds a 1 000-pointer world (publish, sign, merge)
// and reports the cost per pointer, to extrapolate to 10 000.
func BenchmarkBuildScale(b *testing.B) {
	const n = 1000
	now := time.Now()
	cases := sandbox.ScaleCases(n, now)
	ctx := context.Background()
	for b.Loop() {
		w := sandbox.New(b.TempDir(), sandbox.WithLeafReuse(5*time.Minute))
		if err := w.Start(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := w.Build(ctx, cases); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N*n), "ms/pointer")
}

func TestWithSeed(t *testing.T) {
	seed := []byte("evidence-auditd demo")
	a, b := startWorld(t, sandbox.WithSeed(seed)), startWorld(t, sandbox.WithSeed(seed))
	if a.Log().LogID() != b.Log().LogID() || !a.CA().Root().PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(b.CA().Root().PublicKey) {
		t.Error("two worlds from one seed have different keys")
	}
	if c := startWorld(t); c.Log().LogID() == a.Log().LogID() {
		t.Error("an unseeded world has the seeded log's key")
	}
}

// TestDemoRekorV2: a v2 case's bundle entry is the v2 log's entry at its
// index, under a checkpoint whose origin is the host of the log's URL.
func TestDemoRekorV2(t *testing.T) {
	w, built := demo(t)
	bp := built.Pointer("good-v2-rekor")
	var b bundle.Bundle
	if err := b.UnmarshalJSON(bp.Bundle); err != nil {
		t.Fatal(err)
	}
	tle := b.GetVerificationMaterial().GetTlogEntries()[0]
	if tle.GetIntegratedTime() != 0 || len(b.GetVerificationMaterial().GetTimestampVerificationData().GetRfc3161Timestamps()) != 1 {
		t.Errorf("v2 bundle: integrated time %d, %d RFC 3161 timestamps; want none and one", tle.GetIntegratedTime(),
			len(b.GetVerificationMaterial().GetTimestampVerificationData().GetRfc3161Timestamps()))
	}
	e, err := w.RekorV2().Entry(uint64(bp.LogIndex))
	if err != nil || !bytes.Equal(e.GetCanonicalizedBody(), tle.GetCanonicalizedBody()) {
		t.Errorf("v2 log entry %d (%v) is not the bundle's entry", bp.LogIndex, err)
	}
	u, _ := url.Parse(w.RekorV2URL())
	if cp := tle.GetInclusionProof().GetCheckpoint().GetEnvelope(); !strings.HasPrefix(cp, u.Hostname()+"\n") {
		t.Errorf("checkpoint origin: %q, want %s", cp, u.Hostname())
	}
}

// TestDeleteAudited: DeleteAudited removes exactly the DeleteAfterAudit
// cases' manifests.
func TestDeleteAudited(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	w := startWorld(t)
	cases := sandbox.ScaleCases(2, now)
	cases[1].Era, cases[1].DeleteAfterAudit = sandbox.EraV2, true
	cases[1].AfterDelete = sandbox.Expectation{Verdict: sandbox.RekorOnly, Age: sandbox.AgeFresh}
	built, err := w.Build(ctx, cases)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := status(t, w, &built.Pointers[1]); got != 200 {
		t.Fatalf("before DeleteAudited: %d", got)
	}
	names, err := w.DeleteAudited(ctx, built)
	if err != nil || len(names) != 1 || names[0] != cases[1].Name {
		t.Fatalf("DeleteAudited: %v, %v", names, err)
	}
	if got, _ := status(t, w, &built.Pointers[1]); got != 404 {
		t.Errorf("deleted case: %d, want 404", got)
	}
	if got, _ := status(t, w, &built.Pointers[0]); got != 200 {
		t.Errorf("other case: %d, want 200", got)
	}
}

package main_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/gitrepo"
)

const (
	actionsIssuer = "https://token.actions.githubusercontent.com"
	oauthIssuer   = "https://github.com/login/oauth"
	workflowID    = "https://github.com/acme/aicr/.github/workflows/evidence.yaml@refs/heads/main"
	emailID       = "alice@example.com"
)

func digestOf(s string) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(s)))
}

// listEntry is the part of `list --format json` the test checks.
type listEntry struct {
	Path          string  `json:"path"`
	Recipe        string  `json:"recipe"`
	Layout        string  `json:"layout"`
	Source        string  `json:"source"`
	BundleDigest  string  `json:"bundleDigest"`
	PredicateType string  `json:"predicateType"`
	AddedCommit   string  `json:"addedCommit"`
	RemovedCommit *string `json:"removedCommit"`
	Signer        *struct {
		Identity, Issuer, Class string
	} `json:"signer"`
	Problems []struct {
		Class, Detail string
	} `json:"problems"`
	ExtraKeys []string `json:"extraKeys"`
}

// TestListInventory is issue 2's acceptance scenario: two signers, a flat
// pointer edited twice, a removed pointer, a malformed file, a squatted
// source directory and a legacy predicate, each version listed once with
// the right commits and problems.
func TestListInventory(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	day := func(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }
	ptr := func(recipe, digest, identity, issuer, ptype string) []byte {
		return gitrepo.PointerYAML(gitrepo.PointerFields{
			Recipe: recipe, AttestedAt: t0, OCI: "ghcr.io/acme/aicr-evidence:" + recipe,
			Digest: digest, PredicateType: ptype, Identity: identity, Issuer: issuer,
		})
	}
	v1 := "https://aicr.run/recipe-evidence/v1"
	d1, d2, d3, d4, d5 := digestOf("1"), digestOf("2"), digestOf("3"), digestOf("4"), digestOf("5")
	flat := gitrepo.FlatPath("h100-aks-ubuntu-inference")
	squat := "recipes/evidence/h100-eks-ubuntu-training/" + evidence.SourceSlug(oauthIssuer, emailID) + "/sha256-" + strings.TrimPrefix(d5, "sha256:") + ".yaml"
	malformed := gitrepo.PerSourcePath("h100-eks-ubuntu-training", actionsIssuer, workflowID, d4)
	removed := gitrepo.PerSourcePath("gb200-gke-cos-training", actionsIssuer, workflowID, d3)
	allow := fmt.Sprintf(`schemaVersion: 1.0.0
firstParty:
  - issuer: %s
    identityPattern: '^https://github\.com/acme/aicr/\.github/workflows/.+$'
community:
  - issuer: %s
    source: %s
partner: []
`, actionsIssuer, oauthIssuer, evidence.SourceSlug(oauthIssuer, emailID))

	dir := filepath.Join(t.TempDir(), "aicr")
	res, err := gitrepo.Generate(dir, gitrepo.Scenario{
		Allowlist: []byte(allow),
		Recipes:   []gitrepo.Recipe{{Name: "h100-eks-ubuntu-training"}, {Name: "h100-aks-ubuntu-inference"}},
		Pointers: []gitrepo.PointerMerge{
			{Content: ptr("h100-eks-ubuntu-training", d1, workflowID, actionsIssuer, v1), MergedAt: day(1)},
			// An older pointer: keys beyond schema 1.0.0, not a problem.
			{Content: gitrepo.PointerYAML(gitrepo.PointerFields{
				Recipe: "h100-eks-ubuntu-training", AttestedAt: t0, OCI: "ghcr.io/acme/aicr-evidence:h100-eks-ubuntu-training",
				Digest: d2, PredicateType: v1, Identity: emailID, Issuer: oauthIssuer, Denormalized: true,
			}), MergedAt: day(2)},
			{Content: ptr("h100-aks-ubuntu-inference", d1, workflowID, actionsIssuer, v1), Layout: gitrepo.LayoutFlat, MergedAt: day(3)},
			{Content: ptr("h100-aks-ubuntu-inference", d2, workflowID, actionsIssuer, v1), Layout: gitrepo.LayoutFlat, MergedAt: day(4)},
			{Content: ptr("h100-aks-ubuntu-inference", d3, workflowID, actionsIssuer, v1), Layout: gitrepo.LayoutFlat, MergedAt: day(5)},
			{Content: ptr("gb200-gke-cos-training", d3, workflowID, actionsIssuer, v1), MergedAt: day(6)},
			{Path: removed, Remove: true, MergedAt: day(7)},
			{Path: malformed, Content: []byte("attestations: [unclosed\n"), MergedAt: day(8)},
			{Path: squat, Content: ptr("h100-eks-ubuntu-training", d5, workflowID, actionsIssuer, v1), MergedAt: day(9)},
			{Content: ptr("a100-legacy", d4, emailID, oauthIssuer, "https://aicr.nvidia.com/recipe-evidence/v1"), Layout: gitrepo.LayoutFlat, MergedAt: day(10)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	r := run(t, nil, "list", "--repo", dir, "--format", "json")
	if r.code != 0 {
		t.Fatalf("list: exit %d, stderr %s", r.code, r.stderr)
	}
	var got []listEntry
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("list output is not JSON: %v\n%s", err, r.stdout)
	}
	if len(got) != 9 {
		t.Fatalf("listed %d versions, want 9:\n%s", len(got), r.stdout)
	}

	// Every merge that added bytes is one version, added by its merge commit.
	type key struct{ path, commit string }
	byKey := map[key]listEntry{}
	for _, e := range got {
		k := key{e.Path, e.AddedCommit}
		if _, dup := byKey[k]; dup {
			t.Errorf("version %v listed twice", k)
		}
		byKey[k] = e
	}
	for i, m := range res.Merges {
		if m.Removed {
			continue
		}
		e, ok := byKey[key{m.Path, m.Commit}]
		if !ok {
			t.Errorf("merge %d (%s at %s) not listed", i, m.Path, m.Commit[:8])
			continue
		}
		// The version's removal is the next merge touching the same path.
		var wantRemoved string
		for _, later := range res.Merges[i+1:] {
			if later.Path == m.Path {
				wantRemoved = later.Commit
				break
			}
		}
		gotRemoved := ""
		if e.RemovedCommit != nil {
			gotRemoved = *e.RemovedCommit
		}
		if gotRemoved != wantRemoved {
			t.Errorf("%s@%s: removedCommit = %q, want %q", m.Path, m.Commit[:8], gotRemoved, wantRemoved)
		}
	}

	problemClasses := func(e listEntry) string {
		var cs []string
		for _, p := range e.Problems {
			cs = append(cs, p.Class)
		}
		return strings.Join(cs, ",")
	}
	wantProblems := map[string]string{
		gitrepo.PerSourcePath("h100-eks-ubuntu-training", actionsIssuer, workflowID, d1): "",
		gitrepo.PerSourcePath("h100-eks-ubuntu-training", oauthIssuer, emailID, d2):      "",
		removed:                         "",
		malformed:                       "schema",
		squat:                           "placement",
		gitrepo.FlatPath("a100-legacy"): "legacy-predicate",
	}
	for _, e := range got {
		want, ok := wantProblems[e.Path]
		if !ok {
			continue
		}
		if got := problemClasses(e); got != want {
			t.Errorf("%s: problems = %q, want %q (%+v)", e.Path, got, want, e.Problems)
		}
	}

	for _, e := range got {
		want := ""
		if e.Path == gitrepo.PerSourcePath("h100-eks-ubuntu-training", oauthIssuer, emailID, d2) {
			want = "attestations[0].criteriaMatch attestations[0].fingerprint attestations[0].phaseSummary"
		}
		if g := strings.Join(e.ExtraKeys, " "); g != want {
			t.Errorf("%s: extraKeys = %q, want %q", e.Path, g, want)
		}
	}

	flatVersions := 0
	for _, e := range got {
		if e.Path == flat {
			flatVersions++
			if e.Layout != "flat" || problemClasses(e) != "" {
				t.Errorf("flat version %s: layout %q problems %q", e.AddedCommit[:8], e.Layout, problemClasses(e))
			}
		}
	}
	if flatVersions != 3 {
		t.Errorf("flat pointer has %d versions, want 3", flatVersions)
	}

	classes := map[string]string{}
	for _, e := range got {
		if e.Signer != nil {
			classes[e.Signer.Identity] = e.Signer.Class
		}
	}
	if classes[workflowID] != "first-party" || classes[emailID] != "community" {
		t.Errorf("signer classes = %v, want workflow first-party and e-mail community", classes)
	}

	table := run(t, nil, "list", "--repo", dir)
	if table.code != 0 || !strings.Contains(table.stdout, "9 pointer versions, 3 with problems") ||
		!strings.Contains(table.stdout, "1 with keys beyond pointer schema 1.0.0, ignored") {
		t.Errorf("table: exit %d, stdout:\n%s", table.code, table.stdout)
	}
}

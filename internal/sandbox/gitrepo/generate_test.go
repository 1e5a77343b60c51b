package gitrepo_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"go.yaml.in/yaml/v3"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/gitrepo"
)

const (
	actions = "https://token.actions.githubusercontent.com"
	oauth   = "https://github.com/login/oauth"
	wf      = "https://github.com/o/r/.github/workflows/x.yaml@refs/heads/b"
)

func digest(s string) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(s)))
}

func pointer(recipe, seed, issuer, identity string, at time.Time) gitrepo.PointerFields {
	return gitrepo.PointerFields{
		Recipe:        recipe,
		AttestedAt:    at,
		OCI:           "ghcr.io/o/aicr-evidence:" + recipe,
		Digest:        digest(seed),
		PredicateType: "https://aicr.run/recipe-evidence/v3",
		Identity:      identity,
		Issuer:        issuer,
	}
}

func TestGenerate(t *testing.T) {
	const (
		withM    = "h100-aks-ubuntu-inference"
		withoutM = "gb200-eks-ubuntu-training"
		legacy   = "h100-eks-ubuntu-inference-dynamo"
	)
	day := func(n int) time.Time { return time.Date(2025, 2, 1, 10, 0, 0, 0, time.UTC).AddDate(0, 0, n) }
	a := pointer(withM, "a", actions, wf, day(0))
	bp := pointer(withM, "b", oauth, "alice@example.com", day(1))
	c := pointer(withoutM, "c", actions, wf, day(2))
	flat := []gitrepo.PointerFields{
		pointer(legacy, "f1", oauth, "bob@example.com", day(0)),
		pointer(legacy, "f2", oauth, "bob@example.com", day(5)),
		pointer(legacy, "f3", oauth, "bob@example.com", day(9)),
	}
	allow := []byte("schemaVersion: 1.0.0\nfirstParty: []\ncommunity:\n  - issuer: " + oauth + "\n    source: 7c4c0edc8c765a95a0f3afdb3bbb8e91\npartner: []\n")
	s := gitrepo.Scenario{
		Recipes: []gitrepo.Recipe{
			{Name: withM, Maintainers: []gitrepo.Maintainer{
				{Handle: "alice", Org: "acme", Escalation: "gpu-recipes@acme.example"},
				{Handle: "acme/gpu-recipes"},
			}},
			{Name: withoutM},
			{Name: "gb200-gke-cos-inference", Profile: "gpuStack=bundle-installer"},
		},
		Allowlist:  allow,
		Codeowners: "/recipes/overlays/ @aicr/recipe-owners\n",
		// Listed out of order on purpose: Generate merges by MergedAt.
		Pointers: []gitrepo.PointerMerge{
			{Content: gitrepo.PointerYAML(flat[2]), Layout: gitrepo.LayoutFlat, MergedAt: day(10)},
			{Content: gitrepo.PointerYAML(a), MergedAt: day(1), Branch: "evidence/h100-aks"},
			{Content: gitrepo.PointerYAML(flat[0]), Layout: gitrepo.LayoutFlat, MergedAt: day(1).Add(time.Hour)},
			{Content: gitrepo.PointerYAML(bp), MergedAt: day(2)},
			{Content: gitrepo.PointerYAML(c), MergedAt: day(3)},
			{Content: gitrepo.PointerYAML(flat[1]), Layout: gitrepo.LayoutFlat, MergedAt: day(6)},
			{Content: gitrepo.PointerYAML(bp), Remove: true, MergedAt: day(8)},
		},
	}
	dir := t.TempDir()
	res, err := gitrepo.Generate(dir, s)
	if err != nil {
		t.Fatal(err)
	}
	gitFsck(t, dir)

	pathA := gitrepo.PerSourcePath(withM, actions, wf, a.Digest)
	pathB := gitrepo.PerSourcePath(withM, oauth, bp.Identity, bp.Digest)
	pathC := gitrepo.PerSourcePath(withoutM, actions, wf, c.Digest)
	pathF := gitrepo.FlatPath(legacy)
	wantMerges := []struct {
		path    string
		at      time.Time
		removed bool
	}{
		{pathA, day(1), false},
		{pathF, day(1).Add(time.Hour), false},
		{pathB, day(2), false},
		{pathC, day(3), false},
		{pathF, day(6), false},
		{pathB, day(8), true},
		{pathF, day(10), false},
	}
	if got, want := len(res.Merges), len(wantMerges); got != want {
		t.Fatalf("merges = %d, want %d", got, want)
	}
	for i, w := range wantMerges {
		m := res.Merges[i]
		if m.Path != w.path || !m.At.Equal(w.at) || m.Removed != w.removed {
			t.Errorf("merge %d = %+v, want %+v", i, m, w)
		}
	}

	r, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := r.Reference(plumbing.NewBranchReferenceName("main"), true)
	if err != nil {
		t.Fatal(err)
	}
	if got := ref.Hash().String(); got != res.Head {
		t.Errorf("main = %s, Result.Head = %s", got, res.Head)
	}
	refs, _ := r.Branches()
	nrefs := 0
	_ = refs.ForEach(func(*plumbing.Reference) error { nrefs++; return nil })
	if nrefs != 1 {
		t.Errorf("branches = %d, want 1 (feature branches deleted after merge)", nrefs)
	}

	// First-parent chain, oldest first.
	var chain []string
	for h := plumbing.NewHash(res.Head); ; {
		c := commitAt(t, r, h.String())
		chain = append([]string{h.String()}, chain...)
		if len(c.ParentHashes) == 0 {
			break
		}
		h = c.ParentHashes[0]
	}
	var merges, plain []string
	for _, h := range chain {
		if len(commitAt(t, r, h).ParentHashes) == 2 {
			merges = append(merges, h)
		} else {
			plain = append(plain, h)
		}
	}
	if len(merges) != len(res.Merges) {
		t.Fatalf("first-parent merges = %d, want %d", len(merges), len(res.Merges))
	}
	// The root plus unrelated commits (before every 3rd merge by default).
	if got, want := len(plain), 1+2; got != want {
		t.Errorf("non-merge commits on main = %d, want %d", got, want)
	}
	for _, h := range plain[1:] {
		st, err := commitAt(t, r, h).Stats()
		if err != nil {
			t.Fatal(err)
		}
		for _, fs := range st {
			if fs.Name != "README.md" && !strings.HasPrefix(fs.Name, "docs/") {
				t.Errorf("unrelated commit %s touches %s", h, fs.Name)
			}
		}
	}
	flatVersions := map[string]bool{}
	for i, h := range merges {
		m := res.Merges[i]
		if h != m.Commit {
			t.Errorf("merge %d on first-parent chain = %s, Result says %s", i, h, m.Commit)
		}
		mc := commitAt(t, r, h)
		if !mc.Committer.When.Equal(m.At) {
			t.Errorf("merge %d committer time = %v, want %v", i, mc.Committer.When, m.At)
		}
		if got := mc.ParentHashes[1].String(); got != m.Feature {
			t.Errorf("merge %d second parent = %s, want feature %s", i, got, m.Feature)
		}
		fc := commitAt(t, r, m.Feature)
		if len(fc.ParentHashes) != 1 || fc.ParentHashes[0] != mc.ParentHashes[0] {
			t.Errorf("merge %d: feature commit not forked from main's previous tip", i)
		}
		content, present := fileAt(t, r, h, m.Path)
		_, before := fileAt(t, r, mc.ParentHashes[0].String(), m.Path)
		switch {
		case m.Removed && (present || !before):
			t.Errorf("merge %d: removal of %s: before %v after %v", i, m.Path, before, present)
		case !m.Removed && !present:
			t.Errorf("merge %d: %s absent after merge", i, m.Path)
		}
		if m.Path == pathF {
			flatVersions[content] = true
		}
	}
	if len(flatVersions) != 3 {
		t.Errorf("flat pointer versions = %d, want 3", len(flatVersions))
	}

	// Files at head.
	for _, p := range []string{pathA, pathC} {
		if _, ok := fileAt(t, r, res.Head, p); !ok {
			t.Errorf("%s missing at head", p)
		}
	}
	if _, ok := fileAt(t, r, res.Head, pathB); ok {
		t.Errorf("removed %s present at head", pathB)
	}
	if got, _ := fileAt(t, r, res.Head, pathF); got != string(gitrepo.PointerYAML(flat[2])) {
		t.Errorf("flat pointer at head:\n%s\nwant last edit:\n%s", got, gitrepo.PointerYAML(flat[2]))
	}
	if got, _ := fileAt(t, r, res.Head, "recipes/evidence/allowlist.yaml"); got != string(allow) {
		t.Errorf("allowlist = %q", got)
	}
	if got, _ := fileAt(t, r, res.Head, "CODEOWNERS"); got != s.Codeowners {
		t.Errorf("CODEOWNERS = %q", got)
	}
	type overlay struct {
		Kind     string `yaml:"kind"`
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		Spec struct {
			Profiles    []string            `yaml:"profiles"`
			Maintainers []map[string]string `yaml:"maintainers"`
		} `yaml:"spec"`
	}
	for _, rc := range s.Recipes {
		raw, ok := fileAt(t, r, res.Head, gitrepo.OverlayPath(rc.Name))
		if !ok {
			t.Errorf("overlay %s missing", rc.Name)
			continue
		}
		var o overlay
		if err := yaml.Unmarshal([]byte(raw), &o); err != nil {
			t.Fatalf("overlay %s: %v", rc.Name, err)
		}
		if o.Kind != "RecipeMetadata" || o.Metadata.Name != rc.Name {
			t.Errorf("overlay %s: kind %q name %q", rc.Name, o.Kind, o.Metadata.Name)
		}
		if got, want := len(o.Spec.Maintainers), len(rc.Maintainers); got != want {
			t.Errorf("overlay %s: %d maintainers, want %d", rc.Name, got, want)
		}
		if rc.Profile != "" && (len(o.Spec.Profiles) != 1 || o.Spec.Profiles[0] != rc.Profile) {
			t.Errorf("overlay %s: profiles %v", rc.Name, o.Spec.Profiles)
		}
	}
	o, _ := fileAt(t, r, res.Head, gitrepo.OverlayPath(withM))
	if !strings.Contains(o, "escalation: gpu-recipes@acme.example") || !strings.Contains(o, "handle: acme/gpu-recipes") {
		t.Errorf("maintainers block:\n%s", o)
	}

	// The work tree holds head.
	if got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(pathF))); err != nil || string(got) != string(gitrepo.PointerYAML(flat[2])) {
		t.Errorf("work tree %s: %v", pathF, err)
	}
}

func TestGenerateErrors(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	p := gitrepo.PointerYAML(pointer("r-a-b-c", "x", actions, wf, at))
	tests := map[string]gitrepo.Scenario{
		"remove absent": {Pointers: []gitrepo.PointerMerge{{Content: p, Remove: true, MergedAt: at}}},
		"no time":       {Pointers: []gitrepo.PointerMerge{{Content: p}}},
		"bad layout":    {Pointers: []gitrepo.PointerMerge{{Content: p, Layout: "nested", MergedAt: at}}},
		"not yaml":      {Pointers: []gitrepo.PointerMerge{{Content: []byte("{"), MergedAt: at}}},
		"no digest":     {Pointers: []gitrepo.PointerMerge{{Content: []byte("recipe: r\n"), MergedAt: at}}},
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := gitrepo.Generate(t.TempDir(), s); err == nil {
				t.Error("Generate succeeded")
			}
		})
	}
}

// worldScenario is n per-source pointers over n/20 (at most 100) recipes and four
// signers, a flat pointer edited every 50 merges and a removal every 100.
func worldScenario(n int) gitrepo.Scenario {
	start := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	recipes := min(max(n/20, 1), 100)
	s := gitrepo.Scenario{Start: start}
	for i := range recipes {
		r := gitrepo.Recipe{Name: fmt.Sprintf("h%d-aks-ubuntu-inference", i)}
		if i%2 == 0 {
			r.Maintainers = []gitrepo.Maintainer{{Handle: "alice", Org: "acme"}}
		}
		s.Recipes = append(s.Recipes, r)
	}
	var live []gitrepo.PointerMerge
	for i := range n {
		at := start.Add(time.Duration(i+1) * time.Hour)
		f := pointer(s.Recipes[i%recipes].Name, fmt.Sprint(i), actions,
			fmt.Sprintf("https://github.com/o%d/r/.github/workflows/x.yaml@refs/heads/b", i%4), at)
		pm := gitrepo.PointerMerge{Content: gitrepo.PointerYAML(f), MergedAt: at}
		if i%50 == 49 {
			pm.Layout = gitrepo.LayoutFlat
			f.Recipe = "legacy-flat"
			pm.Content = gitrepo.PointerYAML(f)
		}
		s.Pointers = append(s.Pointers, pm)
		if pm.Layout == "" {
			live = append(live, pm)
		}
		if i%100 == 99 {
			rm := live[0]
			live = live[1:]
			rm.Remove, rm.MergedAt = true, at.Add(30*time.Minute)
			s.Pointers = append(s.Pointers, rm)
		}
	}
	return s
}

func benchmarkGenerate(b *testing.B, n int, opts ...gitrepo.Option) {
	s := worldScenario(n)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := gitrepo.Generate(b.TempDir(), s, opts...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/pointer")
}

func BenchmarkGenerate(b *testing.B) {
	b.Run("pointers=1000", func(b *testing.B) { benchmarkGenerate(b, 1000) })
	b.Run("pointers=1000-bare", func(b *testing.B) { benchmarkGenerate(b, 1000, gitrepo.Bare()) })
}

// BenchmarkGenerate10k is the scale SPEC work needs; run it explicitly:
// go test -run '^$' -bench Generate10k -benchtime 1x ./internal/sandbox/gitrepo
func BenchmarkGenerate10k(b *testing.B) {
	benchmarkGenerate(b, 10000)
}

func TestGenerateWorldScenarioFsck(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	dir := t.TempDir()
	res, err := gitrepo.Generate(dir, worldScenario(300))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(res.Merges), 303; got != want {
		t.Errorf("merges = %d, want %d", got, want)
	}
	gitFsck(t, dir)
}

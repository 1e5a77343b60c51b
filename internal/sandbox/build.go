package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/gitrepo"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/registry"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/signer"
)

// Built is the world Build made.
type Built struct {
	// Pointers has one entry per case, in the order of the cases.
	Pointers []BuiltPointer
	// Repo is the generated history (merge commits in history order).
	Repo *gitrepo.Result
}

// BuiltPointer is one case as published and merged.
type BuiltPointer struct {
	Case Case
	// Path is the pointer's repository path; Content the bytes merged.
	Path    string
	Content []byte
	// Digest is the summary manifest digest (the pointer's bundle.digest);
	// OCI the locator "<RegistryHost>/<repository>:<tag>".
	Digest string
	OCI    string
	// LogIndex is the signature's transparency-log index; -1 when unsigned
	// or never logged (LegacyUnlogged).
	// PointerLogIndex is what the pointer's rekorLogIndex says (nil when
	// absent; differs from LogIndex for WrongLogIndex).
	LogIndex        int64
	PointerLogIndex *int64
	// Bundle is the Sigstore bundle v0.3 JSON; nil when unsigned or signed
	// in the legacy cosign form.
	Bundle []byte
	// MergeCommit and MergedAt are the merge that added this version;
	// RemovedCommit is the merge that removed it ("" when never removed).
	MergeCommit   string
	MergedAt      time.Time
	RemovedCommit string
}

// Pointer returns the built pointer of the case named name, or nil.
func (b *Built) Pointer(name string) *BuiltPointer {
	for i := range b.Pointers {
		if b.Pointers[i].Case.Name == name {
			return &b.Pointers[i]
		}
	}
	return nil
}

// StatementSigner returns the world's signer as the publisher's
// StatementSigner in an era: the sandbox CA certifies an ephemeral key for
// the identity, and the Rekor v1 log integrates a dsse entry (EraV1), or
// the Rekor v2 log takes a hashedrekord entry and the timestamp authority
// stamps the signature (EraV2).
func (w *World) StatementSigner(era Era) publish.StatementSigner {
	sign := w.signer.Sign
	if era == EraV2 {
		sign = w.signer.SignV2
	}
	return publish.SignerFunc(func(st []byte, id publish.Identity, at time.Time) ([]byte, int64, error) {
		b, info, err := sign(st, ca.Identity{Identity: id.SAN, Issuer: id.Issuer}, at)
		return b, info.LogIndex, err
	})
}

// Build publishes and signs every case, generates the git repository under
// RepoDir from all of them (overlays, CODEOWNERS, allowlist, one merge per
// pointer version in MergedAt order, plus removals), then applies the
// registry effects (deletions, faults). A World holds one repository, so
// Build succeeds at most once.
func (w *World) Build(ctx context.Context, cases []Case) (*Built, error) {
	w.mu.Lock()
	switch {
	case !w.started || w.closed || w.reg == nil:
		w.mu.Unlock()
		return nil, errors.New("build sandbox: world not running (Start it first)")
	case w.repoUsed:
		w.mu.Unlock()
		return nil, errors.New("build sandbox: already built (one repository per world)")
	}
	w.repoUsed = true
	w.mu.Unlock()

	if err := checkCases(cases); err != nil {
		return nil, fmt.Errorf("build sandbox: %w", err)
	}

	out := &Built{Pointers: make([]BuiltPointer, len(cases))}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(w.opts.concurrency)
	for i := range cases {
		g.Go(func() error {
			bp, err := w.publishCase(gctx, cases[i])
			if err != nil {
				return fmt.Errorf("case %s: %w", cases[i].Name, err)
			}
			out.Pointers[i] = *bp
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("build sandbox: %w", err)
	}

	if err := w.generate(out); err != nil {
		return nil, fmt.Errorf("build sandbox: %w", err)
	}

	for i := range out.Pointers {
		c := &out.Pointers[i].Case
		if c.DeleteAfterPublish {
			if err := w.reg.Delete(ctx, c.repository()+"@"+out.Pointers[i].Digest); err != nil {
				return nil, fmt.Errorf("build sandbox: case %s: %w", c.Name, err)
			}
		}
	}
	for i := range out.Pointers {
		if c := &out.Pointers[i].Case; c.Fault != nil {
			w.reg.SetFault(c.repository(), *c.Fault)
		}
	}
	return out, nil
}

// DeleteAudited deletes, by digest, the summary manifest of every case
// with DeleteAfterAudit: call it after an audit verified (and cached) them,
// then audit again. It returns the names of the cases deleted.
func (w *World) DeleteAudited(ctx context.Context, built *Built) ([]string, error) {
	var names []string
	for i := range built.Pointers {
		bp := &built.Pointers[i]
		if !bp.Case.DeleteAfterAudit {
			continue
		}
		if err := w.reg.Delete(ctx, bp.Case.repository()+"@"+bp.Digest); err != nil {
			return names, fmt.Errorf("delete audited %s: %w", bp.Case.Name, err)
		}
		names = append(names, bp.Case.Name)
	}
	return names, nil
}

func checkCases(cases []Case) error {
	names := map[string]bool{}
	faults := map[string]*registry.Fault{}
	seen := map[string]bool{}
	for i := range cases {
		c := &cases[i]
		switch {
		case c.Name == "":
			return fmt.Errorf("case %d: name required", i)
		case names[c.Name]:
			return fmt.Errorf("case %s: duplicate name", c.Name)
		case c.Recipe == "":
			return fmt.Errorf("case %s: recipe required", c.Name)
		case c.SignedAt.IsZero():
			return fmt.Errorf("case %s: SignedAt required", c.Name)
		case !c.RemovedAt.IsZero() && !c.RemovedAt.After(c.mergedAt()):
			return fmt.Errorf("case %s: RemovedAt must be after MergedAt", c.Name)
		case c.Unsigned && c.LegacyCosign:
			return fmt.Errorf("case %s: Unsigned and LegacyCosign exclude each other", c.Name)
		case c.Era != EraV1 && c.Era != EraV2:
			return fmt.Errorf("case %s: unknown era %q", c.Name, c.Era)
		case c.DeleteAfterAudit && (c.DeleteAfterPublish || c.AfterDelete.Verdict == ""):
			return fmt.Errorf("case %s: DeleteAfterAudit needs AfterDelete and excludes DeleteAfterPublish", c.Name)
		case c.Era == EraV2 && c.LegacyCosign:
			return fmt.Errorf("case %s: a legacy cosign attestation is a Rekor v1 entry, not EraV2", c.Name)
		case (c.LegacyTimestamped || c.LegacyUnlogged) && !c.LegacyCosign:
			return fmt.Errorf("case %s: LegacyTimestamped and LegacyUnlogged apply to a LegacyCosign attestation", c.Name)
		case c.LegacyUnlogged && !c.LegacyTimestamped:
			return fmt.Errorf("case %s: an unlogged legacy attestation needs LegacyTimestamped", c.Name)
		case c.LegacyUnlogged && c.WrongLogIndex:
			return fmt.Errorf("case %s: an unlogged attestation has no log index to get wrong", c.Name)
		}
		names[c.Name] = true
		repo := c.repository()
		if f, ok := faults[repo]; seen[repo] && (ok != (c.Fault != nil) || ok && *f != *c.Fault) {
			return fmt.Errorf("case %s: repository %s is shared with a case with another fault; give faulty cases their own repository", c.Name, repo)
		}
		seen[repo] = true
		if c.Fault != nil {
			faults[repo] = c.Fault
		}
	}
	return nil
}

// publishCase builds, publishes and signs one case and renders its pointer.
func (w *World) publishCase(ctx context.Context, c Case) (*BuiltPointer, error) {
	target := publish.Target{Host: w.reg.Host(), Repo: c.repository(), PlainHTTP: true}
	s, err := publish.BuildSummary(publish.SummarySpec{
		Recipe:         c.Recipe,
		Profile:        c.Profile,
		PredicateType:  c.PredicateType,
		AttestedAt:     c.attestedAt(),
		RunID:          c.Name,
		FailedPhases:   c.FailedPhases,
		BreakInventory: c.BreakInventory,
		WrongSubject:   c.WrongSubject,

		PerturbRecipeDigest: c.PerturbRecipeDigest,
		ProfileAdvertiser:   c.ProfileAdvertiser,
		Redacted:            c.Redacted,
	})
	if err != nil {
		return nil, err
	}
	var st publish.StatementSigner
	if !c.Unsigned && !c.LegacyCosign {
		st = w.StatementSigner(c.Era)
	}
	id := publish.Identity{Issuer: c.Signer.Issuer, SAN: c.Signer.Identity}
	p, err := w.pub.Publish(ctx, target, s, st, id, c.SignedAt, publish.AttachAuto)
	if err != nil {
		return nil, err
	}
	bp := &BuiltPointer{Case: c, Digest: s.ManifestDigest, OCI: p.OCIRef, LogIndex: p.LogIndex, Bundle: p.Bundle}

	if c.LegacyCosign {
		var opts []signer.LegacyOption
		if c.LegacyTimestamped {
			opts = append(opts, signer.LegacyTimestamped())
		}
		if c.LegacyUnlogged {
			opts = append(opts, signer.LegacyUnlogged())
		}
		lg, err := w.signer.SignLegacy(s.Statement(target.Repository()), ca.Identity{Identity: c.Signer.Identity, Issuer: c.Signer.Issuer}, c.SignedAt, opts...)
		if err != nil {
			return nil, err
		}
		if _, err := publish.PublishLegacyAttestation(ctx, target, s.ManifestDigest, []publish.LegacyLayer{{
			Envelope:         lg.Envelope,
			PredicateType:    s.Spec.PredicateType,
			Certificate:      string(lg.CertPEM),
			Chain:            string(lg.ChainPEM),
			Bundle:           string(lg.Bundle),
			RFC3161Timestamp: string(lg.RFC3161Timestamp),
		}}); err != nil {
			return nil, err
		}
		bp.LogIndex = lg.Info.LogIndex
	}

	claimed := c.claimed()
	pf := gitrepo.PointerFields{
		Recipe:        c.Recipe,
		Profile:       c.pointerProfile(),
		AttestedAt:    c.attestedAt(),
		OCI:           p.OCIRef,
		Digest:        s.ManifestDigest,
		PredicateType: s.Spec.PredicateType,
		Identity:      claimed.Identity,
		Issuer:        claimed.Issuer,
		Unsigned:      c.Unsigned,
		Denormalized:  c.PointerExtraKeys,
	}
	if !c.Unsigned && !c.OmitLogIndex && !c.LegacyUnlogged {
		idx := bp.LogIndex
		if c.WrongLogIndex {
			// Another entry that exists: a copy-paste slip, not a typo.
			if idx > 0 {
				idx--
			} else {
				idx++
			}
		}
		pf.RekorLogIndex = &idx
		bp.PointerLogIndex = &idx
	}
	bp.Content = gitrepo.PointerYAML(pf)
	if c.Malformed {
		bp.Content = breakYAML(bp.Content)
	}

	switch c.Layout {
	case gitrepo.LayoutFlat:
		bp.Path = gitrepo.FlatPath(c.Recipe)
	case gitrepo.LayoutPerSource, "":
		// An unsigned pointer goes where its intended signer's would.
		under := claimed
		if c.PlaceUnder != nil {
			under = *c.PlaceUnder
		}
		bp.Path = gitrepo.PerSourcePath(c.Recipe, under.Issuer, under.Identity, s.ManifestDigest)
	default:
		return nil, fmt.Errorf("unknown layout %q", c.Layout)
	}
	return bp, nil
}

// breakYAML opens a flow sequence that never closes: a syntax error any
// YAML parser reports, while the file still looks like a pointer.
func breakYAML(y []byte) []byte {
	if b := bytes.Replace(y, []byte("\nrecipe: "), []byte("\nrecipe: ["), 1); !bytes.Equal(b, y) {
		return b
	}
	return append([]byte("recipe: [\n"), y...)
}

// generate writes the repository from every built pointer and records each
// pointer's merge (and removal) commit.
func (w *World) generate(out *Built) error {
	type merge struct {
		pm     gitrepo.PointerMerge
		i      int
		remove bool
	}
	merges := make([]merge, 0, len(out.Pointers)+4)
	for i := range out.Pointers {
		bp := &out.Pointers[i]
		c := &bp.Case
		merges = append(merges, merge{pm: gitrepo.PointerMerge{Path: bp.Path, Content: bp.Content, MergedAt: c.mergedAt()}, i: i})
		if !c.RemovedAt.IsZero() {
			merges = append(merges, merge{pm: gitrepo.PointerMerge{Path: bp.Path, Remove: true, MergedAt: c.RemovedAt}, i: i, remove: true})
		}
	}
	sort.SliceStable(merges, func(a, b int) bool { return merges[a].pm.MergedAt.Before(merges[b].pm.MergedAt) })
	pms := make([]gitrepo.PointerMerge, len(merges))
	for k := range merges {
		pms[k] = merges[k].pm
	}
	recipes, codeowners := overlays(out.Pointers)
	res, err := gitrepo.Generate(w.RepoDir(), gitrepo.Scenario{
		Recipes:    recipes,
		Allowlist:  allowlist(out.Pointers),
		Codeowners: codeowners,
		Pointers:   pms,
	})
	if err != nil {
		return err
	}
	if len(res.Merges) != len(merges) {
		return fmt.Errorf("generate: %d merges, want %d", len(res.Merges), len(merges))
	}
	for k, m := range merges {
		bp := &out.Pointers[m.i]
		if m.remove {
			bp.RemovedCommit = res.Merges[k].Commit
			continue
		}
		bp.MergeCommit, bp.MergedAt = res.Merges[k].Commit, res.Merges[k].At
	}
	out.Repo = res
	return nil
}

// Maintainer handles the world's overlays draw from.
var (
	maintainerUsers = []string{"alice", "bob", "carol", "dave", "erin"}
	maintainerTeams = []string{"nvidia/aicr-recipes", "nvidia/gpu-recipes", "acme/validation"}
)

// overlays derives one overlay per base recipe, rotating through the
// shapes of routing the router must handle (SPEC §2.3): a user with org and
// escalation plus a team; a team-only block (nobody assignable) with a
// CODEOWNERS rule naming a user and a team; no block with a CODEOWNERS
// rule naming a user; and no block with a CODEOWNERS rule naming a team
// only (route codeowners, the team @-mentioned).
func overlays(ps []BuiltPointer) ([]gitrepo.Recipe, string) {
	profiles := map[string]string{}
	for i := range ps {
		c := &ps[i].Case
		base := evidence.BaseRecipe(c.Recipe, c.Profile)
		if _, ok := profiles[base]; !ok {
			profiles[base] = ""
		}
		if base != c.Recipe && profiles[base] == "" {
			profiles[base] = c.Profile
		}
	}
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	var co strings.Builder
	co.WriteString(gitrepo.DefaultCodeowners)
	recipes := make([]gitrepo.Recipe, 0, len(names))
	for i, n := range names {
		r := gitrepo.Recipe{Name: n, Profile: profiles[n]}
		accel, _, _ := strings.Cut(n, "-")
		switch i % 4 {
		case 0:
			r.Maintainers = []gitrepo.Maintainer{
				{Handle: maintainerUsers[i%len(maintainerUsers)], Org: "nvidia", Escalation: accel + "-recipes@nvidia.example"},
				{Handle: maintainerTeams[i%len(maintainerTeams)]},
			}
		case 1:
			r.Maintainers = []gitrepo.Maintainer{{Handle: maintainerTeams[i%len(maintainerTeams)]}}
			fmt.Fprintf(&co, "/%s @%s @nvidia/%s-owners\n", gitrepo.OverlayPath(n), maintainerUsers[(i+1)%len(maintainerUsers)], accel)
		case 2:
			fmt.Fprintf(&co, "/%s @%s\n", gitrepo.OverlayPath(n), maintainerUsers[(i+2)%len(maintainerUsers)])
		default:
			fmt.Fprintf(&co, "/%s @nvidia/%s-owners\n", gitrepo.OverlayPath(n), accel)
		}
		recipes = append(recipes, r)
	}
	return recipes, co.String()
}

// allowlist lists every signer (signing or claimed) with a Class: first-party
// and community signers by source slug, partners by an anchored identity
// pattern over their repository's workflows (SPEC §2.1).
func allowlist(ps []BuiltPointer) []byte {
	seen := map[Identity]bool{}
	lists := map[string][]string{}
	add := func(id Identity) {
		if id.Class == Unlisted || seen[id] {
			return
		}
		seen[id] = true
		var e string
		if id.Class == Partner {
			e = fmt.Sprintf("  - issuer: %s\n    identityPattern: '%s'\n    label: %s\n", id.Issuer, identityPattern(id.Identity), yamlString(id.Identity))
		} else {
			e = fmt.Sprintf("  - issuer: %s\n    source: %s\n    label: %s\n", id.Issuer, evidence.SourceSlug(id.Issuer, id.Identity), yamlString(id.Identity))
		}
		lists[id.Class] = append(lists[id.Class], e)
	}
	for i := range ps {
		c := &ps[i].Case
		add(c.Signer)
		add(c.claimed())
	}
	var b strings.Builder
	b.WriteString("schemaVersion: 1.0.0\n")
	for _, l := range []struct{ key, class string }{{"firstParty", FirstParty}, {"community", Community}, {"partner", Partner}} {
		es := lists[l.class]
		if len(es) == 0 {
			fmt.Fprintf(&b, "%s: []\n", l.key)
			continue
		}
		sort.Strings(es)
		b.WriteString(l.key + ":\n")
		for _, e := range es {
			b.WriteString(e)
		}
	}
	return []byte(b.String())
}

// identityPattern admits every workflow of the identity's GitHub repository
// on any ref; other identities are matched exactly.
func identityPattern(identity string) string {
	if i := strings.Index(identity, "/.github/workflows/"); i > 0 {
		return "^" + regexp.QuoteMeta(identity[:i]) + `/\.github/workflows/[^@]+@refs/.+$`
	}
	return "^" + regexp.QuoteMeta(identity) + "$"
}

// yamlString quotes s as a YAML double-quoted scalar.
func yamlString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

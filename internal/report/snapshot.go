package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// SchemaVersion is the value of the JSON report's schemaVersion. It changes
// only when a field is removed or changes meaning; added fields keep it.
const SchemaVersion = "1"

// Errors Load and Latest return, for cmd to map to exit codes. They wrap
// nothing from the ledger: an unreadable ledger is returned as is.
var (
	// ErrNoRuns: the ledger holds no run at all.
	ErrNoRuns = errors.New("the ledger has no runs")
	// ErrUnknownRun: the run id asked for does not exist.
	ErrUnknownRun = errors.New("no such run")
	// ErrNoCompleteRun: runs exist but none finished complete, so there is
	// no `latest`; an incomplete run can still be asked for by id.
	ErrNoCompleteRun = errors.New("no complete run")
)

// Snapshot is everything a report shows of one run, read from the ledger
// alone. Times are UTC. Its zero slices are empty, never nil, once built by
// Load.
type Snapshot struct {
	Run RunInfo
	// Previous is the complete run Changes compare against; nil when this
	// run is the first complete one.
	Previous *RunRef
	Summary  Summary
	Recipes  []Recipe  // by recipe name
	Pointers []Pointer // by path, then added time, then added commit
	Changes  []Change  // by path, then added commit
	// Archive is the run's archive store and coverage (SPEC §5, §9).
	Archive ArchiveInfo
	// Notes are facts about the snapshot itself a reader should know (the
	// run recorded no inputs, pointers missing from the inventory, ...).
	// Renderers show them; cmd also prints them on stderr.
	Notes []string
}

// RunInfo is the run's metadata (SPEC §5 "run").
type RunInfo struct {
	ID              int64
	StartedAt       time.Time
	FinishedAt      time.Time // zero while unfinished (in progress or killed)
	AsOf            time.Time
	Repo            string
	Ref             string
	Commit          string
	TrustRoot       string // sha256:<hex> of the trusted root
	VerifierVersion string
	Deep            bool
	// LedgerHead is the chain head the run recorded when it finished, or,
	// for an unfinished run, the ledger's chain head when the snapshot was
	// loaded ("sha256:<hex>"; "" for an empty chain) — in both cases as
	// recomputed by Load's verification of the chain. It is "" when the
	// chain does not verify: a stored head cannot be vouched for then.
	LedgerHead string
	// LedgerVerified says the ledger's hash chain verified when the
	// snapshot was loaded (SPEC §6); LedgerProblem says what is broken when
	// it did not. Every renderer shows an unverified ledger first.
	LedgerVerified bool
	LedgerProblem  string
	Finished       bool
	// Complete is true when the run finished and audited every pointer it
	// meant to. An incomplete snapshot is marked as such by every renderer.
	Complete bool
	// Kind is ledger.KindAudit or ledger.KindWhatIf (a `run --as-of`);
	// renderers mark a what-if run as such.
	Kind string
	// Degraded: the run could not decide most pointers (audit.Degraded);
	// renderers say so before anything else, since its recipe statuses are
	// mostly undetermined rather than healthy.
	Degraded bool
	// Anchor is the run's anchor as the ledger records it (SPEC §10); nil
	// when the run has none (unfinished, or finished before anchoring).
	// `ledger verify` and `verify-report` check it; the report only
	// states it.
	Anchor *AnchorInfo
}

// AnchorInfo is a run's anchor as recorded (SPEC §5 "run.anchor").
type AnchorInfo struct {
	// Signed: the anchor carries a signature (by anchor.key, or keyless).
	Signed bool
	// LogIndex is its transparency-log index; -1 when it was not logged.
	LogIndex int64
}

// RunRef names another run.
type RunRef struct {
	ID         int64
	FinishedAt time.Time
}

// Summary counts the run's pointers by verdict and age (SPEC §5 "summary").
// Ages count every pointer, as `run` does; RecipesNeedingRecert counts
// recipes.
type Summary struct {
	Pointers             int
	Verified             int
	VerifiedWithFailures int
	Archived             int
	RekorOnly            int
	Invalid              int
	NoVerdict            int
	Fresh                int // not in the SPEC's JSON; the chart shows it
	Expiring             int
	Expired              int
	RecipesNeedingRecert int
}

// Recipe is one recipe's re-certification status (SPEC §3, §5 "recipes").
type Recipe struct {
	Recipe      string
	NeedsRecert bool
	Reason      string // audit.ReasonExpired, ReasonExpiring, ReasonNoHealthy; "" when fresh
	// Undetermined: no healthy attestation, but some live pointers got
	// no-verdict, so nothing is claimed (SPEC §3).
	Undetermined       bool
	FreshestAttestedAt time.Time // zero when there is no healthy attestation
	FreshestAge        audit.Age
	FreshestPath       string
	LivePointers       int
	Lost               int // live pointers whose bytes the registry no longer serves
	// RoutedVia and Assignees say how the recipe's issues were routed
	// ("maintainers", "codeowners", "default"; SPEC §2.3) and to whom;
	// empty when no issue was filed.
	RoutedVia string
	Assignees []string
	// Issue is the recipe's recert issue as the ledger knows it now (not as
	// of the run); nil when none was filed. LostIssue is its lost issue.
	Issue     *Issue
	LostIssue *Issue
}

// Issue is an issue recorded in the ledger.
type Issue struct {
	Number int    // 0 for the file sink, whose issues have no numbers
	URL    string // the tracker's URL, or the file sink's path
	State  string // open | closed
}

// Label names the issue for people: "#12" on a tracker, the file's name for
// the file sink.
func (is *Issue) Label() string {
	if is.Number > 0 || is.URL == "" {
		return fmt.Sprintf("#%d", is.Number)
	}
	return path.Base(filepath.ToSlash(is.URL))
}

// Pointer is one report row: what the pointer version says about itself
// (audit.Describe of the bytes in the ledger) and the run's result for it.
// Info.AttestedAt is the pointer's unsigned claim; Result.AttestedAt is the
// timestamp the age was measured from.
type Pointer struct {
	Info   audit.PointerInfo
	Result audit.Result
	// Archive is the bundle's state in the auditor's archive.
	Archive PointerArchive
}

// Live reports whether the pointer version is still present at the head the
// ledger last walked.
func (p *Pointer) Live() bool { return p.Info.RemovedCommit == nil }

// Change is a pointer whose verdict differs from the previous complete run.
// From is "" for a pointer the previous run did not audit.
type Change struct {
	Path        string
	AddedCommit string
	From        audit.Verdict
	To          audit.Verdict
}

// Latest picks the run `--run latest` means: the newest finished, complete
// audit run. skipped lists the runs newer than it that are not complete (in
// progress, killed or canceled) or are what-if runs, newest first, so the
// caller can say so.
// It returns ErrNoRuns for an empty ledger and ErrNoCompleteRun when no run
// ever completed.
func Latest(ctx context.Context, db *ledger.DB) (id int64, skipped []ledger.Run, err error) {
	runs, err := db.Runs(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("list runs: %w", err)
	}
	if len(runs) == 0 {
		return 0, nil, ErrNoRuns
	}
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if r.Finished && r.Complete && r.Kind != ledger.KindWhatIf {
			return r.ID, skipped, nil
		}
		skipped = append(skipped, r)
	}
	return 0, skipped, fmt.Errorf("%w: the newest run, %d, is %s (ask for it with --run %d)",
		ErrNoCompleteRun, runs[len(runs)-1].ID, RunState(runs[len(runs)-1]), runs[len(runs)-1].ID)
}

// RunState describes a run's state in a few words: "complete", "unfinished
// (in progress or killed)" or "finished incomplete (canceled)".
func RunState(r ledger.Run) string {
	switch {
	case r.Kind == ledger.KindWhatIf:
		return "a what-if run (--as-of " + r.AsOf.UTC().Format(time.RFC3339) + ")"
	case !r.Finished:
		return "unfinished (in progress or killed)"
	case !r.Complete:
		return "finished incomplete (canceled)"
	default:
		return "complete"
	}
}

// Load builds the snapshot of run runID from the ledger alone. It returns
// ErrNoRuns when the ledger has no run and ErrUnknownRun when runID does
// not exist; other errors mean the ledger could not be read.
func Load(ctx context.Context, db *ledger.DB, runID int64) (*Snapshot, error) {
	run, err := db.Run(ctx, runID)
	if errors.Is(err, ledger.ErrNotFound) {
		runs, lerr := db.Runs(ctx)
		switch {
		case lerr != nil:
			return nil, fmt.Errorf("list runs: %w", lerr)
		case len(runs) == 0:
			return nil, ErrNoRuns
		}
		return nil, fmt.Errorf("%w: %d (the ledger holds runs %d to %d)", ErrUnknownRun, runID, runs[0].ID, runs[len(runs)-1].ID)
	}
	if err != nil {
		return nil, fmt.Errorf("read run %d: %w", runID, err)
	}
	s := &Snapshot{Run: runInfo(run)}
	if err := s.verifyChain(ctx, db, run); err != nil {
		return nil, err
	}
	if !s.Run.Complete {
		s.Notes = append(s.Notes, fmt.Sprintf("run %d is %s: this snapshot shows only what it recorded", run.ID, RunState(run)))
	}

	results, err := db.Results(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("read results of run %d: %w", runID, err)
	}
	versions, err := db.PointerVersions(ctx, run.Repo, run.Ref)
	if err != nil {
		return nil, fmt.Errorf("read pointer versions of %s@%s: %w", run.Repo, run.Ref, err)
	}
	evidenceDir, allow, notes := runInputs(ctx, db, runID)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.Notes = append(s.Notes, notes...)
	s.Pointers = pointers(results, versions, evidenceDir, allow, &s.Notes)
	s.Summary = summarize(s.Pointers)
	s.Run.Degraded = audit.Degraded(s.Summary.Pointers, s.Summary.NoVerdict)
	if err := s.loadArchive(ctx, db, run); err != nil {
		return nil, err
	}

	statuses, err := db.RecipeStatuses(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("read recipe statuses of run %d: %w", runID, err)
	}
	if len(statuses) == 0 && len(results) > 0 {
		live := map[audit.VersionKey]bool{}
		for _, v := range versions {
			if v.RemovedCommit == "" {
				live[v.Key] = true
			}
		}
		statuses = audit.RecipeStatuses(results, live)
		s.Notes = append(s.Notes, fmt.Sprintf("run %d recorded no recipe statuses; they were derived from its results", run.ID))
	}
	if s.Recipes, err = recipes(ctx, db, statuses); err != nil {
		return nil, err
	}
	for _, r := range s.Recipes {
		if r.NeedsRecert {
			s.Summary.RecipesNeedingRecert++
		}
	}

	prev, err := db.PreviousCompleteRun(ctx, runID)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		// The first complete run has nothing to differ from: no changes,
		// rather than every pointer "from null".
		s.Changes = []Change{}
	case err != nil:
		return nil, fmt.Errorf("find the run before %d: %w", runID, err)
	default:
		s.Previous = &RunRef{ID: prev.ID, FinishedAt: prev.FinishedAt.UTC()}
		before, err := db.Results(ctx, prev.ID)
		if err != nil {
			return nil, fmt.Errorf("read results of run %d: %w", prev.ID, err)
		}
		s.Changes = changes(before, results)
	}
	return s, nil
}

// verifyChain recomputes the ledger's hash chain before anything is
// rendered from it (SPEC §6): a report never presents a tampered ledger as
// sound, and the head it prints is one the recomputation vouches for.
func (s *Snapshot) verifyChain(ctx context.Context, db *ledger.DB, run ledger.Run) error {
	rep, err := db.Verify(ctx)
	if err != nil {
		return err
	}
	if !rep.OK {
		b := rep.FirstBad
		s.Run.LedgerHead, s.Run.LedgerVerified = "", false
		s.Run.LedgerProblem = fmt.Sprintf("the ledger's hash chain does not verify — broken at result row seq=%d (run %d): %s", b.Seq, b.RunID, b.Reason)
		return nil
	}
	s.Run.LedgerVerified = true
	if !run.Finished {
		s.Run.LedgerHead = rep.Head // the chain's head now, recomputed
	}
	// A finished run's head is its seal (it covers everything this report
	// is rendered from, and is what its anchor carries), which Verify
	// recomputed; a run finished before seals existed keeps its result
	// chain head, which Verify checked too.
	for _, seal := range rep.Seals {
		if seal.RunID == run.ID {
			s.Run.LedgerHead = seal.Head
		}
	}
	if a, ok, err := db.Anchor(ctx, run.ID); err != nil {
		return err
	} else if ok {
		s.Run.Anchor = &AnchorInfo{Signed: a.Signed(), LogIndex: a.LogIndex}
	}
	return nil
}

// MarkUnverified records that the ledger does not hold up (problem says
// how) although its own chain verified — its anchors, kept outside it,
// disagree (SPEC §10): the document says so first, like a broken chain,
// and vouches for no head.
func (s *Snapshot) MarkUnverified(problem string) {
	s.Run.LedgerVerified, s.Run.LedgerProblem, s.Run.LedgerHead = false, problem, ""
}

func runInfo(r ledger.Run) RunInfo {
	ri := RunInfo{
		ID: r.ID, StartedAt: r.StartedAt.UTC(), AsOf: r.AsOf.UTC(),
		Repo: r.Repo, Ref: r.Ref, Commit: r.Commit, TrustRoot: r.TrustRoot,
		VerifierVersion: r.VerifierVersion, Deep: r.Deep, Kind: r.Kind,
		Finished: r.Finished, Complete: r.Finished && r.Complete,
	}
	if r.Finished {
		ri.FinishedAt = r.FinishedAt.UTC()
		ri.LedgerHead = r.LedgerHead
	}
	return ri
}

// runInputs returns the evidence directory and allowlist the run saw. Runs
// recorded before the ledger kept them fall back to the default directory
// and no allowlist (every signer unlisted), and say so.
func runInputs(ctx context.Context, db *ledger.DB, runID int64) (string, *evidence.Allowlist, []string) {
	in, ok, err := db.RunInputs(ctx, runID)
	switch {
	case err != nil:
		return evidence.DefaultEvidenceDir, nil, []string{fmt.Sprintf("run inputs unreadable (%v): signer classes show as unlisted", err)}
	case !ok:
		return evidence.DefaultEvidenceDir, nil, []string{"the run recorded no inputs (evidence directory, allowlist): signer classes show as unlisted"}
	}
	dir := in.EvidenceDir
	if dir == "" {
		dir = evidence.DefaultEvidenceDir
	}
	if len(in.Allowlist) == 0 {
		return dir, nil, nil
	}
	al, err := evidence.ParseAllowlist(in.Allowlist)
	if err != nil {
		return dir, nil, []string{fmt.Sprintf("the run's allowlist does not parse (%v): signer classes show as unlisted", err)}
	}
	return dir, al, nil
}

// pointers joins each result with the description of its pointer version.
// Describing parses every pointer file (YAML), the bulk of a load, so it
// is spread over the available CPUs; the output is placed by index, so the
// result does not depend on scheduling.
func pointers(results []audit.Result, versions []audit.PointerVersion, dir string, allow *evidence.Allowlist, notes *[]string) []Pointer {
	byKey := make(map[audit.VersionKey]*audit.PointerVersion, len(versions))
	for i := range versions {
		byKey[versions[i].Key] = &versions[i]
	}
	out := make([]Pointer, len(results))
	var missing atomic.Int64
	describe := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r := results[i]
			var info audit.PointerInfo
			if v := byKey[r.Key]; v != nil {
				info, _ = audit.Describe(*v, dir, allow)
			} else {
				// A version the inventory no longer reaches (history
				// rewritten since the run): describe it from the result
				// and its path.
				missing.Add(1)
				loc, _ := evidence.ParsePath(dir, r.Key.Path)
				info = audit.PointerInfo{Path: r.Key.Path, Recipe: r.Recipe, Source: loc.Source, Layout: loc.Layout,
					BundleDigest: r.BundleDigest, AddedCommit: r.Key.AddedCommit, Problems: []audit.Problem{}}
			}
			if info.Recipe == "" {
				info.Recipe = r.Recipe
			}
			if info.Problems == nil {
				info.Problems = []audit.Problem{}
			}
			r.AttestedAt = r.AttestedAt.UTC()
			out[i] = Pointer{Info: info, Result: r}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(results)/256+1)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*len(results)/workers, (w+1)*len(results)/workers
		wg.Go(func() { describe(lo, hi) })
	}
	wg.Wait()
	if n := missing.Load(); n > 0 {
		*notes = append(*notes, fmt.Sprintf("%d pointer versions of this run are no longer in the ledger's inventory (history rewritten); they are described from their results", n))
	}
	slices.SortFunc(out, comparePath)
	return out
}

func comparePath(a, b Pointer) int {
	return cmp.Or(
		strings.Compare(a.Info.Path, b.Info.Path),
		a.Info.AddedAt.Compare(b.Info.AddedAt),
		strings.Compare(a.Info.AddedCommit, b.Info.AddedCommit),
	)
}

func summarize(ps []Pointer) Summary {
	s := Summary{Pointers: len(ps)}
	for i := range ps {
		switch ps[i].Result.Verdict {
		case audit.Verified:
			s.Verified++
		case audit.VerifiedWithFailures:
			s.VerifiedWithFailures++
		case audit.Archived:
			s.Archived++
		case audit.RekorOnly:
			s.RekorOnly++
		case audit.Invalid:
			s.Invalid++
		case audit.NoVerdict:
			s.NoVerdict++
		}
		switch ps[i].Result.Age {
		case audit.AgeFresh:
			s.Fresh++
		case audit.AgeExpiring:
			s.Expiring++
		case audit.AgeExpired:
			s.Expired++
		}
	}
	return s
}

// Issue kinds of SPEC §7.
const (
	kindRecert = "recert"
	kindLost   = "lost"
)

// recipes turns the run's recipe statuses into report rows, with the issues
// and routing the ledger records for each.
func recipes(ctx context.Context, db *ledger.DB, sts []audit.RecipeStatus) ([]Recipe, error) {
	recs, err := db.IssueRecords(ctx)
	if err != nil {
		return nil, fmt.Errorf("read issues: %w", err)
	}
	type key struct{ recipe, kind string }
	issues := make(map[key]*ledger.IssueRecord, len(recs))
	for i := range recs {
		issues[key{recs[i].Recipe, recs[i].Kind}] = &recs[i]
	}
	out := make([]Recipe, 0, len(sts))
	for _, st := range sts {
		r := Recipe{
			Recipe: st.Recipe, NeedsRecert: st.NeedsRecert, Reason: st.Reason, Undetermined: st.Undetermined,
			FreshestAttestedAt: st.FreshestAttestedAt.UTC(), FreshestAge: st.FreshestAge, FreshestPath: st.Freshest.Path,
			LivePointers: st.LivePointers, Lost: len(st.Lost), Assignees: []string{},
		}
		recert, lost := issues[key{st.Recipe, kindRecert}], issues[key{st.Recipe, kindLost}]
		// The route is the recipe's (its overlay, CODEOWNERS, defaults), so
		// a recipe with only a lost issue still shows where it goes.
		for _, rec := range []*ledger.IssueRecord{lost, recert} {
			if rec != nil && rec.RoutedVia != "" {
				r.RoutedVia, r.Assignees = rec.RoutedVia, append([]string{}, rec.Assignees...)
			}
		}
		if recert != nil {
			r.Issue = &Issue{Number: recert.Number, URL: recert.URL, State: recert.State}
		}
		if lost != nil {
			r.LostIssue = &Issue{Number: lost.Number, URL: lost.URL, State: lost.State}
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Recipe) int { return strings.Compare(a.Recipe, b.Recipe) })
	return out, nil
}

// changes lists the pointer versions after audited whose verdict differs
// from before's, matched by version (path and added commit), so an edited
// flat pointer's new bytes are a new version. A version before did not
// audit comes from "" (null in JSON). Versions only before audited (an
// --only run, a rewritten history) are not changes of this run and are
// left out.
func changes(before, after []audit.Result) []Change {
	prev := make(map[audit.VersionKey]audit.Verdict, len(before))
	for _, r := range before {
		prev[r.Key] = r.Verdict
	}
	out := []Change{}
	for _, r := range after {
		from, ok := prev[r.Key]
		if ok && from == r.Verdict {
			continue
		}
		out = append(out, Change{Path: r.Key.Path, AddedCommit: r.Key.AddedCommit, From: from, To: r.Verdict})
	}
	slices.SortFunc(out, func(a, b Change) int {
		return cmp.Or(strings.Compare(a.Path, b.Path), strings.Compare(a.AddedCommit, b.AddedCommit))
	})
	return out
}

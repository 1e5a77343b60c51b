package issues_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/issues"
	"github.com/evidence-auditd/evidence-auditd/internal/issues/githubfake"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

const token = "ghp_TESTTOKEN0123456789abcdefLEAKCHECK"

var (
	asOf   = time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)
	labels = issues.Labels{Recert: "evidence/recert", Lost: "evidence/lost"}
)

// repoFiles is a repository snapshot for routing.
type repoFiles map[string]string

func (r repoFiles) ReadFile(_ context.Context, p string) ([]byte, error) {
	s, ok := r[p]
	if !ok {
		return nil, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	}
	return []byte(s), nil
}

// ptr describes one pointer's result in a run.
type ptr struct {
	recipe  string
	n       int
	verdict audit.Verdict
	class   audit.Class
	age     audit.Age
}

func result(p ptr) audit.Result {
	r := audit.Result{
		Key:          audit.VersionKey{Path: fmt.Sprintf("recipes/evidence/%s/src/sha256-%064x.yaml", p.recipe, p.n), AddedCommit: fmt.Sprintf("%040x", p.n)},
		Recipe:       p.recipe,
		Verdict:      p.verdict,
		Class:        p.class,
		Detail:       fmt.Sprintf("%s %s", p.verdict, p.class),
		VerifiedVia:  audit.ViaOCI,
		BundleDigest: fmt.Sprintf("sha256:%064x", p.n),
		Age:          p.age,
	}
	if p.verdict.Healthy() {
		months := map[audit.Age]int{audit.AgeFresh: 2, audit.AgeExpiring: 23, audit.AgeExpired: 25}[p.age]
		r.AttestedAt, r.AttestedAtSource = asOf.AddDate(0, -months, -p.n), audit.TimeSigned
	}
	if p.verdict == audit.RekorOnly {
		r.VerifiedVia = audit.ViaRekor
	}
	if p.verdict == audit.Archived {
		r.VerifiedVia = audit.ViaArchive
	}
	if p.verdict == audit.NoVerdict {
		r.VerifiedVia = audit.ViaNone
	}
	return r
}

// env is one ledger, one tracker and the clock they share.
type env struct {
	t      *testing.T
	db     *ledger.DB
	files  repoFiles
	fake   *githubfake.Server
	tr     issues.Tracker
	logs   *bytes.Buffer
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
	maxOps int
	// observed lists "kind/action/ok|error" for every operation sent.
	observed []string
}

// IssueOperation implements issues.Observer.
func (e *env) IssueOperation(kind, action string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	e.mu.Lock()
	e.observed = append(e.observed, kind+"/"+action+"/"+outcome)
	e.mu.Unlock()
}

func newEnv(t *testing.T, files repoFiles) *env {
	t.Helper()
	e := &env{t: t, files: files, logs: &bytes.Buffer{}, now: asOf}
	db, err := ledger.Open(context.Background(), filepath.Join(t.TempDir(), "ledger.db"), ledger.WithClock(e.clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.db = db
	return e
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(time.Second)
	return e.now
}

func (e *env) sleep(_ context.Context, d time.Duration) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sleeps = append(e.sleeps, d)
	e.now = e.now.Add(d)
	return nil
}

// withGitHub points the env at a fresh fake GitHub.
func (e *env) withGitHub(assignable ...string) *githubfake.Server {
	e.t.Helper()
	f := githubfake.New("acme", "aicr", token)
	e.t.Cleanup(f.Close)
	f.Now = e.clock
	f.SetAssignable(assignable...)
	e.fake = f
	e.tr = e.newGitHub()
	return f
}

// newGitHub is a new client (as a new process would have).
func (e *env) newGitHub() issues.Tracker {
	e.t.Helper()
	gh, err := issues.NewGitHub("acme", "aicr", config.Secret(token), labels,
		issues.WithAPIURL(e.fake.URL), issues.WithClock(e.clock, e.sleep), issues.WithMaxWait(2*time.Minute))
	if err != nil {
		e.t.Fatal(err)
	}
	return gh
}

// record stores a complete run with the given pointers and returns its id.
func (e *env) record(ps ...ptr) int64 {
	e.t.Helper()
	ctx := context.Background()
	run, err := e.db.BeginRun(ctx, ledger.RunMeta{Repo: "/srv/aicr", Ref: "main", Commit: "c0ffee", AsOf: asOf,
		TrustRoot: "sha256:" + fmt.Sprintf("%064x", 1), VerifierVersion: "test"})
	if err != nil {
		e.t.Fatal(err)
	}
	var rs []audit.Result
	live := map[audit.VersionKey]bool{}
	for _, p := range ps {
		r := result(p)
		if _, err := e.db.AppendResult(ctx, run.ID, r); err != nil {
			e.t.Fatal(err)
		}
		rs = append(rs, r)
		live[r.Key] = true
	}
	if err := e.db.PutRecipeStatuses(ctx, run.ID, audit.RecipeStatuses(rs, live)); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.db.FinishRun(ctx, run.ID, true, time.Time{}); err != nil {
		e.t.Fatal(err)
	}
	return run.ID
}

func (e *env) router() *issues.Router {
	return &issues.Router{Files: e.files, OverlaysDir: "recipes/overlays", DefaultAssignees: []string{"oncall"},
		DefaultTeam: "acme/aicr-maintainers"}
}

// sync plans and applies run's issues.
func (e *env) sync(runID int64) (*issues.Plan, issues.Summary) {
	e.t.Helper()
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	plan, sum, err := issues.Sync(context.Background(), e.db, e.tr, e.router(), issues.SyncOptions{
		RunID: runID, Labels: labels, MaxOps: e.maxOps, Log: log, Observer: e})
	if err != nil {
		e.t.Fatalf("Sync(run %d): %v", runID, err)
	}
	return plan, sum
}

func (e *env) issue(recipe string, kind issues.Kind) ledger.IssueRecord {
	e.t.Helper()
	recs, err := e.db.IssueRecords(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	for _, r := range recs {
		if r.Recipe == recipe && r.Kind == string(kind) {
			return r
		}
	}
	e.t.Fatalf("no issue recorded for %s/%s", recipe, kind)
	return ledger.IssueRecord{}
}

func (e *env) fakeIssue(n int) githubfake.Issue {
	e.t.Helper()
	for _, is := range e.fake.Issues() {
		if is.Number == n {
			return is
		}
	}
	e.t.Fatalf("fake has no issue #%d", n)
	return githubfake.Issue{}
}

package issues_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/issues"
	"github.com/evidence-auditd/evidence-auditd/internal/issues/githubfake"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

const (
	overlayAlice = `spec:
  maintainers:
    - handle: alice
      org: acme
      escalation: gpu-recipes@acme.example
    - handle: acme/gpu-recipes
`
	overlayTeamOnly = `spec:
  maintainers:
    - handle: acme/gpu-recipes
      escalation: gpu-recipes@acme.example
`
	codeowners = `* @fallback-only
recipes/overlays/ @acme/overlay-team
recipes/overlays/co-*.yaml @carol @acme/co-team
recipes/overlays/ghost-*.yaml @ghost owners@acme.example
`
)

func routingRepo() repoFiles {
	return repoFiles{
		"recipes/overlays/maint.yaml":    overlayAlice,
		"recipes/overlays/team.yaml":     overlayTeamOnly,
		"recipes/overlays/co-plain.yaml": "spec: {}\n",
		// A profiled recipe routes through its base overlay.
		"recipes/overlays/base.yaml": overlayAlice,
		".github/CODEOWNERS":         codeowners,
		"CODEOWNERS":                 "* @ignored-root-file\n", // GitHub uses .github/ first
	}
}

func TestRoutes(t *testing.T) {
	ctx := context.Background()
	files := routingRepo()
	files["recipes/overlays/team.yaml"] = strings.Replace(overlayTeamOnly, "", "", 1)
	r := &issues.Router{Files: files, OverlaysDir: "recipes/overlays", DefaultAssignees: []string{"oncall", "ghost"},
		DefaultTeam: "acme/aicr-maintainers", Profiles: map[string]string{"base-gpustack-bundle-installer": "gpuStack=bundle-installer"},
		Assignable: func(_ context.Context, u string) (bool, error) { return u != "ghost" && u != "fallback-only", nil }}
	tests := []struct {
		recipe        string
		via           string
		assignees     string
		mentions      string
		contacts      string
		skippedPrefix []string
	}{
		{"maint", issues.ViaMaintainers, "alice", "@acme/gpu-recipes", "gpu-recipes@acme.example (escalation for @alice, acme)", nil},
		{"base-gpustack-bundle-installer", issues.ViaMaintainers, "alice", "@acme/gpu-recipes", "gpu-recipes@acme.example (escalation for @alice, acme)", nil},
		{"co-plain", issues.ViaCodeowners, "carol", "@acme/co-team", "", []string{"maintainers: recipes/overlays/co-plain.yaml has no spec.maintainers block"}},
		// Team-only maintainers block: falls back (SPEC §2.3); the
		// CODEOWNERS rule for the overlay names a team, which is the
		// codeowners route — the team is @-mentioned, nobody assigned —
		// not the defaults (issue 11).
		{"team", issues.ViaCodeowners, "", "@acme/gpu-recipes,@acme/overlay-team", "gpu-recipes@acme.example (escalation for @acme/gpu-recipes)",
			[]string{"maintainers: recipes/overlays/team.yaml spec.maintainers names nobody assignable (@acme/gpu-recipes is a team)"}},
		// A rule naming only a user the tracker cannot assign and an e-mail
		// address reaches nobody on the tracker: the defaults apply, and
		// the rule's owners are still named.
		{"ghost-recipe", issues.ViaDefault, "oncall", "@ghost,@acme/aicr-maintainers", "owners@acme.example (CODEOWNERS)",
			[]string{"maintainers: there is no overlay recipes/overlays/ghost-recipe.yaml",
				"codeowners: .github/CODEOWNERS line 4 names nobody the tracker can reach (owners@acme.example is an e-mail address; @ghost is not assignable)"}},
	}
	for _, tc := range tests {
		t.Run(tc.recipe, func(t *testing.T) {
			rt, err := r.Route(ctx, tc.recipe)
			if err != nil {
				t.Fatal(err)
			}
			if rt.Via != tc.via || strings.Join(rt.Assignees, ",") != tc.assignees || strings.Join(rt.Mentions, ",") != tc.mentions ||
				strings.Join(rt.Contacts, ";") != tc.contacts {
				t.Errorf("Route(%s) = %+v; want via %s, assignees %s, mentions %s, contacts %s", tc.recipe, rt, tc.via, tc.assignees, tc.mentions, tc.contacts)
			}
			if got := strings.Join(rt.Skipped, "\n"); got != strings.Join(tc.skippedPrefix, "\n") {
				t.Errorf("Route(%s).Skipped =\n%s\nwant\n%s", tc.recipe, got, strings.Join(tc.skippedPrefix, "\n"))
			}
		})
	}

	t.Run("default when nothing matches", func(t *testing.T) {
		r := &issues.Router{Files: repoFiles{}, OverlaysDir: "recipes/overlays", DefaultAssignees: []string{"oncall"},
			Assignable: func(context.Context, string) (bool, error) { return true, nil }}
		rt, err := r.Route(ctx, "nobody")
		if err != nil {
			t.Fatal(err)
		}
		if rt.Via != issues.ViaDefault || strings.Join(rt.Assignees, ",") != "oncall" || len(rt.Skipped) != 2 {
			t.Errorf("Route = %+v, want default to oncall with two skipped routes", rt)
		}
	})
}

// TestGitHubRoutes files one issue per route through go-github and checks
// assignees (only assignable users) and the route named in the body.
func TestGitHubRoutes(t *testing.T) {
	e := newEnv(t, routingRepo())
	f := e.withGitHub("alice", "carol", "oncall") // the team members are not assignable
	run := e.record(
		ptr{"maint", 1, audit.Verified, "", audit.AgeExpired},
		ptr{"co-plain", 2, audit.Verified, "", audit.AgeExpiring},
		ptr{"team", 3, audit.Verified, "", audit.AgeExpired},
		ptr{"nowhere", 4, audit.Invalid, audit.ClassSignature, ""},
	)
	_, sum := e.sync(run)
	if sum.Sent != 4 || sum.Failed != 0 {
		t.Fatalf("summary = %s, want 4 sent", sum)
	}
	want := map[string]struct{ via, assignee, inBody string }{
		"maint":    {issues.ViaMaintainers, "alice", "Routed via **maintainers** (recipes/overlays/maint.yaml spec.maintainers)"},
		"co-plain": {issues.ViaCodeowners, "carol", "Routed via **codeowners** (.github/CODEOWNERS line 3)"},
		"team":     {issues.ViaCodeowners, "", "Routed via **codeowners** (.github/CODEOWNERS line 2)"},
		"nowhere":  {issues.ViaCodeowners, "", "there is no overlay recipes/overlays/nowhere.yaml"},
	}
	for recipe, w := range want {
		rec := e.issue(recipe, issues.KindRecert)
		is := e.fakeIssue(rec.Number)
		if rec.RoutedVia != w.via || strings.Join(is.Assignees, ",") != w.assignee || !strings.Contains(is.Body, w.inBody) {
			t.Errorf("%s: routed %s, assignees %v, body\n%s\nwant %s, %s, body containing %q", recipe, rec.RoutedVia, is.Assignees, is.Body, w.via, w.assignee, w.inBody)
		}
		if !strings.Contains(is.Body, issues.Marker(issues.KindRecert, recipe)) {
			t.Errorf("%s: body lacks marker", recipe)
		}
	}
	if got := strings.Join(f.Labels(), ","); got != "evidence/recert" {
		t.Errorf("labels = %s, want evidence/recert created", got)
	}
	if is := e.fakeIssue(e.issue("team", issues.KindRecert).Number); !strings.Contains(is.Body, "gpu-recipes@acme.example") {
		t.Errorf("team issue does not name the escalation contact:\n%s", is.Body)
	}
}

func TestEscalationAndRecovery(t *testing.T) {
	e := newEnv(t, routingRepo())
	f := e.withGitHub("alice")
	e.sync(e.record(ptr{"maint", 1, audit.Verified, "", audit.AgeExpiring}))
	first := e.issue("maint", issues.KindRecert)
	if first.Condition != audit.ReasonExpiring || first.State != "open" {
		t.Fatalf("after run 1: %+v", first)
	}
	if got := strings.Join(e.observed, ","); got != "recert/open/ok" {
		t.Errorf("observed operations = %q, want recert/open/ok", got)
	}

	// Second run, no change: zero write calls.
	writes := f.Writes()
	_, sum := e.sync(e.record(ptr{"maint", 1, audit.Verified, "", audit.AgeExpiring}))
	if f.Writes() != writes || sum.Planned != 0 || sum.Current != 1 {
		t.Fatalf("unchanged run: %d write calls, summary %s; want 0 writes, 1 current", f.Writes()-writes, sum)
	}

	// Expiring → expired: same issue, new body, a comment.
	_, sum = e.sync(e.record(ptr{"maint", 1, audit.Verified, "", audit.AgeExpired}))
	second := e.issue("maint", issues.KindRecert)
	is := e.fakeIssue(second.Number)
	if sum.Sent != 1 || second.Number != first.Number || second.Condition != audit.ReasonExpired ||
		!strings.Contains(is.Body, "**State: expired.**") || len(is.Comments) != 1 || !strings.Contains(is.Comments[0], "**expiring** → **expired**") {
		t.Fatalf("escalation: summary %s, record %+v, issue %+v", sum, second, is)
	}
	if len(f.Issues()) != 1 {
		t.Fatalf("%d issues, want 1", len(f.Issues()))
	}

	// A fresh attestation lands: closed with a comment naming it.
	_, sum = e.sync(e.record(ptr{"maint", 1, audit.Verified, "", audit.AgeExpired}, ptr{"maint", 9, audit.Verified, "", audit.AgeFresh}))
	is = e.fakeIssue(second.Number)
	if sum.Sent != 1 || is.State != "closed" || e.issue("maint", issues.KindRecert).State != "closed" {
		t.Fatalf("recovery: summary %s, issue %+v", sum, is)
	}
	last := is.Comments[len(is.Comments)-1]
	if !strings.Contains(last, "recipes/evidence/maint/src/sha256-"+strings.Repeat("0", 63)+"9.yaml") {
		t.Errorf("close comment does not name the fresh attestation: %s", last)
	}

	// It needs re-certification again: the auditor's own closed issue is reopened.
	_, sum = e.sync(e.record(ptr{"maint", 9, audit.Verified, "", audit.AgeExpiring}))
	if is = e.fakeIssue(second.Number); is.State != "open" || len(f.Issues()) != 1 || sum.Sent != 1 {
		t.Fatalf("recurrence: summary %s, issues %+v", sum, f.Issues())
	}
}

func TestHumanClosedIssue(t *testing.T) {
	e := newEnv(t, routingRepo())
	f := e.withGitHub("alice")
	e.sync(e.record(ptr{"maint", 1, audit.Verified, "", audit.AgeExpired}, ptr{"maint", 2, audit.RekorOnly, "", ""}))
	n := e.issue("maint", issues.KindRecert).Number
	f.Human(n, "", "closed")

	// Same state, details changed (a second pointer lost): the closed recert
	// issue stays closed; nothing is written to it.
	before := len(e.fakeIssue(n).Comments)
	e.sync(e.record(ptr{"maint", 1, audit.Verified, "", audit.AgeExpired}, ptr{"maint", 2, audit.RekorOnly, "", ""}, ptr{"maint", 3, audit.Invalid, audit.ClassSignature, ""}))
	if is := e.fakeIssue(n); is.State != "closed" || len(is.Comments) != before {
		t.Fatalf("human-closed issue touched in the same state: %+v", is)
	}
	if rec := e.issue("maint", issues.KindRecert); rec.State != "closed" {
		t.Fatalf("ledger still thinks the issue is open: %+v", rec)
	}
	// Worse: no healthy attestation left → reopened with a comment.
	e.sync(e.record(ptr{"maint", 1, audit.Invalid, audit.ClassIdentity, ""}, ptr{"maint", 2, audit.RekorOnly, "", ""}))
	is := e.fakeIssue(n)
	if is.State != "open" || len(is.Comments) != before+1 || !strings.Contains(is.Comments[before], "worse") {
		t.Fatalf("worse state did not reopen: %+v", is)
	}
	if len(f.Issues()) != 2 { // recert + lost
		t.Fatalf("%d issues, want 2", len(f.Issues()))
	}
}

func TestRenamedIssueNotDuplicated(t *testing.T) {
	e := newEnv(t, routingRepo())
	f := e.withGitHub("alice")
	e.sync(e.record(ptr{"maint", 1, audit.Verified, "", audit.AgeExpiring}))
	n := e.issue("maint", issues.KindRecert).Number
	f.Human(n, "GPU recipe needs a refresh (renamed by a human)", "")

	e.sync(e.record(ptr{"maint", 1, audit.Verified, "", audit.AgeExpired}))
	if len(f.Issues()) != 1 {
		t.Fatalf("%d issues after a rename, want 1", len(f.Issues()))
	}
	if is := e.fakeIssue(n); is.Title != "GPU recipe needs a refresh (renamed by a human)" || !strings.Contains(is.Body, "expired") {
		t.Fatalf("renamed issue = %+v; want title kept, body updated", is)
	}

	// A ledger that lost its issue map still finds the issue by marker.
	e2 := newEnv(t, routingRepo())
	e2.fake, e2.tr = f, e.tr
	_, sum := e2.sync(e2.record(ptr{"maint", 1, audit.Verified, "", audit.AgeExpired}))
	if len(f.Issues()) != 1 || e2.issue("maint", issues.KindRecert).Number != n || sum.Sent != 1 {
		t.Fatalf("fresh ledger: %d issues, summary %s", len(f.Issues()), sum)
	}
}

func TestRateLimitMidPlan(t *testing.T) {
	e := newEnv(t, routingRepo())
	f := e.withGitHub("alice", "oncall")
	run := e.record(
		ptr{"a", 1, audit.Verified, "", audit.AgeExpired},
		ptr{"b", 2, audit.Verified, "", audit.AgeExpired},
		ptr{"c", 3, audit.Verified, "", audit.AgeExpired},
	)
	// The second create hits the primary rate limit, reset in an hour: longer
	// than the client may wait.
	f.Inject(githubfake.Fault{Method: "POST", PathPrefix: "/repos/acme/aicr/issues", After: 1, Count: -1, Status: 403,
		Primary: true, Reset: asOf.Add(time.Hour)})
	_, sum := e.sync(run)
	if sum.Sent != 1 || sum.Failed != 1 || sum.Deferred != 1 || !strings.Contains(sum.Stopped, "rate limited") {
		t.Fatalf("summary = %s; want 1 sent, 1 failed, 1 deferred, rate limited", sum)
	}
	unsent, err := e.db.UnsentIssueOps(context.Background())
	if err != nil || len(unsent) != 1 || unsent[0].Recipe != "b" || unsent[0].State != ledger.OpFailed || unsent[0].Error == "" {
		t.Fatalf("unsent ops = %+v, %v; want b failed with an error", unsent, err)
	}

	// The limit lifts; the next run (a new process) does the rest, once.
	f.ClearFaults()
	e.tr = e.newGitHub()
	_, sum = e.sync(run)
	if sum.Sent != 2 || len(f.Issues()) != 3 {
		t.Fatalf("next run: summary %s, %d issues; want 2 sent, 3 issues", sum, len(f.Issues()))
	}
	if unsent, _ := e.db.UnsentIssueOps(context.Background()); len(unsent) != 0 {
		t.Fatalf("unsent ops after recovery = %+v", unsent)
	}
	seen := map[string]bool{}
	for _, is := range f.Issues() {
		k, r, _ := issues.ParseMarker(is.Body)
		if seen[string(k)+r] {
			t.Fatalf("duplicate issue for %s/%s", k, r)
		}
		seen[string(k)+r] = true
	}
}

func TestRateLimitWaitsWhenShort(t *testing.T) {
	e := newEnv(t, routingRepo())
	f := e.withGitHub("alice")
	// Secondary limit with Retry-After, then a 429, then two 5xx on reads: all
	// waited out (on the fake clock) within the run.
	f.Inject(githubfake.Fault{Method: "POST", PathPrefix: "/repos/acme/aicr/issues", Count: 1, Status: 403, Secondary: true, RetryAfter: 30 * time.Second})
	f.Inject(githubfake.Fault{Method: "GET", PathPrefix: "/search/issues", Count: 1, Status: 429, RetryAfter: 5 * time.Second})
	f.Inject(githubfake.Fault{Method: "GET", PathPrefix: "/repos/acme/aicr/assignees/", Count: 2, Status: 502})
	start := time.Now()
	_, sum := e.sync(e.record(ptr{"maint", 1, audit.Verified, "", audit.AgeExpired}))
	if sum.Sent != 1 || len(f.Issues()) != 1 {
		t.Fatalf("summary = %s, %d issues", sum, len(f.Issues()))
	}
	if len(e.sleeps) != 4 {
		t.Errorf("sleeps = %v, want 4 (2 backoffs, 5 s, 30 s)", e.sleeps)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the test slept for real")
	}
}

// crashAfterCreate sends the create and then dies before anything is recorded.
type crashAfterCreate struct{ issues.Tracker }

func (c crashAfterCreate) Create(ctx context.Context, k issues.Kind, recipe string, d issues.Draft) (issues.Ref, error) {
	c.Tracker.Create(ctx, k, recipe, d)
	runtime.Goexit()
	return issues.Ref{}, nil
}

func TestCrashBetweenSendAndRecord(t *testing.T) {
	e := newEnv(t, routingRepo())
	f := e.withGitHub("alice")
	run := e.record(ptr{"maint", 1, audit.Verified, "", audit.AgeExpired})
	real := e.tr
	e.tr = crashAfterCreate{real}
	done := make(chan struct{})
	go func() { defer close(done); e.sync(run) }()
	<-done
	if len(f.Issues()) != 1 {
		t.Fatalf("%d issues after the crash, want 1", len(f.Issues()))
	}
	unsent, _ := e.db.UnsentIssueOps(context.Background())
	if len(unsent) != 1 || unsent[0].State != ledger.OpPending || unsent[0].Action != "open" {
		t.Fatalf("journal after crash = %+v; want one pending open", unsent)
	}

	e.tr = e.newGitHub()
	_, sum := e.sync(run)
	if len(f.Issues()) != 1 || sum.Sent != 1 || e.issue("maint", issues.KindRecert).Number != 1 {
		t.Fatalf("after restart: %d issues, summary %s; want the one issue adopted", len(f.Issues()), sum)
	}
	if unsent, _ := e.db.UnsentIssueOps(context.Background()); len(unsent) != 0 {
		t.Fatalf("journal still owes %+v", unsent)
	}
}

func TestMaxPerRun(t *testing.T) {
	e := newEnv(t, routingRepo())
	f := e.withGitHub("oncall")
	e.maxOps = 2
	run := e.record(ptr{"a", 1, audit.Verified, "", audit.AgeExpired}, ptr{"b", 2, audit.RekorOnly, "", ""}, ptr{"c", 3, audit.Verified, "", audit.AgeExpiring})
	_, sum := e.sync(run)
	// a: recert; b: recert (no healthy) + lost; c: recert → 4 operations.
	if sum.Planned != 4 || sum.Sent != 2 || sum.Deferred != 2 || !strings.Contains(sum.Stopped, "maxPerRun") {
		t.Fatalf("summary = %s", sum)
	}
	e.sync(run)
	if len(f.Issues()) != 4 {
		t.Fatalf("%d issues after two runs, want 4", len(f.Issues()))
	}
}

func TestNoVerdictPlansNothing(t *testing.T) {
	e := newEnv(t, routingRepo())
	f := e.withGitHub("alice")
	e.sync(e.record(ptr{"maint", 1, audit.RekorOnly, "", ""}, ptr{"maint", 2, audit.Verified, "", audit.AgeExpiring}))
	if len(f.Issues()) != 2 {
		t.Fatalf("%d issues, want recert + lost", len(f.Issues()))
	}
	w := f.Writes()
	// Registry unreachable this run: everything no-verdict. No close, no update.
	plan, _ := e.sync(e.record(ptr{"maint", 1, audit.NoVerdict, audit.ClassTransient, ""}, ptr{"maint", 2, audit.NoVerdict, audit.ClassTransient, ""}))
	if len(plan.Ops) != 0 || f.Writes() != w {
		var b bytes.Buffer
		plan.Print(&b)
		t.Fatalf("no-verdict run planned:\n%s", b.String())
	}
	// A recipe seen for the first time with only no-verdict: nothing.
	plan, _ = e.sync(e.record(ptr{"fresh-recipe", 7, audit.NoVerdict, audit.ClassTransient, ""}))
	if len(plan.Ops) != 0 {
		t.Fatalf("planned %d ops from no-verdict alone", len(plan.Ops))
	}
}

func TestTokenNeverLeaks(t *testing.T) {
	e := newEnv(t, routingRepo())
	f := e.withGitHub("alice")
	// A server that echoes the token in an error message.
	f.Inject(githubfake.Fault{Method: "POST", PathPrefix: "/repos/acme/aicr/issues", Count: -1, Status: 422, Message: "bad request from " + token})
	run := e.record(ptr{"maint", 1, audit.Verified, "", audit.AgeExpired})
	plan, sum := e.sync(run)
	if sum.Failed != 1 {
		t.Fatalf("summary = %s, want the op failed", sum)
	}
	f.ClearFaults()
	e.sync(run)
	var out bytes.Buffer
	out.Write(e.logs.Bytes())
	plan.Print(&out)
	out.WriteString(sum.String())
	if err := e.db.Export(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	for _, is := range f.Issues() {
		out.WriteString(is.Title + is.Body + strings.Join(is.Comments, ""))
	}
	for _, p := range []string{e.db.Path(), e.db.Path() + "-wal"} {
		if data, err := os.ReadFile(p); err == nil {
			out.Write(data)
		}
	}
	if !strings.Contains(e.logs.String(), "[redacted]") {
		t.Errorf("the echoed token was not redacted in the log: %s", e.logs.String())
	}
	if strings.Contains(out.String(), token) || strings.Contains(out.String(), "TESTTOKEN") {
		t.Fatal("the token appears in an output")
	}
	// The fake saw it only in the Authorization header.
	for _, b := range f.Received() {
		if strings.Contains(b, token) {
			t.Fatal("the token was sent in a request body")
		}
	}
}

func TestFileSink(t *testing.T) {
	e := newEnv(t, routingRepo())
	dir := filepath.Join(t.TempDir(), "issues")
	e.tr = &issues.FileSink{Dir: dir}
	run := e.record(
		ptr{"maint", 1, audit.Verified, "", audit.AgeExpired},                                                 // recert
		ptr{"lost-only", 2, audit.RekorOnly, "", ""}, ptr{"lost-only", 3, audit.Verified, "", audit.AgeFresh}, // lost
		ptr{"both", 4, audit.Invalid, audit.ClassNotFound, ""},       // recert + lost
		ptr{"healthy", 5, audit.Verified, "", audit.AgeFresh},        // nothing
		ptr{"unknown", 6, audit.NoVerdict, audit.ClassTransient, ""}, // nothing
	)
	e.sync(run)
	got := listDir(t, dir)
	want := []string{"lost-both.md", "lost-lost-only.md", "recert-both.md", "recert-maint.md"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("files = %v, want %v", got, want)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "recert-maint.md"))
	for _, s := range []string{"# Re-certify recipe maint", "- Labels: evidence/recert", "- Assignees: @alice",
		"- Route: maintainers (recipes/overlays/maint.yaml spec.maintainers)", issues.Marker(issues.KindRecert, "maint")} {
		if !strings.Contains(string(data), s) {
			t.Errorf("recert-maint.md lacks %q:\n%s", s, data)
		}
	}
	// Same run again: nothing to do; files unchanged.
	if plan, _ := e.sync(run); len(plan.Ops) != 0 {
		t.Fatalf("second sync planned %d ops", len(plan.Ops))
	}
	// maint recovers: its file is removed, the record stays in the ledger.
	e.sync(e.record(ptr{"maint", 9, audit.Verified, "", audit.AgeFresh},
		ptr{"lost-only", 2, audit.RekorOnly, "", ""}, ptr{"lost-only", 3, audit.Verified, "", audit.AgeFresh},
		ptr{"both", 4, audit.Invalid, audit.ClassNotFound, ""}))
	got = listDir(t, dir)
	if strings.Join(got, ",") != "lost-both.md,lost-lost-only.md,recert-both.md" {
		t.Fatalf("files after recovery = %v", got)
	}
	if rec := e.issue("maint", issues.KindRecert); rec.State != "closed" {
		t.Fatalf("record after recovery = %+v", rec)
	}
}

func TestDryRunPlanIsDeterministic(t *testing.T) {
	e := newEnv(t, routingRepo())
	f := e.withGitHub("alice", "oncall", "carol")
	run := e.record(ptr{"maint", 1, audit.Verified, "", audit.AgeExpired}, ptr{"co-plain", 2, audit.RekorOnly, "", ""},
		ptr{"team", 3, audit.Verified, "", audit.AgeExpiring})
	var outs []string
	for i := 0; i < 2; i++ {
		plan, sum, err := issues.Sync(context.Background(), e.db, e.tr, e.router(), issues.SyncOptions{RunID: run, Labels: labels, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		plan.Print(&b)
		outs = append(outs, b.String())
		if sum.Sent != 0 || sum.Deferred != len(plan.Ops) {
			t.Fatalf("dry run summary = %s", sum)
		}
	}
	if outs[0] != outs[1] {
		t.Fatalf("plans differ:\n%s\n%s", outs[0], outs[1])
	}
	if f.Writes() != 0 {
		t.Fatalf("dry run made %d write calls", f.Writes())
	}
	for _, s := range []string{"open   recert co-plain", "open   lost   co-plain", "open   recert maint", "via maintainers"} {
		if !strings.Contains(outs[0], s) {
			t.Errorf("plan lacks %q:\n%s", s, outs[0])
		}
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// TestTokenStaysOnTheAPIHost: an API that redirects to another host must
// not hand that host the token (SPEC §7); the configured host gets it.
func TestTokenStaysOnTheAPIHost(t *testing.T) {
	var elsewhere []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere = append(elsewhere, r.Header.Get("Authorization"))
		http.NotFound(w, r)
	}))
	defer other.Close()
	var atAPI []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		atAPI = append(atAPI, r.Header.Get("Authorization"))
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer api.Close()

	gh, err := issues.NewGitHub("acme", "aicr", config.Secret(token), labels, issues.WithAPIURL(api.URL))
	if err != nil {
		t.Fatal(err)
	}
	_, _, _ = gh.Get(context.Background(), issues.Ref{Number: 1})
	if len(atAPI) == 0 || atAPI[0] != "Bearer "+token {
		t.Fatalf("the API host received Authorization %q, want the token", atAPI)
	}
	if len(elsewhere) == 0 {
		t.Fatal("the redirect was not followed; the test proves nothing")
	}
	for _, h := range elsewhere {
		if h != "" {
			t.Fatalf("the redirect target received Authorization %q", h)
		}
	}
}

package issues

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/escape"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// Action is what an operation does to an issue.
type Action string

// Actions, in the order a plan applies them.
const (
	ActionOpen   Action = "open"   // no issue known: find by marker, else create
	ActionReopen Action = "reopen" // closed issue, worse state (or recurred after recovery)
	ActionUpdate Action = "update" // open issue, new findings or route; comment when the state changed
	ActionClose  Action = "close"  // the recipe recovered; comment naming the fresh attestation
)

var actionOrder = map[Action]int{ActionOpen: 0, ActionReopen: 1, ActionUpdate: 2, ActionClose: 3}

// Labels are the labels of each kind (config issues.labels).
type Labels struct {
	Recert string
	Lost   string
}

// Of returns kind's label.
func (l Labels) Of(k Kind) string {
	if k == KindLost {
		return l.Lost
	}
	return l.Recert
}

// Op is one planned issue operation.
type Op struct {
	ID     string // idempotency key: the same transition from the same recorded state
	Action Action
	Kind   Kind
	Recipe string
	// Prior is the ledger's record of the issue; nil for an open with none.
	Prior     *ledger.IssueRecord
	Draft     Draft  // open, reopen, update
	Route     Route  // open, reopen, update
	Condition string // what the issue reports after the op ("" after close)
	// Worse is true when Condition is a worse state than Prior's: a human
	// closing the issue does not stop a worse state from reopening it.
	Worse   bool
	Comment string // posted with the op; "" for none
	Why     string // one line for plans and logs
}

// Plan is the operations that bring the tracker in line with one run.
type Plan struct {
	RunID int64
	Ops   []Op
	// Current counts issues that need nothing (open and up to date, or
	// closed by a human in the same or a better state).
	Current int
}

// PlanInput is what a plan is computed from.
type PlanInput struct {
	RunID    int64
	Statuses []audit.RecipeStatus // the run's recipe statuses
	Results  []audit.Result       // the run's results, for details
	Records  []ledger.IssueRecord // the ledger's issue map
	Labels   Labels
	// Route decides the route of a recipe (Router.Route).
	Route func(ctx context.Context, recipe string) (Route, error)
}

// finding is what one (recipe, kind) needs, if anything.
type finding struct {
	kind      Kind
	recipe    string
	want      bool   // an issue should be open
	healthy   bool   // known healthy: an open issue may be closed
	condition string // when want
	status    audit.RecipeStatus
	lost      []lostPointer
}

// undetermined reports whether some pointer listed lost got no verdict.
func (f finding) undetermined() bool {
	for _, l := range f.lost {
		if !l.current {
			return true
		}
	}
	return false
}

type lostPointer struct {
	key     audit.VersionKey
	result  audit.Result
	current bool // false: no verdict this run, listed from the last report
}

var recertSeverity = map[string]int{audit.ReasonExpiring: 1, audit.ReasonExpired: 2, audit.ReasonNoHealthy: 3}

// worse reports whether condition now is a worse state of kind than before.
func worse(kind Kind, before, now string) bool {
	if before == "" {
		return now != ""
	}
	if kind == KindRecert {
		return recertSeverity[now] > recertSeverity[before]
	}
	old := map[string]bool{}
	for _, k := range strings.Split(before, "\n") {
		old[k] = true
	}
	for _, k := range strings.Split(now, "\n") {
		if k != "" && !old[k] {
			return true
		}
	}
	return false
}

// BuildPlan computes the operations for a run. It is deterministic for the
// same inputs and the same answers from Route; operations are ordered by
// action (open, reopen, update, close), then recipe, then kind.
func BuildPlan(ctx context.Context, in PlanInput) (*Plan, error) {
	records := map[string]*ledger.IssueRecord{}
	for i := range in.Records {
		r := &in.Records[i]
		records[r.Kind+"\x00"+r.Recipe] = r
	}
	byKey := map[audit.VersionKey]audit.Result{}
	for _, r := range in.Results {
		byKey[r.Key] = r
	}
	plan := &Plan{RunID: in.RunID}
	routes := map[string]Route{}
	route := func(recipe string) (Route, error) {
		if rt, ok := routes[recipe]; ok {
			return rt, nil
		}
		rt, err := in.Route(ctx, recipe)
		if err != nil {
			return Route{}, fmt.Errorf("route %s: %w", recipe, err)
		}
		routes[recipe] = rt
		return rt, nil
	}
	statuses := append([]audit.RecipeStatus(nil), in.Statuses...)
	sort.Slice(statuses, func(i, j int) bool { return statuses[i].Recipe < statuses[j].Recipe })
	for _, st := range statuses {
		for _, kind := range Kinds {
			prior := records[string(kind)+"\x00"+st.Recipe]
			f := findingOf(kind, st, prior, byKey)
			op, err := planOne(f, prior, in.Labels, byKey, route)
			if err != nil {
				return nil, err
			}
			switch {
			case op != nil:
				plan.Ops = append(plan.Ops, *op)
			case prior != nil && f.want:
				plan.Current++
			}
		}
	}
	sort.SliceStable(plan.Ops, func(i, j int) bool {
		a, b := plan.Ops[i], plan.Ops[j]
		if actionOrder[a.Action] != actionOrder[b.Action] {
			return actionOrder[a.Action] < actionOrder[b.Action]
		}
		if a.Recipe != b.Recipe {
			return a.Recipe < b.Recipe
		}
		return a.Kind < b.Kind
	})
	return plan, nil
}

func findingOf(kind Kind, st audit.RecipeStatus, prior *ledger.IssueRecord, byKey map[audit.VersionKey]audit.Result) finding {
	f := finding{kind: kind, recipe: st.Recipe, status: st}
	if kind == KindRecert {
		switch {
		case st.Undetermined:
			// SPEC §3: no-verdict is never a finding, nor a recovery.
		case st.NeedsRecert:
			f.want, f.condition = true, st.Reason
		case st.Freshest != (audit.VersionKey{}):
			f.healthy = true
		}
		return f
	}
	seen := map[audit.VersionKey]bool{}
	for _, k := range st.Lost {
		seen[k] = true
		f.lost = append(f.lost, lostPointer{key: k, result: byKey[k], current: true})
	}
	if prior != nil && prior.Condition != "" {
		// A pointer reported lost that got no verdict this run stays listed:
		// not being able to ask the registry is not a recovery.
		was := map[string]bool{}
		for _, s := range strings.Split(prior.Condition, "\n") {
			was[s] = true
		}
		for k, r := range byKey {
			if was[k.String()] && !seen[k] && r.Verdict == audit.NoVerdict {
				seen[k] = true
				f.lost = append(f.lost, lostPointer{key: k, result: r})
			}
		}
	}
	sort.Slice(f.lost, func(i, j int) bool { return f.lost[i].key.String() < f.lost[j].key.String() })
	if len(f.lost) > 0 {
		keys := make([]string, len(f.lost))
		for i, l := range f.lost {
			keys[i] = l.key.String()
		}
		f.want, f.condition = true, strings.Join(keys, "\n")
	} else {
		f.healthy = true
	}
	return f
}

func planOne(f finding, prior *ledger.IssueRecord, labels Labels, byKey map[audit.VersionKey]audit.Result,
	route func(string) (Route, error)) (*Op, error) {
	if !f.want {
		if f.healthy && prior != nil && prior.State == StateOpen {
			op := &Op{Action: ActionClose, Kind: f.kind, Recipe: f.recipe, Prior: prior,
				Comment: closeComment(f, byKey), Why: "recovered"}
			op.ID = opID(op)
			return op, nil
		}
		return nil, nil
	}
	rt, err := route(f.recipe)
	if err != nil {
		return nil, err
	}
	d := render(f, rt, labels, byKey)
	op := &Op{Kind: f.kind, Recipe: f.recipe, Prior: prior, Draft: d, Route: rt, Condition: f.condition}
	switch {
	case prior == nil:
		op.Action, op.Why = ActionOpen, "new: "+conditionSummary(f.kind, f.condition)
	case prior.State == StateOpen:
		if prior.Fingerprint == d.Fingerprint || (prior.Condition == f.condition && f.undetermined()) {
			// Unchanged; or the only news is pointers without a verdict this
			// run, which is no news (SPEC §3).
			return nil, nil
		}
		op.Action = ActionUpdate
		op.Worse = worse(f.kind, prior.Condition, f.condition)
		if prior.Condition != f.condition {
			op.Comment = changeComment(f.kind, prior.Condition, f.condition)
			op.Why = "state changed: " + conditionSummary(f.kind, prior.Condition) + " → " + conditionSummary(f.kind, f.condition)
		} else {
			op.Why = "details changed (route, assignees or findings)"
		}
	default: // closed
		op.Worse = worse(f.kind, prior.Condition, f.condition)
		if !op.Worse {
			return nil, nil // closed by a human in this state or a worse one: leave it
		}
		op.Action = ActionReopen
		if prior.Condition == "" {
			op.Why = "needs action again: " + conditionSummary(f.kind, f.condition)
			op.Comment = "Reopened by evidence-auditd: this recipe needs action again (" + conditionSummary(f.kind, f.condition) + ")."
		} else {
			op.Why = "worse than when closed: " + conditionSummary(f.kind, prior.Condition) + " → " + conditionSummary(f.kind, f.condition)
			op.Comment = "Reopened by evidence-auditd: the state is worse than when this issue was closed (" +
				conditionSummary(f.kind, prior.Condition) + " → " + conditionSummary(f.kind, f.condition) + ")."
		}
	}
	op.ID = opID(op)
	return op, nil
}

// opID keys an operation by the transition it makes from the recorded
// state, so that the same operation retried by a later run (or by `issues
// sync`) has the same key, and a comment it already posted is recognised.
func opID(op *Op) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", op.Kind, op.Recipe, op.Action)
	if p := op.Prior; p != nil {
		fmt.Fprintf(h, "%d\x00%s\x00%s\x00%s\x00%s", p.Number, p.State, p.Fingerprint, p.Condition, p.UpdatedAt.UTC().Format("2006-01-02T15:04:05.999999999Z"))
	}
	fmt.Fprintf(h, "\x00%s\x00%s", op.Draft.Fingerprint, op.Condition)
	return string(op.Action) + "-" + hex.EncodeToString(h.Sum(nil))[:20]
}

func conditionSummary(kind Kind, cond string) string {
	if cond == "" {
		return "healthy"
	}
	if kind == KindRecert {
		return cond
	}
	n := strings.Count(cond, "\n") + 1
	if n == 1 {
		return "1 pointer lost"
	}
	return fmt.Sprintf("%d pointers lost", n)
}

// Print writes the plan, one operation a line, deterministically (`issues
// sync --dry-run`, `run --dry-run`).
func (p *Plan) Print(w io.Writer) {
	fmt.Fprintf(w, "Issue plan for run %d: %d operations, %d issues current\n", p.RunID, len(p.Ops), p.Current)
	for _, op := range p.Ops {
		target := "new issue"
		if op.Prior != nil {
			target = fmt.Sprintf("issue #%d", op.Prior.Number)
			if op.Prior.Number == 0 {
				target = "issue " + escape.Line(op.Prior.URL)
			}
		}
		fmt.Fprintf(w, "  %-6s %-6s %s (%s): %s\n", op.Action, op.Kind, escape.Line(op.Recipe), target, escape.Line(op.Why))
		if op.Action != ActionClose {
			as := "nobody"
			if len(op.Draft.Assignees) > 0 {
				as = "@" + strings.Join(lines(op.Draft.Assignees), ", @")
			}
			fmt.Fprintf(w, "         via %s (%s), assign %s\n", op.Route.Via, escape.Line(op.Route.Source), as)
		}
	}
}

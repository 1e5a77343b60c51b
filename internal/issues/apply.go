package issues

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"

	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// Journal is what applying a plan needs from the ledger; *ledger.DB
// satisfies it.
type Journal interface {
	BeginIssueOp(ctx context.Context, op ledger.IssueOp) error
	FailIssueOp(ctx context.Context, opID, errText string) error
	CompleteIssueOp(ctx context.Context, opID string, rec ledger.IssueRecord) error
	UnsentIssueOps(ctx context.Context) ([]ledger.IssueOp, error)
}

var _ Journal = (*ledger.DB)(nil)

// Applier sends a plan's operations to a tracker.
type Applier struct {
	Journal Journal
	Tracker Tracker
	// MaxOps caps the operations sent per run (issues.maxPerRun); the rest
	// wait for the next run. Zero means no cap.
	MaxOps int
	// Log receives a warning per failed operation; nil discards.
	Log *slog.Logger
	// Observer, when set, is told the outcome of every operation sent
	// (serve counts them in its metrics).
	Observer Observer
}

// Observer is told the outcome of each issue operation.
type Observer interface {
	IssueOperation(kind, action string, err error)
}

func (a *Applier) observe(op Op, err error) {
	if a.Observer != nil {
		a.Observer.IssueOperation(string(op.Kind), string(op.Action), err)
	}
}

// Summary is what applying a plan did.
type Summary struct {
	Planned  int // operations in the plan
	Sent     int // operations the tracker accepted
	Skipped  int // operations that found nothing to do (e.g. closed by a human, same state)
	Failed   int // operations that failed; journaled, retried next run
	Deferred int // operations not attempted (cap reached, or rate limited)
	// Stopped says why the remaining operations were deferred; "" when none were.
	Stopped string
	Current int // issues already up to date
}

func (s Summary) String() string {
	out := fmt.Sprintf("issues: %d planned, %d sent, %d skipped, %d failed, %d deferred, %d current",
		s.Planned, s.Sent, s.Skipped, s.Failed, s.Deferred, s.Current)
	if s.Stopped != "" {
		out += " (" + s.Stopped + ")"
	}
	return out
}

// Apply sends the plan's operations in order, each journaled pending before
// it is sent and sent or failed after. Tracker failures are counted, logged
// and journaled, not returned; an error means the ledger failed.
func (a *Applier) Apply(ctx context.Context, plan *Plan) (Summary, error) {
	log := a.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sum := Summary{Planned: len(plan.Ops), Current: plan.Current}
	if len(plan.Ops) == 0 {
		return sum, nil
	}
	unsent, err := a.Journal.UnsentIssueOps(ctx)
	if err != nil {
		return sum, err
	}
	inDoubt := map[string]bool{}
	for _, op := range unsent {
		if op.Action == string(ActionOpen) {
			inDoubt[op.Kind+"\x00"+op.Recipe] = true
		}
	}
	labelsReady := false
	for i, op := range plan.Ops {
		if a.MaxOps > 0 && i >= a.MaxOps {
			sum.Deferred = len(plan.Ops) - i
			sum.Stopped = fmt.Sprintf("issues.maxPerRun %d reached; %d wait for the next run", a.MaxOps, sum.Deferred)
			break
		}
		if err := ctx.Err(); err != nil {
			sum.Deferred = len(plan.Ops) - i
			sum.Stopped = "canceled"
			break
		}
		number := 0
		if op.Prior != nil {
			number = op.Prior.Number
		}
		if err := a.Journal.BeginIssueOp(ctx, ledger.IssueOp{OpID: op.ID, RunID: plan.RunID, Recipe: op.Recipe,
			Kind: string(op.Kind), Action: string(op.Action), Number: number}); err != nil {
			return sum, err
		}
		if !labelsReady && op.Action != ActionClose {
			if err := a.Tracker.EnsureLabels(ctx, planLabels(plan)); err != nil {
				if stop, ferr := a.fail(ctx, log, op, err, &sum); ferr != nil || stop {
					sum.Deferred = len(plan.Ops) - i - 1
					if stop {
						sum.Stopped = "rate limited: " + err.Error()
					}
					return sum, ferr
				}
				continue
			}
			labelsReady = true
		}
		rec, skipped, err := a.one(ctx, op, inDoubt[string(op.Kind)+"\x00"+op.Recipe])
		a.observe(op, err)
		if err != nil {
			stop, ferr := a.fail(ctx, log, op, err, &sum)
			if ferr != nil {
				return sum, ferr
			}
			if stop {
				sum.Deferred = len(plan.Ops) - i - 1
				sum.Stopped = "rate limited: " + err.Error()
				break
			}
			continue
		}
		if err := a.Journal.CompleteIssueOp(ctx, op.ID, rec); err != nil {
			return sum, err
		}
		if skipped {
			sum.Skipped++
		} else {
			sum.Sent++
		}
	}
	return sum, nil
}

// fail journals a failed operation; stop is true when the run must stop
// sending (rate limited, or canceled).
func (a *Applier) fail(ctx context.Context, log *slog.Logger, op Op, err error, sum *Summary) (stop bool, ferr error) {
	sum.Failed++
	msg := err.Error()
	log.Warn("issue operation failed; retried next run", "action", op.Action, "kind", op.Kind, "recipe", op.Recipe, "err", msg)
	wctx := context.WithoutCancel(ctx)
	if ferr := a.Journal.FailIssueOp(wctx, op.ID, msg); ferr != nil {
		return true, ferr
	}
	return errors.Is(err, ErrRateLimited) || ctx.Err() != nil, nil
}

// one sends one operation and returns what the ledger should record.
func (a *Applier) one(ctx context.Context, op Op, inDoubt bool) (rec ledger.IssueRecord, skipped bool, err error) {
	t := a.Tracker
	rec = ledger.IssueRecord{Issue: ledger.Issue{Recipe: op.Recipe, Kind: string(op.Kind), State: StateOpen,
		Fingerprint: op.Draft.Fingerprint}, RoutedVia: op.Route.Via, Assignees: op.Draft.Assignees, Condition: op.Condition}
	if op.Prior != nil {
		rec.Number, rec.URL = op.Prior.Number, op.Prior.URL
	}
	finish := func(ref Ref) (ledger.IssueRecord, bool, error) {
		rec.Number, rec.URL = ref.Number, ref.URL
		return rec, false, nil
	}

	if op.Action == ActionOpen {
		ref, found, err := t.Find(ctx, op.Kind, op.Recipe, inDoubt)
		if err != nil {
			return rec, false, err
		}
		if !found {
			ref, err = t.Create(ctx, op.Kind, op.Recipe, op.Draft)
			if err != nil {
				return rec, false, err
			}
			return finish(ref)
		}
		// Ours already (renamed, relabelled, or sent before a crash).
		reopen := ref.State != StateOpen
		if ref, err = t.Update(ctx, ref, op.Draft, reopen); err != nil {
			return rec, false, err
		}
		if reopen {
			if err := t.Comment(ctx, ref, op.ID, "Reopened by evidence-auditd: this recipe needs action again."); err != nil {
				return rec, false, err
			}
		}
		return finish(ref)
	}

	ref, ok, err := t.Get(ctx, Ref{Kind: op.Kind, Recipe: op.Recipe, Number: op.Prior.Number, URL: op.Prior.URL})
	if err != nil {
		return rec, false, err
	}
	closedByHuman := !ok || ref.State != StateOpen
	switch op.Action {
	case ActionClose:
		rec.State, rec.Fingerprint, rec.Condition = StateClosed, "", ""
		rec.RoutedVia, rec.Assignees = op.Prior.RoutedVia, op.Prior.Assignees
		if closedByHuman {
			return rec, true, nil
		}
		if err := t.Comment(ctx, ref, op.ID, op.Comment); err != nil {
			return rec, false, err
		}
		if ref, err = t.Close(ctx, ref); err != nil {
			return rec, false, err
		}
		return finish(ref)
	case ActionUpdate:
		if closedByHuman && !op.Worse {
			// SPEC §7 / doc.go: a human closed it; the state is no worse
			// than what they saw, so it stays closed.
			p := *op.Prior
			p.State = StateClosed
			return ledger.IssueRecord{Issue: p.Issue, RoutedVia: p.RoutedVia, Assignees: p.Assignees, Condition: p.Condition}, true, nil
		}
	}
	if !ok { // gone from the tracker (deleted issue, removed file): file it again
		if ref, err = t.Create(ctx, op.Kind, op.Recipe, op.Draft); err != nil {
			return rec, false, err
		}
		return finish(ref)
	}
	reopen := ref.State != StateOpen
	if ref, err = t.Update(ctx, ref, op.Draft, reopen); err != nil {
		return rec, false, err
	}
	comment := op.Comment
	if reopen && op.Action == ActionUpdate {
		comment = "Reopened by evidence-auditd: the state is worse than when this issue was closed. " + comment
	}
	if comment != "" {
		if err := t.Comment(ctx, ref, op.ID, comment); err != nil {
			return rec, false, err
		}
	}
	return finish(ref)
}

func planLabels(p *Plan) []string {
	set := map[string]bool{}
	for _, op := range p.Ops {
		for _, l := range op.Draft.Labels {
			set[l] = true
		}
	}
	out := make([]string, 0, len(set))
	for l := range set {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

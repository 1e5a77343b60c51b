package job

import (
	"context"
	"os"

	"github.com/evidence-auditd/evidence-auditd/internal/anchor"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// newAnchorer is the anchorer of the configuration (SPEC §10): a key file
// that cannot be read is a configuration error. Keyless signing takes the
// ambient OIDC token of the process environment.
func (j *Job) newAnchorer() (*anchor.Anchorer, error) {
	an, err := anchor.FromConfig(j.Config, os.Getenv)
	if err != nil {
		return nil, Usage(err)
	}
	return an, nil
}

// anchorRun anchors a run that was just sealed and logs what could not be
// done. Anchoring never fails the audit: the run is recorded and sealed,
// and `ledger verify` says what is missing.
func (j *Job) anchorRun(ctx context.Context, db *ledger.DB, an *anchor.Anchorer, runID int64) *anchor.Anchor {
	a, err := an.AnchorRun(ctx, db, runID)
	if err != nil {
		j.Log.Warn("the run was not anchored", "run", runID, "err", err)
	}
	j.logAnchor(a)
	return a
}

// anchorPending anchors the newest sealed run when it has no anchor: one a
// previous process sealed but was stopped before anchoring, or one this
// job closed as incomplete before beginning a new run.
func (j *Job) anchorPending(ctx context.Context, db *ledger.DB, an *anchor.Anchorer) {
	a, ok, err := an.AnchorNewest(ctx, db)
	if err != nil {
		j.Log.Warn("the newest sealed run was not anchored", "err", err)
	}
	if ok {
		j.logAnchor(a)
	}
}

func (j *Job) logAnchor(a *anchor.Anchor) {
	if a == nil {
		return
	}
	for _, w := range a.Signature.Warnings {
		j.Log.Warn("anchor", "run", a.RunID, "warning", w)
	}
	signedBy := a.Signature.By
	if signedBy == "" {
		signedBy = "unsigned"
	}
	j.Log.Info("run anchored", "run", a.RunID, "head", a.Head, "rows", a.Rows, "signedBy", signedBy,
		"logIndex", a.Signature.LogIndex, "file", a.NotePath)
}

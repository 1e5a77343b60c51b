package anchor

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/mod/sumdb/note"

	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// Anchorer writes the anchors of sealed runs and the progress marks of
// unfinished ones into Dir (and the anchors also into the ledger). Build it
// with NewAnchorer.
type Anchorer struct {
	dir    string
	signer *Signer

	mu     sync.Mutex
	origin string // set by Bind; progress marks need it
	pkey   *Key   // signs progress marks (a key only: keyless is one Fulcio round trip per commit)
}

// NewAnchorer returns an Anchorer writing into dir with signer (which may
// sign nothing).
func NewAnchorer(dir string, signer *Signer) (*Anchorer, error) {
	if dir == "" || signer == nil {
		return nil, errors.New("anchorer: a directory and a signer are required")
	}
	return &Anchorer{dir: dir, signer: signer, pkey: signer.key}, nil
}

// Dir is the anchors directory.
func (a *Anchorer) Dir() string { return a.dir }

// Anchor is the anchor of one run, as written.
type Anchor struct {
	Checkpoint
	// Note is the note as written (signed, or the body alone).
	Note []byte
	// Signature says who signed, the bundle and log entry, and what could
	// not be done (Warnings).
	Signature *Signature
	// NotePath is the note's file; "" when it could not be written (a
	// warning says why; the ledger still holds the anchor).
	NotePath string
}

// Signed reports whether the anchor is signed.
func (a *Anchor) Signed() bool { return a.Signature.Signed() }

// Bind reads the ledger's id, which progress marks name; call it once
// after opening the ledger, before the first append.
func (a *Anchorer) Bind(ctx context.Context, db *ledger.DB) error {
	id, err := db.ID(ctx)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.origin = Origin(id)
	a.mu.Unlock()
	return nil
}

// AnchorRun anchors sealed run runID (SPEC §10): the checkpoint of its seal,
// signed as the signer can, written to Dir and recorded in the ledger.
// Failures to sign, log or write the files are warnings in the returned
// anchor; an error means the run is not sealed, is already anchored, or
// the ledger could not record the anchor.
func (a *Anchorer) AnchorRun(ctx context.Context, db *ledger.DB, runID int64) (*Anchor, error) {
	seal, ok, err := db.Seal(ctx, runID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("anchor run %d: the run is not sealed (unfinished)", runID)
	}
	if _, ok, err := db.Anchor(ctx, runID); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("anchor run %d: already anchored", runID)
	}
	id, err := db.ID(ctx)
	if err != nil {
		return nil, err
	}
	cp := checkpointOf(id, seal)
	text, sig := a.signer.SignNote(ctx, cp.Origin, cp.Body())
	out := &Anchor{Checkpoint: cp, Note: text, Signature: sig}
	if err := writeFile(a.dir, runID, noteExt, text); err != nil {
		sig.Warnings = append(sig.Warnings, fmt.Sprintf("anchor file not written (the ledger keeps the anchor): %v", err))
	} else {
		out.NotePath = runFile(a.dir, runID, noteExt)
		if sig.Bundle != nil {
			if err := writeFile(a.dir, runID, bundleExt, sig.Bundle); err != nil {
				sig.Warnings = append(sig.Warnings, fmt.Sprintf("anchor bundle file not written (the ledger keeps it): %v", err))
			}
		}
	}
	if err := db.PutAnchor(ctx, ledger.AnchorRecord{RunID: runID, Note: string(text), Bundle: sig.Bundle,
		LogURL: sig.LogURL, LogIndex: sig.LogIndex}); err != nil {
		return out, fmt.Errorf("anchor run %d: %w", runID, err)
	}
	return out, nil
}

// AnchorNewest anchors the newest sealed run when it has no anchor yet: a
// process stopped between sealing a run and anchoring it (kill -9) leaves
// exactly that. Only the newest: an older run without an anchor is for
// Check to report, never to be vouched for after the fact. ok is false when
// there was nothing to do.
func (a *Anchorer) AnchorNewest(ctx context.Context, db *ledger.DB) (*Anchor, bool, error) {
	seals, err := db.Seals(ctx)
	if err != nil || len(seals) == 0 {
		return nil, false, err
	}
	newest := seals[len(seals)-1]
	if _, ok, err := db.Anchor(ctx, newest.RunID); err != nil || ok {
		return nil, false, err
	}
	// A run sealed by the migration of an older ledger was never anchored
	// and is not the one a crash left behind: the next anchored run's
	// seal chains over it.
	anchors, err := db.Anchors(ctx)
	if err != nil || len(anchors) == 0 {
		return nil, false, err
	}
	an, err := a.AnchorRun(ctx, db, newest.RunID)
	return an, err == nil, err
}

// Hook is the ledger.AppendHook that writes the progress mark of the run
// being appended to, before the append commits (see Progress). Bind must
// have been called.
func (a *Anchorer) Hook(runID int64, before, after ledger.ChainPoint) error {
	a.mu.Lock()
	origin, key := a.origin, a.pkey
	a.mu.Unlock()
	if origin == "" {
		return errors.New("progress mark: anchorer not bound to a ledger")
	}
	body := Progress{Origin: origin, RunID: runID, After: after, Before: before}.Body()
	text := body
	if key != nil {
		ns, err := key.noteSigner(context.Background(), origin)
		if err != nil {
			return fmt.Errorf("progress mark of run %d: %w", runID, err)
		}
		if text, err = note.Sign(&note.Note{Text: string(body)}, ns); err != nil {
			return fmt.Errorf("progress mark of run %d: %w", runID, err)
		}
	}
	if err := writeFile(a.dir, runID, progressExt, text); err != nil {
		return fmt.Errorf("progress mark of run %d: %w", runID, err)
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/evidence-auditd/evidence-auditd/internal/anchor"
	"github.com/evidence-auditd/evidence-auditd/internal/atomicfile"
	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/report"
)

// bundleSuffix names a report's signature file: REPORT.sigstore.json.
const bundleSuffix = ".sigstore.json"

// signReport writes outPath+".sigstore.json", the signed compliance
// snapshot of the report just written to outPath (SPEC §10). checked is the
// ledger's check against its anchors, which held up to the run.
func signReport(ctx context.Context, stderr io.Writer, cfg *config.Config, db *ledger.DB, snap *report.Snapshot, f report.Format, outPath string, checked *anchor.Report) error {
	seal, ok, err := db.Seal(ctx, snap.Run.ID)
	if err != nil {
		return err
	}
	if !ok {
		return usageErr(fmt.Errorf("--sign: run %d is not finished, so it has no sealed ledger head to sign over; sign a finished run (--run ID)", snap.Run.ID))
	}
	id, err := db.ID(ctx)
	if err != nil {
		return err
	}
	var ra *anchor.RunAnchor
	for i := range checked.Anchors {
		if checked.Anchors[i].RunID == snap.Run.ID {
			ra = &checked.Anchors[i]
		}
	}
	body, err := os.ReadFile(outPath)
	if err != nil {
		return err
	}
	pred := anchor.SnapshotPredicateOf(snap, f, id, seal, ra)
	stmt, err := anchor.SnapshotStatement(filepath.Base(outPath), body, pred)
	if err != nil {
		return err
	}
	signer, err := anchor.SignerFromConfig(cfg, os.Getenv)
	if err != nil {
		return usageErr(err)
	}
	sig, err := signer.SignStatement(ctx, stmt)
	if errors.Is(err, anchor.ErrCannotSign) {
		return usageErr(fmt.Errorf("--sign: %w", err))
	}
	if err != nil {
		return err
	}
	for _, w := range sig.Warnings {
		fmt.Fprintln(stderr, "evidence-auditd: warning:", w)
	}
	bundlePath := outPath + bundleSuffix
	if err := atomicfile.WriteBytes(bundlePath, 0o644, sig.Bundle); err != nil {
		return fmt.Errorf("write %s: %w", bundlePath, err)
	}
	logged := "not logged"
	if sig.LogIndex >= 0 {
		logged = fmt.Sprintf("logged at %s, index %d", sig.LogURL, sig.LogIndex)
	}
	fmt.Fprintf(stderr, "evidence-auditd: signed the report of run %d (head %s) by %s, %s: %s\n", snap.Run.ID, seal.Head, sig.By, logged, bundlePath)
	return nil
}

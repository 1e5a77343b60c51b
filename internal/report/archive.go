package report

import (
	"context"
	"fmt"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// Archive states of a pointer's bundle (SPEC §5 pointers[].archive.state).
const (
	// ArchiveArchived: the auditor's archive held a copy of the bundle when
	// the run finished.
	ArchiveArchived = "archived"
	// ArchivePending: the bundle is healthy from its origin but was not
	// archived yet (last verified on the fast path before the archive
	// existed, or the copy failed): the next full verification or
	// `archive backfill` copies it.
	ArchivePending = "pending"
	// ArchiveNone: no copy, and none will be made (the bundle is not
	// healthy, or the run's archive was disabled).
	ArchiveNone = "none"
)

// ArchiveInfo is the run's archive (SPEC §5, §9): the store it used and its
// coverage of the run's healthy bundles.
type ArchiveInfo struct {
	// Store names the archive store the run copied into ("oci-layout:DIR"
	// or "oci:REPOSITORY"); "" when the archive was disabled (or the run
	// predates the archive).
	Store    string
	Coverage audit.ArchiveCoverage
}

// PointerArchive is a pointer's bundle in the archive.
type PointerArchive struct {
	State string    // ArchiveArchived, ArchivePending or ArchiveNone
	At    time.Time // when it was archived; zero unless archived
}

// loadArchive fills the snapshot's archive coverage and each pointer's
// archive state, as of the run's end (now, for an unfinished run): a copy
// made by a later run or backfill does not change an earlier run's report.
func (s *Snapshot) loadArchive(ctx context.Context, db *ledger.DB, run ledger.Run) error {
	if in, ok, err := db.RunInputs(ctx, run.ID); err == nil && ok {
		s.Archive.Store = in.Archive
	}
	cov, err := db.ArchiveCoverage(ctx, run.ID)
	if err != nil {
		return err
	}
	s.Archive.Coverage = cov
	records, err := db.ArchivedBundles(ctx, "")
	if err != nil {
		return fmt.Errorf("read archive records: %w", err)
	}
	for i := range s.Pointers {
		p := &s.Pointers[i]
		digest := p.Info.BundleDigest
		if digest == "" {
			digest = p.Result.BundleDigest
		}
		rec, ok := records[digest]
		switch {
		case ok && (!run.Finished || !rec.At.After(run.FinishedAt)):
			p.Archive = PointerArchive{State: ArchiveArchived, At: rec.At.UTC()}
		case p.Result.Verdict.FromOrigin() && s.Archive.Store != "":
			p.Archive = PointerArchive{State: ArchivePending}
		default:
			p.Archive = PointerArchive{State: ArchiveNone}
		}
	}
	return nil
}

// coverageText says the archive coverage in words: "4 of 6 healthy
// bundles archived (67%)".
func coverageText(c audit.ArchiveCoverage) string {
	s := fmt.Sprintf("%d of %d healthy bundles archived", c.Archived, c.Healthy)
	if r, ok := c.Ratio(); ok {
		s += fmt.Sprintf(" (%.0f%%)", 100*r)
	}
	return s
}

// archiveState is a pointer's archive state, ArchiveNone when unset.
func archiveState(a PointerArchive) string {
	if a.State == "" {
		return ArchiveNone
	}
	return a.State
}

// archiveText says a pointer's archive state for people: "archived
// 2026-06-01", "pending", "none".
func archiveText(a PointerArchive) string {
	if a.State == ArchiveArchived && !a.At.IsZero() {
		return ArchiveArchived + " " + mdDate(a.At)
	}
	return archiveState(a)
}

// archiveLine says the run's archive in one sentence.
func archiveLine(s *Snapshot) string {
	if s.Archive.Store == "" {
		return "not used by this run (disabled, or the run predates the archive); " + coverageText(s.Archive.Coverage) + " by other runs"
	}
	return coverageText(s.Archive.Coverage) + " in " + s.Archive.Store
}

func stampOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return stamp(t)
}

package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// CheckArchive names the check that says what the archive did for a
// pointer: copied its bundle, proved it when the origin lost it, or could
// not (SPEC §9).
const CheckArchive = "archive"

// loadArchived reads, once per run, which bundles the Runner's Archive
// holds according to the ledger.
func (r *Runner) loadArchived(ctx context.Context, opts *Options) error {
	opts.put = &sync.Map{}
	if r.Archive == nil || r.Ledger == nil {
		return nil
	}
	archived, err := r.Ledger.ArchivedBundles(ctx, r.Archive.Name())
	if err != nil {
		return err
	}
	opts.archived = archived
	return nil
}

// archiveRecord returns the ledger's record of digest in the Runner's
// Archive, or one written earlier in this run.
func (opts *Options) archiveRecord(digest string) (ArchivedBundle, bool) {
	if rec, ok := opts.archived[digest]; ok {
		return rec, true
	}
	if opts.put != nil {
		if rec, ok := opts.put.Load(digest); ok {
			return rec.(ArchivedBundle), true
		}
	}
	return ArchivedBundle{}, false
}

// archiveVerified copies a bundle the full path has just verified healthy
// from its origin into the archive, unless the archive already holds it
// (SPEC §9) and its copy is not known to be damaged (opts.Recopy). The fast path never calls it: archiving adds no I/O while the
// origin answers and the copy exists. A failure to archive never changes
// the verdict; it is a warning check, and the next full verification
// tries again. The record is for the ledger; nil when nothing was written.
func (r *Runner) archiveVerified(ctx context.Context, res *Result, digest string, ev *Evidence, sig Signature, opts Options) *ArchivedBundle {
	if !r.mayArchive(digest, opts) {
		return nil
	}
	rec, err := r.Archive.Put(ctx, digest, ev, sig)
	if err != nil {
		res.Checks = append(res.Checks, Check{Name: CheckArchive, Status: CheckWarn,
			Detail: "not archived (the next full verification tries again): " + err.Error()})
		return nil
	}
	rec.RunID = opts.RunID
	opts.put.Store(digest, rec)
	res.Checks = append(res.Checks, Check{Name: CheckArchive, Status: CheckPass,
		Detail: fmt.Sprintf("copied to the archive (%d objects, %d bytes, digests checked on write)", len(rec.Objects), rec.Bytes)})
	return &rec
}

// mayArchive reports whether archiveVerified would copy digest once it
// verified healthy: the Runner has an archive and a ledger, the archive
// does not hold it yet (or its copy is to be redone), and no other pointer
// of the bundle copied it this run. The layer's bytes, which the registry
// client streams and otherwise lets go (issue 15), are kept for such a
// bundle only.
func (r *Runner) mayArchive(digest string, opts Options) bool {
	if r.Archive == nil || r.Ledger == nil {
		return false
	}
	if opts.put != nil {
		if _, copied := opts.put.Load(digest); copied {
			return false // another pointer of the bundle, this run
		}
	}
	if _, ok := opts.archived[digest]; ok && !opts.Recopy[digest] {
		return false
	}
	return true
}

// fromArchive judges a pointer whose origin lost the bundle (lost is the
// origin's error) from the archived copy, when the ledger records one
// (SPEC §9). decided is false when the archive cannot serve as proof —
// none, or a damaged copy — and the caller goes on to the transparency
// log; note then says what was wrong with the copy (nil when there is
// none). A copy that cannot be read now is no-verdict: an outage, never a
// reason to report the bytes as lost.
func (r *Runner) fromArchive(ctx context.Context, want Expectation, lost error, opts Options) (ver Verification, decided bool, note *Check) {
	if r.Archive == nil || want.Pointer == nil || len(want.Pointer.Attestations) == 0 {
		return Verification{}, false, nil
	}
	digest := want.Pointer.Attestations[0].Bundle.Digest
	rec, ok := opts.archiveRecord(digest)
	if !ok {
		return Verification{}, false, nil
	}
	originCheck := Check{Name: "fetch", Status: CheckFail, Detail: "origin: " + lost.Error()}
	ev, err := r.Archive.Fetch(ctx, digest)
	switch {
	case err == nil:
	case errors.Is(err, ErrTransient), errors.Is(err, ErrCanceled), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		v := classifyFetch(err)
		if v.Class == ClassTransient {
			v.Detail = fmt.Sprintf("the registry no longer serves the bundle and its archived copy (%s) could not be read now, retried next run: %v", rec.Store, err)
		}
		v.Checks = []Check{originCheck, {Name: CheckArchive, Status: CheckFail, Detail: v.Detail}}
		return v, true, nil
	default:
		return Verification{}, false, &Check{Name: CheckArchive, Status: CheckFail,
			Detail: fmt.Sprintf("the archived copy (%s, archived %s) is damaged or incomplete and was not used as proof: %v; see `evidence-auditd archive verify`",
				rec.Store, rec.At.UTC().Format("2006-01-02"), err)}
	}
	// An archived copy is read whole (its files are in ev): no layer to fetch.
	ver, _, _, _ = r.verifySignatures(ctx, "", ev, want, false)
	ver.Via = ViaArchive
	from := Check{Name: CheckArchive, Status: CheckPass,
		Detail: fmt.Sprintf("read from the archive %s (archived %s), every object checked against its digest", rec.Store, rec.At.UTC().Format("2006-01-02"))}
	ver.Checks = append([]Check{originCheck, from}, ver.Checks...)
	if !ver.Verdict.Healthy() {
		// The archived bytes are the ones the pointer pins: their verdict
		// is the bundle's, as it would be from the origin.
		ver.Detail = "archived copy: " + ver.Detail
		return ver, true, nil
	}
	failures := ""
	if ver.Verdict == VerifiedWithFailures {
		failures = ", and records failed phases"
	}
	origin := "no longer serves the bundle"
	if errors.Is(lost, ErrForbidden) {
		origin = "refuses access to the bundle"
	}
	ver.Verdict, ver.Class = Archived, ""
	ver.Detail = fmt.Sprintf("the registry %s; the auditor's archived copy (%s, archived %s) is digest-identical and passes every check of a verified bundle%s",
		origin, rec.Store, rec.At.UTC().Format("2006-01-02"), failures)
	ver.Hint = "restore it with `evidence-auditd archive restore POINTER.yaml --to REGISTRY/REPOSITORY` (or --lost), then point bundle.oci at the new repository if it differs"
	return ver, true, nil
}

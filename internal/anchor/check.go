package anchor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"golang.org/x/mod/sumdb/note"

	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// Sources of anchors.
const (
	SourceLedger     = "ledger"        // the ledger's own recomputation (ledger.Verify)
	SourceFile       = "anchor file"   // a note in the anchors directory
	SourceLedgerCopy = "ledger anchor" // the copy of an anchor kept in the ledger
	SourceLog        = "log"           // the transparency-log entry of an anchor
	SourceProgress   = "progress mark" // an unfinished run's progress mark
)

// Fault is a run whose recorded state no longer matches what vouches for
// it.
type Fault struct {
	RunID  int64
	Source string // which check or anchor showed it (Source*)
	Reason string
	// Seq is the result row at fault when the ledger's recomputation named
	// one; 0 otherwise.
	Seq int64
}

func (f *Fault) String() string {
	return fmt.Sprintf("run %d (%s): %s", f.RunID, f.Source, f.Reason)
}

// RunAnchor is what Check found anchoring one run.
type RunAnchor struct {
	RunID    int64
	Head     string // the anchored head
	Rows     int64
	Sources  []string // where it was read: anchor file, ledger anchor, log
	By       string   // who signed ("" unsigned)
	LogURL   string
	LogIndex int64 // -1 when not logged
}

// Report is the outcome of Check.
type Report struct {
	// Ledger is the ledger's own recomputation (result chain, seals).
	Ledger *ledger.VerifyReport
	// Anchors are the anchored runs, by run id.
	Anchors []RunAnchor
	// FirstBad is the damaged run with the smallest id, from any check;
	// nil when everything holds.
	FirstBad *Fault
	// Faults are every run's first fault, by run id.
	Faults []*Fault
	// Notes are facts that are not faults: what could not be checked,
	// what is pending.
	Notes []string
}

// OK reports whether nothing is broken.
func (r *Report) OK() bool { return r.FirstBad == nil }

// Newest is the anchor of the newest anchored run; nil when none.
func (r *Report) Newest() *RunAnchor {
	if len(r.Anchors) == 0 {
		return nil
	}
	return &r.Anchors[len(r.Anchors)-1]
}

// CheckOptions say where the anchors are and whom to trust.
type CheckOptions struct {
	Dir   string // the anchors directory
	Trust Trust
	// LogReader, when set, reads logged anchors back from their log (see
	// ReadLog); nil checks log proofs offline, from the bundles only.
	LogReader LogReader
}

// Check recomputes the ledger and compares every sealed run with every
// anchor it can read — the anchor files, the ledger's copies, the log
// entries — and every run's progress mark with its rows (SPEC §6, §10). It
// names the first run (smallest id) whose anchored head no longer matches,
// or that the ledger's own recomputation finds damaged. An error means the
// ledger or the anchors directory cannot be read.
func Check(ctx context.Context, db *ledger.DB, o CheckOptions) (*Report, error) {
	lrep, err := db.Verify(ctx)
	if err != nil {
		return nil, err
	}
	rep := &Report{Ledger: lrep}
	rep.Notes = append(rep.Notes, lrep.Notes...)
	c := &checker{ctx: ctx, db: db, o: o, rep: rep, faults: map[int64]*Fault{}, found: map[int64]*RunAnchor{}}
	if b := lrep.FirstBad; b != nil {
		c.fault(&Fault{RunID: b.RunID, Source: SourceLedger, Reason: b.Reason, Seq: b.Seq})
	}
	if err := c.run(); err != nil {
		return nil, err
	}
	for _, f := range c.faults {
		rep.Faults = append(rep.Faults, f)
	}
	sort.Slice(rep.Faults, func(i, j int) bool { return rep.Faults[i].RunID < rep.Faults[j].RunID })
	if len(rep.Faults) > 0 {
		rep.FirstBad = rep.Faults[0]
	}
	for _, a := range c.found {
		rep.Anchors = append(rep.Anchors, *a)
	}
	sort.Slice(rep.Anchors, func(i, j int) bool { return rep.Anchors[i].RunID < rep.Anchors[j].RunID })
	return rep, nil
}

type checker struct {
	ctx    context.Context
	db     *ledger.DB
	o      CheckOptions
	rep    *Report
	origin string
	seals  map[int64]ledger.Seal
	faults map[int64]*Fault
	found  map[int64]*RunAnchor
	// signed is the smallest run whose anchor was signed; later anchors
	// must be signed too.
	signedFrom int64
}

func (c *checker) fault(f *Fault) {
	if _, ok := c.faults[f.RunID]; !ok {
		c.faults[f.RunID] = f
	}
}

func (c *checker) note(format string, args ...any) {
	c.rep.Notes = append(c.rep.Notes, fmt.Sprintf(format, args...))
}

func (c *checker) run() error {
	id, err := c.db.ID(c.ctx)
	if err != nil {
		return err
	}
	c.origin = Origin(id)
	c.seals = map[int64]ledger.Seal{}
	for _, s := range c.rep.Ledger.Seals {
		c.seals[s.RunID] = s
	}

	// Every anchor, from every source.
	type read struct {
		source        string
		runID         int64
		text, bundle  []byte
		logURL        string
		logIndex      int64
		fromFileRunID int64
	}
	var all []read
	files, err := runFiles(c.o.Dir, noteExt)
	if err != nil {
		return fmt.Errorf("anchors directory %s: %w", c.o.Dir, err)
	}
	for _, runID := range files {
		text, _, err := readFile(c.o.Dir, runID, noteExt)
		if err != nil {
			return err
		}
		b, _, err := readFile(c.o.Dir, runID, bundleExt)
		if err != nil {
			return err
		}
		all = append(all, read{source: SourceFile, runID: runID, text: text, bundle: b, logIndex: -1})
	}
	stored, err := c.db.Anchors(c.ctx)
	if err != nil {
		return err
	}
	for _, a := range stored {
		all = append(all, read{source: SourceLedgerCopy, runID: a.RunID, text: []byte(a.Note), bundle: a.Bundle, logURL: a.LogURL, logIndex: a.LogIndex})
	}
	if len(files) == 0 {
		c.note("no anchor files in %s", c.o.Dir)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].runID < all[j].runID })
	for _, r := range all {
		c.checkAnchor(r.source, r.runID, r.text, r.bundle, r.logURL, r.logIndex)
	}

	// Every sealed run after the first anchored one has an anchor; a
	// missing one was deleted — except the newest, which a process stopped
	// between sealing and anchoring leaves behind (the next run anchors it).
	if first := c.firstAnchored(); first > 0 {
		seals := c.rep.Ledger.Seals
		for i, s := range seals {
			if s.RunID <= first || c.found[s.RunID] != nil {
				continue
			}
			if i == len(seals)-1 {
				c.note("run %d is sealed but not anchored yet (stopped before its anchor was written?); the next run anchors it", s.RunID)
				continue
			}
			c.fault(&Fault{RunID: s.RunID, Source: SourceFile, Reason: fmt.Sprintf(
				"run %d is sealed but has no anchor, in %s nor in the ledger, although run %d before it has one: its anchor was deleted", s.RunID, c.o.Dir, first)})
		}
	} else if len(c.rep.Ledger.Seals) > 0 {
		c.note("no run is anchored: only the ledger's own hash chain vouches for it (a rewrite that recomputes every hash cannot be detected)")
	}
	if c.o.Trust.Key != nil && c.signedFrom == 0 && len(c.found) > 0 {
		c.note("anchor key %s is configured but no anchor is signed by it", c.o.Trust.Key.Fingerprint())
	}
	if c.o.LogReader != nil {
		c.readLogs()
	}
	return c.checkProgress()
}

func (c *checker) firstAnchored() int64 {
	var first int64
	for id := range c.found {
		if first == 0 || id < first {
			first = id
		}
	}
	return first
}

// checkAnchor checks one anchor read from source against the ledger.
func (c *checker) checkAnchor(source string, fileRunID int64, text, bundleJSON []byte, logURL string, logIndex int64) {
	bad := func(format string, args ...any) {
		c.fault(&Fault{RunID: fileRunID, Source: source, Reason: fmt.Sprintf(format, args...)})
	}
	body, sigs := splitNote(text)
	cp, err := ParseCheckpoint(body)
	if err != nil {
		bad("the anchor does not parse: %v", err)
		return
	}
	if cp.RunID != fileRunID {
		bad("the anchor of run %d names run %d", fileRunID, cp.RunID)
		return
	}
	if cp.Origin != c.origin {
		bad("the anchor is of ledger %s, not of this one (%s): the ledger was replaced or its id edited", strings.TrimPrefix(cp.Origin, OriginPrefix), strings.TrimPrefix(c.origin, OriginPrefix))
		return
	}
	by, logged, err := c.checkSignatures(text, body, sigs, bundleJSON)
	if err != nil {
		bad("%v", err)
		return
	}
	unchecked := by == "" && (sigs > 0 || len(bundleJSON) > 0) // signed, but not checkable here (noted)
	if by != "" && (c.signedFrom == 0 || cp.RunID < c.signedFrom) {
		c.signedFrom = cp.RunID
	}
	if by == "" && !unchecked && c.signedFrom != 0 && cp.RunID > c.signedFrom {
		bad("the anchor is unsigned, but run %d's before it is signed: a signed anchor was replaced", c.signedFrom)
		return
	}
	if logIndex < 0 {
		logIndex = logged
	}
	seal, ok := c.seals[cp.RunID]
	switch {
	case !ok:
		bad("run %d is anchored (head %s) but the ledger holds no sealed run %d: the run was deleted, or reopened", cp.RunID, cp.Head, cp.RunID)
		return
	case seal.Head != cp.Head || seal.Rows != cp.Rows:
		bad("anchored head %s over %d result rows, but the ledger's run %d now has %s over %d: the ledger was rewritten",
			cp.Head, cp.Rows, cp.RunID, seal.Head, seal.Rows)
		return
	}
	a := c.found[cp.RunID]
	if a == nil {
		a = &RunAnchor{RunID: cp.RunID, Head: cp.Head, Rows: cp.Rows, LogIndex: -1}
		c.found[cp.RunID] = a
	}
	a.Sources = append(a.Sources, source)
	if by != "" {
		a.By = by
	}
	if logIndex >= 0 {
		a.LogIndex = logIndex
		if logURL != "" {
			a.LogURL = logURL
		}
	}
}

// checkSignatures checks the note's signature lines and the bundle over
// the body. It returns who signed ("" unsigned) and the bundle's log index
// (-1 none). A signature that does not verify is an error; one that cannot
// be checked here is a note.
func (c *checker) checkSignatures(text, body []byte, sigs int, bundleJSON []byte) (by string, logIndex int64, err error) {
	logIndex = -1
	t := c.o.Trust
	var bundleKey *Key
	if len(bundleJSON) > 0 {
		facts, err := checkBundle(bundleJSON, artifact{data: body}, t)
		switch {
		case errors.Is(err, errUncheckable):
			c.note("the Sigstore bundle of an anchor %v", err)
		case err != nil:
			return "", -1, fmt.Errorf("the anchor's Sigstore bundle does not verify: %v", err)
		default:
			by, logIndex = facts.By, facts.LogIndex
			if facts.LogNote != "" {
				c.note("an anchor's %s", facts.LogNote)
			}
		}
		bundleKey = bundleSigningKey(bundleJSON)
	}
	if sigs == 0 {
		return by, logIndex, nil
	}
	// The note's own signature: by the anchor key, or by the key the
	// bundle's certificate certifies.
	var verifiers []note.Verifier
	for _, k := range []*Key{t.Key, bundleKey} {
		if k == nil {
			continue
		}
		if v, err := k.noteVerifier(c.origin); err == nil {
			verifiers = append(verifiers, v)
		}
	}
	if len(verifiers) == 0 {
		if by == "" {
			c.note("a signed anchor's note could not be checked: set anchor.publicKey (or anchor.key)")
		}
		return by, logIndex, nil
	}
	n, err := note.Open(text, note.VerifierList(verifiers...))
	if err != nil {
		var unknown *note.UnverifiedNoteError
		if errors.As(err, &unknown) {
			return "", -1, errors.New("the anchor's note is signed by a key that is neither the anchor key nor its bundle's")
		}
		return "", -1, fmt.Errorf("the anchor's note signature does not verify: %v", err)
	}
	if by == "" && t.Key != nil {
		for _, s := range n.Sigs {
			if s.Hash == verifiers[0].KeyHash() {
				by = "key " + t.Key.String()
			}
		}
	}
	return by, logIndex, nil
}

// bundleSigningKey is the public key of a bundle's certificate, for the
// note signature a keyless anchor also carries; nil when there is none.
func bundleSigningKey(raw []byte) *Key {
	var b bundle.Bundle
	if b.UnmarshalJSON(raw) != nil {
		return nil
	}
	vc, err := b.VerificationContent()
	if err != nil || vc.Certificate() == nil {
		return nil
	}
	return &Key{pub: vc.Certificate().PublicKey}
}

// splitNote separates a note's text from its signature block; sigs counts
// the signature lines ("— " lines after the blank line).
func splitNote(text []byte) (body []byte, sigs int) {
	i := bytes.LastIndex(text, []byte("\n\n"))
	if i < 0 {
		return text, 0
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(text[i+2:]), "\n"), "\n") {
		if !strings.HasPrefix(line, "— ") {
			return text, 0
		}
		sigs++
	}
	return text[:i+1], sigs
}

// checkProgress checks every progress mark against its run's rows.
func (c *checker) checkProgress() error {
	runs, err := runFiles(c.o.Dir, progressExt)
	if err != nil {
		return err
	}
	for _, runID := range runs {
		f, err := progressFault(c.ctx, c.db, c.o.Dir, c.origin, c.o.Trust.Key, runID)
		if err != nil {
			return err
		}
		if f != nil {
			c.fault(f)
		}
	}
	return nil
}

// progressFault checks run runID's progress mark (if any) against its
// rows: the run's last result row is the mark's head, or the head before
// the mark's commit (a process killed between writing the mark and
// committing). Rows after it were not written by the auditor.
func progressFault(ctx context.Context, db *ledger.DB, dir, origin string, key *Key, runID int64) (*Fault, error) {
	text, ok, err := readFile(dir, runID, progressExt)
	if err != nil || !ok {
		return nil, err
	}
	bad := func(format string, args ...any) (*Fault, error) {
		return &Fault{RunID: runID, Source: SourceProgress, Reason: fmt.Sprintf(format, args...)}, nil
	}
	body, sigs := splitNote(text)
	p, err := ParseProgress(body)
	switch {
	case err != nil:
		return bad("the progress mark does not parse: %v", err)
	case p.RunID != runID || p.Origin != origin:
		return bad("the progress mark names run %d of %s", p.RunID, p.Origin)
	}
	if key != nil && sigs > 0 {
		if v, err := key.noteVerifier(origin); err == nil {
			if _, err := note.Open(text, note.VerifierList(v)); err != nil {
				return bad("the progress mark's signature does not verify: %v", err)
			}
		}
	}
	last, err := db.LastRowOfRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	// The auditor's rows end at the mark's head when its commit landed,
	// else at the head before it.
	end := p.Before
	if at, ok, err := db.ChainPointAt(ctx, p.After.Seq); err != nil {
		return nil, err
	} else if ok && at == p.After {
		end = p.After
	}
	switch {
	case last == end:
		return nil, nil
	case last.Seq > end.Seq:
		return bad("run %d holds result rows up to seq %d, but the auditor's last commit for it ended at seq %d: rows %d..%d were not written by the auditor",
			runID, last.Seq, end.Seq, end.Seq+1, last.Seq)
	}
	return bad("run %d's last result row is seq %d %s, but the auditor's last commit for it ended at seq %d %s: its rows were changed or deleted",
		runID, last.Seq, orNone(last.Hash), end.Seq, orNone(end.Hash))
}

// CheckResume checks, before an interrupted run is resumed, that its rows
// are the ones the auditor wrote (its progress mark): a resumed run would
// otherwise keep rows forged into it and seal them (SPEC §6). A fault is
// an error naming the run.
func (a *Anchorer) CheckResume(ctx context.Context, db *ledger.DB, runID int64) error {
	a.mu.Lock()
	origin, key := a.origin, a.pkey
	a.mu.Unlock()
	var pub *Key
	if key != nil {
		pub = key.PublicKey()
	}
	f, err := progressFault(ctx, db, a.dir, origin, pub, runID)
	if err != nil {
		return err
	}
	if f != nil {
		return fmt.Errorf("run %d cannot be resumed: %s; the ledger was altered while the run was unfinished (see `evidence-auditd ledger verify`)", runID, f.Reason)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// LogReader reads a logged entry back: the digest (algorithm "sha256" or
// "sha512", lowercase hex) the entry at index in the log at url commits
// to.
type LogReader interface {
	EntryDigest(ctx context.Context, logURL string, index int64) (algorithm, digest string, err error)
}

// readLogs compares every logged anchor with its log entry.
func (c *checker) readLogs() {
	down := map[string]bool{}
	ids := make([]int64, 0, len(c.found))
	for id := range c.found {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		a := c.found[id]
		if a.LogIndex < 0 || a.LogURL == "" {
			continue
		}
		if down[a.LogURL] {
			continue
		}
		alg, got, err := c.o.LogReader.EntryDigest(c.ctx, a.LogURL, a.LogIndex)
		if err != nil {
			// An outage is never tampering; one failure per log is enough
			// to say so.
			c.note("run %d's anchor at %s index %d could not be read back (the log's other entries are not tried): %v", a.RunID, a.LogURL, a.LogIndex, err)
			down[a.LogURL] = true
			continue
		}
		body := Checkpoint{Origin: c.origin, RunID: a.RunID, Rows: a.Rows, Head: a.Head}.Body()
		var want string
		switch alg {
		case "sha256":
			sum := sha256.Sum256(body)
			want = hex.EncodeToString(sum[:])
		case "sha512":
			sum := sha512.Sum512(body)
			want = hex.EncodeToString(sum[:])
		default:
			c.note("run %d's anchor at %s index %d is a %s digest, which this auditor does not compute", a.RunID, a.LogURL, a.LogIndex, alg)
			continue
		}
		if got != want {
			c.fault(&Fault{RunID: a.RunID, Source: SourceLog, Reason: fmt.Sprintf(
				"the log's entry %d at %s is for checkpoint digest %s, not %s: the anchor names another entry", a.LogIndex, a.LogURL, got, want)})
			continue
		}
		a.Sources = append(a.Sources, SourceLog)
	}
}

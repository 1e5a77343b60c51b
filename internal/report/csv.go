package report

import (
	"bufio"
	"encoding/csv"
	"io"
	"strconv"
	"strings"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/escape"
)

// CSVColumns is the header of the CSV report, in order. The order is stable:
// columns are only ever appended.
var CSVColumns = []string{
	"runId", "asOf", "path", "recipe", "profile", "layout", "source", "state",
	"verdict", "class", "group", "age", "attestedAt", "attestedAtSource",
	"signerIdentity", "signerIssuer", "signerClass",
	"bundleDigest", "oci", "predicateType", "rekorLogIndex", "verifiedVia",
	"addedCommit", "addedAt", "removedCommit", "removedAt",
	"phasesPassed", "phasesFailed", "phasesSkipped", "phases",
	"problems", "detail", "hint", "ledgerVerified",
	"archiveState", "archivedAt",
}

// groupNames are the CSV names of the report groups.
var groupNames = [...]string{GroupLost: "lost", GroupInvalid: "invalid", GroupNoVerdict: "no-verdict", GroupHealthy: "healthy"}

// CSV writes one row per pointer (RFC 4180, CRLF line ends, header first),
// by path, for spreadsheets. Unknown values are empty cells. A cell that a
// spreadsheet would read as a formula (starting with =, +, -, @, tab or
// CR) is prefixed with a single quote: pointer files are untrusted input.
// Every cell is escaped by escape.Line first (SPEC §4), so no cell holds a
// control or bidirectional-override character.
func CSV(w io.Writer, s *Snapshot) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true
	if err := cw.Write(CSVColumns); err != nil {
		return err
	}
	rec := make([]string, len(CSVColumns))
	runID, asOf := strconv.FormatInt(s.Run.ID, 10), stamp(s.Run.AsOf)
	// Every row carries whether the ledger verified: a spreadsheet has no
	// header block to put the warning in, and a filtered sheet keeps it.
	verified := strconv.FormatBool(s.Run.LedgerVerified)
	for i := range s.Pointers {
		p := &s.Pointers[i]
		in, r := &p.Info, &p.Result
		var ident, issuer, class string
		if in.Signer != nil {
			ident, issuer, class = in.Signer.Identity, in.Signer.Issuer, in.Signer.Class
		}
		state, removedCommit, removedAt := "live", "", ""
		if in.RemovedCommit != nil {
			state, removedCommit = "removed", *in.RemovedCommit
			if in.RemovedAt != nil {
				removedAt = stamp(*in.RemovedAt)
			}
		}
		attestedAt, attestedSrc := "", ""
		if !r.AttestedAt.IsZero() {
			attestedAt, attestedSrc = stamp(r.AttestedAt), string(r.AttestedAtSource)
		}
		logIndex := ""
		if r.RekorLogIndex >= 0 {
			logIndex = strconv.FormatInt(r.RekorLogIndex, 10)
		}
		addedAt := ""
		if !in.AddedAt.IsZero() {
			addedAt = stamp(in.AddedAt)
		}
		digest := in.BundleDigest
		if digest == "" {
			digest = r.BundleDigest
		}
		passed, failed, skipped := "", "", ""
		if len(r.Phases) > 0 {
			var tp, tf, ts int
			for _, c := range r.Phases {
				tp, tf, ts = tp+c.Passed, tf+c.Failed, ts+c.Skipped
			}
			passed, failed, skipped = strconv.Itoa(tp), strconv.Itoa(tf), strconv.Itoa(ts)
		}
		rec = rec[:0]
		rec = append(rec,
			runID, asOf, in.Path, in.Recipe, in.Profile, in.Layout, in.Source, state,
			string(r.Verdict), string(r.Class), groupNames[GroupOf(r)], string(r.Age), attestedAt, attestedSrc,
			ident, issuer, class,
			digest, in.OCI, in.PredicateType, logIndex, string(r.VerifiedVia),
			in.AddedCommit, addedAt, removedCommit, removedAt,
			passed, failed, skipped, phaseText(r.Phases),
			problemText(in.Problems), r.Detail, r.Hint, verified,
			archiveState(p.Archive), stampOrEmpty(p.Archive.At),
		)
		for j := range rec {
			rec[j] = defuse(escape.Line(rec[j]))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// defuse keeps a spreadsheet from evaluating a cell as a formula.
func defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// problemText renders a pointer's own problems as "class: detail; …".
func problemText(ps []audit.Problem) string {
	if len(ps) == 0 {
		return ""
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Class + ": " + p.Detail
	}
	return strings.Join(parts, "; ")
}

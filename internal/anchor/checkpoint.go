package anchor

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// OriginPrefix opens the origin line of every anchor: the ledger's id
// follows it.
const OriginPrefix = "evidence-auditd.dev/ledger/"

// Origin is the origin line, and signed-note key name, of the anchors of
// the ledger with id ledgerID.
func Origin(ledgerID string) string { return OriginPrefix + ledgerID }

// Checkpoint is the body of an anchor: which ledger, which run, how many
// result rows the run's seal covers and the seal itself (the run's ledger
// head). Its text form is
//
//	evidence-auditd.dev/ledger/<ledger id>
//	run <run id>
//	rows <rows>
//	head sha256:<hex>
//
// each line ending in a newline, as a C2SP signed note's text must.
type Checkpoint struct {
	Origin string
	RunID  int64
	Rows   int64
	Head   string
}

// Body is the checkpoint's text, the signed message of its note.
func (c Checkpoint) Body() []byte {
	return fmt.Appendf(nil, "%s\nrun %d\nrows %d\nhead %s\n", c.Origin, c.RunID, c.Rows, c.Head)
}

var (
	headPattern   = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	originPattern = regexp.MustCompile(`^` + regexp.QuoteMeta(OriginPrefix) + `[0-9a-f]{32}$`)
)

// ParseCheckpoint reads a checkpoint body (exactly Body's form).
func ParseCheckpoint(body []byte) (Checkpoint, error) {
	lines, err := bodyLines(body, 4)
	if err != nil {
		return Checkpoint{}, err
	}
	c := Checkpoint{Origin: lines[0]}
	if !originPattern.MatchString(c.Origin) {
		return Checkpoint{}, fmt.Errorf("checkpoint origin %q: want %s<32 hex>", c.Origin, OriginPrefix)
	}
	if c.RunID, err = intField(lines[1], "run"); err != nil {
		return Checkpoint{}, err
	}
	if c.Rows, err = intField(lines[2], "rows"); err != nil {
		return Checkpoint{}, err
	}
	var ok bool
	if c.Head, ok = strings.CutPrefix(lines[3], "head "); !ok || !headPattern.MatchString(c.Head) {
		return Checkpoint{}, fmt.Errorf("checkpoint line 4 %q: want head sha256:<64 hex>", lines[3])
	}
	return c, nil
}

// checkpointOf is the checkpoint of a sealed run.
func checkpointOf(ledgerID string, s ledger.Seal) Checkpoint {
	return Checkpoint{Origin: Origin(ledgerID), RunID: s.RunID, Rows: s.Rows, Head: s.Head}
}

// Progress is the body of an unfinished run's progress mark: the result
// chain head the auditor's last commit for the run made (After) and the
// head before that commit (Before) — a process killed between writing the
// mark and committing leaves the chain at Before. Its text form is
//
//	evidence-auditd.dev/ledger/<ledger id>
//	progress of run <run id>
//	rows <after seq>
//	head sha256:<hex>
//	before <before seq> <sha256:hex, or "-" before the first row>
type Progress struct {
	Origin        string
	RunID         int64
	After, Before ledger.ChainPoint
}

// Body is the progress mark's text.
func (p Progress) Body() []byte {
	before := p.Before.Hash
	if before == "" {
		before = "-"
	}
	return fmt.Appendf(nil, "%s\nprogress of run %d\nrows %d\nhead %s\nbefore %d %s\n",
		p.Origin, p.RunID, p.After.Seq, p.After.Hash, p.Before.Seq, before)
}

// ParseProgress reads a progress body (exactly Body's form).
func ParseProgress(body []byte) (Progress, error) {
	lines, err := bodyLines(body, 5)
	if err != nil {
		return Progress{}, err
	}
	p := Progress{Origin: lines[0]}
	if !originPattern.MatchString(p.Origin) {
		return Progress{}, fmt.Errorf("progress origin %q: want %s<32 hex>", p.Origin, OriginPrefix)
	}
	if p.RunID, err = intField(lines[1], "progress of run"); err != nil {
		return Progress{}, err
	}
	if p.After.Seq, err = intField(lines[2], "rows"); err != nil {
		return Progress{}, err
	}
	var ok bool
	if p.After.Hash, ok = strings.CutPrefix(lines[3], "head "); !ok || !headPattern.MatchString(p.After.Hash) {
		return Progress{}, fmt.Errorf("progress line 4 %q: want head sha256:<64 hex>", lines[3])
	}
	f := strings.Fields(lines[4])
	if len(f) != 3 || f[0] != "before" {
		return Progress{}, fmt.Errorf("progress line 5 %q: want before <seq> <hash>", lines[4])
	}
	if p.Before.Seq, err = strconv.ParseInt(f[1], 10, 64); err != nil || p.Before.Seq < 0 {
		return Progress{}, fmt.Errorf("progress line 5 %q: seq", lines[4])
	}
	if f[2] != "-" {
		if !headPattern.MatchString(f[2]) {
			return Progress{}, fmt.Errorf("progress line 5 %q: hash", lines[4])
		}
		p.Before.Hash = f[2]
	}
	return p, nil
}

// bodyLines splits a note body into exactly n newline-terminated lines.
func bodyLines(body []byte, n int) ([]string, error) {
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return nil, fmt.Errorf("note body does not end in a newline")
	}
	lines := strings.Split(string(bytes.TrimSuffix(body, []byte("\n"))), "\n")
	if len(lines) != n {
		return nil, fmt.Errorf("note body has %d lines, want %d", len(lines), n)
	}
	return lines, nil
}

func intField(line, name string) (int64, error) {
	v, ok := strings.CutPrefix(line, name+" ")
	n, err := strconv.ParseInt(v, 10, 64)
	if !ok || err != nil || n < 0 || strconv.FormatInt(n, 10) != v {
		return 0, fmt.Errorf("note line %q: want %s <non-negative integer>", line, name)
	}
	return n, nil
}

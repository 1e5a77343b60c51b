package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// The wire form of SPEC §5 (the pointers array sits between recipes and
// changes; JSON writes it). Unknown or absent values are null, never "" or
// 0, so that a consumer can tell "none" from a value: finishedAt of an
// unfinished run, removedCommit of a live pointer, attestedAt when no
// timestamp is known, class of a healthy verdict, rekorLogIndex when the
// log entry is unknown, phases when no predicate was verified.
type jsonReport struct {
	SchemaVersion string       `json:"schemaVersion"`
	Run           jsonRun      `json:"run"`
	PreviousRun   *int64       `json:"previousRun"`
	Summary       jsonSummary  `json:"summary"`
	Recipes       []jsonRecipe `json:"recipes"`
	Changes       []jsonChange `json:"changes"`
	Notes         []string     `json:"notes"`
}

type jsonRun struct {
	ID              int64       `json:"id"`
	StartedAt       string      `json:"startedAt"`
	FinishedAt      *string     `json:"finishedAt"`
	AsOf            string      `json:"asOf"`
	Repo            string      `json:"repo"`
	Ref             string      `json:"ref"`
	Commit          string      `json:"commit"`
	TrustRoot       string      `json:"trustRoot"`
	VerifierVersion string      `json:"verifierVersion"`
	Deep            bool        `json:"deep"`
	LedgerHead      *string     `json:"ledgerHead"`
	LedgerVerified  bool        `json:"ledgerVerified"`
	LedgerProblem   *string     `json:"ledgerProblem"`
	Complete        bool        `json:"complete"`
	Kind            string      `json:"kind"`
	Degraded        bool        `json:"degraded"`
	Anchor          *jsonAnchor `json:"anchor"`
	Archive         *string     `json:"archive"`
}

type jsonAnchor struct {
	Signed   bool   `json:"signed"`
	LogIndex *int64 `json:"logIndex"`
}

type jsonSummary struct {
	Pointers             int          `json:"pointers"`
	Verified             int          `json:"verified"`
	VerifiedWithFailures int          `json:"verifiedWithFailures"`
	Archived             int          `json:"archived"`
	RekorOnly            int          `json:"rekorOnly"`
	Invalid              int          `json:"invalid"`
	NoVerdict            int          `json:"noVerdict"`
	Expiring             int          `json:"expiring"`
	Expired              int          `json:"expired"`
	RecipesNeedingRecert int          `json:"recipesNeedingRecert"`
	ArchiveCoverage      jsonCoverage `json:"archiveCoverage"`
}

// jsonCoverage is the archive coverage (SPEC §5, §9): distinct healthy
// bundles of the run, how many were archived when it finished, and their
// ratio (null when nothing is healthy).
type jsonCoverage struct {
	Archived int      `json:"archived"`
	Healthy  int      `json:"healthy"`
	Ratio    *float64 `json:"ratio"`
}

// jsonArchive is a pointer's bundle in the archive: state archived, pending
// or none, and when it was archived (null unless archived).
type jsonArchive struct {
	State string  `json:"state"`
	At    *string `json:"at"`
}

type jsonRecipe struct {
	Recipe             string     `json:"recipe"`
	NeedsRecert        bool       `json:"needsRecert"`
	Reason             *string    `json:"reason"`
	Undetermined       bool       `json:"undetermined"`
	FreshestAttestedAt *string    `json:"freshestAttestedAt"`
	RoutedVia          *string    `json:"routedVia"`
	Assignees          []string   `json:"assignees"`
	Issue              *jsonIssue `json:"issue"`
}

type jsonIssue struct {
	Number int    `json:"number"`
	URL    string `json:"url"`
	State  string `json:"state"`
}

type jsonPointer struct {
	Path             string                       `json:"path"`
	Recipe           string                       `json:"recipe"`
	Profile          *string                      `json:"profile"`
	Source           string                       `json:"source"`
	Layout           string                       `json:"layout"`
	BundleDigest     string                       `json:"bundleDigest"`
	OCI              string                       `json:"oci"`
	PredicateType    string                       `json:"predicateType"`
	Signer           *audit.SignerInfo            `json:"signer"`
	AddedCommit      string                       `json:"addedCommit"`
	AddedAt          *string                      `json:"addedAt"`
	RemovedCommit    *string                      `json:"removedCommit"`
	RemovedAt        *string                      `json:"removedAt"`
	Problems         []audit.Problem              `json:"problems"`
	AttestedAt       *string                      `json:"attestedAt"`
	AttestedAtSource *string                      `json:"attestedAtSource"`
	Age              *string                      `json:"age"`
	Verdict          string                       `json:"verdict"`
	Class            *string                      `json:"class"`
	Detail           string                       `json:"detail"`
	Hint             *string                      `json:"hint"`
	VerifiedVia      string                       `json:"verifiedVia"`
	RekorLogIndex    *int64                       `json:"rekorLogIndex"`
	Archive          jsonArchive                  `json:"archive"`
	Phases           map[string]audit.PhaseCounts `json:"phases"`
}

type jsonChange struct {
	Path string  `json:"path"`
	From *string `json:"from"`
	To   string  `json:"to"`
}

// JSON writes the snapshot as the SPEC §5 report: indented, keys in a fixed
// order, pointers by path. The schema is docs/report.schema.json. The
// bytes are those of encoding/json's indented form of the whole document,
// but the pointer rows are streamed one by one, so a large run is never
// held twice in memory.
func JSON(w io.Writer, s *Snapshot) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	r := toJSON(s)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("  ", "  ")
	// value writes v as a member of the top-level object.
	value := func(name string, v any, last bool) error {
		buf.Reset()
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("encode %s: %w", name, err)
		}
		bw.WriteString("  \"" + name + "\": ")
		bw.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		if !last {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
		return nil
	}
	bw.WriteString("{\n")
	for _, m := range []struct {
		name string
		v    any
	}{{"schemaVersion", r.SchemaVersion}, {"run", r.Run}, {"previousRun", r.PreviousRun}, {"summary", r.Summary}, {"recipes", r.Recipes}} {
		if err := value(m.name, m.v, false); err != nil {
			return err
		}
	}
	if len(s.Pointers) == 0 {
		bw.WriteString("  \"pointers\": [],\n")
	} else {
		enc.SetIndent("    ", "  ")
		bw.WriteString("  \"pointers\": [\n")
		for i := range s.Pointers {
			buf.Reset()
			if err := enc.Encode(pointerJSON(&s.Pointers[i])); err != nil {
				return fmt.Errorf("encode pointer %s: %w", s.Pointers[i].Info.Path, err)
			}
			bw.WriteString("    ")
			bw.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
			if i < len(s.Pointers)-1 {
				bw.WriteByte(',')
			}
			bw.WriteByte('\n')
		}
		bw.WriteString("  ],\n")
		enc.SetIndent("  ", "  ")
	}
	if err := value("changes", r.Changes, false); err != nil {
		return err
	}
	if err := value("notes", r.Notes, true); err != nil {
		return err
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

// toJSON builds the wire form of everything but the pointer rows, which
// JSON streams.
func toJSON(s *Snapshot) *jsonReport {
	r := &jsonReport{
		SchemaVersion: SchemaVersion,
		Run: jsonRun{
			ID: s.Run.ID, StartedAt: stamp(s.Run.StartedAt), FinishedAt: stampOrNull(s.Run.FinishedAt),
			AsOf: stamp(s.Run.AsOf), Repo: s.Run.Repo, Ref: s.Run.Ref, Commit: s.Run.Commit,
			TrustRoot: s.Run.TrustRoot, VerifierVersion: s.Run.VerifierVersion, Deep: s.Run.Deep,
			LedgerHead: strOrNull(s.Run.LedgerHead), LedgerVerified: s.Run.LedgerVerified,
			LedgerProblem: strOrNull(s.Run.LedgerProblem), Complete: s.Run.Complete,
			Kind: runKind(s.Run.Kind), Degraded: s.Run.Degraded,
		},
		Summary: jsonSummary{
			Pointers: s.Summary.Pointers, Verified: s.Summary.Verified,
			VerifiedWithFailures: s.Summary.VerifiedWithFailures, Archived: s.Summary.Archived, RekorOnly: s.Summary.RekorOnly,
			Invalid: s.Summary.Invalid, NoVerdict: s.Summary.NoVerdict, Expiring: s.Summary.Expiring,
			Expired: s.Summary.Expired, RecipesNeedingRecert: s.Summary.RecipesNeedingRecert,
			ArchiveCoverage: jsonCoverage{Archived: s.Archive.Coverage.Archived, Healthy: s.Archive.Coverage.Healthy},
		},
		Recipes: make([]jsonRecipe, 0, len(s.Recipes)),
		Changes: make([]jsonChange, 0, len(s.Changes)),
		Notes:   append([]string{}, s.Notes...),
	}
	r.Run.Archive = strOrNull(s.Archive.Store)
	if ratio, ok := s.Archive.Coverage.Ratio(); ok {
		r.Summary.ArchiveCoverage.Ratio = &ratio
	}
	if s.Previous != nil {
		id := s.Previous.ID
		r.PreviousRun = &id
	}
	if a := s.Run.Anchor; a != nil {
		r.Run.Anchor = &jsonAnchor{Signed: a.Signed}
		if a.LogIndex >= 0 {
			idx := a.LogIndex
			r.Run.Anchor.LogIndex = &idx
		}
	}
	for _, rc := range s.Recipes {
		jr := jsonRecipe{
			Recipe: rc.Recipe, NeedsRecert: rc.NeedsRecert, Reason: strOrNull(rc.Reason),
			Undetermined: rc.Undetermined, FreshestAttestedAt: stampOrNull(rc.FreshestAttestedAt),
			RoutedVia: strOrNull(rc.RoutedVia), Assignees: append([]string{}, rc.Assignees...),
		}
		if rc.Issue != nil {
			jr.Issue = &jsonIssue{Number: rc.Issue.Number, URL: rc.Issue.URL, State: rc.Issue.State}
		}
		r.Recipes = append(r.Recipes, jr)
	}
	for _, c := range s.Changes {
		r.Changes = append(r.Changes, jsonChange{Path: c.Path, From: strOrNull(string(c.From)), To: string(c.To)})
	}
	return r
}

func pointerJSON(p *Pointer) jsonPointer {
	in, res := &p.Info, &p.Result
	jp := jsonPointer{
		Path: in.Path, Recipe: in.Recipe, Profile: strOrNull(in.Profile), Source: in.Source, Layout: in.Layout,
		BundleDigest: in.BundleDigest, OCI: in.OCI, PredicateType: in.PredicateType, Signer: in.Signer,
		AddedCommit: in.AddedCommit, AddedAt: stampOrNull(in.AddedAt), RemovedCommit: in.RemovedCommit,
		Problems:   in.Problems,
		AttestedAt: stampOrNull(res.AttestedAt), Age: strOrNull(string(res.Age)),
		Verdict: string(res.Verdict), Class: strOrNull(string(res.Class)), Detail: res.Detail,
		Hint: strOrNull(res.Hint), VerifiedVia: string(res.VerifiedVia), Phases: res.Phases,
		Archive: jsonArchive{State: archiveState(p.Archive), At: stampOrNull(p.Archive.At)},
	}
	if in.RemovedAt != nil {
		jp.RemovedAt = stampOrNull(*in.RemovedAt)
	}
	if jp.AttestedAt != nil {
		jp.AttestedAtSource = strOrNull(string(res.AttestedAtSource))
	}
	if jp.BundleDigest == "" {
		jp.BundleDigest = res.BundleDigest
	}
	if res.RekorLogIndex >= 0 {
		idx := res.RekorLogIndex
		jp.RekorLogIndex = &idx
	}
	if jp.VerifiedVia == "" {
		jp.VerifiedVia = string(audit.ViaNone)
	}
	if len(jp.Phases) == 0 {
		jp.Phases = nil
	}
	return jp
}

// stamp formats t as RFC 3339 in UTC, with the fraction only when there is
// one.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func stampOrNull(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := stamp(t)
	return &s
}

func strOrNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// runKind is the SPEC §5 run kind: "audit" or "what-if".
func runKind(k string) string {
	if k == ledger.KindWhatIf {
		return k
	}
	return ledger.KindAudit
}

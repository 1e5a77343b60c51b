package anchor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/report"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

// SnapshotPredicateType is the predicate type of a signed compliance
// snapshot (SPEC §10).
const SnapshotPredicateType = "https://evidence-auditd.dev/compliance-snapshot/v1"

// inTotoStatementType is the in-toto Statement v1 type.
const inTotoStatementType = "https://in-toto.io/Statement/v1"

// SnapshotPredicate is what a signed snapshot states about the run its
// report was rendered from. Someone with only the report and its bundle
// learns from it which ledger, run and head the report claims to come from,
// and with the ledger can check that claim (MatchSnapshot).
type SnapshotPredicate struct {
	RunID       int64  `json:"runId"`
	Kind        string `json:"kind"`
	AsOf        string `json:"asOf"`
	Repository  string `json:"repository"`
	Ref         string `json:"ref"`
	Commit      string `json:"commit"`
	TrustedRoot string `json:"trustedRoot"`
	Complete    bool   `json:"complete"`
	// LedgerID, LedgerHead and LedgerRows name the ledger and the run's
	// seal (its ledger head) over that many result rows.
	LedgerID   string `json:"ledgerId"`
	LedgerHead string `json:"ledgerHead"`
	LedgerRows int64  `json:"ledgerRows"`
	// Anchor is the run's anchor as checked when the report was signed;
	// nil when the run has none.
	Anchor *SnapshotAnchor `json:"anchor"`
	// Summary is the report's summary (SPEC §5).
	Summary SnapshotSummary `json:"summary"`
	// Format is the report's format (markdown, json, csv, html).
	Format string `json:"format"`
}

// SnapshotAnchor is a run's anchor in a snapshot predicate.
type SnapshotAnchor struct {
	Signed   bool   `json:"signed"`
	SignedBy string `json:"signedBy,omitempty"`
	LogURL   string `json:"logUrl,omitempty"`
	LogIndex *int64 `json:"logIndex"`
}

// SnapshotSummary is SPEC §5's summary.
type SnapshotSummary struct {
	Pointers             int `json:"pointers"`
	Verified             int `json:"verified"`
	VerifiedWithFailures int `json:"verifiedWithFailures"`
	RekorOnly            int `json:"rekorOnly"`
	Invalid              int `json:"invalid"`
	NoVerdict            int `json:"noVerdict"`
	Expiring             int `json:"expiring"`
	Expired              int `json:"expired"`
	RecipesNeedingRecert int `json:"recipesNeedingRecert"`
}

func summaryOf(s report.Summary) SnapshotSummary {
	return SnapshotSummary{
		Pointers: s.Pointers, Verified: s.Verified, VerifiedWithFailures: s.VerifiedWithFailures, RekorOnly: s.RekorOnly,
		Invalid: s.Invalid, NoVerdict: s.NoVerdict, Expiring: s.Expiring, Expired: s.Expired, RecipesNeedingRecert: s.RecipesNeedingRecert,
	}
}

type statement struct {
	Type          string            `json:"_type"`
	Subject       []subject         `json:"subject"`
	PredicateType string            `json:"predicateType"`
	Predicate     SnapshotPredicate `json:"predicate"`
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// SnapshotPredicateOf builds the predicate of the report of snap, rendered
// in format, whose run is sealed with seal in the ledger ledgerID and
// anchored as a (nil: not anchored).
func SnapshotPredicateOf(snap *report.Snapshot, format report.Format, ledgerID string, seal ledger.Seal, a *RunAnchor) SnapshotPredicate {
	p := SnapshotPredicate{
		RunID: snap.Run.ID, Kind: snap.Run.Kind, AsOf: snap.Run.AsOf.UTC().Format(time.RFC3339Nano),
		Repository: snap.Run.Repo, Ref: snap.Run.Ref, Commit: snap.Run.Commit, TrustedRoot: snap.Run.TrustRoot,
		Complete: snap.Run.Complete, LedgerID: ledgerID, LedgerHead: seal.Head, LedgerRows: seal.Rows,
		Summary: summaryOf(snap.Summary), Format: string(format),
	}
	if a != nil {
		p.Anchor = &SnapshotAnchor{Signed: a.By != "", SignedBy: a.By, LogURL: a.LogURL}
		if a.LogIndex >= 0 {
			idx := a.LogIndex
			p.Anchor.LogIndex = &idx
		}
	}
	return p
}

// SnapshotStatement is the in-toto statement of a signed report: its
// subject the report file (name, sha256 of its bytes), its predicate p.
func SnapshotStatement(name string, reportBytes []byte, p SnapshotPredicate) ([]byte, error) {
	sum := sha256.Sum256(reportBytes)
	return json.Marshal(statement{
		Type:          inTotoStatementType,
		Subject:       []subject{{Name: name, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}}},
		PredicateType: SnapshotPredicateType,
		Predicate:     p,
	})
}

// ErrSnapshotMismatch: a report does not hold — its signature, signer or
// subject, or its claim about the ledger (verify-report exits 3).
var ErrSnapshotMismatch = errors.New("report does not verify")

func mismatch(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSnapshotMismatch, fmt.Sprintf(format, args...))
}

// SnapshotVerification is what VerifySnapshot established.
type SnapshotVerification struct {
	// Digest is "sha256:<hex>" of the report, the statement's subject.
	Digest string
	// By says who signed: "key …" or "keyless <identity> (issuer …)".
	By string
	// LogIndex is the bundle's transparency-log index; -1 when not logged.
	LogIndex int64
	// SignedAt is the trusted time of the signature (log or timestamp);
	// zero when none is proven.
	SignedAt  time.Time
	Predicate SnapshotPredicate
}

// VerifySnapshot checks a signed report: the bundle's signature and signer
// against t (keyless with a log entry through internal/verify's
// VerifySignature when sv is given and t names the identity), and that the
// signed statement is a compliance snapshot whose subject is these report
// bytes. Any failure is ErrSnapshotMismatch.
func VerifySnapshot(reportBytes, bundleJSON []byte, t Trust, sv *verify.Verifier) (*SnapshotVerification, error) {
	sum := sha256.Sum256(reportBytes)
	out := &SnapshotVerification{Digest: "sha256:" + hex.EncodeToString(sum[:]), LogIndex: -1}
	var payload []byte
	if sv != nil && t.Identity != "" && keylessLogged(bundleJSON) {
		res := sv.VerifySignature(bundleJSON, verify.ExpectedSigner{Identity: t.Identity, Issuer: t.Issuer})
		if res.Verdict != audit.Verified {
			return nil, mismatch("the bundle does not verify (%s): %s", res.Class, res.Detail)
		}
		payload, out.LogIndex, out.SignedAt = res.Payload, res.LogIndex, res.ObserverTime
		out.By = fmt.Sprintf("keyless %s (issuer %s)", res.Identity, res.Issuer)
	} else {
		facts, err := checkBundle(bundleJSON, artifact{sha256: sum[:]}, t)
		if errors.Is(err, errUncheckable) {
			return nil, fmt.Errorf("the report's signature %w", err)
		}
		if err != nil {
			return nil, mismatch("the bundle does not verify: %v", err)
		}
		payload, out.By, out.LogIndex, out.SignedAt = facts.Statement, facts.By, facts.LogIndex, facts.Time
	}
	if payload == nil {
		return nil, mismatch("the bundle holds no in-toto statement")
	}
	var st statement
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&st); err != nil {
		return nil, mismatch("the signed statement does not parse: %v", err)
	}
	if st.Type != inTotoStatementType || st.PredicateType != SnapshotPredicateType {
		return nil, mismatch("the signed statement is a %s of %s, not a compliance snapshot (%s)", st.Type, st.PredicateType, SnapshotPredicateType)
	}
	if len(st.Subject) != 1 || st.Subject[0].Digest["sha256"] != hex.EncodeToString(sum[:]) {
		got := "none"
		if len(st.Subject) > 0 {
			got = "sha256:" + st.Subject[0].Digest["sha256"]
		}
		return nil, mismatch("the report is not the one signed: it is %s, the signature is over %s (the report was edited after signing)", out.Digest, got)
	}
	out.Predicate = st.Predicate
	return out, nil
}

// keylessLogged reports whether a bundle carries a certificate and a log
// entry: the shape VerifySignature checks.
func keylessLogged(raw []byte) bool {
	var b struct {
		VerificationMaterial struct {
			Certificate json.RawMessage   `json:"certificate"`
			TlogEntries []json.RawMessage `json:"tlogEntries"`
		} `json:"verificationMaterial"`
	}
	return json.Unmarshal(raw, &b) == nil && len(b.VerificationMaterial.Certificate) > 0 && len(b.VerificationMaterial.TlogEntries) > 0
}

// SnapshotMatch is what MatchSnapshot found.
type SnapshotMatch struct {
	// Check is the ledger checked against its anchors.
	Check *Report
	// Anchored: the run's head matches a verified anchor.
	Anchored bool
	// Identical: the report re-renders byte for byte from the ledger.
	// Reports show issue states and removals as the ledger knows them
	// when rendered, so a report signed before a later issue sync
	// re-renders differently without being wrong: said, not failed.
	Identical bool
	Notes     []string
}

// MatchSnapshot checks a verified snapshot against the ledger: the ledger
// and its anchors hold up to the run, the run's sealed head is the signed
// one, and the run's facts and summary are those signed. A mismatch is
// ErrSnapshotMismatch; other errors mean the ledger could not be read.
func MatchSnapshot(ctx context.Context, db *ledger.DB, reportBytes []byte, p SnapshotPredicate, o CheckOptions) (*SnapshotMatch, error) {
	rep, err := Check(ctx, db, o)
	if err != nil {
		return nil, err
	}
	m := &SnapshotMatch{Check: rep}
	id, err := db.ID(ctx)
	if err != nil {
		return nil, err
	}
	if id != p.LedgerID {
		return m, mismatch("the report is of ledger %s, this ledger is %s", p.LedgerID, id)
	}
	if f := rep.FirstBad; f != nil && f.RunID <= p.RunID {
		return m, mismatch("the ledger does not hold up to run %d: %s", p.RunID, f)
	} else if f != nil {
		m.Notes = append(m.Notes, fmt.Sprintf("the ledger is damaged after run %d (%s); the report's run is not", p.RunID, f))
	}
	seal, ok, err := db.Seal(ctx, p.RunID)
	if err != nil {
		return m, err
	}
	if !ok {
		return m, mismatch("the ledger holds no sealed run %d", p.RunID)
	}
	if seal.Head != p.LedgerHead || seal.Rows != p.LedgerRows {
		return m, mismatch("the report was signed over run %d's head %s (%d rows); the ledger's is %s (%d rows)", p.RunID, p.LedgerHead, p.LedgerRows, seal.Head, seal.Rows)
	}
	for _, a := range rep.Anchors {
		if a.RunID == p.RunID && a.Head == seal.Head {
			m.Anchored = true
		}
	}
	if p.Anchor != nil && !m.Anchored {
		return m, mismatch("the report says run %d was anchored, but no anchor of it can be read", p.RunID)
	}
	snap, err := report.Load(ctx, db, p.RunID)
	if err != nil {
		return m, err
	}
	want := SnapshotPredicateOf(snap, report.Format(p.Format), id, seal, nil)
	for _, f := range []struct{ name, got, want string }{
		{"kind", p.Kind, want.Kind}, {"asOf", p.AsOf, want.AsOf}, {"repository", p.Repository, want.Repository},
		{"ref", p.Ref, want.Ref}, {"commit", p.Commit, want.Commit}, {"trustedRoot", p.TrustedRoot, want.TrustedRoot},
	} {
		if f.got != f.want {
			return m, mismatch("the report says run %d's %s is %q; the ledger says %q", p.RunID, f.name, f.got, f.want)
		}
	}
	if p.Complete != want.Complete || p.Summary != want.Summary {
		return m, mismatch("the report's summary of run %d (%+v, complete %v) is not the ledger's (%+v, complete %v)", p.RunID, p.Summary, p.Complete, want.Summary, want.Complete)
	}
	f, err := report.ParseFormat(p.Format)
	if err != nil {
		return m, mismatch("the report's format %q: %v", p.Format, err)
	}
	var buf bytes.Buffer
	if err := report.Render(&buf, snap, f); err != nil {
		return m, err
	}
	m.Identical = bytes.Equal(buf.Bytes(), reportBytes)
	if !m.Identical {
		m.Notes = append(m.Notes, fmt.Sprintf("the report differs from a %s rendering of run %d now: issue states and pointer removals recorded since it was signed change what a report shows; its signed facts and summary match", p.Format, p.RunID))
	}
	return m, nil
}

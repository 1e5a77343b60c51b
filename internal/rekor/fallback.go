package rekor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// CheckCache names the fallback's use of the ledger's cached bundle; the
// offline checks themselves are verify's, prefixed with CachedPrefix.
const (
	CheckCache   = "rekor-cache"
	CachedPrefix = "cached-"
)

const notProvenStatement = "the statement itself (the log's entry holds only its hash, so the predicate — recipe, phases, attestedAt — is unverified) and the summary bundle's files"

const lostHint = "re-publish the bundle (same digest) to restore verifiable evidence, or re-certify the recipe"

// Prove decides a pointer whose bundle the registry no longer serves (lost
// wraps audit.ErrGone or audit.ErrForbidden) from what the transparency log
// still shows (SPEC §1.3, §3; DESIGN "rekor fallback"):
//
//  1. With a cached bundle in the ledger: re-verify it offline against the
//     trusted root and the pointer; fetch its entry from the log (by index;
//     over the tile API for a Rekor v2 entry) and prove it is still there,
//     under a checkpoint fetched now and signed by the log, and that it is
//     the cached bundle's entry (same body: certificate, payload hash,
//     signature).
//  2. Without one: fetch the entry the pointer's rekorLogIndex names, or the
//     candidates the index search lists for the bundle digest; check body
//     against UUID, inclusion proof, checkpoint and SET against the log key,
//     certificate chain at the integrated time, identity and issuer; and
//     confirm through the index search that the entry is the one for this
//     digest.
//
// The verdict is rekor-only (detail says what was proven and what was not),
// invalid/not-found (nothing proves the entry), invalid/signature (the log
// served an entry or proof that does not verify), invalid/identity (the
// entry is signed by someone else), or no-verdict/transient (the log could
// not be reached after retries).
func (l *Log) Prove(ctx context.Context, want audit.Expectation, lost error) audit.Verification {
	p := &prover{l: l, want: want, lost: lost}
	if want.Pointer == nil || len(want.Pointer.Attestations) != 1 {
		return p.invalid(&failure{class: audit.ClassSchema, check: CheckEntry, detail: "the pointer names no single attestation"})
	}
	att := want.Pointer.Attestations[0]
	if att.Signer == nil {
		return p.invalid(fail(audit.ClassSignature, CheckIdentity, "the pointer names no signer: nothing to prove from the log"))
	}
	if l.cfg.store != nil && l.cfg.cached != nil {
		cb, ok, err := l.cfg.store.CachedBundle(ctx, att.Bundle.Digest)
		switch {
		case err != nil:
			p.check(CheckCache, audit.CheckWarn, "the ledger's cache could not be read (%v); proving from the log alone", err)
		case ok:
			if v, decided := p.fromCache(ctx, cb); decided {
				return v
			}
		default:
			p.check(CheckCache, audit.CheckSkip, "no cached bundle: the ledger never verified %s", att.Bundle.Digest)
		}
	}
	return p.fromLog(ctx)
}

// prover carries one Prove.
type prover struct {
	l      *Log
	want   audit.Expectation
	lost   error
	checks []audit.Check
}

func (p *prover) check(name string, status audit.CheckStatus, format string, args ...any) {
	p.checks = append(p.checks, audit.Check{Name: name, Status: status, Detail: fmt.Sprintf(format, args...)})
}

func (p *prover) invalid(f *failure) audit.Verification {
	if f.class == audit.ClassNotFound {
		f.detail += p.l.v2Note()
	}
	p.check(f.check, audit.CheckFail, "%s", f.detail)
	class := f.class
	if class == audit.ClassNotFound && errors.Is(p.lost, audit.ErrForbidden) {
		// Nothing proves the evidence and the registry refuses access: say
		// forbidden, as without a fallback (SPEC §3).
		class = audit.ClassForbidden
	}
	v := audit.Verification{Verdict: audit.Invalid, Class: class, LogIndex: -1, Checks: p.checks}
	v.Detail = fmt.Sprintf("the registry no longer serves the bundle (%v) and the transparency log does not prove it: %s", p.lost, f.detail)
	switch {
	case f.hint != "":
		v.Hint = f.hint
	case class == audit.ClassNotFound, class == audit.ClassForbidden:
		v.Hint = lostHint
	case class == audit.ClassIdentity:
		v.Hint = "the log's entry is signed by another identity than the pointer names: treat the pointer as suspect"
	default:
		v.Hint = "the log served an entry or proof that does not verify against the trusted root: check trust.trustedRoot and rekor.url, then treat the evidence as suspect"
	}
	return v
}

func (p *prover) noVerdict(err error) audit.Verification {
	detail := fmt.Sprintf("the registry no longer serves the bundle (%v) and the transparency log could not be consulted, retried next run: %v", p.lost, err)
	p.check(CheckEntry, audit.CheckFail, "%v", err)
	class := audit.ClassTransient
	if errors.Is(err, context.Canceled) {
		class = audit.ClassCanceled
	}
	return audit.Verification{Verdict: audit.NoVerdict, Class: class, Detail: detail, LogIndex: -1, Checks: p.checks}
}

// fetchFailure turns an error fetching an entry into a verdict: not found
// is a finding, anything else proves nothing.
func (p *prover) fetchFailure(err error, notFound string) audit.Verification {
	if errors.Is(err, ErrNotFound) {
		return p.invalid(fail(audit.ClassNotFound, CheckEntry, "%s", notFound))
	}
	return p.noVerdict(err)
}

// fromCache is path 1. decided is false when the cache cannot be used (a
// legacy cosign form) and the log alone must decide.
func (p *prover) fromCache(ctx context.Context, cb audit.CachedBundle) (audit.Verification, bool) {
	first := cb.VerifiedAt.UTC().Format("2006-01-02")
	// A cached bundle whose log the trusted root does not name cannot be
	// re-verified; say which log, rather than let the offline check read
	// as an altered bundle (SPEC §3).
	var parsed bundle.Bundle
	if err := parsed.UnmarshalJSON(cb.BundleJSON); err == nil {
		var unknown *tlogEntryRef
		known := false
		for _, t := range parsed.GetVerificationMaterial().GetTlogEntries() {
			if _, ok := p.l.trust.RekorLogs()[hex.EncodeToString(t.GetLogId().GetKeyId())]; ok {
				known = true
			} else if unknown == nil {
				unknown = refOf(t)
			}
		}
		if !known && unknown != nil {
			return p.invalid(unknownLog(unknown)), true
		}
	}
	off := p.l.cfg.cached.VerifyCached(cb.BundleJSON, p.want)
	for _, c := range off.Checks {
		c.Name = CachedPrefix + c.Name
		p.checks = append(p.checks, c)
	}
	if off.Verdict == audit.Invalid {
		if len(off.Checks) > 0 && off.Checks[0].Status == audit.CheckFail && off.Checks[0].Name == "bundle-parse" {
			p.check(CheckCache, audit.CheckWarn, "the cached signature (verified %s) is not a Sigstore bundle: proving from the log alone", first)
			return audit.Verification{}, false
		}
		v := audit.Verification{Verdict: audit.Invalid, Class: off.Class, LogIndex: -1, Checks: p.checks, Hint: off.Hint}
		v.Detail = fmt.Sprintf("the registry no longer serves the bundle (%v), and the ledger's cached copy (verified %s) no longer verifies: %s", p.lost, first, off.Detail)
		return v, true
	}
	p.check(CheckCache, audit.CheckPass, "the ledger's cached bundle (verified %s) re-verified offline against the trusted root", first)

	var b bundle.Bundle
	if err := b.UnmarshalJSON(cb.BundleJSON); err != nil { // verified above; cannot fail
		return p.invalid(fail(audit.ClassSignature, CheckCache, "cached bundle: %v", err)), true
	}
	var tle *tlogEntryRef
	for _, t := range b.GetVerificationMaterial().GetTlogEntries() {
		if t.GetLogIndex() == off.LogIndex {
			tle = refOf(t)
			break
		}
	}
	if tle == nil {
		return p.invalid(fail(audit.ClassSignature, CheckCache, "the cached bundle has no entry at index %d", off.LogIndex)), true
	}
	env := b.GetDsseEnvelope()
	payloadHash := sha256.Sum256(env.GetPayload())
	want := bodyFacts{
		uuid:        hex.EncodeToString(rfc6962.DefaultHasher.HashLeaf(tle.body)),
		certDER:     leafDER(&b),
		payloadHash: hex.EncodeToString(payloadHash[:]),
		signature:   env.GetSignatures()[0].GetSig(),
	}
	if tle.v2 {
		return p.fromCacheTiles(ctx, cb, off, tle, want), true
	}

	e, err := p.l.entryByIndex(ctx, tle.index)
	if err != nil {
		return p.fetchFailure(err, fmt.Sprintf("the cached bundle's entry %d is no longer served by the log at %s: %v", tle.index, p.l.url, err)), true
	}
	pr, f := p.l.verifyEntry(ctx, e, p.want, &p.checks)
	if f != nil {
		return p.invalid(f), true
	}
	if f := matchBody(e, tle, want); f != nil {
		return p.invalid(f), true
	}
	p.check(CheckBodyMatch, audit.CheckPass, "the log's entry %d is the cached bundle's: same body (UUID %s…), certificate, payload hash and signature",
		e.Index, shortHex(e.UUID))
	p.record(ctx, pr.origin, seenCheckpoint{kind: kindV1, url: p.l.url, size: pr.treeSize, root: e.Checkpoint.Hash, raw: checkpointText(e)})

	v := p.rekorOnly(e.Index, e.LogID, e.IntegratedTime)
	v.Statement, v.StatementJSON, v.BundleJSON = off.Statement, cb.StatementJSON, cb.BundleJSON
	v.Phases, v.SignedAt = off.Phases, off.SignedAt
	v.Detail = fmt.Sprintf("the registry no longer serves the bundle (%v). Proven from the ledger's cached Sigstore bundle (verified %s), "+
		"re-verified offline against the trusted root: DSSE signature, certificate chain, signer %s (issuer %s), subject digest %s, predicate; "+
		"and from the log at %s: entry %d is still in it (inclusion proof against checkpoint %q of %d entries fetched now and signed by the log key, "+
		"signed entry timestamp, integrated %s) and is the cached bundle's entry (same certificate, payload hash and signature). "+
		"Not proven: the summary bundle's files (manifest, inventory, CTRF reports) — the bytes are gone.",
		p.lost, first, pr.signer, pr.issuer, cb.Digest, p.l.url, e.Index, pr.origin, pr.treeSize, e.IntegratedTime.Format(time.RFC3339))
	return v, true
}

// leafDER is the signing certificate of a cached bundle: a v0.3 bundle
// carries it alone, the bundle form of a legacy cosign attestation (and a
// v0.1/v0.2 bundle) as the first of a chain.
func leafDER(b *bundle.Bundle) []byte {
	vm := b.GetVerificationMaterial()
	if c := vm.GetCertificate(); c != nil {
		return c.GetRawBytes()
	}
	if chain := vm.GetX509CertificateChain().GetCertificates(); len(chain) > 0 {
		return chain[0].GetRawBytes()
	}
	return nil
}

// bodyFacts are what a cached bundle says its log entry holds.
type bodyFacts struct {
	uuid        string
	certDER     []byte
	payloadHash string
	signature   []byte
}

// matchBody checks that the log's entry is the cached bundle's entry.
func matchBody(e *entry, tle *tlogEntryRef, want bodyFacts) *failure {
	var diffs []string
	if e.UUID != want.uuid {
		diffs = append(diffs, fmt.Sprintf("body (UUID %s…, the cached entry's is %s…)", shortHex(e.UUID), shortHex(want.uuid)))
	}
	if !strings.EqualFold(e.LogID, tle.logID) {
		diffs = append(diffs, fmt.Sprintf("log (%s…, the cached entry's is %s…)", shortHex(e.LogID), shortHex(tle.logID)))
	}
	if !sameCert(e.Cert, want.certDER) {
		diffs = append(diffs, "certificate")
	}
	if e.PayloadHash != "" && e.PayloadHash != want.payloadHash {
		diffs = append(diffs, fmt.Sprintf("payload hash (%s…, the cached statement's is %s…)", shortHex(e.PayloadHash), shortHex(want.payloadHash)))
	}
	if e.Signature != nil && string(e.Signature) != string(want.signature) {
		diffs = append(diffs, "signature")
	}
	if len(diffs) == 0 {
		return nil
	}
	return fail(audit.ClassSignature, CheckBodyMatch, "the log's entry %d differs from the cached bundle's in its %s", e.Index, strings.Join(diffs, ", "))
}

// fromLog is path 2: no usable cache.
func (p *prover) fromLog(ctx context.Context) audit.Verification {
	att := p.want.Pointer.Attestations[0]
	digest := att.Bundle.Digest
	if idx := att.Signer.RekorLogIndex; idx != nil {
		e, err := p.l.entryByIndex(ctx, *idx)
		if err != nil {
			return p.fetchFailure(err, fmt.Sprintf("the log at %s has no entry %d (the pointer's rekorLogIndex)", p.l.url, *idx))
		}
		// The index decides whether this entry is about this digest at
		// all; only then is its signer a question (a pointer naming
		// someone else's entry is not evidence of a wrong signer).
		ids, err := p.l.search(ctx, digest)
		if err != nil {
			return p.noVerdict(fmt.Errorf("the index search that ties entry %d to %s failed: %w", e.Index, digest, err))
		}
		if !slices.Contains(ids, e.UUID) {
			return p.invalid(fail(audit.ClassNotFound, CheckIndex,
				"the log's index does not list entry %d (the pointer's rekorLogIndex) for %s; it lists %s",
				e.Index, digest, listIDs(ids)))
		}
		pr, f := p.l.verifyEntry(ctx, e, p.want, &p.checks)
		if f != nil {
			return p.invalid(f)
		}
		p.check(CheckIndex, audit.CheckPass, "the index search for %s lists entry %d (%d entr%s)", digest, e.Index, len(ids), plural(len(ids)))
		return p.provenFromLog(ctx, e, pr, "named by the pointer's rekorLogIndex")
	}

	ids, err := p.l.search(ctx, digest)
	if err != nil {
		return p.noVerdict(err)
	}
	if len(ids) == 0 {
		return p.invalid(fail(audit.ClassNotFound, CheckIndex, "the log's index lists no entry for %s (and the pointer names no rekorLogIndex)", digest))
	}
	p.check(CheckIndex, audit.CheckPass, "the index search for %s lists %d entr%s", digest, len(ids), plural(len(ids)))
	var (
		best      *failure
		transient error
	)
	for i, id := range ids {
		if i == p.l.cfg.maxCandidates {
			p.check(CheckIndex, audit.CheckWarn, "only the first %d of %d entries were checked", i, len(ids))
			break
		}
		e, err := p.l.entryByUUID(ctx, id)
		if err != nil {
			if !errors.Is(err, ErrNotFound) && transient == nil {
				transient = err
			}
			continue
		}
		var checks []audit.Check
		pr, f := p.l.verifyEntry(ctx, e, p.want, &checks)
		if f != nil {
			if best == nil || (best.class != audit.ClassIdentity && f.class == audit.ClassIdentity) {
				best = f
			}
			continue
		}
		p.checks = append(p.checks, checks...)
		return p.provenFromLog(ctx, e, pr, fmt.Sprintf("found through the index search for %s (the pointer names no rekorLogIndex)", digest))
	}
	switch {
	case best != nil:
		best.detail = fmt.Sprintf("no entry the index lists for %s proves it: %s", digest, best.detail)
		return p.invalid(best)
	case transient != nil:
		return p.noVerdict(transient)
	}
	return p.invalid(fail(audit.ClassNotFound, CheckEntry, "the index lists %s for %s, but the log serves none of them", listIDs(ids), digest))
}

func (p *prover) provenFromLog(ctx context.Context, e *entry, pr entryProof, how string) audit.Verification {
	p.record(ctx, pr.origin, seenCheckpoint{kind: kindV1, url: p.l.url, size: pr.treeSize, root: e.Checkpoint.Hash, raw: checkpointText(e)})
	v := p.rekorOnly(e.Index, e.LogID, e.IntegratedTime)
	att := p.want.Pointer.Attestations[0]
	v.Detail = fmt.Sprintf("the registry no longer serves the bundle (%v). Proven from the log at %s alone (no cached copy): entry %d (%s v%s, %s) "+
		"has a body that hashes to its UUID %s…, an inclusion proof against checkpoint %q of %d entries fetched now and signed by the log key, "+
		"and a valid signed entry timestamp (integrated %s); its certificate chains to the trusted CA at that time and names %s (issuer %s), "+
		"as the pointer says; the log's index lists it for %s. Not proven: %s.",
		p.lost, p.l.url, e.Index, e.Kind, e.APIVersion, how, shortHex(e.UUID), pr.origin, pr.treeSize,
		e.IntegratedTime.Format(time.RFC3339), pr.signer, pr.issuer, att.Bundle.Digest, notProvenStatement)
	return v
}

func (p *prover) rekorOnly(index int64, logID string, integrated time.Time) audit.Verification {
	return audit.Verification{
		Verdict: audit.RekorOnly, Hint: lostHint, Checks: p.checks,
		LogIndex: index, LogID: strings.ToLower(logID), IntegratedTime: integrated,
	}
}

func listIDs(ids []string) string {
	if len(ids) == 0 {
		return "nothing"
	}
	var s []string
	for _, id := range ids {
		s = append(s, shortHex(id)+"…")
	}
	return strings.Join(s, ", ")
}

func plural(n int) string {
	if n == 1 {
		return "y"
	}
	return "ies"
}

// v2Note says, for a not-found verdict, what the fallback cannot do for
// the trusted root's other logs (Rekor v2 logs among them): they have no
// index search, and a hashedrekord entry holds the certificate, the
// signature and a hash of the signed envelope — not the statement — so
// without a cached bundle a v2 entry can be neither found nor tied to the
// digest; a rekorLogIndex is read from the Rekor v1 log at rekor.url.
func (l *Log) v2Note() string {
	var others []string
	for _, tl := range l.trust.RekorLogs() {
		if tl.BaseURL != "" && strings.TrimRight(tl.BaseURL, "/") != strings.TrimRight(l.url, "/") && !slices.Contains(others, tl.BaseURL) {
			others = append(others, tl.BaseURL)
		}
	}
	if len(others) == 0 {
		return ""
	}
	slices.Sort(others)
	return fmt.Sprintf(" (only the Rekor v1 log at %s was searched. If this evidence was logged in a Rekor v2 log — the trusted root names %s — "+
		"it cannot be proven without a cached bundle: a v2 log has no search, so nothing finds the entry by digest, and its hashedrekord entry holds "+
		"only a hash of the signed envelope, not the statement, so no entry can be tied to the digest; the ledger holds no cached Sigstore bundle of it)",
		l.url, strings.Join(others, ", "))
}

package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

// Audit decides one pointer version's verdict outside a run, as `verify`
// does: always the full path, and with a nil Ledger nothing is cached.
func (r *Runner) Audit(ctx context.Context, v PointerVersion, opts Options) Result {
	opts.Deep = true
	if opts.AsOf.IsZero() {
		opts.AsOf = r.now()
	}
	if err := r.loadArchived(ctx, &opts); err != nil {
		res := r.base(v)
		res.Verdict, res.Class, res.Detail = NoVerdict, ClassTransient, "could not read the ledger's archive records: "+err.Error()
		return res
	}
	return r.auditOne(ctx, v, opts).res
}

// auditOne decides one pointer version's verdict (SPEC §3), and for a
// healthy bundle returns what the ledger must cache of it and, when it was
// archived now, the archive's record. It never returns an error:
// everything that can go wrong with one pointer is a result.
func (r *Runner) auditOne(ctx context.Context, v PointerVersion, opts Options) recorded {
	// A pointer version's bytes never change, so a healthy full verification
	// already passed every check of the file itself: the fast path needs
	// no parse (unless policy.failUnlisted asks for today's allowlist).
	if !opts.Deep && !opts.Policy.FailUnlisted {
		if fast, ok := r.fastPath(ctx, v, opts); ok {
			return recorded{res: fast}
		}
	}
	res := r.base(v)
	info, p := Describe(v, opts.EvidenceDir, opts.Allowlist)
	res.Recipe = info.Recipe
	res.BundleDigest = info.BundleDigest
	if info.RekorLogIndex != nil {
		res.RekorLogIndex = *info.RekorLogIndex
	}
	if pre, ok := precheck(info); ok {
		res.Verdict, res.Class, res.Detail, res.Hint = Invalid, pre.class, pre.detail, pre.hint
		res.Checks = append(res.Checks, Check{Name: "pointer", Status: CheckFail, Detail: pre.detail})
		res.Checks = appendPointerKeys(res.Checks, p)
		r.finishAge(&res, v, p, nil, opts)
		return recorded{res: res}
	}
	res.Checks = append(res.Checks, Check{Name: "pointer", Status: CheckPass, Detail: "schema, placement and signer block"})
	res.Checks = appendPointerKeys(res.Checks, p)
	if opts.Policy.FailUnlisted && info.Signer != nil && info.Signer.Class == string(evidence.SignerUnlisted) {
		res.Verdict, res.Class = Invalid, ClassIdentity
		res.Detail = fmt.Sprintf("signer %s (%s) is not on the allowlist and policy.failUnlisted is set", info.Signer.Identity, info.Signer.Issuer)
		res.Hint = "add the signer to recipes/evidence/allowlist.yaml, or re-sign with a listed identity"
		r.finishAge(&res, v, p, nil, opts)
		return recorded{res: res}
	}
	want := Expectation{Pointer: p, Path: v.Key.Path}
	a := p.Attestations[0]
	if !opts.Deep && opts.Policy.FailUnlisted { // the signer passed today's allowlist above
		if fast, ok := r.fastPath(ctx, v, opts); ok {
			return recorded{res: fast}
		}
	}

	res.Deep = true
	ev, err := r.Source.Fetch(ctx, a.Bundle.OCI, a.Bundle.Digest)
	if err != nil {
		ver := r.fetchFailure(ctx, want, err, opts)
		r.apply(&res, ver)
		r.finishAge(&res, v, p, &ver, opts)
		return recorded{res: res}
	}
	// The layer's bytes are kept only for a bundle the archive may copy.
	ver, sig, layer, err := r.verifySignatures(ctx, a.Bundle.OCI, ev, want, r.mayArchive(a.Bundle.Digest, opts))
	defer layer.release()
	if err != nil { // the layer could not be fetched
		ver := r.fetchFailure(ctx, want, err, opts)
		r.apply(&res, ver)
		r.finishAge(&res, v, p, &ver, opts)
		return recorded{res: res}
	}
	res.Checks = append(res.Checks, Check{Name: "fetch", Status: CheckPass, Detail: fetchedDetail(ev, layer != nil)})
	r.apply(&res, ver)
	res.VerifiedVia = ViaOCI
	var cache *CachedBundle
	var archived *ArchivedBundle
	if ver.Verdict.FromOrigin() {
		if layer != nil && layer.Blob != nil {
			ev.Objects = append(ev.Objects, *layer.Blob)
		}
		archived = r.archiveVerified(ctx, &res, a.Bundle.Digest, ev, sig, opts)
	}
	if ver.Verdict.FromOrigin() && len(ver.BundleJSON) > 0 {
		// The cache is what lets a later run judge a deleted bundle against
		// exactly what was signed (SPEC §6).
		cache = &CachedBundle{
			Digest: a.Bundle.Digest, BundleJSON: ver.BundleJSON, StatementJSON: ver.StatementJSON,
			TrustRoot: r.Verifier.TrustRoot(), VerifierVersion: r.Verifier.Version(), VerifiedAt: res.CheckedAt,
			LogIndex: ver.LogIndex, IntegratedTime: ver.IntegratedTime,
			LayerDigest: ev.LayerDigest, ReferrerDigest: sig.ReferrerDigest, OCI: a.Bundle.OCI,
		}
	}
	r.finishAge(&res, v, p, &ver, opts)
	return recorded{res: res, bundle: cache, archived: archived}
}

// fetchedDetail says what the fetch check fetched: the layer only when a
// signature passed its signed checks (signature first).
func fetchedDetail(ev *Evidence, layer bool) string {
	what := "manifest, layer and signature"
	if !layer {
		what = "manifest and signature"
	}
	d := fmt.Sprintf("%s (%s, via %s) fetched by digest", what, ev.Signature.Kind, ev.Signature.Via)
	if n := len(ev.Alternatives); n > 0 {
		d += fmt.Sprintf(", and %d older signature%s", n, plural(n))
	}
	if !layer {
		d += "; the layer was not fetched, since no signature passed its signature checks"
	}
	return d
}

// CheckPointerKeys names the warning check that lists a pointer's keys
// beyond schema 1.0.0.
const CheckPointerKeys = "pointer-keys"

// appendPointerKeys adds the pointer-keys warning when p has keys beyond
// schema 1.0.0 (SPEC §2.1). They are not a schema problem — AICR's loader
// ignores them, and older pointers carried fingerprint and criteriaMatch
// mappings — and never change the verdict; the warning says they were
// not judged.
func appendPointerKeys(checks []Check, p *evidence.Pointer) []Check {
	if p == nil || len(p.ExtraKeys) == 0 {
		return checks
	}
	return append(checks, Check{Name: CheckPointerKeys, Status: CheckWarn,
		Detail: fmt.Sprintf("keys beyond pointer schema 1.0.0, ignored as AICR's loader ignores them: %s", strings.Join(p.ExtraKeys, ", "))})
}

// base fills what every result of v carries.
func (r *Runner) base(v PointerVersion) Result {
	return Result{
		Key:           v.Key,
		RekorLogIndex: -1,
		VerifiedVia:   ViaNone,
		CheckedAt:     r.now().UTC(),
	}
}

type precheckResult struct {
	class        Class
	detail, hint string
}

// precheck turns what is wrong in the pointer file itself into a verdict,
// most fundamental first: schema, placement, then unsigned.
func precheck(info PointerInfo) (precheckResult, bool) {
	for _, want := range []string{"schema", "placement", "unsigned"} {
		var details []string
		for _, p := range info.Problems {
			if p.Class != want {
				continue
			}
			d := p.Detail
			if p.Field != "" {
				d = p.Field + ": " + d
			}
			details = append(details, d)
		}
		if len(details) == 0 {
			continue
		}
		detail := strings.Join(details, "; ")
		switch want {
		case "schema":
			return precheckResult{ClassSchema, "malformed pointer: " + detail, "fix the pointer file; `evidence-auditd verify FILE` shows every check"}, true
		case "placement":
			return precheckResult{ClassPlacement, "pointer is not where its content says it belongs: " + detail,
				"per-source pointers live at recipes/evidence/<recipe>/<source>/<digest>.yaml, <source> derived from the signer"}, true
		default:
			return precheckResult{ClassSignature, "unsigned pointer on the audited branch: pending evidence must never be merged",
				"sign the bundle and add the signer block, or revert the merge"}, true
		}
	}
	return precheckResult{}, false
}

// fastPath reuses the last full verification when nothing that decides it
// changed (bundle digest, trusted root, verifier version) and it is recent
// enough, and only probes that the bytes are still served (DESIGN "fast
// path"). ok is false when the full path must run.
func (r *Runner) fastPath(ctx context.Context, v PointerVersion, opts Options) (Result, bool) {
	last, ok := opts.last[v.Key]
	if !ok || !last.Result.Verdict.FromOrigin() || last.OCI == "" {
		return Result{}, false
	}
	if last.TrustRoot != r.Verifier.TrustRoot() || last.VerifierVersion != r.Verifier.Version() ||
		last.LayerDigest == "" || last.ReferrerDigest == "" {
		return Result{}, false
	}
	b := evidence.Bundle{OCI: last.OCI, Digest: last.Result.BundleDigest}
	now := r.now()
	if opts.Policy.DeepEvery <= 0 || now.Sub(last.VerifiedAt) >= opts.Policy.DeepEvery {
		return Result{}, false
	}
	err := r.Source.Probe(ctx, b.OCI, b.Digest, last.LayerDigest, last.ReferrerDigest)
	switch {
	case err == nil:
	case errors.Is(err, ErrTransient), errors.Is(err, ErrCanceled):
		res := r.base(v)
		res.Recipe, res.BundleDigest, res.RekorLogIndex = last.Result.Recipe, b.Digest, last.Result.RekorLogIndex
		ver := classifyFetch(err)
		r.apply(&res, ver)
		res.AttestedAt, res.AttestedAtSource, res.Age = last.Result.AttestedAt, last.Result.AttestedAtSource, opts.Policy.AgeAt(last.Result.AttestedAt, opts.AsOf)
		return res, true
	default:
		return Result{}, false // gone, forbidden or changed: decide on the full path
	}
	res := last.Result
	res.CheckedAt = now.UTC()
	res.Deep = false
	res.VerifiedVia = ViaCache
	res.Age = opts.Policy.AgeAt(res.AttestedAt, opts.AsOf)
	probe := Check{Name: "probe", Status: CheckPass,
		Detail: fmt.Sprintf("manifest, layer and signature still served; full verification of %s reused", last.VerifiedAt.UTC().Format("2006-01-02"))}
	// The warnings of the reused verification still stand.
	var warns []Check
	for _, c := range last.Result.Checks {
		if c.Status == CheckWarn {
			warns = append(warns, c)
		}
	}
	res.Checks = append(warns, probe)
	return res, true
}

// fetchFailure decides the verdict when the registry did not deliver. Lost
// bytes are judged from the auditor's archived copy when it holds one
// (SPEC §9), else from the transparency log; a damaged archived copy is
// named in the checks and detail of the log's verdict, never used.
func (r *Runner) fetchFailure(ctx context.Context, want Expectation, err error, opts Options) Verification {
	lost := errors.Is(err, ErrGone) || errors.Is(err, ErrForbidden)
	if !lost {
		return classifyFetch(err)
	}
	ver, decided, note := r.fromArchive(ctx, want, err, opts)
	if decided {
		return ver
	}
	if r.Fallback != nil {
		ver = r.Fallback.Prove(ctx, want, err)
	} else {
		ver = classifyFetch(err)
	}
	if note != nil {
		ver.Checks = append([]Check{*note}, ver.Checks...)
		ver.Detail += "; " + note.Detail
	}
	return ver
}

// classifyFetch maps a fetch error to a verdict (SPEC §3; DESIGN "registry").
func classifyFetch(err error) Verification {
	v := Verification{Verdict: Invalid, LogIndex: -1}
	msg := err.Error()
	switch {
	case errors.Is(err, ErrCanceled) || errors.Is(err, context.Canceled):
		v.Verdict, v.Class, v.Detail = NoVerdict, ClassCanceled, "canceled: "+msg
	case errors.Is(err, ErrTransient) || errors.Is(err, context.DeadlineExceeded):
		v.Verdict, v.Class, v.Detail = NoVerdict, ClassTransient, "registry unavailable, retried next run: "+msg
	case errors.Is(err, ErrGone):
		v.Class, v.Detail = ClassNotFound, "the registry no longer serves the bundle and no transparency-log proof was obtained: "+msg
		v.Hint = "re-publish the bundle, or re-certify the recipe"
	case errors.Is(err, ErrForbidden):
		v.Class, v.Detail = ClassForbidden, "the registry refuses access to the bundle: "+msg
		v.Hint = "the namespace may have gone private; ask the publisher to make it public or re-publish"
	case errors.Is(err, ErrPolicy):
		v.Class, v.Detail = ClassUntrustedRegistry, "registry not allowed by policy: "+msg
		v.Hint = "see registry.allow and registry.allowPrivateNetworks"
	case errors.Is(err, ErrNoSignature):
		v.Class, v.Detail = ClassSignature, "the bundle is served but no signature is attached: "+msg
	case errors.Is(err, ErrBadReference):
		v.Class, v.Detail = ClassSchema, "unusable bundle locator: "+msg
	case errors.Is(err, ErrIntegrity):
		v.Class, v.Detail = ClassIntegrity, "the registry served bytes that do not match the pinned digest or limits: "+msg
	default:
		// An unclassified error proves nothing about the evidence.
		v.Verdict, v.Class, v.Detail = NoVerdict, ClassTransient, "could not fetch: "+msg
	}
	v.Checks = []Check{{Name: "fetch", Status: CheckFail, Detail: v.Detail}}
	return v
}

// apply copies a verification's verdict and facts into res.
func (r *Runner) apply(res *Result, ver Verification) {
	res.Verdict, res.Class, res.Detail, res.Hint = ver.Verdict, ver.Class, ver.Detail, ver.Hint
	res.Checks = append(res.Checks, ver.Checks...)
	if ver.LogIndex >= 0 && ver.Verdict != NoVerdict {
		res.RekorLogIndex = ver.LogIndex
	}
	res.Phases = ver.Phases
	switch {
	case ver.Via != "":
		res.VerifiedVia = ver.Via
	case ver.Verdict == RekorOnly:
		res.VerifiedVia = ViaRekor
	}
}

// finishAge measures the result's age from the most trustworthy timestamp
// available (SPEC §3): the signed attestedAt only once the signature
// verified, then the log's integrated time, the pointer's field, the commit.
func (r *Runner) finishAge(res *Result, v PointerVersion, p *evidence.Pointer, ver *Verification, opts Options) {
	var ts Timestamps
	if ver != nil {
		if ver.Verdict.Healthy() || (ver.Verdict == Invalid && ver.Class == ClassLegacyPredicate) {
			ts.Signed = ver.SignedAt
		}
		if ver.Verdict != NoVerdict {
			ts.Log = ver.IntegratedTime
		}
	}
	if p != nil && len(p.Attestations) == 1 {
		ts.Pointer = p.Attestations[0].AttestedAt
	}
	ts.Commit = v.AddedAt
	res.AttestedAt, res.AttestedAtSource = ts.MostTrusted()
	res.Age = opts.Policy.AgeAt(res.AttestedAt, opts.AsOf)
	if res.Detail == "" {
		res.Detail = string(res.Verdict)
	}
}

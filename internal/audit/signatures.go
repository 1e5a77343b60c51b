package audit

import (
	"context"
	"fmt"
	"math"
	"strings"
)

// CheckSignatureCandidates is the check that reports, when a bundle has
// more than one signature candidate or some could not be used, what became
// of each: which one the verdict rests on and why the others were passed
// over.
const CheckSignatureCandidates = "signature-candidates"

// verifySignatures offers the fetched signatures to the verifier in the
// Source's order of preference — the newest Sigstore bundle referrer
// first — and keeps the first that verifies. "Usable" is judged in two
// places: what cannot be fetched or is not a single bundle for this
// artifact the Source has already passed over (Evidence.Skipped); what was
// fetched but does not verify (does not parse, signs another artifact, is
// by another signer) the Verifier judges here. So one unusable newer
// referrer never hides a valid older one. This is sound because each
// candidate is verified in full against the pointer: a signature that does
// not verify proves nothing, one that does proves the pointer.
//
// When none verifies, the verdict is the best failure's: the candidate
// whose verification got furthest (its first failed check comes latest;
// the newer on a tie), since it shows the most about the evidence. A
// candidate the verifier could not decide wins over every invalid one: it
// might have verified. The detail names what was wrong with each of the
// others. The returned Signature is the one the verdict rests on.
//
// Signature first (issue 15): each candidate's signed checks run before the
// summary bundle's layer is fetched, and the layer is fetched once, for the
// first candidate that passes them (with its bytes when keepBlob: the
// archive may copy it). A bundle none of whose signatures holds never costs
// a layer download; layer is then nil. Evidence read whole (ev.Files set,
// an archived copy) needs no fetch. err is the layer's fetch error, for the
// caller to judge as any fetch failure. The caller releases layer.
func (r *Runner) verifySignatures(ctx context.Context, oci string, ev *Evidence, want Expectation, keepBlob bool) (ver Verification, sig Signature, layer *Layer, err error) {
	sigs := append([]Signature{ev.Signature}, ev.Alternatives...)
	staged := r.staged()
	var tried []Verification
	best := -1
	for i, sig := range sigs {
		one := *ev
		one.Signature, one.Alternatives, one.Skipped = sig, nil, nil
		ver, finish := staged.VerifySigned(&one, want)
		if finish != nil {
			files := ev.Files
			if files == nil {
				if layer == nil {
					if layer, err = r.Source.Layer(ctx, oci, ev, keepBlob); err != nil {
						return Verification{}, Signature{}, nil, err
					}
				}
				files = layer.Files
			}
			ver = finish(files)
		}
		if ver.Verdict.Healthy() {
			return withCandidates(ver, ev, sigs, tried, i), sig, layer, nil
		}
		tried = append(tried, ver)
		if best < 0 || progress(ver) > progress(tried[best]) {
			best = i
		}
	}
	return withCandidates(tried[best], ev, sigs, tried, best), sigs[best], layer, nil
}

// staged is the Runner's Verifier as a StagedVerifier. A plain Verifier's
// checks cannot be split, so all of them wait for the files.
func (r *Runner) staged() StagedVerifier {
	if sv, ok := r.Verifier.(StagedVerifier); ok {
		return sv
	}
	return unstaged{r.Verifier}
}

type unstaged struct{ Verifier }

func (u unstaged) VerifySigned(ev *Evidence, want Expectation) (Verification, ContentCheck) {
	return Verification{}, func(files map[string]File) Verification {
		one := *ev
		one.Files = files
		return u.Verify(&one, want)
	}
}

// progress ranks a failed verification by how far it got: the index of
// its first failed check (-1 when it failed before any), or above every
// index when the verifier could not decide.
func progress(v Verification) int {
	if v.Verdict == NoVerdict {
		return math.MaxInt
	}
	for i, c := range v.Checks {
		if c.Status == CheckFail {
			return i
		}
	}
	return -1
}

// withCandidates adds to chosen, the verification of sigs[pick], what
// became of the other candidates; tried holds the failed verifications of
// sigs[:len(tried)]. When the preferred signature verified and nothing was
// skipped, or when it was the only candidate, chosen is returned unchanged.
func withCandidates(chosen Verification, ev *Evidence, sigs []Signature, tried []Verification, pick int) Verification {
	healthy := chosen.Verdict.Healthy()
	if healthy && pick == 0 && len(ev.Skipped) == 0 {
		return chosen
	}
	var others []string
	for i, v := range tried {
		if i != pick {
			others = append(others, fmt.Sprintf("%s did not verify (%s): %s", sigName(sigs[i]), verdictName(v), v.Detail))
		}
	}
	for _, sk := range ev.Skipped {
		others = append(others, fmt.Sprintf("referrer %s not usable: %s", short(sk.ReferrerDigest), sk.Reason))
	}
	if len(others) == 0 {
		return chosen // the only candidate: nothing to say about others
	}
	n := len(sigs) + len(ev.Skipped)
	check := Check{Name: CheckSignatureCandidates}
	if healthy {
		check.Status = CheckWarn
		check.Detail = fmt.Sprintf("%d signature candidates; %s verified after passing over: %s", n, sigName(sigs[pick]), strings.Join(others, "; "))
		chosen.Detail += fmt.Sprintf(" (%s; %d newer or unusable candidate%s passed over, see %s)",
			sigName(sigs[pick]), len(others), plural(len(others)), CheckSignatureCandidates)
	} else {
		check.Status = CheckFail
		check.Detail = fmt.Sprintf("%d signature candidate%s, none verifies; the verdict is %s's; %s", n, plural(n), sigName(sigs[pick]), strings.Join(others, "; "))
		chosen.Detail += fmt.Sprintf(" (%s; also: %s)", sigName(sigs[pick]), strings.Join(others, "; "))
	}
	chosen.Checks = append([]Check{check}, chosen.Checks...)
	return chosen
}

// sigName names a signature candidate for a human.
func sigName(s Signature) string {
	if s.Kind == CosignLegacy {
		return "cosign attestation " + short(s.ReferrerDigest)
	}
	return "referrer " + short(s.ReferrerDigest)
}

func verdictName(v Verification) string {
	if v.Class == "" {
		return string(v.Verdict)
	}
	return string(v.Verdict) + "/" + string(v.Class)
}

// short abbreviates a digest to its algorithm and 12 hex digits.
func short(d string) string {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= 12 {
		return d
	}
	return alg + ":" + hex[:12]
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

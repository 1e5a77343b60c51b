package verify_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/signer"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

// tamperPayload rewrites the DSSE payload of a Sigstore bundle (JSON) so
// that the statement names another recipe, leaving the signature as is.
func tamperPayload(tb testing.TB, bundleJSON []byte) []byte {
	tb.Helper()
	var b map[string]any
	if err := json.Unmarshal(bundleJSON, &b); err != nil {
		tb.Fatal(err)
	}
	env := b["dsseEnvelope"].(map[string]any)
	payload, err := base64.StdEncoding.DecodeString(env["payload"].(string))
	if err != nil {
		tb.Fatal(err)
	}
	payload = bytes.Replace(payload, []byte(recipe), []byte(recipe+"-x"), 1)
	env["payload"] = base64.StdEncoding.EncodeToString(payload)
	out, err := json.Marshal(b)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func tamperEnvelope(tb testing.TB, envelope []byte) []byte {
	tb.Helper()
	var env map[string]any
	if err := json.Unmarshal(envelope, &env); err != nil {
		tb.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(env["payload"].(string))
	if err != nil {
		tb.Fatal(err)
	}
	payload = bytes.Replace(payload, []byte(`"failed":0`), []byte(`"failed":1`), 1)
	env["payload"] = base64.StdEncoding.EncodeToString(payload)
	out, err := json.Marshal(env)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

type verifyCase struct {
	name string
	// make returns the evidence and pointer to verify.
	make func(t *testing.T, w *world) *bundle

	verdict audit.Verdict
	class   audit.Class
	failed  string   // the failing check; "" when none
	detail  []string // substrings of the verdict's detail
	hint    bool     // a hint is expected
	// hintHas and hintNot are substrings the hint must and must not hold.
	hintHas, hintNot string
}

func verifyCases() []verifyCase {
	return []verifyCase{
		{
			name:    "good",
			make:    func(t *testing.T, w *world) *bundle { return w.sign(t, publish.SummarySpec{}, alice) },
			verdict: audit.Verified,
			detail:  []string{alice.Identity, "no recorded failures"},
		},
		{
			name: "good without rekorLogIndex",
			make: func(t *testing.T, w *world) *bundle {
				b := w.sign(t, publish.SummarySpec{}, alice)
				b.ptr.Attestations[0].Signer.RekorLogIndex = nil
				return b
			},
			verdict: audit.Verified,
		},
		{
			name: "good v2 with profile",
			make: func(t *testing.T, w *world) *bundle {
				return w.sign(t, publish.SummarySpec{
					Recipe: recipe + "-gpustack-bundle-installer", Profile: "gpuStack=bundle-installer", PredicateType: publish.PredicateV2,
				}, alice)
			},
			verdict: audit.Verified,
		},
		{
			name: "failed phases",
			make: func(t *testing.T, w *world) *bundle {
				return w.sign(t, publish.SummarySpec{FailedPhases: map[string]int{"conformance": 2, "performance": 1}}, alice)
			},
			verdict: audit.VerifiedWithFailures,
			detail:  []string{"conformance (2 of", "performance (1 of"},
			hint:    true,
		},
		{
			name: "wrong signer",
			make: func(t *testing.T, w *world) *bundle {
				b := w.sign(t, publish.SummarySpec{}, bob)
				b.ptr.Attestations[0].Signer.Identity = alice.Identity
				return b
			},
			verdict: audit.Invalid, class: audit.ClassIdentity, failed: verify.CheckSignerIdentity,
			detail: []string{"signed by " + bob.Identity, "the pointer names " + alice.Identity, "identity differs"},
			hint:   true,
		},
		{
			name: "wrong issuer",
			make: func(t *testing.T, w *world) *bundle {
				b := w.sign(t, publish.SummarySpec{}, ca.Identity{Identity: alice.Identity, Issuer: "https://accounts.example.com"})
				b.ptr.Attestations[0].Signer.Issuer = alice.Issuer
				return b
			},
			verdict: audit.Invalid, class: audit.ClassIdentity, failed: verify.CheckSignerIdentity,
			detail: []string{"issuer https://accounts.example.com", "issuer differs"},
			hint:   true,
		},
		{
			name: "unsigned pointer",
			make: func(t *testing.T, w *world) *bundle {
				b := w.sign(t, publish.SummarySpec{}, alice)
				b.ptr.Attestations[0].Signer = nil
				return b
			},
			verdict: audit.Invalid, class: audit.ClassSignature, failed: verify.CheckSignerIdentity,
			detail: []string{"names no signer"},
		},
		{
			name: "tampered payload",
			make: func(t *testing.T, w *world) *bundle {
				b := w.sign(t, publish.SummarySpec{}, alice)
				b.ev.Signature.BundleJSON = tamperPayload(t, b.ev.Signature.BundleJSON)
				return b
			},
			verdict: audit.Invalid, class: audit.ClassSignature, failed: verify.CheckTransparencyLog,
			detail:  []string{"payload hash"},
			hintHas: "the bundle was altered",
		},
		{
			name: "certificate from another CA",
			make: func(t *testing.T, w *world) *bundle {
				other, err := ca.New(ca.WithName("other.example"), ca.WithSeed([]byte("another CA")))
				if err != nil {
					t.Fatal(err)
				}
				s2, err := signer.New(other, w.log) // same log: only the chain is wrong
				if err != nil {
					t.Fatal(err)
				}
				return (&world{signer: s2}).sign(t, publish.SummarySpec{}, alice)
			},
			// Indistinguishable from a CA missing from a stale trusted
			// root: described as such (SPEC §3), never as an altered bundle.
			verdict: audit.Invalid, class: audit.ClassSignature, failed: verify.CheckCertificateChain,
			detail:  []string{"certificate authority is not in the trusted root", "other.example", "leaf certificate"},
			hintHas: "refresh the trusted root", hintNot: "altered",
		},
		{
			name:    "garbage bundle",
			verdict: audit.Invalid, class: audit.ClassSignature, failed: verify.CheckBundleParse,
			make: func(t *testing.T, w *world) *bundle {
				b := w.sign(t, publish.SummarySpec{}, alice)
				b.ev.Signature.BundleJSON = []byte(`{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "garbage": [`)
				return b
			},
			detail: []string{"does not parse"},
		},
		{
			name:    "no bundle",
			verdict: audit.Invalid, class: audit.ClassSignature, failed: verify.CheckBundleParse,
			make: func(t *testing.T, w *world) *bundle {
				b := w.sign(t, publish.SummarySpec{}, alice)
				b.ev.Signature.BundleJSON = nil
				return b
			},
		},
		{
			name:    "wrong subject",
			make:    func(t *testing.T, w *world) *bundle { return w.sign(t, publish.SummarySpec{WrongSubject: true}, alice) },
			verdict: audit.Invalid, class: audit.ClassIntegrity, failed: verify.CheckSubjectDigest,
			detail: []string{"signed statement names sha256:", ", pointer names sha256:"},
			hint:   true,
		},
		{
			name: "inventory: wrong hash",
			make: func(t *testing.T, w *world) *bundle {
				return w.sign(t, publish.SummarySpec{BreakInventory: publish.InventoryWrongHash}, alice)
			},
			verdict: audit.Invalid, class: audit.ClassIntegrity, failed: verify.CheckInventory,
			detail: []string{"recipe.yaml has sha256"},
		},
		{
			name: "inventory: missing file",
			make: func(t *testing.T, w *world) *bundle {
				return w.sign(t, publish.SummarySpec{BreakInventory: publish.InventoryMissingFile}, alice)
			},
			verdict: audit.Invalid, class: audit.ClassIntegrity, failed: verify.CheckInventory,
			detail: []string{"snapshot.yaml is listed in manifest.json but missing"},
		},
		{
			name: "inventory: altered file",
			make: func(t *testing.T, w *world) *bundle {
				b := w.sign(t, publish.SummarySpec{}, alice)
				b.ev.Files["bom.cdx.json"] = append([]byte(nil), b.ev.Files["bom.cdx.json"]...)
				b.ev.Files["bom.cdx.json"][0] ^= 1
				return b
			},
			verdict: audit.Invalid, class: audit.ClassIntegrity, failed: verify.CheckInventory,
			detail: []string{"bom.cdx.json has sha256"},
		},
		{
			name: "manifest.json altered",
			make: func(t *testing.T, w *world) *bundle {
				b := w.sign(t, publish.SummarySpec{}, alice)
				b.ev.Files["manifest.json"] = append(append([]byte(nil), b.ev.Files["manifest.json"]...), '\n')
				return b
			},
			verdict: audit.Invalid, class: audit.ClassIntegrity, failed: verify.CheckManifestDigest,
			detail: []string{"sha256(manifest.json)"},
		},
		{
			name: "ctrf report altered",
			make: func(t *testing.T, w *world) *bundle {
				b := w.sign(t, publish.SummarySpec{}, alice)
				// Keep manifest.json consistent so only the predicate's pin catches it:
				// here the inventory check comes first and names the file.
				b.ev.Files["ctrf/conformance.json"] = []byte(`{}`)
				return b
			},
			verdict: audit.Invalid, class: audit.ClassIntegrity, failed: verify.CheckInventory,
			detail: []string{"ctrf/conformance.json"},
		},
		{
			name: "rekorLogIndex mismatch",
			make: func(t *testing.T, w *world) *bundle {
				b := w.sign(t, publish.SummarySpec{}, alice)
				idx := b.info.LogIndex + 1000
				b.ptr.Attestations[0].Signer.RekorLogIndex = &idx
				return b
			},
			// SPEC §3: rekorLogIndex is a signer claim, like identity and issuer.
			verdict: audit.Invalid, class: audit.ClassIdentity, failed: verify.CheckRekorLogIndex,
			detail: []string{"names log index", "the bundle's entry is at"},
			hint:   true,
		},
		{
			name: "perturbed recipe digest",
			make: func(t *testing.T, w *world) *bundle {
				return w.sign(t, publish.SummarySpec{PerturbRecipeDigest: true}, alice)
			},
			verdict: audit.Invalid, class: audit.ClassIntegrity, failed: verify.CheckRecipeDigest,
			detail: []string{"signed predicate.recipe.digest is ", "has canonical digest ", "metadata.version removed", "describes another recipe"},
			hint:   true,
		},
		{
			name: "v3 evidence signing the v1/v2 form of the recipe digest",
			make: func(t *testing.T, w *world) *bundle {
				sum := build(t, publish.SummarySpec{})
				var recipeYAML []byte
				for _, f := range sum.Files {
					if f.Path == "recipe.yaml" {
						recipeYAML = f.Data
					}
				}
				old, err := evidence.RecipeDigest(recipeYAML, evidence.PredicateTypeV1)
				if err != nil {
					t.Fatal(err)
				}
				sum.Predicate.Recipe.Digest = old
				at, _ := time.Parse(time.RFC3339, sum.Predicate.AttestedAt)
				return w.signSummaryAt(t, sum, alice, at.Add(time.Minute))
			},
			verdict: audit.Invalid, class: audit.ClassIntegrity, failed: verify.CheckRecipeDigest,
			detail: []string{"v3 form"},
		},
		{
			name: "good v1: the digest keeps metadata.version",
			make: func(t *testing.T, w *world) *bundle {
				return w.sign(t, publish.SummarySpec{PredicateType: publish.PredicateV1}, alice)
			},
			verdict: audit.Verified,
		},
		{
			name: "good v3 with profile",
			make: func(t *testing.T, w *world) *bundle {
				return w.sign(t, publish.SummarySpec{
					Recipe: recipe + "-gpustack-bundle-installer", Profile: "gpuStack=bundle-installer", ProfileAdvertiser: "acme",
				}, alice)
			},
			verdict: audit.Verified,
		},
		{
			name: "v1 predicate carrying a profile block",
			make: func(t *testing.T, w *world) *bundle {
				b := w.sign(t, publish.SummarySpec{
					Recipe: recipe + "-gpustack-bundle-installer", Profile: "gpuStack=bundle-installer", PredicateType: publish.PredicateV1,
				}, alice)
				b.ptr.Profile = "" // a v1 pointer names no profile
				return b
			},
			// A schema rule of the v1 type (ADR-015), not tampering.
			verdict: audit.Invalid, class: audit.ClassSchema, failed: verify.CheckStatement,
			detail: []string{"predicate.profile", "must not carry a profile block"},
		},
		{
			name: "pointer names a profile the v3 predicate lacks",
			make: func(t *testing.T, w *world) *bundle {
				b := w.sign(t, publish.SummarySpec{Recipe: recipe + "-gpustack-bundle-installer"}, alice)
				b.ptr.Profile = "gpuStack=bundle-installer"
				return b
			},
			verdict: audit.Invalid, class: audit.ClassIntegrity, failed: verify.CheckProfile,
			detail: []string{"carries no profile block"},
			hint:   true,
		},
		{
			name: "legacy predicate type",
			make: func(t *testing.T, w *world) *bundle {
				return w.sign(t, publish.SummarySpec{PredicateType: publish.PredicateLegacy}, alice)
			},
			verdict: audit.Invalid, class: audit.ClassLegacyPredicate, failed: verify.CheckPredicateType,
			detail: []string{"the signature verifies", publish.PredicateLegacy},
			hint:   true,
		},
		{
			name: "predicate type differs from the pointer's",
			make: func(t *testing.T, w *world) *bundle {
				b := w.sign(t, publish.SummarySpec{}, alice)
				b.ptr.Attestations[0].Bundle.PredicateType = publish.PredicateV1
				return b
			},
			verdict: audit.Invalid, class: audit.ClassIntegrity, failed: verify.CheckPredicateType,
		},
		{
			name: "v2 without profile",
			make: func(t *testing.T, w *world) *bundle {
				return w.sign(t, publish.SummarySpec{PredicateType: publish.PredicateV2}, alice)
			},
			// evidence.ParseStatement applies the era's rules.
			verdict: audit.Invalid, class: audit.ClassSchema, failed: verify.CheckStatement,
			detail: []string{"predicate.profile"},
		},
		{
			name: "profile mismatch",
			make: func(t *testing.T, w *world) *bundle {
				b := w.sign(t, publish.SummarySpec{
					Recipe: recipe + "-gpustack-bundle-installer", Profile: "gpuStack=bundle-installer", PredicateType: publish.PredicateV2,
				}, alice)
				b.ptr.Profile = "gpuStack=operator"
				return b
			},
			verdict: audit.Invalid, class: audit.ClassIntegrity, failed: verify.CheckProfile,
		},
		{
			name: "recipe mismatch",
			make: func(t *testing.T, w *world) *bundle {
				return w.sign(t, publish.SummarySpec{PredicateRecipe: "gb200-eks-other"}, alice)
			},
			verdict: audit.Invalid, class: audit.ClassIntegrity, failed: verify.CheckRecipeName,
			detail: []string{`"gb200-eks-other"`, `"` + recipe + `"`},
		},
		{
			name: "back-dated 25 months",
			make: func(t *testing.T, w *world) *bundle {
				return w.sign(t, publish.SummarySpec{AttestedAt: time.Now().AddDate(0, -25, 0)}, alice)
			},
			verdict: audit.Verified,
		},
		{
			name:    "legacy cosign attestation",
			make:    func(t *testing.T, w *world) *bundle { return w.signLegacy(t, publish.SummarySpec{}, alice) },
			verdict: audit.Verified,
		},
		{
			name: "legacy cosign attestation with failed phases, among other layers",
			make: func(t *testing.T, w *world) *bundle {
				b := w.signLegacy(t, publish.SummarySpec{FailedPhases: map[string]int{"deployment": 1}}, alice)
				other := w.signLegacy(t, publish.SummarySpec{Recipe: "other-recipe"}, alice)
				// Another attestation type first: not recipe evidence.
				env := []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"` +
					base64.StdEncoding.EncodeToString([]byte(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2"}`)) +
					`","signatures":[]}`)
				b.ev.Signature.Legacy = append([]audit.LegacyLayer{{Envelope: env}, other.ev.Signature.Legacy[0]}, b.ev.Signature.Legacy...)
				return b
			},
			verdict: audit.VerifiedWithFailures,
		},
		{
			name: "legacy cosign attestation tampered",
			make: func(t *testing.T, w *world) *bundle {
				b := w.signLegacy(t, publish.SummarySpec{}, alice)
				b.ev.Signature.Legacy[0].Envelope = tamperEnvelope(t, b.ev.Signature.Legacy[0].Envelope)
				return b
			},
			verdict: audit.Invalid, class: audit.ClassSignature, failed: verify.CheckTransparencyLog,
		},
		{
			name: "legacy cosign attestation by someone else",
			make: func(t *testing.T, w *world) *bundle {
				b := w.signLegacy(t, publish.SummarySpec{}, bob)
				b.ptr.Attestations[0].Signer.Identity = alice.Identity
				return b
			},
			verdict: audit.Invalid, class: audit.ClassIdentity, failed: verify.CheckSignerIdentity,
		},
		{
			name: "legacy cosign attestation without Rekor bundle",
			make: func(t *testing.T, w *world) *bundle {
				b := w.signLegacy(t, publish.SummarySpec{}, alice)
				b.ev.Signature.Legacy[0].Bundle = ""
				return b
			},
			verdict: audit.Invalid, class: audit.ClassSignature, failed: verify.CheckBundleParse,
			detail: []string{"never logged"},
		},
	}
}

func TestVerify(t *testing.T) {
	w := shared(t)
	for _, tc := range verifyCases() {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.make(t, w)
			got := w.v.Verify(b.ev, b.want())
			checkVerification(t, got, tc)
			if !t.Failed() || testing.Verbose() {
				return
			}
			for _, c := range got.Checks {
				t.Logf("  %-18s %-4s %s", c.Name, c.Status, c.Detail)
			}
		})
	}
}

func checkVerification(t *testing.T, got audit.Verification, tc verifyCase) {
	t.Helper()
	if got.Verdict != tc.verdict || got.Class != tc.class {
		t.Errorf("verdict = %s/%s (%s), want %s/%s", got.Verdict, got.Class, got.Detail, tc.verdict, tc.class)
	}
	if got.Detail == "" {
		t.Error("detail is empty")
	}
	for _, s := range tc.detail {
		if !strings.Contains(got.Detail, s) {
			t.Errorf("detail %q does not contain %q", got.Detail, s)
		}
	}
	if tc.hint && got.Hint == "" {
		t.Error("hint is empty")
	}
	if tc.hintHas != "" && !strings.Contains(got.Hint, tc.hintHas) {
		t.Errorf("hint %q does not contain %q", got.Hint, tc.hintHas)
	}
	if tc.hintNot != "" && strings.Contains(got.Hint, tc.hintNot) {
		t.Errorf("hint %q contains %q", got.Hint, tc.hintNot)
	}

	// Every check, once, in order; the failing one is the last before
	// the skipped rest.
	var names []string
	failedAt := -1
	for i, c := range got.Checks {
		names = append(names, c.Name)
		if c.Status == audit.CheckFail {
			if failedAt >= 0 {
				t.Errorf("checks %s and %s both failed", got.Checks[failedAt].Name, c.Name)
			}
			failedAt = i
		}
		if failedAt >= 0 && i > failedAt && c.Status != audit.CheckSkip {
			t.Errorf("check %s after the failure is %s, want skip", c.Name, c.Status)
		}
		if c.Detail == "" {
			t.Errorf("check %s has no detail", c.Name)
		}
	}
	if !slices.Equal(names, verify.CheckNames) {
		t.Errorf("checks = %v, want %v", names, verify.CheckNames)
	}
	switch {
	case tc.failed == "" && failedAt >= 0:
		t.Errorf("check %s failed: %s", got.Checks[failedAt].Name, got.Checks[failedAt].Detail)
	case tc.failed != "" && failedAt < 0:
		t.Errorf("no check failed, want %s", tc.failed)
	case tc.failed != "" && got.Checks[failedAt].Name != tc.failed:
		t.Errorf("failed check = %s (%s), want %s", got.Checks[failedAt].Name, got.Checks[failedAt].Detail, tc.failed)
	}
	if got.Verdict.Healthy() {
		for _, c := range got.Checks {
			ok := c.Status == audit.CheckPass || c.Status == audit.CheckWarn ||
				(c.Status == audit.CheckSkip && c.Name == verify.CheckRekorLogIndex)
			if !ok {
				t.Errorf("healthy verdict with check %s %s", c.Name, c.Status)
			}
		}
	}
}

func TestVerifyFacts(t *testing.T) {
	w := shared(t)
	at := time.Now().AddDate(0, -25, 0).UTC().Truncate(time.Second)
	for _, legacy := range []bool{false, true} {
		name := map[bool]string{false: "sigstore bundle", true: "cosign legacy"}[legacy]
		t.Run(name, func(t *testing.T) {
			spec := publish.SummarySpec{AttestedAt: at, FailedPhases: map[string]int{"conformance": 3}}
			var b *bundle
			if legacy {
				b = w.signLegacy(t, spec, alice)
			} else {
				b = w.sign(t, spec, alice)
			}
			got := w.v.Verify(b.ev, b.want())
			if got.Verdict != audit.VerifiedWithFailures {
				t.Fatalf("verdict = %s/%s: %s", got.Verdict, got.Class, got.Detail)
			}
			if !got.SignedAt.Equal(at) {
				t.Errorf("SignedAt = %v, want %v (25 months ago)", got.SignedAt, at)
			}
			if got.LogIndex != b.info.LogIndex {
				t.Errorf("LogIndex = %d, want %d", got.LogIndex, b.info.LogIndex)
			}
			if got.LogID != b.info.Entry.LogID {
				t.Errorf("LogID = %q, want %q", got.LogID, b.info.Entry.LogID)
			}
			if !got.IntegratedTime.Equal(b.info.IntegratedTime.Truncate(time.Second)) {
				t.Errorf("IntegratedTime = %v, want %v", got.IntegratedTime, b.info.IntegratedTime)
			}
			if got.Statement == nil || got.Statement.Predicate.Recipe.Name != recipe {
				t.Errorf("Statement = %+v, want the signed statement for %s", got.Statement, recipe)
			}
			if st := b.sum.Statement(repository); !bytes.Equal(got.StatementJSON, st) {
				t.Errorf("StatementJSON = %s, want %s", got.StatementJSON, st)
			}
			if len(got.BundleJSON) == 0 {
				t.Error("BundleJSON is empty")
			}
			if !legacy && !bytes.Equal(got.BundleJSON, b.ev.Signature.BundleJSON) {
				t.Error("BundleJSON is not the fetched bundle")
			}
			if len(got.Phases) != 3 || got.Phases["conformance"].Failed != 3 {
				t.Errorf("Phases = %+v, want 3 phases with 3 conformance failures", got.Phases)
			}
		})
	}
}

// TestVerifyPointerMirror: the pointer's attestedAt is an unsigned mirror; a
// difference is reported but does not fail the bundle.
func TestVerifyPointerMirror(t *testing.T) {
	w := shared(t)
	b := w.sign(t, publish.SummarySpec{}, alice)
	b.ptr.Attestations[0].AttestedAt = b.ptr.Attestations[0].AttestedAt.Add(time.Hour)
	got := w.v.Verify(b.ev, b.want())
	if got.Verdict != audit.Verified {
		t.Fatalf("verdict = %s/%s: %s", got.Verdict, got.Class, got.Detail)
	}
	for _, c := range got.Checks {
		if c.Name == verify.CheckPredicate && c.Status != audit.CheckWarn {
			t.Errorf("predicate check = %s (%s), want warn", c.Status, c.Detail)
		}
	}
}

func TestVerifyNoAttestation(t *testing.T) {
	w := shared(t)
	b := w.sign(t, publish.SummarySpec{}, alice)
	for name, p := range map[string]*evidence.Pointer{"nil": nil, "empty": {Recipe: recipe}} {
		got := w.v.Verify(b.ev, audit.Expectation{Pointer: p})
		if got.Verdict != audit.Invalid || got.Class != audit.ClassSchema {
			t.Errorf("%s pointer: verdict = %s/%s, want invalid/schema", name, got.Verdict, got.Class)
		}
		if len(got.Checks) != len(verify.CheckNames) {
			t.Errorf("%s pointer: %d checks, want %d", name, len(got.Checks), len(verify.CheckNames))
		}
	}
}

// TestVerifyWithoutChainCache: the chain cache changes no verdict.
func TestVerifyWithoutChainCache(t *testing.T) {
	w := shared(t)
	plain, err := verify.New(w.root, verify.WithoutChainCache())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range verifyCases() {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.make(t, w)
			cached, uncached := w.v.Verify(b.ev, b.want()), plain.Verify(b.ev, b.want())
			if cached.Verdict != uncached.Verdict || cached.Class != uncached.Class {
				t.Errorf("with chain cache %s/%s, without %s/%s", cached.Verdict, cached.Class, uncached.Verdict, uncached.Class)
			}
		})
	}
}

// TestVerifyConcurrent shares one Verifier between 8 goroutines, as the
// audit's worker pool does (run with -race).
func TestVerifyConcurrent(t *testing.T) {
	w := shared(t)
	good := w.sign(t, publish.SummarySpec{}, alice)
	bad := w.sign(t, publish.SummarySpec{BreakInventory: publish.InventoryWrongHash}, alice)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				b, want := good, audit.Verified
				if (g+i)%2 == 1 {
					b, want = bad, audit.Invalid
				}
				if got := w.v.Verify(b.ev, b.want()); got.Verdict != want {
					t.Errorf("goroutine %d: verdict = %s, want %s", g, got.Verdict, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

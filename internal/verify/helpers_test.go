package verify_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/ca"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/rekorv2"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/signer"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/tlog"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/tsa"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

const (
	githubIssuer = "https://token.actions.githubusercontent.com"
	repository   = "127.0.0.1:5000/owner/aicr-evidence"
	recipe       = "h100-aks-ubuntu-inference-dynamo"
)

var (
	alice = ca.Identity{Identity: "https://github.com/o/r/.github/workflows/validate.yaml@refs/heads/main", Issuer: githubIssuer}
	bob   = ca.Identity{Identity: "https://github.com/mallory/r/.github/workflows/validate.yaml@refs/heads/main", Issuer: githubIssuer}
)

// world is a private Sigstore (CA, log, signer) and a verifier trusting it.
type world struct {
	ca       *ca.CA
	log      *tlog.Log
	signer   *signer.Signer
	root     *verify.TrustedRoot
	rootFile string
	v        *verify.Verifier
}

var (
	sharedOnce  sync.Once
	sharedWorld *world
)

// shared returns one world for the whole test binary: building a P-384 CA
// costs more than most tests.
func shared(tb testing.TB) *world {
	tb.Helper()
	sharedOnce.Do(func() { sharedWorld = newWorld(tb) })
	if sharedWorld == nil {
		tb.Fatal("shared world failed to build")
	}
	return sharedWorld
}

func newWorld(tb testing.TB, opts ...verify.Option) *world {
	tb.Helper()
	c, err := ca.New()
	if err != nil {
		tb.Fatalf("ca.New: %v", err)
	}
	l, err := tlog.New()
	if err != nil {
		tb.Fatalf("tlog.New: %v", err)
	}
	// Both eras: a Rekor v2 log (Ed25519, C2SP checkpoints) and a TSA.
	l2, err := rekorv2.New()
	if err != nil {
		tb.Fatalf("rekorv2.New: %v", err)
	}
	a, err := tsa.New()
	if err != nil {
		tb.Fatalf("tsa.New: %v", err)
	}
	s, err := signer.New(c, l, signer.WithRekorV2(l2, "https://"+l2.Origin()), signer.WithTSA(a, "https://tsa.sandbox.local"))
	if err != nil {
		tb.Fatalf("signer.New: %v", err)
	}
	trJSON, err := s.TrustedRootJSON()
	if err != nil {
		tb.Fatalf("TrustedRootJSON: %v", err)
	}
	dir, err := os.MkdirTemp("", "verify-root-")
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, "trusted_root.json")
	if err := os.WriteFile(path, trJSON, 0o600); err != nil {
		tb.Fatal(err)
	}
	tr, err := verify.LoadTrustedRoot(path)
	if err != nil {
		tb.Fatalf("LoadTrustedRoot: %v", err)
	}
	v, err := verify.New(tr, opts...)
	if err != nil {
		tb.Fatalf("verify.New: %v", err)
	}
	return &world{ca: c, log: l, signer: s, root: tr, rootFile: path, v: v}
}

// bundle is a signed summary bundle as a Source would fetch it, and the
// pointer that names it.
type bundle struct {
	sum  *publish.Summary
	ev   *audit.Evidence
	ptr  *evidence.Pointer
	info signer.SignedInfo
}

func (b *bundle) want() audit.Expectation {
	return audit.Expectation{Pointer: b.ptr, Path: "recipes/evidence/" + b.ptr.Recipe + "/x/" + b.ptr.Attestations[0].Bundle.Digest + ".yaml"}
}

func build(tb testing.TB, spec publish.SummarySpec) *publish.Summary {
	tb.Helper()
	if spec.Recipe == "" {
		spec.Recipe = recipe
	}
	if spec.AttestedAt.IsZero() {
		spec.AttestedAt = time.Now().Add(-time.Hour)
	}
	s, err := publish.BuildSummary(spec)
	if err != nil {
		tb.Fatalf("BuildSummary: %v", err)
	}
	return s
}

// pointerFor is the pointer the good path writes for sum, signed by id.
func pointerFor(sum *publish.Summary, id ca.Identity, logIndex int64) *evidence.Pointer {
	idx := logIndex
	at, _ := time.Parse(time.RFC3339, sum.Predicate.AttestedAt)
	pt := sum.Spec.PredicateType
	return &evidence.Pointer{
		SchemaVersion: "1.0.0",
		Recipe:        sum.Spec.Recipe,
		Profile:       sum.Spec.Profile,
		Attestations: []evidence.Attestation{{
			AttestedAt:    at,
			AttestedAtRaw: sum.Predicate.AttestedAt,
			Bundle: evidence.Bundle{
				OCI:           repository + ":" + publish.DefaultTag(sum),
				Digest:        sum.ManifestDigest,
				PredicateType: pt,
			},
			Signer: &evidence.Signer{Identity: id.Identity, Issuer: id.Issuer, RekorLogIndex: &idx},
		}},
	}
}

func files(sum *publish.Summary) map[string][]byte {
	m := make(map[string][]byte, len(sum.Files))
	for _, f := range sum.Files {
		m[f.Path] = f.Data
	}
	return m
}

// sign builds and signs a summary as id at the spec's attestedAt (plus a
// minute), into a Sigstore bundle v0.3 with a Rekor v1 entry.
func (w *world) sign(tb testing.TB, spec publish.SummarySpec, id ca.Identity) *bundle {
	tb.Helper()
	return w.signIn(tb, spec, id, w.signer.Sign)
}

// signV2 is sign in the Rekor v2 era: a hashedrekord v0.0.2 entry in the
// v2 log and an RFC 3161 timestamp.
func (w *world) signV2(tb testing.TB, spec publish.SummarySpec, id ca.Identity) *bundle {
	tb.Helper()
	return w.signIn(tb, spec, id, w.signer.SignV2)
}

func (w *world) signIn(tb testing.TB, spec publish.SummarySpec, id ca.Identity,
	sign func([]byte, ca.Identity, time.Time) ([]byte, signer.SignedInfo, error)) *bundle {
	tb.Helper()
	sum := build(tb, spec)
	at, _ := time.Parse(time.RFC3339, sum.Predicate.AttestedAt)
	return w.signSummaryWith(tb, sum, id, at.Add(time.Minute), sign)
}

// signSummaryAt signs sum's statement (its Predicate as it is now) as id at
// time at, in the Rekor v1 era.
func (w *world) signSummaryAt(tb testing.TB, sum *publish.Summary, id ca.Identity, at time.Time) *bundle {
	tb.Helper()
	return w.signSummaryWith(tb, sum, id, at, w.signer.Sign)
}

func (w *world) signSummaryWith(tb testing.TB, sum *publish.Summary, id ca.Identity, at time.Time,
	sign func([]byte, ca.Identity, time.Time) ([]byte, signer.SignedInfo, error)) *bundle {
	tb.Helper()
	bj, info, err := sign(sum.Statement(repository), id, at)
	if err != nil {
		tb.Fatalf("Sign: %v", err)
	}
	return &bundle{
		sum: sum,
		ev: &audit.Evidence{
			ManifestDigest: sum.ManifestDigest,
			LayerDigest:    sum.LayerDigest,
			Files:          files(sum),
			Signature:      audit.Signature{Kind: audit.SigstoreBundle, BundleJSON: bj, Via: "referrers-api"},
		},
		ptr:  pointerFor(sum, id, info.LogIndex),
		info: info,
	}
}

// signLegacy builds and signs a summary in the legacy cosign form.
func (w *world) signLegacy(tb testing.TB, spec publish.SummarySpec, id ca.Identity) *bundle {
	tb.Helper()
	sum := build(tb, spec)
	at, _ := time.Parse(time.RFC3339, sum.Predicate.AttestedAt)
	lg, err := w.signer.SignLegacy(sum.Statement(repository), id, at.Add(time.Minute))
	if err != nil {
		tb.Fatalf("SignLegacy: %v", err)
	}
	return &bundle{
		sum: sum,
		ev: &audit.Evidence{
			ManifestDigest: sum.ManifestDigest,
			LayerDigest:    sum.LayerDigest,
			Files:          files(sum),
			Signature: audit.Signature{Kind: audit.CosignLegacy, Via: "cosign-att", Legacy: []audit.LegacyLayer{{
				Envelope:    lg.Envelope,
				Certificate: string(lg.CertPEM),
				Chain:       string(lg.ChainPEM),
				Bundle:      string(lg.Bundle),
			}}},
		},
		ptr:  pointerFor(sum, id, lg.Info.LogIndex),
		info: lg.Info,
	}
}

package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

// Errors a Source returns, wrapped, so that the audit can classify a fetch
// without knowing the registry's types (SPEC §3, DESIGN "registry").
var (
	// ErrFetch is the family of every classified fetch error.
	ErrFetch = errors.New("fetch")
	// ErrGone: 404, NAME_UNKNOWN, MANIFEST_UNKNOWN — the bytes are gone.
	ErrGone = fmt.Errorf("%w: gone", ErrFetch)
	// ErrForbidden: 401/403 — the namespace went private or access was revoked.
	ErrForbidden = fmt.Errorf("%w: forbidden", ErrFetch)
	// ErrTransient: 429, 5xx, timeouts, DNS, resets — retried, then no-verdict.
	ErrTransient = fmt.Errorf("%w: transient", ErrFetch)
	// ErrCanceled: the run was canceled.
	ErrCanceled = fmt.Errorf("%w: canceled", ErrFetch)
	// ErrPolicy: the registry host is not allowed (allow list, private network).
	ErrPolicy = fmt.Errorf("%w: registry not allowed", ErrFetch)
	// ErrIntegrity: digest mismatch, size limit, malformed manifest or layer.
	ErrIntegrity = fmt.Errorf("%w: integrity", ErrFetch)
	// ErrNoSignature: the bytes are served but no signature is attached.
	ErrNoSignature = fmt.Errorf("%w: no signature", ErrFetch)
	// ErrBadReference: the pointer's locator cannot be used.
	ErrBadReference = fmt.Errorf("%w: bad reference", ErrFetch)
)

// Evidence is what a Source fetched for one pointer: the summary bundle's
// files and the signatures attached to it.
type Evidence struct {
	ManifestDigest string            // the pinned digest, verified
	LayerDigest    string            // for the fast path's probes
	Files          map[string][]byte // the layer, extracted (bounded, no links, no escapes)
	// Signature is the preferred signature: the newest usable Sigstore
	// bundle referrer, or the legacy cosign attestation.
	Signature Signature
	// Alternatives are the further usable signatures, in the Source's order
	// of preference after Signature (older bundle referrers). The audit
	// offers each to the Verifier in turn until one verifies; usually empty.
	Alternatives []Signature
	// Skipped names the signature candidates the Source found but could not
	// use — a bundle blob gone or over the size limit, wrong bytes, a
	// referrer that holds no single bundle — for the verdict's detail.
	Skipped []SkippedSignature
}

// SkippedSignature is a signature candidate a Source could not use.
type SkippedSignature struct {
	ReferrerDigest string // the manifest that carried it
	Reason         string
}

// SignatureKind says which form the signature takes.
type SignatureKind string

// Signature forms.
const (
	SigstoreBundle SignatureKind = "sigstore-bundle" // v0.3 bundle as an OCI 1.1 referrer
	CosignLegacy   SignatureKind = "cosign-legacy"   // cosign .att tag, DSSE layers
)

// Signature is the signature material attached to a summary bundle.
type Signature struct {
	Kind           SignatureKind
	BundleJSON     []byte        // SigstoreBundle
	Legacy         []LegacyLayer // CosignLegacy
	ReferrerDigest string        // manifest holding the signature, for probes
	Via            string        // referrers-api | tag-schema | cosign-att
}

// LegacyLayer is one DSSE layer of a cosign .att attestation with the
// annotations cosign puts beside it.
type LegacyLayer struct {
	Envelope    []byte // the DSSE envelope JSON (layer content)
	Certificate string // PEM, dev.sigstore.cosign/certificate
	Chain       string // PEM, dev.sigstore.cosign/chain
	Bundle      string // JSON, dev.sigstore.cosign/bundle (Rekor SET + payload)
	// RFC3161Timestamp is JSON, dev.sigstore.cosign/rfc3161timestamp:
	// {"SignedRFC3161Timestamp": "<base64 DER TimeStampResp>"}, cosign's
	// timestamp over the layer's content, beside or instead of Bundle.
	RFC3161Timestamp string
}

// Source fetches evidence from OCI registries. The registry package
// satisfies it; errors wrap the Err* sentinels above.
type Source interface {
	// Fetch gets the summary bundle pinned by digest (the tag in oci is
	// ignored) and its attached signature.
	Fetch(ctx context.Context, oci, digest string) (*Evidence, error)
	// Probe checks that the manifest, its layer and the signature's
	// manifest still exist, without downloading them (the fast path).
	Probe(ctx context.Context, oci, digest, layerDigest, referrerDigest string) error
}

// Expectation is what the pointer claims, which the bundle must match.
type Expectation struct {
	Pointer *evidence.Pointer // parsed; exactly one attestation
	Path    string            // repository path, for messages
}

// Verification is the verdict of the cryptographic and content checks of
// one fetched bundle. Verdict is Verified, VerifiedWithFailures or Invalid
// (with Class); Checks lists every check in order.
type Verification struct {
	Verdict Verdict
	Class   Class
	Detail  string
	Hint    string
	Checks  []Check

	// Facts established by verification; zero when not reached.
	Statement      *evidence.Statement
	StatementJSON  []byte // the signed in-toto statement (DSSE payload)
	BundleJSON     []byte // the Sigstore bundle as fetched (or legacy bundle form)
	LogIndex       int64  // -1 when unknown
	LogID          string // hex key id of the log
	IntegratedTime time.Time
	SignedAt       time.Time // predicate attestedAt, trusted once the signature verified
	Phases         map[string]PhaseCounts
}

// Verifier checks fetched evidence against the trusted root and the
// pointer. Implementations are safe for concurrent use and build their
// trust material once.
type Verifier interface {
	Verify(ev *Evidence, want Expectation) Verification
	// TrustRoot names the trusted material (sha256 of trusted_root.json),
	// so the fast path can tell when it changed.
	TrustRoot() string
	// Version names the verification logic, so the fast path re-verifies
	// everything after an upgrade.
	Version() string
}

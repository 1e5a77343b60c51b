package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
// manifest facts, the signatures attached to it and, once Source.Layer
// delivered them, its files.
type Evidence struct {
	ManifestDigest string // the pinned digest, verified
	LayerDigest    string // for Source.Layer and the fast path's probes
	LayerSize      int64  // the layer descriptor's size, for Source.Layer
	LayerMediaType string // the layer descriptor's media type (the archive's copy keeps it)
	// Files are the layer's files (bounded, no links, no escapes), keyed by
	// clean relative path; nil until Source.Layer delivered them (the audit
	// fetches them only for a signature whose signed checks passed), or set
	// by a Source that read the bundle whole (an archived copy).
	Files map[string]File
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
	// Objects are the summary bundle's manifest, config and layer as read,
	// for the archive; empty when the Source keeps no raw bytes.
	Objects []Object
}

// File is one file of a summary bundle's layer: its size and sha256, and
// its content when verification reads it in full (ReadInFull).
type File struct {
	Size   int64
	SHA256 string // "sha256:<64 lowercase hex>"
	Data   []byte // the content; nil unless the path is in ReadInFull (a Source may keep more)
}

// FileOf describes data in full: size, sha256 and content.
func FileOf(data []byte) File {
	sum := sha256.Sum256(data)
	return File{Size: int64(len(data)), SHA256: "sha256:" + hex.EncodeToString(sum[:]), Data: data}
}

// ReadInFull are the files of a summary bundle whose content verification
// reads (SPEC §2.2): manifest.json, parsed for the inventory, and
// recipe.yaml, canonicalized for the recipe digest. Every other file is
// judged by its size and sha256 alone, so a Source need not hold it in
// memory (issue 15: a bundle's files cost what these two weigh, not what
// the layer inflates to).
var ReadInFull = []string{evidence.ManifestFileName, evidence.RecipeFileName}

// Layer is a summary bundle's files as Source.Layer extracted them. They
// hold part of the run's memory budget until Release.
type Layer struct {
	Files map[string]File
	// Blob is the layer blob as read and digest-checked, when it was asked
	// for (the archive copies it); nil otherwise.
	Blob *Object
	// Release gives the memory back; nil when the Source holds none.
	Release func()
}

// release drops l's files and calls l.Release once; nil-safe. The files
// go first, so that a Source reclaiming their memory before it gives the
// budget back finds them unreachable.
func (l *Layer) release() {
	if l != nil && l.Release != nil {
		l.Files, l.Blob = nil, nil
		l.Release()
		l.Release = nil
	}
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
	// Objects are the signature's manifest (first), its config and its
	// layers as read, for the archive; empty when the Source keeps none.
	Objects []Object
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
	// Fetch gets the summary manifest pinned by digest (the tag in oci is
	// ignored) and the signatures attached to it — everything but the
	// layer, so that Evidence.Files is nil.
	Fetch(ctx context.Context, oci, digest string) (*Evidence, error)
	// Layer downloads and extracts the layer that Fetch found
	// (ev.LayerDigest, ev.LayerSize); with keepBlob it also keeps the blob's
	// bytes (Layer.Blob), for the archive. The audit asks for it only once a
	// signature's signed checks passed, so that a pointer with no usable
	// signature never costs a layer download (issue 15: signature first),
	// and releases it when the pointer is decided.
	Layer(ctx context.Context, oci string, ev *Evidence, keepBlob bool) (*Layer, error)
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
	// Via is where the evidence came from when it was not the origin
	// (ViaArchive); empty otherwise.
	Via Via
}

// StagedVerifier is a Verifier that judges a signature before the bundle's
// files are fetched. VerifySigned runs every check that needs no file —
// the signature, the signer and the signed statement — and returns the
// final verification and nil when one of them fails; when all pass it
// returns the ContentCheck that finishes the same verification with the
// files. Either way the outcome is exactly what Verify would have returned
// for the evidence with its files.
//
// The audit uses it when the Verifier offers it; with a plain Verifier it
// fetches the files before verifying.
type StagedVerifier interface {
	Verifier
	VerifySigned(ev *Evidence, want Expectation) (Verification, ContentCheck)
}

// ContentCheck finishes a verification whose signed checks passed, with
// the summary bundle's files.
type ContentCheck func(files map[string]File) Verification

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

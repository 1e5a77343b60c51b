package audit

import (
	"context"
	"time"
)

// Object is one OCI object of a bundle exactly as a Source read it: a
// manifest or a blob whose bytes matched Digest (and the size its
// descriptor gave). Objects are what the archive copies, digest-preserving
// (SPEC §9); nothing in them is trusted before the Verifier has judged the
// evidence they came with.
type Object struct {
	Digest    string // sha256:<hex> (or sha512)
	MediaType string
	// Manifest is true for an image manifest or index (pushed under
	// /manifests/), false for a blob.
	Manifest bool
	Data     []byte
}

// Size is the object's length in bytes.
func (o Object) Size() int64 { return int64(len(o.Data)) }

// Archive keeps the auditor's own digest-preserving copies of bundles it
// verified healthy, and reads them back when the origin loses them (SPEC
// §9). internal/archive satisfies it with an OCI image layout directory or
// an OCI repository.
type Archive interface {
	// Name identifies the store ("oci-layout:DIR" or "oci:REPOSITORY");
	// the ledger's records of what was archived are per store.
	Name() string
	// Put copies the summary bundle digest (ev.Objects) and the signature
	// that verified it (sig.Objects) into the archive, checking each
	// object against its digest as it is written, and makes the copy
	// visible only once every object is in place: a crash leaves nothing a
	// later run would read. Putting a bundle already archived is a no-op
	// that repairs missing or damaged objects. The record is for the
	// ledger, which is written after Put returns.
	Put(ctx context.Context, digest string, ev *Evidence, sig Signature) (ArchivedBundle, error)
	// Fetch reads an archived bundle back as Evidence, every object
	// checked against its digest. Errors wrap ErrGone (not in the archive),
	// ErrIntegrity (a damaged copy: never proof) or ErrTransient (the
	// archive could not be read now).
	Fetch(ctx context.Context, digest string) (*Evidence, error)
}

// ArchivedBundle is the ledger's record of one bundle copied into an
// archive store.
type ArchivedBundle struct {
	Digest string // the summary manifest, sha256:<hex>
	Store  string // Archive.Name of the store that holds it
	// Signature is the kind of the archived signature and ReferrerDigest
	// the manifest that carries it (the referrer, or the .att image).
	Signature      SignatureKind
	ReferrerDigest string
	// Objects lists every object copied (summary first), Bytes their total
	// size counted once per digest.
	Objects []ObjectRef
	Bytes   int64
	At      time.Time
	RunID   int64 // the run that archived it; 0 for `archive backfill`
}

// ObjectRef names an archived object without its bytes.
type ObjectRef struct {
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"`
	Manifest  bool   `json:"manifest,omitempty"`
}

// ArchiveCoverage is how many of a run's healthy bundles (distinct digests
// of verified, verified-with-failures and archived results) the archive
// holds (SPEC §5, §9).
type ArchiveCoverage struct {
	Archived int
	Healthy  int
}

// Ratio is Archived / Healthy; ok is false when there is nothing healthy.
func (c ArchiveCoverage) Ratio() (r float64, ok bool) {
	if c.Healthy == 0 {
		return 0, false
	}
	return float64(c.Archived) / float64(c.Healthy), true
}

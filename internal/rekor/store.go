package rekor

import (
	"context"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// Store is what the fallback and the monitor need from the ledger: the
// cached bundle of a digest (SPEC §6) and the checkpoints of each log.
// *ledger.DB satisfies it.
type Store interface {
	CachedBundle(ctx context.Context, digest string) (audit.CachedBundle, bool, error)
	PutCheckpoint(ctx context.Context, c ledger.Checkpoint) error
	// Checkpoints lists every checkpoint recorded for a log, largest first.
	Checkpoints(ctx context.Context, logID string) ([]ledger.Checkpoint, error)
}

var _ Store = (*ledger.DB)(nil)

// CachedVerifier re-verifies a cached Sigstore bundle offline against the
// trusted root and the pointer (signature, chain, identity, subject digest;
// no inventory). *verify.Verifier satisfies it.
type CachedVerifier interface {
	VerifyCached(bundleJSON []byte, want audit.Expectation) audit.Verification
}

var (
	_ audit.Fallback   = (*Log)(nil)
	_ audit.LogMonitor = (*Log)(nil)
)

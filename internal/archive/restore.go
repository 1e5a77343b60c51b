package archive

import (
	"context"
	"fmt"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// Restored is one bundle Restore pushed.
type Restored struct {
	Digest         string // the summary manifest, unchanged
	Repository     string // host/repository it was pushed to
	Signature      audit.SignatureKind
	ReferrerDigest string
	Objects        int
	Bytes          int64
}

// Restore reads the archived bundle digest from st — every object checked
// against its digest on the way, so a damaged copy is never restored — and
// pushes it with its signature to the repository to (SPEC §9): the blobs,
// the summary manifest by digest, then the Sigstore-bundle referrer (with
// the sha256-<hex> tag index where the registry lacks the Referrers API) or
// the legacy .att image under its tag. Verifying the bundle from its new
// place is the caller's (it needs the verifier and the pointer).
func Restore(ctx context.Context, st Store, p *Pusher, digest, to string) (Restored, error) {
	repo, err := p.Repository(to)
	if err != nil {
		return Restored{}, fmt.Errorf("restore %s: --to %w", digest, err)
	}
	ev, err := st.Fetch(ctx, digest)
	if err != nil {
		return Restored{}, fmt.Errorf("restore %s: read the archived copy: %w", digest, err)
	}
	b, err := bundleOf(digest, ev, ev.Signature)
	if err != nil {
		return Restored{}, fmt.Errorf("restore %s: %w", digest, err)
	}
	if err := p.push(ctx, repo, b); err != nil {
		return Restored{}, fmt.Errorf("restore %s: %w", digest, err)
	}
	return Restored{Digest: digest, Repository: repo.Name(), Signature: b.kind, ReferrerDigest: b.sig.Digest,
		Objects: len(b.objects), Bytes: b.size()}, nil
}

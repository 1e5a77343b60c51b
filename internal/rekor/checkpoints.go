package rekor

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/rekor/pkg/generated/client/tlog"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// Kinds of log API a checkpoint was read through.
const (
	kindV1    = "rekor-v1"   // the Rekor v1 REST API
	kindTiles = "tlog-tiles" // C2SP tlog-tiles (Rekor v2)
)

// seenCheckpoint is a verified checkpoint a Prove saw, with how to reach
// its log for a consistency proof.
type seenCheckpoint struct {
	kind string
	url  string
	size int64
	root []byte
	raw  string
}

// tlogEntryRef is the log entry a cached bundle carries.
type tlogEntryRef struct {
	index      int64
	logID      string // hex
	body       []byte
	kind       string
	version    string
	integrated time.Time
	checkpoint string
	v2         bool // a Rekor v2 (tile-based) entry
}

func refOf(t *protorekor.TransparencyLogEntry) *tlogEntryRef {
	r := &tlogEntryRef{
		index: t.GetLogIndex(), logID: hex.EncodeToString(t.GetLogId().GetKeyId()), body: t.GetCanonicalizedBody(),
		kind: t.GetKindVersion().GetKind(), version: t.GetKindVersion().GetVersion(),
		checkpoint: t.GetInclusionProof().GetCheckpoint().GetEnvelope(),
	}
	if it := t.GetIntegratedTime(); it > 0 {
		r.integrated = time.Unix(it, 0).UTC()
	}
	// Rekor v2 logs only dsse and hashedrekord entries, both at 0.0.2, and
	// has no integrated time (intoto 0.0.2 is a Rekor v1 kind).
	r.v2 = r.version == "0.0.2" && (r.kind == "dsse" || r.kind == "hashedrekord")
	return r
}

func checkpointText(e *entry) string {
	if e.anon.Verification == nil || e.anon.Verification.InclusionProof == nil || e.anon.Verification.InclusionProof.Checkpoint == nil {
		return ""
	}
	return *e.anon.Verification.InclusionProof.Checkpoint
}

// record remembers a verified checkpoint for CheckConsistency and stores it
// in the ledger (DESIGN step 4: every checkpoint seen is recorded). A
// ledger failure does not change the verdict; the monitor still has the
// checkpoint in memory.
func (p *prover) record(ctx context.Context, origin string, sc seenCheckpoint) {
	l := p.l
	l.mu.Lock()
	dup := slices.ContainsFunc(l.seen[origin], func(o seenCheckpoint) bool { return o.size == sc.size && bytes.Equal(o.root, sc.root) })
	if !dup {
		l.seen[origin] = append(l.seen[origin], sc)
	}
	l.mu.Unlock()
	if l.cfg.store == nil || dup {
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := l.cfg.store.PutCheckpoint(wctx, ledger.Checkpoint{LogID: origin, TreeSize: sc.size, RootHash: sc.root, Raw: sc.raw}); err != nil {
		p.check("rekor-checkpoint-record", "warn", "checkpoint not recorded: %v", err)
	}
}

// CheckConsistency proves, for every log a Prove of this run read a
// checkpoint from, that the log only grew since the checkpoints earlier
// runs recorded (DESIGN step 4): each checkpoint of the run must extend the
// largest one recorded before it, by a consistency proof fetched from the
// log and verified with RFC 6962 hashing. A log that went backwards, two
// roots for one size, or a proof that does not verify is a finding line; a
// log that cannot be reached is not (the next run tries again). The run's
// checkpoints are recorded with runID and forgotten.
func (l *Log) CheckConsistency(ctx context.Context, runID int64) []string {
	l.mu.Lock()
	seen := l.seen
	l.seen = map[string][]seenCheckpoint{}
	l.mu.Unlock()

	var findings []string
	origins := make([]string, 0, len(seen))
	for o := range seen {
		origins = append(origins, o)
	}
	slices.Sort(origins)
	for _, origin := range origins {
		run := seen[origin]
		slices.SortFunc(run, func(a, b seenCheckpoint) int { return int(a.size - b.size) })
		findings = append(findings, l.checkLog(ctx, origin, run)...)
		if l.cfg.store != nil {
			for _, sc := range run {
				// Already stored by Prove without a run; storing again is a
				// no-op unless that write failed.
				_ = l.cfg.store.PutCheckpoint(ctx, ledger.Checkpoint{LogID: origin, TreeSize: sc.size, RootHash: sc.root, Raw: sc.raw, RunID: runID})
			}
		}
	}
	return findings
}

func (l *Log) checkLog(ctx context.Context, origin string, run []seenCheckpoint) []string {
	var findings []string
	// Within the run: one root per size.
	for i := 1; i < len(run); i++ {
		if run[i].size == run[i-1].size {
			findings = append(findings, fmt.Sprintf("transparency log %q forked: two roots for %d entries within this run (%s… and %s…)",
				origin, run[i].size, shortHex(hex.EncodeToString(run[i-1].root)), shortHex(hex.EncodeToString(run[i].root))))
		}
	}
	var prior *ledger.Checkpoint
	if l.cfg.store != nil {
		recorded, err := l.cfg.store.Checkpoints(ctx, origin)
		if err != nil {
			return append(findings, fmt.Sprintf("transparency log %q: consistency not checked, the ledger's checkpoints could not be read: %v", origin, err))
		}
		ofRun := func(c ledger.Checkpoint) bool {
			return slices.ContainsFunc(run, func(s seenCheckpoint) bool { return s.size == c.TreeSize && bytes.Equal(s.root, c.RootHash) })
		}
		for i := range recorded {
			c := recorded[i]
			if ofRun(c) {
				continue
			}
			if prior == nil {
				prior = &recorded[i]
			}
			// Two roots for one size anywhere in the ledger is a fork.
			for _, s := range run {
				if s.size == c.TreeSize && !bytes.Equal(s.root, c.RootHash) {
					findings = append(findings, fmt.Sprintf("transparency log %q forked: %d entries had root %s… when recorded %s, and root %s… now",
						origin, c.TreeSize, shortHex(hex.EncodeToString(c.RootHash)), c.SeenAt.UTC().Format(time.RFC3339), shortHex(hex.EncodeToString(s.root))))
				}
			}
		}
	}
	chain := run
	if prior != nil {
		newest := run[len(run)-1]
		if newest.size < prior.TreeSize {
			return append(findings, fmt.Sprintf("transparency log %q went backwards: %d entries now, %d recorded %s (root %s…)",
				origin, newest.size, prior.TreeSize, prior.SeenAt.UTC().Format(time.RFC3339), shortHex(hex.EncodeToString(prior.RootHash))))
		}
		chain = append([]seenCheckpoint{{size: prior.TreeSize, root: prior.RootHash}}, run...)
	}
	for i := 1; i < len(chain); i++ {
		from, to := chain[i-1], chain[i]
		if from.size == to.size || from.size == 0 {
			continue // equal sizes were compared above; the empty tree is consistent with every tree
		}
		hashes, err := l.consistencyProof(ctx, to, from.size)
		if err != nil {
			continue // unreachable: not a finding, the next run proves it
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(from.size), uint64(to.size), hashes, from.root, to.root); err != nil { //nolint:gosec
			findings = append(findings, fmt.Sprintf("transparency log %q forked: %d entries (root %s…) are not a prefix of %d entries (root %s…): %v",
				origin, from.size, shortHex(hex.EncodeToString(from.root)), to.size, shortHex(hex.EncodeToString(to.root)), err))
		}
	}
	return findings
}

// consistencyProof fetches the proof from first to to.size from to's log.
func (l *Log) consistencyProof(ctx context.Context, to seenCheckpoint, first int64) ([][]byte, error) {
	if to.kind == kindTiles {
		return l.tileConsistencyProof(ctx, to, first)
	}
	p := tlog.NewGetLogProofParamsWithContext(ctx).WithFirstSize(&first).WithLastSize(to.size)
	resp, err := l.api.Tlog.GetLogProof(p)
	if err != nil {
		return nil, classify("consistency proof", err)
	}
	var hashes [][]byte
	for _, h := range resp.Payload.Hashes {
		b, err := hex.DecodeString(h)
		if err != nil {
			return nil, fmt.Errorf("consistency proof: %w: hash %q", ErrBadResponse, h)
		}
		hashes = append(hashes, b)
	}
	return hashes, nil
}

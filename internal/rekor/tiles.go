package rekor

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	rekornote "github.com/sigstore/rekor-tiles/v2/pkg/note"
	"github.com/sigstore/sigstore-go/pkg/root"
	flog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// tileWidth is a full tile (C2SP tlog-tiles).
const tileWidth = 256

// maxTileBytes bounds one tile or entry bundle.
const maxTileBytes = 8 << 20

// tiles reads one tile-based log (C2SP tlog-tiles: Rekor v2) at base.
type tiles struct {
	hc    *http.Client
	base  string
	cache map[string][]byte // path → body, for one proof
}

func (l *Log) tiles(base string) *tiles {
	return &tiles{hc: l.hc, base: strings.TrimRight(base, "/"), cache: map[string][]byte{}}
}

func (t *tiles) get(ctx context.Context, path string) ([]byte, error) {
	if b, ok := t.cache[path]; ok {
		return b, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w: %v", path, ErrUnavailable, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxTileBytes))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w: %v", path, ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %w", path, statusError(resp.StatusCode, fmt.Errorf("%s", bytes.TrimSpace(b))))
	}
	t.cache[path] = b
	return b, nil
}

// checkpoint fetches the log's checkpoint and verifies it as a C2SP signed
// note (SPEC §2.2) with v, the log's note verifier: a signature line whose
// name is the origin and whose key hint is the first 4 bytes of the log's
// key hash, verifying with the log key; then its body (origin, size, root
// hash) is parsed with transparency-dev/formats and must name the origin.
// A note that is not a signed note at all is a bad response (the log
// served something else, as a broken proxy would); a signed note that the
// log key did not sign, or that names another origin, is a failure.
func (t *tiles) checkpoint(ctx context.Context, v note.Verifier) (*flog.Checkpoint, string, *failure, error) {
	raw, err := t.get(ctx, "/checkpoint")
	if err != nil {
		return nil, "", nil, err
	}
	n, err := note.Open(raw, note.VerifierList(v))
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case errors.As(err, &unverified):
		var hints []string
		for _, s := range unverified.Note.UnverifiedSigs {
			hints = append(hints, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
		}
		return nil, "", fail(audit.ClassSignature, CheckCheckpoint,
			"the checkpoint %s serves is not signed by the log key the trusted root names (%s+%08x); its signatures are by %s",
			t.base, v.Name(), v.KeyHash(), strings.Join(hints, ", ")), nil
	case errors.As(err, &invalid):
		return nil, "", fail(audit.ClassSignature, CheckCheckpoint,
			"the checkpoint %s serves carries the log key's name and hint (%s+%08x), but its signature does not verify with that key: a forged checkpoint",
			t.base, invalid.Name, invalid.Hash), nil
	case err != nil:
		return nil, "", nil, fmt.Errorf("checkpoint: %w: not a signed note: %v", ErrBadResponse, err)
	}
	cp := &flog.Checkpoint{}
	if _, err := cp.Unmarshal([]byte(n.Text)); err != nil {
		return nil, "", fail(audit.ClassSignature, CheckCheckpoint, "the checkpoint %s serves is signed by the log key but its body does not parse: %v", t.base, err), nil
	}
	if cp.Origin != v.Name() {
		return nil, "", fail(audit.ClassSignature, CheckCheckpoint, "the checkpoint %s serves names origin %q, not %q", t.base, cp.Origin, v.Name()), nil
	}
	return cp, string(raw), nil, nil
}

// noteVerifier is the C2SP signed-note verifier of a Rekor v2 log the
// trusted root names: origin the host of its baseUrl, key hint and key from
// the log key (Ed25519 as public-good's, or ECDSA), computed by rekor-tiles'
// note package.
func noteVerifier(tl *root.TransparencyLog) (note.Verifier, error) {
	u, err := url.Parse(tl.BaseURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("baseUrl %q: no host to take the checkpoint origin from", tl.BaseURL)
	}
	sv, err := logVerifier(tl)
	if err != nil {
		return nil, err
	}
	v, err := rekornote.NewNoteVerifier(u.Hostname(), sv)
	if err != nil {
		return nil, fmt.Errorf("note verifier: %w", err)
	}
	return v, nil
}

// tilePath is "/tile/<L>/<N>[.p/<W>]" or "/tile/entries/<N>[.p/<W>]" with N
// in three-digit groups, all but the last prefixed with "x".
func tilePath(level string, n uint64, width uint64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n /= 1000; n > 0; n /= 1000 {
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	p := "/tile/" + level + "/" + s
	if width < tileWidth {
		p += fmt.Sprintf(".p/%d", width)
	}
	return p
}

// getTile fetches tile n of level (or "entries") holding w items. A log
// may drop a partial tile once the full one exists (C2SP tlog-tiles): then
// the full tile is read and, for hash tiles, cut to w hashes of size bytes.
func (t *tiles) getTile(ctx context.Context, level string, n, w uint64, size int) ([]byte, error) {
	b, err := t.get(ctx, tilePath(level, n, w))
	if err == nil || w == tileWidth || !errors.Is(err, ErrNotFound) {
		return b, err
	}
	full, ferr := t.get(ctx, tilePath(level, n, tileWidth))
	if ferr != nil {
		return nil, err
	}
	if size > 0 && len(full) >= int(w)*size { //nolint:gosec // w ≤ 256
		return full[:int(w)*size], nil //nolint:gosec
	}
	return full, nil
}

// width is how many items tile n holds when the level holds count items.
func width(n, count uint64) uint64 {
	return min(tileWidth, count-n*tileWidth)
}

// node returns the hash of a perfect subtree of the tree of size leaves,
// from the tile holding its base at the nearest tile level below it.
func (t *tiles) node(ctx context.Context, size uint64, id compact.NodeID) ([]byte, error) {
	tl := id.Level / 8
	h := id.Level % 8
	count := size >> (8 * tl) // complete nodes at tree level 8·tl
	first := id.Index << h    // the subtree's base at that level
	n := first / tileWidth
	if first+(1<<h) > count {
		return nil, fmt.Errorf("node %d/%d beyond a tree of %d", id.Level, id.Index, size)
	}
	b, err := t.getTile(ctx, fmt.Sprint(tl), n, width(n, count), 32)
	if err != nil {
		return nil, err
	}
	if uint64(len(b)) != width(n, count)*32 {
		return nil, fmt.Errorf("tile %d/%d: %w: %d bytes, want %d", tl, n, ErrBadResponse, len(b), width(n, count)*32)
	}
	hashes := make([][]byte, 1<<h)
	for i := range hashes {
		off := (first - n*tileWidth + uint64(i)) * 32
		hashes[i] = b[off : off+32]
	}
	for len(hashes) > 1 {
		next := make([][]byte, len(hashes)/2)
		for i := range next {
			next[i] = rfc6962.DefaultHasher.HashChildren(hashes[2*i], hashes[2*i+1])
		}
		hashes = next
	}
	return hashes[0], nil
}

// fetch resolves the nodes of a proof from the tiles of a tree of size.
func (t *tiles) fetch(ctx context.Context, size uint64, nodes proof.Nodes) ([][]byte, error) {
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		h, err := t.node(ctx, size, id)
		if err != nil {
			return nil, err
		}
		hashes[i] = h
	}
	return nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}

// entry returns the bytes of entry index from its entry bundle, in a tree
// of size entries.
func (t *tiles) entry(ctx context.Context, index, size uint64) ([]byte, error) {
	n := index / tileWidth
	b, err := t.getTile(ctx, "entries", n, width(n, size), 0)
	if err != nil {
		return nil, err
	}
	for i := n * tileWidth; ; i++ {
		if len(b) < 2 {
			return nil, fmt.Errorf("entry bundle %d: %w: ends before entry %d", n, ErrBadResponse, index)
		}
		l := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+l {
			return nil, fmt.Errorf("entry bundle %d: %w: truncated", n, ErrBadResponse)
		}
		if i == index {
			return b[2 : 2+l], nil
		}
		b = b[2+l:]
	}
}

// fromCacheTiles is path 1 for a cached bundle whose entry is in a Rekor v2
// log: the log is read through its tile API at the base URL the trusted
// root names (DESIGN "rekor fallback").
func (p *prover) fromCacheTiles(ctx context.Context, cb audit.CachedBundle, off audit.Verification, tle *tlogEntryRef, _ bodyFacts) audit.Verification {
	first := cb.VerifiedAt.UTC().Format("2006-01-02")
	tl, ok := p.l.trust.RekorLogs()[tle.logID]
	if !ok {
		return p.invalid(unknownLog(tle))
	}
	if tl.BaseURL == "" {
		return p.invalid(fail(audit.ClassSignature, CheckLogKey, "the trusted root names the cached entry's Rekor v2 log %s without a baseUrl: its tiles cannot be read", tle.logID).
			withHint(refreshHint))
	}
	nv, err := noteVerifier(tl)
	if err != nil {
		return p.invalid(fail(audit.ClassSignature, CheckLogKey, "log %s…: %v", shortHex(tle.logID), err))
	}
	p.check(CheckLogKey, audit.CheckPass, "log %s… (Rekor v2, tiles at %s, checkpoint origin %q, key hint %08x) is named by the trusted root",
		shortHex(tle.logID), tl.BaseURL, nv.Name(), nv.KeyHash())
	tc := p.l.tiles(tl.BaseURL)
	cp, raw, f, err := tc.checkpoint(ctx, nv)
	if err != nil {
		return p.noVerdict(err)
	}
	if f != nil {
		return p.invalid(f)
	}
	p.check(CheckCheckpoint, audit.CheckPass, "checkpoint %q of %d entries, fetched now, a C2SP signed note verified with the log key", cp.Origin, cp.Size)
	idx := uint64(tle.index) //nolint:gosec // a verified bundle's index is ≥ 0
	if idx >= cp.Size {
		return p.invalid(fail(audit.ClassNotFound, CheckEntry, "the cached bundle's entry %d is beyond the log's checkpoint of %d entries", tle.index, cp.Size))
	}
	body, err := tc.entry(ctx, idx, cp.Size)
	if err != nil {
		return p.noVerdict(err)
	}
	if !bytes.Equal(body, tle.body) {
		return p.invalid(fail(audit.ClassSignature, CheckBodyMatch, "entry %d of the log's entry bundle is not the cached bundle's entry (leaf %s…, the cached entry's is %s…)",
			tle.index, shortHex(hex.EncodeToString(rfc6962.DefaultHasher.HashLeaf(body))), shortHex(hex.EncodeToString(rfc6962.DefaultHasher.HashLeaf(tle.body)))))
	}
	p.check(CheckBodyMatch, audit.CheckPass, "entry %d of the log's entry bundle is byte for byte the cached bundle's entry", tle.index)
	nodes, err := proof.Inclusion(idx, cp.Size)
	if err != nil {
		return p.invalid(fail(audit.ClassSignature, CheckInclusion, "inclusion of %d in %d: %v", idx, cp.Size, err))
	}
	hashes, err := tc.fetch(ctx, cp.Size, nodes)
	if err != nil {
		return p.noVerdict(err)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, idx, cp.Size, rfc6962.DefaultHasher.HashLeaf(body), hashes, cp.Hash); err != nil {
		return p.invalid(fail(audit.ClassSignature, CheckInclusion, "entry %d: the inclusion proof built from the log's tiles does not lead to the checkpoint's root: %v", tle.index, err))
	}
	p.check(CheckInclusion, audit.CheckPass, "leaf %d of a tree of %d entries, proof of %d hashes built from the log's tiles, root %s…",
		idx, cp.Size, len(hashes), shortHex(hex.EncodeToString(cp.Hash)))
	p.record(ctx, cp.Origin, seenCheckpoint{kind: kindTiles, url: tl.BaseURL, size: int64(cp.Size), root: cp.Hash, raw: raw}) //nolint:gosec

	v := p.rekorOnly(tle.index, tle.logID, off.IntegratedTime)
	v.Statement, v.StatementJSON, v.BundleJSON = off.Statement, cb.StatementJSON, cb.BundleJSON
	v.Phases, v.SignedAt = off.Phases, off.SignedAt
	v.Detail = fmt.Sprintf("the registry no longer serves the bundle (%v). Proven from the ledger's cached Sigstore bundle (verified %s), "+
		"re-verified offline against the trusted root (signature, certificate chain, signer, subject digest %s, predicate), "+
		"and from the Rekor v2 log at %s through its tile API: entry %d is byte for byte the cached entry and is included "+
		"(proof built from the log's tiles) under checkpoint %q of %d entries fetched now and signed by the log key%s. "+
		"Not proven: the summary bundle's files — the bytes are gone. (A Rekor v2 entry holds no statement and cannot be found by digest: "+
		"only this cached bundle ties it to %s.)",
		p.lost, first, cb.Digest, tl.BaseURL, tle.index, cp.Origin, cp.Size, timeNote(off.IntegratedTime), cb.Digest)
	return v
}

func timeNote(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return "; the bundle's verified RFC 3161 timestamp is " + t.UTC().Format(time.RFC3339)
}

// tileConsistencyProof builds the consistency proof from first to to.size
// from a tile log's tiles (tiles are immutable, so the tiles of to.size are
// still served while the log only grows).
func (l *Log) tileConsistencyProof(ctx context.Context, to seenCheckpoint, first int64) ([][]byte, error) {
	nodes, err := proof.Consistency(uint64(first), uint64(to.size)) //nolint:gosec
	if err != nil {
		return nil, err
	}
	return l.tiles(to.url).fetch(ctx, uint64(to.size), nodes) //nolint:gosec
}

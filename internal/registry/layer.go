package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/budget"
)

// maxLayerPasses bounds how often Layer reads a layer whose files did not
// fit the memory budget (see Layer); the second pass holds all it needs.
const maxLayerPasses = 3

// Layer implements audit.Source: it streams the summary layer that Fetch
// found (ev.LayerDigest, ev.LayerSize) — gunzipped, untarred and hashed as
// it arrives, never held in memory — within the client's layer and tar
// limits, and returns every file's size and sha256, with the content of
// the files of audit.ReadInFull. The blob is digest-verified when it ends,
// and judged like every other body (body.judge): cut short is transient
// and retried, other bytes are integrity; a layer that arrives whole and
// pinned but does not extract within the limits is integrity too.
//
// The content kept holds its size of the client's budget (WithBudget)
// until the returned Layer is released. A kept file that does not fit the
// budget as the layer streams is not waited for while others are held:
// the pass finishes hashing, lets go of everything, waits for all the
// kept files need at once, and reads the layer again. A layer whose kept
// files need more than the whole budget gets all of it, runs alone, and is
// judged by its own limits.
//
// The budget counts what is reserved, the heap also holds what the
// collector has not yet reclaimed: a reservation above reclaimAbove is
// given back only after a collection, once its files are dropped.
func (c *Client) Layer(ctx context.Context, oci string, ev *audit.Evidence, keepBlob bool) (*audit.Layer, error) {
	const op = "get layer"
	t, err := c.parseTarget(op, oci)
	if err != nil {
		return nil, err
	}
	d := Descriptor{Digest: ev.LayerDigest, Size: ev.LayerSize, MediaType: ev.LayerMediaType}
	at := t.repo.String() + "@" + d.Digest
	if err := checkDescriptor(d, c.o.limits.Layer); err != nil {
		return nil, &FetchError{Op: op, Ref: at, Kind: KindIntegrity, Err: err}
	}
	// The blob, when kept, is reserved before anything is held: its size
	// is the descriptor's.
	blob := int64(0)
	if keepBlob {
		blob = d.Size
	}
	res, err := c.o.budget.Acquire(ctx, blob)
	if err != nil {
		kind, _, _, _ := classify(ctx, err)
		return nil, &FetchError{Op: op, Ref: at, Kind: kind, Err: err}
	}
	for pass := 1; ; pass++ {
		x := &layerPass{res: res, alone: c.o.budget != nil && res.Size() >= c.o.budget.Total(), blob: blob, keepBlob: keepBlob}
		err := c.do(ctx, op, at, func(ctx context.Context) error { return c.streamLayer(ctx, t, d, x) })
		if err == nil && x.extractErr == nil && x.deferred == 0 {
			l := &audit.Layer{Files: x.files, Release: releaseReclaiming(res)}
			if keepBlob {
				l.Blob = &audit.Object{Digest: d.Digest, MediaType: d.MediaType, Data: x.raw}
			}
			return l, nil
		}
		// Whatever this pass kept is dropped before the budget is given
		// back (reclaimed first when large); nothing is held while waiting.
		extractErr, need := x.extractErr, x.keptBytes
		x = nil
		releaseReclaiming(res)()
		switch {
		case err != nil:
			return nil, err
		case extractErr != nil:
			return nil, &FetchError{Op: "extract layer", Ref: at, Kind: KindIntegrity, Err: extractErr}
		case pass == maxLayerPasses:
			return nil, &FetchError{Op: op, Ref: at, Kind: KindTransient,
				Err: fmt.Errorf("the files verification reads (%d bytes) did not fit the memory budget in %d passes", need, pass)}
		}
		if res, err = c.o.budget.Acquire(ctx, blob+need); err != nil {
			kind, _, _, _ := classify(ctx, err)
			return nil, &FetchError{Op: op, Ref: at, Kind: kind, Err: err}
		}
	}
}

// reclaimAbove is the reservation above which Layer's release collects
// the garbage before it gives the budget back. Evidence files that
// verification reads in full weigh kilobytes; only a layer built to be
// huge reaches this.
const reclaimAbove = 8 << 20

// releaseReclaiming gives res back; a large one only after a collection,
// since the budget counts what is reserved, not what the collector has yet
// to reclaim: the next worker must not allocate its own large files while
// the last one's are still in the heap (the caller has dropped them).
func releaseReclaiming(res *budget.Reservation) func() {
	return func() {
		if res.Size() > reclaimAbove {
			runtime.GC()
		}
		res.Release()
	}
}

// layerPass is what one read of a layer extracted.
type layerPass struct {
	res   *budget.Reservation
	alone bool // res is the whole budget: keep what the limits allow
	// With keepBlob the blob's bytes are kept too (raw), the first blob
	// bytes of res.
	keepBlob bool
	blob     int64
	raw      []byte

	free       int64 // bytes of res no kept file of this attempt uses yet
	files      map[string]audit.File
	keptBytes  int64 // size of every file of ReadInFull, kept or not
	deferred   int   // files of ReadInFull not kept for want of budget
	extractErr error
}

// layerFiles extracts a layer held in memory (an archived copy, read
// whole) as Layer does a streamed one: every file's size and sha256, the
// content of those of audit.ReadInFull.
func layerFiles(layer []byte, lim TarLimits) (map[string]audit.File, error) {
	x := &layerPass{}
	x.start()
	if err := walkLayer(bytes.NewReader(layer), lim, x.visit); err != nil {
		return nil, err
	}
	return x.files, nil
}

// readInFull are the paths of audit.ReadInFull.
var readInFull = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range audit.ReadInFull {
		m[p] = true
	}
	return m
}()

var copyBuffers = sync.Pool{New: func() any { return new([32 << 10]byte) }}

// start resets the pass for an attempt (a retry reads the layer anew).
func (x *layerPass) start() {
	x.free = max(x.res.Size()-x.blob, 0)
	x.raw = nil
	x.files = map[string]audit.File{}
	x.keptBytes, x.deferred, x.extractErr = 0, 0, nil
}

// reserve takes n bytes for a kept file: from what res already holds, else
// by growing it without waiting.
func (x *layerPass) reserve(n int64) bool {
	if n <= x.free {
		x.free -= n
		return true
	}
	if x.res.TryGrow(n - x.free) {
		x.free = 0
		return true
	}
	return x.alone
}

// visit hashes one file of the layer, keeping its content when
// verification reads it in full and the budget allows.
func (x *layerPass) visit(name string, size int64, r io.Reader) error {
	h := sha256.New()
	f := audit.File{Size: size}
	keep := false
	if readInFull[name] {
		x.keptBytes += size
		if keep = x.reserve(size); !keep {
			x.deferred++
		}
	}
	if keep {
		b := make([]byte, size)
		if _, err := io.ReadFull(r, b); err != nil {
			return err
		}
		h.Write(b)
		f.Data = b
	} else {
		buf := copyBuffers.Get().(*[32 << 10]byte)
		_, err := io.CopyBuffer(h, io.LimitReader(r, size), buf[:])
		copyBuffers.Put(buf)
		if err != nil {
			return err
		}
	}
	f.SHA256 = "sha256:" + hex.EncodeToString(h.Sum(nil))
	x.files[name] = f
	return nil
}

// streamLayer is one attempt at reading the layer d into x.
func (c *Client) streamLayer(ctx context.Context, t target, d Descriptor, x *layerPass) error {
	resp, err := c.open(ctx, t, http.MethodGet, t.url(&c.o, "blobs", d.Digest), nil, http.StatusOK)
	if err != nil {
		return err
	}
	defer closeBody(resp)
	want := body{limit: c.o.limits.Layer, size: d.Size, digest: d.Digest}
	if err := want.checkDeclared(resp.ContentLength); err != nil {
		return err
	}
	sb := newStreamedBody(io.LimitReader(resp.Body, d.Size+1), d.Digest)
	x.start()
	if x.keepBlob {
		x.raw = make([]byte, 0, d.Size)
		sb.keep = &x.raw
	}
	extractErr := walkLayer(sb, c.o.tar, x.visit)
	// A read that failed mid-body is a transport failure, whatever the
	// extraction made of it; otherwise the rest of the body is read through
	// the hash, so that the whole blob is judged (and a layer with trailing
	// bytes is not mistaken for a short one).
	if sb.err != nil {
		return sb.err
	}
	if _, err := io.Copy(io.Discard, sb); err != nil {
		return err
	}
	if err := want.judgeContent(sb, resp.ContentLength >= 0); err != nil {
		return err
	}
	x.extractErr = extractErr
	return nil
}

// streamedBody counts and hashes a body as it is read, and remembers the
// first read error other than its end.
type streamedBody struct {
	r   io.Reader
	n   int64
	h   hash.Hash
	alg string
	err error
	// keep, when set, receives the bytes read, up to its capacity (the
	// descriptor's size: anything longer fails the digest anyway).
	keep *[]byte
}

func newStreamedBody(r io.Reader, digest string) *streamedBody {
	alg, _, _ := strings.Cut(digest, ":")
	sb := &streamedBody{r: r, alg: alg}
	if alg == "sha512" {
		sb.h = sha512.New()
	} else {
		sb.h = sha256.New()
	}
	return sb
}

func (b *streamedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	b.h.Write(p[:n])
	if b.keep != nil {
		k := *b.keep
		*b.keep = append(k, p[:min(n, cap(k)-len(k))]...)
	}
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

func (b *streamedBody) size() int64     { return b.n }
func (b *streamedBody) validJSON() bool { return false }

func (b *streamedBody) digestErr(digest string) error {
	alg, want, _ := strings.Cut(digest, ":")
	if got := hex.EncodeToString(b.h.Sum(nil)); alg != b.alg || got != want {
		return integrityf("content digest %s:%s does not match %s", b.alg, got, digest)
	}
	return nil
}

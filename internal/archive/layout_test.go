package archive_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/evidence-auditd/evidence-auditd/internal/archive"
	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
)

// TestLayoutArchivesAndProves is issue 13's "done when" through the audit
// core, the registry client, the ledger and an OCI layout on disk: every
// form of signature is archived by the first deep run; once the registry
// deleted the bundles, the next run proves each from the archive
// (archived, via archive), in both referrer discovery modes.
func TestLayoutArchivesAndProves(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers-api", false: "tag-schema"}[referrers], func(t *testing.T) {
			f := newFixture(t, cases(), sandbox.WithReferrersAPI(referrers))
			arch := f.layout(t)
			s := f.run(t, arch, "v1", "v2", "legacy")
			if s.ByVerdict[audit.Verified] != 3 || s.Archived != 3 {
				t.Fatalf("first run: %v, %d archived; want 3 verified and archived: %+v", s.ByVerdict, s.Archived, s.Results)
			}
			recs, err := f.db.ArchivedBundles(context.Background(), arch.Name())
			if err != nil || len(recs) != 3 {
				t.Fatalf("ledger records %d (%v), want 3", len(recs), err)
			}
			f.deleteOrigin(t, "v1", "v2", "legacy")
			s = f.run(t, arch, "v1", "v2", "legacy")
			for name, r := range byName(f, s) {
				if r.Verdict != audit.Archived || r.VerifiedVia != audit.ViaArchive || r.AttestedAtSource != audit.TimeSigned {
					t.Errorf("%s: %s/%s via %s (age from %s): %s", name, r.Verdict, r.Class, r.VerifiedVia, r.AttestedAtSource, r.Detail)
				}
			}
			if s.Archived != 0 {
				t.Errorf("second run archived %d, want none (already archived)", s.Archived)
			}
			rep, err := archive.Verify(context.Background(), arch, recs, nil)
			if err != nil || !rep.OK() || rep.Bundles != 3 || rep.Usage.Bytes == 0 || len(rep.Unrecorded) != 0 {
				t.Errorf("verify: %+v (%v), want 3 intact bundles and a disk usage", rep, err)
			}
		})
	}
}

// TestLayoutIsAnOCILayout: what the archive writes is read by
// go-containerregistry's own layout package: index.json → shard index →
// the summary image, whose layer is the bundle's.
func TestLayoutIsAnOCILayout(t *testing.T) {
	f := newFixture(t, cases()[:1])
	arch := f.layout(t)
	f.run(t, arch, "v1")
	p, err := layout.FromPath(arch.Dir())
	if err != nil {
		t.Fatal(err)
	}
	root, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	rm, err := root.IndexManifest()
	if err != nil || len(rm.Manifests) != 1 {
		t.Fatalf("root index %+v (%v), want one shard", rm, err)
	}
	shard, err := root.ImageIndex(rm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	want := f.built.Pointer("v1").Digest
	h, _ := v1.NewHash(want)
	img, err := shard.Image(h)
	if err != nil {
		t.Fatalf("summary image: %v", err)
	}
	ls, err := img.Layers()
	if err != nil || len(ls) != 1 {
		t.Fatalf("layers %d (%v), want 1", len(ls), err)
	}
	rc, err := ls[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	sm, _ := shard.IndexManifest()
	if len(sm.Manifests) != 2 {
		t.Errorf("shard lists %d manifests, want the summary and its signature", len(sm.Manifests))
	}
}

// TestLayoutFlippedByte: one flipped byte in an archived blob is named by
// Verify, and the audit never takes the damaged copy as proof: it reports
// it and falls back to the transparency log.
func TestLayoutFlippedByte(t *testing.T) {
	f := newFixture(t, cases()[:1])
	arch := f.layout(t)
	f.run(t, arch, "v1")
	recs, _ := f.db.ArchivedBundles(context.Background(), arch.Name())
	rec := recs[f.built.Pointer("v1").Digest]
	var layer audit.ObjectRef
	for _, o := range rec.Objects {
		if strings.HasSuffix(o.MediaType, "tar+gzip") {
			layer = o
		}
	}
	flip(t, filepath.Join(arch.Dir(), "blobs", "sha256", strings.TrimPrefix(layer.Digest, "sha256:")))

	rep, err := archive.Verify(context.Background(), arch, recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || len(rep.Problems) != 1 || rep.Problems[0].Object != layer.Digest || rep.Problems[0].Bundle != rec.Digest {
		t.Fatalf("verify problems %+v, want the layer %s of %s named", rep.Problems, layer.Digest, rec.Digest)
	}

	f.deleteOrigin(t, "v1")
	s := f.run(t, arch, "v1")
	r := s.Results[0]
	c, _ := checkNamed(r, audit.CheckArchive)
	if r.Verdict != audit.RekorOnly || c.Status != audit.CheckFail || !strings.Contains(r.Detail, "damaged") {
		t.Errorf("damaged copy: %s via %s, archive check %+v, detail %q; want rekor-only from the log with the damage named", r.Verdict, r.VerifiedVia, c, r.Detail)
	}
}

func flip(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	os.Chmod(path, 0o644)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLayoutIncompleteCopyIsNotVisible: a copy that fails midway (here:
// its last object's bytes do not match their digest, after the others were
// written) leaves no index entry — the bundle is not in the archive — and
// its blobs are counted as unreferenced residue; a later complete copy
// reuses them.
func TestLayoutIncompleteCopyIsNotVisible(t *testing.T) {
	f := newFixture(t, cases()[:1])
	arch := f.layout(t)
	bp := f.built.Pointer("v1")
	ev, err := f.client.FetchWhole(context.Background(), bp.OCI, bp.Digest)
	if err != nil {
		t.Fatal(err)
	}
	broken := ev.Signature
	broken.Objects = append([]audit.Object{}, broken.Objects...)
	last := &broken.Objects[len(broken.Objects)-1]
	last.Data = append([]byte{}, last.Data...)
	last.Data[0] ^= 1
	if _, err := arch.Put(context.Background(), bp.Digest, ev, broken); err == nil {
		t.Fatal("a copy with a corrupt object succeeded")
	}
	if _, err := arch.Fetch(context.Background(), bp.Digest); !errors.Is(err, audit.ErrGone) {
		t.Errorf("Fetch after the failed copy: %v, want not in the archive", err)
	}
	rep, err := archive.Verify(context.Background(), arch, nil, nil)
	if err != nil || !rep.OK() || rep.Usage.Unreferenced < 3 {
		t.Errorf("verify: %+v (%v), want no problem and the written blobs counted as unreferenced", rep, err)
	}
	rec, err := arch.Put(context.Background(), bp.Digest, ev, ev.Signature)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := arch.Fetch(context.Background(), bp.Digest); err != nil {
		t.Errorf("Fetch after the complete copy: %v", err)
	}
	rep, _ = archive.Verify(context.Background(), arch, map[string]audit.ArchivedBundle{bp.Digest: rec}, nil)
	if !rep.OK() || rep.Usage.Unreferenced != 0 {
		t.Errorf("after the complete copy: %+v, want every blob referenced", rep)
	}
}

// TestLayoutPutRepairs: putting a bundle again rewrites a damaged object
// and adds no second index entry.
func TestLayoutPutRepairs(t *testing.T) {
	f := newFixture(t, cases()[:1])
	arch := f.layout(t)
	bp := f.built.Pointer("v1")
	ev, err := f.client.FetchWhole(context.Background(), bp.OCI, bp.Digest)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := arch.Put(context.Background(), bp.Digest, ev, ev.Signature)
	if err != nil {
		t.Fatal(err)
	}
	flip(t, filepath.Join(arch.Dir(), "blobs", "sha256", strings.TrimPrefix(ev.Signature.Objects[len(ev.Signature.Objects)-1].Digest, "sha256:")))
	recs := map[string]audit.ArchivedBundle{bp.Digest: rec}
	if rep, _ := archive.Verify(context.Background(), arch, recs, nil); rep.OK() {
		t.Fatal("the flipped bundle blob went unnoticed")
	}
	if _, err := arch.Put(context.Background(), bp.Digest, ev, ev.Signature); err != nil {
		t.Fatal(err)
	}
	rep, _ := archive.Verify(context.Background(), arch, recs, nil)
	listed, _, _ := arch.Listed()
	if !rep.OK() || len(listed) != 1 {
		t.Errorf("after the second Put: %+v, %d listed; want repaired, listed once", rep.Problems, len(listed))
	}
}

// TestLayoutGroupCommit: many concurrent copies all end up listed, each
// once, in a few index writes.
func TestLayoutGroupCommit(t *testing.T) {
	cs := sandbox.ScaleCases(40, testNow)
	f := newFixture(t, cs, sandbox.WithLeafReuse(5*60e9))
	arch := f.layout(t)
	var wg sync.WaitGroup
	errs := make(chan error, len(cs))
	for _, c := range cs {
		bp := f.built.Pointer(c.Name)
		wg.Go(func() {
			ev, err := f.client.FetchWhole(context.Background(), bp.OCI, bp.Digest)
			if err == nil {
				_, err = arch.Put(context.Background(), bp.Digest, ev, ev.Signature)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	listed, shards, err := arch.Listed()
	if err != nil || len(listed) != len(cs) {
		t.Fatalf("%d listed (%v), want %d", len(listed), err, len(cs))
	}
	rep, err := archive.Verify(context.Background(), arch, nil, nil)
	if err != nil || rep.Usage.Unreferenced != 0 || len(rep.Unrecorded) != len(cs) {
		t.Errorf("verify: %d unreferenced blobs (replaced shards must be deleted), %d unrecorded; want 0 and %d (%v); shards %d",
			rep.Usage.Unreferenced, len(rep.Unrecorded), len(cs), err, len(shards))
	}
}

// TestLayoutTwoWritersInTurn: a writer's cached index is dropped when
// another process rewrote index.json (one after the other, as the audit
// lock orders them): no entry is lost.
func TestLayoutTwoWritersInTurn(t *testing.T) {
	f := newFixture(t, cases())
	dir := filepath.Join(t.TempDir(), "archive")
	put := func(l *archive.Layout, name string) {
		t.Helper()
		bp := f.built.Pointer(name)
		ev, err := f.client.FetchWhole(context.Background(), bp.OCI, bp.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Put(context.Background(), bp.Digest, ev, ev.Signature); err != nil {
			t.Fatal(err)
		}
	}
	open := func() *archive.Layout {
		l, err := archive.OpenLayout(dir, f.client, nil)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	first, second := open(), open()
	put(first, "v1")
	put(second, "v2")
	put(first, "legacy")
	listed, _, err := first.Listed()
	if err != nil || len(listed) != 3 {
		t.Errorf("%d bundles listed (%v), want all 3", len(listed), err)
	}
}

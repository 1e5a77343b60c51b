package registry_test

import (
	"bytes"
	"context"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/budget"
	"github.com/evidence-auditd/evidence-auditd/internal/registry"
)

func layerOf(p pushed) *audit.Evidence {
	return &audit.Evidence{ManifestDigest: p.digest, LayerDigest: p.layerDigest, LayerSize: int64(len(p.layer))}
}

// Layer streams the layer: every file's size and sha256 as ExtractLayer
// would read them, and the content only of the files verification reads.
func TestLayerHashesEveryFileKeepsOnlyWhatIsRead(t *testing.T) {
	w := newWorld(t, false)
	a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
	c, _ := w.client(t)
	l, err := c.Layer(context.Background(), w.host+"/evidence/x", layerOf(a), false)
	if err != nil {
		t.Fatalf("Layer: %v", err)
	}
	defer l.Release()
	want, err := registry.ExtractLayer(bytes.NewReader(a.layer), registry.TarLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Files) != len(want) {
		t.Fatalf("%d files, want %d", len(l.Files), len(want))
	}
	for p, data := range want {
		got, ok := l.Files[p]
		if !ok {
			t.Errorf("%s missing", p)
			continue
		}
		full := audit.FileOf(data)
		if got.Size != full.Size || got.SHA256 != full.SHA256 {
			t.Errorf("%s: size %d sha256 %s, want %d %s", p, got.Size, got.SHA256, full.Size, full.SHA256)
		}
		kept := p == "manifest.json" || p == "recipe.yaml"
		switch {
		case kept && !bytes.Equal(got.Data, data):
			t.Errorf("%s: content %q, want %q", p, got.Data, data)
		case !kept && got.Data != nil:
			t.Errorf("%s: content kept (%d bytes); only the files verification reads are", p, len(got.Data))
		}
	}
}

// A pinned layer that arrives whole but does not extract within the limits
// is integrity, and not retried.
func TestLayerMalformedIsIntegrity(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []tarEntry
		opts    []registry.Option
	}{
		{"symlink", []tarEntry{{name: "recipe.yaml", typ: '2', linkname: "/etc/passwd"}}, nil},
		{"entry over the limit", bundleFiles("a"), []registry.Option{registry.WithTarLimits(registry.TarLimits{MaxEntrySize: 8})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, false)
			a := w.pushSummary(t, "evidence/x", "v1", tc.entries...)
			c, _ := w.client(t, tc.opts...)
			_, err := c.Layer(context.Background(), w.host+"/evidence/x", layerOf(a), false)
			fe := wantKind(t, err, registry.KindIntegrity)
			if fe.Attempts > 1 {
				t.Errorf("attempts %d, want 1", fe.Attempts)
			}
			if n := w.faults.requests(http.MethodGet, "/blobs/"+a.layerDigest+"$"); n != 1 {
				t.Errorf("layer requests %d, want 1", n)
			}
		})
	}
}

// bigKept is a summary whose manifest.json and recipe.yaml weigh n bytes
// each, the files Layer keeps in memory.
func bigKept(tag string, n int) []tarEntry {
	es := bundleFiles(tag)
	for i := range es {
		if es[i].name == "manifest.json" || es[i].name == "recipe.yaml" {
			es[i].body = es[i].body + strings.Repeat("#", n)
		}
	}
	return es
}

// Over-budget work waits rather than fails: eight layers whose kept files
// need 2×64 KiB each, read at once within a 160 KiB budget, all arrive
// whole, and the budget is never exceeded; a layer that needs more than the
// whole budget waits for all of it and runs alone.
func TestLayerWithinBudget(t *testing.T) {
	w := newWorld(t, false)
	var ps []pushed
	for i := range 4 {
		ps = append(ps, w.pushSummary(t, "evidence/x", "v1", bigKept(string(rune('a'+i)), 64<<10)...))
	}
	huge := w.pushSummary(t, "evidence/x", "v2", bigKept("huge", 256<<10)...)
	b := budget.New(160 << 10)
	c, _ := w.client(t, registry.WithBudget(b))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a deadlock fails, not hangs
	defer cancel()

	// The test holds the whole budget while the readers start, so that they
	// must wait for it.
	hold, err := b.Acquire(ctx, b.Total())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 9)
	for i := range 9 {
		p := huge
		if i < 8 {
			p = ps[i%len(ps)]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := c.Layer(ctx, w.host+"/evidence/x", layerOf(p), false)
			if err != nil {
				errs <- err
				return
			}
			defer l.Release()
			files, _ := registry.ExtractLayer(bytes.NewReader(p.layer), registry.TarLimits{})
			for _, name := range audit.ReadInFull {
				if !bytes.Equal(l.Files[name].Data, files[name]) {
					t.Errorf("%s of %s: %d bytes kept, want %d", name, p.digest, len(l.Files[name].Data), len(files[name]))
				}
			}
			time.Sleep(time.Millisecond) // hold the budget a little, as verification does
		}()
	}
	for b.Stats().Waits == 0 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	hold.Release()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Layer: %v", err)
	}
	st := b.Stats()
	if st.Peak > st.Total {
		t.Errorf("peak %d bytes over the %d-byte budget", st.Peak, st.Total)
	}
	if st.InUse != 0 {
		t.Errorf("%d bytes still held after every release", st.InUse)
	}
	if st.Clamped == 0 {
		t.Errorf("the layer larger than the budget was never given the whole budget: %+v", st)
	}
}

// Once a Layer is released and its files dropped, nothing in the client
// keeps them alive (a pooled gzip reader once held on to the layer's
// stream, and through it the files it had kept): the budget gives their
// bytes to the next worker, so they must be the collector's.
func TestLayerFilesAreNotRetained(t *testing.T) {
	w := newWorld(t, false)
	a := w.pushSummary(t, "evidence/x", "v1", bigKept("a", 1<<20)...)
	c, _ := w.client(t, registry.WithBudget(budget.New(64<<20)))
	l, err := c.Layer(context.Background(), w.host+"/evidence/x", layerOf(a), true)
	if err != nil {
		t.Fatal(err)
	}
	kept := weak.Make(&l.Files["manifest.json"].Data[0])
	l.Files, l.Blob = nil, nil
	l.Release()
	runtime.GC()
	if kept.Value() != nil {
		t.Error("a released layer's manifest.json is still reachable after a collection")
	}
}

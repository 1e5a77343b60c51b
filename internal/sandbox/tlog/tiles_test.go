package tlog_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
)

func TestTileHandler(t *testing.T) {
	l := newLog(t)
	c := newCA(t)
	entries := appendN(t, l, c, 0, 300, time.Now().Add(-time.Hour))
	srv := httptest.NewServer(l.TileHandler())
	t.Cleanup(srv.Close)
	get := func(path string) (int, []byte) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	cp, _, _, err := l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if code, b := get("/checkpoint"); code != 200 || string(b) != cp {
		t.Errorf("/checkpoint: %d %q, want the signed checkpoint", code, b)
	}
	for _, tt := range []struct {
		path string
		code int
		size int
	}{
		{"/tile/0/000", 200, 256 * 32},
		{"/tile/0/001.p/44", 200, 44 * 32},
		{"/tile/0/001.p/45", 404, 0}, // beyond the tree
		{"/tile/0/001", 404, 0},      // not full yet
		{"/tile/1/000.p/1", 200, 32}, // one complete subtree of 256 leaves
		{"/tile/entries/001.p/44", 200, -1},
		{"/tile/0/x001/000", 404, 0}, // N = 1000
		{"/tile/0/1", 400, 0},
	} {
		code, b := get(tt.path)
		if code != tt.code || (tt.size >= 0 && code == 200 && len(b) != tt.size) {
			t.Errorf("%s: %d, %d bytes; want %d, %d bytes", tt.path, code, len(b), tt.code, tt.size)
		}
	}
	_, tile := get("/tile/0/001.p/44")
	if want := rfc6962.DefaultHasher.HashLeaf(entries[256].Body); !bytes.Equal(tile[:32], want) {
		t.Errorf("tile 0/1 starts with %x, want leaf hash of entry 256 %x", tile[:32], want)
	}
	_, bundle := get("/tile/entries/001.p/44")
	if n := int(binary.BigEndian.Uint16(bundle)); !bytes.Equal(bundle[2:2+n], entries[256].Body) {
		t.Error("entry bundle 1 does not start with entry 256's body")
	}
	_, top := get("/tile/1/000.p/1")
	if root, _ := l.RootHash(256); !bytes.Equal(top, root) {
		t.Errorf("tile 1/0 = %x, want the root of the first 256 leaves %x", top, root)
	}
	l.SetStatus(http.StatusServiceUnavailable)
	if code, _ := get("/checkpoint"); code != 503 {
		t.Errorf("SetStatus(503): /checkpoint answered %d", code)
	}
}

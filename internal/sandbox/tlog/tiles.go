package tlog

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// TileWidth is the number of hashes (or entries) in a full tile (C2SP
// tlog-tiles).
const TileWidth = 256

// TileHandler serves a read-only C2SP tlog-tiles view of the log, the read
// API of a Rekor v2 (tile-based) log:
//
//	GET /checkpoint                    the signed checkpoint of the current tree
//	GET /tile/<L>/<N>[.p/<W>]          hashes of tile N at tile level L (tree level 8·L)
//	GET /tile/entries/<N>[.p/<W>]      entry bundle N: the canonicalized bodies of entries 256·N …
//
// N is written in groups of three digits, all but the last prefixed with
// "x" (x001/x234/067); a partial tile of W < 256 items has the suffix .p/<W>.
// A full tile is served once the tree holds all of it, a partial one while
// the tree holds at least W items of it. Entry bundles hold each entry as a
// big-endian uint16 length and its bytes; an entry's leaf hash is the RFC
// 6962 leaf hash of those bytes, as in the Rekor v1 view. Rekor v2 entries
// have another body format (and no integrated time or SET); the Merkle
// structure, which is what a tile reader proves, is the same. SetStatus and
// SetDown apply here too; Rewind makes earlier tiles change, which a real
// tile log never does.
func (l *Log) TileHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /checkpoint", func(w http.ResponseWriter, _ *http.Request) {
		cp, _, _, err := l.Checkpoint()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(cp))
	})
	mux.HandleFunc("GET /tile/", l.handleTile)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.RLock()
		status := l.status
		l.mu.RUnlock()
		if status != 0 {
			if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
				w.Header().Set("Retry-After", "1")
			}
			http.Error(w, http.StatusText(status), status)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (l *Log) handleTile(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.TrimPrefix(r.URL.Path, "/tile/"), "/")
	if len(segs) < 2 {
		http.NotFound(w, r)
		return
	}
	entries := segs[0] == "entries"
	level := 0
	if !entries {
		lv, err := strconv.Atoi(segs[0])
		if err != nil || lv < 0 || lv > 7 {
			http.Error(w, "bad tile level", http.StatusBadRequest)
			return
		}
		level = lv
	}
	n, width, err := parseTileIndex(segs[1:])
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	var avail uint64
	if entries {
		avail = uint64(len(l.records))
	} else {
		avail = l.tree.Size() >> (8 * uint(level))
	}
	first := n * TileWidth
	want := uint64(TileWidth)
	if width > 0 {
		want = uint64(width)
	}
	if avail < first+want {
		http.NotFound(w, r)
		return
	}
	var out []byte
	for i := first; i < first+want; i++ {
		if entries {
			b := l.records[i].body
			out = binary.BigEndian.AppendUint16(out, uint16(len(b))) //nolint:gosec // bodies are far below 64 KiB
			out = append(out, b...)
			continue
		}
		h, _ := l.tree.Hash(uint(8*level), i)
		out = append(out, h...)
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(out)
}

// parseTileIndex reads "x001/x234/067[.p/W]" into N = 1234067 and W (0 for
// a full tile).
func parseTileIndex(segs []string) (n uint64, width int, err error) {
	if len(segs) >= 2 && strings.HasSuffix(segs[len(segs)-2], ".p") {
		width, err = strconv.Atoi(segs[len(segs)-1])
		if err != nil || width < 1 || width >= TileWidth {
			return 0, 0, fmt.Errorf("bad partial width %q", segs[len(segs)-1])
		}
		segs = append(segs[:len(segs)-2:len(segs)-2], strings.TrimSuffix(segs[len(segs)-2], ".p"))
	}
	for i, s := range segs {
		last := i == len(segs)-1
		if !last {
			if !strings.HasPrefix(s, "x") {
				return 0, 0, fmt.Errorf("bad tile index segment %q", s)
			}
			s = s[1:]
		}
		if len(s) != 3 {
			return 0, 0, fmt.Errorf("bad tile index segment %q", s)
		}
		d, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("bad tile index segment %q", s)
		}
		n = n*1000 + d
	}
	return n, width, nil
}

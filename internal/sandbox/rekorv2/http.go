package rekorv2

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	pb "github.com/sigstore/rekor-tiles/v2/pkg/generated/protobuf"
	"google.golang.org/protobuf/encoding/protojson"
)

// TileWidth is the number of hashes (or entries) in a full tile (C2SP
// tlog-tiles).
const TileWidth = 256

// maxRequestBody bounds POST bodies.
const maxRequestBody = 4 << 20

// Handler serves the log as public-good Rekor v2 does at its base URL:
//
//	POST /api/v2/log/entries           add a hashedrekord v0.0.2 entry (CreateEntryRequest, protobuf-JSON);
//	                                   201 with the TransparencyLogEntry, 400 invalid, 409 duplicate
//	GET  /checkpoint                   the signed checkpoint of the current tree
//	GET  /tile/<L>/<N>[.p/<W>]         hashes of tile N at tile level L (tree level 8·L)
//	GET  /tile/entries/<N>[.p/<W>]     entry bundle N: entries 256·N …, each a big-endian
//	                                   uint16 length and the canonicalized body
//
// N is written in groups of three digits, all but the last prefixed with
// "x" (x001/x234/067); a partial tile of W < 256 items has the suffix .p/<W>.
// A full tile is served once the tree holds all of it, a partial one while
// the tree holds at least W items of it.
func (l *Log) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v2/log/entries", l.handleCreate)
	mux.HandleFunc("GET /checkpoint", func(w http.ResponseWriter, _ *http.Request) {
		cp, err := l.servedCheckpoint()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, cp)
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

// writeStatus answers as rekor-tiles' gRPC gateway does: a JSON status
// with the gRPC code and a message.
func writeStatus(w http.ResponseWriter, httpStatus, grpcCode int, msg string) {
	b, _ := json.Marshal(map[string]any{"code": grpcCode, "message": msg, "details": []any{}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(b)
}

func (l *Log) handleCreate(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		writeStatus(w, http.StatusBadRequest, 3, err.Error())
		return
	}
	var req pb.CreateEntryRequest
	if err := protojson.Unmarshal(raw, &req); err != nil {
		writeStatus(w, http.StatusBadRequest, 3, err.Error())
		return
	}
	hr := req.GetHashedRekordRequestV002()
	if hr == nil {
		writeStatus(w, http.StatusBadRequest, 3, "invalid type, must be hashedrekord")
		return
	}
	tle, err := l.Add(hr)
	switch {
	case errors.Is(err, ErrDuplicate):
		writeStatus(w, http.StatusConflict, 6, err.Error())
		return
	case errors.Is(err, ErrInvalidEntry):
		writeStatus(w, http.StatusBadRequest, 3, "invalid hashedrekord request")
		return
	case err != nil:
		writeStatus(w, http.StatusInternalServerError, 2, "failed to integrate entry")
		return
	}
	b, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(tle)
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, 2, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(b)
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
		if err != nil || lv < 0 || lv > 7 || strconv.Itoa(lv) != segs[0] {
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
	avail := l.tree.Size() >> (8 * uint(level))
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
			b := l.bodies[i]
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

// parseTileIndex reads the path segments "x001/x234/067[.p/W]" into
// N = 1234067 and W (0 for a full tile), as C2SP tlog-tiles writes them.
func parseTileIndex(segs []string) (n uint64, width int, err error) {
	if len(segs) >= 2 && strings.HasSuffix(segs[len(segs)-2], ".p") {
		width, err = strconv.Atoi(segs[len(segs)-1])
		if err != nil || width < 1 || width >= TileWidth {
			return 0, 0, fmt.Errorf("bad partial width %q", segs[len(segs)-1])
		}
		segs = append(segs[:len(segs)-2:len(segs)-2], strings.TrimSuffix(segs[len(segs)-2], ".p"))
	}
	for i, s := range segs {
		if i < len(segs)-1 {
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

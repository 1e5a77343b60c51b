package tlog

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/go-openapi/runtime"
	"github.com/go-openapi/strfmt"
	"github.com/go-openapi/swag/conv"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/types"
	"github.com/transparency-dev/merkle/rfc6962"
)

// maxRequestBody bounds POST bodies.
const maxRequestBody = 4 << 20

// Handler serves the Rekor v1 REST API over the log:
//
//	GET  /api/v1/log                       log info with the signed tree head
//	GET  /api/v1/log/publicKey             PEM public key
//	GET  /api/v1/log/proof?firstSize=&lastSize=   consistency proof
//	GET  /api/v1/log/entries?logIndex=N    entry with inclusion proof and SET
//	GET  /api/v1/log/entries/{entryUUID}   same, by UUID or entry ID
//	POST /api/v1/log/entries               add a proposed entry (integrated now)
//	POST /api/v1/log/entries/retrieve      entries by UUIDs, indexes or content
//	POST /api/v1/index/retrieve            entry IDs by hash, e-mail or subject
func (l *Log) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/log", l.handleLogInfo)
	mux.HandleFunc("GET /api/v1/log/publicKey", l.handlePublicKey)
	mux.HandleFunc("GET /api/v1/log/proof", l.handleProof)
	mux.HandleFunc("GET /api/v1/log/entries", l.handleEntryByIndex)
	mux.HandleFunc("GET /api/v1/log/entries/{uuid}", l.handleEntryByUUID)
	mux.HandleFunc("POST /api/v1/log/entries", l.handleCreate)
	mux.HandleFunc("POST /api/v1/log/entries/retrieve", l.handleRetrieve)
	mux.HandleFunc("POST /api/v1/index/retrieve", l.handleSearchIndex)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.RLock()
		status := l.status
		l.mu.RUnlock()
		if status != 0 {
			if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
				w.Header().Set("Retry-After", "1")
			}
			writeError(w, status, http.StatusText(status))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError answers with Rekor's error model.
func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(&models.Error{Code: int64(status), Message: msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (l *Log) handleLogInfo(w http.ResponseWriter, _ *http.Request) {
	cp, size, root, err := l.Checkpoint()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, &models.LogInfo{
		RootHash:       conv.Pointer(hex.EncodeToString(root)),
		SignedTreeHead: conv.Pointer(cp),
		TreeID:         conv.Pointer(strconv.FormatInt(l.treeID, 10)),
		TreeSize:       conv.Pointer(size),
	})
}

func (l *Log) handlePublicKey(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(l.PublicKeyPEM())
}

func (l *Log) handleProof(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	first, last := int64(1), int64(-1)
	var err error
	if s := q.Get("firstSize"); s != "" {
		if first, err = strconv.ParseInt(s, 10, 64); err != nil || first < 1 {
			writeError(w, http.StatusBadRequest, "firstSize: must be an integer >= 1")
			return
		}
	}
	if last, err = strconv.ParseInt(q.Get("lastSize"), 10, 64); err != nil || last < 1 {
		writeError(w, http.StatusBadRequest, "lastSize: required integer >= 1")
		return
	}
	if first > last {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("firstSize(%d) must be less than or equal to lastSize(%d)", first, last))
		return
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if size := l.tree.Size(); uint64(last) > size {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("lastSize(%d) is greater than the current tree size(%d)", last, size))
		return
	}
	hashes, err := l.tree.Consistency(uint64(first), uint64(last))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	root, err := l.tree.Root(uint64(last))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	hs := make([]string, len(hashes))
	for i, h := range hashes {
		hs[i] = hex.EncodeToString(h)
	}
	writeJSON(w, http.StatusOK, &models.ConsistencyProof{RootHash: conv.Pointer(hex.EncodeToString(root)), Hashes: hs})
}

func (l *Log) writeEntry(w http.ResponseWriter, e *Entry, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		writeJSON(w, http.StatusOK, e.LogEntry())
	}
}

func (l *Log) handleEntryByIndex(w http.ResponseWriter, r *http.Request) {
	idx, err := strconv.ParseInt(r.URL.Query().Get("logIndex"), 10, 64)
	if err != nil || idx < 0 {
		writeError(w, http.StatusBadRequest, "logIndex: required integer >= 0")
		return
	}
	e, err := l.Entry(idx)
	l.writeEntry(w, e, err)
}

func (l *Log) handleEntryByUUID(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("uuid")
	if _, err := hex.DecodeString(id); err != nil || (len(id) != 64 && len(id) != 80) {
		writeError(w, http.StatusBadRequest, "entryUUID: want 64 or 80 hex digits")
		return
	}
	e, err := l.EntryByUUID(id)
	l.writeEntry(w, e, err)
}

func (l *Log) handleCreate(w http.ResponseWriter, r *http.Request) {
	pe, err := models.UnmarshalProposedEntry(io.LimitReader(r.Body, maxRequestBody), runtime.JSONConsumer())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	e, err := l.Append(pe, l.now())
	switch {
	case errors.Is(err, ErrDuplicate):
		writeError(w, http.StatusConflict, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	// As rekor-server's CreateLogEntryHandler: both name the key of the
	// response's one entry (tree ID and UUID); sigstore-go's client reads
	// the entry by its ETag.
	w.Header().Set("Location", "/api/v1/log/entries/"+e.EntryID)
	w.Header().Set("ETag", e.EntryID)
	writeJSON(w, http.StatusCreated, e.LogEntry())
}

func (l *Log) handleRetrieve(w http.ResponseWriter, r *http.Request) {
	var q models.SearchLogQuery
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody)).Decode(&q); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := q.Validate(strfmt.Default); err != nil {
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	out := []models.LogEntry{}
	add := func(e *Entry, err error) bool {
		switch {
		case errors.Is(err, ErrNotFound):
			return true
		case err != nil:
			writeError(w, http.StatusInternalServerError, err.Error())
			return false
		}
		out = append(out, e.LogEntry())
		return true
	}
	for _, id := range q.EntryUUIDs {
		if !add(l.EntryByUUID(id)) {
			return
		}
	}
	for _, pe := range q.Entries() {
		ei, err := types.CreateVersionedEntry(pe)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		body, err := types.CanonicalizeEntry(r.Context(), ei)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if !add(l.EntryByUUID(hex.EncodeToString(rfc6962.DefaultHasher.HashLeaf(body)))) {
			return
		}
	}
	for _, idx := range q.LogIndexes {
		if idx == nil {
			continue
		}
		if !add(l.Entry(*idx)) {
			return
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (l *Log) handleSearchIndex(w http.ResponseWriter, r *http.Request) {
	var q models.SearchIndex
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody)).Decode(&q); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := q.Validate(strfmt.Default); err != nil {
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	var sets [][]string
	if q.Hash != "" {
		h := strings.ToLower(q.Hash)
		if !strings.Contains(h, ":") {
			h = "sha256:" + h
		}
		sets = append(sets, l.Search(h))
	}
	if q.Email != "" {
		sets = append(sets, l.Search(q.Email.String()))
	}
	if q.Subject != "" {
		sets = append(sets, l.Search(q.Subject))
	}
	if q.PublicKey != nil {
		writeError(w, http.StatusNotImplemented, "search by public key is not supported by the sandbox log")
		return
	}
	out := []string{}
	for i, s := range sets {
		switch {
		case i == 0:
			out = append(out, s...)
		case q.Operator == "and":
			out = slices.DeleteFunc(out, func(id string) bool { return !slices.Contains(s, id) })
		default:
			for _, id := range s {
				if !slices.Contains(out, id) {
					out = append(out, id)
				}
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

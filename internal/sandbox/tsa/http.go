package tsa

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"strings"

	"crypto"
	"github.com/digitorus/timestamp"
)

// maxRequest bounds a timestamp request, as timestamp-authority does for
// JSON (1 KiB); a DER request is smaller still.
const maxRequest = 1 << 10

// Handler serves timestamp-authority's REST API:
//
//	POST /api/v1/timestamp             a timestamp request, DER (Content-Type
//	                                   application/timestamp-query) or JSON
//	                                   ({artifactHash, hashAlgorithm, nonce, certificates});
//	                                   200 with the DER response (application/timestamp-reply)
//	GET  /api/v1/timestamp/certchain   the chain, PEM, leaf first
func (t *TSA) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/timestamp", t.handleTimestamp)
	mux.HandleFunc("GET /api/v1/timestamp/certchain", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/pem-certificate-chain")
		_, _ = w.Write(t.ChainPEM())
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.mu.RLock()
		status := t.status
		t.mu.RUnlock()
		if status != 0 {
			http.Error(w, http.StatusText(status), status)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (t *TSA) handleTimestamp(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
	if err != nil || len(raw) > maxRequest {
		http.Error(w, "request too large or unreadable", http.StatusBadRequest)
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var req *timestamp.Request
	switch mt {
	case "application/timestamp-query":
		req, err = timestamp.ParseRequest(raw)
	case "application/json":
		req, err = parseJSON(raw)
	default:
		http.Error(w, "unsupported content type", http.StatusUnsupportedMediaType)
		return
	}
	if err == nil && req.HashAlgorithm.Size() != len(req.HashedMessage) {
		err = fmt.Errorf("digest of %d bytes for %v", len(req.HashedMessage), req.HashAlgorithm)
	}
	if err != nil {
		http.Error(w, "bad timestamp request: "+err.Error(), http.StatusBadRequest)
		return
	}
	resp, err := t.Respond(req, t.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/timestamp-reply")
	_, _ = io.Copy(w, bytes.NewReader(resp))
}

// parseJSON reads timestamp-authority's JSON request form.
func parseJSON(raw []byte) (*timestamp.Request, error) {
	var j struct {
		ArtifactHash  string   `json:"artifactHash"`
		Certificates  bool     `json:"certificates"`
		HashAlgorithm string   `json:"hashAlgorithm"`
		Nonce         *big.Int `json:"nonce"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, err
	}
	var h crypto.Hash
	switch strings.ToLower(j.HashAlgorithm) {
	case "sha256":
		h = crypto.SHA256
	case "sha384":
		h = crypto.SHA384
	case "sha512":
		h = crypto.SHA512
	default:
		return nil, fmt.Errorf("unsupported hash algorithm %q", j.HashAlgorithm)
	}
	digest, err := base64.StdEncoding.DecodeString(j.ArtifactHash)
	if err != nil {
		return nil, fmt.Errorf("artifactHash: %w", err)
	}
	return &timestamp.Request{HashAlgorithm: h, HashedMessage: digest, Certificates: j.Certificates, Nonce: j.Nonce}, nil
}

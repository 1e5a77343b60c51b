package signer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-openapi/swag/conv"
	"github.com/sigstore/rekor/pkg/generated/models"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/tlog"
)

// remoteLog appends entries to a Rekor v1 server over its REST API instead
// of the in-process log: the end-to-end suite signs into a real
// rekor-server this way.
type remoteLog struct {
	url    string
	keyDER []byte
	hc     *http.Client
}

// WithRekorAPI makes the signer log every signature in the Rekor v1 server
// at url (POST /api/v1/log/entries) instead of the in-process log, and name
// that server in the trusted root with publicKeyPEM (its
// /api/v1/log/publicKey). The server chooses the integrated time (now), so
// signing times must be within the leaf's validity of now; legacy cosign
// signing still uses the in-process log.
func WithRekorAPI(url string, publicKeyPEM []byte) Option {
	return func(c *config) error {
		blk, _ := pem.Decode(publicKeyPEM)
		if blk == nil {
			return errors.New("rekor API: public key is not PEM")
		}
		if _, err := x509.ParsePKIXPublicKey(blk.Bytes); err != nil {
			return fmt.Errorf("rekor API: public key: %w", err)
		}
		url = strings.TrimRight(url, "/")
		c.remote = &remoteLog{url: url, keyDER: blk.Bytes, hc: &http.Client{Timeout: 30 * time.Second}}
		c.logURL = url
		return nil
	}
}

// logID is the hex SHA-256 of the log's DER public key.
func (r *remoteLog) logID() []byte {
	s := sha256.Sum256(r.keyDER)
	return s[:]
}

// appendDSSE submits a dsse v0.0.1 proposed entry and returns the entry as
// the server integrated it, with its SET and inclusion proof.
func (r *remoteLog) appendDSSE(envelopeJSON, certPEM []byte, _ time.Time) (*tlog.Entry, error) {
	pe := &models.DSSE{
		APIVersion: conv.Pointer("0.0.1"),
		Spec: map[string]any{"proposedContent": map[string]any{
			"envelope":  string(envelopeJSON),
			"verifiers": []string{base64.StdEncoding.EncodeToString(certPEM)},
		}},
	}
	body, err := json.Marshal(pe)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url+"/api/v1/log/entries", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	e, err := r.do(req)
	if err != nil {
		return nil, fmt.Errorf("rekor %s: create entry: %w", r.url, err)
	}
	if e.InclusionProof.Checkpoint == "" {
		// An older server answers before the entry is sequenced: read it back.
		for range 50 {
			get, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/api/v1/log/entries/"+e.UUID, nil)
			if e, err = r.do(get); err == nil && e.InclusionProof.Checkpoint != "" {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil || e.InclusionProof.Checkpoint == "" {
			return nil, fmt.Errorf("rekor %s: entry %s has no inclusion proof: %v", r.url, e.UUID, err)
		}
	}
	return e, nil
}

func (r *remoteLog) do(req *http.Request) (*tlog.Entry, error) {
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	var le models.LogEntry
	if err := json.Unmarshal(raw, &le); err != nil {
		return nil, err
	}
	for id, a := range le {
		return toEntry(id, a)
	}
	return nil, errors.New("empty answer")
}

func toEntry(id string, a models.LogEntryAnon) (*tlog.Entry, error) {
	if a.LogIndex == nil || a.IntegratedTime == nil || a.LogID == nil {
		return nil, errors.New("entry lacks index, time or log ID")
	}
	b64, _ := a.Body.(string)
	body, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("entry body: %w", err)
	}
	uuid := strings.ToLower(id)
	if len(uuid) > 64 {
		uuid = uuid[len(uuid)-64:]
	}
	e := &tlog.Entry{
		LogIndex: *a.LogIndex, UUID: uuid, EntryID: id, Kind: "dsse", APIVersion: "0.0.1", Body: body,
		IntegratedTime: time.Unix(*a.IntegratedTime, 0).UTC(), LogID: *a.LogID,
	}
	if v := a.Verification; v != nil {
		e.SET = v.SignedEntryTimestamp
		if ip := v.InclusionProof; ip != nil && ip.Checkpoint != nil && ip.RootHash != nil && ip.TreeSize != nil && ip.LogIndex != nil {
			e.InclusionProof.LogIndex, e.InclusionProof.TreeSize, e.InclusionProof.Checkpoint = *ip.LogIndex, *ip.TreeSize, *ip.Checkpoint
			if e.InclusionProof.RootHash, err = hex.DecodeString(*ip.RootHash); err != nil {
				return nil, fmt.Errorf("root hash: %w", err)
			}
			for _, h := range ip.Hashes {
				hb, err := hex.DecodeString(h)
				if err != nil {
					return nil, fmt.Errorf("proof hash: %w", err)
				}
				e.InclusionProof.Hashes = append(e.InclusionProof.Hashes, hb)
			}
		}
	}
	return e, nil
}

package anchor

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// RekorReader reads anchors back from a Rekor v1 log (LogReader): the
// hashedrekord entry at an index and the digest it commits to. A Rekor v2
// log has no read-by-index API; its entries are proven offline, by the
// inclusion proof in the anchor's bundle.
type RekorReader struct {
	Client *http.Client // default: a client with a 30s timeout
}

var _ LogReader = RekorReader{}

// EntryDigest implements LogReader.
func (r RekorReader) EntryDigest(ctx context.Context, logURL string, index int64) (algorithm, digest string, err error) {
	u, err := url.Parse(strings.TrimRight(logURL, "/") + "/api/v1/log/entries")
	if err != nil {
		return "", "", err
	}
	u.RawQuery = "logIndex=" + strconv.FormatInt(index, 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", "", err
	}
	hc := r.Client
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return "", "", err
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return "", "", fmt.Errorf("entry %d: not in the log (a Rekor v2 log, or an entry that does not exist)", index)
	default:
		return "", "", fmt.Errorf("entry %d: HTTP %d", index, resp.StatusCode)
	}
	var entries map[string]struct {
		Body     string `json:"body"`
		LogIndex int64  `json:"logIndex"`
	}
	if err := json.Unmarshal(body, &entries); err != nil {
		return "", "", fmt.Errorf("entry %d: %w", index, err)
	}
	for _, e := range entries {
		if e.LogIndex != index {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(e.Body)
		if err != nil {
			return "", "", fmt.Errorf("entry %d: body: %w", index, err)
		}
		var rec struct {
			Kind string `json:"kind"`
			Spec struct {
				Data struct {
					Hash struct {
						Algorithm string `json:"algorithm"`
						Value     string `json:"value"`
					} `json:"hash"`
				} `json:"data"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(raw, &rec); err != nil {
			return "", "", fmt.Errorf("entry %d: body: %w", index, err)
		}
		if rec.Kind != "hashedrekord" {
			return "", "", fmt.Errorf("entry %d is a %s entry, not a hashedrekord", index, rec.Kind)
		}
		return rec.Spec.Data.Hash.Algorithm, rec.Spec.Data.Hash.Value, nil
	}
	return "", "", errors.New("the log answered without the entry asked for")
}

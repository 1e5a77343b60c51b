package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// ErrNotFound: the repository or manifest to delete does not exist.
var ErrNotFound = errors.New("manifest not found")

// Delete removes a manifest. ref is "repo:tag", "repo@sha256:<hex>", or
// either prefixed with Host()+"/".
//
// By digest, the manifest and every tag of the repository pointing at it are
// removed, so all of them answer 404 afterwards (pkg/registry alone would
// keep the tags). By tag, only the tag is removed; the manifest stays
// reachable by digest. Blobs and referrers are kept.
//
// Delete talks to the registry handler directly: it is an administrative
// operation, so it bypasses faults and is not counted.
func (r *Registry) Delete(ctx context.Context, ref string) error {
	rel := strings.TrimPrefix(ref, r.Host()+"/")
	parsed, err := name.ParseReference("sandbox.invalid/"+rel, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("delete %s: %w", ref, err)
	}
	repo := parsed.Context().RepositoryStr()
	target := parsed.Identifier()

	victims := []string{target}
	if _, isDigest := parsed.(name.Digest); isDigest {
		tags, err := r.tagsPointingAt(ctx, repo, target)
		if err != nil {
			return fmt.Errorf("delete %s: %w", ref, err)
		}
		victims = append(victims, tags...)
	}
	for i, v := range victims {
		status, err := r.direct(ctx, http.MethodDelete, "/v2/"+repo+"/manifests/"+v, nil)
		if err != nil {
			return fmt.Errorf("delete %s: %w", ref, err)
		}
		switch {
		case status == http.StatusAccepted || status == http.StatusOK:
			if i == 0 && validDigest(v) {
				r.forgetManifest(repo, v)
			}
		case status == http.StatusNotFound && i == 0:
			return fmt.Errorf("delete %s: %w", ref, ErrNotFound)
		case status == http.StatusNotFound:
			// Tag removed concurrently: the goal is reached.
		default:
			return fmt.Errorf("delete %s: registry answered %d", ref, status)
		}
	}
	return nil
}

// tagsPointingAt lists the tags of repo whose manifest has digest dgst.
func (r *Registry) tagsPointingAt(ctx context.Context, repo, dgst string) ([]string, error) {
	var list struct {
		Tags []string `json:"tags"`
	}
	status, err := r.direct(ctx, http.MethodGet, "/v2/"+repo+"/tags/list", &list)
	if err != nil {
		return nil, err
	}
	if status == http.StatusNotFound {
		return nil, ErrNotFound
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("list tags: registry answered %d", status)
	}
	var out []string
	for _, tag := range list.Tags {
		rec, err := r.directRecorder(ctx, http.MethodHead, "/v2/"+repo+"/manifests/"+tag)
		if err != nil {
			return nil, err
		}
		if rec.Code == http.StatusOK && rec.Header().Get("Docker-Content-Digest") == dgst {
			out = append(out, tag)
		}
	}
	return out, nil
}

// direct sends one request to the wrapped pkg/registry handler, bypassing
// faults and counters, and decodes a JSON answer into out when non-nil.
func (r *Registry) direct(ctx context.Context, method, path string, out any) (int, error) {
	rec, err := r.directRecorder(ctx, method, path)
	if err != nil {
		return 0, err
	}
	if out != nil && rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			return rec.Code, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return rec.Code, nil
}

func (r *Registry) directRecorder(ctx context.Context, method, path string) (*httptest.ResponseRecorder, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://sandbox.invalid"+path, nil)
	if err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	r.inner.ServeHTTP(rec, req)
	return rec, nil
}

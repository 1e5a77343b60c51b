package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
)

// pkg/registry answers the Referrers API by parsing every manifest of the
// repository on every request: O(manifests), 200 ms per probe at 10 000
// pointers in one repository. The Registry therefore keeps an index of
// subject → referrers, filled as manifests are pushed and emptied as they
// are deleted, and answers from it exactly as pkg/registry would: each
// referrer's artifactType is its *config* media type, ?artifactType= is
// ignored, the order is random. Clients see the same quirks at any scale.

// referrer is what the referrers index lists for one manifest.
type referrer struct {
	MediaType    string            `json:"mediaType"`
	Size         int64             `json:"size"`
	Digest       string            `json:"digest"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

type referrersIndex struct {
	repos     map[string]bool                           // repositories with any manifest
	bySubject map[string]map[string]map[string]referrer // repo → subject → digest → referrer
	subjectOf map[string]map[string]string              // repo → referrer digest → subject
}

func newReferrersIndex() referrersIndex {
	return referrersIndex{
		repos:     map[string]bool{},
		bySubject: map[string]map[string]map[string]referrer{},
		subjectOf: map[string]map[string]string{},
	}
}

// putManifest passes a manifest PUT to pkg/registry and, when it is stored,
// records the repository and, for a manifest with a subject, the referrer.
func (r *Registry) putManifest(w http.ResponseWriter, req *http.Request, repo string) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	sw := &statusWriter{ResponseWriter: w}
	r.inner.ServeHTTP(sw, req)
	if sw.status != http.StatusCreated {
		return
	}
	var m struct {
		Config struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
		Subject *struct {
			Digest string `json:"digest"`
		} `json:"subject"`
		Annotations map[string]string `json:"annotations"`
	}
	_ = json.Unmarshal(body, &m) // pkg/registry ignores parse errors too
	sum := sha256.Sum256(body)
	dgst := "sha256:" + hex.EncodeToString(sum[:])

	r.mu.Lock()
	defer r.mu.Unlock()
	ix := &r.referrers
	ix.repos[repo] = true
	if m.Subject == nil || m.Subject.Digest == "" {
		return
	}
	if ix.bySubject[repo] == nil {
		ix.bySubject[repo] = map[string]map[string]referrer{}
		ix.subjectOf[repo] = map[string]string{}
	}
	if ix.bySubject[repo][m.Subject.Digest] == nil {
		ix.bySubject[repo][m.Subject.Digest] = map[string]referrer{}
	}
	ix.bySubject[repo][m.Subject.Digest][dgst] = referrer{
		MediaType:    req.Header.Get("Content-Type"),
		Size:         int64(len(body)),
		Digest:       dgst,
		ArtifactType: m.Config.MediaType,
		Annotations:  m.Annotations,
	}
	ix.subjectOf[repo][dgst] = m.Subject.Digest
}

// forgetManifest drops a deleted manifest (by digest) from the index.
func (r *Registry) forgetManifest(repo, dgst string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ix := &r.referrers
	subject, ok := ix.subjectOf[repo][dgst]
	if !ok {
		return
	}
	delete(ix.subjectOf[repo], dgst)
	delete(ix.bySubject[repo][subject], dgst)
	if len(ix.bySubject[repo][subject]) == 0 {
		delete(ix.bySubject[repo], subject)
	}
}

// serveReferrers answers GET /v2/<repo>/referrers/<digest> from the index.
func (r *Registry) serveReferrers(w http.ResponseWriter, req *http.Request, repo string) {
	if req.Method != http.MethodGet {
		writeRegError(w, http.StatusBadRequest, "METHOD_UNKNOWN", "We don't understand your method + url")
		return
	}
	target := req.URL.Path[strings.LastIndexByte(req.URL.Path, '/')+1:]
	if !validDigest(target) {
		writeRegError(w, http.StatusBadRequest, "UNSUPPORTED", "Target must be a valid digest")
		return
	}
	r.mu.Lock()
	if !r.referrers.repos[repo] {
		r.mu.Unlock()
		writeRegError(w, http.StatusNotFound, "NAME_UNKNOWN", "Unknown name")
		return
	}
	list := make([]referrer, 0, len(r.referrers.bySubject[repo][target]))
	for _, d := range r.referrers.bySubject[repo][target] {
		list = append(list, d)
	}
	r.mu.Unlock()
	rand.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })

	body, _ := json.Marshal(struct {
		SchemaVersion int        `json:"schemaVersion"`
		MediaType     string     `json:"mediaType"`
		Manifests     []referrer `json:"manifests"`
	}{2, "application/vnd.oci.image.index.v1+json", list})
	w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func validDigest(s string) bool {
	hexPart, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(hexPart) != 64 {
		return false
	}
	_, err := hex.DecodeString(hexPart)
	return err == nil
}

// statusWriter remembers the status the wrapped handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Package githubfake is an in-process, stateful fake of the slice of the
// GitHub REST API that evidence-auditd uses (issues, comments, labels,
// assignees and their assignability check, issue search by body text), with
// injectable primary and secondary rate limits and 5xx failures. It serves
// both at the root and under /api/v3/ (go-github's WithEnterpriseURLs).
//
// It is test support and demo machinery; it imports nothing of this module.
package githubfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Issue is an issue as the fake holds it.
type Issue struct {
	Number    int
	Title     string
	Body      string
	State     string // open | closed
	Labels    []string
	Assignees []string
	Comments  []string
	CreatedAt time.Time
}

// Fault is an injected failure for the next matching requests.
type Fault struct {
	// Method and PathPrefix select requests ("" matches any); PathPrefix is
	// matched against the path without /api/v3.
	Method, PathPrefix string
	// Count is how many matching requests fail; <0 means until cleared.
	Count int
	// Status is the HTTP status: 403 or 429 for rate limits, 5xx otherwise.
	Status int
	// Primary sets X-RateLimit-Remaining: 0 and X-RateLimit-Reset to Reset.
	Primary bool
	Reset   time.Time
	// RetryAfter sets Retry-After (secondary limits); 0 omits it.
	RetryAfter time.Duration
	// Secondary adds GitHub's secondary-rate-limit message and documentation URL.
	Secondary bool
	// After lets this many matching requests through before failing.
	After int
	// Message replaces the error message.
	Message string
}

// Server is the fake. Create it with New; it is safe for concurrent use.
type Server struct {
	*httptest.Server
	Owner, Repo string
	Token       string
	// Now is the fake's clock for X-RateLimit-Reset; default time.Now.
	Now func() time.Time

	mu         sync.Mutex
	issues     []*Issue
	labels     map[string]bool
	assignable map[string]bool
	faults     []*Fault
	writes     int
	requests   []string
	bodies     []string
}

// New starts a fake for owner/repo that accepts token (Bearer).
func New(owner, repo, token string) *Server {
	s := &Server{Owner: owner, Repo: repo, Token: token, Now: time.Now, labels: map[string]bool{}, assignable: map[string]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// SetAssignable makes users assignable.
func (s *Server) SetAssignable(users ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range users {
		s.assignable[strings.ToLower(u)] = true
	}
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ff := f
	s.faults = append(s.faults, &ff)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Writes counts the requests that changed state (every non-GET that
// succeeded).
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// Requests lists "METHOD path" of every request received, in order.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// Received returns every request body the fake received.
func (s *Server) Received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

// Issues returns copies of every issue, by number.
func (s *Server) Issues() []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Issue, len(s.issues))
	for i, is := range s.issues {
		out[i] = *is
		out[i].Labels = append([]string(nil), is.Labels...)
		out[i].Assignees = append([]string(nil), is.Assignees...)
		out[i].Comments = append([]string(nil), is.Comments...)
	}
	return out
}

// Labels returns the repository's labels, sorted.
func (s *Server) Labels() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for l := range s.labels {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Human edits issue n as a person would: a new title and/or state ("" keeps).
func (s *Server) Human(n int, title, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if is := s.get(n); is != nil {
		if title != "" {
			is.Title = title
		}
		if state != "" {
			is.State = state
		}
	}
}

func (s *Server) get(n int) *Issue {
	if n < 1 || n > len(s.issues) {
		return nil
	}
	return s.issues[n-1]
}

type apiIssue struct {
	Number    int        `json:"number"`
	Title     string     `json:"title"`
	Body      string     `json:"body"`
	State     string     `json:"state"`
	HTMLURL   string     `json:"html_url"`
	Labels    []apiLabel `json:"labels"`
	Assignees []apiUser  `json:"assignees"`
	CreatedAt time.Time  `json:"created_at"`
}
type apiLabel struct {
	Name  string `json:"name"`
	Color string `json:"color,omitempty"`
}
type apiUser struct {
	Login string `json:"login"`
}

func (s *Server) api(is *Issue) apiIssue {
	a := apiIssue{Number: is.Number, Title: is.Title, Body: is.Body, State: is.State, CreatedAt: is.CreatedAt,
		HTMLURL: fmt.Sprintf("%s/%s/%s/issues/%d", s.URL, s.Owner, s.Repo, is.Number), Labels: []apiLabel{}, Assignees: []apiUser{}}
	for _, l := range is.Labels {
		a.Labels = append(a.Labels, apiLabel{Name: l})
	}
	for _, u := range is.Assignees {
		a.Assignees = append(a.Assignees, apiUser{Login: u})
	}
	return a
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/api/v3")
	var body []byte
	if r.Body != nil {
		body = make([]byte, 0, 512)
		buf := make([]byte, 4096)
		for {
			n, err := r.Body.Read(buf)
			body = append(body, buf[:n]...)
			if err != nil {
				break
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r.Method+" "+p)
	s.bodies = append(s.bodies, string(body))

	if r.Header.Get("Authorization") != "Bearer "+s.Token {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
		return
	}
	if s.fault(w, r.Method, p) {
		return
	}
	w.Header().Set("X-RateLimit-Limit", "5000")
	w.Header().Set("X-RateLimit-Remaining", "4999")
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(s.Now().Add(time.Hour).Unix(), 10))

	repo := "/repos/" + s.Owner + "/" + s.Repo
	parts := strings.Split(strings.Trim(strings.TrimPrefix(p, repo), "/"), "/")
	status := 0
	switch {
	case p == "/search/issues" && r.Method == http.MethodGet:
		status = s.search(w, r)
	case !strings.HasPrefix(p, repo+"/"):
		status = notFound(w)
	case parts[0] == "assignees" && len(parts) == 2 && r.Method == http.MethodGet:
		if s.assignable[strings.ToLower(parts[1])] {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		status = notFound(w)
	case parts[0] == "labels" && len(parts) == 2 && r.Method == http.MethodGet:
		if !s.labels[parts[1]] {
			status = notFound(w)
		} else {
			status = writeJSON(w, http.StatusOK, apiLabel{Name: parts[1]})
		}
	case parts[0] == "labels" && len(parts) == 1 && r.Method == http.MethodPost:
		var l apiLabel
		json.Unmarshal(body, &l)
		if s.labels[l.Name] {
			status = writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Validation Failed"})
		} else {
			s.labels[l.Name] = true
			status = writeJSON(w, http.StatusCreated, l)
		}
	case parts[0] == "issues":
		status = s.issuesAPI(w, r, parts[1:], body)
	default:
		status = notFound(w)
	}
	if r.Method != http.MethodGet && status >= 200 && status < 300 {
		s.writes++
	}
}

func (s *Server) fault(w http.ResponseWriter, method, p string) bool {
	for i, f := range s.faults {
		if (f.Method != "" && f.Method != method) || !strings.HasPrefix(p, f.PathPrefix) || f.Count == 0 {
			continue
		}
		if f.After > 0 {
			f.After--
			continue
		}
		if f.Count > 0 {
			f.Count--
		}
		if f.Count == 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		msg := map[string]string{"message": "Server Error"}
		if f.Primary {
			w.Header().Set("X-RateLimit-Limit", "5000")
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(f.Reset.Unix(), 10))
			msg["message"] = "API rate limit exceeded"
			msg["documentation_url"] = "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"
		}
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter/time.Second)))
		}
		if f.Secondary {
			msg["message"] = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
			msg["documentation_url"] = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
		}
		if f.Message != "" {
			msg["message"] = f.Message
		}
		writeJSON(w, f.Status, msg)
		return true
	}
	return false
}

func (s *Server) issuesAPI(w http.ResponseWriter, r *http.Request, parts []string, body []byte) int {
	if len(parts) == 0 {
		switch r.Method {
		case http.MethodPost:
			var req struct {
				Title     string   `json:"title"`
				Body      string   `json:"body"`
				Labels    []string `json:"labels"`
				Assignees []string `json:"assignees"`
			}
			if err := json.Unmarshal(body, &req); err != nil || req.Title == "" {
				return writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Validation Failed"})
			}
			for _, a := range req.Assignees {
				if !s.assignable[strings.ToLower(a)] {
					return writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Validation Failed: " + a + " cannot be assigned"})
				}
			}
			for _, l := range req.Labels { // GitHub creates unknown labels on the fly
				s.labels[l] = true
			}
			is := &Issue{Number: len(s.issues) + 1, Title: req.Title, Body: req.Body, State: "open", Labels: req.Labels,
				Assignees: req.Assignees, CreatedAt: s.Now()}
			s.issues = append(s.issues, is)
			return writeJSON(w, http.StatusCreated, s.api(is))
		case http.MethodGet:
			return s.list(w, r)
		}
		return notFound(w)
	}
	n, _ := strconv.Atoi(parts[0])
	is := s.get(n)
	if is == nil {
		return notFound(w)
	}
	switch {
	case len(parts) == 1 && r.Method == http.MethodGet:
		return writeJSON(w, http.StatusOK, s.api(is))
	case len(parts) == 1 && r.Method == http.MethodPatch:
		var req struct {
			Title *string `json:"title"`
			Body  *string `json:"body"`
			State *string `json:"state"`
		}
		json.Unmarshal(body, &req)
		if req.Title != nil {
			is.Title = *req.Title
		}
		if req.Body != nil {
			is.Body = *req.Body
		}
		if req.State != nil {
			is.State = *req.State
		}
		return writeJSON(w, http.StatusOK, s.api(is))
	case len(parts) == 2 && parts[1] == "comments" && r.Method == http.MethodGet:
		out := []map[string]any{}
		for i, c := range is.Comments {
			out = append(out, map[string]any{"id": i + 1, "body": c})
		}
		return writeJSON(w, http.StatusOK, out)
	case len(parts) == 2 && parts[1] == "comments" && r.Method == http.MethodPost:
		var c struct {
			Body string `json:"body"`
		}
		json.Unmarshal(body, &c)
		is.Comments = append(is.Comments, c.Body)
		return writeJSON(w, http.StatusCreated, map[string]any{"id": len(is.Comments), "body": c.Body})
	case len(parts) == 2 && parts[1] == "labels" && r.Method == http.MethodPost:
		var ls []string
		json.Unmarshal(body, &ls)
		for _, l := range ls {
			s.labels[l] = true
			if !contains(is.Labels, l) {
				is.Labels = append(is.Labels, l)
			}
		}
		out := []apiLabel{}
		for _, l := range is.Labels {
			out = append(out, apiLabel{Name: l})
		}
		return writeJSON(w, http.StatusOK, out)
	case len(parts) == 2 && parts[1] == "assignees" && r.Method == http.MethodPost:
		var req struct {
			Assignees []string `json:"assignees"`
		}
		json.Unmarshal(body, &req)
		for _, a := range req.Assignees {
			if s.assignable[strings.ToLower(a)] && !contains(is.Assignees, a) { // GitHub ignores the others
				is.Assignees = append(is.Assignees, a)
			}
		}
		return writeJSON(w, http.StatusCreated, s.api(is))
	}
	return notFound(w)
}

// list is GET /repos/{o}/{r}/issues: state, labels (all must match),
// direction; no paging beyond per_page.
func (s *Server) list(w http.ResponseWriter, r *http.Request) int {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var want []string
	if l := q.Get("labels"); l != "" {
		want = strings.Split(l, ",")
	}
	out := []apiIssue{}
	for _, is := range s.issues {
		if state != "all" && is.State != state {
			continue
		}
		ok := true
		for _, l := range want {
			ok = ok && contains(is.Labels, l)
		}
		if ok {
			out = append(out, s.api(is))
		}
	}
	if q.Get("direction") != "asc" {
		sort.Slice(out, func(i, j int) bool { return out[i].Number > out[j].Number })
	}
	return writeJSON(w, http.StatusOK, out)
}

// search supports `repo:o/r is:issue in:body "phrase"`: issues whose body
// contains the phrase.
func (s *Server) search(w http.ResponseWriter, r *http.Request) int {
	q := r.URL.Query().Get("q")
	var phrase string
	if i := strings.Index(q, `"`); i >= 0 {
		if j := strings.LastIndex(q, `"`); j > i {
			phrase = q[i+1 : j]
		}
	}
	if !strings.Contains(q, "repo:"+s.Owner+"/"+s.Repo) || phrase == "" {
		return writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Validation Failed"})
	}
	items := []apiIssue{}
	for _, is := range s.issues {
		if strings.Contains(is.Body, phrase) {
			items = append(items, s.api(is))
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"total_count": len(items), "incomplete_results": false, "items": items})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func notFound(w http.ResponseWriter) int {
	return writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
	return status
}

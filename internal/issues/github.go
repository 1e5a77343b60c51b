package issues

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/evidence-auditd/evidence-auditd/internal/config"
)

// GitHub is the github sink: issues of one repository through go-github.
type GitHub struct {
	c           *github.Client
	owner, repo string
	labels      Labels
	token       config.Secret
	now         func() time.Time
	known       map[string]bool // labels known to exist
}

var _ Tracker = (*GitHub)(nil)

// GitHubOption configures NewGitHub.
type GitHubOption func(*githubOptions) error

type githubOptions struct {
	apiURL    string
	base      http.RoundTripper
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
	maxWait   time.Duration
	retries   int
	userAgent string
}

// WithAPIURL points the client at GitHub Enterprise (or a fake) at url,
// through go-github's WithEnterpriseURLs (which adds /api/v3/).
func WithAPIURL(url string) GitHubOption {
	return func(o *githubOptions) error {
		if url != "" && !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
			return fmt.Errorf("github api url %q: want http(s)", url)
		}
		o.apiURL = url
		return nil
	}
}

// WithTransport sets the HTTP transport under the retry layer (default
// http.DefaultTransport).
func WithTransport(rt http.RoundTripper) GitHubOption {
	return func(o *githubOptions) error { o.base = rt; return nil }
}

// WithClock sets the clock rate-limit resets are measured against (default
// time.Now) and the sleep used to wait (default a real timer); tests pass
// a fake pair so that they never sleep.
func WithClock(now func() time.Time, sleep func(context.Context, time.Duration) error) GitHubOption {
	return func(o *githubOptions) error {
		if now == nil || sleep == nil {
			return errors.New("WithClock: now and sleep are required")
		}
		o.now, o.sleep = now, sleep
		return nil
	}
}

// WithMaxWait is the longest the client waits for a rate limit to lift
// before giving up for this run (default 2 minutes).
func WithMaxWait(d time.Duration) GitHubOption {
	return func(o *githubOptions) error {
		if d < 0 {
			return errors.New("WithMaxWait: negative")
		}
		o.maxWait = d
		return nil
	}
}

// WithRetries is how many times a rate-limited or transient request is
// retried (default 3).
func WithRetries(n int) GitHubOption {
	return func(o *githubOptions) error {
		if n < 0 {
			return errors.New("WithRetries: negative")
		}
		o.retries = n
		return nil
	}
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) GitHubOption {
	return func(o *githubOptions) error { o.userAgent = ua; return nil }
}

// NewGitHub returns the github sink for owner/repo. The token is revealed
// only when a request is sent; it never appears in errors.
func NewGitHub(owner, repo string, token config.Secret, labels Labels, opts ...GitHubOption) (*GitHub, error) {
	if owner == "" || repo == "" {
		return nil, errors.New("github sink: owner and repo are required")
	}
	if token == "" {
		return nil, errors.New("github sink: no token; set EVIDENCE_AUDITD_GITHUB_TOKEN, GITHUB_TOKEN or issues.github.tokenFile")
	}
	o := githubOptions{base: http.DefaultTransport, now: time.Now, sleep: sleepCtx, maxWait: 2 * time.Minute, retries: 3,
		userAgent: "evidence-auditd"}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	api := "https://api.github.com/"
	if o.apiURL != "" {
		api = o.apiURL
	}
	tokenURL, err := url.Parse(api)
	if err != nil || tokenURL.Host == "" {
		return nil, fmt.Errorf("github api url %q: not an absolute URL", api)
	}
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &retryTransport{base: o.base, token: token, tokenURL: tokenURL,
		now: o.now, sleep: o.sleep, maxWait: o.maxWait, maxRetries: o.retries, userAgent: o.userAgent}}
	c := github.NewClient(hc)
	if o.apiURL != "" {
		if c, err = c.WithEnterpriseURLs(o.apiURL, o.apiURL); err != nil {
			return nil, fmt.Errorf("github api url: %w", err)
		}
	}
	return &GitHub{c: c, owner: owner, repo: repo, labels: labels, token: token, now: o.now, known: map[string]bool{}}, nil
}

// Name implements Tracker.
func (g *GitHub) Name() string { return "github" }

// Assignable implements Tracker: GET /repos/{o}/{r}/assignees/{user}.
func (g *GitHub) Assignable(ctx context.Context, user string) (bool, error) {
	ok, _, err := g.c.Issues.IsAssignee(ctx, g.owner, g.repo, user)
	if err != nil {
		return false, g.wrap("check assignee "+user, err)
	}
	return ok, nil
}

// EnsureLabels implements Tracker.
func (g *GitHub) EnsureLabels(ctx context.Context, labels []string) error {
	for _, l := range labels {
		if g.known[l] {
			continue
		}
		_, _, err := g.c.Issues.GetLabel(ctx, g.owner, g.repo, l)
		if status(err) == http.StatusNotFound {
			_, _, err = g.c.Issues.CreateLabel(ctx, g.owner, g.repo, &github.Label{Name: github.String(l),
				Color: github.String(labelColor(l, g.labels)), Description: github.String("Filed by evidence-auditd")})
			if status(err) == http.StatusUnprocessableEntity { // created meanwhile
				err = nil
			}
		}
		if err != nil {
			return g.wrap("label "+l, err)
		}
		g.known[l] = true
	}
	return nil
}

func labelColor(l string, labels Labels) string {
	if l == labels.Lost {
		return "b60205"
	}
	return "fbca04"
}

// Find implements Tracker: the search API by marker, and with thorough the
// issues carrying the kind's label too (the search index lags behind).
func (g *GitHub) Find(ctx context.Context, kind Kind, recipe string, thorough bool) (Ref, bool, error) {
	var found []*github.Issue
	q := fmt.Sprintf(`repo:%s/%s is:issue in:body "%s"`, g.owner, g.repo, markerQuery(kind, recipe))
	opts := &github.SearchOptions{Sort: "created", Order: "asc", ListOptions: github.ListOptions{PerPage: 100}}
	for page := 0; page < 10; page++ {
		res, resp, err := g.c.Search.Issues(ctx, q, opts)
		if err != nil {
			return Ref{}, false, g.wrap("search issues", err)
		}
		for _, is := range res.Issues {
			if !is.IsPullRequest() && hasMarker(is.GetBody(), kind, recipe) {
				found = append(found, is)
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if thorough {
		lo := &github.IssueListByRepoOptions{State: "all", Labels: []string{g.labels.Of(kind)}, Sort: "created",
			Direction: "desc", ListOptions: github.ListOptions{PerPage: 100}}
		for page := 0; page < 5; page++ {
			list, resp, err := g.c.Issues.ListByRepo(ctx, g.owner, g.repo, lo)
			if err != nil {
				return Ref{}, false, g.wrap("list issues", err)
			}
			for _, is := range list {
				if !is.IsPullRequest() && hasMarker(is.GetBody(), kind, recipe) {
					found = append(found, is)
				}
			}
			if resp.NextPage == 0 {
				break
			}
			lo.Page = resp.NextPage
		}
	}
	if len(found) == 0 {
		return Ref{}, false, nil
	}
	// One issue per (recipe, kind): prefer an open one, then the oldest.
	sort.SliceStable(found, func(i, j int) bool {
		oi, oj := found[i].GetState() == StateOpen, found[j].GetState() == StateOpen
		if oi != oj {
			return oi
		}
		return found[i].GetNumber() < found[j].GetNumber()
	})
	return g.ref(kind, recipe, found[0]), true, nil
}

// Get implements Tracker.
func (g *GitHub) Get(ctx context.Context, ref Ref) (Ref, bool, error) {
	is, _, err := g.c.Issues.Get(ctx, g.owner, g.repo, ref.Number)
	switch s := status(err); {
	case s == http.StatusNotFound || s == http.StatusGone:
		return Ref{}, false, nil
	case err != nil:
		return Ref{}, false, g.wrap(fmt.Sprintf("get issue #%d", ref.Number), err)
	}
	return g.ref(ref.Kind, ref.Recipe, is), true, nil
}

// Create implements Tracker.
func (g *GitHub) Create(ctx context.Context, kind Kind, recipe string, d Draft) (Ref, error) {
	req := &github.IssueRequest{Title: github.String(d.Title), Body: github.String(g.redact(d.Body)), Labels: &d.Labels}
	if len(d.Assignees) > 0 {
		req.Assignees = &d.Assignees
	}
	is, _, err := g.c.Issues.Create(ctx, g.owner, g.repo, req)
	if err != nil {
		return Ref{}, g.wrap("create issue", err)
	}
	return g.ref(kind, recipe, is), nil
}

// Update implements Tracker.
func (g *GitHub) Update(ctx context.Context, ref Ref, d Draft, reopen bool) (Ref, error) {
	req := &github.IssueRequest{}
	edit := false
	if body := g.redact(d.Body); ref.Body != body {
		req.Body, edit = github.String(body), true
	}
	if reopen {
		req.State, edit = github.String(StateOpen), true
	}
	if edit {
		is, _, err := g.c.Issues.Edit(ctx, g.owner, g.repo, ref.Number, req)
		if err != nil {
			return ref, g.wrap(fmt.Sprintf("edit issue #%d", ref.Number), err)
		}
		ref = g.ref(ref.Kind, ref.Recipe, is)
	}
	if add := missing(d.Labels, ref.Labels); len(add) > 0 {
		if _, _, err := g.c.Issues.AddLabelsToIssue(ctx, g.owner, g.repo, ref.Number, add); err != nil {
			return ref, g.wrap(fmt.Sprintf("label issue #%d", ref.Number), err)
		}
		ref.Labels = append(ref.Labels, add...)
	}
	if add := missing(d.Assignees, ref.Assignees); len(add) > 0 {
		if _, _, err := g.c.Issues.AddAssignees(ctx, g.owner, g.repo, ref.Number, add); err != nil {
			return ref, g.wrap(fmt.Sprintf("assign issue #%d", ref.Number), err)
		}
		ref.Assignees = append(ref.Assignees, add...)
	}
	return ref, nil
}

// Comment implements Tracker.
func (g *GitHub) Comment(ctx context.Context, ref Ref, key, text string) error {
	mark := opMarker(key)
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for page := 0; page < 10; page++ {
		cs, resp, err := g.c.Issues.ListComments(ctx, g.owner, g.repo, ref.Number, opts)
		if err != nil {
			return g.wrap(fmt.Sprintf("list comments of #%d", ref.Number), err)
		}
		for _, c := range cs {
			if strings.Contains(c.GetBody(), mark) {
				return nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	body := g.redact(text) + "\n\n" + mark
	if _, _, err := g.c.Issues.CreateComment(ctx, g.owner, g.repo, ref.Number, &github.IssueComment{Body: &body}); err != nil {
		return g.wrap(fmt.Sprintf("comment on #%d", ref.Number), err)
	}
	return nil
}

// Close implements Tracker.
func (g *GitHub) Close(ctx context.Context, ref Ref) (Ref, error) {
	is, _, err := g.c.Issues.Edit(ctx, g.owner, g.repo, ref.Number,
		&github.IssueRequest{State: github.String(StateClosed), StateReason: github.String("completed")})
	if err != nil {
		return ref, g.wrap(fmt.Sprintf("close issue #%d", ref.Number), err)
	}
	return g.ref(ref.Kind, ref.Recipe, is), nil
}

func (g *GitHub) ref(kind Kind, recipe string, is *github.Issue) Ref {
	r := Ref{Kind: kind, Recipe: recipe, Number: is.GetNumber(), URL: is.GetHTMLURL(), State: is.GetState(),
		Title: is.GetTitle(), Body: is.GetBody()}
	for _, l := range is.Labels {
		r.Labels = append(r.Labels, l.GetName())
	}
	for _, a := range is.Assignees {
		r.Assignees = append(r.Assignees, a.GetLogin())
	}
	return r
}

// wrap turns a go-github error into a TrackerError that holds text only:
// go-github's errors keep the *http.Response, and with it the request and
// its Authorization header.
func (g *GitHub) wrap(op string, err error) error {
	te := &TrackerError{Op: op, kind: ErrUnavailable}
	var (
		rl *github.RateLimitError
		ab *github.AbuseRateLimitError
		er *github.ErrorResponse
	)
	switch {
	case errors.As(err, &rl):
		te.kind, te.Status, te.RetryAt, te.Msg = ErrRateLimited, http.StatusForbidden, rl.Rate.Reset.Time, "primary rate limit exhausted"
	case errors.As(err, &ab):
		te.kind, te.Status, te.Msg = ErrRateLimited, http.StatusForbidden, "secondary rate limit"
		if ab.RetryAfter != nil {
			te.RetryAt = g.now().Add(*ab.RetryAfter)
		}
	case errors.As(err, &er):
		te.Status, te.Msg = er.Response.StatusCode, er.Message
		switch {
		case te.Status == http.StatusTooManyRequests:
			te.kind = ErrRateLimited
		case te.Status >= 500:
			te.kind = ErrUnavailable
		default:
			te.kind = ErrRejected
		}
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		te.Msg = err.Error()
	default:
		te.Msg = err.Error()
	}
	if te.Msg == "" {
		te.Msg = http.StatusText(te.Status)
	}
	te.Msg = g.redact(te.Msg)
	return te
}

// redact removes the token from text bound for errors or issues, in case a
// server or a proxy echoes it.
func (g *GitHub) redact(s string) string {
	if tok := g.token.Reveal(); len(tok) >= 4 {
		s = strings.ReplaceAll(s, tok, "[redacted]")
	}
	return s
}

func status(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

// missing returns the elements of want not in have (case-insensitive, as
// GitHub compares logins and label names).
func missing(want, have []string) []string {
	h := map[string]bool{}
	for _, x := range have {
		h[strings.ToLower(x)] = true
	}
	var out []string
	for _, x := range want {
		if !h[strings.ToLower(x)] {
			out = append(out, x)
		}
	}
	return out
}

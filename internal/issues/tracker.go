package issues

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Tracker is where issues live: GitHub, a directory of Markdown files, or
// nowhere. Every method is idempotent enough to be retried after a crash:
// Comment skips a comment already tagged with its key, Update only adds
// labels and assignees.
type Tracker interface {
	// Name is the sink's configuration name: github | file | none.
	Name() string
	// Assignable reports whether user can be assigned issues.
	Assignable(ctx context.Context, user string) (bool, error)
	// EnsureLabels creates the labels that do not exist yet.
	EnsureLabels(ctx context.Context, labels []string) error
	// Find looks the issue of kind and recipe up by its marker. thorough
	// adds a scan that does not depend on a search index (for an open in
	// doubt, which may not be indexed yet).
	Find(ctx context.Context, kind Kind, recipe string, thorough bool) (Ref, bool, error)
	// Get returns the issue at ref (ref.Number, or kind and recipe for
	// trackers without numbers); ok is false when it no longer exists.
	Get(ctx context.Context, ref Ref) (Ref, bool, error)
	// Create opens a new issue.
	Create(ctx context.Context, kind Kind, recipe string, d Draft) (Ref, error)
	// Update sets the body, adds missing labels and assignees, and with
	// reopen opens a closed issue. The title is never changed.
	Update(ctx context.Context, ref Ref, d Draft, reopen bool) (Ref, error)
	// Comment adds text, tagged with key, unless a comment with key exists.
	Comment(ctx context.Context, ref Ref, key, text string) error
	// Close closes the issue.
	Close(ctx context.Context, ref Ref) (Ref, error)
}

// Ref is an issue as a tracker holds it.
type Ref struct {
	Kind      Kind
	Recipe    string
	Number    int    // 0 for trackers without numbers (file)
	URL       string // html URL, or the file path
	State     string // open | closed
	Title     string
	Body      string
	Labels    []string
	Assignees []string

	activity string // file sink: the comments section
}

// Draft is what the auditor wants an issue to say.
type Draft struct {
	Title     string
	Body      string   // ends with the marker
	Labels    []string // sorted
	Assignees []string // sorted; only assignable users
	// Fingerprint is a digest of Body, Labels and Assignees (not Title,
	// which humans may change): equal fingerprints need no update.
	Fingerprint string
}

// Issue states.
const (
	StateOpen   = "open"
	StateClosed = "closed"
)

var (
	// ErrTracker is the family of tracker failures; the operation is retried
	// by a later run.
	ErrTracker = errors.New("issue tracker")
	// ErrRateLimited: the tracker asked to wait longer than the run may; the
	// run's remaining operations wait for the next run.
	ErrRateLimited = fmt.Errorf("%w: rate limited", ErrTracker)
	// ErrUnavailable: 5xx or network errors that outlasted the retries.
	ErrUnavailable = fmt.Errorf("%w: unavailable", ErrTracker)
	// ErrRejected: the tracker refused the request (4xx).
	ErrRejected = fmt.Errorf("%w: rejected", ErrTracker)
)

// TrackerError is a tracker failure stripped of everything but text that is
// safe to log and journal: no request, no headers, no token.
type TrackerError struct {
	Op      string
	Status  int       // HTTP status; 0 when none
	RetryAt time.Time // when a rate limit lifts; zero when unknown
	Msg     string
	kind    error
}

func (e *TrackerError) Error() string {
	s := e.Op + ": " + e.Msg
	if e.Status != 0 {
		s = fmt.Sprintf("%s: HTTP %d: %s", e.Op, e.Status, e.Msg)
	}
	if !e.RetryAt.IsZero() {
		s += " (retry after " + e.RetryAt.UTC().Format(time.RFC3339) + ")"
	}
	return s
}

// Unwrap returns the error's family: ErrRateLimited, ErrUnavailable or
// ErrRejected.
func (e *TrackerError) Unwrap() error { return e.kind }

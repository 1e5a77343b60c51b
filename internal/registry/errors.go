package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"io"
	"net"
	"net/http"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Kind classifies a registry failure by what the auditor should conclude
// from it (SPEC §3). The zero Kind is KindTransient: when in doubt the
// auditor must say "could not decide", never "tampered".
type Kind int

// Kinds of registry failure.
const (
	// KindTransient: 429, 5xx, timeouts, DNS failures, resets, a body cut
	// short (see body.judge), anything unexpected. Retried, then reported
	// as no-verdict/transient.
	KindTransient Kind = iota
	// KindGone: the registry answered that the repository, manifest or blob
	// does not exist (404, 410, NAME_UNKNOWN, MANIFEST_UNKNOWN, BLOB_UNKNOWN).
	KindGone
	// KindForbidden: 401, 403, DENIED, UNAUTHORIZED.
	KindForbidden
	// KindIntegrity: the registry served bytes that are not what was pinned
	// or are unusable: digest mismatch, size limit exceeded, malformed or
	// unexpected manifest, bad tar.
	KindIntegrity
	// KindPolicy: the host is not in registry.allow, or is or resolves to a
	// private network address while those are not allowed (maps to
	// invalid/untrusted-registry). A scheme the host is not configured for
	// (plain http without registry.plainHTTP) is KindTransient instead.
	KindPolicy
	// KindCanceled: the caller's context was canceled.
	KindCanceled
	// KindNoSignature: the summary exists but no Sigstore bundle referrer
	// and no legacy cosign attestation was found (maps to invalid/signature).
	KindNoSignature
	// KindInvalidRef: the locator or digest handed in is malformed (maps to
	// invalid/schema); nothing was fetched.
	KindInvalidRef
)

var kindNames = [...]string{
	KindTransient:   "transient",
	KindGone:        "gone",
	KindForbidden:   "forbidden",
	KindIntegrity:   "integrity",
	KindPolicy:      "policy",
	KindCanceled:    "canceled",
	KindNoSignature: "no-signature",
	KindInvalidRef:  "invalid-ref",
}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Sentinels, one per Kind, for errors.Is. A *FetchError matches the sentinel
// of its Kind.
var (
	ErrTransient   = errors.New("registry: transient failure")
	ErrGone        = errors.New("registry: not found")
	ErrForbidden   = errors.New("registry: access denied")
	ErrIntegrity   = errors.New("registry: integrity failure")
	ErrPolicy      = errors.New("registry: refused by policy")
	ErrCanceled    = errors.New("registry: canceled")
	ErrNoSignature = errors.New("registry: no signature attached")
	ErrInvalidRef  = errors.New("registry: invalid reference")
)

var kindSentinels = [...]error{
	KindTransient:   ErrTransient,
	KindGone:        ErrGone,
	KindForbidden:   ErrForbidden,
	KindIntegrity:   ErrIntegrity,
	KindPolicy:      ErrPolicy,
	KindCanceled:    ErrCanceled,
	KindNoSignature: ErrNoSignature,
	KindInvalidRef:  ErrInvalidRef,
}

// Sentinel returns the sentinel error of k.
func (k Kind) Sentinel() error {
	if k >= 0 && int(k) < len(kindSentinels) {
		return kindSentinels[k]
	}
	return ErrTransient
}

// FetchError is every error returned by this package's Client methods and
// by ExtractLayer.
type FetchError struct {
	// Op is the operation, e.g. "get manifest", "get blob", "referrers".
	Op string
	// Ref is what was addressed: "host/repo@sha256:…" or a tag reference.
	Ref string
	// Status is the last HTTP status seen; 0 when none (network error,
	// integrity failure after a 200, policy refusal).
	Status int
	// Kind classifies the failure.
	Kind Kind
	// Code is the first OCI distribution error code of the response body
	// (NAME_UNKNOWN, DENIED, …), if any.
	Code string
	// Attempts is how many attempts were made (0 when none was).
	Attempts int
	// Err is the underlying cause.
	Err error
	// Hint is a short suggestion for a human, or empty.
	Hint string
}

func (e *FetchError) Error() string {
	msg := e.Op
	if e.Ref != "" {
		msg += " " + e.Ref
	}
	msg += ": " + e.Kind.String()
	if e.Status != 0 {
		msg += fmt.Sprintf(" (HTTP %d", e.Status)
		if e.Code != "" {
			msg += " " + e.Code
		}
		msg += ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	return msg
}

// Unwrap returns the cause.
func (e *FetchError) Unwrap() error { return e.Err }

// Is matches the sentinel of e.Kind, and the audit package's sentinel of
// the same class, so the auditor classifies fetches without knowing this
// package's types.
func (e *FetchError) Is(target error) bool {
	return target == e.Kind.Sentinel() || target == audit.ErrFetch || target == auditSentinels[e.Kind]
}

// auditSentinels maps each Kind to the audit port's error class.
var auditSentinels = map[Kind]error{
	KindTransient:   audit.ErrTransient,
	KindGone:        audit.ErrGone,
	KindForbidden:   audit.ErrForbidden,
	KindIntegrity:   audit.ErrIntegrity,
	KindPolicy:      audit.ErrPolicy,
	KindCanceled:    audit.ErrCanceled,
	KindNoSignature: audit.ErrNoSignature,
	KindInvalidRef:  audit.ErrBadReference,
}

// KindOf returns the Kind of err: the Kind of the first *FetchError in its
// chain, KindCanceled for a bare context.Canceled, and KindTransient for
// anything else.
func KindOf(err error) Kind {
	var fe *FetchError
	if errors.As(err, &fe) {
		return fe.Kind
	}
	if errors.Is(err, context.Canceled) {
		return KindCanceled
	}
	return KindTransient
}

// statusError is an HTTP response the caller did not expect.
type statusError struct {
	status     int
	code       string
	message    string
	retryAfter string // raw Retry-After header
}

func (e *statusError) Error() string {
	s := fmt.Sprintf("unexpected status %d %s", e.status, http.StatusText(e.status))
	if e.code != "" {
		s += ": " + e.code
		if e.message != "" {
			s += ": " + e.message
		}
	}
	return s
}

// policyError is a refusal by the client's own policy.
type policyError struct{ msg string }

func (e *policyError) Error() string { return e.msg }

// schemeError is a request refused because its scheme is not the one
// configured for its host (https, or http for registry.plainHTTP hosts).
// It is transient, not policy: it tells nothing about the bundle, and a
// registry that merely failed its TLS handshake must not look untrusted.
type schemeError struct{ msg string }

func (e *schemeError) Error() string { return e.msg }

// integrityError is bytes that are not what they should be.
type integrityError struct{ msg string }

func (e *integrityError) Error() string { return e.msg }

func integrityf(format string, args ...any) error {
	return &integrityError{msg: fmt.Sprintf(format, args...)}
}

// errAttemptTimeout marks an attempt that ran out of its per-request time.
var errAttemptTimeout = errors.New("request timed out")

// classifyStatus maps an HTTP status and an OCI error code to a Kind.
func classifyStatus(status int, code string) Kind {
	switch code {
	case "NAME_UNKNOWN", "MANIFEST_UNKNOWN", "BLOB_UNKNOWN":
		if status < 500 && status != http.StatusTooManyRequests {
			return KindGone
		}
	case "DENIED", "UNAUTHORIZED":
		if status < 500 && status != http.StatusTooManyRequests {
			return KindForbidden
		}
	}
	switch {
	case status == http.StatusNotFound || status == http.StatusGone:
		return KindGone
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return KindForbidden
	}
	// 408, 429, 5xx and anything else unexpected: the auditor cannot decide.
	return KindTransient
}

// retryableStatus reports whether a transient status is worth retrying.
// Other unexpected 4xx answers (400, 405, 406, …) are transient (no
// conclusion can be drawn from them) but will not change on retry.
func retryableStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// classify turns an attempt's error into a Kind and whether it is worth
// retrying. parent is the caller's context.
func classify(parent context.Context, err error) (kind Kind, status int, code string, retry bool) {
	if perr := parent.Err(); perr != nil {
		if errors.Is(perr, context.Canceled) {
			return KindCanceled, 0, "", false
		}
		// The caller's own deadline is a timeout, not a cancellation.
		return KindTransient, 0, "", false
	}
	var se *statusError
	if errors.As(err, &se) {
		k := classifyStatus(se.status, se.code)
		return k, se.status, se.code, k == KindTransient && retryableStatus(se.status)
	}
	var te *transport.Error
	if errors.As(err, &te) {
		c := ""
		if len(te.Errors) > 0 {
			c = string(te.Errors[0].Code)
		}
		k := classifyStatus(te.StatusCode, c)
		return k, te.StatusCode, c, k == KindTransient && retryableStatus(te.StatusCode)
	}
	var pe *policyError
	if errors.As(err, &pe) {
		return KindPolicy, 0, "", false
	}
	var sche *schemeError
	if errors.As(err, &sche) {
		return KindTransient, 0, "", false
	}
	var ie *integrityError
	if errors.As(err, &ie) {
		return KindIntegrity, 0, "", false
	}
	var fe *FetchError
	if errors.As(err, &fe) {
		return fe.Kind, fe.Status, fe.Code, fe.Kind == KindTransient
	}
	// TLS certificate problems will not heal by retrying, but they say
	// nothing about the bundle either.
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	var rhe tls.RecordHeaderError
	if errors.As(err, &uae) || errors.As(err, &hne) || errors.As(err, &cie) || errors.As(err, &rhe) {
		return KindTransient, 0, "", false
	}
	// Timeouts, DNS, resets, refused connections, bodies cut short (net/http's
	// io.ErrUnexpectedEOF, and body.judge's cutShort which wraps it) and
	// everything else: transient and retryable.
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, errAttemptTimeout), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &dnsErr),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return KindTransient, 0, "", true
	}
	return KindTransient, 0, "", true
}

func hintFor(k Kind, status int) string {
	switch k {
	case KindGone:
		return "the registry no longer serves this artifact; the transparency log may still prove it"
	case KindForbidden:
		return "the repository may have gone private; check credentials in the Docker config or credential helpers"
	case KindPolicy:
		return "the host is outside registry.allow or on a private network (registry.allowPrivateNetworks)"
	case KindTransient:
		if status == http.StatusTooManyRequests {
			return "the registry is rate limiting; lower registry.concurrency"
		}
		if status == 0 {
			return "retried on the next run; a registry that speaks only plain http must be listed in registry.plainHTTP"
		}
		return "retried on the next run"
	case KindNoSignature:
		return "no Sigstore bundle referrer (Referrers API or sha256-<hex> tag) and no cosign .att attestation"
	}
	return ""
}

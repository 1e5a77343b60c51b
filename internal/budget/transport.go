package budget

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// ErrTooLarge is the error of a response body larger than its limit.
var ErrTooLarge = errors.New("response body too large")

// LimitError is a body over its limit: Declared when the response's
// Content-Length said so before anything was read, else after Limit bytes.
type LimitError struct {
	Limit    int64
	Declared int64 // the Content-Length; -1 when the body was cut at Limit
}

func (e *LimitError) Error() string {
	if e.Declared >= 0 {
		return fmt.Sprintf("%v: %d bytes declared, the limit is %d", ErrTooLarge, e.Declared, e.Limit)
	}
	return fmt.Sprintf("%v: more than the %d-byte limit", ErrTooLarge, e.Limit)
}

func (e *LimitError) Unwrap() error { return ErrTooLarge }

// Transport bounds the response bodies of Base (http.DefaultTransport when
// nil): a response whose Content-Length exceeds Limit is closed unread and
// RoundTrip fails with a *LimitError; any other body fails with one when a
// read goes past Limit, so that a decoder reading it stops there. With a
// Budget, each response holds its Content-Length (Limit while the length
// is unknown) from when its headers arrive until its body is closed,
// waiting for the budget as Budget.Acquire does — so a caller must close
// one body before it sends the next request.
//
// Transport is meant to be the outermost round tripper under an
// http.Client, above any retries: a body that is too large is a property
// of the answer, and asking again would only read it again.
type Transport struct {
	Base   http.RoundTripper
	Limit  int64 // bytes; ≤ 0 means no limit
	Budget *Budget
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil || resp.Body == nil || resp.Body == http.NoBody {
		return resp, err
	}
	if t.Limit > 0 && resp.ContentLength > t.Limit {
		resp.Body.Close()
		return nil, &LimitError{Limit: t.Limit, Declared: resp.ContentLength}
	}
	hold := t.Limit
	if resp.ContentLength >= 0 {
		hold = resp.ContentLength
	}
	var res *Reservation
	if t.Budget != nil && hold > 0 && req.Method != http.MethodHead {
		if res, err = t.Budget.Acquire(req.Context(), hold); err != nil {
			resp.Body.Close()
			return nil, err
		}
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.Limit, limit: t.Limit, res: res}
	return resp, nil
}

// limitedBody fails a read past its limit with a *LimitError and releases
// its reservation when closed.
type limitedBody struct {
	rc    io.ReadCloser
	left  int64 // bytes still allowed; ignored when limit ≤ 0
	limit int64
	res   *Reservation
	once  sync.Once
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.limit <= 0 {
		return b.rc.Read(p)
	}
	if b.left <= 0 {
		// Tell the end of the body from one more byte.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, &LimitError{Limit: b.limit, Declared: -1}
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error {
	err := b.rc.Close()
	b.once.Do(b.res.Release)
	return err
}

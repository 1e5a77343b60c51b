package budget_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/budget"
)

// server answers /<n> with n bytes, framed (Content-Length) or, under
// /chunked/<n>, chunked.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunked := strings.HasPrefix(r.URL.Path, "/chunked/")
		n, _ := strconv.Atoi(r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:])
		if !chunked {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		}
		body := strings.Repeat("x", n)
		for len(body) > 0 { // several writes: chunks
			k := min(len(body), 1000)
			io.WriteString(w, body[:k])
			if f, ok := w.(http.Flusher); ok && chunked {
				f.Flush()
			}
			body = body[k:]
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTransportLimit(t *testing.T) {
	srv := server(t)
	hc := &http.Client{Transport: &budget.Transport{Limit: 4096}}
	for _, tc := range []struct {
		path     string
		wantErr  bool
		declared bool
	}{
		{"/4096", false, false},
		{"/chunked/4096", false, false},
		{"/4097", true, true},
		{"/chunked/100000", true, false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := hc.Get(srv.URL + tc.path)
			var b []byte
			if err == nil {
				b, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if !tc.wantErr {
				if err != nil || len(b) != 4096 {
					t.Fatalf("%d bytes, %v; want 4096 and no error", len(b), err)
				}
				return
			}
			var le *budget.LimitError
			if !errors.Is(err, budget.ErrTooLarge) || !errors.As(err, &le) {
				t.Fatalf("err %v, want ErrTooLarge", err)
			}
			if got := le.Declared >= 0; got != tc.declared {
				t.Errorf("declared %d: want the refusal %s reading", le.Declared, map[bool]string{true: "before", false: "while"}[tc.declared])
			}
			if len(b) > 4096 {
				t.Errorf("read %d bytes past the limit", len(b))
			}
		})
	}
}

// A body holds its size of the budget from its headers until it is
// closed; while the length is unknown, the limit.
func TestTransportHoldsBudgetUntilClose(t *testing.T) {
	srv := server(t)
	b := budget.New(1 << 20)
	hc := &http.Client{Transport: &budget.Transport{Limit: 8192, Budget: b}}
	for _, tc := range []struct {
		path string
		hold int64
	}{{"/1000", 1000}, {"/chunked/1000", 8192}} {
		resp, err := hc.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.Stats().InUse; got != tc.hold {
			t.Errorf("%s: %d bytes held while open, want %d", tc.path, got, tc.hold)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if got := b.Stats().InUse; got != 0 {
			t.Errorf("%s: %d bytes held after close", tc.path, got)
		}
	}

	// A full budget makes the next response wait, not fail.
	hold, _ := b.Acquire(context.Background(), b.Total())
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/10", nil)
	done := make(chan error, 1)
	go func() {
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	for b.Stats().Waits == 0 {
		select {
		case err := <-done:
			t.Fatalf("request finished (%v) while the budget was spent", err)
		default:
			time.Sleep(time.Millisecond)
		}
	}
	hold.Release()
	if err := <-done; err != nil {
		t.Errorf("after the budget was freed: %v", err)
	}
	cancel()
}

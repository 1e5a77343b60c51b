package registry_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/registry"
)

func TestFetchSummaryFaults(t *testing.T) {
	manifestPath := func(p pushed) string { return "/manifests/" + p.digest + "$" }
	layerPath := func(p pushed) string { return "/blobs/" + p.layerDigest + "$" }
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

	for _, tc := range []struct {
		name      string
		path      func(pushed) string
		times     int
		act       func(http.ResponseWriter, *http.Request)
		actFor    func(pushed) func(http.ResponseWriter, *http.Request)
		timeout   time.Duration
		wantErr   bool
		wantKind  registry.Kind
		wantTries int             // attempts reported by the error (0: not checked)
		wantSleep []time.Duration // recorded backoff delays (nil: not checked)
	}{
		{name: "403", path: manifestPath, times: -1, act: status(http.StatusForbidden),
			wantErr: true, wantKind: registry.KindForbidden, wantTries: 1, wantSleep: []time.Duration{}},
		{name: "401 UNAUTHORIZED", path: layerPath, times: -1, act: registryError(http.StatusUnauthorized, "UNAUTHORIZED"),
			wantErr: true, wantKind: registry.KindForbidden, wantTries: 1},
		{name: "DENIED", path: manifestPath, times: -1, act: registryError(http.StatusForbidden, "DENIED"),
			wantErr: true, wantKind: registry.KindForbidden},
		{name: "429 Retry-After seconds", path: manifestPath, times: 1, act: status(http.StatusTooManyRequests, "Retry-After", "7"),
			wantSleep: []time.Duration{7 * time.Second}},
		{name: "429 Retry-After date", path: layerPath, times: 1,
			act:       status(http.StatusTooManyRequests, "Retry-After", now.Add(12*time.Second).Format(http.TimeFormat)),
			wantSleep: []time.Duration{12 * time.Second}},
		{name: "429 Retry-After capped", path: manifestPath, times: 1, act: status(http.StatusTooManyRequests, "Retry-After", "86400"),
			wantSleep: []time.Duration{30 * time.Second}},
		{name: "500 then success", path: manifestPath, times: 1, act: status(http.StatusInternalServerError),
			wantSleep: []time.Duration{10 * time.Millisecond}},
		{name: "503 twice then success on the layer", path: layerPath, times: 2, act: status(http.StatusServiceUnavailable),
			wantSleep: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}},
		{name: "persistent 500", path: manifestPath, times: -1, act: status(http.StatusInternalServerError),
			wantErr: true, wantKind: registry.KindTransient, wantTries: 3,
			wantSleep: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}},
		{name: "persistent 502 on the ping", path: func(pushed) string { return "^/v2/$" }, times: -1, act: status(http.StatusBadGateway),
			wantErr: true, wantKind: registry.KindTransient, wantTries: 3},
		{name: "connection reset once", path: manifestPath, times: 1, act: reset},
		{name: "connection reset", path: layerPath, times: -1, act: reset,
			wantErr: true, wantKind: registry.KindTransient, wantTries: 3},
		{name: "slow response", path: manifestPath, times: -1, act: hang, timeout: 50 * time.Millisecond,
			wantErr: true, wantKind: registry.KindTransient, wantTries: 3},
		{name: "body cut short", path: layerPath, times: -1, actFor: func(p pushed) func(http.ResponseWriter, *http.Request) {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", fmt.Sprint(len(p.layer)))
				w.WriteHeader(http.StatusOK)
				w.Write(p.layer[:len(p.layer)/2])
			}
		}, wantErr: true, wantKind: registry.KindTransient, wantTries: 3},
		{name: "400 not retried", path: manifestPath, times: -1, act: registryError(http.StatusBadRequest, "MANIFEST_INVALID"),
			wantErr: true, wantKind: registry.KindTransient, wantTries: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, false)
			a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
			opts := []registry.Option{registry.WithClock(func() time.Time { return now })}
			if tc.timeout > 0 {
				opts = append(opts, registry.WithTimeout(tc.timeout))
			}
			c, s := w.client(t, opts...)
			act := tc.act
			if tc.actFor != nil {
				act = tc.actFor(a)
			}
			w.faults.add("", tc.path(a), tc.times, act)

			got, err := c.FetchSummary(context.Background(), w.host+"/evidence/x", a.digest)
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("FetchSummary: %v", err)
				}
				if got.Digest != a.digest {
					t.Fatalf("digest: got %s, want %s", got.Digest, a.digest)
				}
			} else {
				fe := wantKind(t, err, tc.wantKind)
				if tc.wantTries != 0 && fe.Attempts != tc.wantTries {
					t.Errorf("attempts: got %d, want %d (%v)", fe.Attempts, tc.wantTries, err)
				}
			}
			if tc.wantSleep != nil {
				if got := s.all(); !slices.Equal(got, tc.wantSleep) && !(len(got) == 0 && len(tc.wantSleep) == 0) {
					t.Errorf("sleeps: got %v, want %v", got, tc.wantSleep)
				}
			}
		})
	}
}

func TestCanceledContext(t *testing.T) {
	w := newWorld(t, false)
	a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
	c, _ := w.client(t)
	ctx, cancel := context.WithCancel(context.Background())
	w.faults.add("", "/manifests/", -1, func(rw http.ResponseWriter, r *http.Request) {
		cancel()
		hang(rw, r)
	})
	_, err := c.FetchSummary(ctx, w.host+"/evidence/x", a.digest)
	fe := wantKind(t, err, registry.KindCanceled)
	if fe.Attempts != 1 {
		t.Errorf("attempts: got %d, want 1", fe.Attempts)
	}
}

func TestCanceledWhileWaitingToRetry(t *testing.T) {
	w := newWorld(t, false)
	a := w.pushSummary(t, "evidence/x", "v1", bundleFiles("a")...)
	ctx, cancel := context.WithCancel(context.Background())
	c, err := registry.New(
		registry.WithPlainHTTP(w.host), registry.AllowPrivateNetworksUnsafe(true),
		registry.WithSleep(func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }),
	)
	if err != nil {
		t.Fatal(err)
	}
	w.faults.add("", "/manifests/", -1, status(http.StatusServiceUnavailable))
	_, err = c.FetchSummary(ctx, w.host+"/evidence/x", a.digest)
	wantKind(t, err, registry.KindCanceled)
}

func TestPerHostLimit(t *testing.T) {
	w := newWorld(t, false)
	var ps []pushed
	for i := range 6 {
		ps = append(ps, w.pushSummary(t, "evidence/x", "v1", bundleFiles(string(rune('a'+i)))...))
	}
	c, _ := w.client(t, registry.WithPerHostLimit(1))
	w.faults.setDelay(2 * time.Millisecond)
	errs := make(chan error, len(ps))
	for _, p := range ps {
		go func() {
			_, err := c.FetchSummary(context.Background(), w.host+"/evidence/x", p.digest)
			errs <- err
		}()
	}
	for range ps {
		if err := <-errs; err != nil {
			t.Fatalf("FetchSummary: %v", err)
		}
	}
	if peak := w.faults.peakInflight(); peak != 1 {
		t.Errorf("peak concurrent requests: got %d, want 1", peak)
	}
}

package daemon_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/daemon"
)

func TestServerEndpoints(t *testing.T) {
	m := daemon.NewMetrics()
	m.IssueOperation("recert", "create", nil)
	m.Progress(120, 2000)
	rt := m.InstrumentTransport("registry", roundTrip(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 404, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}}, nil
	}))
	req, _ := http.NewRequest(http.MethodHead, "https://registry.example/v2/x/manifests/sha256:0", nil)
	if _, err := rt.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	ready := errors.New("trusted root not loaded")
	s := daemon.NewServer("127.0.0.1:0", m, nil,
		daemon.Check{Name: "ledger", Fn: func(context.Context) error { return nil }},
		daemon.Check{Name: "trust", Fn: func(context.Context) error { return ready }})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	base := "http://" + s.Addr()
	get := func(method, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("GET", "/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get("GET", "/readyz"); code != 503 || !strings.Contains(body, "trust: trusted root not loaded") {
		t.Errorf("/readyz = %d %q, want 503 naming the failed check", code, body)
	}
	ready = nil
	if code, _ := get("GET", "/readyz"); code != 200 {
		t.Errorf("/readyz = %d once ready", code)
	}
	code, body := get("GET", "/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`evidence_auditd_runs_total{result="healthy"} 0`,
		`evidence_auditd_issue_operations_total{kind="recert",op="create",outcome="ok"} 1`,
		`evidence_auditd_requests_total{code="404",method="HEAD",service="registry"} 1`,
		`evidence_auditd_request_duration_seconds_count{method="HEAD",service="registry"} 1`,
		"evidence_auditd_run_pointers_done 120",
		"evidence_auditd_run_pointers_total 2000",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, line := range strings.Split(body, "\n") {
		name := strings.TrimPrefix(strings.TrimPrefix(line, "# HELP "), "# TYPE ")
		if name != "" && !strings.HasPrefix(name, "evidence_auditd_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") && !strings.HasPrefix(name, "promhttp_") {
			t.Errorf("metric without the evidence_auditd_ prefix: %q", line)
		}
	}
	for _, p := range []string{"/", "/debug/pprof/", "/metrics/x"} {
		if code, _ := get("GET", p); code != 404 {
			t.Errorf("GET %s = %d, want 404 (nothing else on the mux)", p, code)
		}
	}
	if code, _ := get("POST", "/metrics"); code != 405 {
		t.Errorf("POST /metrics = %d, want 405", code)
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

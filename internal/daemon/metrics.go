package daemon

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Run results, the values of the result label of
// evidence_auditd_runs_total.
const (
	ResultHealthy     = "healthy"     // complete, no findings
	ResultFindings    = "findings"    // complete, with findings (exit 3 for run)
	ResultFailed      = "failed"      // could not complete (operational error)
	ResultInterrupted = "interrupted" // canceled (shutdown, lost lock); resumed next time
)

// IssueObserver counts issue operations; the issues feature is given one
// (a *Metrics satisfies it). kind is recert or lost, op what was done
// (create, update, close, comment, ...); err nil means it succeeded.
type IssueObserver interface {
	IssueOperation(kind, op string, err error)
}

// RequestObserver counts outbound requests by service ("registry", "rekor",
// "github"); code is the HTTP status, 0 when no response came.
type RequestObserver interface {
	ObserveRequest(service, method string, code int, d time.Duration)
}

var (
	_ IssueObserver   = (*Metrics)(nil)
	_ RequestObserver = (*Metrics)(nil)
)

// Metrics is the daemon's Prometheus registry (private, never the global
// one; every name prefixed evidence_auditd_) and its collectors.
type Metrics struct {
	reg *prometheus.Registry

	runs        *prometheus.CounterVec
	duration    prometheus.Histogram
	lastSuccess prometheus.Gauge
	lastRun     prometheus.Gauge
	nextRun     prometheus.Gauge
	inProgress  prometheus.Gauge
	runDone     prometheus.Gauge
	runTotal    prometheus.Gauge
	anchored    prometheus.Gauge
	pointers    *prometheus.GaugeVec
	ages        *prometheus.GaugeVec
	archive     *prometheus.GaugeVec
	issueOps    *prometheus.CounterVec
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	heartbeats  *prometheus.CounterVec
	lockWaits   prometheus.Counter
}

// NewMetrics builds the registry with the Go runtime and process collectors.
func NewMetrics() *Metrics {
	const ns = "evidence_auditd"
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "runs_total",
			Help: "Audit runs by result: healthy, findings, failed (operational error), interrupted."}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "run_duration_seconds",
			Help:    "Wall time of audit runs, including interrupted and failed ones.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 16)}), // 1s .. ~9h
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "last_success_timestamp_seconds",
			Help: "Unix time at which the last complete audit run finished (0: none yet)."}),
		lastRun: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "last_run_timestamp_seconds",
			Help: "Unix time at which the last audit run ended, whatever its result."}),
		nextRun: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "next_run_timestamp_seconds",
			Help: "Unix time of the next scheduled audit run."}),
		anchored: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "anchored_run_id",
			Help: "Id of the newest run whose ledger head is anchored outside the database (SPEC §10); 0 before the first. Compare with the anchor files and the ledger."}),
		inProgress: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "run_in_progress",
			Help: "1 while this process runs an audit."}),
		runDone: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "run_pointers_done",
			Help: "Pointer versions the audit in progress has decided so far (progress; 0 between runs)."}),
		runTotal: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "run_pointers_total",
			Help: "Pointer versions the audit in progress will decide (progress; 0 between runs)."}),
		pointers: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "pointers",
			Help: "Pointer versions of the last complete run by verdict."}, []string{"verdict"}),
		ages: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "pointer_ages",
			Help: "Pointer versions of the last complete run by age: fresh, expiring, expired."}, []string{"age"}),
		archive: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "archive_bundles",
			Help: "Archive coverage of the last complete run: its distinct healthy bundles (state=healthy) and how many of them the archive holds (state=archived)."},
			[]string{"state"}),
		issueOps: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "issue_operations_total",
			Help: "Issue operations by kind, operation and outcome (ok, error)."}, []string{"kind", "op", "outcome"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "requests_total",
			Help: "Outbound HTTP requests by service (registry, rekor, github), method and status code (0: no response)."},
			[]string{"service", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "request_duration_seconds",
			Help: "Latency of outbound HTTP requests by service and method.", Buckets: prometheus.DefBuckets},
			[]string{"service", "method"}),
		heartbeats: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "heartbeat_pings_total",
			Help: "Dead-man's-switch pings by outcome (ok, error)."}, []string{"outcome"}),
		lockWaits: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "lock_waits_total",
			Help: "Times an audit had to wait because another process held the audit lock."}),
	}
	m.reg.MustRegister(m.runs, m.duration, m.lastSuccess, m.lastRun, m.nextRun, m.inProgress, m.runDone, m.runTotal, m.anchored, m.pointers, m.ages, m.archive,
		m.issueOps, m.requests, m.latency, m.heartbeats, m.lockWaits,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{ResultHealthy, ResultFindings, ResultFailed, ResultInterrupted} {
		m.runs.WithLabelValues(r) // export zeros, so rate() and absent() alerts work from the start
	}
	return m
}

// Registry is the private registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Progress records the progress of the audit in progress (done of total
// pointer versions decided); its signature is that of job.Request.Progress.
func (m *Metrics) Progress(done, total int) {
	m.runDone.Set(float64(done))
	m.runTotal.Set(float64(total))
}

// IssueOperation implements IssueObserver.
func (m *Metrics) IssueOperation(kind, op string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.issueOps.WithLabelValues(kind, op, outcome).Inc()
}

// ObserveRequest implements RequestObserver.
func (m *Metrics) ObserveRequest(service, method string, code int, d time.Duration) {
	m.requests.WithLabelValues(service, method, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(service, method).Observe(d.Seconds())
}

// InstrumentTransport wraps next (nil: http.DefaultTransport) so that every
// request it carries is counted and timed under service.
func (m *Metrics) InstrumentTransport(service string, next http.RoundTripper) http.RoundTripper {
	return ObservedTransport(service, next, m)
}

// ObservedTransport wraps next (nil: http.DefaultTransport) so that every
// request is reported to o under service.
func ObservedTransport(service string, next http.RoundTripper, o RequestObserver) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := next.RoundTrip(req)
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		o.ObserveRequest(service, req.Method, code, time.Since(start))
		return resp, err
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// SetAnchoredRun sets the anchored-run gauge, e.g. from the ledger at
// start (the newest anchored run before this process).
func (m *Metrics) SetAnchoredRun(id int64) { m.anchored.Set(float64(id)) }

// runEnded records one run.
func (m *Metrics) runEnded(result string, d time.Duration, end time.Time, st *RunStats) {
	m.runs.WithLabelValues(result).Inc()
	m.duration.Observe(d.Seconds())
	m.lastRun.Set(unix(end))
	if st != nil && st.Anchor.RunID > 0 {
		m.anchored.Set(float64(st.Anchor.RunID))
	}
	if st != nil && st.Complete {
		m.lastSuccess.Set(unix(end))
		m.setCounts(*st)
	}
}

// setCounts replaces the per-verdict and per-age gauges.
func (m *Metrics) setCounts(st RunStats) {
	m.pointers.Reset()
	for v, n := range st.ByVerdict {
		m.pointers.WithLabelValues(v).Set(float64(n))
	}
	m.ages.Reset()
	for a, n := range st.ByAge {
		m.ages.WithLabelValues(a).Set(float64(n))
	}
	m.archive.WithLabelValues("healthy").Set(float64(st.Archive.Healthy))
	m.archive.WithLabelValues("archived").Set(float64(st.Archive.Archived))
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

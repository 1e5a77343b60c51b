package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
)

// BenchmarkAuditScale measures DESIGN.md's audit targets: the binary audits
// a sandbox world of N pointers (EVIDENCE_AUDITD_BENCH_N, default 10 000)
// served by this process, so the client's CPU and peak RSS are the child's
// alone. It reports pointers/s, client CPU per pointer and peak RSS for a
// full (--deep) run, then for a normal run that takes the fast path.
// EVIDENCE_AUDITD_BENCH_PROFILE=DIR writes the child's CPU profiles there.
//
// It needs GNU time (/usr/bin/time, Debian package time) for the peak RSS.
//
//	EVIDENCE_AUDITD_BENCH_N=10000 go test -run '^$' -bench AuditScale -benchtime 1x -timeout 30m ./cmd/evidence-auditd/
func BenchmarkAuditScale(b *testing.B) {
	n := 10000
	if s := os.Getenv("EVIDENCE_AUDITD_BENCH_N"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	now := time.Now().UTC().Truncate(time.Second)
	start := time.Now()
	w, _ := startWorld(b, []sandbox.Option{sandbox.WithLeafReuse(5 * time.Minute)}, sandbox.ScaleCases(n, now))
	b.Logf("built a world of %d pointers in %s", n, time.Since(start).Round(time.Millisecond))
	asOf := now.Format(time.RFC3339)

	for _, mode := range []struct {
		name string
		args []string
	}{
		{"deep", []string{"--deep"}},
		{"fast-path", nil},
	} {
		b.Run(mode.name, func(b *testing.B) {
			for range b.N {
				args := append([]string{"run", "-c", w.ConfigPath(), "--as-of", asOf}, mode.args...)
				if dir := os.Getenv("EVIDENCE_AUDITD_BENCH_PROFILE"); dir != "" {
					args = append(args, "--cpuprofile", dir+"/"+mode.name+".prof")
				}
				// Peak RSS through GNU time: a child started straight from this
				// process inherits its (large) high-water mark across exec.
				rssFile := filepath.Join(b.TempDir(), "rss")
				cmd := exec.Command("/usr/bin/time", append([]string{"-f", "%M", "-o", rssFile, binary}, args...)...)
				t0 := time.Now()
				out, err := cmd.CombinedOutput()
				wall := time.Since(t0)
				if err != nil {
					b.Fatalf("run: %v\n%s", err, out)
				}
				st := cmd.ProcessState
				cpu := st.UserTime() + st.SystemTime()
				rss, err := os.ReadFile(rssFile)
				if err != nil {
					b.Fatal(err)
				}
				kb, err := strconv.Atoi(strings.TrimSpace(string(rss)))
				if err != nil {
					b.Fatalf("peak RSS %q: %v", rss, err)
				}
				b.ReportMetric(float64(n)/wall.Seconds(), "pointers/s")
				b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n), "client-cpu-ms/pointer")
				b.ReportMetric(float64(kb)/1024, "peak-rss-MiB")
			}
		})
	}
}

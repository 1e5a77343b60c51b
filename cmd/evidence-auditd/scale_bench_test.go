package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
)

// BenchmarkAuditScale measures DESIGN.md's audit targets: the binary audits
// a sandbox world of N pointers (EVIDENCE_AUDITD_BENCH_N, default 10 000)
// served by this process, so the client's CPU and peak RSS are the child's
// alone. It reports pointers/s, client CPU per pointer and peak RSS for, in
// order on one ledger: a full (--deep) run without the archive; a deep run
// that archives every bundle (the one copy per bundle of SPEC §9, into the
// default OCI layout, whose size on disk it reports); a deep run with every
// bundle archived already; and a normal run that takes the fast path.
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

	noArchive := []string{"EVIDENCE_AUDITD_ARCHIVE_ENABLED=false"}
	for _, mode := range []struct {
		name string
		args []string
		env  []string
	}{
		{"deep-no-archive", []string{"--deep"}, noArchive},
		{"deep-archiving", []string{"--deep"}, nil},
		{"deep-archived", []string{"--deep"}, nil},
		{"fast-path", nil, nil},
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
				cmd.Env = append(os.Environ(), mode.env...)
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
				if mode.env == nil {
					size, disk, files := dirSize(filepath.Join(w.Dir(), "archive"))
					b.ReportMetric(float64(size)/(1<<20), "archive-MiB")
					b.ReportMetric(float64(disk)/(1<<20), "archive-disk-MiB")
					b.ReportMetric(float64(files), "archive-files")
				}
			}
		})
	}
}

// dirSize is the total size of the files under dir, the space they take
// on disk (allocated blocks, as du counts) and their number.
func dirSize(dir string) (size, disk int64, files int) {
	filepath.WalkDir(dir, func(_ string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			if info, err := e.Info(); err == nil {
				size += info.Size()
				if st, ok := info.Sys().(*syscall.Stat_t); ok {
					disk += st.Blocks * 512
				}
				files++
			}
		}
		return nil
	})
	return size, disk, files
}

package job_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/job"
)

// TestProgressLog: a line at the steady interval and one at the end,
// nothing in between, whatever the callback rate.
func TestProgressLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	t0 := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	clock := t0
	p := job.ProgressLog(log, 10*time.Second, func() time.Time { return clock })
	for done := 1; done <= 100; done++ {
		clock = t0.Add(time.Duration(done) * 500 * time.Millisecond) // 2 per second
		p(done, 100)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// Every 10 s after the first result (10.5 s, 20.5 s, 30.5 s, 40.5 s),
	// then the last one at 50 s.
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5:\n%s", len(lines), buf.String())
	}
	last := lines[len(lines)-1]
	for _, want := range []string{"msg=\"audit progress\"", "done=100", "total=100", "perSecond=2", "eta=0s"} {
		if !strings.Contains(last, want) {
			t.Errorf("last line %q lacks %q", last, want)
		}
	}
}

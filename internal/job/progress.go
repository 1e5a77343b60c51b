package job

import (
	"log/slog"
	"sync"
	"time"
)

// DefaultProgressEvery is how often ProgressLog reports.
const DefaultProgressEvery = 30 * time.Second

// ProgressLog returns a Request.Progress that writes a structured "audit
// progress" line (done, total, rate per second, ETA) at most every every
// (DefaultProgressEvery when zero), and once more when the last pointer is
// decided: long work reports progress also when stderr is not a terminal
// and under serve (SPEC §8). now is the clock (nil: time.Now).
func ProgressLog(log *slog.Logger, every time.Duration, now func() time.Time) func(done, total int) {
	if every <= 0 {
		every = DefaultProgressEvery
	}
	if now == nil {
		now = time.Now
	}
	var (
		mu          sync.Mutex
		start, last time.Time
	)
	return func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		t := now()
		if start.IsZero() {
			start, last = t, t
		}
		if done < total && t.Sub(last) < every {
			return
		}
		last = t
		elapsed := t.Sub(start)
		rate, eta := 0.0, "unknown"
		if elapsed > 0 && done > 0 {
			rate = float64(done) / elapsed.Seconds()
			eta = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second).String()
		}
		log.Info("audit progress", "done", done, "total", total, "perSecond", float64(int(rate*10))/10, "eta", eta,
			"elapsed", elapsed.Round(time.Second).String())
	}
}

// Progresses combines progress callbacks (nil ones are skipped) into one.
func Progresses(fns ...func(done, total int)) func(done, total int) {
	var live []func(done, total int)
	for _, f := range fns {
		if f != nil {
			live = append(live, f)
		}
	}
	if len(live) == 0 {
		return nil
	}
	return func(done, total int) {
		for _, f := range live {
			f(done, total)
		}
	}
}

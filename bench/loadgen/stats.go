package main

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"
)

// The clock: CLOCK_MONOTONIC in µs, the clock the Node load workers write into bodies
// (process.hrtime.bigint() / 1000n), so this tool can also time deliveries of a Node publisher. It is read once
// through clock_gettime and then advanced with Go's monotonic clock (CLOCK_MONOTONIC too, without a system call).
var (
	baseUs int64
	baseAt time.Time
)

func init() {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err)
	}
	baseAt = time.Now()
	baseUs = ts.Nano() / 1000
}

func nowUs() int64 { return baseUs + time.Since(baseAt).Microseconds() }

// The measurement window [warmEnd, end), set when the load starts (never before: nothing is counted until then).
var (
	warmEndUs atomic.Int64
	endUs     atomic.Int64
)

func init() {
	warmEndUs.Store(math.MaxInt64)
	endUs.Store(math.MaxInt64)
}

// startWindow starts the clock of a run: -warmup seconds not counted, then -seconds measured. Returns the start.
func startWindow() int64 {
	t0 := nowUs()
	warmEndUs.Store(t0 + int64(*warmup*1e6))
	endUs.Store(t0 + int64((*warmup+*seconds)*1e6))
	return t0
}

// inWindow: an operation started (sent, or due in the open model) in the measurement window.
func inWindow(startUs int64) bool { return startUs >= warmEndUs.Load() && startUs < endUs.Load() }

// sink gathers one kind of operation (acks, or deliveries) from many goroutines.
//   - window: operations that completed inside the window; the rate is window / -seconds.
//   - measured: operations that started inside the window and completed before the drain ended; these, and only
//     these, are in the histogram (so a slow tail after the end still counts, and the warm-up's does not).
type sink struct {
	mu       sync.Mutex
	h        *hdrhistogram.Histogram
	window   int64
	measured int64
	// For progress and drain checks while the run goes on.
	progress     atomic.Int64
	measuredLive atomic.Int64
}

func newSink() *sink { return &sink{h: hdrhistogram.New(1, 600_000_000, 3)} }

// recorder is one goroutine's view of a sink: latencies are buffered and merged under the lock in batches, so a
// thousand subscriber goroutines share one histogram without a lock per message.
type recorder struct {
	s        *sink
	buf      []int64
	window   int64
	measured int64
}

func (s *sink) recorder() *recorder { return &recorder{s: s, buf: make([]int64, 0, 256)} }

// done records an operation that started at startUs (the body's timestamp, the send time or the due time).
func (r *recorder) done(startUs int64) {
	now := nowUs()
	r.s.progress.Add(1)
	if now >= warmEndUs.Load() && now < endUs.Load() {
		r.window++
	}
	if inWindow(startUs) {
		r.s.measuredLive.Add(1)
		r.measured++
		r.buf = append(r.buf, max(1, now-startUs))
		if len(r.buf) == cap(r.buf) {
			r.flush()
		}
	}
}

// doneUntimed counts an operation without a timestamp (a delivery whose body is shorter than 8 bytes).
func (r *recorder) doneUntimed() {
	now := nowUs()
	r.s.progress.Add(1)
	if now >= warmEndUs.Load() && now < endUs.Load() {
		r.window++
	}
}

func (r *recorder) flush() {
	r.s.mu.Lock()
	for _, v := range r.buf {
		_ = r.s.h.RecordValue(v)
	}
	r.s.window += r.window
	r.s.measured += r.measured
	r.s.mu.Unlock()
	r.buf = r.buf[:0]
	r.window, r.measured = 0, 0
}

// summary is one kind of operation over the window. Latencies in ms.
type summary struct {
	Count     int64   `json:"count"`
	OpsPerSec float64 `json:"opsPerSec"`
	MBPerSec  float64 `json:"mbPerSec"`
	Measured  int64   `json:"measured"`
	P50Ms     float64 `json:"p50Ms"`
	P90Ms     float64 `json:"p90Ms"`
	P99Ms     float64 `json:"p99Ms"`
	P999Ms    float64 `json:"p999Ms"`
	MaxMs     float64 `json:"maxMs"`
}

func (s *sink) summary() summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := func(q float64) float64 { return float64(s.h.ValueAtQuantile(q)) / 1000 }
	rate := float64(s.window) / *seconds
	return summary{
		Count: s.window, OpsPerSec: rate, MBPerSec: rate * float64(bodySize()) / 1e6, Measured: s.measured,
		P50Ms: ms(50), P90Ms: ms(90), P99Ms: ms(99), P999Ms: ms(99.9), MaxMs: float64(s.h.Max()) / 1000,
	}
}

var (
	errCount atomic.Int64
	firstErr atomic.Pointer[string]
)

// fault counts an error and keeps the first one's text for the report.
func fault(err error) {
	errCount.Add(1)
	msg := err.Error()
	firstErr.CompareAndSwap(nil, &msg)
}

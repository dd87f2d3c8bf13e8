// loadgen: a native load client for the broker and its peers, so that benchmark figures are the servers' and not
// those of a Node client sharing the machine's two cores (a Node grpc-js client spends several times the server's
// CPU per message). grpc-go with a raw-bytes codec and protowire (no generated code), nats.go, rueidis.
//
// Modes (-mode):
//
//	stream     PublishStream on -connections connections (one grpc.ClientConn each), at most -inflight
//	           unacknowledged per stream (acks come in order); closed loop, or the open model at -rate (total).
//	subscribe  -streams live Subscribe streams (from_id 0) over -connections connections; each delivery's latency is
//	           now minus the CLOCK_MONOTONIC µs in the first 8 bytes of its body, as the Node load workers write
//	           it (so any publisher on this host that does the same can be timed).
//	e2e        one PublishStream publisher at -rate (open model, due time in the body) and -streams subscribers in
//	           this process: publisher ack latency, publish-to-delivery latency, and the share of the expected
//	           deliveries (messages sent in the window x streams) that arrived.
//	nats       NATS JetStream acked async publish (js.PublishAsync, PublishAsyncMaxPending = -inflight) into a
//	           file-storage stream this tool creates, with -nats-replicas replicas.
//	redis      Redis Streams XADD through rueidis: one TCP connection per -connections, -inflight goroutines on
//	           each, whose commands rueidis pipelines on that connection.
//	serve-peer not a client: a Go server of the same broker.proto with an in-memory store (peer_server.go), on
//	           127.0.0.1 at the port of -addr (0: any), for the bench to compare the broker with.
//
// Time: the first -warmup seconds, then -seconds measured. Rates count operations that complete in the measured
// window; latency percentiles cover operations that start in it (sent, or due in the open model) and complete
// before -drain seconds after its end. Operations of the warm-up are in neither.
//
// Output: one JSON object on stdout; progress on stderr once a second.
//
//	loadgen -mode stream -addr 127.0.0.1:50051 -connections 2 -inflight 64 -seconds 10
//	loadgen -mode e2e -addr 127.0.0.1:50051 -rate 1000 -streams 1000 -connections 4 -payload 100
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"sync"
	"time"
)

var (
	mode           = flag.String("mode", "stream", "stream | unary | subscribe | e2e | nats | redis | serve-peer")
	tlsCa          = flag.String("tls-ca", "", "PEM CA file: connect over TLS, checking the broker's certificate with it (unset = plaintext)")
	cert           = flag.String("cert", "", "PEM client certificate (a broker with mTLS; needs -tls-ca and -key)")
	key            = flag.String("key", "", "PEM private key of -cert")
	token          = flag.String("token", "", "bearer token sent on every call (a broker with BROKER_AUTH_FILE)")
	addr           = flag.String("addr", "127.0.0.1:50051", "server address, host:port")
	subject        = flag.String("subject", "bench.load", "subject (NATS subject, Redis stream key)")
	subjects       = flag.Int("subjects", 1, "> 1: messages (and subscribers) go round-robin over <subject>.0 .. <subject>.N-1")
	perConnection  = flag.Bool("subject-per-connection", false, "publishers: connection c publishes to <subject>.c (as the Node load workers do)")
	connections    = flag.Int("connections", 1, "connections: publishers' (stream, nats, redis) or subscribers' (subscribe, e2e)")
	inflight       = flag.Int("inflight", 64, "unacknowledged messages per connection (the window)")
	streams        = flag.Int("streams", 1, "subscribe, e2e: live Subscribe streams, spread evenly over -connections")
	rate           = flag.Float64("rate", 0, "messages per second in all (open model); 0 = closed loop (e2e: the publisher's rate)")
	payload        = flag.Int("payload", 1024, "body bytes (at least 8: the first 8 carry the timestamp)")
	seconds        = flag.Float64("seconds", 10, "measured seconds, after the warm-up")
	warmup         = flag.Float64("warmup", 2, "seconds first run and not counted (rates or latencies)")
	drain          = flag.Float64("drain", 5, "seconds after the end to wait for outstanding acks and deliveries")
	natsStreamName = flag.String("nats-stream", "BENCH", "nats: the JetStream stream to create")
	natsReplicas   = flag.Int("nats-replicas", 1, "nats: the stream's replicas (R3 needs a JetStream cluster of at least 3 servers)")
)

// report is the JSON on stdout. The top-level figures are the mode's main operation: acks (stream, nats, redis) or
// deliveries (subscribe, e2e).
type report struct {
	Mode string `json:"mode"`
	summary
	Errors        int64   `json:"errors"`
	FirstError    string  `json:"firstError,omitempty"`
	Seconds       float64 `json:"seconds"`
	WarmupSeconds float64 `json:"warmupSeconds"`
	Connections   int     `json:"connections"`
	Inflight      int     `json:"inflight"`
	Rate          float64 `json:"rate"`
	Payload       int     `json:"payload"`
	LatencyFrom   string  `json:"latencyFrom"`
	// Publishers: sent but not acknowledged when the drain ended; open model: due in the window, never sent.
	Unacked int64 `json:"unacked"`
	Unsent  int64 `json:"unsent"`
	// subscribe, e2e.
	Streams int `json:"streams,omitempty"`
	// e2e: the publisher's acks, and the deliveries of the messages sent in the window.
	Publisher         *summary `json:"publisher,omitempty"`
	Expected          int64    `json:"expected,omitempty"`
	Delivered         int64    `json:"delivered,omitempty"`
	DeliveredFraction *float64 `json:"deliveredFraction,omitempty"`
	Note              string   `json:"note"`
}

func die(err error) {
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	os.Exit(1)
}

func publisherSubject(c int, i int64) string {
	switch {
	case *subjects > 1:
		return *subject + "." + strconv.FormatInt(i%int64(*subjects), 10)
	case *perConnection:
		return *subject + "." + strconv.Itoa(c)
	default:
		return *subject
	}
}

func subscriberSubject(i int) string {
	if *subjects > 1 {
		return *subject + "." + strconv.Itoa(i%*subjects)
	}
	return *subject
}

// progress prints one line a second on stderr until stop is closed.
func progress(t0 int64, stop <-chan struct{}, sinks map[string]*sink) {
	last := map[string]int64{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		elapsed := float64(nowUs()-t0) / 1e6
		phase := ""
		if nowUs() < warmEndUs.Load() {
			phase = " (warm-up)"
		} else if nowUs() >= endUs.Load() {
			phase = " (drain)"
		}
		line := fmt.Sprintf("loadgen %s: %.0f/%.0f s%s", *mode, elapsed, *warmup+*seconds, phase)
		for _, name := range []string{"acks", "deliveries"} {
			if s, ok := sinks[name]; ok {
				n := s.progress.Load()
				line += fmt.Sprintf(", %s %d/s", name, n-last[name])
				last[name] = n
			}
		}
		if e := errCount.Load(); e > 0 {
			line += fmt.Sprintf(", %d errors", e)
		}
		fmt.Fprintln(os.Stderr, line)
	}
}

func main() {
	flag.Parse()
	if *mode == "serve-peer" {
		servePeer()
		return
	}
	if *connections < 1 || *inflight < 1 || *streams < 0 || *seconds <= 0 || *warmup < 0 || *rate < 0 || *subjects < 1 {
		die(fmt.Errorf("bad flags: -connections, -inflight, -subjects >= 1; -seconds > 0; -warmup, -rate, -streams >= 0"))
	}
	r := report{
		Mode: *mode, Seconds: *seconds, WarmupSeconds: *warmup, Connections: *connections, Inflight: *inflight, Rate: *rate, Payload: bodySize(),
		LatencyFrom: "send time (closed loop)",
		Note:        fmt.Sprintf("the first %g s (warm-up) are not counted; rates: operations completed in the %g s after it; latencies: operations started in those %g s, until %g s after", *warmup, *seconds, *seconds, *drain),
	}
	if *rate > 0 {
		r.LatencyFrom = "due time (open model)"
	}
	stop := make(chan struct{})
	switch *mode {
	case "stream", "unary", "nats", "redis":
		acks := newSink()
		if *mode == "nats" {
			if err := natsStream(); err != nil {
				die(fmt.Errorf("creating the JetStream stream: %w", err))
			}
		}
		t0 := startWindow()
		go progress(t0, stop, map[string]*sink{"acks": acks})
		var out publishOutcome
		var err error
		if *mode == "stream" || *mode == "unary" {
			out, err = publishers(*connections, *inflight, *rate, t0, acks, publisherSubject)
		} else {
			out, err = peerPublishers(t0, acks)
		}
		if err != nil {
			die(err)
		}
		r.summary = acks.summary()
		r.Unacked, r.Unsent = out.unacked, out.unsent
	case "subscribe":
		deliveries := newSink()
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		if err := subscribers(ctx, *streams, *connections, deliveries, subscriberSubject, &wg); err != nil {
			die(err)
		}
		t0 := startWindow()
		go progress(t0, stop, map[string]*sink{"deliveries": deliveries})
		time.Sleep(time.Until(deadline()))
		cancel()
		wg.Wait()
		r.summary = deliveries.summary()
		r.Streams = *streams
		r.LatencyFrom = "the timestamp in the body (CLOCK_MONOTONIC µs)"
	case "e2e":
		if *subjects > 1 || *perConnection {
			die(fmt.Errorf("e2e publishes to one subject: no -subjects or -subject-per-connection"))
		}
		acks, deliveries := newSink(), newSink()
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		// Subscribers first: the publisher's first message is due when it starts.
		if err := subscribers(ctx, *streams, *connections, deliveries, subscriberSubject, &wg); err != nil {
			die(err)
		}
		t0 := startWindow()
		go progress(t0, stop, map[string]*sink{"acks": acks, "deliveries": deliveries})
		out, err := publishers(1, *inflight, *rate, t0, acks, publisherSubject)
		if err != nil {
			die(err)
		}
		expected := out.sentInWindow * int64(*streams)
		for time.Now().Before(deadline()) && deliveries.measuredLive.Load() < expected {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		wg.Wait()
		pub := acks.summary()
		r.summary = deliveries.summary()
		r.Publisher = &pub
		r.Streams = *streams
		r.Unacked, r.Unsent = out.unacked, out.unsent
		r.Expected = expected
		r.Delivered = r.Measured
		fraction := float64(r.Delivered) / math.Max(1, float64(expected))
		r.DeliveredFraction = &fraction
		if *rate > 0 {
			r.LatencyFrom = "due time (open model), one clock for publisher and subscribers"
		}
		r.Note += "; connections: the subscribers' (the publisher has its own)"
	default:
		die(fmt.Errorf("unknown -mode %q: stream | subscribe | e2e | nats | redis", *mode))
	}
	close(stop)
	r.Errors = errCount.Load()
	if e := firstErr.Load(); e != nil {
		r.FirstError = *e
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		die(err)
	}
}

// peerPublishers runs the nats or redis publisher on each of -connections connections.
func peerPublishers(t0 int64, acks *sink) (publishOutcome, error) {
	var total publishOutcome
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, *connections)
	for c := 0; c < *connections; c++ {
		phase := 0.0
		if *rate > 0 {
			phase = float64(c) * 1e6 / *rate
		}
		p := newPacer(*inflight, *rate/float64(*connections), t0, phase, nil)
		subjectOf := func(i int64) string { return publisherSubject(c, i) }
		wg.Add(1)
		go func() {
			defer wg.Done()
			var o publishOutcome
			var err error
			if *mode == "nats" {
				o, err = natsPublisher(p, acks.recorder(), subjectOf)
			} else {
				o, err = redisPublisher(p, acks, subjectOf)
			}
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			total.sentInWindow += o.sentInWindow
			total.unacked += o.unacked
			total.unsent += o.unsent
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return total, err
	}
	return total, nil
}

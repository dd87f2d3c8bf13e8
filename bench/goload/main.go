// goload: a native load client, so that the figures are the servers' and not those of a Node client sharing the
// machine's two cores (a Node grpc-js client spends several times the server's CPU per message).
//
// -mode broker (default): one process publishes on PublishStream and holds the subscribers, so one monotonic clock
// times everything: the due time of each message is written in its first 8 bytes.
//
//	goload -addr 127.0.0.1:50051 -rate 5000 -subscribers 1 -seconds 10 -warmup 2   open model at -rate
//	goload -addr 127.0.0.1:50051 -rate 0 -inflight 64 -connections 2 -seconds 10    closed loop: the maximum rate
//
// -mode nats | redis: the peers, closed loop with the same connections, in-flight count and body (peers.go).
//
// It prints one JSON object: the publisher's acknowledgement latency and the deliveries' latency, from each
// message's due time (open model: no coordinated omission) or send time (closed loop), without the first -warmup
// seconds.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protowire"
)

// rawCodec sends and receives the messages as bytes encoded here with protowire: no generated code to keep in step
// with proto/broker.proto for four fields.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append((*(v.(*[]byte)))[:0], data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

var (
	mode        = flag.String("mode", "broker", "broker | nats (JetStream, acked async publish) | redis (XADD)")
	addr        = flag.String("addr", "127.0.0.1:50051", "server address, host:port")
	subject     = flag.String("subject", "bench.e2e", "subject")
	rate        = flag.Float64("rate", 1000, "messages per second (open model); 0 = closed loop with -inflight")
	inflight    = flag.Int("inflight", 256, "closed loop: unacknowledged messages per connection")
	connections = flag.Int("connections", 1, "publisher connections (closed loop); subscribers are spread over as many")
	subscribers = flag.Int("subscribers", 1, "live subscribers (from_id 0)")
	perConn     = flag.Int("streams-per-conn", 250, "subscriber streams per HTTP/2 connection")
	payload     = flag.Int("payload", 1024, "body bytes (at least 8)")
	seconds     = flag.Float64("seconds", 10, "publishing time")
	warmup      = flag.Float64("warmup", 2, "seconds left out of the percentiles (counted in rates)")
	drain       = flag.Float64("drain", 3, "seconds to wait for deliveries after publishing stops")
)

var start = time.Now()

func nowUs() int64 { return time.Since(start).Microseconds() }

func publishRequest(body []byte) []byte {
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	b = protowire.AppendString(b, *subject)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendBytes(b, body)
}

func subscribeRequest() []byte {
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	return protowire.AppendString(b, *subject)
}

// bodyOf returns field 1 (body) of a MessageResponse.
func bodyOf(msg []byte) []byte {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return nil
		}
		msg = msg[n:]
		if num == 1 && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(msg)
			return v
		}
		n = protowire.ConsumeFieldValue(num, typ, msg)
		if n < 0 {
			return nil
		}
		msg = msg[n:]
	}
	return nil
}

// recordFromUs: messages due before it are warm-up (counted, not in the histograms); set when publishing starts.
var recordFromUs atomic.Int64

// recorder is one goroutine's histogram (µs) and count; merged at the end.
type recorder struct {
	h     *hdrhistogram.Histogram
	count int64
}

func newRecorder() *recorder {
	return &recorder{h: hdrhistogram.New(1, 600_000_000, 3)}
}

func (r *recorder) record(dueUs int64) {
	r.count++
	if dueUs >= recordFromUs.Load() {
		_ = r.h.RecordValue(max(1, nowUs()-dueUs))
	}
}

type summary struct {
	Count     int64   `json:"count"`
	OpsPerSec float64 `json:"opsPerSec"`
	P50Ms     float64 `json:"p50Ms"`
	P90Ms     float64 `json:"p90Ms"`
	P99Ms     float64 `json:"p99Ms"`
	P999Ms    float64 `json:"p999Ms"`
	MaxMs     float64 `json:"maxMs"`
	Errors    int64   `json:"errors"`
}

func summarize(rs []*recorder, secs float64, errs int64) summary {
	h := hdrhistogram.New(1, 600_000_000, 3)
	var count int64
	for _, r := range rs {
		h.Merge(r.h)
		count += r.count
	}
	ms := func(q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1000 }
	return summary{Count: count, OpsPerSec: float64(count) / secs, P50Ms: ms(50), P90Ms: ms(90), P99Ms: ms(99), P999Ms: ms(99.9), MaxMs: float64(h.Max()) / 1000, Errors: errs}
}

func dial() *grpc.ClientConn {
	conn, err := grpc.NewClient(*addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{}), grpc.MaxCallRecvMsgSize(64<<20)),
		grpc.WithInitialWindowSize(1<<20), grpc.WithInitialConnWindowSize(16<<20))
	if err != nil {
		fail(err)
	}
	return conn
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "goload:", err)
	os.Exit(1)
}

var errorsSeen atomic.Int64

// subscribe opens the subscribers and returns their recorders once every stream has its headers (is registered).
func subscribe(ctx context.Context, wg *sync.WaitGroup) []*recorder {
	var conns []*grpc.ClientConn
	recs := make([]*recorder, *subscribers)
	ready := make(chan struct{}, *subscribers)
	for i := 0; i < *subscribers; i++ {
		if i%*perConn == 0 {
			conns = append(conns, dial())
		}
		conn := conns[len(conns)-1]
		rec := newRecorder()
		recs[i] = rec
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/broker.Broker/Subscribe")
			if err == nil {
				req := subscribeRequest()
				err = stream.SendMsg(&req)
			}
			if err == nil {
				err = stream.CloseSend()
			}
			if err == nil {
				_, err = stream.Header()
			}
			ready <- struct{}{}
			if err != nil {
				errorsSeen.Add(1)
				return
			}
			var msg []byte
			for {
				if err := stream.RecvMsg(&msg); err != nil {
					if ctx.Err() == nil && !errors.Is(err, io.EOF) {
						errorsSeen.Add(1)
					}
					return
				}
				if body := bodyOf(msg); len(body) >= 8 {
					rec.record(int64(binary.BigEndian.Uint64(body)))
				}
			}
		}()
	}
	for i := 0; i < *subscribers; i++ {
		<-ready
	}
	return recs
}

// publish runs one PublishStream: open model at rate (message i due at start + i/rate), or closed with a window.
func publish(conn *grpc.ClientConn, rate float64, window int, endUs int64, rec *recorder) {
	stream, err := conn.NewStream(context.Background(), &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, "/broker.Broker/PublishStream")
	if err != nil {
		fail(err)
	}
	dues := make(chan int64, 1<<20)
	slots := make(chan struct{}, window)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ack []byte
		for {
			if err := stream.RecvMsg(&ack); err != nil {
				if !errors.Is(err, io.EOF) {
					errorsSeen.Add(1)
				}
				return
			}
			rec.record(<-dues)
			if window > 0 {
				<-slots
			}
		}
	}()
	body := make([]byte, max(8, *payload))
	send := func(due int64) {
		binary.BigEndian.PutUint64(body, uint64(due))
		req := publishRequest(body)
		dues <- due
		if err := stream.SendMsg(&req); err != nil {
			fail(err)
		}
	}
	startUs := nowUs()
	if rate > 0 {
		for i := int64(0); ; i++ {
			due := startUs + int64(float64(i)*1e6/rate)
			if due >= endUs {
				break
			}
			if wait := time.Duration(due-nowUs()) * time.Microsecond; wait > 0 {
				time.Sleep(wait)
			}
			send(due)
		}
	} else {
		for nowUs() < endUs {
			slots <- struct{}{}
			send(nowUs())
		}
	}
	_ = stream.CloseSend()
	<-done
}

func main() {
	flag.Parse()
	ctx, cancel := context.WithCancel(context.Background())
	var subs sync.WaitGroup
	// Subscribers first; the publisher's first message is due when it starts, and warm-up counts from there.
	recs := subscribe(ctx, &subs)
	pubStart := nowUs()
	recordFromUs.Store(pubStart + int64(*warmup*1e6))
	endUs := pubStart + int64(*seconds*1e6)
	pubRecs := make([]*recorder, 0, *connections)
	var pubs sync.WaitGroup
	switch {
	case *mode == "nats":
		pubRecs = runNats(endUs)
	case *mode == "redis":
		pubRecs = runRedis(endUs)
	case *rate > 0:
		rec := newRecorder()
		pubRecs = append(pubRecs, rec)
		pubs.Add(1)
		go func() { defer pubs.Done(); publish(dial(), *rate, 0, endUs, rec) }()
	default:
		for c := 0; c < *connections; c++ {
			rec := newRecorder()
			pubRecs = append(pubRecs, rec)
			pubs.Add(1)
			go func() { defer pubs.Done(); publish(dial(), 0, *inflight, endUs, rec) }()
		}
	}
	stop := make(chan struct{})
	go func() { // progress once a second, on stderr
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				fmt.Fprintf(os.Stderr, "goload: %.0f s\n", float64(nowUs()-pubStart)/1e6)
			}
		}
	}()
	pubs.Wait()
	pubSecs := float64(nowUs()-pubStart) / 1e6
	if *subscribers > 0 {
		time.Sleep(time.Duration(*drain * float64(time.Second)))
	}
	close(stop)
	cancel()
	subs.Wait()
	pub := summarize(pubRecs, pubSecs, 0)
	out := map[string]any{
		"publisher":  pub,
		"deliveries": summarize(recs, pubSecs, errorsSeen.Load()),
		"expected":   pub.Count * int64(*subscribers),
		"seconds":    pubSecs,
		"warmup":     *warmup,
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
}

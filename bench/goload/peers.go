package main

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/rueidis"
)

// The peers, driven the way the broker is: closed loop, -inflight unacknowledged per connection, -connections
// connections, the same body. Latency is from send to acknowledgement.

// runNats publishes to a JetStream file-store stream with acked async publishes, at most -inflight pending per
// connection.
func runNats(endUs int64) []*recorder {
	recs := make([]*recorder, *connections)
	var wg sync.WaitGroup
	for c := 0; c < *connections; c++ {
		nc, err := nats.Connect("nats://" + *addr)
		if err != nil {
			fail(err)
		}
		js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(*inflight))
		if err != nil {
			fail(err)
		}
		if c == 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "BENCH", Subjects: []string{"bench.>"}, Storage: jetstream.FileStorage})
			cancel()
			if err != nil {
				fail(err)
			}
		}
		rec := newRecorder()
		recs[c] = rec
		type pending struct {
			sentUs int64
			ack    jetstream.PubAckFuture
		}
		futures := make(chan pending, *inflight)
		wg.Add(2)
		go func() { // acks, in publish order
			defer wg.Done()
			for p := range futures {
				select {
				case <-p.ack.Ok():
					rec.record(p.sentUs)
				case <-p.ack.Err():
					errorsSeen.Add(1)
				}
			}
			nc.Close()
		}()
		go func() {
			defer wg.Done()
			body := make([]byte, max(8, *payload))
			for nowUs() < endUs {
				sent := nowUs()
				f, err := js.PublishAsync(*subject, body)
				if err != nil {
					errorsSeen.Add(1)
					continue
				}
				futures <- pending{sent, f}
			}
			close(futures)
		}()
	}
	wg.Wait()
	return recs
}

// runRedis appends with XADD through rueidis, which pipelines concurrent commands on one connection (as ioredis
// does): -inflight goroutines per connection.
func runRedis(endUs int64) []*recorder {
	var recs []*recorder
	var wg sync.WaitGroup
	for c := 0; c < *connections; c++ {
		client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{*addr}, DisableCache: true})
		if err != nil {
			fail(err)
		}
		var conn sync.WaitGroup
		for i := 0; i < *inflight; i++ {
			rec := newRecorder()
			recs = append(recs, rec)
			wg.Add(1)
			conn.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Done()
				body := string(make([]byte, max(8, *payload)))
				ctx := context.Background()
				for nowUs() < endUs {
					sent := nowUs()
					cmd := client.B().Xadd().Key(*subject).Id("*").FieldValue().FieldValue("body", body).Build()
					if err := client.Do(ctx, cmd).Error(); err != nil {
						errorsSeen.Add(1)
						continue
					}
					rec.record(sent)
				}
			}()
		}
		go func() {
			conn.Wait()
			client.Close()
		}()
	}
	wg.Wait()
	return recs
}

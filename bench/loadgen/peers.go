package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/rueidis"
)

// The peers, driven the way the broker is: -connections connections, at most -inflight unacknowledged on each (or
// the open model at -rate), the same body with the timestamp in its first 8 bytes, latency to the acknowledgement.

// natsStream creates (or updates) the JetStream stream the benchmark publishes into: file storage, -subject and
// everything under it, -nats-replicas copies (acked once a majority of them has it).
func natsStream() error {
	nc, err := nats.Connect("nats://" + *addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: *natsStreamName, Subjects: []string{*subject, *subject + ".>"}, Storage: jetstream.FileStorage, Replicas: *natsReplicas})
	return err
}

// natsPublisher publishes with js.PublishAsync on its own connection; PublishAsyncMaxPending is the window too.
// The futures are awaited in publish order by one goroutine, which gives the window's slots back.
func natsPublisher(p *pacer, rec *recorder, subjectOf func(i int64) string) (publishOutcome, error) {
	var out publishOutcome
	nc, err := nats.Connect("nats://" + *addr)
	if err != nil {
		return out, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(cap(p.slots)))
	if err != nil {
		return out, err
	}
	type pending struct {
		start int64
		ack   jetstream.PubAckFuture
	}
	futures := make(chan pending, cap(p.slots))
	acked := make(chan struct{})
	go func() {
		defer close(acked)
		defer rec.flush()
		timeout := time.NewTimer(time.Until(deadline()))
		defer timeout.Stop()
		for f := range futures {
			select {
			case <-f.ack.Ok():
				rec.done(f.start)
			case err := <-f.ack.Err():
				fault(fmt.Errorf("JetStream publish: %w", err))
			case <-timeout.C:
				out.unacked = int64(len(futures)) + 1
				return
			}
			p.release()
		}
	}()
	p.stop = acked
	for i := int64(0); ; i++ {
		start, ok := p.next(i)
		if !ok {
			break
		}
		f, err := js.PublishAsync(subjectOf(i), stampedBody(start))
		if err != nil {
			fault(fmt.Errorf("JetStream PublishAsync: %w", err))
			p.release()
			continue
		}
		if inWindow(start) {
			out.sentInWindow++
		}
		futures <- pending{start, f}
	}
	close(futures)
	<-acked
	out.unsent = p.unsent
	return out, nil
}

// redisPublisher appends with XADD through rueidis on one TCP connection (PipelineMultiplex -1; its default opens
// 2-4 per client): -inflight goroutines each send one command at a time and rueidis pipelines what they have
// outstanding on that connection, as ioredis does. The pacer hands the messages (and their start times) out.
func redisPublisher(p *pacer, s *sink, subjectOf func(i int64) string) (publishOutcome, error) {
	var out publishOutcome
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{*addr}, DisableCache: true, PipelineMultiplex: -1})
	if err != nil {
		return out, err
	}
	defer client.Close()
	type job struct {
		i     int64
		start int64
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	for w := 0; w < cap(p.slots); w++ {
		rec := s.recorder()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer rec.flush()
			ctx := context.Background()
			for j := range jobs {
				body := rueidis.BinaryString(stampedBody(j.start))
				cmd := client.B().Xadd().Key(subjectOf(j.i)).Id("*").FieldValue().FieldValue("body", body).Build()
				if err := client.Do(ctx, cmd).Error(); err != nil {
					fault(fmt.Errorf("XADD: %w", err))
				} else {
					rec.done(j.start)
				}
				p.release()
			}
		}()
	}
	for i := int64(0); ; i++ {
		start, ok := p.next(i)
		if !ok {
			break
		}
		if inWindow(start) {
			out.sentInWindow++
		}
		jobs <- job{i, start}
	}
	close(jobs)
	wg.Wait()
	out.unsent = p.unsent
	return out, nil
}

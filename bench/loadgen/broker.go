package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// publishOutcome: what one PublishStream left over.
type publishOutcome struct {
	sentInWindow int64 // messages started in the window (the e2e mode's expected deliveries per subscriber)
	unacked      int64 // sent but not acknowledged before the drain ended
	unsent       int64 // open model: due in the window but not sent by its end
}

var publishStreamDesc = grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

// publishStream runs one PublishStream on its own connection. Acks come in request order, so a FIFO of start
// times pairs each with its request.
func publishStream(conn *grpc.ClientConn, p *pacer, rec *recorder, subjectOf func(i int64) string) publishOutcome {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out publishOutcome
	stream, err := conn.NewStream(ctx, &publishStreamDesc, "/broker.Broker/PublishStream")
	if err != nil {
		fault(err)
		return out
	}
	starts := make(chan int64, cap(p.slots))
	received := make(chan struct{})
	go func() {
		defer close(received)
		defer rec.flush()
		var ack []byte
		for {
			if err := stream.RecvMsg(&ack); err != nil {
				if !errors.Is(err, io.EOF) && ctx.Err() == nil {
					fault(fmt.Errorf("PublishStream: %w", err))
				}
				return
			}
			if _, ok := ackID(ack); !ok {
				fault(errors.New("PublishStream: unparsable PublishResponse"))
			}
			rec.done(<-starts)
			p.release()
		}
	}()
	stop := make(chan struct{})
	go func() { // a broken stream ends the sending too
		<-received
		close(stop)
	}()
	p.stop = stop
	templates := publishTemplates{}
	for i := int64(0); ; i++ {
		start, ok := p.next(i)
		if !ok {
			break
		}
		req := templates.of(subjectOf(i)).message(start)
		starts <- start
		if inWindow(start) {
			out.sentInWindow++
		}
		if err := stream.SendMsg(&req); err != nil {
			// The stream's own error comes from RecvMsg; io.EOF here only says it ended.
			if !errors.Is(err, io.EOF) {
				fault(fmt.Errorf("PublishStream send: %w", err))
			}
			break
		}
	}
	_ = stream.CloseSend()
	select {
	case <-received:
	case <-time.After(time.Until(deadline())):
		cancel()
		<-received
	}
	out.unacked = int64(len(starts))
	out.unsent = p.unsent
	return out
}

// publishUnary runs `window` closed loops of unary Publish calls on one connection (so `window` calls in flight on
// it), each loop with a recorder of its own; -rate does not apply.
func publishUnary(conn *grpc.ClientConn, window int, s *sink, subjectOf func(i int64) string) publishOutcome {
	var out publishOutcome
	var mu sync.Mutex
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < window; w++ {
		rec := s.recorder()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer rec.flush()
			templates := publishTemplates{}
			var ack []byte
			for {
				i := next.Add(1) - 1
				start := nowUs()
				if start >= endUs.Load() {
					return
				}
				req := templates.of(subjectOf(i)).message(start)
				ctx, cancel := context.WithDeadline(context.Background(), deadline())
				err := conn.Invoke(ctx, "/broker.Broker/Publish", &req, &ack)
				cancel()
				mu.Lock()
				if inWindow(start) {
					out.sentInWindow++
					if err != nil {
						out.unacked++
					}
				}
				mu.Unlock()
				if err != nil {
					fault(fmt.Errorf("Publish: %w", err))
					return
				}
				rec.done(start)
			}
		}()
	}
	wg.Wait()
	return out
}

// deadline: when waiting for acks and deliveries stops, -drain seconds after the window's end.
func deadline() time.Time {
	return baseAt.Add(time.Duration(endUs.Load()-baseUs)*time.Microsecond + time.Duration(*drain*float64(time.Second)))
}

// publishers runs -connections PublishStreams (one grpc.ClientConn each), the total -rate split evenly with the
// connections' schedules interleaved.
func publishers(conns int, window int, rate float64, t0 int64, s *sink, subjectOf func(c int, i int64) string) (publishOutcome, error) {
	var total publishOutcome
	var mu sync.Mutex
	var wg sync.WaitGroup
	clients := make([]*grpc.ClientConn, conns)
	for c := range clients {
		conn, err := dial()
		if err != nil {
			return total, err
		}
		clients[c] = conn
	}
	for c, conn := range clients {
		perConn := rate / float64(conns)
		phase := 0.0
		if rate > 0 {
			phase = float64(c) * 1e6 / rate
		}
		p := newPacer(window, perConn, t0, phase, nil)
		rec := s.recorder()
		wg.Add(1)
		go func() {
			defer wg.Done()
			subject := func(i int64) string { return subjectOf(c, i) }
			var o publishOutcome
			if *mode == "unary" {
				o = publishUnary(conn, window, s, subject)
			} else {
				o = publishStream(conn, p, rec, subject)
			}
			mu.Lock()
			total.sentInWindow += o.sentInWindow
			total.unacked += o.unacked
			total.unsent += o.unsent
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, conn := range clients {
		_ = conn.Close()
	}
	return total, nil
}

var subscribeDesc = grpc.StreamDesc{ServerStreams: true}

// subscribers opens n live Subscribe streams (from_id 0) spread evenly over conns connections and returns once
// every stream has its response headers (the broker sends them once the subscription is registered). Each
// delivery's latency is now minus the timestamp in the first 8 bytes of its body. cancel ends them; wg waits.
func subscribers(ctx context.Context, n, conns int, s *sink, subjectOf func(i int) string, wg *sync.WaitGroup) error {
	clients := make([]*grpc.ClientConn, min(n, conns))
	for c := range clients {
		conn, err := dial()
		if err != nil {
			return err
		}
		clients[c] = conn
	}
	var opened atomic.Int64
	ready := make(chan error, n)
	for i := 0; i < n; i++ {
		conn := clients[i%len(clients)]
		rec := s.recorder()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer rec.flush()
			stream, err := conn.NewStream(ctx, &subscribeDesc, "/broker.Broker/Subscribe")
			if err == nil {
				req := subscribeRequest(subjectOf(i), 0)
				err = stream.SendMsg(&req)
			}
			if err == nil {
				err = stream.CloseSend()
			}
			if err == nil {
				_, err = stream.Header()
			}
			ready <- err
			if err != nil {
				return
			}
			opened.Add(1)
			var msg []byte
			for {
				if err := stream.RecvMsg(&msg); err != nil {
					if ctx.Err() == nil && !errors.Is(err, io.EOF) && status.Code(err) != codes.Canceled {
						fault(fmt.Errorf("Subscribe: %w", err))
					}
					return
				}
				body, ok := bodyOf(msg)
				if !ok {
					fault(errors.New("Subscribe: unparsable MessageResponse"))
					continue
				}
				if ts, ok := timestampOf(body); ok {
					rec.done(ts)
				} else {
					rec.doneUntimed()
				}
			}
		}()
	}
	var firstFailure error
	timeout := time.After(60 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case err := <-ready:
			if err != nil {
				fault(fmt.Errorf("Subscribe: %w", err))
				if firstFailure == nil {
					firstFailure = err
				}
			}
		case <-timeout:
			return fmt.Errorf("only %d of %d Subscribe streams opened in 60 s", opened.Load(), n)
		}
	}
	go func() {
		<-ctx.Done()
		for _, c := range clients {
			_ = c.Close()
		}
	}()
	if firstFailure != nil {
		return fmt.Errorf("%d of %d Subscribe streams failed to open, first: %w", int64(n)-opened.Load(), n, firstFailure)
	}
	return nil
}

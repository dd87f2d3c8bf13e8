package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protowire"
)

// rawCodec passes messages as bytes, encoded and decoded here with protowire: no generated code to keep in step
// with proto/broker.proto for the few fields used. Named "proto" so the content type is application/grpc+proto.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

func dial() (*grpc.ClientConn, error) {
	transport, err := transportCredentials()
	if err != nil {
		return nil, err
	}
	options := []grpc.DialOption{
		grpc.WithTransportCredentials(transport),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{}), grpc.MaxCallRecvMsgSize(64<<20)),
		// Large receive windows, so that a subscriber's HTTP/2 flow control is not what limits deliveries.
		grpc.WithInitialWindowSize(1 << 20), grpc.WithInitialConnWindowSize(16 << 20),
	}
	if *token != "" {
		options = append(options, grpc.WithPerRPCCredentials(bearer(*token)))
	}
	return grpc.NewClient(*addr, options...)
}

// transportCredentials: plaintext, or TLS checking the broker's certificate with -tls-ca (and the host of -addr
// against its SAN), presenting -cert/-key when given (a broker with BROKER_TLS_CLIENT_CA).
func transportCredentials() (credentials.TransportCredentials, error) {
	if *tlsCa == "" {
		if *cert != "" || *key != "" {
			return nil, fmt.Errorf("-cert and -key need -tls-ca")
		}
		return insecure.NewCredentials(), nil
	}
	pem, err := os.ReadFile(*tlsCa)
	if err != nil {
		return nil, fmt.Errorf("-tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-tls-ca %s: no PEM certificate in it", *tlsCa)
	}
	config := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if *cert != "" || *key != "" {
		pair, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			return nil, fmt.Errorf("-cert/-key: %w", err)
		}
		config.Certificates = []tls.Certificate{pair}
	}
	return credentials.NewTLS(config), nil
}

// bearer sends -token as `authorization: Bearer <token>` on every call (a broker with BROKER_AUTH_FILE).
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity is false so a token can be measured over plaintext too (tests on loopback).
func (bearer) RequireTransportSecurity() bool { return false }

func bodySize() int { return max(8, *payload) }

// publishTemplate is a PublishRequest{1 subject, 2 body, 3 expirationSeconds = 0 (omitted)} whose body is
// -payload bytes of 1; the first 8 body bytes, at stampAt, take each message's timestamp.
type publishTemplate struct {
	bytes   []byte
	stampAt int
}

func newPublishTemplate(subject string) publishTemplate {
	body := make([]byte, bodySize())
	for i := range body {
		body[i] = 1
	}
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	b = protowire.AppendString(b, subject)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, body)
	return publishTemplate{bytes: b, stampAt: len(b) - len(body)}
}

// message returns a fresh copy (grpc-go may still hold the previous one after SendMsg returns) stamped with atUs.
func (t publishTemplate) message(atUs int64) []byte {
	m := append([]byte(nil), t.bytes...)
	binary.BigEndian.PutUint64(m[t.stampAt:], uint64(atUs))
	return m
}

// publishTemplates holds one publishTemplate per subject, made on first use (one map per sending goroutine).
type publishTemplates map[string]publishTemplate

func (ts publishTemplates) of(subject string) publishTemplate {
	t, ok := ts[subject]
	if !ok {
		t = newPublishTemplate(subject)
		ts[subject] = t
	}
	return t
}

// stampedBody is a body for the peers: -payload bytes of 1 with the timestamp in the first 8.
func stampedBody(atUs int64) []byte {
	body := make([]byte, bodySize())
	for i := 8; i < len(body); i++ {
		body[i] = 1
	}
	binary.BigEndian.PutUint64(body, uint64(atUs))
	return body
}

// SubscribeRequest{1 subject, 2 from_id}.
func subscribeRequest(subject string, fromID int64) []byte {
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	b = protowire.AppendString(b, subject)
	if fromID != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(fromID))
	}
	return b
}

// bodyOf returns field 1 (body) of a MessageResponse{1 body, 2 id, 3 subject, 4 published_at_ms,
// 5 expiration_seconds}; ok is false when the message does not parse.
func bodyOf(msg []byte) (body []byte, ok bool) {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return nil, false
		}
		msg = msg[n:]
		if num == 1 && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(msg)
			return v, m >= 0
		}
		n = protowire.ConsumeFieldValue(num, typ, msg)
		if n < 0 {
			return nil, false
		}
		msg = msg[n:]
	}
	return nil, true
}

// ackID returns field 1 (id) of a PublishResponse.
func ackID(msg []byte) (int64, bool) {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return 0, false
		}
		msg = msg[n:]
		if num == 1 && typ == protowire.VarintType {
			v, m := protowire.ConsumeVarint(msg)
			return int64(v), m >= 0
		}
		n = protowire.ConsumeFieldValue(num, typ, msg)
		if n < 0 {
			return 0, false
		}
		msg = msg[n:]
	}
	return 0, true // id 0 is the default, left out on the wire
}

func timestampOf(body []byte) (int64, bool) {
	if len(body) < 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(body)), true
}

// pacer hands out one connection's messages: at most -inflight unacknowledged (a window; the receiver gives slots
// back in order), and in the open model (rate > 0) message i is due at t0 + phase + i/rate whatever happened to the
// earlier ones, and its latency counts from that due time, so a stall is not hidden (no coordinated omission).
type pacer struct {
	slots   chan struct{}
	rate    float64
	t0      int64
	phaseUs float64
	stop    <-chan struct{}
	// Open model: messages due in the window that could not be sent before its end (the window stayed full).
	unsent int64
}

func newPacer(window int, rate float64, t0 int64, phaseUs float64, stop <-chan struct{}) *pacer {
	return &pacer{slots: make(chan struct{}, window), rate: rate, t0: t0, phaseUs: phaseUs, stop: stop}
}

// next blocks until message i may be sent and returns its start time (due time, or now in the closed loop);
// ok is false once the run is over (the window's end has passed, or stop is closed).
func (p *pacer) next(i int64) (start int64, ok bool) {
	end := endUs.Load()
	if p.rate > 0 {
		due := p.t0 + int64(p.phaseUs+float64(i)*1e6/p.rate)
		if due >= end {
			return 0, false
		}
		select {
		case p.slots <- struct{}{}:
		case <-p.stop:
			return 0, false
		}
		now := nowUs()
		if now >= end {
			// Messages i and after, due before the end but not sent by then: counted, so an overload shows.
			<-p.slots
			p.unsent = int64(math.Ceil((float64(end-p.t0)-p.phaseUs)*p.rate/1e6)) - i
			return 0, false
		}
		if wait := due - now; wait > 0 {
			time.Sleep(time.Duration(wait) * time.Microsecond)
		}
		return due, true
	}
	select {
	case p.slots <- struct{}{}:
	case <-p.stop:
		return 0, false
	}
	now := nowUs()
	if now >= end {
		<-p.slots
		return 0, false
	}
	return now, true
}

// release gives back the slot of the oldest unacknowledged message.
func (p *pacer) release() { <-p.slots }

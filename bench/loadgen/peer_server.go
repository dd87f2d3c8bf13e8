package main

// serve-peer: a Go peer serving the same broker.proto (package broker, service broker.Broker: Publish, PublishStream,
// PublishBatch, Fetch, Subscribe) from an in-memory store with no durability, so that the bench can put the broker
// beside a server whose gRPC stack is native and whose store costs next to nothing (issue 14: "unary Publish >= 1.0x
// the Go peer"). Ids per subject start at 1 and are dense, as /work/shared/contract.md pins; validation is limited to
// what a load generator can send wrong. Prints "peer listening <port>" on stdout once it serves.

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
)

type peerMessage struct {
	body        []byte
	publishedMs int64
	expiration  int32
}

// peerSubject is one subject's log: messages[i] has id i+1; `grown` is closed and replaced on every append, so
// that live subscribers wait on it without polling.
type peerSubject struct {
	mu       sync.Mutex
	messages []peerMessage
	grown    chan struct{}
}

type peerStore struct {
	mu       sync.Mutex
	subjects map[string]*peerSubject
}

func (s *peerStore) subject(name string) *peerSubject {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, ok := s.subjects[name]
	if !ok {
		sub = &peerSubject{grown: make(chan struct{})}
		s.subjects[name] = sub
	}
	return sub
}

// publishFields decodes PublishRequest{1 subject, 2 body, 3 expirationSeconds}.
func publishFields(msg []byte) (subject string, body []byte, expiration int32, err error) {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return "", nil, 0, status.Error(codes.InvalidArgument, "malformed PublishRequest")
		}
		msg = msg[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, m := protowire.ConsumeString(msg)
			subject, n = v, m
		case num == 2 && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(msg)
			body, n = append([]byte(nil), v...), m
		case num == 3 && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(msg)
			expiration, n = int32(v), m
		default:
			n = protowire.ConsumeFieldValue(num, typ, msg)
		}
		if n < 0 {
			return "", nil, 0, status.Error(codes.InvalidArgument, "malformed PublishRequest")
		}
		msg = msg[n:]
	}
	if subject == "" || expiration < 0 {
		return "", nil, 0, status.Error(codes.InvalidArgument, "empty subject or negative expirationSeconds")
	}
	return subject, body, expiration, nil
}

// subjectAndID decodes the {1 subject, 2 id} of FetchRequest and SubscribeRequest.
func subjectAndID(msg []byte) (subject string, id int64, err error) {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return "", 0, status.Error(codes.InvalidArgument, "malformed request")
		}
		msg = msg[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, m := protowire.ConsumeString(msg)
			subject, n = v, m
		case num == 2 && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(msg)
			id, n = int64(v), m
		default:
			n = protowire.ConsumeFieldValue(num, typ, msg)
		}
		if n < 0 {
			return "", 0, status.Error(codes.InvalidArgument, "malformed request")
		}
		msg = msg[n:]
	}
	return subject, id, nil
}

func (s *peerStore) append(request []byte) (int64, error) {
	subject, body, expiration, err := publishFields(request)
	if err != nil {
		return 0, err
	}
	sub := s.subject(subject)
	sub.mu.Lock()
	sub.messages = append(sub.messages, peerMessage{body: body, publishedMs: time.Now().UnixMilli(), expiration: expiration})
	id := int64(len(sub.messages))
	close(sub.grown)
	sub.grown = make(chan struct{})
	sub.mu.Unlock()
	return id, nil
}

func idResponse(id int64) []byte {
	b := protowire.AppendTag(nil, 1, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(id))
}

func messageResponse(subject string, id int64, m peerMessage) []byte {
	b := protowire.AppendTag(make([]byte, 0, len(m.body)+len(subject)+32), 1, protowire.BytesType)
	b = protowire.AppendBytes(b, m.body)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(id))
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendString(b, subject)
	b = protowire.AppendTag(b, 4, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(m.publishedMs))
	if m.expiration != 0 {
		b = protowire.AppendTag(b, 5, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(m.expiration))
	}
	return b
}

func (s *peerStore) publish(dec func(any) error) ([]byte, error) {
	var req []byte
	if err := dec(&req); err != nil {
		return nil, err
	}
	id, err := s.append(req)
	if err != nil {
		return nil, err
	}
	return idResponse(id), nil
}

// publishBatch: PublishBatchRequest{repeated PublishRequest messages = 1} -> PublishBatchResponse{packed ids = 1}.
func (s *peerStore) publishBatch(dec func(any) error) ([]byte, error) {
	var req []byte
	if err := dec(&req); err != nil {
		return nil, err
	}
	var ids []byte
	for len(req) > 0 {
		num, typ, n := protowire.ConsumeTag(req)
		if n < 0 || num != 1 || typ != protowire.BytesType {
			return nil, status.Error(codes.InvalidArgument, "malformed PublishBatchRequest")
		}
		msg, m := protowire.ConsumeBytes(req[n:])
		if m < 0 {
			return nil, status.Error(codes.InvalidArgument, "malformed PublishBatchRequest")
		}
		req = req[n+m:]
		id, err := s.append(msg)
		if err != nil {
			return nil, err
		}
		ids = protowire.AppendVarint(ids, uint64(id))
	}
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	return protowire.AppendBytes(b, ids), nil
}

func (s *peerStore) fetch(dec func(any) error) ([]byte, error) {
	var req []byte
	if err := dec(&req); err != nil {
		return nil, err
	}
	subject, id, err := subjectAndID(req)
	if err != nil {
		return nil, err
	}
	sub := s.subject(subject)
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if id < 1 || id > int64(len(sub.messages)) {
		return nil, status.Errorf(codes.InvalidArgument, "INVALID_ID: %s has no id %d", subject, id)
	}
	return messageResponse(subject, id, sub.messages[id-1]), nil
}

func (s *peerStore) publishStream(stream grpc.ServerStream) error {
	for {
		var req []byte
		if err := stream.RecvMsg(&req); err != nil {
			return nil // the client closed its side (io.EOF) or went away
		}
		id, err := s.append(req)
		if err != nil {
			return err
		}
		ack := idResponse(id)
		if err := stream.SendMsg(&ack); err != nil {
			return err
		}
	}
}

func (s *peerStore) subscribe(stream grpc.ServerStream) error {
	var req []byte
	if err := stream.RecvMsg(&req); err != nil {
		return err
	}
	subject, from, err := subjectAndID(req)
	if err != nil {
		return err
	}
	sub := s.subject(subject)
	sub.mu.Lock()
	next := from
	if from == 0 {
		next = int64(len(sub.messages)) + 1
	} else if from > int64(len(sub.messages))+1 {
		sub.mu.Unlock()
		return status.Errorf(codes.InvalidArgument, "INVALID_ID: from_id %d is past the last id + 1", from)
	}
	sub.mu.Unlock()
	// Headers now, as the broker sends them once the subscription is open (clients wait for them to publish).
	if err := stream.SendHeader(nil); err != nil {
		return err
	}
	for {
		sub.mu.Lock()
		pending := sub.messages[next-1:]
		grown := sub.grown
		sub.mu.Unlock()
		for _, m := range pending {
			out := messageResponse(subject, next, m)
			if err := stream.SendMsg(&out); err != nil {
				return err
			}
			next++
		}
		if len(pending) == 0 {
			select {
			case <-grown:
			case <-stream.Context().Done():
				return nil
			}
		}
	}
}

func peerServiceDesc(s *peerStore) grpc.ServiceDesc {
	unary := func(call func(dec func(any) error) ([]byte, error)) grpc.MethodHandler {
		return func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			out, err := call(dec)
			if err != nil {
				return nil, err
			}
			return &out, nil
		}
	}
	return grpc.ServiceDesc{
		ServiceName: "broker.Broker",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: "Publish", Handler: unary(s.publish)},
			{MethodName: "PublishBatch", Handler: unary(s.publishBatch)},
			{MethodName: "Fetch", Handler: unary(s.fetch)},
		},
		Streams: []grpc.StreamDesc{
			{StreamName: "PublishStream", Handler: func(_ any, st grpc.ServerStream) error { return s.publishStream(st) }, ServerStreams: true, ClientStreams: true},
			{StreamName: "Subscribe", Handler: func(_ any, st grpc.ServerStream) error { return s.subscribe(st) }, ServerStreams: true},
		},
	}
}

// servePeer serves on 127.0.0.1 at -addr's port (0: any) until the process is killed.
func servePeer() {
	_, port, err := net.SplitHostPort(*addr)
	if err != nil {
		die(fmt.Errorf("-addr: %w", err))
	}
	lis, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		die(err)
	}
	store := &peerStore{subjects: map[string]*peerSubject{}}
	server := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.MaxRecvMsgSize(64<<20))
	desc := peerServiceDesc(store)
	server.RegisterService(&desc, store)
	fmt.Fprintf(os.Stdout, "peer listening %d\n", lis.Addr().(*net.TCPAddr).Port)
	if err := server.Serve(lis); err != nil {
		die(err)
	}
}

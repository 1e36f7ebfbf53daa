package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/h2rpc/h2rpc/server"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The bench.Bench service, served with the same method names and the same
// handler bodies by both runtimes. Messages are wrapperspb.BytesValue so no
// generated code is needed; the two descriptors below are written by hand.
const (
	methodUnary        = "/bench.Bench/Unary"
	methodPingPong     = "/bench.Bench/PingPong"
	methodServerStream = "/bench.Bench/ServerStream"
	methodClientStream = "/bench.Bench/ClientStream"
)

// msgStream is what the handlers need from a server stream; grpc.ServerStream
// and server.Stream both satisfy it.
type msgStream interface {
	SendMsg(m any) error
	RecvMsg(m any) error
}

// benchService is the implementation registered on both servers. It has no
// state: every handler works on its own stream.
type benchService struct{}

// benchHandler is the HandlerType both registries check the implementation
// against.
type benchHandler interface{ bench() }

func (benchService) bench() {}

// unary echoes the request.
func (benchService) unary(req *wrapperspb.BytesValue) *wrapperspb.BytesValue {
	return wrapperspb.Bytes(req.Value)
}

// pingPong echoes every message until the client half-closes.
func (benchService) pingPong(st msgStream) error {
	m := new(wrapperspb.BytesValue)
	for {
		if err := st.RecvMsg(m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := st.SendMsg(m); err != nil {
			return err
		}
	}
}

// serverStream reads one request naming a count and a size
// (streamRequest) and sends that many messages of that size.
func (benchService) serverStream(st msgStream) error {
	req := new(wrapperspb.BytesValue)
	if err := st.RecvMsg(req); err != nil {
		return err
	}
	count, size, err := parseStreamRequest(req.Value)
	if err != nil {
		return err
	}
	out := wrapperspb.Bytes(make([]byte, size))
	for range count {
		if err := st.SendMsg(out); err != nil {
			return err
		}
	}
	return nil
}

// clientStream counts the messages and bytes it receives until the client
// half-closes, and answers with the two counts (8 bytes each).
func (benchService) clientStream(st msgStream) error {
	m := new(wrapperspb.BytesValue)
	var msgs, bytes uint64
	for {
		err := st.RecvMsg(m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		msgs++
		bytes += uint64(len(m.Value))
	}
	return st.SendMsg(wrapperspb.Bytes(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, msgs), bytes)))
}

// streamRequest encodes the server-streaming request: count then size.
func streamRequest(count, size int) *wrapperspb.BytesValue {
	b := binary.BigEndian.AppendUint64(nil, uint64(count))
	return wrapperspb.Bytes(binary.BigEndian.AppendUint64(b, uint64(size)))
}

func parseStreamRequest(b []byte) (count, size int, err error) {
	if len(b) != 16 {
		return 0, 0, fmt.Errorf("bench: server-stream request has %d bytes, want 16", len(b))
	}
	c, s := binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])
	if c > 1<<20 || s > 64<<20 {
		return 0, 0, fmt.Errorf("bench: server-stream request for %d messages of %d bytes is out of range", c, s)
	}
	return int(c), int(s), nil
}

// h2rpcDesc registers benchService on an h2rpc server.
var h2rpcDesc = server.ServiceDesc{
	ServiceName: "bench.Bench",
	HandlerType: (*benchHandler)(nil),
	Methods: []server.MethodDesc{{
		MethodName: "Unary",
		Handler: func(srv any, ctx context.Context, dec func(any) error, in server.UnaryInterceptor) (any, error) {
			req := new(wrapperspb.BytesValue)
			if err := dec(req); err != nil {
				return nil, err
			}
			if in == nil {
				return srv.(benchService).unary(req), nil
			}
			return in(ctx, req, &server.UnaryInfo{Server: srv, FullMethod: methodUnary}, func(_ context.Context, r any) (any, error) {
				return srv.(benchService).unary(r.(*wrapperspb.BytesValue)), nil
			})
		},
	}},
	Streams: []server.StreamDesc{
		{StreamName: "PingPong", ServerStreams: true, ClientStreams: true,
			Handler: func(srv any, st server.Stream) error { return srv.(benchService).pingPong(st) }},
		{StreamName: "ServerStream", ServerStreams: true,
			Handler: func(srv any, st server.Stream) error { return srv.(benchService).serverStream(st) }},
		{StreamName: "ClientStream", ClientStreams: true,
			Handler: func(srv any, st server.Stream) error { return srv.(benchService).clientStream(st) }},
	},
}

// grpcDesc registers benchService on a grpc-go server.
var grpcDesc = grpc.ServiceDesc{
	ServiceName: "bench.Bench",
	HandlerType: (*benchHandler)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Unary",
		Handler: func(srv any, ctx context.Context, dec func(any) error, in grpc.UnaryServerInterceptor) (any, error) {
			req := new(wrapperspb.BytesValue)
			if err := dec(req); err != nil {
				return nil, err
			}
			if in == nil {
				return srv.(benchService).unary(req), nil
			}
			return in(ctx, req, &grpc.UnaryServerInfo{Server: srv, FullMethod: methodUnary}, func(_ context.Context, r any) (any, error) {
				return srv.(benchService).unary(r.(*wrapperspb.BytesValue)), nil
			})
		},
	}},
	Streams: []grpc.StreamDesc{
		{StreamName: "PingPong", ServerStreams: true, ClientStreams: true,
			Handler: func(srv any, st grpc.ServerStream) error { return srv.(benchService).pingPong(st) }},
		{StreamName: "ServerStream", ServerStreams: true,
			Handler: func(srv any, st grpc.ServerStream) error { return srv.(benchService).serverStream(st) }},
		{StreamName: "ClientStream", ClientStreams: true,
			Handler: func(srv any, st grpc.ServerStream) error { return srv.(benchService).clientStream(st) }},
	},
}

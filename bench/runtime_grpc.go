package main

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// grpcRuntime runs grpc-go's server and client with their defaults
// (grpc.NewServer(), grpc.NewClient with insecure credentials).
type grpcRuntime struct{}

func (grpcRuntime) serve() (string, func(), error) {
	lis, err := listen()
	if err != nil {
		return "", nil, err
	}
	s := grpc.NewServer()
	s.RegisterService(&grpcDesc, benchService{})
	go s.Serve(lis)
	return lis.Addr().String(), s.Stop, nil
}

func (grpcRuntime) dial(addr string) (rpcConn, error) {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	return grpcConn{cc}, nil
}

type grpcConn struct{ cc *grpc.ClientConn }

func (c grpcConn) invoke(ctx context.Context, method string, req, resp *wrapperspb.BytesValue) error {
	return c.cc.Invoke(ctx, method, req, resp)
}

func (c grpcConn) stream(ctx context.Context, method string, clientStreams, serverStreams bool) (rpcStream, error) {
	return c.cc.NewStream(ctx, &grpc.StreamDesc{ClientStreams: clientStreams, ServerStreams: serverStreams}, method)
}

func (c grpcConn) close() error { return c.cc.Close() }

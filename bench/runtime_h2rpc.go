package main

import (
	"context"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/server"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// h2rpcRuntime runs h2rpc's server and client with their defaults.
type h2rpcRuntime struct{}

func (h2rpcRuntime) serve() (string, func(), error) {
	lis, err := listen()
	if err != nil {
		return "", nil, err
	}
	s := server.New()
	s.RegisterService(&h2rpcDesc, benchService{})
	go s.Serve(lis)
	return lis.Addr().String(), s.Stop, nil
}

func (h2rpcRuntime) dial(addr string) (rpcConn, error) {
	cc, err := client.New(addr, client.WithInsecure())
	if err != nil {
		return nil, err
	}
	return h2rpcConn{cc}, nil
}

type h2rpcConn struct{ cc *client.ClientConn }

func (c h2rpcConn) invoke(ctx context.Context, method string, req, resp *wrapperspb.BytesValue) error {
	return c.cc.Invoke(ctx, method, req, resp)
}

func (c h2rpcConn) stream(ctx context.Context, method string, clientStreams, serverStreams bool) (rpcStream, error) {
	return c.cc.NewStream(ctx, &client.StreamDesc{ClientStreams: clientStreams, ServerStreams: serverStreams}, method)
}

func (c h2rpcConn) close() error { return c.cc.Close() }

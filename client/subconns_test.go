package client

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/resolver"
	"github.com/h2rpc/h2rpc/resolver/manual"
	"github.com/h2rpc/h2rpc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/emptypb"
)

var emptyDesc = server.ServiceDesc{
	ServiceName: "test.Empty",
	HandlerType: (*any)(nil),
	Methods: []server.MethodDesc{{MethodName: "Call", Handler: func(_ any, _ context.Context, dec func(any) error, _ server.UnaryInterceptor) (any, error) {
		in := new(emptypb.Empty)
		return in, dec(in)
	}}},
}

func startEmptyServer(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := server.New()
	s.RegisterService(&emptyDesc, struct{}{})
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func (cc *ClientConn) subConnCount() int {
	cc.balMu.Lock()
	defer cc.balMu.Unlock()
	return len(cc.subConns)
}

// Every address change makes pick_first replace its SubConn; the ones it
// shut down must not pile up in the ClientConn once their connections
// have drained.
func TestReplacedSubConnsAreForgotten(t *testing.T) {
	addrs := [2]string{startEmptyServer(t), startEmptyServer(t)}
	r := manual.NewBuilderWithScheme("client-subconns")
	r.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: addrs[0]}}})
	resolver.Register(r)
	t.Cleanup(func() { resolver.Unregister(r.Scheme()) })
	cc, err := New(r.Scheme()+":///empty", WithInsecure())
	require.NoError(t, err)
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	call := func() {
		require.NoError(t, cc.Invoke(ctx, "/test.Empty/Call", new(emptypb.Empty), new(emptypb.Empty), WaitForReady(true)))
	}
	call()
	const changes = 20
	for i := 1; i <= changes; i++ {
		require.NoError(t, r.UpdateState(resolver.State{Addresses: []resolver.Address{{Addr: addrs[i%2]}}}))
		call()
	}
	// Drained connections close shortly after their last call; the next
	// SubConn made prunes the finished ones.
	deadline := time.Now().Add(5 * time.Second)
	for i := changes + 1; cc.subConnCount() > 2 && time.Now().Before(deadline); i++ {
		time.Sleep(20 * time.Millisecond)
		require.NoError(t, r.UpdateState(resolver.State{Addresses: []resolver.Address{{Addr: addrs[i%2]}}}))
		call()
	}
	assert.LessOrEqual(t, cc.subConnCount(), 2, "SubConns kept after %d address changes", changes)
}

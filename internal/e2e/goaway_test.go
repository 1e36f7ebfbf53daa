package e2e

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/resolver"
	"github.com/h2rpc/h2rpc/resolver/manual"
	"github.com/h2rpc/h2rpc/status"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// goingAwayServer answers every connection's preface with SETTINGS and
// GOAWAY(0) back to back, as a server that is shutting down may, then
// reads until the client leaves. It counts the connections.
func goingAwayServer(t *testing.T, conns *atomic.Int32) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { lis.Close() })
	go func() {
		for {
			nc, err := lis.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer nc.Close()
				preface := make([]byte, len(http2.ClientPreface))
				if _, err := nc.Read(preface); err != nil {
					return
				}
				fr := http2.NewFramer(nc, nc)
				fr.WriteSettings()
				fr.WriteGoAway(0, http2.ErrCodeNo, nil)
				nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				for {
					if _, err := fr.ReadFrame(); err != nil {
						return
					}
				}
			}()
		}
	}()
	return lis.Addr().String()
}

// TestGoAwayDuringHandshake: a connection whose server says GOAWAY as it
// opens is never offered to calls, and once another address is there the
// client uses it. (The SubConn's GOAWAY hook used to read the connection
// variable while the dial still assigned it: a data race the detector
// finds in the first part.)
func TestGoAwayDuringHandshake(t *testing.T) {
	var conns atomic.Int32
	away := goingAwayServer(t, &conns)
	r := manual.NewBuilderWithScheme("e2e-goaway")
	r.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: away}}})
	resolver.Register(r)
	t.Cleanup(func() { resolver.Unregister(r.Scheme()) })
	cc, err := client.New(r.Scheme()+":///x", client.WithInsecure())
	require.NoError(t, err)
	defer cc.Close()

	for range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("x"), new(wrapperspb.StringValue), client.WaitForReady(true))
		cancel()
		assert.Equal(t, codes.DeadlineExceeded, status.Code(err), "a call on a server that only says GOAWAY: %v", err)
	}
	assert.GreaterOrEqual(t, conns.Load(), int32(1), "the address was tried")

	require.NoError(t, r.UpdateState(resolver.State{Addresses: []resolver.Address{{Addr: away}, {Addr: startServer(t)}}}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out := new(wrapperspb.StringValue)
	require.NoError(t, cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("y"), out, client.WaitForReady(true)))
	assert.Equal(t, "y", out.Value)
}

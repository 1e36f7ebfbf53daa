package e2e

import (
	"context"
	"testing"

	"github.com/h2rpc/h2rpc/client"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// dialB starts an echo server and returns a client of it, closed when b
// ends.
func dialB(b *testing.B) *client.ClientConn {
	cc, err := client.New(startServerB(b), client.WithInsecure())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	return cc
}

func BenchmarkUnary100B(b *testing.B) { benchUnary(b, 100) }

func BenchmarkUnary64KiB(b *testing.B) { benchUnary(b, 64<<10) }

// benchUnary measures echo calls of size bytes each way, after one
// unmeasured call that opens the connection.
func benchUnary(b *testing.B, size int) {
	cc := dialB(b)
	ctx := context.Background()
	req := wrapperspb.String(string(make([]byte, size)))
	out := new(wrapperspb.StringValue)
	if err := cc.Invoke(ctx, "/test.Echo/Unary", req, out); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(2 * int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if err := cc.Invoke(ctx, "/test.Echo/Unary", req, out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBidiPingPong1KiB(b *testing.B) {
	cc := dialB(b)
	st, err := cc.NewStream(context.Background(), &client.StreamDesc{ServerStreams: true, ClientStreams: true}, "/test.Echo/Bidi")
	if err != nil {
		b.Fatal(err)
	}
	req := wrapperspb.String(string(make([]byte, 1024)))
	out := new(wrapperspb.StringValue)
	b.ReportAllocs()
	for b.Loop() {
		if err := st.SendMsg(req); err != nil {
			b.Fatal(err)
		}
		if err := st.RecvMsg(out); err != nil {
			b.Fatal(err)
		}
	}
	st.CloseSend()
}

func BenchmarkServerStream1MiB(b *testing.B) {
	cc := dialB(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := cc.NewStream(ctx, &client.StreamDesc{ServerStreams: true}, "/test.Echo/Download")
	if err != nil {
		b.Fatal(err)
	}
	if err := st.SendMsg(wrapperspb.String("")); err != nil {
		b.Fatal(err)
	}
	if err := st.CloseSend(); err != nil {
		b.Fatal(err)
	}
	out := new(wrapperspb.BytesValue)
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		if err := st.RecvMsg(out); err != nil {
			b.Fatal(err)
		}
	}
}

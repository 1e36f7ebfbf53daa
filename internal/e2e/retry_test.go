package e2e

import (
	"bytes"
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/resolver"
	"github.com/h2rpc/h2rpc/resolver/manual"
	"github.com/h2rpc/h2rpc/server"
	"github.com/h2rpc/h2rpc/status"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// refusingServer speaks HTTP/2 by hand: it refuses the first stream with
// RST_STREAM(REFUSED_STREAM) and answers later ones by echoing the first
// message of each, then OK. It reports the streams it saw.
func refusingServer(t *testing.T, lis net.Listener, seen chan<- uint32) {
	nc, err := lis.Accept()
	if err != nil {
		return
	}
	defer nc.Close()
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := nc.Read(preface); err != nil {
		return
	}
	fr := http2.NewFramer(nc, nc)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.WriteSettings()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	headers := func(fields ...string) []byte {
		hb.Reset()
		for i := 0; i < len(fields); i += 2 {
			enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
		}
		return append([]byte(nil), hb.Bytes()...)
	}
	refused := false
	body := map[uint32][]byte{}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.MetaHeadersFrame:
			seen <- f.StreamID
			if !refused {
				refused = true
				fr.WriteRSTStream(f.StreamID, http2.ErrCodeRefusedStream)
			}
		case *http2.DataFrame:
			id := f.StreamID
			body[id] = append(body[id], f.Data()...)
			if len(body[id]) >= 5 {
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true,
					BlockFragment: headers(":status", "200", "content-type", "application/grpc")})
				fr.WriteData(id, false, body[id])
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, EndStream: true,
					BlockFragment: headers("grpc-status", "0")})
				body[id] = body[id][:0:0]
			}
		}
	}
}

// TestStreamRefusedIsRetriedOnce: a stream the server never processed is
// started again, with the messages already sent, and the user sees
// nothing of it.
func TestStreamRefusedIsRetriedOnce(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer lis.Close()
	seen := make(chan uint32, 4)
	done := make(chan struct{})
	go func() { defer close(done); refusingServer(t, lis, seen) }()

	cc, err := client.New(lis.Addr().String(), client.WithInsecure())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := cc.NewStream(ctx, &client.StreamDesc{ServerStreams: true, ClientStreams: true}, "/test.Echo/Bidi")
	require.NoError(t, err)
	require.NoError(t, st.SendMsg(wrapperspb.String("replayed")))
	got := new(wrapperspb.StringValue)
	require.NoError(t, st.RecvMsg(got))
	assert.Equal(t, "replayed", got.Value)
	assert.Equal(t, uint32(1), <-seen, "first stream")
	assert.Equal(t, uint32(3), <-seen, "the retry")
	cc.Close()
	lis.Close()
	<-done
}

// onceServer serves test.Once/Do: the first call it gets, on any server
// made by it with the same counter, waits for its context to end; later
// ones echo at once.
func onceServer(t *testing.T, runs *atomic.Int32, started chan<- struct{}) (*server.Server, string) {
	desc := server.ServiceDesc{
		ServiceName: "test.Once",
		Methods: []server.MethodDesc{{MethodName: "Do", Handler: func(_ any, ctx context.Context, dec func(any) error, _ server.UnaryInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			if runs.Add(1) == 1 {
				started <- struct{}{}
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return in, nil
		}}},
	}
	return serveDesc(t, &desc, struct{}{})
}

// TestProcessedCallIsNotReplayed: a call the server took (its stream is
// within the GOAWAY's last stream id) and then dropped as it stopped is
// failed, not sent again to the next address: the handler may have done
// its work.
func TestProcessedCallIsNotReplayed(t *testing.T) {
	var runs atomic.Int32
	started := make(chan struct{}, 1)
	sa, a := onceServer(t, &runs, started)
	_, b := onceServer(t, &runs, started)
	r := manual.NewBuilderWithScheme("e2e-replay")
	r.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: a}, {Addr: b}}})
	resolver.Register(r)
	t.Cleanup(func() { resolver.Unregister(r.Scheme()) })
	cc, err := client.New(r.Scheme()+":///x", client.WithInsecure())
	require.NoError(t, err)
	defer cc.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- cc.Invoke(ctx, "/test.Once/Do", wrapperspb.String("x"), new(wrapperspb.StringValue)) }()
	<-started
	sa.Stop()
	err = <-errc
	assert.Equal(t, codes.Unavailable, status.Code(err), "call error: %v", err)
	assert.Equal(t, int32(1), runs.Load(), "the handler ran again")
}

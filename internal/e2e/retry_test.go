package e2e

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/client"
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

package transport

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/status"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// scriptedServer accepts one connection, reads the client's preface and
// opens with an empty SETTINGS, then calls respond with a framer for each
// request HEADERS. It returns a client Conn to it.
func scriptedServer(t *testing.T, respond func(fr *http2.Framer, id uint32)) *Conn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer lis.Close()
	done := make(chan struct{})
	srvConn := make(chan net.Conn, 1)
	go func() {
		defer close(done)
		nc, err := lis.Accept()
		if err != nil {
			return
		}
		srvConn <- nc
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(nc, preface); err != nil {
			return
		}
		fr := http2.NewFramer(nc, nc)
		if fr.WriteSettings() != nil {
			return
		}
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			if h, ok := f.(*http2.HeadersFrame); ok {
				respond(fr, h.StreamID)
			}
		}
	}()
	cc := dialClient(t, lis.Addr().String())
	sc := <-srvConn
	t.Cleanup(func() {
		cc.Close(ErrConnClosed)
		<-cc.Done()
		sc.Close()
		<-done
	})
	return cc
}

// headerBlock HPACK-encodes name/value pairs.
func headerBlock(pairs ...string) []byte {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	for i := 0; i+1 < len(pairs); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: pairs[i], Value: pairs[i+1]})
	}
	return b.Bytes()
}

func TestClientEncodingComesFromResponseHeaders(t *testing.T) {
	// The response headers name no encoding and the message is plain;
	// the trailers carry grpc-encoding, which must not replace the
	// headers' (empty) one while the application may be reading it.
	cc := scriptedServer(t, func(fr *http2.Framer, id uint32) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true,
			BlockFragment: headerBlock(":status", "200", "content-type", "application/grpc", "grpc-accept-encoding", "identity")})
		fr.WriteData(id, false, msg(10))
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, EndStream: true,
			BlockFragment: headerBlock("grpc-status", "0", "grpc-encoding", "gzip", "grpc-accept-encoding", "gzip")})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := cc.NewStream(ctx, &CallHdr{Method: "/a.B/C", EndStream: true})
	require.NoError(t, err)
	m, err := s.RecvMsg()
	require.NoError(t, err)
	m.Release()
	// Read the encodings while the reader handles the trailers (the race
	// detector checks this), then once the stream is over.
	for {
		assert.Equal(t, "", s.RecvCompress())
		assert.Equal(t, "identity", s.AcceptCompress())
		select {
		case <-s.Done():
			assert.Equal(t, "", s.RecvCompress())
			assert.Equal(t, "identity", s.AcceptCompress())
			return
		case <-ctx.Done():
			t.Fatal("the stream did not end")
		default:
		}
	}
}

func TestClientResetsARequestCutShortByTheAnswer(t *testing.T) {
	// The request (100,000 bytes) does not fit the server's window; the
	// server answers at once with a trailers-only response. The client
	// drops the rest of its request, END_STREAM included, so it must
	// close the stream with RST_STREAM rather than leave it half-open.
	frames := make(chan string, 16)
	cc := scriptedServer(t, func(fr *http2.Framer, id uint32) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, EndStream: true,
			BlockFragment: headerBlock(":status", "200", "content-type", "application/grpc", "grpc-status", "0")})
		fr.WritePing(false, [8]byte{'m', 'a', 'r', 'k', 'e', 'r'})
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				close(frames)
				return
			}
			switch f := f.(type) {
			case *http2.RSTStreamFrame:
				frames <- "RST_STREAM " + f.ErrCode.String()
			case *http2.DataFrame:
				if f.StreamEnded() {
					frames <- "DATA END_STREAM"
				}
			case *http2.PingFrame:
				if f.IsAck() {
					frames <- "PING ACK"
					return
				}
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := cc.NewStream(ctx, &CallHdr{Method: "/a.B/C", Data: msg(100000), EndStream: true})
	require.NoError(t, err)
	select {
	case <-s.Done():
	case <-ctx.Done():
		t.Fatal("the call did not end")
	}
	var got []string
	for f := range frames {
		got = append(got, f)
		if f == "PING ACK" {
			break
		}
	}
	assert.Equal(t, []string{"RST_STREAM NO_ERROR", "PING ACK"}, got)
}

// TestSlotWaitersLeaveADrainingConnection: calls waiting for one of the
// server's MAX_CONCURRENT_STREAMS slots go elsewhere (UNAVAILABLE,
// unprocessed) as soon as the server says GOAWAY, though the stream that
// holds the slot runs on.
func TestSlotWaitersLeaveADrainingConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cc, sc := pipePair(t, ServerConfig{Config: Config{MaxConcurrentStreams: 1}, Handle: func(s *Stream) {
			go func() {
				<-s.Context().Done()
				s.WriteStatus(status.New(codes.OK, ""), nil, nil)
			}()
		}}, ClientConfig{})
		defer closeBoth(cc, sc)
		held, err := cc.NewStream(context.Background(), &CallHdr{Method: "/a.B/C"})
		require.NoError(t, err)
		defer held.Cancel(status.New(codes.Canceled, ""))
		synctest.Wait() // the server's SETTINGS (one stream) are in

		errs := make(chan error, 2)
		for range 2 {
			go func() {
				_, err := cc.NewStream(context.Background(), &CallHdr{Method: "/a.B/C"})
				errs <- err
			}()
		}
		synctest.Wait()
		require.Empty(t, errs, "no slot, so the calls wait")
		sc.Drain()
		synctest.Wait()
		require.Len(t, errs, 2, "the waiters are still waiting on a draining connection")
		for range 2 {
			err := <-errs
			assert.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
			assert.True(t, IsUnprocessed(err), "a call that never started may go elsewhere")
		}
	})
}

// TestLastStreamIDDrainsTheConnection: the stream that takes the last id
// makes the connection drain, and it closes when its streams have ended,
// rather than staying open for calls it can no longer take.
func TestLastStreamIDDrainsTheConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gone := make(chan bool, 1)
		cc, sc := pipePair(t, ServerConfig{}, ClientConfig{OnGoAway: func(bool) { gone <- true }})
		defer closeBoth(cc, sc)
		cc.mu.Lock()
		cc.nextID = maxStreamID
		cc.mu.Unlock()
		s, err := cc.NewStream(context.Background(), &CallHdr{Method: "/a.B/C", EndStream: true})
		require.NoError(t, err)
		assert.True(t, cc.Draining(), "the last id was given out")
		assert.Len(t, gone, 1, "the owner heard that the connection goes away")
		_, err = s.RecvMsg()
		assert.ErrorIs(t, err, io.EOF)
		synctest.Wait()
		assert.True(t, closed(cc), "the connection stays open with no stream and no ids left")
	})
}

// TestInformationalResponsesAreSkipped: 1xx headers before the response
// (a proxy's 103 Early Hints) are not the response; one that ends the
// stream is a broken response.
func TestInformationalResponsesAreSkipped(t *testing.T) {
	tests := []struct {
		name  string
		ends  bool // the 1xx HEADERS carry END_STREAM
		code  codes.Code
		nMsgs int
	}{
		{"103 then the response", false, codes.OK, 1},
		{"103 that ends the stream", true, codes.Internal, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := scriptedServer(t, func(fr *http2.Framer, id uint32) {
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, EndStream: tt.ends,
					BlockFragment: headerBlock(":status", "103", "link", "</style.css>; rel=preload")})
				if tt.ends {
					return
				}
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true,
					BlockFragment: headerBlock(":status", "200", "content-type", "application/grpc")})
				fr.WriteData(id, false, msg(10))
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, EndStream: true,
					BlockFragment: headerBlock("grpc-status", "0")})
			})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := cc.NewStream(ctx, &CallHdr{Method: "/a.B/C", EndStream: true})
			require.NoError(t, err)
			n := 0
			for {
				m, err := s.RecvMsg()
				if err != nil {
					if err != io.EOF {
						assert.Equal(t, tt.code, status.Code(err), "%v", err)
					} else {
						assert.Equal(t, codes.OK, tt.code)
					}
					break
				}
				m.Release()
				n++
			}
			assert.Equal(t, tt.nMsgs, n)
		})
	}
}

// TestClientStatusWithoutGrpcStatus: a 200 gRPC response whose final
// HEADERS carry no grpc-status ends UNKNOWN, as grpc-go and the HTTP
// mapping for 200 give, with a message naming the missing header.
func TestClientStatusWithoutGrpcStatus(t *testing.T) {
	tests := []struct {
		name         string
		trailersOnly bool
		trailer      []string
		wantMsg      string
	}{
		{"trailers-only", true, nil, "grpc-status"},
		{"trailers", false, nil, "grpc-status"},
		{"trailers with grpc-message", false, []string{"grpc-message", "oops"}, "oops"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := scriptedServer(t, func(fr *http2.Framer, id uint32) {
				head := []string{":status", "200", "content-type", "application/grpc"}
				if tt.trailersOnly {
					fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, EndStream: true,
						BlockFragment: headerBlock(head...)})
					return
				}
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, BlockFragment: headerBlock(head...)})
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, EndStream: true,
					BlockFragment: headerBlock(append([]string{"x-trailer", "t"}, tt.trailer...)...)})
			})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := cc.NewStream(ctx, &CallHdr{Method: "/a.B/C", EndStream: true})
			require.NoError(t, err)
			_, err = s.RecvMsg()
			require.Error(t, err)
			assert.Equal(t, codes.Unknown, status.Code(err), "%v", err)
			assert.Contains(t, status.Convert(err).Message(), tt.wantMsg)
		})
	}
}

// TestClientMalformedStatusDetails: a grpc-status-details-bin that is
// not base64, in the response headers or the trailers, is a malformed
// response: the call ends INTERNAL and the stream is reset with
// PROTOCOL_ERROR, as grpc-go does for any bad binary header.
func TestClientMalformedStatusDetails(t *testing.T) {
	tests := []struct {
		name      string
		inHeaders bool
	}{
		{"in headers", true},
		{"in trailers", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resets := make(chan http2.ErrCode, 1)
			cc := scriptedServer(t, func(fr *http2.Framer, id uint32) {
				head := []string{":status", "200", "content-type", "application/grpc"}
				if tt.inHeaders {
					head = append(head, "grpc-status-details-bin", "!!!")
				}
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, BlockFragment: headerBlock(head...)})
				if !tt.inHeaders {
					fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, EndStream: true,
						BlockFragment: headerBlock("grpc-status", "0", "grpc-status-details-bin", "!!!")})
				}
				for {
					f, err := fr.ReadFrame()
					if err != nil {
						close(resets)
						return
					}
					if r, ok := f.(*http2.RSTStreamFrame); ok {
						resets <- r.ErrCode
						return
					}
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := cc.NewStream(ctx, &CallHdr{Method: "/a.B/C", EndStream: true})
			require.NoError(t, err)
			_, err = s.RecvMsg()
			assert.Equal(t, codes.Internal, status.Code(err), "%v", err)
			select {
			case code := <-resets:
				assert.Equal(t, http2.ErrCodeProtocol, code)
			case <-ctx.Done():
				t.Fatal("no RST_STREAM")
			}
		})
	}
}

// TestClientTrailersOnlyHasNoHeader: the metadata of a trailers-only
// response are trailers; Header returns none, as grpc-go's does.
func TestClientTrailersOnlyHasNoHeader(t *testing.T) {
	tests := []struct {
		name       string
		grpcStatus string
		code       codes.Code
	}{
		{"OK", "0", codes.OK},
		{"error", "5", codes.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := scriptedServer(t, func(fr *http2.Framer, id uint32) {
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, EndStream: true,
					BlockFragment: headerBlock(":status", "200", "content-type", "application/grpc",
						"grpc-status", tt.grpcStatus, "x-md", "v")})
			})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := cc.NewStream(ctx, &CallHdr{Method: "/a.B/C", EndStream: true})
			require.NoError(t, err)
			_, err = s.RecvMsg()
			if tt.code == codes.OK {
				assert.Equal(t, io.EOF, err)
			} else {
				assert.Equal(t, tt.code, status.Code(err), "%v", err)
			}
			md, err := s.Header()
			assert.Nil(t, md)
			assert.Equal(t, tt.code, status.Code(err), "%v", err)
			assert.Equal(t, []string{"v"}, s.Trailer().Get("x-md"))
		})
	}
}

// TestMessagesBeforeAnErrorStatusAreDelivered: a server stream that sends
// five messages and then fails gives the application the five messages,
// then the status, as grpc-go does, even when the application reads them
// only after the status has arrived.
func TestMessagesBeforeAnErrorStatusAreDelivered(t *testing.T) {
	cc, _ := pair(t, ServerConfig{Handle: func(s *Stream) {
		go func() {
			for i := range 5 {
				if err := s.SendMsg(msg(i), nil, false); err != nil {
					s.WriteStatus(status.Convert(err), nil, nil)
					return
				}
			}
			s.WriteStatus(status.New(codes.Aborted, "after five"), nil, nil)
		}()
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := cc.NewStream(ctx, &CallHdr{Method: "/a.B/C", Data: msg(0), EndStream: true})
	require.NoError(t, err)
	// Done is closed once the client has taken in the trailers.
	select {
	case <-s.Done():
	case <-ctx.Done():
		t.Fatal("the stream never ended")
	}
	require.Equal(t, codes.Aborted, s.Status().Code(), "the status arrived before the application reads")
	var got [][]byte
	for range 6 {
		m, err := s.RecvMsg()
		if err != nil {
			assert.Equal(t, codes.Aborted, status.Code(err), "%v", err)
			break
		}
		got = append(got, append([]byte{}, m.Data...))
		m.Release()
	}
	want := make([][]byte, 5)
	for i := range want {
		want[i] = msg(i)[5:]
	}
	assert.Equal(t, want, got)
}

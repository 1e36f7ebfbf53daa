package crosstest

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// rawClient speaks HTTP/2 frame by frame to a server, to do what no gRPC
// client may: ping as fast as it likes.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	fr *http2.Framer
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	require.NoError(t, nc.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = nc.Write([]byte(http2.ClientPreface))
	require.NoError(t, err)
	c := &rawClient{t: t, nc: nc, fr: http2.NewFramer(nc, nc)}
	require.NoError(t, c.fr.WriteSettings())
	return c
}

// next returns the next frame that is not connection housekeeping: it
// acknowledges the server's SETTINGS and PINGs and skips WINDOW_UPDATEs and
// SETTINGS ACKs. It returns nil once the server has closed the connection.
func (c *rawClient) next() http2.Frame {
	c.t.Helper()
	for range 100 {
		f, err := c.fr.ReadFrame()
		if err != nil {
			return nil
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				require.NoError(c.t, c.fr.WriteSettingsAck())
			}
			continue
		case *http2.WindowUpdateFrame:
			continue
		case *http2.PingFrame:
			if !f.IsAck() {
				require.NoError(c.t, c.fr.WritePing(true, f.Data))
				continue
			}
		}
		return f
	}
	c.t.Fatal("raw client: 100 frames of housekeeping")
	return nil
}

// TestKeepaliveEnforcement pings both servers from a raw HTTP/2 client
// (no gRPC client pings faster than every 10 s). Against the default policy
// (no pings while no call runs), the first ping is free and the next three
// are strikes: the first three are acknowledged, the fourth brings
// GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings", last stream 0) and the
// connection closes. Pings spaced beyond a permissive policy's MinTime
// are all acknowledged.
func TestKeepaliveEnforcement(t *testing.T) {
	for _, d := range directions {
		t.Run("raw-client_"+d.server+"-server", func(t *testing.T) {
			t.Parallel()
			t.Run("too_many_pings", func(t *testing.T) {
				_, addr := d.start(t, newService(), serverConfig{})
				c := dialRaw(t, addr)
				for i := range 4 {
					data := [8]byte{'s', 't', 'r', 'i', 'k', 'e', '0' + byte(i)}
					require.NoError(t, c.fr.WritePing(false, data))
					f := c.next()
					if i < 3 {
						ack, ok := f.(*http2.PingFrame)
						require.True(t, ok, "ping %d: got %v, want its ACK", i+1, f)
						assert.Equal(t, data, ack.Data)
						continue
					}
					if ack, ok := f.(*http2.PingFrame); ok {
						assert.Equal(t, data, ack.Data) // the ACK may come first
						f = c.next()
					}
					ga, ok := f.(*http2.GoAwayFrame)
					require.True(t, ok, "ping %d: got %v, want GOAWAY", i+1, f)
					assert.Equal(t, http2.ErrCodeEnhanceYourCalm, ga.ErrCode)
					assert.Equal(t, "too_many_pings", string(ga.DebugData()))
					assert.Equal(t, uint32(0), ga.LastStreamID)
				}
				assert.Nil(t, c.next(), "the connection stayed open after GOAWAY")
			})
			t.Run("within_policy", func(t *testing.T) {
				_, addr := d.start(t, newService(), serverConfig{policy: &enforcement{minTime: 100 * time.Millisecond, permitWithoutStream: true}})
				c := dialRaw(t, addr)
				for i := range 6 {
					data := [8]byte{'p', 'o', 'l', 'i', 't', 'e', '0' + byte(i)}
					require.NoError(t, c.fr.WritePing(false, data))
					f := c.next()
					ack, ok := f.(*http2.PingFrame)
					require.True(t, ok, "ping %d: got %v, want its ACK", i+1, f)
					assert.Equal(t, data, ack.Data)
					time.Sleep(150 * time.Millisecond)
				}
			})
		})
	}
}

func isClientPing(e frameEvent) bool { return e.fromClient && e.typ == http2.FramePing && !e.ack }
func isServerPingAck(e frameEvent) bool {
	return !e.fromClient && e.typ == http2.FramePing && e.ack
}
func isServerGoAway(e frameEvent) bool { return !e.fromClient && e.typ == http2.FrameGoAway }

// idleConn is a client connected to a tapped server of the other runtime,
// left idle for a keepalive test.
type idleConn struct {
	tap *tapListener
	cc  conn
}

// connectIdle connects a client per direction with ka to a server with
// policy. The keepalive tests connect every direction first and then
// wait out the pings once for all of them, in subtests that share the
// clock: -parallel is only 2 on small machines.
func connectIdle(ctx context.Context, t *testing.T, ka clientKeepalive, policy enforcement) []idleConn {
	conns := make([]idleConn, len(directions))
	for i, d := range directions {
		tap := newTap(t, true)
		d.serve(t, tap, newService(), serverConfig{policy: &policy})
		cc := d.dial(t, tap.Addr().String(), clientConfig{keepalive: &ka})
		cc.connect()
		conns[i] = idleConn{tap: tap, cc: cc}
	}
	for i, c := range conns {
		require.True(t, c.cc.waitReady(ctx, true), "%s: the client never connected", directions[i].name)
	}
	return conns
}

// TestKeepaliveClientPings: each client, asked to ping an idle connection
// every second with PermitWithoutStream, pings after 10 s instead (the
// gRFC A8 minimum both clamp to), exactly once in that time; the other
// runtime's server, whose policy allows a ping every 5 s without calls,
// acknowledges it within the client's 1 s timeout and sends no GOAWAY;
// the client keeps the connection and calls go on over it.
func TestKeepaliveClientPings(t *testing.T) {
	t.Parallel() // 12 s of mostly waiting: run alongside the other slow test
	ctx, cancel := context.WithTimeout(context.Background(), 18*time.Second)
	defer cancel()
	conns := connectIdle(ctx, t,
		clientKeepalive{time: time.Second, timeout: time.Second, permitWithoutStream: true},
		enforcement{minTime: 5 * time.Second, permitWithoutStream: true})
	for i, d := range directions {
		t.Run(d.name, func(t *testing.T) {
			tap, cc := conns[i].tap, conns[i].cc
			start := tap.acceptedAt()

			pings := tap.waitFrames(1, time.Until(start.Add(13*time.Second)), isClientPing)
			require.NotEmpty(t, pings, "the client never pinged")
			after := pings[0].at.Sub(start)
			t.Logf("first keepalive ping %v after the connection", after)
			assert.GreaterOrEqual(t, after, 9500*time.Millisecond, "the client pinged before the 10 s minimum")
			assert.Less(t, after, 12*time.Second)

			// Past the client's 1 s timeout for the ACK.
			time.Sleep(time.Until(pings[0].at.Add(1500 * time.Millisecond)))
			assert.Len(t, tap.frames(isClientPing), 1, "pings from the client")
			acks := tap.frames(func(e frameEvent) bool { return isServerPingAck(e) && e.pingData == pings[0].pingData })
			assert.Len(t, acks, 1, "the server's ACKs of the keepalive ping")
			assert.Empty(t, tap.frames(isServerGoAway), "GOAWAY from the server")
			require.True(t, cc.waitReady(ctx, true))
			require.NoError(t, cc.invoke(ctx, mUnary, wrapperspb.Bytes([]byte("still there")), new(wrapperspb.BytesValue), nil))
			assert.Equal(t, int32(1), tap.accepted.Load(), "connections the server accepted")
		})
	}
}

// TestKeepaliveTooManyPingsSlow is the real-time version of the
// enforcement test with gRPC clients: a client pinging an idle connection
// every 10 s (the fastest any client may) against a server whose policy
// wants a minute between pings. The fourth ping, 40 s in, is the third
// strike: the server sends GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings"),
// and the client reconnects for the next call. It takes about 45 s, so it
// only runs with CROSSTEST_SLOW=1.
func TestKeepaliveTooManyPingsSlow(t *testing.T) {
	if testing.Short() || os.Getenv("CROSSTEST_SLOW") == "" {
		t.Skip("takes 45 s of real time: set CROSSTEST_SLOW=1 (and not -short) to run it")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conns := connectIdle(ctx, t,
		clientKeepalive{time: 10 * time.Second, timeout: 5 * time.Second, permitWithoutStream: true},
		enforcement{minTime: time.Minute, permitWithoutStream: true})
	for i, d := range directions {
		t.Run(d.name, func(t *testing.T) {
			tap, cc := conns[i].tap, conns[i].cc
			start := tap.acceptedAt()

			goaways := tap.waitFrames(1, time.Until(start.Add(50*time.Second)), isServerGoAway)
			if len(goaways) == 0 {
				t.Logf("%d connections accepted; frames seen:", tap.accepted.Load())
				for _, e := range tap.frames(func(frameEvent) bool { return true }) {
					t.Logf("%v after the connection: client %v, %v ack=%v", e.at.Sub(start), e.fromClient, e.typ, e.ack)
				}
			}
			require.NotEmpty(t, goaways, "no GOAWAY from the server")
			ga := goaways[0]
			before := tap.frames(func(e frameEvent) bool { return isClientPing(e) && e.at.Before(ga.at) })
			t.Logf("GOAWAY %v %q %v after the connection, after %d client pings", ga.errCode, ga.debug, ga.at.Sub(start), len(before))
			assert.Equal(t, http2.ErrCodeEnhanceYourCalm, ga.errCode)
			assert.Equal(t, "too_many_pings", ga.debug)
			assert.Equal(t, uint32(0), ga.lastStream, "no call ever ran")
			assert.Len(t, before, 4, "client pings before the GOAWAY")

			require.NoError(t, cc.invoke(ctx, mUnary, wrapperspb.Bytes([]byte("again")), new(wrapperspb.BytesValue), nil))
			assert.Equal(t, int32(2), tap.accepted.Load(), "connections the server accepted")
		})
	}
}

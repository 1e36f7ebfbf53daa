package transport

import (
	"context"
	"math"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/keepalive"
	"github.com/h2rpc/h2rpc/status"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
)

// pipePair connects a client and a server Conn over an in-memory pipe, for
// tests inside a synctest bubble.
func pipePair(t *testing.T, scfg ServerConfig, ccfg ClientConfig) (*Conn, *Conn) {
	t.Helper()
	a, b := net.Pipe()
	if scfg.Handle == nil {
		scfg.Handle = func(s *Stream) { go echo(s) }
	}
	srvCh := make(chan *Conn, 1)
	go func() {
		c, _ := NewServerConn(b, scfg)
		srvCh <- c
	}()
	cc, err := NewClientConn(context.Background(), a, ccfg)
	require.NoError(t, err)
	sc := <-srvCh
	require.NotNil(t, sc)
	return cc, sc
}

func closeBoth(cc, sc *Conn) {
	cc.Close(ErrConnClosed)
	sc.Close(ErrConnClosed)
	<-cc.Done()
	<-sc.Done()
}

func closed(c *Conn) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

func TestKeepaliveWithinPolicyKeepsConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cc, sc := pipePair(t,
			ServerConfig{Policy: keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}},
			ClientConfig{Keepalive: keepalive.ClientParameters{Time: 10 * time.Second, Timeout: time.Second, PermitWithoutStream: true}})
		defer closeBoth(cc, sc)
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		assert.False(t, closed(cc), "client connection closed")
		assert.False(t, closed(sc), "server connection closed")
		assert.False(t, cc.Draining())
	})
}

func TestKeepaliveTooManyPings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var gotTooMany bool
		// The server's default policy: one ping per 5 minutes at most, and
		// none while no call runs.
		cc, sc := pipePair(t, ServerConfig{},
			ClientConfig{
				Keepalive: keepalive.ClientParameters{Time: 10 * time.Second, Timeout: time.Second, PermitWithoutStream: true},
				OnGoAway:  func(tooMany bool) { gotTooMany = tooMany },
			})
		defer closeBoth(cc, sc)
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.True(t, closed(sc), "server kept a client that pings every 10 s")
		assert.True(t, gotTooMany, "client did not see GOAWAY(too_many_pings)")
	})
}

func TestKeepaliveDormantWithoutStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Without PermitWithoutStream an idle client sends no pings, so
		// the strict default policy never strikes.
		cc, sc := pipePair(t, ServerConfig{},
			ClientConfig{Keepalive: keepalive.ClientParameters{Time: 10 * time.Second, Timeout: time.Second}})
		defer closeBoth(cc, sc)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		assert.False(t, closed(cc))
	})
}

// silentServer completes the HTTP/2 handshake, then reads and never writes.
func silentServer(nc net.Conn) {
	fr := http2.NewFramer(nc, nc)
	buf := make([]byte, len(http2.ClientPreface))
	if _, err := nc.Read(buf); err != nil {
		return
	}
	fr.WriteSettings()
	for {
		if _, err := fr.ReadFrame(); err != nil {
			return
		}
	}
}

func TestKeepaliveTimeoutClosesDeadConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		go silentServer(b)
		cc, err := NewClientConn(context.Background(), a, ClientConfig{
			Keepalive: keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}})
		require.NoError(t, err)
		s, err := cc.NewStream(context.Background(), &CallHdr{Method: "/a.B/C"})
		require.NoError(t, err)
		time.Sleep(14 * time.Second)
		synctest.Wait()
		assert.False(t, closed(cc), "closed before Time+Timeout")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.True(t, closed(cc), "dead connection not detected within Time+Timeout")
		_, err = s.RecvMsg()
		assert.Equal(t, codes.Unavailable, status.Code(err))
		b.Close()
	})
}

func TestMaxConnectionIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cc, sc := pipePair(t, ServerConfig{Keepalive: keepalive.ServerParameters{MaxConnectionIdle: time.Minute}}, ClientConfig{})
		defer closeBoth(cc, sc)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		assert.False(t, cc.Draining())
		time.Sleep(31 * time.Second)
		synctest.Wait()
		assert.True(t, cc.Draining(), "idle connection got no GOAWAY")
		assert.True(t, closed(sc), "idle connection not closed")
	})
}

func TestMaxConnectionAgeWithGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		block := make(chan struct{})
		cc, sc := pipePair(t, ServerConfig{
			Keepalive: keepalive.ServerParameters{MaxConnectionAge: time.Minute, MaxConnectionAgeGrace: 30 * time.Second},
			Handle: func(s *Stream) {
				go func() {
					select {
					case <-block:
					case <-s.Context().Done():
					}
					s.WriteStatus(status.New(codes.OK, ""), nil, nil)
				}()
			},
		}, ClientConfig{})
		defer closeBoth(cc, sc)
		defer close(block)
		s, err := cc.NewStream(context.Background(), &CallHdr{Method: "/a.B/C"})
		require.NoError(t, err)
		// The age fires between 54 s and 66 s (±10 % jitter), the grace
		// ends 30 s later: at 67 s the GOAWAY is out and the call still runs.
		time.Sleep(67 * time.Second)
		synctest.Wait()
		assert.True(t, cc.Draining(), "old connection got no GOAWAY")
		assert.False(t, closed(sc), "closed before the grace period")
		time.Sleep(30 * time.Second)
		synctest.Wait()
		assert.True(t, closed(sc), "not closed after the grace period")
		_, err = s.RecvMsg()
		assert.Error(t, err)
	})
}

// TestAgeLimitsOfInfinity: grpc-go's "infinity" (math.MaxInt64) for
// MaxConnectionAge and MaxConnectionIdle means no limit; the age's jitter
// used to overflow it into a timer that fired at once.
func TestAgeLimitsOfInfinity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Each connection draws its jitter once; half the draws overflowed.
		for range 12 {
			cc, sc := pipePair(t, ServerConfig{Keepalive: keepalive.ServerParameters{
				MaxConnectionAge:  time.Duration(math.MaxInt64),
				MaxConnectionIdle: time.Duration(math.MaxInt64),
			}}, ClientConfig{})
			time.Sleep(time.Hour)
			synctest.Wait()
			assert.False(t, cc.Draining(), "GOAWAY on a connection without age limits")
			closeBoth(cc, sc)
		}
	})
}

// TestAgeTimersOnAClosedConnection: a connection can close (its client
// sent the preface and left) before its age timers are armed; arming them
// then must not hang on its own lock, which OnClose's hook, run at once,
// also takes.
func TestAgeTimersOnAClosedConnection(t *testing.T) {
	// Real time, not a synctest bubble: a goroutine stuck on a mutex does
	// not let a bubble's clock move.
	cc, sc := pipePair(t, ServerConfig{}, ClientConfig{})
	closeBoth(cc, sc)
	done := make(chan struct{})
	go func() {
		sc.startAgeTimers(keepalive.ServerParameters{MaxConnectionIdle: time.Minute, MaxConnectionAge: time.Hour})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("startAgeTimers hangs on a closed connection")
	}
}

// TestPingerStopsWithItsConnection: a keepalive timer that fires as its
// connection closes must not arm itself again.
func TestPingerStopsWithItsConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cc, sc := pipePair(t, ServerConfig{}, ClientConfig{})
		kp := cc.startPinger(keepalive.ClientParameters{Time: time.Minute})
		closeBoth(cc, sc)
		kp.fire() // as if the timer had fired just before the hook ran
		kp.mu.Lock()
		rearmed := kp.timer.Stop()
		kp.mu.Unlock()
		assert.False(t, rearmed, "the keepalive timer runs on after Close")
	})
}

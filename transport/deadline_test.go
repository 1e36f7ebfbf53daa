package transport

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/status"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deadlineSends is what a handler that ignores its context saw.
type deadlineSends struct {
	sentAfterDone int // sends that succeeded once the context was done
	failed        int // sends that failed
	firstAfter    int // the first message sent with the context done; -1 if none
	err           error
}

func TestServerDeadlineResetsTheStream(t *testing.T) {
	got := make(chan deadlineSends, 1)
	cc, _ := pair(t, ServerConfig{Handle: func(s *Stream) {
		go func() {
			// Sends every 10 ms, for 600 ms past the 100 ms deadline,
			// whatever its context says.
			r := deadlineSends{firstAfter: -1}
			stop := time.Now().Add(700 * time.Millisecond)
			for i := 0; time.Now().Before(stop); i++ {
				done := s.Context().Err() != nil
				if done && r.firstAfter < 0 {
					r.firstAfter = i
				}
				m := msg(4)
				binary.BigEndian.PutUint32(m[5:], uint32(i))
				if err := s.SendMsg(m, nil, false); err != nil {
					r.failed++
					r.err = err
				} else if done {
					r.sentAfterDone++
				}
				time.Sleep(10 * time.Millisecond)
			}
			s.WriteStatus(status.New(codes.OK, ""), nil, nil)
			got <- r
		}()
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The client sends the deadline but keeps no timer of its own: only
	// the server ends the call.
	s, err := cc.NewStream(ctx, &CallHdr{Method: "/a.B/C", Deadline: time.Now().Add(100 * time.Millisecond)})
	require.NoError(t, err)
	var recv []int
	for {
		m, err := s.RecvMsg()
		if err != nil {
			assert.Equal(t, codes.DeadlineExceeded, status.Code(err), "%v", err)
			break
		}
		recv = append(recv, int(binary.BigEndian.Uint32(m.Data)))
		m.Release()
	}
	var r deadlineSends
	select {
	case r = <-got:
	case <-ctx.Done():
		t.Fatal("the handler did not finish")
	}
	require.GreaterOrEqual(t, r.firstAfter, 0, "the handler's context was never done")
	assert.Zero(t, r.sentAfterDone, "SendMsg succeeded after the deadline")
	assert.NotZero(t, r.failed)
	assert.Equal(t, codes.DeadlineExceeded, status.Code(r.err), "%v", r.err)
	var late []int
	for _, i := range recv {
		if i >= r.firstAfter {
			late = append(late, i)
		}
	}
	assert.Empty(t, late, "the client got messages sent after the deadline")
}

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/server"
	"github.com/h2rpc/h2rpc/status"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestMessagesBeforeAnErrorStatusAreDelivered: a server stream that sends
// five messages and then fails gives the application the five messages,
// then the status, as grpc-go does, even when the application reads them
// only after the status has arrived.
func TestMessagesBeforeAnErrorStatusAreDelivered(t *testing.T) {
	sent := make(chan struct{}, 1)
	desc := server.ServiceDesc{
		ServiceName: "test.Fail",
		Streams: []server.StreamDesc{{StreamName: "Five", ServerStreams: true, Handler: func(_ any, st server.Stream) error {
			if err := st.RecvMsg(new(wrapperspb.StringValue)); err != nil {
				return err
			}
			for i := range 5 {
				if err := st.SendMsg(wrapperspb.Int32(int32(i))); err != nil {
					return err
				}
			}
			sent <- struct{}{}
			return status.Error(codes.Aborted, "after five")
		}}},
	}
	_, addr := serveDesc(t, &desc, struct{}{})
	cc := dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	st, err := cc.NewStream(ctx, &client.StreamDesc{ServerStreams: true}, "/test.Fail/Five")
	require.NoError(t, err)
	require.NoError(t, st.SendMsg(wrapperspb.String("go")))
	<-sent
	time.Sleep(100 * time.Millisecond) // the status arrives before the application reads
	var got []int32
	for {
		m := new(wrapperspb.Int32Value)
		if err = st.RecvMsg(m); err != nil {
			break
		}
		got = append(got, m.Value)
	}
	assert.Equal(t, codes.Aborted, status.Code(err), "%v", err)
	assert.Equal(t, []int32{0, 1, 2, 3, 4}, got)
}

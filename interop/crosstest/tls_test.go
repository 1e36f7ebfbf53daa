package crosstest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gcodes "google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestMutualTLS: a server that requires and verifies client certificates
// serves a client that presents one signed by its CA, and its handler sees
// that certificate; a client without one, or one that expects another
// server name, cannot call at all (UNAVAILABLE).
func TestMutualTLS(t *testing.T) {
	for _, d := range directions {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			p := newPKI(t)
			_, addr := d.start(t, newService(), serverConfig{tls: p.serverConfig()})

			t.Run("client_cert", func(t *testing.T) {
				cc := d.dial(t, addr, clientConfig{tls: p.clientConfig(true)})
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				out := new(wrapperspb.StringValue)
				o := &callOpts{}
				require.NoError(t, cc.invoke(ctx, mPeer, wrapperspb.Bytes(nil), out, o))
				assert.Equal(t, "tls client.test.example", out.Value, "what the server's handler saw")
				t.Run("client_sees_server_cert", func(t *testing.T) {
					assert.Equal(t, "tls", o.peerAuth)
					assert.Equal(t, serverName, o.peerCN)
				})
			})

			t.Run("no_client_cert", func(t *testing.T) {
				cc := d.dial(t, addr, clientConfig{tls: p.clientConfig(false)})
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				err := cc.invoke(ctx, mPeer, wrapperspb.Bytes(nil), new(wrapperspb.StringValue), nil)
				t.Logf("the call failed with: %v", err)
				assert.Equal(t, gcodes.Unavailable, codeOf(err), "%v", err)
			})

			t.Run("wrong_server_name", func(t *testing.T) {
				cfg := p.clientConfig(true)
				cfg.ServerName = "bar.test.example"
				cc := d.dial(t, addr, clientConfig{tls: cfg})
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				err := cc.invoke(ctx, mPeer, wrapperspb.Bytes(nil), new(wrapperspb.StringValue), nil)
				t.Logf("the call failed with: %v", err)
				assert.Equal(t, gcodes.Unavailable, codeOf(err), "%v", err)
			})
		})
	}
}

package transport

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
)

// TestBDPGrowthKeepsALargerStreamWindow configures the server's stream
// window (4 MiB) above its connection window (1 MiB). A scripted client
// sends about 800 KiB on one stream before it answers the server's BDP
// PING, so the measurement grows the windows to about 1.5 MiB: that must
// raise the connection window only, never announce a stream window below
// the 4 MiB the streams already have.
func TestBDPGrowthKeepsALargerStreamWindow(t *testing.T) {
	cli, fr := scriptedClient(t, ServerConfig{
		Config: Config{StreamWindow: 4 << 20, ConnWindow: 1 << 20},
		Handle: func(s *Stream) {
			go func() {
				for {
					m, err := s.RecvMsg()
					if err != nil {
						return
					}
					m.Release()
				}
			}()
		},
	})
	h, _ := requestFrames(t, 1, nil)
	_, err := cli.Write(h)
	require.NoError(t, err)
	for range 50 {
		require.NoError(t, fr.WriteData(1, false, msg(16384-5)))
	}
	cli.SetReadDeadline(time.Now().Add(5 * time.Second))
	var bdpAnswered bool
	var initialWindows []uint32
	var connGrowth uint32
	for {
		f, err := fr.ReadFrame()
		require.NoError(t, err, "expected the server's BDP PING, then the ACK of ours")
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if v, ok := f.Value(http2.SettingInitialWindowSize); ok {
				initialWindows = append(initialWindows, v)
			}
			if !f.IsAck() {
				require.NoError(t, fr.WriteSettingsAck())
			}
		case *http2.WindowUpdateFrame:
			if bdpAnswered && f.StreamID == 0 {
				connGrowth = max(connGrowth, f.Increment)
			}
		case *http2.PingFrame:
			if f.IsAck() {
				require.Equal(t, "marker!!", string(f.Data[:]))
				assert.NotEmpty(t, initialWindows, "the opening SETTINGS announce the stream window")
				for _, w := range initialWindows {
					assert.GreaterOrEqual(t, w, uint32(4<<20), "stream window announced below the configured one")
				}
				// Credit for data read comes in quarters of the
				// connection window; growth from 1 MiB to ~1.5 MiB is
				// one larger increment.
				assert.Greater(t, connGrowth, uint32(400<<10), "the connection window did not grow")
				return
			}
			if !bdpAnswered && string(f.Data[:]) == string(bdpPingData[:]) {
				require.NoError(t, fr.WritePing(true, f.Data))
				bdpAnswered = true
				// What the ACK makes the server queue is written before
				// its answer to this PING.
				require.NoError(t, fr.WritePing(false, [8]byte{'m', 'a', 'r', 'k', 'e', 'r', '!', '!'}))
			}
		}
	}
}

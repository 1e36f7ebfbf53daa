package unix

import (
	"testing"

	"github.com/h2rpc/h2rpc/resolver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type recordingCC struct{ states []resolver.State }

func (c *recordingCC) UpdateState(s resolver.State) error {
	c.states = append(c.states, s)
	return nil
}
func (c *recordingCC) ReportError(error) {}

// TestTargets: the socket a unix or unix-abstract target names, parsed
// and built as the client does.
func TestTargets(t *testing.T) {
	tests := []struct {
		target string
		addr   string // "" for a target Build refuses
	}{
		{"unix:///tmp/s.sock", "/tmp/s.sock"},
		{"unix:/tmp/s.sock", "/tmp/s.sock"},
		{"unix:s.sock", "s.sock"},
		{"unix:./dir/s.sock", "./dir/s.sock"},
		{"UNIX:///tmp/s.sock", "/tmp/s.sock"},
		{"unix-abstract:name", "@name"},
		{"unix-abstract:///name", "@name"},
		{"unix://host/tmp/s.sock", ""},
		{"unix:", ""},
		{"unix-abstract:", ""},
	}
	for _, tt := range tests {
		tgt, err := resolver.ParseTarget(tt.target)
		require.NoError(t, err, tt.target)
		b := resolver.Get(tgt.Scheme)
		require.NotNil(t, b, "%s: scheme %q not registered", tt.target, tgt.Scheme)
		cc := &recordingCC{}
		r, err := b.Build(tgt, cc, resolver.BuildOptions{})
		if tt.addr == "" {
			assert.Error(t, err, tt.target)
			assert.Empty(t, cc.states, tt.target)
			continue
		}
		require.NoError(t, err, tt.target)
		require.Len(t, cc.states, 1, tt.target)
		assert.Equal(t, []resolver.Address{{Addr: tt.addr, Network: "unix"}}, cc.states[0].Addresses, tt.target)
		r.ResolveNow()
		r.Close()
		assert.Len(t, cc.states, 1, "%s: nothing more after ResolveNow and Close", tt.target)
	}
}

package passthrough

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/h2rpc/h2rpc/resolver"
)

type recordingCC struct {
	states []resolver.State
	errs   []error
}

func (c *recordingCC) UpdateState(s resolver.State) error {
	c.states = append(c.states, s)
	return errors.New("ignored by passthrough")
}
func (c *recordingCC) ReportError(err error) { c.errs = append(c.errs, err) }

func TestRegistered(t *testing.T) {
	b := resolver.Get("passthrough")
	require.NotNil(t, b)
	assert.Equal(t, "passthrough", b.Scheme())
	assert.Equal(t, resolver.DefaultScheme, b.Scheme())
}

func TestBuildReportsEndpoint(t *testing.T) {
	for _, target := range []string{"passthrough:///1.2.3.4:5", "localhost:50051", "[::1]:80", "some-name"} {
		tgt, err := resolver.ParseTarget(target)
		require.NoError(t, err)
		require.Equal(t, Scheme, tgt.Scheme)

		cc := &recordingCC{}
		r, err := NewBuilder().Build(tgt, cc, resolver.BuildOptions{})
		require.NoError(t, err)
		require.Len(t, cc.states, 1, "reported synchronously in Build")
		assert.Equal(t, []resolver.Address{{Addr: tgt.Endpoint}}, cc.states[0].Addresses)

		r.ResolveNow()
		r.Close()
		assert.Len(t, cc.states, 1, "nothing more after ResolveNow and Close")
		assert.Empty(t, cc.errs)
	}
}

func TestBuildEmptyEndpoint(t *testing.T) {
	cc := &recordingCC{}
	_, err := NewBuilder().Build(resolver.Target{Scheme: Scheme}, cc, resolver.BuildOptions{})
	assert.Error(t, err)
	assert.Empty(t, cc.states)
}

package balancer

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

type fakeBuilder struct{ name string }

func (b fakeBuilder) Build(ClientConn, BuildOptions) Balancer { return nil }
func (b fakeBuilder) Name() string                            { return b.name }

func TestRegistry(t *testing.T) {
	assert.Nil(t, Get("no_such_policy"))
	Register(fakeBuilder{"Test_Policy"})
	t.Cleanup(func() { Unregister("test_policy") })
	assert.Equal(t, fakeBuilder{"Test_Policy"}, Get("test_policy"))
	assert.Equal(t, fakeBuilder{"Test_Policy"}, Get("TEST_POLICY"))

	Register(fakeBuilder{"test_policy"})
	assert.Equal(t, fakeBuilder{"test_policy"}, Get("Test_Policy"))
	Unregister("Test_Policy")
	assert.Nil(t, Get("test_policy"))
}

func TestErrPicker(t *testing.T) {
	err := errors.New("down")
	for range 3 {
		res, got := NewErrPicker(err).Pick(PickInfo{FullMethod: "/s/m"})
		assert.Same(t, err, got)
		assert.Nil(t, res.SubConn)
	}
	_, got := NewErrPicker(ErrNoSubConnAvailable).Pick(PickInfo{})
	assert.ErrorIs(t, got, ErrNoSubConnAvailable)
}

func TestPickerFunc(t *testing.T) {
	var seen string
	p := PickerFunc(func(info PickInfo) (PickResult, error) {
		seen = info.FullMethod
		return PickResult{}, nil
	})
	_, err := p.Pick(PickInfo{FullMethod: "/pkg.S/M"})
	assert.NoError(t, err)
	assert.Equal(t, "/pkg.S/M", seen)
}

package metadata

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNew(t *testing.T) {
	md := New(map[string]string{"Key-One": "a", "key-two": "b"})
	assert.Equal(t, MD{"key-one": {"a"}, "key-two": {"b"}}, md)
	assert.Equal(t, MD{}, New(nil))
}

func TestPairs(t *testing.T) {
	md := Pairs("A", "1", "b", "2", "a", "3")
	assert.Equal(t, MD{"a": {"1", "3"}, "b": {"2"}}, md)
	assert.Equal(t, MD{}, Pairs())
	//lint:ignore SA5012 the odd count is what this checks
	assert.Panics(t, func() { Pairs("a") })
	//lint:ignore SA5012 the odd count is what this checks
	assert.Panics(t, func() { Pairs("a", "1", "b") })
}

func TestMethods(t *testing.T) {
	md := Pairs("k", "v")
	assert.Equal(t, 1, md.Len())
	assert.Equal(t, []string{"v"}, md.Get("K"))
	assert.Nil(t, md.Get("missing"))

	md.Set("K", "x", "y")
	assert.Equal(t, []string{"x", "y"}, md.Get("k"))
	md.Set("k") // no values: no change
	assert.Equal(t, []string{"x", "y"}, md.Get("k"))

	md.Append("K", "z")
	assert.Equal(t, []string{"x", "y", "z"}, md["k"])
	md.Append("new")
	_, ok := md["new"]
	assert.False(t, ok, "appending nothing must not create a key")
	md.Append("New", "1")
	assert.Equal(t, []string{"1"}, md["new"])

	md.Delete("NEW")
	assert.Nil(t, md.Get("new"))
	assert.Equal(t, 1, md.Len())
}

func TestCopyIsDeep(t *testing.T) {
	md := Pairs("k", "v1", "k", "v2")
	cp := md.Copy()
	assert.Equal(t, md, cp)
	cp["k"][0] = "changed"
	cp.Append("k", "v3")
	cp.Set("other", "x")
	assert.Equal(t, MD{"k": {"v1", "v2"}}, md)
	assert.Equal(t, MD{}, MD(nil).Copy())
	assert.Equal(t, MD{"k": {"v"}}, MD{"K": {"v"}}.Copy())
}

func TestJoin(t *testing.T) {
	a := Pairs("k", "1", "a", "x")
	b := Pairs("k", "2")
	c := MD{"K": {"3"}}
	j := Join(a, nil, b, c)
	assert.Equal(t, MD{"k": {"1", "2", "3"}, "a": {"x"}}, j)
	j["k"][0] = "changed"
	assert.Equal(t, []string{"1"}, a["k"], "Join must not alias its inputs")
	assert.Equal(t, MD{}, Join())
}

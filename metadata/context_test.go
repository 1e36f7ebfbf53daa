package metadata

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIncomingContext(t *testing.T) {
	ctx := context.Background()
	md, ok := FromIncomingContext(ctx)
	assert.False(t, ok)
	assert.Nil(t, md)
	assert.Nil(t, ValueFromIncomingContext(ctx, "k"))

	in := MD{"k": {"v"}, "Upper": {"u"}}
	ctx = NewIncomingContext(ctx, in)
	md, ok = FromIncomingContext(ctx)
	require.True(t, ok)
	assert.Equal(t, MD{"k": {"v"}, "upper": {"u"}}, md)

	md["k"][0] = "changed"
	md.Set("x", "y")
	assert.Equal(t, MD{"k": {"v"}, "Upper": {"u"}}, in, "FromIncomingContext must copy")

	assert.Equal(t, []string{"v"}, ValueFromIncomingContext(ctx, "K"))
	assert.Equal(t, []string{"u"}, ValueFromIncomingContext(ctx, "upper"))
	assert.Nil(t, ValueFromIncomingContext(ctx, "missing"))
	v := ValueFromIncomingContext(ctx, "k")
	v[0] = "changed"
	assert.Equal(t, "v", in["k"][0], "ValueFromIncomingContext must copy")
}

func TestOutgoingContext(t *testing.T) {
	ctx := context.Background()
	_, ok := FromOutgoingContext(ctx)
	assert.False(t, ok)
	_, _, ok = FromOutgoingContextRaw(ctx)
	assert.False(t, ok)

	base := Pairs("a", "1")
	ctx = NewOutgoingContext(ctx, base)
	ctx1 := AppendToOutgoingContext(ctx, "B", "2", "a", "3")
	ctx2 := AppendToOutgoingContext(ctx1, "c", "4")
	sibling := AppendToOutgoingContext(ctx1, "d", "5")

	md, ok := FromOutgoingContext(ctx2)
	require.True(t, ok)
	assert.Equal(t, MD{"a": {"1", "3"}, "b": {"2"}, "c": {"4"}}, md)
	md.Append("a", "x")
	assert.Equal(t, MD{"a": {"1"}}, base, "FromOutgoingContext must copy")

	md, _ = FromOutgoingContext(sibling)
	assert.Equal(t, MD{"a": {"1", "3"}, "b": {"2"}, "d": {"5"}}, md, "siblings must not see each other")

	raw, added, ok := FromOutgoingContextRaw(ctx2)
	require.True(t, ok)
	assert.Equal(t, base, raw)
	assert.Equal(t, [][]string{{"b", "2", "a", "3"}, {"c", "4"}}, added)

	// NewOutgoingContext replaces everything, appended pairs included.
	ctx3 := NewOutgoingContext(ctx2, Pairs("z", "9"))
	md, _ = FromOutgoingContext(ctx3)
	assert.Equal(t, MD{"z": {"9"}}, md)

	//lint:ignore SA5012 the odd count is what this checks
	assert.Panics(t, func() { AppendToOutgoingContext(ctx, "odd") })
}

func TestAppendWithoutBase(t *testing.T) {
	ctx := AppendToOutgoingContext(context.Background(), "k", "v")
	md, ok := FromOutgoingContext(ctx)
	require.True(t, ok)
	assert.Equal(t, MD{"k": {"v"}}, md)
	raw, added, ok := FromOutgoingContextRaw(ctx)
	require.True(t, ok)
	assert.Nil(t, raw)
	assert.Equal(t, [][]string{{"k", "v"}}, added)
}

func TestAppendDoesNotAliasCaller(t *testing.T) {
	kv := []string{"k", "v"}
	ctx := AppendToOutgoingContext(context.Background(), kv...)
	kv[1] = "changed"
	md, _ := FromOutgoingContext(ctx)
	assert.Equal(t, []string{"v"}, md["k"])
}

func BenchmarkAppendToOutgoingContext(b *testing.B) {
	ctx := NewOutgoingContext(context.Background(), Pairs("a", "1", "b", "2", "c", "3"))
	b.ReportAllocs()
	for b.Loop() {
		_ = AppendToOutgoingContext(ctx, "k", "v")
	}
}

func BenchmarkFromOutgoingContextRaw(b *testing.B) {
	ctx := AppendToOutgoingContext(NewOutgoingContext(context.Background(), Pairs("a", "1")), "k", "v")
	b.ReportAllocs()
	for b.Loop() {
		_, _, _ = FromOutgoingContextRaw(ctx)
	}
}

package codec

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/h2rpc/h2rpc/internal/bufpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// jsonCodec is a non-proto codec for exercising the generic paths.
type jsonCodec struct{ name string }

func (c jsonCodec) Name() string                     { return c.name }
func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

type failingCodec struct{}

func (failingCodec) Name() string                { return "failing" }
func (failingCodec) Marshal(any) ([]byte, error) { return nil, errors.New("boom") }
func (failingCodec) Unmarshal([]byte, any) error { return errors.New("boom") }

func TestRegistry(t *testing.T) {
	assert.Equal(t, Codec(Proto), Get("proto"))
	assert.Equal(t, Codec(Proto), Get("PROTO"))
	assert.Nil(t, Get("nope"))
	assert.Nil(t, Get(""))

	Register(jsonCodec{name: "Test-JSON"})
	assert.Equal(t, Codec(jsonCodec{name: "Test-JSON"}), Get("test-json"))
	Register(jsonCodec{name: "test-json"})
	assert.Equal(t, Codec(jsonCodec{name: "test-json"}), Get("test-json"), "last registration wins")

	assert.Panics(t, func() { Register(nil) })
	assert.Panics(t, func() { Register(jsonCodec{}) })
}

func TestProtoRoundTrip(t *testing.T) {
	msgs := []proto.Message{
		wrapperspb.String("hello"),
		wrapperspb.Int64(-42),
		&wrapperspb.BytesValue{},
		mustStruct(t, map[string]any{"a": 1.5, "b": []any{"x", true, nil}}),
	}
	for _, m := range msgs {
		b, err := Proto.Marshal(m)
		require.NoError(t, err)
		got := m.ProtoReflect().New().Interface()
		require.NoError(t, Proto.Unmarshal(b, got))
		assert.True(t, proto.Equal(m, got), "%v", m)
	}
	assert.Equal(t, "proto", Proto.Name())
}

func TestProtoErrors(t *testing.T) {
	_, err := Proto.Marshal("not a message")
	assert.ErrorContains(t, err, "codec: proto: marshal: string is not a proto message")
	_, err = Proto.Marshal(nil)
	assert.ErrorContains(t, err, "nil message")

	err = Proto.Unmarshal([]byte{0x0a}, struct{}{})
	assert.ErrorContains(t, err, "codec: proto: unmarshal: struct {} is not a proto message")

	// Field 1, length-delimited, claims 5 bytes but has none.
	err = Proto.Unmarshal([]byte{0x0a, 0x05}, &wrapperspb.StringValue{})
	assert.ErrorContains(t, err, "codec: proto: unmarshal *wrapperspb.StringValue")

	_, _, err = MarshalWithPrefix(Proto, 42, PrefixLen)
	assert.ErrorContains(t, err, "int is not a proto message")
}

func TestMarshalWithPrefixProto(t *testing.T) {
	m := mustStruct(t, map[string]any{"name": "ann", "tags": []any{"a", "b"}})
	want, err := proto.Marshal(m)
	require.NoError(t, err)

	for _, c := range []Codec{Proto, &Proto} {
		buf, framed, err := MarshalWithPrefix(c, m, PrefixLen)
		require.NoError(t, err)
		// Map order varies between encodings, so compare lengths here and
		// contents after decoding.
		assert.Len(t, framed, PrefixLen+len(want))
		assert.Same(t, &(*buf)[0], &framed[0], "framed must live in buf")

		WritePrefix(framed, false, len(framed)-PrefixLen)
		compressed, n, err := ParsePrefix(framed)
		require.NoError(t, err)
		assert.False(t, compressed)
		assert.Equal(t, uint32(len(want)), n)
		got := &structpb.Struct{}
		require.NoError(t, Proto.Unmarshal(framed[PrefixLen:], got))
		assert.True(t, proto.Equal(m, got))
		bufpool.Put(buf)
	}
}

func TestMarshalWithPrefixExactBytes(t *testing.T) {
	m := wrapperspb.String("hi")
	buf, framed, err := MarshalWithPrefix(Proto, m, PrefixLen)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x0a, 0x02, 'h', 'i'}, framed[PrefixLen:])
	bufpool.Put(buf)
}

func TestMarshalWithPrefixEmptyMessage(t *testing.T) {
	buf, framed, err := MarshalWithPrefix(Proto, &wrapperspb.StringValue{}, PrefixLen)
	require.NoError(t, err)
	assert.Len(t, framed, PrefixLen)
	bufpool.Put(buf)

	buf, framed, err = MarshalWithPrefix(Proto, &wrapperspb.StringValue{}, 0)
	require.NoError(t, err)
	assert.Empty(t, framed)
	bufpool.Put(buf)
}

func TestMarshalWithPrefixOtherCodec(t *testing.T) {
	v := map[string]int{"a": 1}
	buf, framed, err := MarshalWithPrefix(jsonCodec{name: "json"}, v, PrefixLen)
	require.NoError(t, err)
	assert.Equal(t, `{"a":1}`, string(framed[PrefixLen:]))
	assert.Same(t, &(*buf)[0], &framed[0])
	bufpool.Put(buf)

	_, _, err = MarshalWithPrefix(failingCodec{}, v, PrefixLen)
	assert.ErrorContains(t, err, "boom")
	_, _, err = MarshalWithPrefix(Proto, wrapperspb.String("x"), -1)
	assert.Error(t, err)
}

func TestMarshalWithPrefixLargeMessage(t *testing.T) {
	m := wrapperspb.Bytes(make([]byte, bufpool.MaxPooled+10))
	buf, framed, err := MarshalWithPrefix(Proto, m, PrefixLen)
	require.NoError(t, err)
	assert.Greater(t, len(framed), bufpool.MaxPooled)
	got := &wrapperspb.BytesValue{}
	require.NoError(t, Proto.Unmarshal(framed[PrefixLen:], got))
	assert.Len(t, got.Value, bufpool.MaxPooled+10)
	bufpool.Put(buf)
}

func TestMarshalWithPrefixAllocs(t *testing.T) {
	m := wrapperspb.String(strings.Repeat("x", 100))
	run := func() {
		buf, _, err := MarshalWithPrefix(Proto, m, PrefixLen)
		if err != nil {
			t.Fatal(err)
		}
		bufpool.Put(buf)
	}
	run()
	// Sizing, encoding and the pooled buffer cost nothing in steady state;
	// sync.Pool may drop a buffer at a GC, hence the slack.
	assert.LessOrEqual(t, testing.AllocsPerRun(1000, run), 0.1)
}

func mustStruct(t *testing.T, v map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(v)
	require.NoError(t, err)
	return s
}

func BenchmarkMarshalWithPrefixProto(b *testing.B) {
	m := wrapperspb.String(strings.Repeat("x", 100))
	b.ReportAllocs()
	for b.Loop() {
		buf, _, err := MarshalWithPrefix(Proto, m, PrefixLen)
		if err != nil {
			b.Fatal(err)
		}
		bufpool.Put(buf)
	}
}

func BenchmarkProtoMarshal(b *testing.B) {
	m := wrapperspb.String(strings.Repeat("x", 100))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Proto.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProtoUnmarshal(b *testing.B) {
	data, err := Proto.Marshal(wrapperspb.String(strings.Repeat("x", 100)))
	require.NoError(b, err)
	m := &wrapperspb.StringValue{}
	b.ReportAllocs()
	for b.Loop() {
		if err := Proto.Unmarshal(data, m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProtoRoundTrip1MiB is the codec's share of one 1 MiB message
// sent and received: the marshal into a pooled frame buffer and the
// unmarshal into a message, which protobuf gives a fresh copy of the
// bytes. No transport can go below it for messages of this size.
func BenchmarkProtoRoundTrip1MiB(b *testing.B) {
	out := wrapperspb.Bytes(make([]byte, 1<<20))
	in := new(wrapperspb.BytesValue)
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		buf, framed, err := MarshalWithPrefix(Proto, out, PrefixLen)
		if err != nil {
			b.Fatal(err)
		}
		if err := Proto.Unmarshal(framed[PrefixLen:], in); err != nil {
			b.Fatal(err)
		}
		bufpool.Put(buf)
	}
}

package stream_test

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/status"
	"github.com/h2rpc/h2rpc/stream"
)

const fuzzMaxMsg = 512

// refDecode is the specification of reassembly: the messages a byte
// stream holds, whether it fails and with which code, and whether it ends
// inside a message.
func refDecode(data []byte, maxMsg int) (msgs []received, failCode codes.Code, failed, partial bool) {
	for {
		if len(data) < 5 {
			return msgs, 0, false, len(data) > 0
		}
		flag := data[0]
		size := binary.BigEndian.Uint32(data[1:5])
		if flag > 1 {
			return msgs, codes.Internal, true, false
		}
		if uint64(size) > uint64(maxMsg) {
			return msgs, codes.ResourceExhausted, true, false
		}
		if uint64(len(data)-5) < uint64(size) {
			return msgs, 0, false, true
		}
		msgs = append(msgs, received{Data: append([]byte{}, data[5:5+size]...), Compressed: flag == 1})
		data = data[5+size:]
	}
}

// chunksFrom turns fuzz bytes into chunk sizes of 1 to 32 bytes.
func chunksFrom(cuts []byte, total int) []int {
	if len(cuts) == 0 {
		return nil
	}
	var c []int
	for i, sum := 0, 0; sum < total; i++ {
		n := int(cuts[i%len(cuts)]%32) + 1
		c = append(c, n)
		sum += n
	}
	return c
}

func checkSplit(t *testing.T, data []byte, chunks []int) {
	t.Helper()
	wantMsgs, wantCode, wantFailed, wantPartial := refDecode(data, fuzzMaxMsg)

	s := new(stream.Stream)
	s.Init(1, 1<<31-1)
	res := feed(t, s, data, chunks, fuzzMaxMsg)
	partial := s.PartialMessage()
	s.ReleaseAssembly()
	if wantFailed {
		require.Len(t, res.streamErrs, 1, "chunks %v", chunks)
		st, ok := status.FromError(res.streamErrs[0])
		require.True(t, ok)
		assert.Equal(t, wantCode, st.Code())
	} else {
		require.Empty(t, res.streamErrs, "chunks %v", chunks)
	}
	assert.Equal(t, wantPartial, partial, "PartialMessage, chunks %v", chunks)
	got := drainQueue(t, s)
	assert.Equal(t, wantMsgs, got, "chunks %v", chunks)
	assert.Zero(t, s.TakeGrant(), "a window of 2^31-1 never needs a grant")
}

// FuzzReadData feeds arbitrary bytes to ReadData split at arbitrary points.
// It must never panic, must consume exactly what it is given, and must
// deliver the same messages (and the same stream error) however the bytes
// are split: all at once, byte by byte, or in the fuzzed chunks.
func FuzzReadData(f *testing.F) {
	f.Add([]byte{}, []byte{})
	f.Add(frameMsgs(msg{0, []byte("hello")}, msg{1, []byte("world")}), []byte{2, 0, 7})
	f.Add(frameMsgs(msg{0, nil}, msg{0, nil}, msg{1, nil}), []byte{0})
	f.Add(frameMsgs(msg{0, pattern(fuzzMaxMsg, 1)}), []byte{31, 3})
	f.Add(append(frameMsgs(msg{0, []byte("x")}), prefix(0, fuzzMaxMsg+1)...), []byte{5})
	f.Add(append(frameMsgs(msg{1, []byte("y")}), prefix(7, 1)...), []byte{1})
	f.Add(prefix(0, 300)[:3], []byte{0, 1})
	f.Add(append(prefix(0, 10), 1, 2, 3), []byte{4, 4})

	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		checkSplit(t, data, nil)
		checkSplit(t, data, chunksFrom(cuts, len(data)))
		if len(data) <= 2048 {
			checkSplit(t, data, repeat(1, len(data)))
		}
	})
}

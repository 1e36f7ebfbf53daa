package stream_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/h2rpc/h2rpc/stream"
)

var (
	allStates = []stream.State{stream.Idle, stream.Open, stream.HalfClosedLocal, stream.HalfClosedRemote, stream.Closed}
	allEvents = []stream.Event{stream.EvOpen, stream.EvSendEnd, stream.EvRecvEnd, stream.EvReset}
)

// invalid marks a transition the table forbids.
const invalid = stream.State(255)

// wantTransitions is RFC 9113 §5.1 without the push states, written out
// independently of the package's own table.
var wantTransitions = map[stream.State]map[stream.Event]stream.State{
	stream.Idle: {
		stream.EvOpen: stream.Open, stream.EvSendEnd: stream.HalfClosedLocal,
		stream.EvRecvEnd: stream.HalfClosedRemote, stream.EvReset: stream.Closed,
	},
	stream.Open: {
		stream.EvOpen: stream.Open, stream.EvSendEnd: stream.HalfClosedLocal,
		stream.EvRecvEnd: stream.HalfClosedRemote, stream.EvReset: stream.Closed,
	},
	stream.HalfClosedLocal: {
		stream.EvOpen: stream.HalfClosedLocal, stream.EvSendEnd: invalid,
		stream.EvRecvEnd: stream.Closed, stream.EvReset: stream.Closed,
	},
	stream.HalfClosedRemote: {
		stream.EvOpen: stream.HalfClosedRemote, stream.EvSendEnd: stream.Closed,
		stream.EvRecvEnd: invalid, stream.EvReset: stream.Closed,
	},
	stream.Closed: {
		stream.EvOpen: invalid, stream.EvSendEnd: invalid,
		stream.EvRecvEnd: invalid, stream.EvReset: stream.Closed,
	},
}

func TestNextMatchesRFC(t *testing.T) {
	for _, s := range allStates {
		for _, e := range allEvents {
			want, ok := wantTransitions[s][e]
			require.True(t, ok, "test table misses %v × %d", s, e)
			got, allowed := s.Next(e)
			if want == invalid {
				assert.False(t, allowed, "%v × %d must be refused", s, e)
				assert.Equal(t, s, got, "a refused %v × %d must leave the state", s, e)
				continue
			}
			assert.True(t, allowed, "%v × %d must be allowed", s, e)
			assert.Equal(t, want, got, "%v × %d", s, e)
		}
	}
}

// docTable parses the state table out of the package documentation, so
// that the documentation and Next cannot drift apart.
func docTable(t *testing.T) map[stream.State]map[stream.Event]stream.State {
	t.Helper()
	f, err := os.Open("doc.go")
	require.NoError(t, err)
	defer f.Close()

	states := map[string]stream.State{
		"Idle": stream.Idle, "Open": stream.Open, "HalfClosedLocal": stream.HalfClosedLocal,
		"HalfClosedRemote": stream.HalfClosedRemote, "Closed": stream.Closed, "-": invalid,
	}
	events := map[string]stream.Event{
		"Open": stream.EvOpen, "SendEnd": stream.EvSendEnd, "RecvEnd": stream.EvRecvEnd, "Reset": stream.EvReset,
	}
	var cols []stream.Event
	table := map[stream.State]map[stream.Event]stream.State{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "//\t")
		if !ok || !strings.Contains(line, "|") {
			continue
		}
		cells := strings.Split(line, "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if strings.HasPrefix(cells[0], "---") {
			continue
		}
		if cells[0] == "state" {
			for _, c := range cells[1:] {
				e, ok := events[c]
				require.True(t, ok, "unknown event column %q in doc.go", c)
				cols = append(cols, e)
			}
			continue
		}
		require.NotEmpty(t, cols, "doc.go table has rows before its header")
		from, ok := states[cells[0]]
		require.True(t, ok, "unknown state row %q in doc.go", cells[0])
		require.Len(t, cells, len(cols)+1, "row %q", cells[0])
		table[from] = map[stream.Event]stream.State{}
		for i, c := range cells[1:] {
			to, ok := states[c]
			require.True(t, ok, "unknown cell %q in row %q", c, cells[0])
			table[from][cols[i]] = to
		}
	}
	require.NoError(t, sc.Err())
	return table
}

func TestNextMatchesDocTable(t *testing.T) {
	doc := docTable(t)
	require.Len(t, doc, len(allStates), "doc.go must have one row per state")
	assert.Equal(t, wantTransitions, doc, "doc.go's table differs from RFC 9113 §5.1")
	for _, s := range allStates {
		require.Len(t, doc[s], len(allEvents), "doc.go row %v", s)
		for _, e := range allEvents {
			want := doc[s][e]
			got, allowed := s.Next(e)
			if want == invalid {
				assert.False(t, allowed, "%v × %d", s, e)
				assert.Equal(t, s, got, "%v × %d", s, e)
			} else {
				assert.True(t, allowed, "%v × %d", s, e)
				assert.Equal(t, want, got, "%v × %d", s, e)
			}
		}
	}
}

func TestStreamTransition(t *testing.T) {
	tests := []struct {
		name   string
		events []stream.Event
		want   stream.State
		oks    []bool
	}{
		{"client unary", []stream.Event{stream.EvOpen, stream.EvSendEnd, stream.EvRecvEnd}, stream.Closed, []bool{true, true, true}},
		{"server unary", []stream.Event{stream.EvOpen, stream.EvRecvEnd, stream.EvSendEnd}, stream.Closed, []bool{true, true, true}},
		{"headers with END_STREAM", []stream.Event{stream.EvRecvEnd}, stream.HalfClosedRemote, []bool{true}},
		{"second END_STREAM sent", []stream.Event{stream.EvOpen, stream.EvSendEnd, stream.EvSendEnd}, stream.HalfClosedLocal, []bool{true, true, false}},
		{"second END_STREAM received", []stream.Event{stream.EvRecvEnd, stream.EvRecvEnd}, stream.HalfClosedRemote, []bool{true, false}},
		{"reset then anything", []stream.Event{stream.EvOpen, stream.EvReset, stream.EvOpen, stream.EvSendEnd, stream.EvReset}, stream.Closed, []bool{true, true, false, false, true}},
		{"trailing headers keep half-closed", []stream.Event{stream.EvSendEnd, stream.EvOpen}, stream.HalfClosedLocal, []bool{true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s stream.Stream
			s.Init(1, 65535)
			require.Equal(t, stream.Idle, s.State())
			for i, e := range tt.events {
				got, ok := s.Transition(e)
				assert.Equal(t, tt.oks[i], ok, "event %d", i)
				assert.Equal(t, got, s.State(), "Transition must return the state it stored")
			}
			assert.Equal(t, tt.want, s.State())
		})
	}
}

func TestStateString(t *testing.T) {
	tests := []struct {
		s    stream.State
		want string
	}{
		{stream.Idle, "idle"},
		{stream.Open, "open"},
		{stream.HalfClosedLocal, "half-closed (local)"},
		{stream.HalfClosedRemote, "half-closed (remote)"},
		{stream.Closed, "closed"},
		{stream.State(42), "unknown"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.s.String())
	}
}

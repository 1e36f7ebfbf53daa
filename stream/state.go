package stream

// State is an HTTP/2 stream state.
type State uint8

// The stream states.
const (
	Idle State = iota
	Open
	HalfClosedLocal
	HalfClosedRemote
	Closed
)

var stateNames = [...]string{"idle", "open", "half-closed (local)", "half-closed (remote)", "closed"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// Event is something that moves a stream between states.
type Event uint8

// The events.
const (
	EvOpen    Event = iota // HEADERS sent or received
	EvSendEnd              // END_STREAM sent
	EvRecvEnd              // END_STREAM received
	EvReset                // RST_STREAM sent or received, or the connection ended
)

// transitions is the table in the package doc; invalid entries are -1.
var transitions = [5][4]int8{
	Idle:             {int8(Open), int8(HalfClosedLocal), int8(HalfClosedRemote), int8(Closed)},
	Open:             {int8(Open), int8(HalfClosedLocal), int8(HalfClosedRemote), int8(Closed)},
	HalfClosedLocal:  {int8(HalfClosedLocal), -1, int8(Closed), int8(Closed)},
	HalfClosedRemote: {int8(HalfClosedRemote), int8(Closed), -1, int8(Closed)},
	Closed:           {-1, -1, -1, int8(Closed)},
}

// Next returns the state after e, and false if e is not allowed in s.
func (s State) Next(e Event) (State, bool) {
	n := transitions[s][e]
	if n < 0 {
		return s, false
	}
	return State(n), true
}

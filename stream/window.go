package stream

// maxWindow is the largest flow-control window HTTP/2 allows.
const maxWindow = 1<<31 - 1

// window is a stream's inbound flow-control window: how much more the
// peer may send (avail), and the credit the application has returned but
// we have not yet told the peer about (pending).
type window struct {
	limit   int64 // the window we advertise
	avail   int64 // bytes the peer may still send
	pending int64 // consumed bytes not yet returned with WINDOW_UPDATE
	debt    int64 // extra window granted ahead for a large message
}

// OnData accounts for n bytes of DATA (padding included) received. It
// reports false if they exceed the window: a FLOW_CONTROL_ERROR.
func (s *Stream) OnData(n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if int64(n) > s.window.avail {
		return false
	}
	s.window.avail -= int64(n)
	return true
}

// Consumed returns n bytes of credit (message bytes the application took,
// or padding and discarded bytes) and returns the WINDOW_UPDATE increment
// to send now, or 0.
func (s *Stream) Consumed(n int) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.consumedLocked(n)
}

func (s *Stream) consumedLocked(n int) uint32 {
	w := &s.window
	k := int64(n)
	if w.debt > 0 {
		paid := min(w.debt, k)
		w.debt -= paid
		k -= paid
	}
	w.pending += k
	if w.pending > 0 && w.pending >= w.limit/4 {
		upd := w.pending
		w.avail += upd
		w.pending = 0
		return uint32(upd)
	}
	return 0
}

// grant makes room for `need` more bytes of a message that does not fit
// in what the peer may still send: a message cannot be handed to the
// application, and so cannot free window, until it is whole. The returned
// increment covers the shortfall plus pending credit; the shortfall is
// remembered as debt and not returned again when the message is consumed.
func (w *window) grant(need int) uint32 {
	short := int64(need) - w.avail
	// The peer's window may not pass 2^31-1 (RFC 9113 §6.9.1). That still
	// covers any message up to 2^31-1 bytes; what is held back is pending
	// credit, returned as messages are consumed.
	short = min(short, maxWindow-w.avail-w.pending)
	if short <= 0 {
		return 0
	}
	upd := short + w.pending
	w.avail += upd
	w.pending = 0
	w.debt += short
	return uint32(upd)
}

// GrowWindow raises the stream's window by delta, as a larger
// SETTINGS_INITIAL_WINDOW_SIZE we advertise does.
func (s *Stream) GrowWindow(delta int) {
	s.mu.Lock()
	s.window.limit += int64(delta)
	s.window.avail += int64(delta)
	s.mu.Unlock()
}

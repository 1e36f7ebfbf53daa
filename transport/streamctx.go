package transport

import (
	"context"
	"sync"
	"time"
)

// streamCtx makes a server stream its own context.Context: cancelled when
// the stream ends, the client resets it, the connection closes, or the
// request's deadline passes. It costs one channel (and a timer when the
// request has a deadline) instead of a chain of context.With* values, and
// it implements AfterFunc so that contexts derived from it, and
// context.AfterFunc on it, need no goroutine.
type streamCtx struct {
	parent   context.Context // the connection's context, for Value
	deadline time.Time
	timer    *time.Timer

	mu     sync.Mutex
	done   chan struct{}
	err    error
	after  []*afterFunc
	attach any // the server's per-call state, see Attachment
	// owner is the stream the deadline ends (see watchDeadline); expired
	// records that the deadline passed, so that a stream handed over
	// after that is ended at once. Both guarded by mu.
	owner   *Stream
	expired bool
}

type afterFunc struct {
	f       func()
	stopped bool
}

func (c *streamCtx) init(parent context.Context, timeout time.Duration, hasTimeout bool) {
	c.parent = parent
	c.done = make(chan struct{})
	if hasTimeout {
		c.deadline = time.Now().Add(timeout)
		c.mu.Lock()
		c.timer = time.AfterFunc(timeout, c.expire)
		c.mu.Unlock()
	}
}

// expire runs when the deadline passes. The stream, if it has been handed
// over, ends first, so that a handler which sees the context done finds
// its sends refused too.
func (c *streamCtx) expire() {
	c.mu.Lock()
	c.expired = true
	s := c.owner
	c.mu.Unlock()
	if s != nil {
		s.deadlineExceeded()
	}
	c.cancel(context.DeadlineExceeded)
}

// watch makes the deadline end s from now on; it reports whether the
// deadline has passed already.
func (c *streamCtx) watch(s *Stream) (expired bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.owner = s
	return c.expired
}

// Deadline implements context.Context.
func (c *streamCtx) Deadline() (time.Time, bool) { return c.deadline, !c.deadline.IsZero() }

// Done implements context.Context.
func (c *streamCtx) Done() <-chan struct{} { return c.done }

// Err implements context.Context.
func (c *streamCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Value implements context.Context.
func (c *streamCtx) Value(key any) any {
	if key == (attachmentKey{}) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.attach
	}
	return c.parent.Value(key)
}

// AfterFunc runs f on its own goroutine once the context is done, like
// context.AfterFunc; the context package uses it to propagate
// cancellation to derived contexts without a goroutine.
func (c *streamCtx) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	c.after = append(c.after, a)
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if a.stopped || c.err != nil {
			return false
		}
		a.stopped = true
		return true
	}
}

// cancel ends the context with err (the first call wins).
func (c *streamCtx) cancel(err error) {
	c.mu.Lock()
	if c.err != nil || c.done == nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	close(c.done)
	if c.timer != nil {
		c.timer.Stop()
	}
	after := c.after
	c.after = nil
	c.mu.Unlock()
	for _, a := range after {
		if !a.stopped {
			go a.f()
		}
	}
}

// attachmentKey finds a stream's attachment through its context.
type attachmentKey struct{}

// SetAttachment stores the caller's per-call state on the stream; Value
// returns it for AttachmentFrom.
func (s *Stream) SetAttachment(v any) {
	s.sctx.mu.Lock()
	s.sctx.attach = v
	s.sctx.mu.Unlock()
}

// AttachmentFrom returns what SetAttachment stored on the server stream
// whose context (or a context derived from it) is ctx.
func AttachmentFrom(ctx context.Context) any { return ctx.Value(attachmentKey{}) }

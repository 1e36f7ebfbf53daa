package transport

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestStreamCtxCancelPropagates(t *testing.T) {
	var c streamCtx
	c.init(context.WithValue(context.Background(), testKey{}, "v"), 0, false)
	assert.Equal(t, "v", c.Value(testKey{}))
	_, has := c.Deadline()
	assert.False(t, has)

	// A derived context follows without a goroutine of its own; goleak in
	// TestMain would catch one.
	child, cancel := context.WithTimeout(&c, time.Hour)
	defer cancel()
	fired := make(chan struct{})
	stop := context.AfterFunc(&c, func() { close(fired) })
	stopped := make(chan struct{})
	stop2 := context.AfterFunc(&c, func() { close(stopped) })
	assert.True(t, stop2())

	c.cancel(context.Canceled)
	<-child.Done()
	<-fired
	assert.ErrorIs(t, child.Err(), context.Canceled)
	assert.ErrorIs(t, c.Err(), context.Canceled)
	assert.False(t, stop())
	select {
	case <-stopped:
		t.Fatal("a stopped AfterFunc ran")
	case <-time.After(10 * time.Millisecond):
	}
	c.cancel(context.DeadlineExceeded) // the first cause stays
	assert.ErrorIs(t, c.Err(), context.Canceled)
}

func TestStreamCtxDeadline(t *testing.T) {
	var c streamCtx
	c.init(context.Background(), 20*time.Millisecond, true)
	d, has := c.Deadline()
	assert.True(t, has)
	assert.WithinDuration(t, time.Now().Add(20*time.Millisecond), d, 15*time.Millisecond)
	<-c.Done()
	assert.ErrorIs(t, c.Err(), context.DeadlineExceeded)
}

type testKey struct{}

package e2e

import (
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/client"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestIdleProbe(t *testing.T) {
	if os.Getenv("IDLE_PROBE") == "" {
		t.Skip("manual probe")
	}
	runtime.MemProfileRate = 1
	addr := startServer(t)
	var ccs []*client.ClientConn
	for range 500 {
		cc := dial(t, addr)
		cc.Invoke(context.Background(), "/test.Echo/Unary", wrapperspb.String("x"), new(wrapperspb.StringValue))
		ccs = append(ccs, cc)
	}
	time.Sleep(100 * time.Millisecond)
	runtime.GC()
	f, _ := os.Create("/tmp/idle/heap.out")
	pprof.WriteHeapProfile(f)
	f.Close()
	_ = ccs
}

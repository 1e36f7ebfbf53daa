package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Workload kinds.
const (
	kindUnary        = "unary"
	kindPingPong     = "pingpong"
	kindServerStream = "sstream"
	kindClientStream = "cstream"
	kindConnSetup    = "connsetup"
	kindIdle         = "idle" // measured by idle.go, in child processes
)

// A workload is one load shape, run identically for every pair.
type workload struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Size        int    `json:"size"`        // payload bytes per message
	Concurrency int    `json:"concurrency"` // workers, each with one call or stream in flight
	Conns       int    `json:"conns"`       // client connections the workers share
	Unit        string `json:"unit"`        // what one operation is
	quick       bool   // part of -quick
}

// bytesPerOp is the payload an operation moves, both ways counted.
func (w workload) bytesPerOp() int {
	switch w.Kind {
	case kindUnary, kindPingPong:
		return 2 * w.Size
	case kindServerStream, kindClientStream:
		return w.Size
	}
	return 0
}

// waveBound reports whether w puts more than 1 GiB in flight at once
// (unary 1 MiB at c=1024): its calls, started together, complete in
// waves of seconds, and it is measured as one wave (see runLoad).
func (w workload) waveBound() bool {
	return w.Concurrency*w.bytesPerOp() > 1<<30
}

// A pair is a client implementation talking to a server implementation.
type pair struct {
	ID     string `json:"id"`    // -pairs filter name
	Label  string `json:"label"` // client→server
	Client string `json:"client"`
	Server string `json:"server"`
}

// allPairs in the order each round runs them. The first two are the pairs
// the ratio columns compare.
var allPairs = []pair{
	{"h2rpc", "h2rpc→h2rpc", "h2rpc", "h2rpc"},
	{"grpc", "grpc→grpc", "grpc", "grpc"},
	{"h2rpc-grpc", "h2rpc→grpc", "h2rpc", "grpc"},
	{"grpc-h2rpc", "grpc→h2rpc", "grpc", "h2rpc"},
	{"raw", "raw TCP", "raw", "raw"},
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// allWorkloads lists the full run, in order. quickNames marks the -quick
// subset.
func allWorkloads() []workload {
	quickNames := map[string]bool{
		"unary-100B-c1": true, "unary-1KiB-c128": true, "unary-64KiB-c16": true,
		"pingpong-1KiB-s1": true, "sstream-16KiB": true, "cstream-1KiB": true,
		"connsetup": true, "idle": true,
	}
	var ws []workload
	add := func(w workload) {
		w.quick = quickNames[w.Name]
		ws = append(ws, w)
	}
	for _, size := range []int{0, 100, 1 << 10, 64 << 10, 1 << 20} {
		for _, c := range []int{1, 16, 128, 1024} {
			add(workload{Name: fmt.Sprintf("unary-%s-c%d", sizeName(size), c), Kind: kindUnary, Size: size, Concurrency: c, Conns: 1, Unit: "RPC"})
		}
		add(workload{Name: fmt.Sprintf("unary-%s-c128x8", sizeName(size)), Kind: kindUnary, Size: size, Concurrency: 128, Conns: 8, Unit: "RPC"})
	}
	for _, s := range []int{1, 64} {
		add(workload{Name: fmt.Sprintf("pingpong-1KiB-s%d", s), Kind: kindPingPong, Size: 1 << 10, Concurrency: s, Conns: 1, Unit: "round trip"})
	}
	for _, size := range []int{16 << 10, 1 << 20} {
		add(workload{Name: "sstream-" + sizeName(size), Kind: kindServerStream, Size: size, Concurrency: 1, Conns: 1, Unit: "msg"})
	}
	add(workload{Name: "cstream-1KiB", Kind: kindClientStream, Size: 1 << 10, Concurrency: 1, Conns: 1, Unit: "msg"})
	add(workload{Name: "connsetup", Kind: kindConnSetup, Concurrency: 1, Conns: 1, Unit: "conn"})
	add(workload{Name: "idle", Kind: kindIdle, Unit: "idle conn"})
	return ws
}

// matchAny reports whether name or kind matches one of the comma-separated
// glob patterns; an empty filter matches everything.
func matchAny(filter, name, kind string) bool {
	if filter == "" {
		return true
	}
	for _, pat := range strings.Split(filter, ",") {
		pat = strings.TrimSpace(pat)
		if pat == kind || pat == name {
			return true
		}
		if ok, _ := path.Match(pat, name); ok {
			return true
		}
	}
	return false
}

// A fixture is one pair set up for one workload: a server, its client
// connections and one operation function per worker. A worker's function
// is only ever called by that worker.
type fixture struct {
	workers []func() error
	cleanup func()
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// prepare sets up pair p for workload w. Cancelling ctx ends every call the
// fixture makes, cleanup included.
func prepare(ctx context.Context, w workload, p pair) (*fixture, error) {
	if p.Client == "raw" {
		return prepareRaw(ctx, w)
	}
	srv, cli := runtimes[p.Server], runtimes[p.Client]
	addr, stop, err := srv.serve()
	if err != nil {
		return nil, err
	}
	f := &fixture{workers: make([]func() error, w.Concurrency)}
	if w.Kind == kindConnSetup {
		req, resp := wrapperspb.Bytes(nil), new(wrapperspb.BytesValue)
		for i := range f.workers {
			f.workers[i] = func() error {
				c, err := cli.dial(addr)
				if err != nil {
					return err
				}
				err = c.invoke(ctx, methodUnary, req, resp)
				if cerr := c.close(); err == nil {
					err = cerr
				}
				return err
			}
		}
		f.cleanup = stop
		return f, nil
	}
	var conns []rpcConn
	var dones []func()
	f.cleanup = func() {
		for _, d := range dones {
			d()
		}
		for _, c := range conns {
			c.close()
		}
		stop()
	}
	for range w.Conns {
		c, err := cli.dial(addr)
		if err != nil {
			f.cleanup()
			return nil, err
		}
		conns = append(conns, c)
	}
	data := payload(w.Size)
	for i := range f.workers {
		op, done, err := rpcWorker(ctx, w, conns[i%len(conns)], data)
		if err != nil {
			f.cleanup()
			return nil, fmt.Errorf("bench: setting up worker %d: %w", i, err)
		}
		f.workers[i] = op
		if done != nil {
			dones = append(dones, done)
		}
	}
	return f, nil
}

// streamBatch is how many size-byte messages one server-streaming call
// asks for: about 64 MiB, and at least 8. The workload measures a stream's
// steady throughput, as raw TCP bulk does; each call's opening round trip
// and its drain to the status cost the pipeline a message or two, which
// in short calls would weigh on the figure as much as the transfer.
func streamBatch(size int) int { return max(8, (64<<20)/max(size, 1)) }

// rpcWorker returns one worker's operation for workload w over c, and a
// function that finishes whatever call the worker left open.
func rpcWorker(ctx context.Context, w workload, c rpcConn, data []byte) (op func() error, done func(), err error) {
	req, resp := wrapperspb.Bytes(data), new(wrapperspb.BytesValue)
	checkLen := func(want int) error {
		if len(resp.Value) != want {
			return fmt.Errorf("bench: got %d payload bytes, want %d", len(resp.Value), want)
		}
		return nil
	}
	switch w.Kind {
	case kindUnary:
		return func() error {
			if err := c.invoke(ctx, methodUnary, req, resp); err != nil {
				return err
			}
			return checkLen(w.Size)
		}, nil, nil

	case kindPingPong:
		st, err := c.stream(ctx, methodPingPong, true, true)
		if err != nil {
			return nil, nil, err
		}
		op = func() error {
			if err := st.SendMsg(req); err != nil {
				return err
			}
			if err := st.RecvMsg(resp); err != nil {
				return err
			}
			return checkLen(w.Size)
		}
		done = func() {
			st.CloseSend()
			st.RecvMsg(resp)
		}
		return op, done, nil

	case kindServerStream:
		// One operation receives one message; a stream asks for a batch
		// (streamBatch) and is drained to its status before the next.
		batch := streamBatch(w.Size)
		var st rpcStream
		left := 0
		open := func() error {
			s, err := c.stream(ctx, methodServerStream, false, true)
			if err != nil {
				return err
			}
			if err := s.SendMsg(streamRequest(batch, w.Size)); err != nil {
				return err
			}
			st, left = s, batch
			return s.CloseSend()
		}
		end := new(wrapperspb.BytesValue)
		op = func() error {
			if st == nil {
				if err := open(); err != nil {
					return err
				}
			}
			if err := st.RecvMsg(resp); err != nil {
				return err
			}
			if err := checkLen(w.Size); err != nil {
				return err
			}
			if left--; left == 0 {
				s := st
				st = nil
				return drainStatus(s, end)
			}
			return nil
		}
		done = func() {
			for st != nil && left > 0 {
				if st.RecvMsg(resp) != nil {
					return
				}
				left--
			}
			if st != nil {
				drainStatus(st, end)
			}
		}
		return op, done, nil

	case kindClientStream:
		// One operation sends one message; every 1000 messages the stream
		// is half-closed and its summary checked.
		const batch = 1000
		var st rpcStream
		sent := 0
		closeBatch := func() error {
			s, n := st, sent
			st, sent = nil, 0
			if err := s.CloseSend(); err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			if err := s.RecvMsg(resp); err != nil {
				return err
			}
			if len(resp.Value) != 16 || int(be64(resp.Value)) != n {
				return fmt.Errorf("bench: client stream summary %x, want %d messages", resp.Value, n)
			}
			return nil
		}
		op = func() error {
			if st == nil {
				s, err := c.stream(ctx, methodClientStream, true, false)
				if err != nil {
					return err
				}
				st = s
			}
			if err := st.SendMsg(req); err != nil {
				return err
			}
			if sent++; sent == batch {
				return closeBatch()
			}
			return nil
		}
		done = func() {
			if st != nil {
				closeBatch()
			}
		}
		return op, done, nil
	}
	return nil, nil, fmt.Errorf("bench: unknown workload kind %q", w.Kind)
}

// drainStatus reads the end of a server stream: it must be io.EOF (OK).
func drainStatus(st rpcStream, m *wrapperspb.BytesValue) error {
	if err := st.RecvMsg(m); !errors.Is(err, io.EOF) {
		return fmt.Errorf("bench: stream did not end with OK after its batch: %v", err)
	}
	return nil
}

func be64(b []byte) uint64 {
	var v uint64
	for _, c := range b[:8] {
		v = v<<8 | uint64(c)
	}
	return v
}

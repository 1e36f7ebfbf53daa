package main

// The raw TCP baseline: the same message bytes as gRPC puts on the wire (a
// 5-byte length prefix and the proto encoding of the BytesValue), with no
// HTTP/2, no headers and no multiplexing. It is what moving the bytes costs
// on this machine, a floor for both runtimes, not a competitor.
//
// Protocol: the client's first byte picks the connection's mode.
//   'E' echo: the server writes back every frame it reads.
//   'S' bulk to the client: each 16-byte request (count, size) is answered
//       by count frames of size payload bytes.
//   'C' bulk to the server: each 16-byte request (count, size) is followed
//       by count frames; the server reads them and answers one byte.
// Having no multiplexing, the baseline gives every worker a connection of
// its own whatever the workload's connection count.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	rawEcho       = 'E'
	rawToClient   = 'S'
	rawFromClient = 'C'
	rawBufSize    = 32 << 10
)

// rawServer serves the raw protocol on a fresh loopback listener.
type rawServer struct {
	lis   net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func startRaw() (*rawServer, error) {
	lis, err := listen()
	if err != nil {
		return nil, err
	}
	s := &rawServer{lis: lis, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *rawServer) addr() string { return s.lis.Addr().String() }

func (s *rawServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.lis.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.conns == nil {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			serveRaw(c)
			c.Close()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// stop closes the listener and every connection and waits for their
// goroutines.
func (s *rawServer) stop() {
	s.lis.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.wg.Wait()
}

// serveRaw runs one connection until it fails or the client closes it.
func serveRaw(c net.Conn) {
	var mode [1]byte
	if _, err := io.ReadFull(c, mode[:]); err != nil {
		return
	}
	switch mode[0] {
	case rawEcho:
		// No bufio: an idle echo connection should cost only its
		// goroutine and a small buffer.
		buf := make([]byte, 512)
		for {
			var err error
			if buf, err = readEcho(c, buf); err != nil {
				return
			}
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	case rawToClient:
		br := bufio.NewReaderSize(c, rawBufSize)
		var req [16]byte
		var frame []byte
		frameSize := -1 // the payload size frame was built for
		for {
			if _, err := io.ReadFull(br, req[:]); err != nil {
				return
			}
			count, size := binary.BigEndian.Uint64(req[:8]), int(binary.BigEndian.Uint64(req[8:]))
			if size != frameSize {
				frame, frameSize = rawFrame(size), size
			}
			for range count {
				if _, err := c.Write(frame); err != nil {
					return
				}
			}
		}
	case rawFromClient:
		br := bufio.NewReaderSize(c, rawBufSize)
		var req [16]byte
		var buf []byte
		for {
			if _, err := io.ReadFull(br, req[:]); err != nil {
				return
			}
			for range binary.BigEndian.Uint64(req[:8]) {
				var err error
				if buf, err = readFrame(br, buf); err != nil {
					return
				}
			}
			if _, err := c.Write([]byte{1}); err != nil {
				return
			}
		}
	}
}

// rawFrame is one framed message as gRPC would put it on the wire for a
// BytesValue of size payload bytes.
func rawFrame(size int) []byte {
	body, err := proto.Marshal(wrapperspb.Bytes(payload(size)))
	if err != nil {
		panic(err)
	}
	f := make([]byte, 5, 5+len(body))
	binary.BigEndian.PutUint32(f[1:], uint32(len(body)))
	return append(f, body...)
}

// readFrame reads one frame into buf (grown as needed) and returns it.
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	if cap(buf) < 5 {
		buf = make([]byte, 5, 512)
	}
	buf = buf[:5]
	if _, err := io.ReadFull(r, buf); err != nil {
		return buf, err
	}
	n := 5 + int(binary.BigEndian.Uint32(buf[1:5]))
	if cap(buf) < n {
		buf = append(buf, make([]byte, n-len(buf))...)
	}
	buf = buf[:n]
	_, err := io.ReadFull(r, buf[5:])
	return buf, err
}

// dialRaw connects and picks the connection's mode.
func dialRaw(ctx context.Context, addr string, mode byte) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte{mode}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// readEcho reads one frame from a connection that carries one frame at a
// time (either side of an echo), into buf or a larger buffer it returns.
// Its first read asks for all the room buf has, so a frame that has
// arrived whole costs one system call, header and body together, as it
// does for the gRPC runtimes, which read through a buffer.
func readEcho(c io.Reader, buf []byte) ([]byte, error) {
	if cap(buf) < 5 {
		buf = make([]byte, 512)
	}
	buf = buf[:cap(buf)]
	k, err := io.ReadAtLeast(c, buf, 5)
	if err != nil {
		return buf[:k], err
	}
	n := 5 + int(binary.BigEndian.Uint32(buf[1:5]))
	if k > n {
		return buf[:k], fmt.Errorf("bench: raw echo peer sent %d bytes past its frame", k-n)
	}
	if cap(buf) < n {
		buf = append(buf[:k], make([]byte, n-k)...)
	}
	buf = buf[:n]
	if _, err = io.ReadFull(c, buf[k:]); err == io.EOF {
		err = io.ErrUnexpectedEOF // part of the frame came
	}
	return buf, err
}

// rawRoundTrip writes frame and reads the echoed frame into buf.
func rawRoundTrip(c net.Conn, frame, buf []byte) error {
	if _, err := c.Write(frame); err != nil {
		return err
	}
	got, err := readEcho(c, buf)
	if err == nil && len(got) != len(frame) {
		err = fmt.Errorf("bench: raw echo returned %d bytes, want %d", len(got), len(frame))
	}
	return err
}

// prepareRaw sets up the raw baseline for workload w.
func prepareRaw(ctx context.Context, w workload) (*fixture, error) {
	s, err := startRaw()
	if err != nil {
		return nil, err
	}
	f := &fixture{workers: make([]func() error, w.Concurrency)}
	var conns []net.Conn
	f.cleanup = func() {
		for _, c := range conns {
			c.Close()
		}
		s.stop()
	}
	if w.Kind == kindConnSetup {
		frame, buf := rawFrame(0), make([]byte, 5)
		for i := range f.workers {
			f.workers[i] = func() error {
				c, err := dialRaw(ctx, s.addr(), rawEcho)
				if err != nil {
					return err
				}
				err = rawRoundTrip(c, frame, buf)
				if cerr := c.Close(); err == nil {
					err = cerr
				}
				return err
			}
		}
		return f, nil
	}
	mode := map[string]byte{kindUnary: rawEcho, kindPingPong: rawEcho, kindServerStream: rawToClient, kindClientStream: rawFromClient}[w.Kind]
	if mode == 0 {
		f.cleanup()
		return nil, fmt.Errorf("bench: no raw baseline for workload kind %q", w.Kind)
	}
	frame := rawFrame(w.Size)
	for i := range f.workers {
		c, err := dialRaw(ctx, s.addr(), mode)
		if err != nil {
			f.cleanup()
			return nil, err
		}
		conns = append(conns, c)
		f.workers[i] = rawWorker(w, c, frame)
	}
	return f, nil
}

// rawWorker mirrors rpcWorker: same operation, same batching.
func rawWorker(w workload, c net.Conn, frame []byte) func() error {
	buf := make([]byte, len(frame))
	switch w.Kind {
	case kindServerStream:
		batch := streamBatch(w.Size)
		br := bufio.NewReaderSize(c, rawBufSize)
		left := 0
		return func() error {
			if left == 0 {
				if _, err := c.Write(rawRequest(batch, w.Size)); err != nil {
					return err
				}
				left = batch
			}
			var err error
			if buf, err = readFrame(br, buf); err != nil {
				return err
			}
			left--
			return nil
		}
	case kindClientStream:
		const batch = 1000
		bw := bufio.NewWriterSize(c, rawBufSize)
		sent := 0
		var ack [1]byte
		return func() error {
			if sent == 0 {
				if _, err := bw.Write(rawRequest(batch, w.Size)); err != nil {
					return err
				}
			}
			if _, err := bw.Write(frame); err != nil {
				return err
			}
			if sent++; sent < batch {
				return nil
			}
			sent = 0
			if err := bw.Flush(); err != nil {
				return err
			}
			if _, err := io.ReadFull(c, ack[:]); err != nil {
				return errors.Join(errors.New("bench: raw client stream: no ack"), err)
			}
			return nil
		}
	}
	return func() error { return rawRoundTrip(c, frame, buf) }
}

func rawRequest(count, size int) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(count))
	return binary.BigEndian.AppendUint64(b, uint64(size))
}

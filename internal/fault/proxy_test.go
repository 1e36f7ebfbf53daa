package fault

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// proxy forwards the connections its listener accepts to a backend.
// freeze makes the connections it has so far stop forwarding in both
// directions while their sockets stay open, as a dead route or a hung
// middlebox would: nothing more is delivered or even read, so the peers'
// writes pile up in socket buffers. Connections accepted later forward
// normally.
type proxy struct {
	lis         net.Listener
	dialBackend func() (net.Conn, error)
	done        chan struct{} // closed by close

	mu     sync.Mutex
	links  []*link
	closed bool
	wg     sync.WaitGroup // the accept loop and every copier
}

// link is one proxied connection.
type link struct {
	front, back net.Conn
	frozen      chan struct{} // closed by freeze
	freezeOnce  sync.Once
}

// startTCPProxy proxies a fresh 127.0.0.1 port to backend until the test
// ends.
func startTCPProxy(t *testing.T, backend string) *proxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return startProxy(t, lis, func() (net.Conn, error) { return net.Dial("tcp", backend) })
}

// startProxy proxies lis to what dialBackend connects to until the test
// ends.
func startProxy(t *testing.T, lis net.Listener, dialBackend func() (net.Conn, error)) *proxy {
	p := &proxy{lis: lis, dialBackend: dialBackend, done: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.lis.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		front, err := p.lis.Accept()
		if err != nil {
			return
		}
		back, err := p.dialBackend()
		if err != nil {
			front.Close()
			continue
		}
		l := &link{front: front, back: back, frozen: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			front.Close()
			back.Close()
			return
		}
		p.links = append(p.links, l)
		p.wg.Add(2)
		p.mu.Unlock()
		go p.copy(l, back, front)
		go p.copy(l, front, back)
	}
}

// copy forwards src to dst until either fails or the link freezes; then
// it drops what it has just read and reads no more until the proxy
// closes.
func (p *proxy) copy(l *link, dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		select {
		case <-l.frozen:
			<-p.done
			return
		default:
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

// freeze stops every current link from forwarding.
func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.links {
		l.freezeOnce.Do(func() { close(l.frozen) })
	}
}

// close stops accepting, closes every link and waits for the copiers.
func (p *proxy) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	links := p.links
	p.mu.Unlock()
	close(p.done)
	p.lis.Close()
	for _, l := range links {
		l.front.Close()
		l.back.Close()
	}
	p.wg.Wait()
}

// pipeListener is a net.Listener whose connections are net.Pipes. Inside
// a testing/synctest bubble it stands in for TCP, whose blocking reads
// would keep the bubble's clock from advancing.
type pipeListener struct {
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// dial connects to the listener; it fails once the listener is closed.
func (l *pipeListener) dial(ctx context.Context) (net.Conn, error) {
	a, b := net.Pipe()
	select {
	case l.conns <- b:
		return a, nil
	case <-l.done:
		return nil, &net.OpError{Op: "dial", Net: "pipe", Err: net.ErrClosed}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

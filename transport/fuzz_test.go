package transport

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/status"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// scriptConn is a net.Conn that reads a fixed script and discards writes.
type scriptConn struct {
	r      *bytes.Reader
	closed chan struct{}
}

func (c *scriptConn) Read(p []byte) (int, error) {
	if c.r.Len() == 0 {
		<-c.closed // like a peer that stops sending
		return 0, io.EOF
	}
	return c.r.Read(p)
}
func (c *scriptConn) Write(p []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
		return len(p), nil
	}
}
func (c *scriptConn) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return nil
}
func (c *scriptConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *scriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

func seedFrames() []byte {
	var b bytes.Buffer
	fr := http2.NewFramer(&b, nil)
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", "/a.B/C"}, {":authority", "x"}, {"content-type", "application/grpc"}, {"grpc-timeout", "1S"}, {"x-bin", "AAE"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true})
	fr.WriteData(1, false, []byte{0, 0, 0, 0, 3, 'a', 'b'})
	fr.WriteDataPadded(1, true, []byte{'c'}, []byte{0, 0})
	fr.WritePing(false, [8]byte{1})
	fr.WriteWindowUpdate(0, 100)
	fr.WriteRSTStream(1, http2.ErrCodeCancel)
	fr.WriteGoAway(1, http2.ErrCodeNo, nil)
	return b.Bytes()
}

// FuzzServerFrames feeds arbitrary bytes after the client preface to a
// server connection: it must end cleanly, never panic, and leave no
// goroutine behind.
func FuzzServerFrames(f *testing.F) {
	f.Add(seedFrames())
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		nc := &scriptConn{r: bytes.NewReader(append([]byte(http2.ClientPreface), data...)), closed: make(chan struct{})}
		c, err := NewServerConn(nc, ServerConfig{Handle: func(s *Stream) {
			go func() {
				for {
					m, err := s.RecvMsg()
					if err != nil {
						break
					}
					m.Release()
				}
				s.WriteStatus(status.New(codes.OK, ""), nil, nil)
			}()
		}})
		if err != nil {
			return
		}
		// Let the reader consume the script, then close.
		deadline := time.Now().Add(time.Second)
		for nc.r.Len() > 0 && time.Now().Before(deadline) {
			select {
			case <-c.Done():
				return
			case <-time.After(time.Millisecond):
			}
		}
		c.Close(ErrConnClosed)
		<-c.Done()
	})
}

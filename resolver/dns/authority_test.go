package dns

import (
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startDNSServer serves, on a loopback UDP port, one A record (ip) for any
// name and no AAAA records. It understands just enough of RFC 1035 for Go's
// own resolver.
func startDNSServer(t *testing.T, ip net.IP) string {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		conn.Close()
		wg.Wait()
	})
	wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := dnsAnswer(buf[:n], ip.To4()); resp != nil {
				_, _ = conn.WriteTo(resp, from)
			}
		}
	})
	return conn.LocalAddr().String()
}

// dnsAnswer builds the response to query q: its header and question, plus
// an A record when q asks for one.
func dnsAnswer(q []byte, ip4 net.IP) []byte {
	const headerLen = 12
	if len(q) < headerLen {
		return nil
	}
	end := headerLen
	for end < len(q) && q[end] != 0 { // question name: length-prefixed labels
		end += int(q[end]) + 1
	}
	end += 1 + 4 // terminating zero, QTYPE, QCLASS
	if end > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[end-4:])
	resp := append([]byte(nil), q[:end]...)
	binary.BigEndian.PutUint16(resp[2:], 0x8180) // response, recursion desired and available, no error
	binary.BigEndian.PutUint16(resp[6:], 0)      // ANCOUNT
	binary.BigEndian.PutUint16(resp[8:], 0)      // NSCOUNT
	binary.BigEndian.PutUint16(resp[10:], 0)     // ARCOUNT: drop the query's EDNS record
	if qtype == 1 {                              // A
		binary.BigEndian.PutUint16(resp[6:], 1)
		resp = append(resp, 0xc0, headerLen)           // name: pointer to the question's
		resp = binary.BigEndian.AppendUint16(resp, 1)  // TYPE A
		resp = binary.BigEndian.AppendUint16(resp, 1)  // CLASS IN
		resp = binary.BigEndian.AppendUint32(resp, 60) // TTL
		resp = binary.BigEndian.AppendUint16(resp, 4)
		resp = append(resp, ip4...)
	}
	return resp
}

func TestAuthorityNamesTheDNSServer(t *testing.T) {
	server := startDNSServer(t, net.IPv4(192, 0, 2, 7))
	cc := newFakeCC()
	r := build(t, NewBuilder(), "dns://"+server+"/backend.h2rpc.test:8443", cc)
	defer r.Close()

	var ev []event
	require.Eventually(t, func() bool {
		ev = append(ev, cc.take()...)
		return len(ev) > 0
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, ev[0].err)
	assert.Equal(t, []string{"192.0.2.7:8443"}, ev[0].addrs)
}

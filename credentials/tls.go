package credentials

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
)

// alpnH2 is the only application protocol gRPC runs over TLS (ALPN, RFC
// 7301). A peer that negotiates anything else, or nothing, is refused: it
// would not understand the HTTP/2 connection preface that follows.
const alpnH2 = "h2"

// TLSInfo is the AuthInfo of a TLS connection: the state of the completed
// handshake, including the peer's verified certificate chains.
type TLSInfo struct {
	// State is the connection state after the handshake.
	State tls.ConnectionState
}

// AuthType returns "tls".
func (TLSInfo) AuthType() string { return "tls" }

// tlsCreds is TransportCredentials over crypto/tls. config is never
// modified after NewTLS, so one value serves any number of handshakes at
// once; the client handshake clones it when it has to set ServerName.
type tlsCreds struct {
	config *tls.Config
}

// NewTLS returns credentials that secure connections with TLS configured
// by c, which may be nil (an empty configuration). c is cloned, so later
// changes to it have no effect. ALPN protocol "h2" is put in front of
// c.NextProtos unless already there, also in the configurations a
// GetConfigForClient hook returns, and the handshake fails on both sides if
// the peer does not negotiate it.
//
// On the client, c.ServerName, when set, is the name the server's
// certificate is verified against and the default :authority of calls;
// when empty, the host part of the authority being dialed is used for
// verification. Mutual TLS is set up through c as usual: Certificates on
// the client, ClientAuth and ClientCAs on the server.
//
// The credentials are safe for concurrent use.
func NewTLS(c *tls.Config) TransportCredentials {
	var cfg *tls.Config
	if c == nil {
		cfg = &tls.Config{}
	} else {
		cfg = c.Clone()
	}
	cfg.NextProtos = withH2(cfg.NextProtos)
	if get := cfg.GetConfigForClient; get != nil {
		cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			sub, err := get(hello)
			if sub == nil || err != nil {
				return sub, err
			}
			if slices.Contains(sub.NextProtos, alpnH2) {
				return sub, nil
			}
			// A Clone per handshake: a hook that lists "h2" itself saves it.
			sub = sub.Clone()
			sub.NextProtos = withH2(sub.NextProtos)
			return sub, nil
		}
	}
	return &tlsCreds{config: cfg}
}

// withH2 returns protos with "h2" in front, unless it is already there,
// without modifying protos.
func withH2(protos []string) []string {
	if slices.Contains(protos, alpnH2) {
		return protos
	}
	return append([]string{alpnH2}, protos...)
}

// NewClientTLSFromCert returns client credentials that trust the roots in
// pool, or the host's root CAs if pool is nil. serverNameOverride, when not
// empty, is the name the server's certificate must carry and the default
// :authority of calls, whatever address is dialed.
func NewClientTLSFromCert(pool *x509.CertPool, serverNameOverride string) TransportCredentials {
	return NewTLS(&tls.Config{RootCAs: pool, ServerName: serverNameOverride})
}

// NewClientTLSFromFile is NewClientTLSFromCert with the roots read from
// caFile, a file of one or more PEM certificates.
func NewClientTLSFromFile(caFile, serverNameOverride string) (TransportCredentials, error) {
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("credentials: reading CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("credentials: no PEM certificate in CA file %s", caFile)
	}
	return NewClientTLSFromCert(pool, serverNameOverride), nil
}

// NewServerTLSFromCert returns server credentials that present cert and do
// not ask clients for certificates. Use NewTLS for mutual TLS.
func NewServerTLSFromCert(cert *tls.Certificate) TransportCredentials {
	return NewTLS(&tls.Config{Certificates: []tls.Certificate{*cert}})
}

// NewServerTLSFromFile is NewServerTLSFromCert with the certificate chain
// and its private key read from PEM files.
func NewServerTLSFromFile(certFile, keyFile string) (TransportCredentials, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("credentials: loading key pair: %w", err)
	}
	return NewServerTLSFromCert(&cert), nil
}

// Info reports "tls" and the configured server name (empty unless set).
func (c *tlsCreds) Info() ProtocolInfo {
	return ProtocolInfo{SecurityProtocol: "tls", ServerName: c.config.ServerName}
}

// ClientHandshake runs the client side of the TLS handshake on rawConn,
// verifying the server against the configured ServerName or, if there is
// none, against authority's host. It gives up, with ctx's error, when ctx
// ends first. On failure rawConn is closed.
func (c *tlsCreds) ClientHandshake(ctx context.Context, authority string, rawConn net.Conn) (net.Conn, AuthInfo, error) {
	cfg := c.config
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = hostOf(authority)
	}
	conn := tls.Client(rawConn, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		conn.Close()
		if refusedALPN(err) {
			return nil, nil, fmt.Errorf("credentials: TLS handshake with %s: %w (the server does not offer ALPN protocol %q)", cfg.ServerName, err, alpnH2)
		}
		return nil, nil, fmt.Errorf("credentials: TLS handshake with %s: %w", cfg.ServerName, err)
	}
	state := conn.ConnectionState()
	if state.NegotiatedProtocol != alpnH2 {
		conn.Close()
		return nil, nil, fmt.Errorf("credentials: TLS handshake with %s: the server negotiated ALPN protocol %q, not %q; it does not speak gRPC over TLS", cfg.ServerName, state.NegotiatedProtocol, alpnH2)
	}
	return conn, TLSInfo{State: state}, nil
}

// ServerHandshake runs the server side of the TLS handshake on rawConn. It
// has no context: the caller bounds it with rawConn's deadline. On failure
// rawConn is closed.
func (c *tlsCreds) ServerHandshake(rawConn net.Conn) (net.Conn, AuthInfo, error) {
	conn := tls.Server(rawConn, c.config)
	if err := conn.Handshake(); err != nil {
		conn.Close()
		if unofferedALPN(err) {
			return nil, nil, fmt.Errorf("credentials: TLS handshake with client %v: %w (only ALPN protocol %q is served)", rawConn.RemoteAddr(), err, alpnH2)
		}
		return nil, nil, fmt.Errorf("credentials: TLS handshake with client %v: %w", rawConn.RemoteAddr(), err)
	}
	state := conn.ConnectionState()
	if state.NegotiatedProtocol != alpnH2 {
		conn.Close()
		return nil, nil, fmt.Errorf("credentials: TLS handshake with client %v: the client did not offer ALPN protocol %q; it does not speak gRPC over TLS", rawConn.RemoteAddr(), alpnH2)
	}
	return conn, TLSInfo{State: state}, nil
}

// hostOf returns authority without its port, and an IPv6 literal without
// its brackets, as tls.Config.ServerName wants it.
func hostOf(authority string) string {
	if host, _, err := net.SplitHostPort(authority); err == nil {
		return host
	}
	if strings.HasPrefix(authority, "[") && strings.HasSuffix(authority, "]") {
		return authority[1 : len(authority)-1]
	}
	return authority
}

// The two ways crypto/tls reports that client and server share no ALPN
// protocol are told apart by their text: it exports no type for them.

// refusedALPN reports whether err, from a client handshake, is the
// no_application_protocol alert a server sends when it offers none of the
// client's ALPN protocols.
func refusedALPN(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error" && op.Err != nil &&
		op.Err.Error() == "tls: no application protocol"
}

// unofferedALPN reports whether err, from a server handshake, says the
// client offered ALPN protocols but none the server has.
func unofferedALPN(err error) bool {
	return strings.Contains(err.Error(), "client requested unsupported application protocols")
}

// Package credentials owns the security handshake a connection goes
// through before HTTP/2 starts: the TransportCredentials interface, the
// insecure implementation (cleartext, HTTP/2 with prior knowledge) and the
// TLS one (NewTLS and its shorthands; ALPN "h2" is required of every peer).
// It also defines PerRPCCredentials, security metadata sent with each call.
//
// It never reads or writes HTTP/2 frames; it hands the transport a
// net.Conn ready for them, plus what it learned about the peer (AuthInfo,
// e.g. TLSInfo). Handshakes run on the goroutine of whoever calls them; the
// credentials hold no per-connection state.
package credentials

import (
	"context"
	"net"
)

// AuthInfo is what a handshake learned about the peer.
type AuthInfo interface {
	// AuthType names the security protocol, e.g. "insecure" or "tls".
	AuthType() string
}

// ProtocolInfo describes a TransportCredentials.
type ProtocolInfo struct {
	// SecurityProtocol is "insecure" or "tls".
	SecurityProtocol string
	// ServerName is the name a client checks the server against, if set.
	ServerName string
}

// TransportCredentials secures connections. Implementations must be safe
// for concurrent use.
type TransportCredentials interface {
	// ClientHandshake secures rawConn for a client that dials authority.
	ClientHandshake(ctx context.Context, authority string, rawConn net.Conn) (net.Conn, AuthInfo, error)
	// ServerHandshake secures an accepted rawConn.
	ServerHandshake(rawConn net.Conn) (net.Conn, AuthInfo, error)
	// Info describes the credentials.
	Info() ProtocolInfo
}

// Insecure returns credentials that do no security handshake at all:
// HTTP/2 runs in cleartext with prior knowledge.
func Insecure() TransportCredentials { return insecureCreds{} }

type insecureCreds struct{}

// InsecureAuthInfo is the AuthInfo of a cleartext connection.
type InsecureAuthInfo struct{}

// AuthType returns "insecure".
func (InsecureAuthInfo) AuthType() string { return "insecure" }

func (insecureCreds) ClientHandshake(_ context.Context, _ string, c net.Conn) (net.Conn, AuthInfo, error) {
	return c, InsecureAuthInfo{}, nil
}

func (insecureCreds) ServerHandshake(c net.Conn) (net.Conn, AuthInfo, error) {
	return c, InsecureAuthInfo{}, nil
}

func (insecureCreds) Info() ProtocolInfo { return ProtocolInfo{SecurityProtocol: "insecure"} }

package credentials_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/h2rpc/h2rpc/credentials"
)

// handshakeTimeout bounds every handshake a test expects to end.
const handshakeTimeout = 10 * time.Second

// tcpPair returns both ends of a fresh loopback TCP connection, closed in
// t.Cleanup.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer lis.Close()
	client, err = net.Dial("tcp", lis.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	server, err = lis.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { server.Close() })
	return client, server
}

// outcome is what one side's handshake returned.
type outcome struct {
	conn net.Conn
	info credentials.AuthInfo
	err  error
}

// handshake runs clientHS and serverHS on the two ends of a loopback
// connection at once and returns what each returned. Connections that
// come out are closed in t.Cleanup.
func handshake(t *testing.T, clientHS func(net.Conn) outcome, serverHS func(net.Conn) outcome) (c, s outcome) {
	t.Helper()
	cRaw, sRaw := tcpPair(t)
	require.NoError(t, sRaw.SetDeadline(time.Now().Add(handshakeTimeout)))
	done := make(chan outcome, 1)
	go func() { done <- serverHS(sRaw) }()
	c = clientHS(cRaw)
	s = <-done
	for _, o := range []outcome{c, s} {
		if o.conn != nil {
			t.Cleanup(func() { o.conn.Close() })
		}
	}
	return c, s
}

// ourClient and ourServer adapt TransportCredentials to handshake's two
// sides.
func ourClient(creds credentials.TransportCredentials, authority string) func(net.Conn) outcome {
	return func(raw net.Conn) outcome {
		ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
		defer cancel()
		conn, info, err := creds.ClientHandshake(ctx, authority, raw)
		return outcome{conn, info, err}
	}
}

func ourServer(creds credentials.TransportCredentials) func(net.Conn) outcome {
	return func(raw net.Conn) outcome {
		conn, info, err := creds.ServerHandshake(raw)
		return outcome{conn, info, err}
	}
}

// plainClient and plainServer are crypto/tls peers that know nothing of
// gRPC, for checking what is asked of the other side.
func plainClient(cfg *tls.Config) func(net.Conn) outcome {
	return func(raw net.Conn) outcome {
		conn := tls.Client(raw, cfg)
		return outcome{conn: conn, err: conn.Handshake()}
	}
}

func plainServer(cfg *tls.Config) func(net.Conn) outcome {
	return func(raw net.Conn) outcome {
		conn := tls.Server(raw, cfg)
		return outcome{conn: conn, err: conn.Handshake()}
	}
}

// fixture is one made-up PKI: a CA with a server and a client certificate,
// and a second CA nobody trusts.
type fixture struct {
	ca, otherCA           *testCA
	server, client        issued
	otherServer, stranger issued
}

const serverName = "server.h2rpc.test"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{ca: newCA(t, "h2rpc test CA"), otherCA: newCA(t, "untrusted CA")}
	f.server = f.ca.issue(t, "server", x509.ExtKeyUsageServerAuth, serverName, "127.0.0.1", "::1")
	f.client = f.ca.issue(t, "client", x509.ExtKeyUsageClientAuth)
	f.otherServer = f.otherCA.issue(t, "server", x509.ExtKeyUsageServerAuth, serverName)
	f.stranger = f.otherCA.issue(t, "stranger", x509.ExtKeyUsageClientAuth)
	return f
}

func (f *fixture) mutualServer() credentials.TransportCredentials {
	return credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{f.server.tls},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    f.ca.pool,
	})
}

func TestTLSHandshake(t *testing.T) {
	f := newFixture(t)
	trusting := credentials.NewClientTLSFromCert(f.ca.pool, "")
	plainServerCreds := credentials.NewServerTLSFromCert(&f.server.tls)
	tests := []struct {
		name      string
		client    credentials.TransportCredentials
		server    credentials.TransportCredentials
		authority string
		// clientErr is a part of the client's error; empty when the client
		// must succeed, unless serverErr is set: with TLS 1.3 a client
		// learns that the server refused it only when it next reads.
		clientErr string
		serverErr bool
		// wantPeer is the CommonName of the client's certificate as the
		// server saw it, if the client presents one.
		wantPeer string
	}{
		{name: "authority with port", client: trusting, server: plainServerCreds, authority: serverName + ":443"},
		{name: "authority without port", client: trusting, server: plainServerCreds, authority: serverName},
		{name: "IPv4 authority", client: trusting, server: plainServerCreds, authority: "127.0.0.1:8443"},
		{name: "IPv6 authority", client: trusting, server: plainServerCreds, authority: "[::1]:8443"},
		{name: "IPv6 authority without port", client: trusting, server: plainServerCreds, authority: "[::1]"},
		{
			name:      "server name override beats authority",
			client:    credentials.NewClientTLSFromCert(f.ca.pool, serverName),
			server:    plainServerCreds,
			authority: "10.1.2.3:443",
		},
		{
			name:      "server name override is verified",
			client:    credentials.NewClientTLSFromCert(f.ca.pool, "other.h2rpc.test"),
			server:    plainServerCreds,
			authority: serverName + ":443",
			clientErr: "other.h2rpc.test",
			serverErr: true,
		},
		{
			name:      "authority not in certificate",
			client:    trusting,
			server:    plainServerCreds,
			authority: "wrong.h2rpc.test:443",
			clientErr: "wrong.h2rpc.test",
			serverErr: true,
		},
		{
			name:      "server certificate from unknown CA",
			client:    trusting,
			server:    credentials.NewServerTLSFromCert(&f.otherServer.tls),
			authority: serverName + ":443",
			clientErr: "unknown authority",
			serverErr: true,
		},
		{
			name: "mutual TLS accepted",
			client: credentials.NewTLS(&tls.Config{
				RootCAs:      f.ca.pool,
				Certificates: []tls.Certificate{f.client.tls},
			}),
			server:    f.mutualServer(),
			authority: serverName + ":443",
			wantPeer:  "client",
		},
		{
			name:      "mutual TLS without client certificate",
			client:    trusting,
			server:    f.mutualServer(),
			authority: serverName + ":443",
			serverErr: true,
		},
		{
			name: "mutual TLS with client certificate from unknown CA",
			client: credentials.NewTLS(&tls.Config{
				RootCAs:      f.ca.pool,
				Certificates: []tls.Certificate{f.stranger.tls},
			}),
			server:    f.mutualServer(),
			authority: serverName + ":443",
			serverErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := handshake(t, ourClient(tt.client, tt.authority), ourServer(tt.server))
			if tt.serverErr {
				assert.Error(t, s.err, "server handshake")
				assert.Nil(t, s.conn)
				if tt.clientErr != "" {
					require.Error(t, c.err, "client handshake")
					assert.Contains(t, c.err.Error(), tt.clientErr)
				} else if c.err == nil {
					require.NoError(t, c.conn.SetReadDeadline(time.Now().Add(handshakeTimeout)))
					_, err := c.conn.Read(make([]byte, 1))
					assert.Error(t, err, "client read after the server refused it")
				}
				return
			}
			require.NoError(t, c.err, "client handshake")
			require.NoError(t, s.err, "server handshake")

			for side, info := range map[string]credentials.AuthInfo{"client": c.info, "server": s.info} {
				ti, ok := info.(credentials.TLSInfo)
				require.True(t, ok, "%s AuthInfo is %T, want TLSInfo", side, info)
				assert.Equal(t, "tls", ti.AuthType())
				assert.True(t, ti.State.HandshakeComplete, side)
				assert.Equal(t, "h2", ti.State.NegotiatedProtocol, side)
			}
			if tt.wantPeer != "" {
				certs := s.info.(credentials.TLSInfo).State.PeerCertificates
				require.NotEmpty(t, certs, "server saw no client certificate")
				assert.Equal(t, tt.wantPeer, certs[0].Subject.CommonName)
			}

			// The connections carry bytes both ways.
			_, err := c.conn.Write([]byte("ping"))
			require.NoError(t, err)
			got := make([]byte, 4)
			_, err = io.ReadFull(s.conn, got)
			require.NoError(t, err)
			assert.Equal(t, "ping", string(got))
		})
	}
}

func TestTLSRequiresH2(t *testing.T) {
	f := newFixture(t)
	ourC := ourClient(credentials.NewClientTLSFromCert(f.ca.pool, ""), serverName+":443")
	ourS := ourServer(credentials.NewServerTLSFromCert(&f.server.tls))
	serverCfg := func(protos ...string) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{f.server.tls}, NextProtos: protos}
	}
	clientCfg := func(protos ...string) *tls.Config {
		return &tls.Config{RootCAs: f.ca.pool, ServerName: serverName, NextProtos: protos}
	}
	tests := []struct {
		name             string
		client, server   func(net.Conn) outcome
		ourSide          string // "client" or "server": whose error is checked
		wantErrSubstring string
	}{
		{
			name:    "server without ALPN",
			client:  ourC,
			server:  plainServer(serverCfg()),
			ourSide: "client", wantErrSubstring: `negotiated ALPN protocol "", not "h2"`,
		},
		{
			name:    "server offering only http/1.1",
			client:  ourC,
			server:  plainServer(serverCfg("http/1.1")),
			ourSide: "client", wantErrSubstring: `does not offer ALPN protocol "h2"`,
		},
		{
			name:    "client without ALPN",
			client:  plainClient(clientCfg()),
			server:  ourS,
			ourSide: "server", wantErrSubstring: `did not offer ALPN protocol "h2"`,
		},
		{
			// crypto/tls servers let an http/1.1-only client go on without
			// ALPN rather than alert, so the refusal comes after the handshake.
			name:    "client offering only http/1.1",
			client:  plainClient(clientCfg("http/1.1")),
			server:  ourS,
			ourSide: "server", wantErrSubstring: `did not offer ALPN protocol "h2"`,
		},
		{
			name:    "client offering only spdy/3",
			client:  plainClient(clientCfg("spdy/3")),
			server:  ourS,
			ourSide: "server", wantErrSubstring: `only ALPN protocol "h2" is served`,
		},
		{
			name:    "plain client offering h2 among others",
			client:  plainClient(clientCfg("http/1.1", "h2")),
			server:  ourS,
			ourSide: "server",
		},
		{
			name:    "plain server preferring h2",
			client:  ourC,
			server:  plainServer(serverCfg("h2", "http/1.1")),
			ourSide: "client",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := handshake(t, tt.client, tt.server)
			got := c
			if tt.ourSide == "server" {
				got = s
			}
			if tt.wantErrSubstring == "" {
				require.NoError(t, got.err)
				assert.Equal(t, "h2", got.info.(credentials.TLSInfo).State.NegotiatedProtocol)
				return
			}
			require.Error(t, got.err)
			assert.Contains(t, got.err.Error(), tt.wantErrSubstring)
			assert.Nil(t, got.conn)
		})
	}
}

func TestNewTLSKeepsCallersConfig(t *testing.T) {
	f := newFixture(t)
	clientCfg := &tls.Config{RootCAs: f.ca.pool, NextProtos: []string{"http/1.1"}}
	serverCfg := &tls.Config{Certificates: []tls.Certificate{f.server.tls}}
	client, server := credentials.NewTLS(clientCfg), credentials.NewTLS(serverCfg)

	// Changes after NewTLS have no effect.
	serverCfg.Certificates = nil
	c, s := handshake(t, ourClient(client, serverName+":443"), ourServer(server))
	require.NoError(t, c.err)
	require.NoError(t, s.err)

	assert.Equal(t, []string{"http/1.1"}, clientCfg.NextProtos)
	assert.Empty(t, clientCfg.ServerName, "the handshake set ServerName in the caller's config")
	assert.Nil(t, serverCfg.NextProtos)
}

func TestNewTLSGetConfigForClient(t *testing.T) {
	f := newFixture(t)
	server := credentials.NewTLS(&tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return &tls.Config{Certificates: []tls.Certificate{f.server.tls}}, nil
		},
	})
	c, s := handshake(t, ourClient(credentials.NewClientTLSFromCert(f.ca.pool, ""), serverName), ourServer(server))
	require.NoError(t, c.err)
	require.NoError(t, s.err)
	assert.Equal(t, "h2", s.info.(credentials.TLSInfo).State.NegotiatedProtocol)
}

func TestTLSInfo(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		creds credentials.TransportCredentials
		want  credentials.ProtocolInfo
	}{
		{"NewTLS nil", credentials.NewTLS(nil), credentials.ProtocolInfo{SecurityProtocol: "tls"}},
		{"NewTLS with ServerName", credentials.NewTLS(&tls.Config{ServerName: "a.test"}), credentials.ProtocolInfo{SecurityProtocol: "tls", ServerName: "a.test"}},
		{"client without override", credentials.NewClientTLSFromCert(nil, ""), credentials.ProtocolInfo{SecurityProtocol: "tls"}},
		{"client with override", credentials.NewClientTLSFromCert(f.ca.pool, "foo.test"), credentials.ProtocolInfo{SecurityProtocol: "tls", ServerName: "foo.test"}},
		{"server", credentials.NewServerTLSFromCert(&f.server.tls), credentials.ProtocolInfo{SecurityProtocol: "tls"}},
		{"insecure", credentials.Insecure(), credentials.ProtocolInfo{SecurityProtocol: "insecure"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.creds.Info())
		})
	}
}

func TestTLSFromFiles(t *testing.T) {
	f := newFixture(t)
	caFile := writeFile(t, "ca.pem", f.ca.pem)
	certFile := writeFile(t, "server.pem", f.server.certPEM)
	keyFile := writeFile(t, "server.key", f.server.keyPEM)

	client, err := credentials.NewClientTLSFromFile(caFile, serverName)
	require.NoError(t, err)
	assert.Equal(t, serverName, client.Info().ServerName)
	server, err := credentials.NewServerTLSFromFile(certFile, keyFile)
	require.NoError(t, err)
	c, s := handshake(t, ourClient(client, "127.0.0.2:1"), ourServer(server))
	require.NoError(t, c.err)
	require.NoError(t, s.err)

	t.Run("errors", func(t *testing.T) {
		missing := caFile + ".missing"
		_, err := credentials.NewClientTLSFromFile(missing, "")
		assert.ErrorContains(t, err, "credentials: reading CA file")
		_, err = credentials.NewClientTLSFromFile(keyFile, "")
		assert.ErrorContains(t, err, "no PEM certificate")
		_, err = credentials.NewServerTLSFromFile(certFile, missing)
		assert.ErrorContains(t, err, "credentials: loading key pair")
		_, err = credentials.NewServerTLSFromFile(certFile, writeFile(t, "other.key", f.client.keyPEM))
		assert.ErrorContains(t, err, "credentials: loading key pair")
	})
}

func TestTLSHandshakeGivesUp(t *testing.T) {
	f := newFixture(t)
	client := credentials.NewClientTLSFromCert(f.ca.pool, "")
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{
			name: "deadline",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			},
			want: context.DeadlineExceeded,
		},
		{
			name: "cancelled",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(50*time.Millisecond, cancel)
				return ctx, cancel
			},
			want: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The server end accepts and never answers.
			cRaw, _ := tcpPair(t)
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			conn, info, err := client.ClientHandshake(ctx, serverName, cRaw)
			assert.ErrorIs(t, err, tt.want)
			assert.Nil(t, conn)
			assert.Nil(t, info)
			assert.Less(t, time.Since(start), handshakeTimeout)
			_, err = cRaw.Write([]byte{0})
			assert.ErrorIs(t, err, net.ErrClosed, "raw connection left open")
		})
	}

	t.Run("server deadline", func(t *testing.T) {
		// The client end connects and never says hello.
		_, sRaw := tcpPair(t)
		require.NoError(t, sRaw.SetDeadline(time.Now().Add(50*time.Millisecond)))
		conn, _, err := credentials.NewServerTLSFromCert(&f.server.tls).ServerHandshake(sRaw)
		var ne net.Error
		require.True(t, errors.As(err, &ne), "error %v is no net.Error", err)
		assert.True(t, ne.Timeout(), "error %v is no timeout", err)
		assert.Nil(t, conn)
	})
}

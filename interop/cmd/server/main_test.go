package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeKeyPair writes a self-signed certificate made up for the test and
// its key as PEM files in dir.
func writeKeyPair(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "server"},
		DNSNames:     []string{"server.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	certPath, keyPath = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	require.NoError(t, os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certPath, keyPath
}

func TestTransportCreds(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeKeyPair(t, dir)
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name         string
		tls          bool
		cert, key    string
		wantProtocol string
		wantUsage    bool
	}{
		{name: "cleartext", wantProtocol: "insecure"},
		{name: "cleartext ignores the file flags", cert: missing, key: missing, wantProtocol: "insecure"},
		{name: "TLS", tls: true, cert: cert, key: key, wantProtocol: "tls"},
		{name: "TLS without files", tls: true, wantUsage: true},
		{name: "TLS without key", tls: true, cert: cert, wantUsage: true},
		{name: "TLS with missing file", tls: true, cert: cert, key: missing, wantUsage: true},
		{name: "TLS with swapped files", tls: true, cert: key, key: cert, wantUsage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tls, c, k := *useTLS, *certFile, *keyFile
			t.Cleanup(func() { *useTLS, *certFile, *keyFile = tls, c, k })
			*useTLS, *certFile, *keyFile = tt.tls, tt.cert, tt.key

			creds, err := transportCreds()
			if tt.wantUsage {
				assert.True(t, errors.Is(err, errUsage), "error %v is no usage error", err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantProtocol, creds.Info().SecurityProtocol)
		})
	}
}

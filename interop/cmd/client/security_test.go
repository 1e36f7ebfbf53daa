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

// selfSignedPEM returns a CA certificate made up for the test, PEM encoded.
func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestSecurityOptions(t *testing.T) {
	dir := t.TempDir()
	caFileOK := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFileOK, selfSignedPEM(t), 0o600))
	notPEM := filepath.Join(dir, "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))

	tests := []struct {
		name      string
		tls, ca   bool
		caFile    string
		override  string
		wantOpts  int
		wantUsage bool
	}{
		{name: "cleartext", wantOpts: 1},
		{name: "cleartext with override", override: "foo.test", wantOpts: 2},
		{name: "cleartext ignores the CA flags", ca: true, caFile: filepath.Join(dir, "missing"), wantOpts: 1},
		{name: "TLS with host roots", tls: true, wantOpts: 1},
		{name: "TLS with test CA", tls: true, ca: true, caFile: caFileOK, override: "foo.test", wantOpts: 1},
		{name: "TLS ignores --ca_file without --use_test_ca", tls: true, caFile: filepath.Join(dir, "missing"), wantOpts: 1},
		{name: "test CA without file", tls: true, ca: true, wantUsage: true},
		{name: "missing CA file", tls: true, ca: true, caFile: filepath.Join(dir, "missing"), wantUsage: true},
		{name: "CA file without PEM", tls: true, ca: true, caFile: notPEM, wantUsage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tls, ca, file, override := *useTLS, *useTestCA, *caFile, *serverHostOverride
			t.Cleanup(func() { *useTLS, *useTestCA, *caFile, *serverHostOverride = tls, ca, file, override })
			*useTLS, *useTestCA, *caFile, *serverHostOverride = tt.tls, tt.ca, tt.caFile, tt.override

			opts, err := securityOptions()
			if tt.wantUsage {
				assert.True(t, errors.Is(err, errUsage), "error %v is no usage error", err)
				return
			}
			require.NoError(t, err)
			assert.Len(t, opts, tt.wantOpts)
		})
	}
}

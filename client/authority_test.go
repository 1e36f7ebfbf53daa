package client

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAuthorityFromTarget: the :authority (and the name TLS verifies)
// that a target gives, as grpc-go derives it.
func TestAuthorityFromTarget(t *testing.T) {
	tests := []struct {
		target string
		opts   []DialOption
		want   string
	}{
		{"localhost:50051", nil, "localhost:50051"},
		{"example.com:443", nil, "example.com:443"},
		{":50051", nil, "localhost:50051"},
		{"passthrough:///:50051", nil, "localhost:50051"},
		{"dns:///:50051", nil, "localhost:50051"},
		{"dns:///example.com:8080", nil, "example.com:8080"},
		{"[::1]:50051", nil, "[::1]:50051"},
		{":50051", []DialOption{WithAuthority("svc.internal")}, "svc.internal"},
		{"unix:///tmp/s.sock", nil, "localhost"},
		{"unix-abstract:name", nil, "localhost"},
	}
	for _, tt := range tests {
		cc, err := New(tt.target, append([]DialOption{WithInsecure()}, tt.opts...)...)
		require.NoError(t, err, tt.target)
		assert.Equal(t, tt.want, cc.authority, tt.target)
		cc.Close()
	}
}

package status

import (
	"testing"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/stretchr/testify/assert"
)

func TestCodeFromHTTPStatus(t *testing.T) {
	tests := []struct {
		http int
		want codes.Code
	}{
		{400, codes.Internal},
		{401, codes.Unauthenticated},
		{403, codes.PermissionDenied},
		{404, codes.Unimplemented},
		{429, codes.Unavailable},
		{502, codes.Unavailable},
		{503, codes.Unavailable},
		{504, codes.Unavailable},
		{200, codes.Unknown},
		{0, codes.Unknown},
		{302, codes.Unknown},
		{405, codes.Unknown},
		{500, codes.Unknown},
		{501, codes.Unknown},
		{999, codes.Unknown},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, CodeFromHTTPStatus(tt.http), "http=%d", tt.http)
	}
}

func TestCodeFromHTTP2ErrCode(t *testing.T) {
	tests := []struct {
		name string
		code uint32
		want codes.Code
	}{
		{"NO_ERROR", 0x0, codes.Internal},
		{"PROTOCOL_ERROR", 0x1, codes.Internal},
		{"INTERNAL_ERROR", 0x2, codes.Internal},
		{"FLOW_CONTROL_ERROR", 0x3, codes.Internal},
		{"SETTINGS_TIMEOUT", 0x4, codes.Internal},
		{"STREAM_CLOSED", 0x5, codes.Internal},
		{"FRAME_SIZE_ERROR", 0x6, codes.Internal},
		{"REFUSED_STREAM", 0x7, codes.Unavailable},
		{"CANCEL", 0x8, codes.Canceled},
		{"COMPRESSION_ERROR", 0x9, codes.Internal},
		{"CONNECT_ERROR", 0xa, codes.Internal},
		{"ENHANCE_YOUR_CALM", 0xb, codes.ResourceExhausted},
		{"INADEQUATE_SECURITY", 0xc, codes.PermissionDenied},
		{"HTTP_1_1_REQUIRED", 0xd, codes.Internal},
		{"unknown", 0xff, codes.Internal},
		{"max", 0xffffffff, codes.Internal},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, CodeFromHTTP2ErrCode(tt.code), tt.name)
	}
}

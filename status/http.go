package status

import (
	"net/http"

	"github.com/h2rpc/h2rpc/codes"
)

// CodeFromHTTPStatus maps the HTTP status of a response that lacks
// grpc-status to a gRPC code, following gRPC's http-grpc-status-mapping:
// 400 Internal, 401 Unauthenticated, 403 PermissionDenied, 404
// Unimplemented, 429/502/503/504 Unavailable, anything else Unknown. 200 is
// Unknown too: a 200 response without grpc-status is itself a protocol
// violation.
func CodeFromHTTPStatus(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusBadRequest:
		return codes.Internal
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.Unimplemented
	case http.StatusTooManyRequests, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return codes.Unavailable
	default:
		return codes.Unknown
	}
}

// CodeFromHTTP2ErrCode maps an HTTP/2 error code (RFC 9113 section 7), as
// carried by RST_STREAM or GOAWAY, to the gRPC code the application sees.
// REFUSED_STREAM becomes Unavailable because the peer promises it processed
// nothing, so the call is safe to retry; CANCEL becomes Canceled;
// ENHANCE_YOUR_CALM ResourceExhausted; INADEQUATE_SECURITY
// PermissionDenied; every other code, known or not, Internal. The code is a
// plain uint32 so this package need not depend on an HTTP/2 implementation.
func CodeFromHTTP2ErrCode(code uint32) codes.Code {
	switch code {
	case 0x7: // REFUSED_STREAM
		return codes.Unavailable
	case 0x8: // CANCEL
		return codes.Canceled
	case 0xb: // ENHANCE_YOUR_CALM
		return codes.ResourceExhausted
	case 0xc: // INADEQUATE_SECURITY
		return codes.PermissionDenied
	default:
		// NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR,
		// SETTINGS_TIMEOUT, STREAM_CLOSED, FRAME_SIZE_ERROR,
		// COMPRESSION_ERROR, CONNECT_ERROR and unknown codes.
		return codes.Internal
	}
}

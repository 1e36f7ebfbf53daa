package codes

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestString(t *testing.T) {
	tests := []struct {
		c    Code
		want string
	}{
		{OK, "OK"},
		{Canceled, "Canceled"},
		{Unknown, "Unknown"},
		{InvalidArgument, "InvalidArgument"},
		{DeadlineExceeded, "DeadlineExceeded"},
		{NotFound, "NotFound"},
		{AlreadyExists, "AlreadyExists"},
		{PermissionDenied, "PermissionDenied"},
		{ResourceExhausted, "ResourceExhausted"},
		{FailedPrecondition, "FailedPrecondition"},
		{Aborted, "Aborted"},
		{OutOfRange, "OutOfRange"},
		{Unimplemented, "Unimplemented"},
		{Internal, "Internal"},
		{Unavailable, "Unavailable"},
		{DataLoss, "DataLoss"},
		{Unauthenticated, "Unauthenticated"},
		{17, "Code(17)"},
		{4294967295, "Code(4294967295)"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.c.String())
	}
}

func TestValues(t *testing.T) {
	// The numbers are part of the wire protocol; pin them.
	want := []Code{OK, Canceled, Unknown, InvalidArgument, DeadlineExceeded,
		NotFound, AlreadyExists, PermissionDenied, ResourceExhausted,
		FailedPrecondition, Aborted, OutOfRange, Unimplemented, Internal,
		Unavailable, DataLoss, Unauthenticated}
	for i, c := range want {
		assert.Equal(t, Code(i), c)
	}
}

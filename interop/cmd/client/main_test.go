package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseMetadata(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "k:v", want: []string{"k", "v"}},
		{in: "k1:v1;k2:v2", want: []string{"k1", "v1", "k2", "v2"}},
		{in: "K:with:colons;", want: []string{"k", "with:colons"}},
		{in: "k:", want: []string{"k", ""}},
		{in: "k1:v1;novalue", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseMetadata(tt.in)
		if tt.wantErr {
			assert.Error(t, err, "parseMetadata(%q)", tt.in)
			continue
		}
		if assert.NoError(t, err, "parseMetadata(%q)", tt.in) {
			assert.Equal(t, tt.want, got, "parseMetadata(%q)", tt.in)
		}
	}
}

package wire

import (
	"bytes"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzTimeout(f *testing.F) {
	for _, s := range []string{"1n", "99999999H", "0S", "123456789m", "", "1x", "2562048H"} {
		f.Add(s, int64(0))
	}
	f.Add("", int64(1))
	f.Add("", int64(1<<63-1))
	f.Add("", int64(-5))
	f.Fuzz(func(t *testing.T, s string, n int64) {
		if d, err := DecodeTimeout(s); err == nil {
			if d < 0 {
				t.Fatalf("DecodeTimeout(%q) = %v, negative", s, d)
			}
			if len(s) > 9 {
				t.Fatalf("DecodeTimeout accepted %d bytes %q", len(s), s)
			}
		}
		d := time.Duration(n)
		enc := EncodeTimeout(d)
		if len(enc) > 9 {
			t.Fatalf("EncodeTimeout(%d) = %q, longer than 8 digits + unit", n, enc)
		}
		got, err := DecodeTimeout(enc)
		if err != nil {
			t.Fatalf("DecodeTimeout(EncodeTimeout(%d) = %q): %v", n, enc, err)
		}
		if d > 0 && got < d {
			t.Fatalf("round trip shortened %d to %d via %q", d, got, enc)
		}
		// Rounding up costs less than one unit, and a coarser unit is only
		// chosen once the value overflows 8 digits of the finer one (at most
		// 1000 times smaller), so the error stays below 1000/99999999 of d.
		if d > 0 && got != time.Duration(1<<63-1) && float64(got-d) > float64(d)/50000 {
			t.Fatalf("round trip of %d gave %d via %q: too coarse", d, got, enc)
		}
	})
}

func FuzzGrpcMessage(f *testing.F) {
	for _, s := range []string{"", "plain", "100%", "%", "%4", "%zz", "%25", "a\nb", "héllo", "\xff\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := EncodeGrpcMessage(s)
		for i := 0; i < len(enc); i++ {
			if c := enc[i]; c < 0x20 || c > 0x7E {
				t.Fatalf("EncodeGrpcMessage(%q) = %q: byte %#x not printable ASCII", s, enc, c)
			}
		}
		// Valid UTF-8 survives the round trip; anything else comes back
		// as valid UTF-8 (invalid bytes replaced by U+FFFD).
		got := DecodeGrpcMessage(enc)
		if utf8.ValidString(s) && got != s {
			t.Fatalf("DecodeGrpcMessage(EncodeGrpcMessage(%q)) = %q", s, got)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("DecodeGrpcMessage(EncodeGrpcMessage(%q)) = %q: not valid UTF-8", s, got)
		}
		dec := DecodeGrpcMessage(s)
		if len(dec) > len(s) {
			t.Fatalf("DecodeGrpcMessage(%q) = %q grew", s, dec)
		}
	})
}

func FuzzBinHeader(f *testing.F) {
	for _, s := range []string{"", "AA", "AA==", "AAE", "AAE=", "+/8", "-_8", "A", "AA=", "!!!!"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if b, err := DecodeBinHeader(s); err == nil {
			// Whatever decoded must survive our own encoding.
			again, err := DecodeBinHeader(EncodeBinHeader(b))
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("re-encoding %q: got %x, %v; want %x", s, again, err, b)
			}
		}
		b := []byte(s)
		got, err := DecodeBinHeader(EncodeBinHeader(b))
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("round trip of %x: got %x, %v", b, got, err)
		}
	})
}

package wire

import (
	"errors"
	"math"
	"strconv"
	"time"
)

// maxTimeoutValue is the largest number a grpc-timeout may carry: the
// specification allows at most 8 ASCII digits.
const maxTimeoutValue = 99_999_999

// timeoutUnits lists the grpc-timeout units from finest to coarsest.
var timeoutUnits = [...]struct {
	unit byte
	d    time.Duration
}{
	{'n', time.Nanosecond},
	{'u', time.Microsecond},
	{'m', time.Millisecond},
	{'S', time.Second},
	{'M', time.Minute},
	{'H', time.Hour},
}

// EncodeTimeout returns the grpc-timeout header value for d: at most 8
// digits followed by a unit. It picks the finest unit whose value fits and
// rounds up, so the receiver's deadline is never earlier than the sender's.
// A non-positive d is encoded as "1n": deciding whether an expired deadline
// should be sent at all is the caller's business.
func EncodeTimeout(d time.Duration) string {
	if d <= 0 {
		return "1n"
	}
	for _, u := range timeoutUnits {
		v := d / u.d
		if d%u.d != 0 {
			v++ // round up without risking overflow in d + u.d - 1
		}
		if v <= maxTimeoutValue {
			var buf [9]byte
			b := strconv.AppendInt(buf[:0], int64(v), 10)
			b = append(b, u.unit)
			return string(b)
		}
	}
	// Unreachable: math.MaxInt64 ns is about 2.6 million hours.
	return strconv.Itoa(maxTimeoutValue) + "H"
}

var (
	errTimeoutEmpty  = errors.New("wire: grpc-timeout: empty value")
	errTimeoutDigits = errors.New("wire: grpc-timeout: want 1 to 8 ASCII digits")
	errTimeoutUnit   = errors.New("wire: grpc-timeout: unknown unit")
)

// DecodeTimeout parses a grpc-timeout header value: 1 to 8 ASCII digits
// followed by one of the units H, M, S, m, u, n. A value too large for
// time.Duration saturates at math.MaxInt64 nanoseconds rather than
// overflowing.
func DecodeTimeout(s string) (time.Duration, error) {
	if len(s) == 0 {
		return 0, errTimeoutEmpty
	}
	digits := s[:len(s)-1]
	if len(digits) == 0 || len(digits) > 8 {
		return 0, errTimeoutDigits
	}
	var v int64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, errTimeoutDigits
		}
		v = v*10 + int64(c-'0')
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'n':
		unit = time.Nanosecond
	case 'u':
		unit = time.Microsecond
	case 'm':
		unit = time.Millisecond
	case 'S':
		unit = time.Second
	case 'M':
		unit = time.Minute
	case 'H':
		unit = time.Hour
	default:
		return 0, errTimeoutUnit
	}
	if v > math.MaxInt64/int64(unit) {
		return math.MaxInt64, nil
	}
	return time.Duration(v) * unit, nil
}

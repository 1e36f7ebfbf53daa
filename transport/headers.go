package transport

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/h2rpc/h2rpc/codes"
	"github.com/h2rpc/h2rpc/internal/wire"
	"github.com/h2rpc/h2rpc/metadata"
	"github.com/h2rpc/h2rpc/status"
	"golang.org/x/net/http2/hpack"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
)

const (
	baseContentType = "application/grpc"
	// UserAgent is sent with every request.
	UserAgent = "h2rpc-go/0.1.0"
)

// ContentType returns the content-type for a codec subtype.
func ContentType(subtype string) string {
	if subtype == "" || subtype == "proto" {
		return baseContentType
	}
	return baseContentType + "+" + subtype
}

// parseContentType reports the codec subtype of a gRPC content-type, and
// false if it is not one.
func parseContentType(ct string) (string, bool) {
	if !strings.HasPrefix(ct, baseContentType) {
		return "", false
	}
	rest := ct[len(baseContentType):]
	if rest == "" {
		return "proto", true
	}
	switch rest[0] {
	case '+':
		sub := rest[1:]
		if i := strings.IndexByte(sub, ';'); i >= 0 {
			sub = sub[:i]
		}
		if sub == "" {
			return "proto", true
		}
		return strings.ToLower(sub), true
	case ';':
		return "proto", true
	}
	return "", false
}

// noHeaderLimit stands for a peer that has not limited the header lists
// it accepts: RFC 9113 §6.5.2 makes the initial value unlimited.
const noHeaderLimit = -1

// headerListFits reports whether fields, one header list, fit the peer's
// SETTINGS_MAX_HEADER_LIST_SIZE, which counts each field's name and value
// and 32 bytes more (RFC 9113 §6.5.2), and returns that limit. A list
// the peer would refuse is never sent: grpc-go fails the call locally
// instead, with an error that says why.
func (c *Conn) headerListFits(fields []hpack.HeaderField) (limit int64, ok bool) {
	limit = c.peerHeaderLimit.Load()
	if limit == noHeaderLimit {
		return limit, true
	}
	var n int64
	for _, hf := range fields {
		n += int64(hf.Size())
		if n > limit {
			return limit, false
		}
	}
	return limit, true
}

// appendMD appends md as header fields, skipping reserved keys and
// base64-encoding binary values.
func appendMD(fields []hpack.HeaderField, md metadata.MD) []hpack.HeaderField {
	for k, vs := range md {
		if metadata.IsReservedHeader(k) {
			continue
		}
		bin := wire.IsBinHeader(k)
		for _, v := range vs {
			if bin {
				v = wire.EncodeBinHeader([]byte(v))
			}
			fields = append(fields, hpack.HeaderField{Name: k, Value: v})
		}
	}
	return fields
}

func appendPairs(fields []hpack.HeaderField, added [][]string) []hpack.HeaderField {
	for _, kv := range added {
		for i := 0; i+1 < len(kv); i += 2 {
			k := strings.ToLower(kv[i])
			if metadata.IsReservedHeader(k) {
				continue
			}
			v := kv[i+1]
			if wire.IsBinHeader(k) {
				v = wire.EncodeBinHeader([]byte(v))
			}
			fields = append(fields, hpack.HeaderField{Name: k, Value: v})
		}
	}
	return fields
}

// addMD adds one received header to *md (made on first use), decoding
// binary values. It reports false for a binary value that is not valid
// base64.
func addMD(mdp *metadata.MD, k, v string) bool {
	if *mdp == nil {
		*mdp = make(metadata.MD, 2)
	}
	md := *mdp
	if wire.IsBinHeader(k) {
		// Several binary values may arrive joined by commas.
		for part := range strings.SplitSeq(v, ",") {
			b, err := wire.DecodeBinHeader(strings.TrimSpace(part))
			if err != nil {
				return false
			}
			md[k] = append(md[k], string(b))
		}
		return true
	}
	md[k] = append(md[k], v)
	return true
}

// statusFields appends grpc-status, grpc-message and details for st.
func statusFields(fields []hpack.HeaderField, st *status.Status) []hpack.HeaderField {
	fields = append(fields, hpack.HeaderField{Name: "grpc-status", Value: strconv.Itoa(int(st.Code()))})
	if m := st.Message(); m != "" {
		fields = append(fields, hpack.HeaderField{Name: "grpc-message", Value: wire.EncodeGrpcMessage(m)})
	}
	if st.Code() == codes.OK {
		return fields
	}
	if p := st.Proto(); len(p.GetDetails()) > 0 {
		if b, err := proto.Marshal(p); err == nil {
			fields = append(fields, hpack.HeaderField{Name: "grpc-status-details-bin", Value: wire.EncodeBinHeader(b)})
		}
	}
	return fields
}

// statusParts collects the status headers of a response.
//
// grpc-status-details-bin is read as grpc-go reads it: a value that is
// not base64 is a malformed response (detailsErr; the caller fails the
// stream with INTERNAL, as for any bad binary header); a value that is
// not a google.rpc.Status, or a header sent more than once, is ignored;
// a google.rpc.Status whose code is not grpc-status makes the status
// INTERNAL; otherwise that google.rpc.Status, its own message included,
// is the status.
type statusParts struct {
	code       int // -1: absent
	message    string
	details    []byte
	nDetails   int   // grpc-status-details-bin headers seen
	detailsErr error // one was not base64
}

func (p *statusParts) add(name, value string) bool {
	switch name {
	case "grpc-status":
		c, err := strconv.ParseUint(value, 10, 32)
		if err != nil {
			p.code = int(codes.Unknown)
			p.message = "transport: malformed grpc-status: " + value
			return true
		}
		p.code = int(c)
	case "grpc-message":
		p.message = wire.DecodeGrpcMessage(value)
	case "grpc-status-details-bin":
		p.nDetails++
		b, err := wire.DecodeBinHeader(value)
		if err != nil {
			p.detailsErr = fmt.Errorf("transport: malformed grpc-status-details-bin: %w", err)
		}
		p.details = b
	default:
		return false
	}
	return true
}

// status returns the status the parts make; nil for OK with nothing
// more.
func (p *statusParts) status() *status.Status {
	if p.detailsErr != nil {
		return status.New(codes.Internal, p.detailsErr.Error())
	}
	// Details given more than once, or not a google.rpc.Status, are
	// ignored.
	if p.nDetails == 1 {
		var sp spb.Status
		if err := proto.Unmarshal(p.details, &sp); err == nil {
			if sp.Code != int32(p.code) {
				return status.Newf(codes.Internal,
					"transport: grpc-status-details-bin mismatch: grpc-status=%v, grpc-message=%q, details code=%v, details message=%q",
					codes.Code(p.code), p.message, codes.Code(sp.Code), sp.Message)
			}
			return status.FromProto(&sp)
		}
	}
	if p.code == int(codes.OK) && p.message == "" {
		return nil // OK
	}
	return status.New(codes.Code(p.code), p.message)
}

// timeoutField returns the grpc-timeout header for a deadline.
func timeoutField(deadline time.Time) hpack.HeaderField {
	return hpack.HeaderField{Name: "grpc-timeout", Value: wire.EncodeTimeout(time.Until(deadline))}
}

package resolver

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Target is a parsed target name.
type Target struct {
	// Scheme selects the resolver builder, lower case.
	Scheme string
	// Authority is the URI authority, empty for most targets. The dns
	// resolver reads it as the address of the DNS server to ask.
	Authority string
	// Endpoint is the name to resolve, with the path's leading slash
	// removed: "localhost:50051" for "dns:///localhost:50051".
	Endpoint string
}

// String returns t in the canonical form "scheme://authority/endpoint".
func (t Target) String() string {
	return t.Scheme + "://" + t.Authority + "/" + t.Endpoint
}

// ParseTarget splits a target name into its parts.
//
// A target whose scheme has a registered builder is parsed as an RFC 3986
// URI:
//
//	dns:///localhost:50051       → {dns, "", "localhost:50051"}
//	dns://8.8.8.8/foo.com:443    → {dns, "8.8.8.8", "foo.com:443"}
//	passthrough:///1.2.3.4:5     → {passthrough, "", "1.2.3.4:5"}
//	dns:foo.com:443              → {dns, "", "foo.com:443"}   (no slashes)
//	dns:/foo.com:443             → {dns, "", "foo.com:443"}
//
// The endpoint is the URI path without its leading slash, or the opaque
// part when there are no slashes. (The unix and unix-abstract schemes,
// whose endpoints are socket paths, keep the slash: unix:///tmp/s.sock →
// {unix, "", "/tmp/s.sock"}.) As for any URI, percent-escapes in the
// path are decoded and a query ("?…") or fragment ("#…") is not part of the
// endpoint. The scheme is lower-cased.
//
// Every other target — one that does not parse as a URI ("[::1]:50051",
// "1.2.3.4:5"), that has no scheme ("foo.com"), or whose scheme has no
// registered builder ("localhost:50051" reads as scheme "localhost") — is
// the endpoint of a DefaultScheme target, verbatim:
//
//	localhost:50051 → {passthrough, "", "localhost:50051"}
//
// ParseTarget fails only for an empty target or one containing ASCII
// control characters. Whether the endpoint suits its scheme is for the
// builder to decide.
func ParseTarget(target string) (Target, error) {
	if target == "" {
		return Target{}, errors.New("resolver: empty target")
	}
	if i := strings.IndexFunc(target, isASCIIControl); i >= 0 {
		return Target{}, fmt.Errorf("resolver: target %q contains a control character at offset %d", target, i)
	}
	u, err := url.Parse(target)
	if err == nil && u.Scheme != "" && Get(u.Scheme) != nil {
		scheme := strings.ToLower(u.Scheme)
		endpoint := u.Path
		if endpoint == "" {
			endpoint = u.Opaque
		}
		if !keepsSlash(scheme) {
			endpoint = strings.TrimPrefix(endpoint, "/")
		}
		return Target{
			Scheme:    scheme,
			Authority: u.Host,
			Endpoint:  endpoint,
		}, nil
	}
	return Target{Scheme: DefaultScheme, Endpoint: target}, nil
}

func isASCIIControl(r rune) bool { return r < 0x20 || r == 0x7f }

// keepsSlash reports whether scheme's endpoints are file paths, whose
// leading slash says they are absolute: "unix:///tmp/s.sock" is
// /tmp/s.sock, "unix:s.sock" a path relative to the working directory.
func keepsSlash(scheme string) bool { return scheme == "unix" || scheme == "unix-abstract" }

package credentials

import "context"

// PerRPCCredentials attach security metadata, such as an OAuth2 bearer
// token, to every call rather than to the connection. Implementations must
// be safe for concurrent use: calls ask for metadata concurrently.
type PerRPCCredentials interface {
	// GetRequestMetadata returns the metadata to send with one call, as
	// header keys (lower-case, as in package metadata) and values. ctx is
	// the call's context, so a slow token fetch ends with the call. uri
	// identifies what is being called: "https://<authority>/<package.Service>",
	// the audience a token may be minted for. An error fails the call
	// without sending it.
	GetRequestMetadata(ctx context.Context, uri ...string) (map[string]string, error)
	// RequireTransportSecurity reports whether the metadata may only travel
	// over a secure connection (SecurityProtocol other than "insecure"). A
	// client must refuse to send it in cleartext.
	RequireTransportSecurity() bool
}

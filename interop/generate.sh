#!/usr/bin/env bash
# Regenerates the Go messages for the interop protos in proto/grpc/testing.
#
# Needs protoc (Debian: protobuf-compiler) and protoc-gen-go at the version of
# google.golang.org/protobuf that the root go.mod requires; a missing
# protoc-gen-go is installed into GOBIN. The .proto files are kept verbatim
# from grpc/grpc-proto; the Go package is chosen here with M options, and only
# messages are generated: the service stubs (test_h2rpc.go) are hand-written
# against the h2rpc API.
set -euo pipefail

cd "$(dirname "$0")"

PROTOC_GEN_GO_VERSION=v1.36.12
GO_PKG=github.com/h2rpc/h2rpc/interop/grpc_testing

if ! command -v protoc >/dev/null; then
	echo "generate.sh: protoc not found (apt-get install protobuf-compiler)" >&2
	exit 1
fi
gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
plugin="$gobin/protoc-gen-go"
if ! [ -x "$plugin" ] || ! "$plugin" --version 2>/dev/null | grep -q "$PROTOC_GEN_GO_VERSION"; then
	GOFLAGS= go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
fi

files=(grpc/testing/empty.proto grpc/testing/messages.proto grpc/testing/test.proto)
mopts=()
for f in "${files[@]}"; do
	mopts+=("--go_opt=M$f=$GO_PKG")
done

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
protoc --plugin=protoc-gen-go="$plugin" -I proto \
	--go_out="$out" --go_opt=paths=source_relative "${mopts[@]}" \
	"${files[@]}"

for f in "${files[@]}"; do
	base="$(basename "$f" .proto).pb.go"
	cp "$out/grpc/testing/$base" "grpc_testing/$base"
done

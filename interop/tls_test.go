package interop_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The TLS pairings use the test certificates grpc-go ships in its module
// (testdata/server1.pem, server1.key and the ca.pem that signed them), read
// in place from the version go.mod pins. The server certificate is valid
// for *.test.google.fr, so clients claim that name.

// tlsServerName is the name clients verify and send as :authority.
const tlsServerName = "foo.test.google.fr"

var testdata struct {
	once sync.Once
	dir  string
	err  error
}

// grpcTestdata returns grpc-go's testdata directory in the module cache.
func grpcTestdata(t *testing.T) string {
	t.Helper()
	testdata.once.Do(func() {
		cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "google.golang.org/grpc")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			testdata.err = fmt.Errorf("finding grpc-go's module directory: %v\n%s", err, stderr.Bytes())
			return
		}
		dir := filepath.Join(string(bytes.TrimSpace(out)), "testdata")
		for _, f := range []string{"server1.pem", "server1.key", "ca.pem"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				testdata.err = fmt.Errorf("grpc-go's test certificates: %w", err)
				return
			}
		}
		testdata.dir = dir
	})
	if testdata.err != nil {
		t.Fatal(testdata.err)
	}
	return testdata.dir
}

// tlsArgs returns the flags that put an interop server and client on TLS.
// Both grpc-go's binaries and h2rpc's take the same ones.
func tlsArgs(t *testing.T) (server, client []string) {
	dir := grpcTestdata(t)
	server = []string{
		"--use_tls=true",
		"--tls_cert_file=" + filepath.Join(dir, "server1.pem"),
		"--tls_key_file=" + filepath.Join(dir, "server1.key"),
	}
	client = []string{
		"--use_tls=true",
		"--use_test_ca=true",
		"--ca_file=" + filepath.Join(dir, "ca.pem"),
		"--server_host_override=" + tlsServerName,
	}
	return server, client
}

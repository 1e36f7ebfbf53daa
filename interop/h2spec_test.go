package interop_test

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/h2rpc/h2rpc/credentials"
	"github.com/h2rpc/h2rpc/interop/grpc_testing"
	"github.com/h2rpc/h2rpc/interop/testservice"
	"github.com/h2rpc/h2rpc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// h2specBin builds h2spec at the version pinned in go.mod, once.
var h2specBin = sync.OnceValues(func() (string, error) {
	dir := filepath.Join(tmpDir, "h2spec")
	if err := goBuild(dir, nil, "github.com/summerwind/h2spec/cmd/h2spec"); err != nil {
		return "", err
	}
	return filepath.Join(dir, "h2spec"), nil
})

// TestH2Spec runs h2spec's 145 conformance cases against an h2rpc server,
// in cleartext and over TLS, and fails on any failure not in
// h2spec_allow.txt. The server advertises a stream limit so that the case
// about exceeding it runs instead of being skipped.
func TestH2Spec(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs h2spec")
	}
	bin, err := h2specBin()
	require.NoError(t, err)
	allowed := readAllowList(t, "h2spec_allow.txt")
	require.LessOrEqual(t, len(allowed), 2, "the allow list may hold at most 2 cases")

	for _, useTLS := range []bool{false, true} {
		name := "cleartext"
		if useTLS {
			name = "tls"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opts := []server.Option{server.MaxConcurrentStreams(100)}
			args := []string{"-o", "5", "-j", filepath.Join(t.TempDir(), "report.xml")}
			if useTLS {
				dir := grpcTestdata(t)
				creds, err := credentials.NewServerTLSFromFile(filepath.Join(dir, "server1.pem"), filepath.Join(dir, "server1.key"))
				require.NoError(t, err)
				opts = append(opts, server.Creds(creds))
				args = append(args, "-t", "-k")
			}
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			srv := server.New(opts...)
			grpc_testing.RegisterTestServiceServer(srv, testservice.New())
			served := make(chan struct{})
			go func() {
				defer close(served)
				srv.Serve(lis)
			}()
			defer func() {
				srv.Stop()
				<-served
			}()

			port := fmt.Sprint(lis.Addr().(*net.TCPAddr).Port)
			cmd := exec.Command(bin, append(args, "-h", "127.0.0.1", "-p", port)...)
			out, _ := cmd.CombinedOutput() // exits non-zero on failures; the report says which
			rep := readJUnit(t, args[3])
			t.Logf("h2spec %s: %d cases, %d passed, %d skipped, %d failed",
				name, rep.total, rep.total-len(rep.failed)-len(rep.skipped), len(rep.skipped), len(rep.failed))
			require.Equal(t, 145, rep.total, "h2spec output:\n%s", out)
			for _, f := range notAllowed(rep.failed, allowed) {
				t.Errorf("h2spec case %s failed", f)
			}
			if t.Failed() {
				t.Logf("h2spec output:\n%s", out)
			}
			require.Empty(t, rep.skipped, "no case should be skipped against a server that advertises its limits")
		})
	}
}

// TestH2SpecAllowList: a failed case whose id is in the allow list is
// allowed, whatever h2spec calls it; any other failure is not.
func TestH2SpecAllowList(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "report.xml")
	require.NoError(t, os.WriteFile(report, []byte(`<testsuites>
<testsuite package="http2/6.9.1" id="6.9.1">
<testcase classname="Sends SETTINGS frame to set the initial window size to 1 and sends HEADERS frame"></testcase>
<testcase classname="Sends multiple WINDOW_UPDATE frames increasing the flow control window to above 2^31-1"><failure>timeout</failure></testcase>
</testsuite>
<testsuite package="http2/5.1" id="5.1">
<testcase classname="idle: Sends a DATA frame"><error>connection closed</error></testcase>
</testsuite>
</testsuites>`), 0o644))
	allow := filepath.Join(dir, "allow.txt")
	require.NoError(t, os.WriteFile(allow, []byte("# comment\nhttp2/6.9.1/2 does not apply here\n"), 0o644))

	rep := readJUnit(t, report)
	require.Equal(t, 3, rep.total)
	require.Len(t, rep.failed, 2)
	assert.Equal(t, []h2specCase{{id: "http2/5.1/1", name: "idle: Sends a DATA frame"}},
		notAllowed(rep.failed, readAllowList(t, allow)))
}

// notAllowed returns the failed cases the allow list does not name.
func notAllowed(failed []h2specCase, allowed map[string]string) []h2specCase {
	var out []h2specCase
	for _, f := range failed {
		if _, ok := allowed[f.id]; !ok {
			out = append(out, f)
		}
	}
	return out
}

type junitReport struct {
	total           int
	failed, skipped []h2specCase
}

// h2specCase is one case of h2spec's report.
type h2specCase struct {
	id   string // "<package>/<case number>", as in the allow list
	name string // what the case checks
}

func (c h2specCase) String() string { return c.id + " (" + c.name + ")" }

// readJUnit reads h2spec's JUnit report, naming each case
// "<package>/<case number>" (e.g. "http2/6.9.1/3").
func readJUnit(t *testing.T, path string) junitReport {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err, "h2spec wrote no report")
	var doc struct {
		Suites []struct {
			Package string `xml:"package,attr"`
			ID      string `xml:"id,attr"`
			Cases   []struct {
				Name    string    `xml:"classname,attr"`
				Failure *struct{} `xml:"failure"`
				Error   *struct{} `xml:"error"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(b, &doc))
	var rep junitReport
	for _, s := range doc.Suites {
		for i, c := range s.Cases {
			rep.total++
			hc := h2specCase{id: fmt.Sprintf("%s/%d", s.Package, i+1), name: c.Name}
			switch {
			case c.Failure != nil || c.Error != nil:
				rep.failed = append(rep.failed, hc)
			case c.Skipped != nil:
				rep.skipped = append(rep.skipped, hc)
			}
		}
	}
	return rep
}

func readAllowList(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	allowed := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, ok := strings.Cut(line, " ")
		require.True(t, ok && strings.TrimSpace(reason) != "", "allow-list entry %q has no reason", line)
		allowed[id] = reason
	}
	require.NoError(t, sc.Err())
	return allowed
}

// Command client is the h2rpc gRPC interop client: it runs one interop test
// case (--test_case) against a TestService server and exits 0 when the case
// passes, 1 when it fails and 2 on bad usage. Flags and their defaults follow
// the other gRPC implementations' interop clients.
//
// Beyond those, --test_case also takes a comma-separated list, run in order
// on one connection (channel_soak still opens its own), which exercises the
// reuse of a connection after cancellations, deadlines and errors.
//
// Security flags, as in grpc-go's interop client: --use_tls connects over
// TLS, verifying the server against the host's root CAs, or, with
// --use_test_ca, against the CA certificates in --ca_file. The server's
// certificate must carry --server_host_override when it is set (which also
// becomes the :authority of calls), --server_host otherwise. --use_test_ca
// and --ca_file are ignored without --use_tls. The client has no test CA of
// its own: --use_test_ca needs --ca_file (grpc-go's testdata/ca.pem is the
// usual one).
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/h2rpc/h2rpc/client"
	"github.com/h2rpc/h2rpc/credentials"
	"github.com/h2rpc/h2rpc/interop/cases"
	"github.com/h2rpc/h2rpc/metadata"
)

var (
	serverHost         = flag.String("server_host", "localhost", "The server host name")
	serverPort         = flag.Int("server_port", 10000, "The server port number")
	serverHostOverride = flag.String("server_host_override", "", "The server name to verify in the TLS handshake and to claim in :authority; --server_host when empty")
	testCase           = flag.String("test_case", "large_unary", "The test case to run, or a comma-separated list run in order on one connection; cases: "+strings.Join(cases.Names, ", "))
	useTLS             = flag.Bool("use_tls", false, "Connection uses TLS if true")
	useTestCA          = flag.Bool("use_test_ca", false, "Whether to replace platform root CAs with the test CA in --ca_file as the CA root")
	caFile             = flag.String("ca_file", "", "The file containing the CA root certificate")
	additionalMetadata = flag.String("additional_metadata", "", "Additional metadata to send in each request, as a semicolon-separated list of key:value pairs")

	soakIterations     = flag.Int("soak_iterations", 10, "The number of iterations to use for the two soak tests: rpc_soak and channel_soak")
	soakMaxFailures    = flag.Int("soak_max_failures", 0, "The number of iterations in soak tests that are allowed to fail (either due to non-OK status code or exceeding the per-iteration max acceptable latency)")
	soakMaxLatencyMs   = flag.Int("soak_per_iteration_max_acceptable_latency_ms", 1000, "The number of milliseconds a single iteration in the two soak tests (rpc_soak and channel_soak) should take")
	soakOverallTimeout = flag.Int("soak_overall_timeout_seconds", 10, "The overall number of seconds after which a soak test should stop and fail, if the desired number of iterations have not yet completed")
	soakMinTimeMs      = flag.Int("soak_min_time_ms_between_rpcs", 0, "The minimum time in milliseconds between consecutive RPCs in a soak test (rpc_soak or channel_soak), useful for limiting QPS")
	soakRequestSize    = flag.Int("soak_request_size", 271828, "The request size in a soak RPC")
	soakResponseSize   = flag.Int("soak_response_size", 314159, "The response size in a soak RPC")
	soakNumThreads     = flag.Int("soak_num_threads", 1, "The number of threads for concurrent execution of the soak tests (rpc_soak or channel_soak)")
)

// errUsage marks errors in the command line.
var errUsage = errors.New("usage")

func main() {
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix("interop client: ")
	if err := run(); err != nil {
		log.Printf("test case %s FAILED: %v", *testCase, err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
	log.Printf("test case %s passed", *testCase)
}

func run() error {
	names := strings.Split(*testCase, ",")
	for _, name := range names {
		if _, ok := cases.All[name]; !ok {
			return fmt.Errorf("%w: unknown --test_case %q (supported: %s)", errUsage, name, strings.Join(cases.Names, ", "))
		}
	}
	md, err := parseMetadata(*additionalMetadata)
	if err != nil {
		return fmt.Errorf("%w: --additional_metadata: %v", errUsage, err)
	}
	security, err := securityOptions()
	if err != nil {
		return err
	}

	target := *serverHost
	if *serverPort != 0 {
		target = net.JoinHostPort(*serverHost, strconv.Itoa(*serverPort))
	}
	opts := security
	dial := func() (client.Conn, func(), error) {
		cc, err := client.New(target, opts...)
		if err != nil {
			return nil, nil, err
		}
		return cc, func() { cc.Close() }, nil
	}
	conn, closeConn, err := dial()
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", target, err)
	}
	defer closeConn()

	ctx := context.Background()
	if len(md) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, md...)
	}
	env := &cases.Env{
		Conn: conn,
		Dial: dial,
		Soak: cases.SoakConfig{
			Iterations:             *soakIterations,
			MaxFailures:            *soakMaxFailures,
			PerIterationMaxLatency: time.Duration(*soakMaxLatencyMs) * time.Millisecond,
			OverallTimeout:         time.Duration(*soakOverallTimeout) * time.Second,
			MinTimeBetweenRPCs:     time.Duration(*soakMinTimeMs) * time.Millisecond,
			RequestSize:            *soakRequestSize,
			ResponseSize:           *soakResponseSize,
			Workers:                *soakNumThreads,
		},
		Log: log.Printf,
	}
	for _, name := range names {
		if err := cases.Run(ctx, name, env); err != nil {
			if len(names) > 1 {
				return fmt.Errorf("%s: %w", name, err)
			}
			return err
		}
	}
	return nil
}

// securityOptions returns the dial options the security flags ask for.
func securityOptions() ([]client.DialOption, error) {
	if !*useTLS {
		// In cleartext nothing is verified; the override only names the
		// server in :authority.
		opts := []client.DialOption{client.WithInsecure()}
		if *serverHostOverride != "" {
			opts = append(opts, client.WithAuthority(*serverHostOverride))
		}
		return opts, nil
	}
	var roots *x509.CertPool // nil: the host's root CAs
	if *useTestCA {
		if *caFile == "" {
			return nil, fmt.Errorf("%w: --use_test_ca needs --ca_file: this client has no test CA of its own", errUsage)
		}
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return nil, fmt.Errorf("%w: --ca_file: %v", errUsage, err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: --ca_file: no PEM certificate in %s", errUsage, *caFile)
		}
	}
	// The override, if any, becomes the credentials' ServerName: the name
	// verified and the default :authority.
	creds := credentials.NewClientTLSFromCert(roots, *serverHostOverride)
	return []client.DialOption{client.WithTransportCredentials(creds)}, nil
}

// parseMetadata parses "k1:v1;k2:v2" into alternating keys and values. A
// value runs to the next ';' and may itself contain ':'.
func parseMetadata(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var kv []string
	for pair := range strings.SplitSeq(s, ";") {
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, ":")
		if !ok {
			return nil, fmt.Errorf("%q has no ':' between key and value", pair)
		}
		kv = append(kv, strings.ToLower(k), v)
	}
	return kv, nil
}

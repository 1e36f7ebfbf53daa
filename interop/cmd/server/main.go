// Command server is the h2rpc gRPC interop server: it serves
// grpc.testing.TestService (package testservice) on --port, on all
// interfaces, until SIGINT or SIGTERM, then stops gracefully.
//
// With --use_tls it serves over TLS with the certificate chain in
// --tls_cert_file and its key in --tls_key_file; the file flags are ignored
// without --use_tls, as by the other gRPC interop servers. Unlike those,
// which fall back to test certificates of their own, it ships none: with
// --use_tls both files must be given (grpc-go's testdata/server1.pem and
// server1.key are the usual ones), or it exits with status 2.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/h2rpc/h2rpc/credentials"
	"github.com/h2rpc/h2rpc/interop/testservice"
	"github.com/h2rpc/h2rpc/server"
)

var (
	port     = flag.Int("port", 10000, "The server port")
	useTLS   = flag.Bool("use_tls", false, "Connection uses TLS if true, else plain TCP")
	certFile = flag.String("tls_cert_file", "", "The TLS cert file")
	keyFile  = flag.String("tls_key_file", "", "The TLS key file")
)

// gracePeriod is how long a graceful stop may wait for calls in flight.
const gracePeriod = 5 * time.Second

// errUsage marks errors in the command line.
var errUsage = errors.New("usage")

func main() {
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix("interop server: ")
	if err := run(); err != nil {
		log.Printf("%v", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// transportCreds returns the credentials the flags ask for.
func transportCreds() (credentials.TransportCredentials, error) {
	if !*useTLS {
		return credentials.Insecure(), nil
	}
	if *certFile == "" || *keyFile == "" {
		return nil, fmt.Errorf("%w: --use_tls needs --tls_cert_file and --tls_key_file: this server has no test certificate of its own", errUsage)
	}
	creds, err := credentials.NewServerTLSFromFile(*certFile, *keyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: --tls_cert_file, --tls_key_file: %v", errUsage, err)
	}
	return creds, nil
}

func run() error {
	creds, err := transportCreds()
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(*port)))
	if err != nil {
		return fmt.Errorf("listening on port %d: %w", *port, err)
	}
	s := server.New(server.Creds(creds))
	testservice.Register(s)

	var stopping atomic.Bool
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		stopping.Store(true)
		log.Printf("%v: stopping", sig)
		t := time.AfterFunc(gracePeriod, s.Stop)
		defer t.Stop()
		s.GracefulStop()
	}()

	log.Printf("listening on %v (%s)", lis.Addr(), creds.Info().SecurityProtocol)
	// Whatever Serve returns once a stop has begun is the stop, not a failure.
	if err := s.Serve(lis); err != nil && !stopping.Load() {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

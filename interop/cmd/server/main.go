// Command server is the h2rpc gRPC interop server: it serves
// grpc.testing.TestService (package testservice) on --port, on all
// interfaces, until SIGINT or SIGTERM, then stops gracefully.
package main

import (
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

func main() {
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix("interop server: ")
	if err := run(); err != nil {
		log.Printf("%v", err)
		os.Exit(1)
	}
}

func run() error {
	if *useTLS || *certFile != "" || *keyFile != "" {
		return fmt.Errorf("--use_tls, --tls_cert_file, --tls_key_file: TLS is not supported by the h2rpc server yet")
	}
	lis, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(*port)))
	if err != nil {
		return fmt.Errorf("listening on port %d: %w", *port, err)
	}
	s := server.New()
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

	log.Printf("listening on %v", lis.Addr())
	// Whatever Serve returns once a stop has begun is the stop, not a failure.
	if err := s.Serve(lis); err != nil && !stopping.Load() {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

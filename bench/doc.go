// Command bench runs h2rpc and grpc-go side by side on loopback and reports
// how they compare. Run it from the repository root:
//
//	go -C bench run .          # full run, under 10 minutes on 2 cores
//	go -C bench run . -quick   # a subset with short measurements, under 2 minutes
//	go -C bench run . -workloads 'unary-*-c16' -pairs h2rpc,grpc -duration 2s
//	go -C bench run . -workloads unary-1KiB-c128 -cpuprofile cpu.out
//
// # What runs
//
// Every workload runs for five pairs: h2rpc→h2rpc, grpc→grpc (grpc-go's
// defaults: grpc.NewServer(), grpc.NewClient with insecure credentials),
// h2rpc→grpc and grpc→h2rpc (client→server), and a raw TCP baseline that
// moves the same message bytes (the 5-byte prefix and the proto encoding)
// with no HTTP/2 at all. All servers listen on 127.0.0.1. Each measurement
// runs in a fresh child process (this binary, re-run with
// H2RPC_BENCH_CHILD=measure), client and server together, so that none
// inherits the heap, pools or memory-return work an earlier workload left
// behind; the driver only collects the samples. Both runtimes serve the same hand-written bench.Bench service
// (service.go) with google.golang.org/protobuf's BytesValue as the message;
// calls carry no deadline and no metadata.
//
// Pairs run interleaved: round 1 measures each pair once, then round 2, and
// so on (-rounds, default 3, each round starting with the next pair), each
// on a fresh server and fresh connections; the report gives the median of
// each metric over the rounds without errors, so slow drift of the machine
// falls on every pair alike.
//
// A measurement counts a steady window. The load starts at full
// concurrency; the window opens once every worker has finished one
// operation and at least -warmup has passed, lasts -duration (or half as
// long as it took to open, if longer: large calls at c=1024 move in waves,
// and the window must hold about one), and counts the operations that end
// inside it. Throughput is the number of workers over the mean latency of
// those operations (Little's law; over a long window, the count per
// second); CPU time and allocations are read at the window's edges and
// divided by it. Calls still running when the window closes are
// cancelled, not counted. A workload with over 1 GiB in flight (unary
// 1 MiB at c=1024) completes in waves of seconds, and no window the run
// can afford holds a steady share of its calls: it is measured as its
// first wave, and the table says so ("one wave").
//
// Workloads (-workloads takes names, kinds or globs):
//
//	unary-SIZE-cN      unary echo, SIZE each way (0B…1MiB), N calls in flight on 1 connection
//	unary-SIZE-c128x8  the same with 128 calls over 8 connections
//	pingpong-1KiB-sN   N bidi streams, each sending a message and waiting for its echo
//	sstream-SIZE       one stream of server-sent messages (in batches of ~64 MiB per call)
//	cstream-1KiB       one stream of client-sent messages (1000 per call)
//	connsetup          new client connection, one empty RPC, close, one at a time
//	idle               memory of -idle-conns idle connections (see below)
//
// # Reading a table
//
// One table per workload, one row per pair:
//
//	RPC/s, rtt/s, msg/s, conn/s  operations per second (the header line says what one operation is)
//	MB/s                         payload bytes moved per second (10^6; unary and ping-pong count both directions)
//	p50 p90 p99                  latency of one operation (for streams: of one Send or Recv)
//	allocs/op B/op               heap allocations and bytes per operation, client and server together
//	CPU µs/op                    process CPU time (user+system) per operation, client and server together
//	spread                       (max-min)/median throughput over the rounds: above ~10 %, distrust small differences
//	thr÷grpc                     this pair's throughput ÷ grpc→grpc's: above 1 is faster than grpc-go
//	p50÷grpc                     this pair's p50 ÷ grpc→grpc's: below 1 is lower latency than grpc-go
//
// The line under each table, and the summary at the end, divide
// h2rpc→h2rpc by grpc→grpc: throughput above 1 means h2rpc is faster; p50,
// p99, allocations, bytes and CPU below 1 mean h2rpc needs less. Client and
// server share one process, so allocation and CPU numbers cannot be split
// by side; the cross pairs (h2rpc→grpc, grpc→h2rpc) hint at which side a
// difference comes from. The raw TCP row is a floor, not a competitor: it
// has no framing, no headers and a connection per worker.
//
// The idle table measures each side in a child process of its own (this
// binary, re-run with H2RPC_BENCH_CHILD set): the heap (live bytes after
// a GC), goroutine stacks, RSS and goroutines that the connections added,
// divided by their number. Each connection has completed one empty RPC.
// It runs once per pair, not in rounds.
//
// # Outputs
//
// Tables go to stdout and progress to stderr. -json (default
// out/results.json, relative to the bench directory under go -C bench)
// stores every round of every pair; -svg (default beside the JSON) draws
// throughput and latency bars per workload and the idle memory. With
// -cpuprofile or -memprofile the measurements run in the driver's process,
// so that the profile sees them, and only the h2rpc→h2rpc pair runs unless
// -pairs says otherwise, so the profile shows h2rpc alone.
//
// Every measurement is bounded in time (-duration, plus the warm-up and a
// grace period after which a stuck pair is abandoned and reported as an
// error) and in operations (-max-ops).
package main

# h2rpc — the two commands people need are `make bench` and `make test`.

GO ?= go
STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test bench generate fuzz vet soak

# Every test of the runtime, the interop module (real grpc-go peers and
# h2spec) and the benchmark driver, under the race detector; then the
# throughput and allocation-budget tests, which need it off.
test: vet
	$(GO) test -race -count=1 -timeout 20m ./...
	cd interop && CROSSTEST_SLOW=1 $(GO) test -race -count=1 -timeout 20m ./...
	cd bench && $(GO) test -race -count=1 -timeout 10m ./...
	$(GO) test -count=1 -run 'BDP|Allocs' -v ./internal/e2e/

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	cd interop && $(GO) vet ./...
	cd bench && $(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	cd interop && $(GO) run $(STATICCHECK) ./...
	cd bench && $(GO) run $(STATICCHECK) ./...

# The side-by-side benchmark (h2rpc vs grpc-go vs raw TCP) on loopback:
# tables on stdout, bench/out/results.json and bench/out/results.svg.
# BENCHFLAGS=-quick for the short set.
bench:
	$(GO) -C bench run . $(BENCHFLAGS)

# Regenerate checked-in generated code.
generate:
	cd interop && ./generate.sh

# Run every fuzz target for FUZZTIME each (default 60s).
FUZZTIME ?= 60s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# A million unary calls at concurrency 256 plus 1,000 abandoned streams over
# one connection: heap and goroutines must come back to baseline.
soak:
	H2RPC_SOAK=1 $(GO) test -count=1 -run TestSoak -v -timeout 10m ./internal/soak/

# h2rpc — the two commands people need are `make bench` and `make test`.

GO ?= go
STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test bench generate fuzz vet soak

# Every test of the runtime, the interop module (real grpc-go peers and
# h2spec) and the benchmark driver, under the race detector; then the
# allocation-budget tests, which need it off.
test: vet
	$(GO) test -race -count=1 -timeout 20m ./...
	cd interop && CROSSTEST_SLOW=1 $(GO) test -race -count=1 -timeout 20m ./...
	cd bench && $(GO) test -race -count=1 -timeout 10m ./...
	$(GO) test -count=1 -run 'Allocs' -v ./internal/e2e/

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

# Run every fuzz target for FUZZTIME each (default 60s). A run whose only
# error is "context deadline exceeded" and that wrote no failing input is Go
# 1.26's race at the end of a timed fuzz run (go.dev/issue/75804), not a
# finding: it is reported and the next target runs.
FUZZTIME ?= 60s
fuzz:
	@out=$$(mktemp); trap 'rm -f $$out' EXIT; \
	for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    before=$$(ls $$dir/testdata/fuzz/$$f 2>/dev/null | wc -l); \
	    if $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg >$$out 2>&1; then \
	      tail -n 2 $$out; continue; \
	    fi; \
	    cat $$out; \
	    after=$$(ls $$dir/testdata/fuzz/$$f 2>/dev/null | wc -l); \
	    if [ "$$after" = "$$before" ] && grep -q '^    context deadline exceeded$$' $$out && \
	       [ "$$(grep -c -e '^--- FAIL' -e '^    ' $$out)" = 2 ]; then \
	      echo "== $$f: the fuzz coordinator's end-of-run race (go.dev/issue/75804), no failing input"; \
	    else \
	      exit 1; \
	    fi; \
	  done; \
	done

# A million unary calls at concurrency 256 plus 1,000 abandoned streams over
# one connection: heap and goroutines must come back to baseline.
soak:
	H2RPC_SOAK=1 $(GO) test -count=1 -run TestSoak -v -timeout 10m ./internal/soak/

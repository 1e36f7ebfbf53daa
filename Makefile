# h2rpc — the two commands people need are `make bench` and `make test`.

GO ?= go
STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test bench generate fuzz vet

# Every test of the runtime and of the interop module (real grpc-go peers),
# under the race detector.
test: vet
	$(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -count=1 -run 'BDP|Allocs' -v ./internal/e2e/
	cd interop && $(GO) test -race -count=1 -timeout 20m ./...

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	cd interop && $(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	cd interop && $(GO) run $(STATICCHECK) ./...

# The side-by-side benchmark (h2rpc vs grpc-go vs raw TCP) on loopback.
# The driver lands with the benchmark issue; until then this says so.
bench:
	@echo "bench: the side-by-side driver is not built yet (see the benchmark issue)"

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

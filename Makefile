# evidence-auditd — build, test, lint, benchmark.
# `make demo` and `make test` are the README's two set-up commands.

GO       ?= go
BIN      ?= bin/evidence-auditd
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
# A count, not a duration: Go 1.26's fuzz coordinator can fail a target with
# a spurious "context deadline exceeded" when a duration budget ends
# (go.dev/issue/75804, fixed in Go 1.27).
FUZZTIME ?= 5000x

.PHONY: all build test race e2e fuzz lint bench demo clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/evidence-auditd

# The default suite: fast, no services needed.
test:
	$(GO) test ./...

race:
	$(GO) test -race ./...

# The slow end-to-end suite (build tag e2e); scripts/ start what it needs.
e2e:
	$(GO) test -tags e2e -count=1 -timeout 30m -run '^TestE2E' ./...

# Every fuzz target, briefly (FUZZTIME executions each).
fuzz:
	@set -e; for pkg in $$($(GO) list ./internal/...); do \
	  for fz in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$fz"; \
	    $(GO) test -run '^$$' -fuzz "^$$fz$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x ./...

demo: build
	$(BIN) demo

clean:
	rm -rf bin

# benchctl. `make help` lists the targets.
SHELL := /bin/bash
GO    ?= go
BIN   := bin

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT) \
           -X github.com/benchctl/benchctl/controller.Version=$(VERSION) -X github.com/benchctl/benchctl/controller.Commit=$(COMMIT) \
           -X github.com/benchctl/benchctl/controller/admin.Version=$(VERSION) -X github.com/benchctl/benchctl/controller/admin.Commit=$(COMMIT)

# The whole suite, including the local-cluster end-to-end tests, which
# need `make setup`; BENCHCTL_REQUIRE_CLUSTER turns a missing cluster
# build into a failure instead of a skip. -count=1: results that depend on
# a live cluster are never taken from the test cache. -p 1: packages whose
# tests run clusters and A/B comparisons never share the 2 cores with one
# another (go vet in `make lint` has compiled everything in parallel).
TEST_FLAGS ?= -p 1 -count=1 -timeout 40m
RUN_FLAGS  ?=

.PHONY: help setup build test run lint generate bench clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

setup: ## build the local cluster's binaries (etcd, kube-apiserver, ..., KWOK) into ~/.cache/benchctl, once
	@bash scripts/build-local-cluster.sh

build: ## build bin/benchctl
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/benchctl ./cmd/benchctl

test: setup ## run every test, including the local-cluster end-to-end tests
	BENCHCTL_REQUIRE_CLUSTER=1 $(GO) test $(TEST_FLAGS) ./...

run: setup build ## the main job: a full benchmark run on a local cluster
	$(BIN)/benchctl run $(RUN_FLAGS)

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

generate: ## regenerate deepcopy code and the CRD (controller-gen from the module proxy)
	$(GO) generate ./controller/...

bench: setup ## Go benchmarks (local cluster provision time, controller overhead, ...)
	BENCHCTL_REQUIRE_CLUSTER=1 $(GO) test -run '^$$' -bench . -benchtime 1x -count 5 ./...

clean: ## remove build outputs (not the cluster binaries cache)
	rm -rf $(BIN)

# The machine's Go may be older than go.mod asks for and pinned with
# GOTOOLCHAIN=local; this exact toolchain comes from the module proxy instead.
export GOTOOLCHAIN := go1.27.3
# Without -trimpath the compiler's cache keys include the checkout's path, so
# every fresh clone (CI's) recompiled, re-vetted and re-analysed all of this
# module's packages: about 75 s of a warm run.
export GOFLAGS := -trimpath $(filter-out -trimpath,$(GOFLAGS))

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO          ?= go
BIN         := $(CURDIR)/bin
CACHE       := $(CURDIR)/.cache
# Pinned tools, by toolchain and version; TOOLS_CACHE_DIR (set by .ci/run)
# keeps them outside the clone so fresh clones reuse them.
TOOLS_CACHE_DIR ?= $(CACHE)/tools
TOOLS_BIN   := $(TOOLS_CACHE_DIR)/$(GOTOOLCHAIN)
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(TOOLS_BIN)/staticcheck-$(STATICCHECK_VERSION)
# The Prometheus release the cluster runs (its module, tools/promtool/go.mod,
# is v0.305.0); its promtool checks and unit-tests the monitoring files.
PROMTOOL_VERSION := 3.5.0
PROMTOOL    := $(TOOLS_BIN)/promtool-$(PROMTOOL_VERSION)
# The Alertmanager release the cluster runs; its amtool checks the
# Alertmanager configuration and tests its routing.
AMTOOL_VERSION := 0.28.1
AMTOOL      := $(TOOLS_BIN)/amtool-$(AMTOOL_VERSION)

# Packages whose tests start real servers take their time; everything is bounded.
TEST_TIMEOUT ?= 25m
FUZZTIME     ?= 10s

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: deps
deps: ## install the Debian packages tests use (rabbitmq-server, nginx, keepalived, chromium), once
	@scripts/install-deps.sh

.PHONY: build
build: ## build the services and the validator into bin/
	$(GO) build -trimpath -o $(BIN)/ ./src/cmd/... ./tools/cmd/...

.PHONY: run
run: deps ## run the local stack: RabbitMQ, embedded MongoDB (or MONGODB_URI), 3 consumers, web app in dev mode
	$(GO) build -trimpath -o $(BIN)/ ./src/cmd/...
	$(BIN)/devstack -bin $(BIN) $(RUN_FLAGS)

.PHONY: test
test: deps lint test-go fuzz validate ## everything CI checks

.PHONY: fmt-check
fmt-check: ## fail on files gofmt would change
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v -e '/testdata/' -e '^third_party/')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

.PHONY: third-party-check
third-party-check: ## each third_party/<dir> is its pinned upstream module with third_party/<dir>.patch, nothing else
	scripts/third-party.sh --check

.PHONY: third-party-upstream-tests
third-party-upstream-tests: ## the patched modules' own test suites, unpatched and patched: no new failure (~4 min; Flux's need E2E_CACHE_DIR's binaries)
	scripts/third-party.sh --upstream-tests

.PHONY: vet
vet: ## go vet
	$(GO) vet ./...

.PHONY: shellcheck
shellcheck: ## lint the shell scripts
	shellcheck -x $$(git ls-files '*.sh')

.PHONY: test-go
# -vet=off: make test runs the full go vet in lint; go test's own subset
# would analyse every package again (minutes of CPU on a cold cache).
test-go: $(PROMTOOL) $(AMTOOL) ## unit and integration tests (real RabbitMQ, embedded MongoDB, Chromium, nginx, promtool, amtool)
	PROMTOOL=$(PROMTOOL) AMTOOL=$(AMTOOL) $(GO) test -vet=off -count=1 -timeout $(TEST_TIMEOUT) ./...

.PHONY: test-vip
test-vip: deps ## edge VIP failover in network namespaces with the homelab's 60 s preempt delay (root; prints the seconds)
	$(GO) test -count=1 -v -run '^TestVIPFailover$$' -timeout 5m ./tools/internal/edge -args -vip-full

.PHONY: fuzz
fuzz: ## run each fuzz target briefly (the workout decoder and its fast path, the encoder, the log form, the chart document splitter)
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) ./src/internal/workout
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeCanonical$$' -fuzztime=$(FUZZTIME) ./src/internal/workout
	$(GO) test -run='^$$' -fuzz='^FuzzAppendJSON$$' -fuzztime=$(FUZZTIME) ./src/internal/workout
	$(GO) test -run='^$$' -fuzz='^FuzzParseForm$$' -fuzztime=$(FUZZTIME) ./src/internal/web
	$(GO) test -run='^$$' -fuzz='^FuzzSplitManifests$$' -fuzztime=$(FUZZTIME) ./tools/internal/helmrender

.PHONY: lint
lint: fmt-check vet shellcheck third-party-check $(STATICCHECK) ## gofmt check, go vet, shellcheck, staticcheck (pinned), the patched modules

	$(STATICCHECK) ./...

# Each tool is built into a directory of its own and moved into place, so
# two checkouts sharing TOOLS_CACHE_DIR never see a half-written binary.
# install-tool NAME, COMMAND: COMMAND writes the binary NAME into $$tmp, a
# new directory in the same cache, from which it is moved into place: two
# checkouts sharing TOOLS_CACHE_DIR never run a half-written binary, and a
# failed build leaves nothing behind.
define install-tool
	@mkdir -p $(TOOLS_BIN)
	tmp=$$(mktemp -d -p $(TOOLS_BIN)); trap 'rm -rf "$$tmp"' EXIT; \
	$(2); \
	mv "$$tmp/$(1)" $@
endef

$(STATICCHECK):
	$(call install-tool,staticcheck,GOBIN=$$tmp $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION))

# Prometheus's go.mod has a replace directive, so `go install …@version`
# refuses it; tools/promtool is a module that requires it (once, ~4 min of
# CPU cold; cached by version).
$(PROMTOOL): tools/promtool/go.mod tools/promtool/go.sum
	$(call install-tool,promtool,(cd tools/promtool && $(GO) build \
		-ldflags "-X github.com/prometheus/common/version.Version=$(PROMTOOL_VERSION)" \
		-o $$tmp/promtool github.com/prometheus/prometheus/cmd/promtool))

.PHONY: promtool
promtool: $(PROMTOOL) ## build the pinned promtool into .cache/tools or TOOLS_CACHE_DIR (make test does)

# Alertmanager's go.mod has no replace directive: amtool installs as
# released, with its own dependency versions (~2 min of CPU cold; cached by
# version).
$(AMTOOL):
	$(call install-tool,amtool,GOBIN=$$tmp $(GO) install \
		-ldflags "-X github.com/prometheus/common/version.Version=$(AMTOOL_VERSION)" \
		github.com/prometheus/alertmanager/cmd/amtool@v$(AMTOOL_VERSION))

.PHONY: amtool
amtool: $(AMTOOL) ## build the pinned amtool into .cache/tools or TOOLS_CACHE_DIR (make test does)

.PHONY: validate
validate: ## render and check every Flux Kustomization of this repository
	$(GO) run ./tools/cmd/gitops-validate .

# `make chaos` runs this long; CHAOS_FLAGS adds flags (-seed N replays a run).
CHAOS_DURATION ?= 10m

.PHONY: faults
faults: deps ## each broker fault alone at full length under 500 POST/s: kill -9 the leader, rolling restart, 30 s partition (root)
	$(GO) test -count=1 -v -timeout 30m -run '^TestFaults$$' ./src/internal/chaos -args -full

.PHONY: chaos
chaos: deps ## random broker faults under 500 POST/s for CHAOS_DURATION (10m), then an audit of every 202 (root; CHAOS_FLAGS="-seed N")
	$(GO) build -trimpath -o $(BIN)/chaos ./src/cmd/chaos
	$(BIN)/chaos -duration $(CHAOS_DURATION) $(CHAOS_FLAGS)

.PHONY: bench
bench: deps ## service benchmarks against their raw limits (prints ratios and latencies)
	$(GO) run ./src/cmd/fitbench
	$(GO) test -run='^$$' -bench=. -benchtime=1x -timeout 60m ./src/...

.PHONY: bench-validate
bench-validate: deps ## the validator vs the kustomize build + kubeconform + conftest pipeline (prints times and ratios)
	scripts/bench-validate.sh

.PHONY: validate-realworld
validate-realworld: ## the validator on the public repositories of tools/testdata/realworld/repos.txt (needs their mirrors: MIRROR=dir of <owner>+<name>/repo)
	$(GO) build -trimpath -o $(BIN)/gitops-validate ./tools/cmd/gitops-validate
	scripts/validate-realworld.sh

.PHONY: charts
charts: ## rebuild the chart mirror charts/ from upstream Git tags (CHART_SOURCES=local clones, else clones them); fails on a digest change
	scripts/mirror-charts.sh $(CHARTS_FLAGS)

.PHONY: images
images: ## build the service and backup images reproducibly (OCI layouts in .cache/images) and re-pin their digests (apps/homelab, infrastructure/backups)
	scripts/pin-images.sh

.PHONY: e2e
e2e: deps ## end to end on a real kube-apiserver + Flux controllers, offline (binaries cached by version; ~15 min cold)
	scripts/e2e.sh $(E2E_FLAGS)

.PHONY: clean
clean: ## remove build outputs and local state (keeps the tool cache)
	rm -rf $(BIN) .run

# rmaplab: `make run` (the main job) and `make test` (the test suite).
# Each first installs the Debian packages it needs (only those missing), then builds.

BUILD ?= build
JOBS ?= $(shell nproc)
SHARED ?= $(abspath ../shared)
DEBS := cmake ninja-build g++ ccache libfmt-dev nlohmann-json3-dev libcli11-dev \
        libgtest-dev librapidcheck-dev libbenchmark-dev \
        pkg-config libtracefs-dev libtraceevent-dev libzstd-dev graphviz
# The report test opens the HTML report in headless Chromium.
TEST_DEBS := chromium

.PHONY: all deps configure build run test test-asan fuzz bench clean

all: build

deps:
	@missing=""; for p in $(DEBS) $(EXTRA_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root to install:$$missing" >&2; exit 1; fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja -DRMAPLAB_SHARED_DIR=$(SHARED)

configure: deps $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/rmaplab check $(SHARED)/scenarios tests/scenarios tests/regress bench/workloads --scheme all
	$(BUILD)/rmaplab compare bench/workloads --schemes all --no-check
	$(BUILD)/rmaplab compare bench/workloads --schemes all --no-check --format json > $(BUILD)/compare.json
	@for t in traces/*.rmt; do \
	  echo "== replaying $$t (recorded on a real kernel) under every scheme"; \
	  $(BUILD)/rmaplab replay $$t --scheme all --json $(BUILD)/replay-$$(basename $$t .rmt).json || exit 1; \
	done
	@if [ "$$(id -u)" = 0 ]; then \
	  echo "== the model against the running kernel"; \
	  $(BUILD)/rmaplab conform $(SHARED)/scenarios tests/scenarios --jobs 2 --json $(BUILD)/conform.json | tail -1; \
	else echo "(not root: conform skipped)"; rm -f $(BUILD)/conform.json; fi
	$(BUILD)/rmaplab report $(BUILD)/compare.json $(BUILD)/replay-*.json $$(ls $(BUILD)/conform.json 2>/dev/null) \
	  --picture docs/pictures/fork-chain.rmap@chain --picture docs/pictures/server.rmap@workers \
	  --picture docs/pictures/lazy-upgrade.rmap@before-fork:lazy \
	  --picture docs/pictures/lazy-upgrade.rmap@after-fork:lazy \
	  --title "rmaplab: anon rmap schemes on scenarios and recorded workloads" -o $(BUILD)/report.html
	@echo "report: $(BUILD)/report.html"

test: EXTRA_DEBS = $(TEST_DEBS)
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Speed and scale (docs/performance.md): named workloads under every scheme with the
# oracle off, incremental and full; the same against the running kernel (root); the
# cost-growth microbenchmarks. Numbers go to $(BUILD)/bench*.json.
BENCH_SCALE ?= 16
# The fleet under every scheme takes ~6 minutes with the reclaim walks (anon-vma-2004's
# walk of 50M folios over 100-VMA lists alone ~3 min); DC_SCHEMES=linux for ~20 s.
DC_SCHEMES ?= all
DC_FLAGS ?= --reclaim
bench: build
	$(BUILD)/rmaplab bench --scale $(BENCH_SCALE) --json $(BUILD)/bench.json
	@if [ "$$(id -u)" = 0 ]; then \
	  for w in server-aim7 fork-chain-deep mprotect-churn; do \
	    echo "== $$w: the model against the running kernel"; \
	    $(BUILD)/rmaplab bench --repeat 3 --vs-native bench/workloads/$$w.rmap \
	      --json $(BUILD)/bench-native-$$w.json || exit 1; \
	  done; \
	else echo "(not root: the kernel comparison is skipped)"; fi
	$(BUILD)/rmaplab_microbench --benchmark_out=$(BUILD)/microbench.json --benchmark_out_format=json
	@echo "== data-centre fleet: 10,000 processes, 1,000,000 VMAs, 50,000,000 pages ($(DC_SCHEMES))"
	$(BUILD)/rmaplab bench --datacentre --schemes $(DC_SCHEMES) $(DC_FLAGS) --json $(BUILD)/bench-datacentre.json

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
ASAN_BUILD ?= build-asan
test-asan: EXTRA_DEBS = $(TEST_DEBS)
test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DRMAPLAB_SANITIZE=ON -DRMAPLAB_SHARED_DIR=$(SHARED)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# Coverage-guided fuzzers (clang 14 + libFuzzer, ASan + UBSan): build, then run each for
# FUZZ_SECONDS on its seed corpus (docs/fuzzing.md). Crashes go to build-fuzz/artifacts.
FUZZ_SECONDS ?= 60
fuzz: deps
	@dpkg -s clang-14 libclang-rt-14-dev >/dev/null 2>&1 || \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang-14 libclang-rt-14-dev
	cmake -S fuzz -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-14
	cmake --build build-fuzz -j $(JOBS)
	fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(SHARED)

clean:
	rm -rf $(BUILD)

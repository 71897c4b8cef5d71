# The two commands a new user needs: `make run` and `make test`. Everything else is for
# development and CI.
PRESET ?= default
CONFIG ?= config/otpd.sample.toml
BUILD_DIR = $(if $(filter default,$(PRESET)),build,build-$(PRESET))
JOBS ?= $(shell nproc)
# ccache keys on paths relative to the checkout, so a fresh clone elsewhere (CI) reuses
# what an earlier build compiled.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: all deps deps-run build build-run run install version test test-asan test-tsan \
        check-format lint-openapi clean lambda validate-template test-deps

all: build

# Everything `make test` needs (scripts/install-deps --test).
deps:
	@./scripts/install-deps --test

# Only the build and runtime packages.
deps-run:
	@./scripts/install-deps

# Every target, tests included.
build: deps
	@cmake --preset $(PRESET) > /dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS)

# Only what `make run` and `make install` use: otpd and otp, no test binaries.
build-run: deps-run
	@cmake --preset $(PRESET) > /dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS) --target otpd otp

# Builds and starts otpd on the embedded store with the sample config (Ctrl-C stops it).
run: build-run
	$(BUILD_DIR)/bin/otpd serve --config $(CONFIG)

# Installs otpd, otp, their man pages, the systemd unit, the sysusers entry and (when absent)
# the default config: `make install PREFIX=/usr DESTDIR=/tmp/pkg`. See docs/operations.md.
PREFIX ?= /usr/local
DESTDIR ?=
install: build-run
	@./scripts/install-deps --install
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD_DIR) --prefix "$(PREFIX)"

# Checks that every place that states the version agrees with CMake's project(VERSION).
version: build-run
	@/usr/bin/python3 tests/deploy/check_version.py --build-dir $(BUILD_DIR)

# Every test: unit, store conformance, end-to-end, deployment recipes, plus the OpenAPI and
# format checks.
test-deps:
	@./scripts/install-deps --test

test: test-deps build
	ctest --preset $(PRESET) -j $(JOBS)
	@$(MAKE) --no-print-directory lint-openapi check-format

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer (less the OpenAPI
# validation through Prism, which `make test` runs and a sanitizer adds nothing to).
test-asan: test-deps
	@$(MAKE) --no-print-directory PRESET=asan build
	ASAN_OPTIONS=detect_leaks=1 ctest --preset asan -j $(JOBS) -E '^e2e_prism'

# The concurrency-heavy suites under ThreadSanitizer.
test-tsan: test-deps
	@$(MAKE) --no-print-directory PRESET=tsan build
	TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/tsan.supp" ctest --preset tsan -j $(JOBS) -L 'store|unit'

lint-openapi:
	@if command -v node > /dev/null && node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)'; then \
	  ./scripts/lint-openapi; \
	else echo "lint-openapi: skipped (needs Node.js >= 20 for @redocly/cli)"; fi

# The AWS Lambda deployment package for deploy/aws/template.yaml: build/otpd-lambda.zip, the
# otpd binary as `bootstrap` with its shared libraries and glibc's loader bundled (for the
# machine's architecture). LAMBDA_CONFIG=path packages a TOML file as /var/task/otpd.toml.
LAMBDA_CONFIG ?=
lambda: build
	/usr/bin/python3 deploy/aws/package_lambda.py --binary $(BUILD_DIR)/bin/otpd \
	  --out $(BUILD_DIR)/otpd-lambda.zip $(if $(LAMBDA_CONFIG),--config $(LAMBDA_CONFIG))

# Checks deploy/aws/template.yaml against the CloudFormation specification (npm, lockfile
# committed in deploy/aws/validate/).
validate-template:
	@./deploy/aws/validate-template

check-format:
	@files=$$(git ls-files '*.cpp' '*.hpp'); \
	clang-format --dry-run --Werror $$files && echo "clang-format: clean"

clean:
	rm -rf build build-asan build-tsan

# ---- Benchmarks (docs/performance.md). Never part of `make test`: nothing is timed there.
# `bench` builds the optimised otpd and the microbenchmarks (Release, in build-bench/), runs
# both and rewrites the generated part of docs/performance.md. `bench-short` is the CI smoke
# run of the same harness (2 s per scenario); it writes build-bench/performance-short.md.
BENCH_DIR = build-bench
BENCH_OTPD = $(BUILD_DIR)/bin/otpd
MICRO = $(BENCH_DIR)/bin/otpd_micro
# The store otpd runs on (bench/run.py --store; only sqlite exists so far).
BENCH_STORE ?= sqlite
# More bench/run.py options, e.g. BENCH_ARGS="--wait-quiet 300" on a shared machine. The
# two long targets run only when asked (each is reported "not run" otherwise, as in CI):
# BENCH_ARGS="--pending 1000,10000000 --soak 600" adds throughput over a store prefilled
# with 1 000 and 10 000 000 pending codes (checked first: ~15 GB free in $TMPDIR; each data
# dir is deleted after use) and a 10-minute soak of the mix watching otpd's RSS; see
# docs/performance.md for how long they take.
BENCH_ARGS ?=

.PHONY: bench bench-short bench-build

# -Wno-restrict: GCC 12 at -O3 reports a false -Wrestrict inside std::string's operator+
# (GCC bug 105651); the default build (-O2) keeps the warning.
bench-build: build
	@./scripts/install-deps --bench
	@cmake -S . -B $(BENCH_DIR) -G Ninja -DOTPD_BUILD_BENCH=ON -DOTPD_BUILD_TESTS=OFF \
	  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-Wno-restrict > /dev/null
	@cmake --build $(BENCH_DIR) --target otpd_micro -j $(JOBS)

bench: bench-build
	$(MICRO) --benchmark_min_time=0.2 --benchmark_out=$(BENCH_DIR)/micro.json \
	  --benchmark_out_format=json
	/usr/bin/python3 bench/run.py --otpd $(BENCH_OTPD) --store $(BENCH_STORE) \
	  --out docs/performance.md --micro-json $(BENCH_DIR)/micro.json \
	  --micro-command "$(MICRO) --benchmark_min_time=0.2" $(BENCH_ARGS)

bench-short: bench-build
	$(MICRO) --benchmark_min_time=0.01 --benchmark_out=$(BENCH_DIR)/micro-short.json \
	  --benchmark_out_format=json
	/usr/bin/python3 bench/run.py --short --otpd $(BENCH_OTPD) --store $(BENCH_STORE) \
	  --out $(BENCH_DIR)/performance-short.md --micro-json $(BENCH_DIR)/micro-short.json \
	  --micro-command "$(MICRO) --benchmark_min_time=0.01" $(BENCH_ARGS)

# ---- Fuzzing (tests/fuzz/README.md). Never part of `make test`. `fuzz` builds the libFuzzer
# targets (clang, ASan + UBSan, in build-fuzz/) and runs each for FUZZ_SECONDS on a working
# copy of its seed corpus (build-fuzz/corpus-work/); crash inputs land in build-fuzz/artifacts/
# and make the run fail. `fuzz-short` is the CI pass: 10 s per target.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= fuzz_router fuzz_json_body fuzz_config fuzz_recipient_code

.PHONY: fuzz fuzz-short fuzz-build

fuzz-build:
	@./scripts/install-deps --test
	@cmake --preset fuzz > /dev/null
	@cmake --build --preset fuzz -j $(JOBS)

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) ./tests/fuzz/run.sh $(FUZZ_TARGETS)

fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

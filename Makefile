# The two commands a new user needs: `make run` and `make test`. Everything else is for
# development and CI.
PRESET ?= default
CONFIG ?= config/otpd.sample.toml
BUILD_DIR = $(if $(filter default,$(PRESET)),build,build-$(PRESET))
JOBS ?= $(shell nproc)

.PHONY: all deps build run test test-asan test-tsan check-format lint-openapi clean

all: build

deps:
	@./scripts/install-deps

build: deps
	@cmake --preset $(PRESET) > /dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS)

# Builds and starts otpd on the embedded store with the sample config (Ctrl-C stops it).
run: build
	./build/bin/otpd serve --config $(CONFIG)

# Every test: unit, store conformance, end-to-end, plus the OpenAPI and format checks.
test: build
	ctest --preset $(PRESET) -j $(JOBS)
	@$(MAKE) --no-print-directory lint-openapi check-format

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan:
	@$(MAKE) --no-print-directory PRESET=asan build
	ASAN_OPTIONS=detect_leaks=1 ctest --preset asan -j $(JOBS)

# The concurrency-heavy suites under ThreadSanitizer.
test-tsan:
	@$(MAKE) --no-print-directory PRESET=tsan build
	TSAN_OPTIONS=halt_on_error=1 ctest --preset tsan -j $(JOBS) -L 'store|unit'

lint-openapi:
	@if command -v node > /dev/null && node -e 'process.exit(+process.versions.node.split(".")[0] < 20)'; then \
	  ./scripts/lint-openapi; \
	else echo "lint-openapi: skipped (needs Node.js >= 20 for @redocly/cli)"; fi

check-format:
	@files=$$(git ls-files '*.cpp' '*.hpp'); \
	clang-format --dry-run --Werror $$files && echo "clang-format: clean"

clean:
	rm -rf build build-asan build-tsan

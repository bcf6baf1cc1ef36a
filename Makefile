# walstream developer entry points. `make demo` and `make test` work on a fresh Debian 12 machine:
# they install missing Debian packages first (as root, or through sudo).
# `make soak [SOAK_MINUTES=30] [SOAK_BUILD=release|asan]` runs the kill-loop soak (not in CI;
# tests/soak/README.md).
BUILD_DIR      ?= build
TEST_BUILD_DIR ?= build-test
TSAN_BUILD_DIR ?= build-tsan
JOBS           ?= 2
CMAKE_ARGS     ?=
SOAK_MINUTES   ?= 30
SOAK_BUILD     ?= release
SOAK_ARGS      ?=

DEB_PACKAGES := g++ make cmake pkg-config ccache sqlite3 lz4 clang-format \
                libsqlite3-dev liblz4-dev libboost-dev nlohmann-json3-dev doctest-dev \
                libssl-dev openssl curl libcurl4-openssl-dev libpugixml-dev libyaml-cpp-dev \
                patch
# Node and npm run the tests' S3 server (s3rver, pinned by tests/s3rver/package-lock.json and
# patched by tests/s3rver/s3rver-fixes.patch), installed into S3RVER_DIR; Debian's packages only
# where no node is installed at all.
NODE_DEB_PACKAGES := nodejs npm
S3RVER_DIR        := .deps/s3rver

# `make fuzz`: libFuzzer targets (tests/fuzz/README.md), built with clang in their own directory
# and run one after another for FUZZ_SECONDS each. libclang-rt-14-dev holds libFuzzer's runtime
# (clang-14 only recommends it); llvm-14 brings llvm-symbolizer for readable crash stacks.
FUZZ_BUILD_DIR    ?= build-fuzz
FUZZ_SECONDS      ?= 600
FUZZ_TARGETS      ?= record_decoder stream_query wal_segment pos backup_objects
FUZZ_DEB_PACKAGES := clang-14 libclang-rt-14-dev llvm-14

.PHONY: all deps fuzz-deps build test tsan test-tsan fuzz demo bench soak format format-check clean

all: build

# Installs the packages of $(1) that are missing, so a prepared machine never touches the network.
define install_missing
@missing=$$(for p in $(1); do \
    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
  done); \
if [ -n "$$missing" ]; then \
  echo "installing Debian packages:" $$missing; \
  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
  $$SUDO apt-get update -qq && \
  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
fi
endef

deps:
	$(call install_missing,$(DEB_PACKAGES))
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	  echo "installing Debian packages: $(NODE_DEB_PACKAGES)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(NODE_DEB_PACKAGES); \
	fi
	@if ! cmp -s tests/s3rver/package-lock.json $(S3RVER_DIR)/package-lock.json || \
	    ! cmp -s tests/s3rver/s3rver-fixes.patch $(S3RVER_DIR)/s3rver-fixes.patch; then \
	  echo "installing s3rver into $(S3RVER_DIR)"; \
	  rm -rf $(S3RVER_DIR) && mkdir -p $(S3RVER_DIR) && \
	  cp tests/s3rver/package.json tests/s3rver/package-lock.json $(S3RVER_DIR)/ && \
	  (cd $(S3RVER_DIR) && npm ci --no-audit --no-fund --loglevel=error) && \
	  patch -s -p1 -d $(S3RVER_DIR)/node_modules/s3rver < tests/s3rver/s3rver-fixes.patch && \
	  cp tests/s3rver/s3rver-fixes.patch $(S3RVER_DIR)/; \
	fi

fuzz-deps: deps
	$(call install_missing,$(FUZZ_DEB_PACKAGES))

build: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)
	cmake --build $(BUILD_DIR) -j$(JOBS) --target walstream walstream_vfs

# Tests run on an ASan+UBSan build with warnings as errors.
test: deps
	cmake -S . -B $(TEST_BUILD_DIR) -DCMAKE_BUILD_TYPE=Debug -DWALSTREAM_SANITIZE=ON \
	  -DWALSTREAM_WERROR=ON $(CMAKE_ARGS)
	cmake --build $(TEST_BUILD_DIR) -j$(JOBS)
	cd $(TEST_BUILD_DIR) && ctest --output-on-failure -j$(JOBS)

# The same tests on a ThreadSanitizer build (data races between capture, the checkpoint worker,
# the server's threads and the replica's). Not part of `make test`: it takes about twice as long.
# Bounded waits in the tests are scaled by 4 for its slowdown (tests/support/time_scale.h).
tsan: deps
	cmake -S . -B $(TSAN_BUILD_DIR) -DCMAKE_BUILD_TYPE=Debug -DWALSTREAM_TSAN=ON \
	  -DWALSTREAM_WERROR=ON $(CMAKE_ARGS)
	cmake --build $(TSAN_BUILD_DIR) -j$(JOBS)
	cd $(TSAN_BUILD_DIR) && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  WALSTREAM_TEST_TIME_SCALE=4 \
	  ctest --output-on-failure -j$(JOBS)

# Fails when any target crashed; the inputs are then in $(FUZZ_BUILD_DIR)/crashes.
fuzz: fuzz-deps
	cmake -S . -B $(FUZZ_BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
	  -DWALSTREAM_FUZZ=ON -DWALSTREAM_WERROR=ON $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD_DIR) -j$(JOBS) --target walstream_fuzzers
	tests/fuzz/run.sh $(FUZZ_BUILD_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

demo: build
	./deploy/demo.sh $(BUILD_DIR)/walstream

bench: build
	cmake --build $(BUILD_DIR) -j$(JOBS) --target walstream_bench
	$(BUILD_DIR)/bench/walstream_bench --walstream $(BUILD_DIR)/walstream --runs 3

# The soak runs the release build by default (the machine's cores go to more rounds);
# SOAK_BUILD=asan runs it on the ASan+UBSan build of `make test` instead.
ifeq ($(SOAK_BUILD),asan)
SOAK_BUILD_DIR := $(TEST_BUILD_DIR)
SOAK_CONFIGURE := -DCMAKE_BUILD_TYPE=Debug -DWALSTREAM_SANITIZE=ON -DWALSTREAM_WERROR=ON
else ifeq ($(SOAK_BUILD),release)
SOAK_BUILD_DIR := $(BUILD_DIR)
SOAK_CONFIGURE := -DCMAKE_BUILD_TYPE=RelWithDebInfo
else
SOAK_BUILD_DIR = $(error SOAK_BUILD must be release or asan)
endif

soak: deps
	cmake -S . -B $(SOAK_BUILD_DIR) $(SOAK_CONFIGURE) $(CMAKE_ARGS)
	cmake --build $(SOAK_BUILD_DIR) -j$(JOBS) --target walstream walstream_soak
	$(SOAK_BUILD_DIR)/tests/soak/walstream_soak --minutes $(SOAK_MINUTES) $(SOAK_ARGS)

test-tsan: tsan

FORMAT_SOURCES = find core proto server client cli relay storage backup vfs tests bench -name '*.cpp' -o -name '*.h'

format: deps
	$(FORMAT_SOURCES) | xargs clang-format -i

# Fails naming each file and line that `make format` would change.
format-check: deps
	$(FORMAT_SOURCES) | xargs clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD_DIR) $(TEST_BUILD_DIR) $(TSAN_BUILD_DIR) $(FUZZ_BUILD_DIR)

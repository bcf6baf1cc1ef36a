# walstream developer entry points. `make demo` and `make test` work on a fresh Debian 12 machine:
# they install missing Debian packages first (as root, or through sudo).
BUILD_DIR      ?= build
TEST_BUILD_DIR ?= build-test
TSAN_BUILD_DIR ?= build-tsan
JOBS           ?= 2
CMAKE_ARGS     ?=

DEB_PACKAGES := g++ make cmake pkg-config ccache sqlite3 lz4 \
                libsqlite3-dev liblz4-dev libboost-dev nlohmann-json3-dev doctest-dev

.PHONY: all deps build test test-tsan demo bench format clean

all: build

# Installs only what is missing, so a prepared machine never touches the network.
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)
	cmake --build $(BUILD_DIR) -j$(JOBS) --target walstream

# Tests run on an ASan+UBSan build with warnings as errors.
test: deps
	cmake -S . -B $(TEST_BUILD_DIR) -DCMAKE_BUILD_TYPE=Debug -DWALSTREAM_SANITIZE=ON \
	  -DWALSTREAM_WERROR=ON $(CMAKE_ARGS)
	cmake --build $(TEST_BUILD_DIR) -j$(JOBS)
	cd $(TEST_BUILD_DIR) && ctest --output-on-failure -j$(JOBS)

# The same tests on a ThreadSanitizer build (data races between capture, the checkpoint worker,
# the server's threads and the replica's). Not part of `make test`: it takes about twice as long.
test-tsan: deps
	cmake -S . -B $(TSAN_BUILD_DIR) -DCMAKE_BUILD_TYPE=Debug -DWALSTREAM_TSAN=ON \
	  -DWALSTREAM_WERROR=ON $(CMAKE_ARGS)
	cmake --build $(TSAN_BUILD_DIR) -j$(JOBS)
	cd $(TSAN_BUILD_DIR) && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  ctest --output-on-failure -j$(JOBS)

demo: build
	./deploy/demo.sh $(BUILD_DIR)/walstream

bench: build
	cmake --build $(BUILD_DIR) -j$(JOBS) --target walstream_bench
	$(BUILD_DIR)/bench/walstream_bench --walstream $(BUILD_DIR)/walstream --runs 3

format:
	find core proto server client cli tests bench -name '*.cpp' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(TEST_BUILD_DIR) $(TSAN_BUILD_DIR)

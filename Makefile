# SPDX-License-Identifier: MIT
# The two commands of the README: `make run` and `make test`. Each installs
# what is missing (Debian packages, via scripts/install-deps.sh) first.

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
RUN_ARGS   ?=

.PHONY: all deps build build-asan run test test-release test-asan clean package

all: build

deps:
	./scripts/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOCRPC_WERROR=ON

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

$(ASAN_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DOCRPC_WERROR=ON \
	      -DOCRPC_SANITIZE=address,undefined

build-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j$(JOBS)

# The Debian package: $(BUILD)/ocrpc_VERSION_ARCH.deb (dist/install.cmake).
package: build
	cd $(BUILD) && cpack -G DEB

run: build
	./$(BUILD)/ocrpc-server $(RUN_ARGS)

test-release: build
	cd $(BUILD) && ctest --output-on-failure

test-asan: build-asan
	cd $(ASAN_BUILD) && ctest --output-on-failure

# Both trees: the release build, then the same suite under ASan + UBSan,
# then the fuzz targets: their corpora and regression inputs once, and a
# short fuzzing pass (20 s each).
test: test-release test-asan fuzz-replay fuzz-ci

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

# ---- fuzzing (tests/fuzz): libFuzzer + ASan + UBSan, clang only ----
# `make fuzz` runs every target FUZZ_SECONDS on a copy of its seed corpus
# in $(FUZZ_BUILD) and fails on any crash; `make fuzz-ci` runs 20 s each.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   ?=
FUZZ_TARGETS := fuzz_h2_rpc fuzz_deframe fuzz_pb_decode fuzz_metadata fuzz_h1_rest \
                fuzz_image_header fuzz_auth
FUZZ_TARGETS += fuzz_llm_sse fuzz_llm_json
FUZZ_TARGETS += fuzz_redis_url
FUZZ_TARGETS += fuzz_pb_limits
FUZZ_CFLAGS  := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer -g -O1

.PHONY: fuzz fuzz-ci fuzz-build fuzz-replay

$(FUZZ_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE= \
	      -DOCRPC_FUZZ=ON -DOCRPC_TESTS=OFF -DOCRPC_WERROR=ON \
	      -DCMAKE_C_FLAGS='$(FUZZ_CFLAGS)' -DCMAKE_CXX_FLAGS='$(FUZZ_CFLAGS)'

fuzz-build: deps $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target $(FUZZ_TARGETS)

fuzz: fuzz-build
	./tests/fuzz/run_fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS) -- $(FUZZ_FLAGS)

fuzz-ci:
	$(MAKE) fuzz FUZZ_SECONDS=20

fuzz-replay: fuzz-build
	ctest --test-dir $(FUZZ_BUILD) -L fuzz --output-on-failure

# --- Clients: `make bench` runs ocrpc-bench against a mock-engine server
# (BENCH_ARGS, default -c 16 -m 10 -d 10s) and prints both CPU times.
BENCH_ARGS ?=
.PHONY: bench
bench: build
	./bench/run-mock.sh $(BUILD) $(BENCH_ARGS)
# --- end Clients

# --- Benchmark peers and comparison (bench/peers, bench/compare.sh); never
# part of `make test`. `bench` is taken (ocrpc-bench against a mock server),
# so the full comparison is `make bench-compare` (COMPARE_ARGS, e.g. --quick
# or --only 1,3).
COMPARE_ARGS ?=
.PHONY: bench-deps bench-peers bench-compare
bench-deps:
	./scripts/install-bench-deps.sh

bench-peers: bench-deps
	./bench/peers/build.sh

bench-compare:
	./bench/compare.sh $(COMPARE_ARGS)
# --- end benchmark peers

# --- REST vs gRPC vs the guide's FastAPI server (bench/rest_compare.py;
# wrk, python3-fastapi, python3-uvicorn from install-bench-deps.sh).
.PHONY: bench-rest
bench-rest: build
	/usr/bin/python3 bench/rest_compare.py --build $(BUILD)
# --- end REST comparison

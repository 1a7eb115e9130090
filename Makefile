# SPDX-License-Identifier: MIT
# The two commands of the README: `make run` and `make test`. Each installs
# what is missing (Debian packages, via scripts/install-deps.sh) first.

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
RUN_ARGS   ?=

.PHONY: all deps build build-asan run test test-release test-asan clean

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

run: build
	./$(BUILD)/ocrpc-server $(RUN_ARGS)

test-release: build
	cd $(BUILD) && ctest --output-on-failure

test-asan: build-asan
	cd $(ASAN_BUILD) && ctest --output-on-failure

# Both trees: the release build, then the same suite under ASan + UBSan.
test: test-release test-asan

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

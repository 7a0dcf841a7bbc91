# SPDX-License-Identifier: MIT
# Thin wrapper over meson; the README's two set-up commands are `make run` and `make test`.
BUILD ?= build
MESON_OPTS ?=

.PHONY: all deps test-deps build run test asan clean format

all: build

deps:
	./deploy/install-deps.sh build

test-deps:
	./deploy/install-deps.sh test

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Starts the main job on the embedded default in the foreground: mara-aaa on 127.0.0.1:3868
# (realm example.com, demo users deploy/demo/users) and mara-proxy on 127.0.0.1:5060 UDP+TCP.
# Ctrl-C stops both.
run: build
	./deploy/run-demo.sh $(BUILD)

# Whole suite: unit tests, integration tests against real peers (tshark, freeDiameter), then
# the same suite again under ASan+UBSan. Ends with "N passed, N failed".
test: test-deps build
	./tests/run-all.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan

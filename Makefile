# SPDX-License-Identifier: MIT
# Thin wrapper over meson; the README's two set-up commands are `make run` and `make test`.
BUILD ?= build
MESON_OPTS ?=

.PHONY: all deps test-deps build run test asan clean format deb

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

# Side by side with Kamailio 5.6 (bench/compare/run.sh): mara-proxy + mara-aaa, Kamailio with
# digest auth, both as plain forwarders, same generator (SIPp; build/mara-bench when built) at
# 1000/2000/3000 calls/s, median of 3 runs; results in bench/results/<UTC timestamp>/ (summary.md,
# runs.csv, cpu_per_call.png). About 6 minutes; BENCH_ARGS=--quick for one short point.
.PHONY: bench
bench: test-deps build
	./bench/compare/run.sh $(BENCH_ARGS)

# The Diameter server alone (bench/appsip/run.sh): mara-aaa against freeDiameter's app_sip (RFC 4740
# server; built from the Debian source package, MariaDB private instance started and stopped by
# the script), same mara-bench --flow mar load, median of 3 runs each; results in
# bench/results/appsip-<UTC timestamp>/ (summary.md: MAR/s, ratio, CPU per MAR, machine). About
# a minute plus the first set-up (apt, ~30 s build). Not part of `make test`.
.PHONY: bench-appsip
bench-appsip: build
	MARA_BUILD=$(abspath $(BUILD)) ./bench/appsip/run.sh $(BENCH_ARGS)

# Debian package (dpkg-buildpackage -us -uc -b) of the tree as git sees it (tracked and untracked
# files, not the ignored ones), built in a copy under $(DEB_DIR)/src so neither build/ nor the
# tree's parent is touched; the .deb, .buildinfo and .changes land in $(DEB_DIR).
# Needs debhelper, dpkg-dev and fakeroot (make test-deps). DEB_BUILD_OPTIONS=nocheck skips the
# unit tests run during the build.
DEB_DIR ?= $(BUILD)/deb
deb:
	@command -v dpkg-buildpackage >/dev/null || \
		{ echo "make deb: needs dpkg-dev, debhelper, fakeroot (make test-deps)" >&2; exit 1; }
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src/mara
	git ls-files -z --cached --others --exclude-standard | \
		tar --null -T - --ignore-failed-read -cf - | tar -C $(DEB_DIR)/src/mara -xf -
	cd $(DEB_DIR)/src/mara && dpkg-buildpackage -us -uc -b
	mv $(DEB_DIR)/src/*.deb $(DEB_DIR)/src/*.buildinfo $(DEB_DIR)/src/*.changes $(DEB_DIR)/
	rm -rf $(DEB_DIR)/src
	@ls -1 $(DEB_DIR)/*.deb

# Micro-benchmarks (bench/micro): mara's parser, codec, auth and rings against libosip2 and
# freeDiameter's libfdproto; 5 repetitions, medians in bench/results/micro-<host>-<date>.json
# and a text summary (speed-ups, machine) beside it.
.PHONY: bench-micro
bench-micro: build
	./bench/micro/run.sh $(BUILD)

# libFuzzer targets (tests/fuzz: SIP parser and proxy rules, Diameter decoder/validator and
# mara-aaa's MAR handler, digest header parser, config loader), FUZZ_SECONDS each (600); clang,
# ASan+UBSan, in build-fuzz/; the corpus grows in build-fuzz/corpus/ from run to run.
FUZZ_SECONDS ?= 600
.PHONY: fuzz
fuzz: test-deps
	./tests/fuzz/run.sh $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-fuzz

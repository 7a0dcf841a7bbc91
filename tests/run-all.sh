#!/bin/bash
# SPDX-License-Identifier: MIT
# run-all.sh - the whole test suite, as `make test` runs it:
#   1. every meson test (unit + integration) on the normal build (jemalloc, -O2)
#   2. the same suite on an ASan+UBSan build (build-asan/), where LeakSanitizer runs at every
#      process exit, so a leak or an undefined behaviour fails the test that hit it (less the
#      timing-only tests, meson suite slow-timing); any sanitizer report fails the run
#   3. each libFuzzer target (tests/fuzz) for MARA_FUZZ_SECONDS (10) in build-fuzz/
# Ends with one line: "N passed, N failed" (skips are listed apart and are not passes).
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
ASAN=${ASAN_BUILD:-build-asan}
total_pass=0
total_fail=0
total_skip=0

run_suite() {
	local dir=$1 label=$2 json pass fail skip
	shift 2
	meson test -C "$dir" --print-errorlogs --num-processes 1 "$@" 2>&1 | tail -n 40
	json="$dir/meson-logs/testlog.json"
	pass=$(grep -c '"result": "OK"' "$json")
	skip=$(grep -c '"result": "SKIP"' "$json")
	fail=$(grep -cE '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$json")
	echo "== $label: $pass passed, $fail failed, $skip skipped"
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	total_skip=$((total_skip + skip))
}

run_suite "$BUILD" "default build"

if [ "${MARA_NO_ASAN:-0}" != 1 ]; then
	if [ ! -f "$ASAN/build.ninja" ]; then
		meson setup "$ASAN" -Db_sanitize=address,undefined -Db_lundef=false >/dev/null ||
			{ echo "cannot configure the sanitizer build"; total_fail=$((total_fail + 1)); }
	fi
	if ninja -C "$ASAN" >/dev/null; then
		# every report also lands in a file of $SAN, so a leak or an error in a daemon that a
		# script's cleanup stopped (no exit status checked) still fails the run below
		SAN=$(mktemp -d /tmp/mara-san.XXXXXX)
		export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23:log_path=$SAN/asan
		export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=24:log_path=$SAN/ubsan
		export MARA_SANITIZED=1
		run_suite "$ASAN" "ASan+UBSan build" --no-suite slow-timing
		reports=$(grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error' "$SAN"/* 2>/dev/null)
		if [ -n "$reports" ]; then
			echo "== sanitizer reports from the suite ($(echo "$reports" | wc -l) processes):"
			for f in $reports; do head -n 40 "$f" | sed 's/^/#   /'; done
			total_fail=$((total_fail + 1))
		else
			echo "== sanitizer reports from the suite: none"
		fi
		rm -rf "$SAN"
		unset ASAN_OPTIONS UBSAN_OPTIONS
	else
		ninja -C "$ASAN" | tail -n 20
		echo "sanitizer build failed"
		total_fail=$((total_fail + 1))
	fi
fi

# 3. every libFuzzer target for a short while (tests/fuzz/run.sh: clang, ASan+UBSan, the seeds
#    and every past crash in tests/fuzz/regress replayed first); `make fuzz` runs them longer
if [ "${MARA_NO_FUZZ:-0}" != 1 ]; then
	tests/fuzz/run.sh "${MARA_FUZZ_SECONDS:-10}" 2>&1 | tee /tmp/mara-fuzz.$$.log | tail -n 30
	line=$(grep -E '^fuzz: [0-9]+ passed, [0-9]+ failed' /tmp/mara-fuzz.$$.log)
	if [ -n "$line" ]; then
		total_pass=$((total_pass + $(echo "$line" | awk '{print $2}')))
		total_fail=$((total_fail + $(echo "$line" | awk '{print $4}')))
	else
		echo "fuzz: did not run"
		total_fail=$((total_fail + 1))
	fi
	rm -f /tmp/mara-fuzz.$$.log
fi

[ "$total_skip" -gt 0 ] && echo "($total_skip skipped: see above)"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]

#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/fuzz/run.sh - builds the libFuzzer targets (clang, ASan+UBSan, -Dfuzz=true) in
# build-fuzz/ and runs each for SECONDS (default 10: the short run of `make test`; `make fuzz`
# passes FUZZ_SECONDS, 600 by default). Inputs: the seeds in the tree (RFC 4475 vectors, captured
# Figure 4 flows, digest headers, example configs) and every crash kept in tests/fuzz/regress/
# <target>/, replayed first; new corpus entries go to build-fuzz/corpus/<target> (kept between
# runs, not in git). A crash, leak or UB report fails the target: its input is left in
# build-fuzz/crashes/<target>/ - add it to tests/fuzz/regress/<target>/ with the fix.
# Ends with "fuzz: N passed, N failed" and exits non-zero on a failure.
set -u
cd "$(dirname "$0")/../.."
SECS=${1:-${FUZZ_SECONDS:-10}}
B=${FUZZ_BUILD:-build-fuzz}
command -v clang >/dev/null || { echo "fuzz: clang not installed (make test-deps)"; exit 1; }
if [ ! -f "$B/build.ninja" ]; then
	CC=clang meson setup "$B" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
		>"/tmp/mara-fuzz-setup.$$.log" 2>&1 || { cat "/tmp/mara-fuzz-setup.$$.log"; echo "fuzz: cannot configure $B"; exit 1; }
fi
TARGETS="fuzz_sip fuzz_dia fuzz_digest fuzz_conf"
ninja -C "$B" $(for t in $TARGETS; do echo "tests/fuzz/$t"; done) >/dev/null ||
	{ ninja -C "$B" tests/fuzz/fuzz_sip 2>&1 | tail -20; echo "fuzz: build failed"; exit 1; }

seeds() {
	case $1 in
	fuzz_sip) echo tests/vectors/rfc4475 tests/fuzz/seeds/sip ;;
	fuzz_dia) echo tests/vectors/dia tests/fuzz/seeds/dia ;;
	fuzz_digest) echo tests/fuzz/seeds/digest ;;
	fuzz_conf) echo deploy/examples tests/fuzz/seeds/conf ;;
	esac
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
pass=0 fail=0
for t in $TARGETS; do
	corpus=$B/corpus/$t crashes=$B/crashes/$t regress=tests/fuzz/regress/$t
	mkdir -p "$corpus" "$crashes" "$regress"
	dirs=()
	for d in $(seeds "$t") "$regress"; do [ -d "$d" ] && dirs+=("$d"); done
	log=$B/fuzz-$t.log
	# -max_len: a UDP datagram (64 KiB) holds any of our inputs; -rss_limit_mb: the whole
	# process under ASan; -timeout: one input taking a second is a hang worth a report
	if timeout $((SECS + 120)) "$B/tests/fuzz/$t" -max_total_time="$SECS" -max_len=65535 \
		-timeout=5 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/" \
		"$corpus" "${dirs[@]}" >"$log" 2>&1; then
		execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
		cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
		echo "ok - $t: ${execs:-?} inputs in ${SECS} s, no crash (${cov:-cov: ?}, corpus $(ls "$corpus" | wc -l))"
		pass=$((pass + 1))
	else
		echo "not ok - $t: crashed or failed; input(s) in $crashes/, log $log:"
		grep -E 'ERROR|SUMMARY|runtime error|==[0-9]+==' "$log" | head -n 20 | sed 's/^/#   /'
		fail=$((fail + 1))
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

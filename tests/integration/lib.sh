#!/bin/bash
# SPDX-License-Identifier: MIT
# lib.sh - helpers sourced by the integration scripts: PID bookkeeping and cleanup, free ports,
# bounded waits, mara-aaa start/stop. Every wait has a limit; every process started is killed
# by PID at exit; the work dir is removed.
BUILD=${MARA_BUILD:-$(cd "$(dirname "$0")/../../build" && pwd)}
SRC=${MARA_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
AAA=$BUILD/mara-aaa
CLIENT=$BUILD/tests/dia_client
W=$(mktemp -d /tmp/mara-test.XXXX)
PIDS=()
FAIL=0

# Under the sanitizer build (tests/run-all.sh: ASAN_OPTIONS exitcode=23, UBSAN_OPTIONS
# exitcode=24) a daemon that leaks reports it when main() returns after SIGTERM: its status is 23
# and the report is in its log. Either fails the test, whatever it asserted before.
sanitizer_check() {
	if [ "$2" = 23 ] || [ "$2" = 24 ]; then
		echo "not ok - pid $1 exited with status $2: a sanitizer report (leak or UB), see its log"
		SAN_FAIL=1
	fi
}

cleanup() {
	local p rc f
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
		rc=$?
		sanitizer_check "$p" "$rc"
	done
	for f in $(grep -rlIE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$W" 2>/dev/null); do
		echo "not ok - sanitizer report in ${f#"$W"/}:"
		grep -aE -A 12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f" | head -n 40
		SAN_FAIL=1
	done
	rm -rf "$W"
	[ "${SAN_FAIL:-0}" = 1 ] && exit 1
}
trap cleanup EXIT

ok() { echo "ok - $*"; }
nok() { echo "not ok - $*"; FAIL=1; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what"; fi; }

command -v ss >/dev/null || { echo "skip: ss not installed"; exit 77; }

free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 10000))
		ss -ltnH "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
	return 1
}

# wait_for FILE PATTERN SECONDS
wait_for() {
	local i
	for i in $(seq $(($3 * 10))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "timeout waiting for '$2' in $1" >&2
	return 1
}

# start_aaa NAME PORT [extra config lines] -> sets LAST_PID; log in $W/NAME.log
# (AAA_ALGS, when set, replaces the algorithms list: e.g. AAA_ALGS='"SHA-256"'; AAA_LOG_LEVEL
# the log level; AAA_ORIGIN_REALM the Diameter realm, default test)
start_aaa() {
	local name=$1 port=$2 sport algs='"MD5", "SHA-256", "SHA-512-256"'
	shift 2
	[ -n "${AAA_ALGS:-}" ] && algs=$AAA_ALGS
	sport=$(free_port) || return 1
	eval "${name}_STATS=$sport" # its /metrics port, for scrape_to
	cat >"$W/$name.conf" <<EOF
log = { level = "${AAA_LOG_LEVEL:-info}"; };
aaa = {
  listen = "127.0.0.1:$port";
  origin_host = "$name.test";
  origin_realm = "${AAA_ORIGIN_REALM:-test}";
  threads = 2;
  nonce_secret = "$SECRET";
  algorithms = [ $algs ];
  stats_listen = "127.0.0.1:$sport";
  $*
};
EOF
	"$AAA" -c "$W/$name.conf" >"$W/$name.log" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
	wait_for "$W/$name.log" 'mara-aaa ready' 5 || { cat "$W/$name.log"; return 1; }
}

# stop PID LOG: SIGTERM, must exit 0 within 5 s
stop_ok() {
	local pid=$1 rc
	kill -TERM "$pid"
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		return 1
	fi
	wait "$pid"
	rc=$?
	sanitizer_check "$pid" "$rc"
	return $rc
}


# the nonce secret shared by the instances a script starts
SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')

# scrape_to PORT FILE: the body of GET /metrics (bash's /dev/tcp: no curl needed)
scrape_to() {
	exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
	printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
	tr -d '\r' <&3 | sed '1,/^$/d' >"$2"
	exec 3<&-
	[ -s "$2" ]
}

# mval FILE KEY: the value of the sample KEY (name{labels} as written) in a scraped /metrics
# file, 0 when absent; msum FILE PREFIX: the sum of every sample whose name starts with PREFIX
mval() { awk -v k="$2" '$1 == k {print $2; f=1} END {if (!f) print 0}' "$1"; }
msum() { awk -v k="$2" 'index($1, k) == 1 {s += $2} END {print s + 0}' "$1"; }

#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/lib.sh - what the benchmark drivers (bench/compare/run.sh, bench/appsip/run.sh) share:
# the paths (SRC, BUILD, PROXY, AAA, MBENCH; MARA_SRC / MARA_BUILD override), die / log / usage,
# the work folder and the exit trap that stops every process started (by PID), start_daemon,
# the mara-aaa and mara-proxy configs every benchmark runs (bench_aaa_conf, bench_proxy_conf);
# and, from tests/integration/util.sh (the helpers the integration tests use too): free_port,
# wait_for, wait_listening, cpu_ticks, sys_ticks, hex_secret.
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$BENCH_DIR/../tests/integration/util.sh"
SRC=${MARA_SRC:-$(cd "$BENCH_DIR/.." && pwd)}
BUILD=${MARA_BUILD:-$SRC/build}
PROXY=$BUILD/mara-proxy
AAA=$BUILD/mara-aaa
MBENCH=$BUILD/mara-bench
HZ=$(getconf CLK_TCK)

die() { echo "$(basename "$0"): $*" >&2; exit 1; }
log() { echo "[$(date -u +%T)] $*" >&2; }
# usage: the script's header comment (line 2 up to `set -u`), as text
usage() { sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

# bench_setup NAME: W, a work folder (/tmp/mara-NAME.XXXX) removed at exit; PIDS, the processes
# the exit trap stops: SIGTERM to each, up to 15 s for all to exit (MariaDB flushes its tables),
# then SIGKILL to any left
bench_setup() {
	W=$(mktemp -d "/tmp/mara-$1.XXXX") || die "mktemp"
	PIDS=()
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}
bench_cleanup() {
	local p alive
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 150); do
		alive=0
		for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$W"
}

# start_daemon LOG READY SECONDS CMD [ARG]... -> LAST_PID, LOG_FROM: CMD in the background, its
# output appended to LOG (LOG_FROM: the byte where it begins, for wait_for FILE PATTERN SECONDS
# FROM), its PID added to PIDS; with READY (a grep pattern) not empty, returns once READY is in
# what CMD wrote (1 after SECONDS)
start_daemon() {
	local log=$1 ready=$2 secs=$3
	shift 3
	LOG_FROM=$(($(stat -c %s "$log" 2>/dev/null || echo 0) + 1))
	"$@" >>"$log" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
	[ -z "$ready" ] || wait_for "$log" "$ready" "$secs" "$LOG_FROM"
}

# bench_aaa_conf FILE PORT THREADS: mara-aaa as the benchmarks run it (aaa.bench.test, realm
# example.com, the demo users, a fresh nonce secret)
bench_aaa_conf() {
	cat >"$1" <<EOF
# mara-aaa for the benchmarks (bench/lib.sh writes it; ports chosen free per run)
log = { level = "info"; };
aaa = {
  listen = "127.0.0.1:$2";
  origin_host = "aaa.bench.test";
  origin_realm = "bench.test";
  threads = $3;
  users = "$SRC/deploy/demo/users";
  realm = "example.com";
  nonce_secret = "$(hex_secret)";
  algorithms = [ "MD5", "SHA-256", "SHA-512-256" ];
  # sized for the run: every nonce of a run (up to ~20k calls/s x the saturation steps) stays
  # tracked; with the default 65536 a closed-loop run at ~19k calls/s evicts live nonces and
  # ~0.15 % of the authorized INVITEs get a stale 407 (by design: eviction -> stale, never a
  # replay). Sizing rule: replay_entries >= peak nonces/s x nonce_lifetime_s.
  replay_entries = 2097152;
  stats_listen = "";
};
EOF
}

# bench_proxy_conf FILE SIP_PORT UAS_PORT AAA_PORT THREADS AUTH_METHODS: mara-proxy as the
# benchmarks run it, UDP only, everything routed to the UAS. Without auth (AUTH_METHODS "[]")
# AAA_PORT still names a peer, a free port where nothing listens: mara-proxy needs one Diameter
# peer in its config (an empty aaa_peers passes --check-config but start-up fails with EINVAL);
# no MAR is ever sent, the pool only retries the connection every reconnect_s
bench_proxy_conf() {
	cat >"$1" <<EOF
# mara-proxy for the benchmarks (bench/lib.sh writes it; ports chosen free per run)
log = { level = "info"; };
proxy = {
  listen = "127.0.0.1:$2";
  threads = $5;
  realm = "example.com";
  auth_methods = $6;
  record_route = true;
  tcp = false;
  routes = ( { domain = "*"; address = "127.0.0.1:$3"; transport = "udp"; } );
  allow = [ "127.0.0.0/8" ];
  origin_host = "proxy.bench.test";
  origin_realm = "bench.test";
  destination_realm = "example.com";
  aaa_peers = ( { host = "aaa.bench.test"; address = "127.0.0.1:$4"; } );
  stats_listen = "";
};
EOF
}

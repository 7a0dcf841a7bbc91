#!/bin/bash
# SPDX-License-Identifier: MIT
# mara_wakeups.sh - W, the wake-ups per call of mara-proxy itself: the voluntary context switches
# of all its threads (sum of /proc/PID/task/*/status) per completed call. It also records the
# proxy's CPU per call (utime+stime from /proc/PID/stat) and the same for mara-aaa. W is the
# unknown of the floor estimate in README.md (W x c_sleep + (M - W) x c_busy).
# mara-proxy (threads = nproc) + mara-aaa, configured as in bench/compare; build/mara-bench drives
# RATE calls/s of the Figure 4 flow (auth) and of the forward-only flow (fwd) for DURATION s,
# RUNS times each. Loopback only; every process under timeout and stopped by PID. Writes
# bench/results/floor-wakeups-<UTC>/ (raw.csv, summary.md).
#   env: RATE (3000) DURATION (3) RUNS (3) BUILD (build)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
RATE=${RATE:-3000}
DURATION=${DURATION:-3}
RUNS=${RUNS:-3}
OUT=${OUT:-$ROOT/bench/results/floor-wakeups-$(date -u +%Y%m%dT%H%M%SZ)}
W=$(mktemp -d /tmp/mara-wakeups.XXXX)
PIDS=()
HZ=$(getconf CLK_TCK)

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT

for b in mara-proxy mara-aaa mara-bench; do
	[ -x "$BUILD/$b" ] || { echo "no $BUILD/$b (ninja -C build)" >&2; exit 1; }
done
mkdir -p "$OUT"

free_udp_tcp_port() { # a port with neither a TCP listener nor a UDP socket on it
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 20000))
		ss -ltnuH "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
	return 1
}

wait_line() { # FILE PATTERN: up to 10 s
	for _ in $(seq 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "timeout waiting for '$2' in $1" >&2
	return 1
}

vcsw() { # PID -> "voluntary nonvoluntary" summed over its threads
	cat /proc/"$1"/task/*/status 2>/dev/null |
		awk '/^voluntary_ctxt_switches/{v+=$2} /^nonvoluntary_ctxt_switches/{n+=$2} END{print v+0, n+0}'
}
ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; }
child() { # PID of timeout -> PID of the daemon it runs
	local c
	for _ in $(seq 50); do
		c=$(cat /proc/"$1"/task/*/children 2>/dev/null | awk '{print $1}')
		[ -n "$c" ] && { echo "$c"; return; }
		sleep 0.02
	done
	return 1
}

# start MODE -> PROXY_PID AAA_PID (of their timeout), PROXY_D AAA_D (the daemons), SIP_PORT UAS_PORT
start() {
	local mode=$1 pa methods='[ "*" ]'
	SIP_PORT=$(free_udp_tcp_port) && UAS_PORT=$(free_udp_tcp_port) && pa=$(free_udp_tcp_port) ||
		return 1
	AAA_PID=""
	if [ "$mode" = auth ]; then
		cat >"$W/aaa.conf" <<EOF
log = { level = "info"; };
aaa = {
  listen = "127.0.0.1:$pa";
  origin_host = "aaa.bench.test";
  origin_realm = "bench.test";
  threads = $(nproc);
  users = "$ROOT/deploy/demo/users";
  realm = "example.com";
  nonce_secret = "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')";
  algorithms = [ "MD5", "SHA-256", "SHA-512-256" ];
  replay_entries = 2097152;
  stats_listen = "";
};
EOF
		timeout 120 "$BUILD/mara-aaa" -c "$W/aaa.conf" >"$W/aaa.log" 2>&1 &
		AAA_PID=$!
		PIDS+=("$AAA_PID")
		wait_line "$W/aaa.log" 'mara-aaa ready' || return 1
		AAA_D=$(child "$AAA_PID") || return 1
	else
		methods='[]' # a forwarder; the peer named below is never connected
	fi
	cat >"$W/proxy.conf" <<EOF
log = { level = "info"; };
proxy = {
  listen = "127.0.0.1:$SIP_PORT";
  threads = $(nproc);
  realm = "example.com";
  auth_methods = $methods;
  record_route = true;
  tcp = false;
  routes = ( { domain = "*"; address = "127.0.0.1:$UAS_PORT"; transport = "udp"; } );
  allow = [ "127.0.0.0/8" ];
  origin_host = "proxy.bench.test";
  origin_realm = "bench.test";
  destination_realm = "example.com";
  aaa_peers = ( { host = "aaa.bench.test"; address = "127.0.0.1:$pa"; } );
  stats_listen = "";
};
EOF
	timeout 120 "$BUILD/mara-proxy" -c "$W/proxy.conf" >"$W/proxy.log" 2>&1 &
	PROXY_PID=$!
	PIDS+=("$PROXY_PID")
	wait_line "$W/proxy.log" 'mara-proxy ready' || return 1
	PROXY_D=$(child "$PROXY_PID") || return 1
	if [ "$mode" = auth ]; then wait_line "$W/proxy.log" 'peer open' || return 1; fi
}

stop() {
	local p
	for p in $PROXY_PID $AAA_PID; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	PIDS=()
}

echo "mode,run,rate,calls_ok,proxy_cpu_us_per_call,proxy_vcsw_per_call,proxy_ivcsw_per_call,aaa_cpu_us_per_call,aaa_vcsw_per_call,load1" >"$OUT/raw.csv"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for run in $(seq "$RUNS"); do
	for mode in auth fwd; do
		start "$mode" || { cat "$W"/*.log >&2; exit 1; }
		flow=(--flow noauth)
		[ "$mode" = auth ] && flow=(--flow invite --user alice --password alice-secret --realm example.com)
		# the warm-up second is not in the sample: CPU and switches are read around the
		# measured calls only, from a second run of the generator
		timeout 30 "$BUILD/mara-bench" "${flow[@]}" --target "127.0.0.1:$SIP_PORT" \
			--uas "127.0.0.1:$UAS_PORT" --calls "$RATE" --rate "$RATE" --json >/dev/null 2>&1
		p0=$(ticks "$PROXY_D")
		read -r v0 n0 < <(vcsw "$PROXY_D")
		a0=0 av0=0
		if [ -n "$AAA_PID" ]; then a0=$(ticks "$AAA_D"); read -r av0 _ < <(vcsw "$AAA_D"); fi
		timeout 60 "$BUILD/mara-bench" "${flow[@]}" --target "127.0.0.1:$SIP_PORT" \
			--uas "127.0.0.1:$UAS_PORT" --calls $((RATE * DURATION)) --rate "$RATE" --json \
			>"$W/bench.json" 2>"$W/bench.err"
		p1=$(ticks "$PROXY_D")
		read -r v1 n1 < <(vcsw "$PROXY_D")
		a1=0 av1=0
		if [ -n "$AAA_PID" ]; then a1=$(ticks "$AAA_D"); read -r av1 _ < <(vcsw "$AAA_D"); fi
		ok=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("completed", d.get("ok", 0)))' "$W/bench.json" 2>/dev/null)
		stop
		[ -n "$ok" ] && [ "$ok" -gt 0 ] || { echo "run failed: $mode $run: $(cat "$W/bench.err")" >&2; continue; }
		awk -v OFS=, -v m="$mode" -v r="$run" -v rate="$RATE" -v ok="$ok" -v hz="$HZ" \
			-v p=$((p1 - p0)) -v v=$((v1 - v0)) -v n=$((n1 - n0)) -v a=$((a1 - a0)) \
			-v av=$((av1 - av0)) -v l="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN{
			print m, r, rate, ok, sprintf("%.1f", p / hz * 1e6 / ok), sprintf("%.2f", v / ok),
			      sprintf("%.2f", n / ok), sprintf("%.1f", a / hz * 1e6 / ok),
			      sprintf("%.2f", av / ok), l }' | tee -a "$OUT/raw.csv"
	done
done
python3 - "$OUT/raw.csv" "$OUT/summary.md" "$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
o = open(sys.argv[2], 'w')
o.write('# mara-proxy wake-ups per call (bench/floor/mara_wakeups.sh)\n\n')
o.write('load average before: %s, after: %s (shared box)\n\n' % (sys.argv[3], sys.argv[4]))
o.write('| flow | rate | runs | proxy CPU us/call | proxy vol. switches/call (W) | invol./call | mara-aaa CPU us/call | mara-aaa vol./call |\n|---|---|---|---|---|---|---|---|\n')
for mode in ('auth', 'fwd'):
    rs = [r for r in rows if r['mode'] == mode]
    if not rs:
        continue
    def m(k):
        v = sorted(float(r[k]) for r in rs)
        return '%.2f [%.2f-%.2f]' % (statistics.median(v), v[0], v[-1])
    o.write('| %s | %s | %d | %s | %s | %s | %s | %s |\n' % (mode, rs[0]['rate'], len(rs),
            m('proxy_cpu_us_per_call'), m('proxy_vcsw_per_call'), m('proxy_ivcsw_per_call'),
            m('aaa_cpu_us_per_call') if mode == 'auth' else '-', m('aaa_vcsw_per_call') if mode == 'auth' else '-'))
EOF
cat "$OUT/summary.md"

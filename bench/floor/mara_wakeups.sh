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
MARA_BUILD=${MARA_BUILD:-${BUILD:-}} # BUILD, as before bench/lib.sh took over the paths
. "$(cd "$(dirname "$0")" && pwd)/../lib.sh"
RATE=${RATE:-3000}
DURATION=${DURATION:-3}
RUNS=${RUNS:-3}
OUT=${OUT:-$SRC/bench/results/floor-wakeups-$(date -u +%Y%m%dT%H%M%SZ)}
bench_setup wakeups

for b in mara-proxy mara-aaa mara-bench; do
	[ -x "$BUILD/$b" ] || die "no $BUILD/$b (ninja -C build)"
done
mkdir -p "$OUT"

child() { # PID of timeout -> PID of the daemon it runs
	local c
	for _ in $(seq 50); do
		c=$(cat /proc/"$1"/task/*/children 2>/dev/null | awk '{print $1}')
		[ -n "$c" ] && { echo "$c"; return; }
		sleep 0.02
	done
	return 1
}

vcsw() { # PID -> "voluntary nonvoluntary" summed over its threads
	cat /proc/"$1"/task/*/status 2>/dev/null |
		awk '/^voluntary_ctxt_switches/{v+=$2} /^nonvoluntary_ctxt_switches/{n+=$2} END{print v+0, n+0}'
}
# start MODE -> PROXY_PID AAA_PID (of their timeout), PROXY_D AAA_D (the daemons), SIP_PORT UAS_PORT
start() {
	local mode=$1 pa methods='[ "*" ]'
	SIP_PORT=$(free_port) && UAS_PORT=$(free_port) && pa=$(free_port) || return 1
	AAA_PID=""
	if [ "$mode" = auth ]; then
		bench_aaa_conf "$W/aaa.conf" "$pa" "$(nproc)"
		start_daemon "$W/aaa.log" 'mara-aaa ready' 10 \
			timeout 120 "$BUILD/mara-aaa" -c "$W/aaa.conf" || return 1
		AAA_PID=$LAST_PID
		AAA_D=$(child "$AAA_PID") || return 1
	else
		methods='[]' # a forwarder; the peer named below is never connected
	fi
	bench_proxy_conf "$W/proxy.conf" "$SIP_PORT" "$UAS_PORT" "$pa" "$(nproc)" "$methods"
	start_daemon "$W/proxy.log" 'mara-proxy ready' 10 \
		timeout 120 "$BUILD/mara-proxy" -c "$W/proxy.conf" || return 1
	PROXY_PID=$LAST_PID
	PROXY_D=$(child "$PROXY_PID") || return 1
	if [ "$mode" = auth ]; then wait_for "$W/proxy.log" 'peer open' 10 "$LOG_FROM" || return 1; fi
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
		p0=$(cpu_ticks "$PROXY_D")
		read -r v0 n0 < <(vcsw "$PROXY_D")
		a0=0 av0=0
		if [ -n "$AAA_PID" ]; then a0=$(cpu_ticks "$AAA_D"); read -r av0 _ < <(vcsw "$AAA_D"); fi
		timeout 60 "$BUILD/mara-bench" "${flow[@]}" --target "127.0.0.1:$SIP_PORT" \
			--uas "127.0.0.1:$UAS_PORT" --calls $((RATE * DURATION)) --rate "$RATE" --json \
			>"$W/bench.json" 2>"$W/bench.err"
		p1=$(cpu_ticks "$PROXY_D")
		read -r v1 n1 < <(vcsw "$PROXY_D")
		a1=0 av1=0
		if [ -n "$AAA_PID" ]; then a1=$(cpu_ticks "$AAA_D"); read -r av1 _ < <(vcsw "$AAA_D"); fi
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

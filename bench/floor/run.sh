#!/bin/bash
# SPDX-License-Identifier: MIT
# run.sh - measure the floor of one ping-pong leg at the proxy position (README.md here).
# Builds pingpong.c with gcc -O2, then runs every (variant, rate) point ROUNDS times, the points
# interleaved round by round so that a burst of load from elsewhere hits one run of many points
# rather than all runs of one point. Writes bench/results/floor-<UTC>/ (raw.csv, summary.md).
# Loopback only; every process runs under timeout and is killed by PID. About 4.5 minutes with
# the defaults (25 points x 5 rounds x ~2.2 s).
#   env: ROUNDS (5) WARM (0.5 s) SECS (1.5 s) RATES ("1000 3000 10000 30000 0"; 0 = unpaced,
#        WINDOW (32) datagrams in flight) VARIANTS PIN (1: middle on CPU1, client and far on CPU0)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ROUNDS=${ROUNDS:-5}
WARM=${WARM:-0.5}
SECS=${SECS:-1.5}
WINDOW=${WINDOW:-32}
RATES=${RATES:-"1000 3000 10000 30000 0"}
VARIANTS=${VARIANTS:-"block:echo uring:echo block:relay uring:relay uring:tcp"}
PIN=${PIN:-1}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$ROOT/bench/results/floor-$STAMP}
. "$HERE/../lib.sh"
bench_setup floor # W, removed at exit; PIDS, stopped at exit
TMP=$W

gcc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$TMP/pingpong" "$HERE/pingpong.c" \
	-luring -lpthread || exit 1
PP=$TMP/pingpong
mkdir -p "$OUT"

CPU_MID=""
CPU_PEER=""
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ]; then
	CPU_MID="taskset -c 1"
	CPU_PEER="taskset -c 0"
fi

# field LINE KEY -> value of KEY=value in LINE
field() { sed -n "s/.*[ ]$2=\([^ ]*\).*/\1/p" <<<"$1"; }

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)
git -C "$ROOT" diff --quiet HEAD -- "$HERE" 2>/dev/null || REV="$REV+changes"
PPSUM=$(sha256sum "$HERE/pingpong.c" | cut -c1-12)
PORT=$((40000 + RANDOM % 20000))
echo "round,mode,topo,rate,window,legs,secs,legs_per_s,cpu_us_per_leg,user_us_per_leg," \
	"sys_us_per_leg,sched_us_per_leg,vcsw_per_leg,ivcsw_per_leg,client_sent,client_rcvd," \
	"client_lost,client_rate,load1" | tr -d ' ' >"$OUT/raw.csv"
T0=$(date +%s)
for round in $(seq "$ROUNDS"); do
	for v in $VARIANTS; do
		mode=${v%%:*}
		topo=${v##*:}
		for rate in $RATES; do
			PORT=$((PORT + 2))
			[ $PORT -gt 64000 ] && PORT=40000
			far_args=()
			fpid=""
			rm -f "$TMP/far.out" "$TMP/mid.out" # a stale 'ready' must not count
			if [ "$topo" != echo ]; then
				tcp=()
				[ "$topo" = tcp ] && tcp=(--tcp)
				timeout 20 $CPU_PEER "$PP" far --port $((PORT + 1)) "${tcp[@]}" \
					>"$TMP/far.out" 2>&1 &
				fpid=$!
				PIDS+=("$fpid")
				wait_for "$TMP/far.out" 'far ready' 3 || { cat "$TMP/far.out"; exit 1; }
				far_args=(--far $((PORT + 1)) "${tcp[@]}")
			fi
			timeout 20 $CPU_MID "$PP" middle --port $PORT --mode "$mode" "${far_args[@]}" \
				--warm "$WARM" --secs "$SECS" >"$TMP/mid.out" 2>&1 &
			mpid=$!
			PIDS+=("$mpid")
			wait_for "$TMP/mid.out" 'middle ready' 3 || { cat "$TMP/mid.out"; exit 1; }
			cl=$(timeout 20 $CPU_PEER "$PP" client --port $PORT --rate "$rate" \
				--window "$WINDOW" --warm "$WARM" --secs "$SECS" 2>&1)
			for p in $mpid $fpid; do
				for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.02; done
				kill "$p" 2>/dev/null
				wait "$p" 2>/dev/null
			done
			PIDS=()
			res=$(grep '^result' "$TMP/mid.out")
			if [ -z "$res" ] || [ "$(field "$res" legs)" = 0 ]; then
				echo "run failed: $mode $topo rate=$rate: $(cat "$TMP/mid.out") / $cl" >&2
				continue
			fi
			row="$round,$mode,$topo,$rate,$WINDOW"
			for k in legs secs legs_per_s cpu_us_per_leg user_us_per_leg sys_us_per_leg \
				sched_us_per_leg vcsw_per_leg ivcsw_per_leg; do
				row="$row,$(field "$res" $k)"
			done
			for k in sent rcvd lost rate_achieved; do
				row="$row,$(field " $cl" $k)"
			done
			row="$row,$(cut -d' ' -f1 /proc/loadavg)"
			echo "$row" >>"$OUT/raw.csv"
			printf '%s\n' "$row"
		done
	done
done
T1=$(date +%s)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$OUT/raw.csv" "$OUT/summary.md" <<EOF
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
pts = {}
for r in rows:
    pts.setdefault((r['mode'], r['topo'], r['rate']), []).append(r)
def med(rs, k):
    v = sorted(float(r[k]) for r in rs)
    return statistics.median(v), v[0], v[-1]
o = open(sys.argv[2], 'w')
w = lambda s='': o.write(s + '\n')
w('# floor of one ping-pong leg at the proxy position ($STAMP)')
w()
w('source: commit $REV, pingpong.c sha256 $PPSUM..., gcc -O2 ($(gcc -dumpfullversion))')
w('machine: $(nproc) vCPU, kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')')
w('load average (1/5/15 min) before: $LOAD_BEFORE, after: $LOAD_AFTER; the box is shared with other agents, see load1 per run in raw.csv')
w('runs: $ROUNDS per point, interleaved; each ${WARM} s warm-up + ${SECS} s measured; pinning: $( [ -n "$CPU_MID" ] && echo "middle on CPU1, client and far end on CPU0" || echo none); wall $((T1 - T0)) s')
w('rate = datagrams/s the client sends (0 = unpaced, $WINDOW in flight). A leg = one message received by the middle and sent on;')
w('echo: 1 leg per client datagram; relay and tcp: 2 (client -> middle -> far -> middle -> client).')
w('CPU = getrusage(RUSAGE_SELF) of the middle (all its threads), user+sys, per leg; median [min-max] of the runs.')
w()
w('| middle | topology | rate | legs/s at middle | CPU us/leg | [range] | sched us/leg | vol. ctx sw/leg | invol. ctx sw/leg | client lost |')
w('|---|---|---|---|---|---|---|---|---|---|')
for (mode, topo, rate), rs in pts.items():
    c = med(rs, 'cpu_us_per_leg')
    w('| %s | %s | %s | %.0f | **%.2f** | %.2f-%.2f | %.2f | %.2f | %.2f | %d |' % (
        mode, topo, 'unpaced' if rate == '0' else rate, med(rs, 'legs_per_s')[0], c[0], c[1], c[2],
        med(rs, 'sched_us_per_leg')[0], med(rs, 'vcsw_per_leg')[0], med(rs, 'ivcsw_per_leg')[0],
        sum(int(r['client_lost'] or 0) for r in rs)))
w()
w('runs per point: ' + ', '.join('%s/%s/%s: %d' % (k[0], k[1], k[2], len(v)) for k, v in pts.items()))
EOF
echo "wrote $OUT"
cat "$OUT/summary.md"

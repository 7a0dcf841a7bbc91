#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/ha1_cache.sh - proxy.ha1_cache side by side: mara-aaa (return_ha1 = true) and two
# mara-proxy (cache on, cache off) on loopback; mara-bench --flow message-burst (one 407, then
# --burst N MESSAGEs on nc 1..N) against each, RUNS times, alternating; requests/s and MAR/s
# from the proxies' /metrics over each run. Prints the runs and the medians (markdown).
# Usage: bench/ha1_cache.sh [BUILD_DIR] (env: RUNS=3 SECONDS_PER_RUN=5 BURST=100 CONC=20)
set -u
BUILD=${1:-$(cd "$(dirname "$0")/../build" && pwd)}
SRC=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
DUR=${SECONDS_PER_RUN:-5}
BURST=${BURST:-100}
CONC=${CONC:-20}
W=$(mktemp -d /tmp/mara-ha1bench.XXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait; rm -rf "$W"' EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitlog() { for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; cat "$1"; return 1; }
PA=$(port) PU=$(port) PON=$(port) SON=$(port) POFF=$(port) SOFF=$(port)
cat >"$W/aaa.conf" <<EOF
log = { level = "warning"; };
aaa = { listen = "127.0.0.1:$PA"; origin_host = "aaa.test"; origin_realm = "test";
  users = "$SRC/deploy/demo/users"; realm = "example.com"; return_ha1 = true;
  stats_listen = ""; threads = 1; };
EOF
"$BUILD/mara-aaa" -c "$W/aaa.conf" >"$W/aaa.log" 2>&1 &
PIDS+=($!)
sleep 0.5
for m in on off; do
	p=PON s=SON
	[ $m = off ] && p=POFF s=SOFF
	extra=""
	[ $m = on ] && extra="ha1_cache = { enabled = true; };"
	cat >"$W/$m.conf" <<EOF
log = { level = "info"; };
proxy = { listen = "127.0.0.1:${!p}"; threads = 1; realm = "example.com";
  routes = ( { domain = "*"; address = "127.0.0.1:$PU"; } );
  origin_host = "$m.test"; origin_realm = "test"; destination_realm = "example.com";
  aaa_peers = ( { host = "aaa.test"; address = "127.0.0.1:$PA"; } );
  stats_listen = "127.0.0.1:${!s}"; $extra };
EOF
	"$BUILD/mara-proxy" -c "$W/$m.conf" >"$W/$m.log" 2>&1 &
	PIDS+=($!)
	waitlog "$W/$m.log" 'peer open' || exit 1
done

metric() { # PORT NAME
	python3 - "$1" "$2" <<'EOF'
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1]).read().decode()
print(sum(float(l.rsplit(" ", 1)[1]) for l in body.splitlines() if l.split(" ")[0] == sys.argv[2]))
EOF
}
REQ='mara_sip_requests_received_total{method="MESSAGE"}'
echo "| run | cache | requests/s | MAR/s | MAR per request | auth p50 ms | auth p99 ms |"
echo "|---|---|---|---|---|---|---|"
for r in $(seq "$RUNS"); do
	for m in on off; do
		p=PON s=SON
		[ $m = off ] && p=POFF s=SOFF
		r0=$(metric "${!s}" "$REQ") m0=$(metric "${!s}" mara_diameter_mar_sent_total)
		timeout $((DUR + 30)) "$BUILD/mara-bench" --json --flow message-burst --burst "$BURST" \
			--target "127.0.0.1:${!p}" --uas "127.0.0.1:$PU" --duration "$DUR" \
			--concurrency "$CONC" >"$W/$m.$r.json" 2>/dev/null
		r1=$(metric "${!s}" "$REQ") m1=$(metric "${!s}" mara_diameter_mar_sent_total)
		python3 - "$W/$m.$r.json" "$r" "$m" "$r0" "$r1" "$m0" "$m1" <<'EOF' | tee -a "$W/rows"
import json, sys
d = json.load(open(sys.argv[1]))
r0, r1, m0, m1 = (float(x) for x in sys.argv[4:8])
t = d["elapsed_s"]
a = d["latency_ms"]["auth"]
print("| %s | %s | %.0f | %.0f | %.3f | %.3f | %.3f |" % (sys.argv[2], sys.argv[3], (r1 - r0) / t,
      (m1 - m0) / t, (m1 - m0) / max(1, r1 - r0), a["p50"], a["p99"]))
EOF
	done
done
python3 - "$W/rows" <<'EOF'
import statistics, sys
rows = [l.strip().strip("|").split("|") for l in open(sys.argv[1])]
for m in ("on", "off"):
    sel = [r for r in rows if r[1].strip() == m]
    med = [statistics.median(float(r[i]) for r in sel) for i in range(2, 7)]
    print("| median | %s | %.0f | %.0f | %.3f | %.3f | %.3f |" % (m, *med))
EOF
echo "# $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r); burst $BURST, concurrency $CONC, $DUR s per run"

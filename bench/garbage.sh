#!/bin/bash
# SPDX-License-Identifier: MIT
# garbage.sh - what rate of garbage one proxy shard absorbs while legitimate calls complete
# (issue 6, "Denial of service"). mara-aaa + mara-proxy (threads = 1: one shard) on loopback;
# for each garbage rate in GARBAGE_RATES (datagrams/s: half random bytes, half malformed SIP,
# bench/garbage/flood.py, GARBAGE_FLOODERS processes) it runs GARBAGE_SECONDS (5) of flood
# together with mara-bench's invite flow at GARBAGE_CALL_RATE (100) calls/s, and prints one row:
#   rate  sent  refused (mara_sip_dropped_total{reason="parse_error"} delta, % of sent)
#   calls completed/failed  flow p99 (ms)  shard CPU (% of one core, from /proc)
# "Absorbed" = every garbage datagram parsed and refused (refused = sent) and every call
# completed. Loopback only; every process stopped by PID. Usage: bench/garbage.sh [BUILD_DIR]
set -u
BUILD=${1:-$(cd "$(dirname "$0")/../build" && pwd)}
SRC=$(cd "$(dirname "$0")/.." && pwd)
RATES=${GARBAGE_RATES:-"0 20000 50000 100000 200000"}
SECS=${GARBAGE_SECONDS:-5}
CALL_RATE=${GARBAGE_CALL_RATE:-100}
FLOODERS=${GARBAGE_FLOODERS:-2}
MARA_BUILD=$BUILD
MARA_SRC=$SRC
export MARA_BUILD MARA_SRC
. "$SRC/tests/integration/lib.sh"
PROXY=$BUILD/mara-proxy
PA=$(free_port) && PS=$(free_port) && PU=$(free_port) && PM=$(free_port) || exit 1
start_aaa aaa "$PA" || exit 1
cat >"$W/proxy.conf" <<CONF
log = { level = "warning"; };
proxy = {
  listen = "127.0.0.1:$PS";
  threads = 1;
  realm = "example.com";
  routes = ( { domain = "*"; address = "127.0.0.1:$PU"; } );
  origin_host = "proxy.test";
  origin_realm = "test";
  destination_realm = "example.com";
  aaa_peers = ( { host = "aaa.test"; address = "127.0.0.1:$PA"; } );
  stats_listen = "127.0.0.1:$PM";
};
CONF
"$PROXY" -c "$W/proxy.conf" >"$W/proxy.log" 2>&1 &
PROXY_PID=$!
PIDS+=("$PROXY_PID")
for _ in $(seq 50); do scrape_to "$PM" "$W/m.txt" 2>/dev/null && break; sleep 0.1; done
sleep 1
refused() { scrape_to "$PM" "$W/m.txt"; awk '$1 == "mara_sip_dropped_total{reason=\"parse_error\"}" {print $2}' "$W/m.txt"; }
# CPU ticks of the shard thread (named after the proxy; the busiest thread is the shard)
ticks() { cat /proc/$PROXY_PID/task/*/stat | awk '{print $14 + $15}' | sort -n | tail -1; }
hz=$(getconf CLK_TCK)
echo "# $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-9s %-18s %-16s %-10s %s\n' rate sent refused calls_ok/failed flow_p99 shard_cpu
for r in $RATES; do
	before=$(refused)
	t0=$(ticks)
	fl=()
	if [ "$r" -gt 0 ]; then
		for _ in $(seq "$FLOODERS"); do
			python3 "$SRC/bench/garbage/flood.py" 127.0.0.1 "$PS" $((r / FLOODERS)) "$SECS" \
				>>"$W/flood.$r" &
			fl+=("$!")
			PIDS+=("$!")
		done
	fi
	"$BUILD/mara-bench" --flow invite --target "127.0.0.1:$PS" --uas "127.0.0.1:$PU" \
		--user alice --password alice-secret --realm example.com --rate "$CALL_RATE" \
		--duration "$SECS" --threads 1 --json >"$W/bench.$r.json" 2>"$W/bench.$r.err"
	for p in "${fl[@]}"; do wait "$p"; done
	sleep 0.5
	t1=$(ticks)
	after=$(refused)
	sent=$(awk -F'[= ]' '{s += $2} END {print s + 0}' "$W/flood.$r" 2>/dev/null || echo 0)
	[ "$r" -gt 0 ] || sent=0
	read -r ok failed p99 < <(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['completed'], d['failed'], d['latency_ms']['flow']['p99'])" "$W/bench.$r.json" 2>/dev/null || echo "? ? ?")
	ref=$((after - before))
	pct=$([ "$sent" -gt 0 ] && echo "$((100 * ref / sent))%" || echo -)
	printf '%-8s %-9s %-18s %-16s %-10s %s\n' "$r" "$sent" "$ref ($pct)" "$ok/$failed" "$p99" \
		"$(((t1 - t0) * 100 / hz / (SECS + 1)))%"
done

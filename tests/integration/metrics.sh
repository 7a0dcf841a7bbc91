#!/bin/bash
# SPDX-License-Identifier: MIT
# metrics.sh - mara-proxy's /metrics after a SIPp run, and its SIGHUP reload:
#   1. 100 authenticated calls, then a scrape: counters equal what SIPp sent, exactly (INVITE 200,
#      ACK 200, BYE 100, 100 challenges, 100 authorized, 200 MARs), and the MAR round-trip
#      histogram counts every MAR
#   2. `promtool check metrics` passes on the scrape
#   3. a real Prometheus server on loopback scrapes mara-proxy and answers a PromQL query with our
#      counter's value
#   4. SIGHUP: a broken config is refused (logged) and the old rules keep serving; a new route
#      takes effect without a restart
# Loopback only; every process is stopped by PID at exit; SIPp runs are bounded.
set -u
. "$(dirname "$0")/lib.sh"
command -v sipp >/dev/null || { echo "skip: sipp (sip-tester) not installed"; exit 77; }

PA=$(free_port) || exit 1
start_aaa aaa "$PA" || exit 1
free_ports PS PU PU2 PM

start_proxy_open proxy stats_listen="127.0.0.1:$PM" || exit 1
PROXY_PID=$LAST_PID
wait_for "$W/proxy.log" 'metrics endpoint' 5 || { cat "$W/proxy.log"; exit 1; }

uas() { # NAME PORT CALLS
	sipp_uas "$1" uas_200.xml "$2" -timeout 60s -m "$3"
}
uac() { # NAME CALLS RATE
	sipp_uac "$1" "$PS" 60 -m "$2" -r "$3" -l 100 -timeout 40s -timeout_error ||
		{ tail -n 20 "$W/$1.screen"; return 1; }
}
scrape() { scrape_to "$PM" "$W/metrics.txt"; }
metric() { awk -v k="$1" '$1 == k { print $2; exit }' "$W/metrics.txt"; }
expect() { # NAME WANT
	local got
	got=$(metric "$1")
	if [ "${got:-missing}" = "$2" ]; then ok "$1 = $2"; else nok "$1 = ${got:-missing}, want $2"; fi
}

# ---- 1. counters after 100 calls --------------------------------------------------------------
uas uas1 "$PU" 100
check "100 authenticated calls" uac calls 100 50
check "scrape /metrics" scrape
expect 'mara_sip_requests_received_total{method="INVITE"}' 200
expect 'mara_sip_requests_received_total{method="ACK"}' 200
expect 'mara_sip_requests_received_total{method="BYE"}' 100
expect 'mara_sip_challenges_total{kind="fresh"}' 100
expect 'mara_sip_local_responses_sent_total{code="407"}' 100
expect 'mara_auth_results_total{result="authorized"}' 100
expect 'mara_sip_absorbed_total{kind="ack_of_local_response"}' 100
expect 'mara_sip_requests_forwarded_total' 300
expect 'mara_sip_responses_forwarded_total{class="2xx"}' 200
expect 'mara_diameter_mar_sent_total' 200
expect 'mara_diameter_maa_received_total{class="2xxx"}' 200
expect 'mara_diameter_mar_rtt_seconds_count' 200
expect 'mara_diameter_maa_results_total{code="2008"}' 100
expect 'mara_diameter_maa_results_total{code="2006"}' 100
expect 'mara_diameter_peer_watchdog_state{peer="aaa.test"}' 0
expect 'mara_diameter_mar_rtt_seconds_bucket{le="+Inf"}' 200
expect 'mara_diameter_peer_up{peer="aaa.test"}' 1
expect 'mara_sip_pending_requests' 0
check "process metrics present" grep -q '^process_resident_memory_bytes [1-9]' "$W/metrics.txt"
check "build info present" grep -q '^mara_build_info{.*binary="mara-proxy".*} 1' "$W/metrics.txt"

# ---- 2. promtool -------------------------------------------------------------------------------
if command -v promtool >/dev/null; then
	if promtool check metrics <"$W/metrics.txt" >"$W/promtool.out" 2>&1; then
		ok "promtool check metrics: no problems"
	else
		nok "promtool check metrics"; cat "$W/promtool.out"
	fi
else
	echo "# promtool not installed: check skipped"
fi

# ---- 3. a real Prometheus scrapes us --------------------------------------------------------------
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
	PP=$(free_port) || exit 1
	cat >"$W/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: mara-proxy
    static_configs:
      - targets: ['127.0.0.1:$PM']
YML
	prometheus --config.file="$W/prometheus.yml" --storage.tsdb.path="$W/tsdb" \
		--web.listen-address="127.0.0.1:$PP" >"$W/prometheus.log" 2>&1 &
	PIDS+=($!)
	got=""
	for _ in $(seq 60); do
		got=$(promtool query instant "http://127.0.0.1:$PP" \
			'mara_diameter_mar_sent_total{job="mara-proxy"}' 2>/dev/null |
			sed -n 's/.*=> \([0-9.]*\) @.*/\1/p')
		[ -n "$got" ] && break
		sleep 0.5
	done
	check "Prometheus scraped mara and PromQL answers mara_diameter_mar_sent_total = 200 (${got:-none})" \
		test "${got:-0}" = 200
else
	echo "# prometheus not installed: server check skipped"
fi

# ---- 4. SIGHUP ----------------------------------------------------------------------------------
cp "$W/proxy.conf" "$W/proxy.good"
echo "proxy = { routes = broken" >"$W/proxy.conf"
kill -HUP "$PROXY_PID"
check "a broken config on SIGHUP is refused" wait_for "$W/proxy.log" 'reload refused' 5
uas uas2 "$PU" 5
check "the old rules still serve (5 calls to the old route)" uac old 5 10
proxy_conf "$W/proxy.conf" route="* 127.0.0.1:$PU2" stats_listen="127.0.0.1:$PM"
kill -HUP "$PROXY_PID"
check "a new route on SIGHUP is taken" wait_for "$W/proxy.log" 'msg="reloaded"' 5
uas uas3 "$PU2" 5
check "calls follow the new route without a restart (5 calls)" uac new 5 10
check "mara-proxy exits 0" stop_ok "$PROXY_PID"

if [ "$FAIL" -ne 0 ]; then
	echo "--- logs"; tail -n 30 "$W/proxy.log"
	exit 1
fi
exit 0

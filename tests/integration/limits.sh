#!/bin/bash
# SPDX-License-Identifier: MIT
# limits.sh - the limits on hostile input and the admission caps of mara-proxy (issue 6), each
# refused and counted on /metrics (mara_sip_limit_total{limit=...}):
#   1. UDP: a 3 KB request over max_message (2048) -> 513; 41 headers over max_headers (30) ->
#      400; 8 Via values over max_via (5) -> 400
#   2. TCP: tcp_max_per_source = 3: of 5 connections from one address 2 are closed at once;
#      a connection that sends half a request is closed after tcp_message_timeout_ms (1000)
#   3. challenge MARs (requests without credentials) with mara-aaa frozen (SIGSTOP), so they
#      stay in flight: max_challenges_per_source = 4, max_challenges = 6. Six from 127.0.0.1:
#      4 parked, 2 answered 503 with Retry-After; four from 127.0.0.2: 2 parked, 2 refused by
#      the global cap. SIGCONT: the 6 parked get their 407, and the caps are free again.
#   4. mara-aaa with max_avp_nest = 3: a MAR with Proxy-Info nested 3 deep is served, 4 deep
#      is answered 5014 and counted (mara_diameter_invalid_total{kind="avp_nesting_too_deep"})
#   5. the balance: requests received = forwarded + answered + absorbed + dropped + parked, and
#      no request parked nor MAR in flight at the end.
# Loopback only; bounded waits; every process stopped by PID. Exit 0 pass, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
SIPC="python3 $SRC/tests/integration/sipc.py"
command -v python3 >/dev/null || { echo "skip: python3 not installed"; exit 77; }

free_ports PA PS PM
start_aaa aaa "$PA" "max_avp_nest = 3;" || exit 1
AAA_PID=$LAST_PID
start_proxy_open proxy route="* 127.0.0.1:9" diameter_timeout_ms=8000 stats_listen="127.0.0.1:$PM" \
	max_message=2048 max_headers=30 max_via=5 tcp_max_per_source=3 tcp_message_timeout_ms=1000 \
	max_challenges_per_source=4 max_challenges=6 || exit 1
PROXY_PID=$LAST_PID

# lim LIMIT: mara_sip_limit_total{limit="LIMIT"}, scraped now
lim() { metrics "$PM"; mval "mara_sip_limit_total{limit=\"$1\"}"; }

# ---- 1. UDP message limits ---------------------------------------------------------------------------
out=$($SIPC udp 127.0.0.1 "$PS" ok -t 1)
check "a plain request still gets its challenge ($(echo $out))" grep -q '^407' <<<"$out"
out=$($SIPC udp 127.0.0.1 "$PS" big -t 1)
check "a 3 KB request over max_message: 513 ($(echo $out))" grep -q '^513' <<<"$out"
check "counted: message_size = 1" test "$(lim message_size)" = 1
out=$($SIPC udp 127.0.0.1 "$PS" headers -t 1)
check "41 headers over max_headers: 400 ($(echo $out))" grep -q '^400 Too Many Headers' <<<"$out"
check "counted: header_count = 1" test "$(lim header_count)" = 1
out=$($SIPC udp 127.0.0.1 "$PS" via -t 1)
check "8 Via values over max_via: 400 ($(echo $out))" grep -q '^400 Too Many Via' <<<"$out"
check "counted: via_depth = 1" test "$(lim via_depth)" = 1

# ---- 2. TCP per source, slowloris ------------------------------------------------------------------------
out=$($SIPC tcpconns 127.0.0.1 "$PS" 5 -t 0.5)
check "5 connections from one source, 3 allowed: $out" test "$out" = "open=3 closed=2"
check "counted: tcp_connections_per_source = 2" test "$(lim tcp_connections_per_source)" = 2
sleep 0.3 # the closed ones gave their slots back
out=$($SIPC slow 127.0.0.1 "$PS" -t 4)
check "half a request over TCP: closed within 1-2.5 s ($out)" \
	awk '/^closed after/ {exit !($3 >= 0.9 && $3 <= 2.5)} !/^closed/ {exit 1}' <<<"$out"
check "counted: tcp_message_timeout = 1" test "$(lim tcp_message_timeout)" = 1
out=$($SIPC tcpconns 127.0.0.1 "$PS" 3 -t 0.3)
check "the per-source slots came back: 3 connections open again ($out)" test "$out" = "open=3 closed=0"

# ---- 3. challenge MARs in flight -----------------------------------------------------------------------------
kill -STOP "$AAA_PID"
$SIPC udp 127.0.0.1 "$PS" ok -n 6 -t 6 >"$W/a.out" &
A=$!
sleep 0.5
$SIPC udp 127.0.0.1 "$PS" ok -n 4 -t 5.5 --src 127.0.0.2 >"$W/b.out" &
B=$!
sleep 1
metrics "$PM"
check "4 challenge MARs parked from 127.0.0.1 + 2 from 127.0.0.2 ($(mval mara_sip_pending_requests))" \
	test "$(mval mara_sip_pending_requests)" = 6
check "counted: challenges_per_source = 2" test "$(lim challenges_per_source)" = 2
check "counted: challenges_total = 2" test "$(lim challenges_total)" = 2
kill -CONT "$AAA_PID"
wait "$A" "$B"
echo "# 127.0.0.1:" $(sort "$W/a.out" | uniq -c)
echo "# 127.0.0.2:" $(sort "$W/b.out" | uniq -c)
check "127.0.0.1: two 503 with Retry-After at once, 4 407s later" \
	test "$(grep -c '^503 .*ra=' "$W/a.out"),$(grep -c '^407' "$W/a.out")" = "2,4"
check "127.0.0.2: two 503 with Retry-After, 2 407s" \
	test "$(grep -c '^503 .*ra=' "$W/b.out"),$(grep -c '^407' "$W/b.out")" = "2,2"
out=$($SIPC udp 127.0.0.1 "$PS" ok -n 4 -t 1)
check "the caps are free again: 4 challenges from 127.0.0.1 ($(echo $out))" \
	test "$(grep -c '^407' <<<"$out")" = 4

# ---- 4. Diameter: grouped AVP nesting (mara-aaa runs max_avp_nest = 3) -------------------------------
"$CLIENT" 127.0.0.1 "$PA" --mode nest --nest 3 >"$W/nest.out" 2>&1
sed 's/^/# /' "$W/nest.out"
check "mara-aaa: 3 levels of Proxy-Info served, 4 refused 5014" \
	test "$(grep -c '^ok' "$W/nest.out"),$(grep -c '^not ok' "$W/nest.out")" = "2,0"
metrics "$aaa_STATS" "$W/aaa.txt"
n=$(mval "$W/aaa.txt" 'mara_diameter_invalid_total{kind="avp_nesting_too_deep"}')
check "mara-aaa counted it: avp_nesting_too_deep = $n" test "$n" = 1

# ---- 5. balance ----------------------------------------------------------------------------------------------------
check_balance "$PM" "5. at the end"
grep '^mara_sip_limit_total' "$W/m.txt" | sed 's/^/# /'

check "mara-proxy exits 0 on SIGTERM" stop_ok "$PROXY_PID"
check "no sanitizer report" test "$(grep -cE 'runtime error|Sanitizer' "$W/proxy.log")" -eq 0
[ "$FAIL" -eq 0 ] || { tail -n 30 "$W/proxy.log" | sed 's/^/# /'; exit 1; }
exit 0

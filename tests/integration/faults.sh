#!/bin/bash
# SPDX-License-Identifier: MIT
# faults.sh - faults under load (issue 6), SIPp at a fixed modest rate through mara-proxy:
#   a. mara-aaa killed (-9) in the middle of FAULTS_RATE (200) calls/s: a request after the kill
#      is answered 503 with Retry-After (retry_after_s = 7) within diameter_timeout_ms (1000);
#      within diameter_timeout_ms + 1 s nothing is parked and no MAR is in flight; mara-aaa
#      started again on the same port is reopened (reconnect_s = 1) and the next calls all
#      complete, without restarting the proxy.
#   c. overload of the AAA path: mara-aaa frozen (SIGSTOP) while a burst of 300 requests
#      without credentials arrives on one shard (max_pending = 64): 64 are parked, the rest
#      are answered 503 with Retry-After at once (pending_table_full); the proxy's RSS grows by
#      less than 16 MB; after SIGCONT (before diameter_timeout_ms) the 64 get their 407.
#   d. next hop unreachable: an ACK (forwarded without credentials) routed over UDP to a closed
#      port (the ICMP port unreachable is not reported on an unconnected socket: counted
#      forwarded; for a request the UAC's timer ends it, RFC 3261 §16.11 stateless) and over TCP
#      to a closed port (connect refused: mara_sip_dropped_total{reason="next_hop_tcp_failed"});
#      no crash, and calls keep completing.
#   Each part ends with the balance from /metrics: requests received = forwarded + answered +
#   absorbed + dropped (+ parked = 0), and mara_diameter_mar_inflight = 0.
# (b., a frozen peer among two, is tests/integration/failover.sh with FAILOVER_SIGNAL=STOP.)
# Loopback only; bounded waits and SIPp runs; every process stopped by PID.
# Exit: 0 pass, 1 fail, 77 skip (sipp or python3 missing).
set -u
. "$(dirname "$0")/lib.sh"
SIPC="python3 $SRC/tests/integration/sipc.py"
RATE=${FAULTS_RATE:-200}
command -v sipp >/dev/null || { echo "skip: sipp (sip-tester) not installed"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 not installed"; exit 77; }

free_ports PA PS PU PC PM
PX=$(free_port) || exit 1 # nothing listens there
bail() { nok "$*"; tail -n 30 "$W/proxy.log" | sed 's/^/# /'; exit 1; }

calls() { # calls N -> SIPp UAC rc; screen in $W/uac.screen
	sipp_uac uac "$PS" 60 -p "$PC" -m "$1" -r "$RATE" -l 1000 -buff_size 4194304 -timeout 30s \
		-timeout_error
}

start_aaa aaa "$PA" || exit 1
AAA_PID=$LAST_PID
start_proxy_open proxy route="udp.unreachable 127.0.0.1:$PX udp" \
	route="tcp.unreachable 127.0.0.1:$PX tcp" route="* 127.0.0.1:$PU" diameter_timeout_ms=1000 \
	reconnect_s=1 retry_after_s=7 max_pending=64 max_challenges_per_source=100000 \
	max_challenges=100000 stats_listen="127.0.0.1:$PM" || bail "mara-proxy did not start or open aaa.test"
PROXY_PID=$LAST_PID
sipp_uas uas uas_200.xml "$PU" -buff_size 4194304

# ---- a. mara-aaa killed under load ------------------------------------------------------------------
calls $((RATE * 2))
rc=$?
check "before the fault: $((RATE * 2)) calls at $RATE/s complete ($(sipp_ok "$W/uac.screen"))" test "$rc" -eq 0
calls $((RATE * 5)) &
LOAD=$!
sleep 2
kill -KILL "$AAA_PID"
wait "$AAA_PID" 2>/dev/null
t_kill=$(date +%s%N)
out=$($SIPC udp 127.0.0.1 "$PS" ok -t 1.5)
echo "# after the kill: $(echo $out)"
check "a request after the kill: 503 with Retry-After: 7 within 1000 ms" \
	awk '/^503 / {for (i = 1; i <= NF; i++) {if ($i == "ra=7") r = 1; if ($i ~ /^t=/) t = substr($i, 3)}}
	     END {exit !(r && t != "" && t + 0 <= 1000)}' <<<"$out"
drained=""
for _ in $(seq 40); do
	metrics "$PM"
	if [ "$(mval mara_sip_pending_requests),$(mval mara_diameter_mar_inflight)" = "0,0" ]; then
		drained=$((($(date +%s%N) - t_kill) / 1000000))
		break
	fi
	sleep 0.05
done
check "nothing parked and no MAR in flight within 2000 ms of the kill (${drained:-never} ms)" \
	test -n "$drained" -a "${drained:-9999}" -le 2000
n503=$(mval 'mara_sip_local_responses_sent_total{code="503"}')
check "503s were sent during the outage ($n503)" test "$n503" -gt 0
wait "$LOAD"
start_aaa aaa "$PA" || bail "mara-aaa did not start again"
AAA_PID=$LAST_PID
for _ in $(seq 50); do
	[ "$(grep -c 'msg="peer open"' "$W/proxy.log")" -ge 2 ] && break
	sleep 0.1
done
check "the proxy reopened aaa.test by itself" test "$(grep -c 'msg="peer open"' "$W/proxy.log")" -ge 2
calls $((RATE * 2))
rc=$?
check "after the return: $((RATE * 2)) calls at $RATE/s complete, no restart ($(sipp_ok "$W/uac.screen"))" test "$rc" -eq 0
check "the same mara-proxy process throughout" kill -0 "$PROXY_PID"
check_balance "$PM" "a. mara-aaa killed"

# ---- c. overload: the AAA path stalls, a burst arrives ------------------------------------------------------
rss() { awk '/^VmRSS/ {print $2}' "/proc/$PROXY_PID/status"; }
rss0=$(rss)
kill -STOP "$AAA_PID"
$SIPC udp 127.0.0.1 "$PS" ok -n 300 -t 2 >"$W/burst.out" &
BURST=$!
sleep 0.5
metrics "$PM"
parked=$(mval mara_sip_pending_requests)
full=$(mval 'mara_sip_dropped_total{reason="pending_table_full"}')
rss1=$(rss)
kill -CONT "$AAA_PID"
wait "$BURST"
n407=$(grep -c '^407' "$W/burst.out")
n503=$(grep -c '^503 .*ra=7' "$W/burst.out")
echo "# burst of 300: parked=$parked pending_table_full=$full 407=$n407 503=$n503" \
	"RSS ${rss0} -> ${rss1} kB"
check "c. the shard parked max_pending (64) requests and no more ($parked)" test "$parked" = 64
check "c. the rest were shed at once: 503 with Retry-After ($n503), counted ($full)" \
	test "$n503" -gt 200 -a "$n503" = "$full"
check "c. the 64 admitted got their 407 after SIGCONT ($n407)" test "$n407" = 64
check "c. RSS grew by less than 16 MB ($(((rss1 - rss0) / 1024)) MB)" test $((rss1 - rss0)) -lt 16384
check_balance "$PM" "c. overload"

# ---- d. next hop unreachable ---------------------------------------------------------------------------------
metrics "$PM"
fwd0=$(msum 'mara_sip_requests_forwarded_total')
$SIPC udp 127.0.0.1 "$PS" ack -n 5 -t 0.5 --ruri "sip:bob@udp.unreachable" >/dev/null
metrics "$PM"
fwd1=$(msum 'mara_sip_requests_forwarded_total')
check "d. 5 ACKs to a closed UDP port forwarded ($((fwd1 - fwd0))), no crash" \
	test "$((fwd1 - fwd0))" = 5 -a -d "/proc/$PROXY_PID"
$SIPC udp 127.0.0.1 "$PS" ack -n 3 -t 1 --ruri "sip:bob@tcp.unreachable" >/dev/null
metrics "$PM"
check "d. TCP connect refused counted ($(mval 'mara_sip_dropped_total{reason="next_hop_tcp_failed"}'))" \
	test "$(mval 'mara_sip_dropped_total{reason="next_hop_tcp_failed"}')" -ge 1
calls "$RATE"
rc=$?
check "d. calls still complete after ($(sipp_ok "$W/uac.screen"))" test "$rc" -eq 0
check_balance "$PM" "d. next hop unreachable"

check "mara-proxy exits 0 on SIGTERM" stop_ok "$PROXY_PID"
check "no sanitizer report" test "$(grep -cE 'runtime error|Sanitizer' "$W/proxy.log")" -eq 0
[ "$FAIL" -eq 0 ] || { tail -n 30 "$W/proxy.log" | sed 's/^/# /'; exit 1; }
exit 0

#!/bin/bash
# SPDX-License-Identifier: MIT
# lifecycle.sh - SIGTERM during a load run, at both ends:
#   1. mara-proxy gets SIGTERM while SIPp runs calls through it: it stops reading, answers or
#      fails every request parked for its MAA (nothing left pending), says DPR to mara-aaa (which
#      logs it), and exits 0 within a bounded time
#   1b. the same with the Diameter pool on its own thread (pool_thread = true; by default it
#      runs on shard 0's loop)
#   2. mara-aaa gets SIGTERM under load: DPR to the proxy (logged there), exit 0; the proxy then
#      answers 503 with Retry-After instead of hanging
# Loopback only; every process is stopped by PID at exit; SIPp runs are bounded.
set -u
. "$(dirname "$0")/lib.sh"
SCN=$SRC/tests/sipp
command -v sipp >/dev/null || { echo "skip: sipp (sip-tester) not installed"; exit 77; }

# proxy NAME SIP_PORT UAS_PORT [KEY=VALUE...] -> LAST_PID: mara-proxy towards mara-aaa, peer open
proxy() {
	local name=$1 sip=$2 uas=$3
	shift 3
	start_proxy_open "$name" listen="127.0.0.1:$sip" route="* 127.0.0.1:$uas" "$@"
}

load() { # NAME SIP_PORT UAS_PORT CALLS (background; SIPp's own bounds end it)
	sipp -sf "$SCN/uas_200.xml" -i 127.0.0.1 -p "$3" -nostdin -timeout 30s >/dev/null 2>&1 &
	PIDS+=($!)
	sleep 0.2
	sipp -sf "$SCN/uac_auth.xml" "127.0.0.1:$2" -i 127.0.0.1 -nostdin -m "$4" -r 200 -l 500 \
		-timeout 20s -key rdomain "127.0.0.1:$2" -s service -au alice -ap alice-secret \
		>"$W/$1.sipp" 2>&1 &
	PIDS+=($!)
}

# ---- 1. the proxy stops under load ------------------------------------------------------------------
PA=$(free_port) || exit 1
start_aaa aaa "$PA" || exit 1
AAA=$LAST_PID
free_ports PS PU
proxy p1 "$PS" "$PU" || exit 1
P1=$LAST_PID
load l1 "$PS" "$PU" 3000
sleep 2 # calls in every state: parked for a MAA, forwarded, answered
check "mara-proxy exits 0 on SIGTERM under load, within 5 s" stop_ok "$P1"
check "no request left parked at exit" grep -q 'msg="totals".* left_pending=0' "$W/p1.log"
check "mara-proxy said DPR to mara-aaa" grep -q 'msg="DPR received" peer=proxy.test' "$W/aaa.log"
check "requests had been flowing ($(sed -n 's/.* mar=\([0-9]*\).*/\1/p' "$W/p1.log" | tail -1) MARs)" \
	grep -qE 'msg="totals".* mar=[1-9][0-9]+' "$W/p1.log"

check "the pool ran on shard 0's loop (the default)" \
	grep -q 'msg="diameter pool started".* thread=host shard' "$W/p1.log"

# ---- 1b. the same, with the pool on its own thread ------------------------------------------------
free_ports PS1 PU1
proxy p1b "$PS1" "$PU1" pool_thread=true sched_slice_us=200 || exit 1
P1B=$LAST_PID
# sched_slice_us: every loop thread (2 shards + the pool) asked for a 200 us slice; a kernel
# without EEVDF custom slices says so in the log instead
slices() { grep -hs '^se.slice' /proc/"$1"/task/*/sched | awk '$3 == 200000' | wc -l; }
if grep -q 'sched_slice_us needs Linux 6.12' "$W/p1b.log"; then
	echo "# this kernel has no custom slices: the warning is logged"
else
	check "sched_slice_us: 3 loop threads run with a 200 us slice" test "$(slices "$P1B")" -eq 3
fi
load l1b "$PS1" "$PU1" 3000
sleep 2
check "pool_thread: the pool ran on its own thread" \
	grep -q 'msg="diameter pool started".* thread=own' "$W/p1b.log"
check "pool_thread: exits 0 on SIGTERM under load, within 5 s" stop_ok "$P1B"
check "pool_thread: no request left parked at exit" \
	grep -q 'msg="totals".* left_pending=0' "$W/p1b.log"
check "pool_thread: DPR to mara-aaa" \
	test "$(grep -c 'msg="DPR received" peer=proxy.test' "$W/aaa.log")" -ge 2
check "pool_thread: requests had been flowing" \
	grep -qE 'msg="totals".* mar=[1-9][0-9]+' "$W/p1b.log"

# ---- 2. mara-aaa stops under load ---------------------------------------------------------------
free_ports PS2 PU2
proxy p2 "$PS2" "$PU2" || exit 1
P2=$LAST_PID
load l2 "$PS2" "$PU2" 3000
sleep 2
check "mara-aaa exits 0 on SIGTERM under load" stop_ok "$AAA"
check "mara-aaa sent DPR and got DPA" grep -q 'msg="totals".* dpr_sent=1 dpa_rx=1' "$W/aaa.log"
check "the proxy saw the DPR" grep -q 'msg="DPR received" peer=aaa.test' "$W/p2.log"
sleep 1
check "then the proxy answers 503 with Retry-After" \
	timeout 30 sipp -sf "$SCN/uac_503.xml" "127.0.0.1:$PS2" -i 127.0.0.1 -nostdin -m 5 -r 10 \
	-timeout 10s -timeout_error -key rdomain "127.0.0.1:$PS2" -s service
check "mara-proxy exits 0" stop_ok "$P2"
check "nothing left parked" grep -q 'msg="totals".* left_pending=0' "$W/p2.log"

if [ "$FAIL" -ne 0 ]; then
	echo "--- logs"; tail -n 20 "$W/p1.log" "$W/p1b.log" "$W/p2.log" "$W/aaa.log"
	exit 1
fi
exit 0

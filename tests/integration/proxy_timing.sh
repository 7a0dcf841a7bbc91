#!/bin/bash
# SPDX-License-Identifier: MIT
# proxy_timing.sh - the time-dependent parts of Figure 4 at mara-proxy, with SIPp as UA:
#   1. a challenge answered after the nonce expired gets a new 407 with stale=true (and the call
#      then succeeds with the fresh nonce)
#   2. retransmissions of a request whose MAR is pending are absorbed, not sent as a second MAR
#      (mara-aaa is paused with SIGSTOP for 1.2 s while calls start)
#   3. no MAA within diameter_timeout_ms -> 500 (mara-aaa paused until the 500s came, timeout 2 s)
#   4. a next hop outside the destination allow-list -> 403 at once, no MAR
# Loopback only; every process is stopped by PID at exit; SIPp runs are bounded.
set -u
. "$(dirname "$0")/lib.sh"
command -v sipp >/dev/null || { echo "skip: sipp (sip-tester) not installed"; exit 77; }

PA=$(free_port) || exit 1
start_aaa aaa "$PA" 'nonce_lifetime_s = 5;' || exit 1
AAA_PID=$LAST_PID
free_ports PS PU
start_proxy_open proxy route="outside.test 192.0.2.1:5060" route="* 127.0.0.1:$PU" \
	diameter_timeout_ms=2000 || exit 1
PROXY_PID=$LAST_PID
sipp_uas uas uas_200.xml "$PU" -timeout 120s

uac() { # NAME SCENARIO CALLS RATE DOMAIN [extra]
	local name=$1 scen=$2 calls=$3 rate=$4 dom=$5
	shift 5
	timeout 60 sipp -sf "$SCN/$scen" "127.0.0.1:$PS" -i 127.0.0.1 -nostdin -m "$calls" \
		-r "$rate" -l 100 -timeout 40s -timeout_error -key rdomain "$dom" -s service \
		-trace_screen -screen_file "$W/$name.screen" "$@" >"$W/$name.out" 2>&1 ||
		{ tail -n 30 "$W/$name.screen" "$W/$name.out"; return 1; }
}

# 1. stale
check "challenge answered after the nonce expired -> 407 stale=true, then the call succeeds" \
	uac stale uac_stale.xml 3 3 127.0.0.1:$PS -au alice -ap alice-secret

# 2. retransmissions absorbed while the MAR is out
kill -STOP "$AAA_PID"
( sleep 1.2; kill -CONT "$AAA_PID" ) &
check "20 calls started while mara-aaa is paused 1.2 s all succeed" \
	uac absorb uac_auth.xml 20 100 127.0.0.1:$PS -au alice -ap alice-secret

# 3. no answer in time -> 500
kill -STOP "$AAA_PID"
check "mara-aaa paused longer than diameter_timeout_ms (2 s): INVITE gets 500" \
	uac timeout uac_500.xml 5 10 127.0.0.1:$PS
kill -CONT "$AAA_PID"

# 4. destination allow-list
check "next hop 192.0.2.1 outside the allow-list -> 403" \
	uac outside uac_403_direct.xml 5 10 outside.test

check "mara-proxy exits 0 on SIGTERM" stop_ok "$PROXY_PID"
grep totals "$W/proxy.log"
tot=$(grep 'msg="totals"' "$W/proxy.log")
field() { echo "$tot" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
check "retransmissions absorbed while MARs were pending ($(field retrans_absorbed))" \
	test "$(field retrans_absorbed)" -gt 0
check "the 5 refused destinations were counted and sent no MAR ($(field not_allowed))" \
	test "$(field not_allowed)" -eq 5
check "5 MAR timeouts answered 500 ($(field err_500))" test "$(field err_500)" -eq 5
check "nothing left parked" test "$(field left_pending)" -eq 0
check "mara-aaa exits 0" stop_ok "$AAA_PID"
grep -q 'stale=[1-9]' "$W/aaa.log" && ok "mara-aaa counted the stale nonces" ||
	nok "mara-aaa counted the stale nonces"

if [ "$FAIL" -ne 0 ]; then
	echo "--- logs"; tail -n 30 "$W/proxy.log" "$W/aaa.log"
	exit 1
fi
exit 0

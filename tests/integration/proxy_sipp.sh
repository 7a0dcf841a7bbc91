#!/bin/bash
# SPDX-License-Identifier: MIT
# proxy_sipp.sh - RFC 4740 §6.4 Figure 4 end to end with real, independent UAs: a SIPp UAC with
# -au alice -ap alice-secret -> mara-proxy (2 shards) -> SIPp UAS, mara-aaa behind the proxy.
#   1. 1,000 calls INVITE/407/ACK/INVITE+auth/200/ACK/BYE/200 over UDP: all succeed
#   2. a wrong password gets 403 and no call reaches the UAS
#   3. REGISTER and MESSAGE authenticated the same way
#   4. the same calls over TCP
#   5. mara-aaa stopped: 503 with Retry-After, nothing left parked, exit 0 on SIGTERM
# Loopback only; every process is stopped by PID at exit; all SIPp runs are bounded (-m, -timeout).
set -u
. "$(dirname "$0")/lib.sh"
command -v sipp >/dev/null || { echo "skip: sipp (sip-tester) not installed"; exit 77; }

PA=$(free_port) || exit 1
start_aaa aaa "$PA" || exit 1
AAA_PID=$LAST_PID
free_ports PS PU PUT PR PM

start_proxy_open proxy route="register.test 127.0.0.1:$PR" route="message.test 127.0.0.1:$PM" \
	route="tcp.test 127.0.0.1:$PUT tcp" route="* 127.0.0.1:$PU" diameter_timeout_ms=1000 \
	retry_after_s=7 || exit 1
PROXY_PID=$LAST_PID

# uas NAME PORT SCENARIO [extra] -> a bounded SIPp UAS in the background
uas() {
	local name=$1 port=$2 scen=$3
	shift 3
	sipp_uas "$name" "$scen" "$port" -timeout 120s -buff_size 4194304 -trace_stat \
		-stf "$W/$name.csv" "$@"
	eval "${name}_PID=$LAST_PID"
}

# uac NAME SCENARIO CALLS RATE [extra] -> SIPp's exit status (0: every call succeeded); the
# Request-URI host is $DOMAIN (the proxy routes by it)
DOMAIN=127.0.0.1:$PS
uac() {
	local name=$1 scen=$2 calls=$3 rate=$4
	shift 4
	timeout 120 sipp -sf "$SCN/$scen" "127.0.0.1:$PS" -i 127.0.0.1 -nostdin -m "$calls" \
		-key rdomain "$DOMAIN" \
		-r "$rate" -l 500 -timeout 60s -timeout_error -trace_screen \
		-screen_file "$W/$name.screen" "$@" >"$W/$name.out" 2>&1
}

# successful calls in a SIPp screen file

# ---- 1. 1,000 calls over UDP ---------------------------------------------------------------------
uas uas_udp "$PU" uas_200.xml -m 1000
if uac calls uac_auth.xml 1000 200 -s service -au alice -ap alice-secret; then
	ok "1000 authenticated calls over UDP: all succeeded ($(sipp_ok "$W/calls.screen") successful)"
else
	nok "1000 authenticated calls over UDP"; tail -n 40 "$W/calls.screen"
fi

check_uas_calls "$uas_udp_PID" "$W/uas_udp.screen" 1000

# ---- 2. wrong password -> 403, nothing reaches the UAS ---------------------------------------------
uas uas_none "$PU" uas_200.xml -trace_msg -message_file "$W/uas_none.msg"
if uac wrong uac_auth_403.xml 20 20 -s service -au alice -ap wrong-password; then
	ok "wrong password: 20 calls refused with 403"
else
	nok "wrong password: 403"; tail -n 30 "$W/wrong.screen"
fi
check "no refused call reached the UAS" test "$(grep -c '^INVITE ' "$W/uas_none.msg" 2>/dev/null)" = 0

# ---- 3. REGISTER and MESSAGE ---------------------------------------------------------------------------
uas uas_reg "$PR" uas_register.xml
uas uas_msg "$PM" uas_message.xml
DOMAIN=register.test check "REGISTER authenticated (50)" uac reg uac_register_auth.xml 50 50 \
	-au alice -ap alice-secret
DOMAIN=message.test check "MESSAGE authenticated (50)" uac msg uac_message_auth.xml 50 50 \
	-au bob -ap bob-secret

# ---- 4. TCP -------------------------------------------------------------------------------------------------
uas uas_tcp "$PUT" uas_200.xml -t t1
if DOMAIN=tcp.test uac tcp uac_auth.xml 200 100 -t t1 -s service -au alice -ap alice-secret; then
	ok "200 authenticated calls over TCP: all succeeded"
else
	nok "200 authenticated calls over TCP"; tail -n 40 "$W/tcp.screen" "$W/tcp.out"
fi

# ---- 5. mara-aaa down -> 503 Retry-After -------------------------------------------------------------------
stop_ok "$AAA_PID"
wait_for "$W/proxy.log" 'peer closed' 5
if uac down uac_503.xml 10 10 -s service; then
	ok "no Diameter peer: INVITE gets 503 with Retry-After (10 calls)"
else
	nok "no Diameter peer: 503"; tail -n 30 "$W/down.screen" "$W/down.out"
fi
check "mara-proxy exits 0 on SIGTERM" stop_ok "$PROXY_PID"
check "nothing left parked at exit" grep -q 'left_pending=0' "$W/proxy.log"
grep 'totals' "$W/proxy.log"

if [ "$FAIL" -ne 0 ]; then
	echo "--- logs"; tail -n 40 "$W/proxy.log" "$W/aaa.log"
	exit 1
fi
exit 0

#!/bin/bash
# SPDX-License-Identifier: MIT
# failover.sh - one of two Diameter servers dies under load (RFC 6733 §5.5.4 failover):
#   SIPp UAC (alice / alice-secret) -> mara-proxy -> SIPp UAS, and behind the proxy two mara-aaa
#   (aaa1.test, aaa2.test) sharing nonce_secret, so either one validates the other's nonces;
#   the proxy spreads MARs over both.
#   1. FAILOVER_CALLS (1500) calls at FAILOVER_RATE (100) cps; about 5 s in, kill -9 aaa1
#   2. every call completes: SIPp exits 0, 0 failed calls, the UAS saw every call
#   3. mara-proxy: exit 0 on SIGTERM, left_pending=0, authorized = calls, no 500 and no 503
#      (a peer was always left), and the kill showed (failovers > 0, or nothing was in flight
#      to aaa1 at that instant and MARs kept flowing to aaa2)
#   4. aaa2 (log level debug: one "rx" line per message) received MARs after the kill, and
#      answered all its MARs with no replay / forged-nonce / bad-response refusals; exit 0
#   5. tshark (skipped if not installed): capture of the first FAILOVER_CAPTURE_S (3) seconds on
#      lo (the proxy's, UAS's and UAC's SIP ports, both Diameter ports), decoded with
#      -d udp.port==P,sip and -d tcp.port==P,diameter: no malformed packet, `-z expert` shows no
#      Error or Warning (Notes and Chats allowed); INVITE, 407, ACK, 200 and BYE decoded between
#      UAC and proxy, INVITE, ACK, 200 and BYE between proxy and UAS; Multimedia-Auth requests
#      and answers (code 286) decoded, with SIP-Auth-Data-Item, towards both servers.
#   FAILOVER_SIGNAL=STOP (failover_freeze.sh): aaa1 is frozen (SIGSTOP) instead of killed, so its
#   TCP connection stays up and only the RFC 3539 watchdog can tell (watchdog_s = 6, so Tw is
#   6-8 s: DWR after one silent Tw, SUSPECT after the second; diameter_timeout_ms = 25000 so that
#   no MAR times out first): the pending MARs go to aaa2 with the T flag at SUSPECT and every
#   call completes as above; after SIGCONT aaa1 is used again only once the watchdog says so
#   (its DWA: "watchdog ... state=okay" after the SIGCONT), and exits 0 on SIGTERM.
# Loopback only; every process stopped by PID; bounded waits and SIPp runs.
# Exit: 0 pass, 1 fail, 77 skip (sipp missing).
set -u
. "$(dirname "$0")/lib.sh"
CALLS=${FAILOVER_CALLS:-1500}
RATE=${FAILOVER_RATE:-100}
KILL_AFTER=${FAILOVER_KILL_S:-5}
CAP_S=${FAILOVER_CAPTURE_S:-3}
SIG=${FAILOVER_SIGNAL:-KILL}
TIMEOUT_MS=1000
WD_S=30
NOTICE_S=5
if [ "$SIG" = STOP ]; then
	TIMEOUT_MS=25000
	WD_S=6
	NOTICE_S=20 # two silent Tw of 6-8 s
fi
command -v sipp >/dev/null || { echo "skip: sipp (sip-tester) not installed"; exit 77; }
HAVE_TSHARK=1
command -v tshark >/dev/null || HAVE_TSHARK=0

# dump: mara-aaa's debug logs without their one line per message
DUMP_SKIP='msg="rx"'
bail() {
	[ "$SIG" = STOP ] && kill -CONT "$AAA1" 2>/dev/null
	nok "$*"
	dump "$W/proxy.log" "$W/aaa1.log" "$W/aaa2.log" "$W/uac.screen"
	exit 1
}
# mara's log timestamp format, for comparing with ts= of its lines
now_ts() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }

free_ports PA1 PA2 PS PU PC

# aaa1 and aaa2 log every message (level debug: one "rx" line each)
AAA_LOG_LEVEL=debug start_aaa aaa1 "$PA1" || bail "aaa1 did not start"
AAA1=$LAST_PID
AAA_LOG_LEVEL=debug start_aaa aaa2 "$PA2" || bail "aaa2 did not start"
AAA2=$LAST_PID

# every SIPp UA shares one address: max_challenges_per_source out of the way
start_proxy proxy peer="aaa1.test 127.0.0.1:$PA1" peer="aaa2.test 127.0.0.1:$PA2" \
	diameter_timeout_ms="$TIMEOUT_MS" watchdog_s="$WD_S" reconnect_s=2 \
	max_challenges_per_source=100000 || bail "mara-proxy did not start"
PROXY_PID=$LAST_PID
wait_for "$W/proxy.log" 'msg="peer open".*peer=aaa1.test' 10 &&
	wait_for "$W/proxy.log" 'msg="peer open".*peer=aaa2.test' 10 ||
	bail "mara-proxy did not open both aaa1.test and aaa2.test"
ok "mara-proxy opened aaa1.test and aaa2.test"

# ---- tshark on the first seconds ------------------------------------------------------------------
DECODE=(-d "tcp.port==$PA1,diameter" -d "tcp.port==$PA2,diameter" -d "udp.port==$PS,sip"
	-d "udp.port==$PU,sip" -d "udp.port==$PC,sip")
if [ "$HAVE_TSHARK" = 1 ]; then
	tshark -i lo -n -q -a "duration:$((CAP_S + 1))" -c 200000 -w "$W/cap.pcapng" \
		-f "udp port $PS or udp port $PU or udp port $PC or tcp port $PA1 or tcp port $PA2" \
		>"$W/tshark.out" 2>&1 &
	TSHARK_PID=$!
	PIDS+=("$TSHARK_PID")
	wait_for "$W/tshark.out" 'Capturing on' 30 || bail "tshark did not start capturing"
fi

# ---- the load, and the kill -------------------------------------------------------------------------
sipp_uas uas uas_200.xml "$PU" -timeout 120s -m "$CALLS" -buff_size 4194304
UAS_PID=$LAST_PID
t0=$SECONDS
timeout 120 sipp -sf "$SCN/uac_auth.xml" "127.0.0.1:$PS" -i 127.0.0.1 -p "$PC" -nostdin \
	-m "$CALLS" -r "$RATE" -l 1000 -key rdomain "127.0.0.1:$PS" -s service \
	-au alice -ap alice-secret -buff_size 4194304 -timeout 100s -timeout_error \
	-trace_screen -screen_file "$W/uac.screen" \
	>"$W/uac.out" 2>&1 &
UAC_PID=$!
PIDS+=("$UAC_PID")
sleep "$KILL_AFTER"
kill -0 "$UAC_PID" 2>/dev/null || bail "SIPp UAC ended before the kill (${KILL_AFTER} s)"
KILL_TS=$(now_ts)
kill -"$SIG" "$AAA1"
[ "$SIG" = KILL ] && wait "$AAA1" 2>/dev/null
echo "# kill -$SIG aaa1 at $KILL_TS ($((SECONDS - t0)) s into the run)"
wait_for "$W/proxy.log" 'msg="peer closed".*peer=aaa1.test\|peer=aaa1.test.*closed\|failing over.*aaa1\|peer=aaa1.test state=suspect' "$NOTICE_S" &&
	ok "mara-proxy noticed aaa1.test went away" ||
	nok "mara-proxy did not log aaa1.test closing or suspect within $NOTICE_S s"
if [ "$SIG" = STOP ]; then
	grep 'msg="watchdog" peer=aaa1.test\|failing over' "$W/proxy.log" | sed 's/^/# /'
	check "the watchdog marked aaa1.test suspect" \
		grep -q 'msg="watchdog" peer=aaa1.test state=suspect' "$W/proxy.log"
	CONT_TS=$(now_ts)
	kill -CONT "$AAA1"
	wait_for "$W/proxy.log" 'msg="watchdog" peer=aaa1.test state=okay' 10
	okay_ts=$(grep 'msg="watchdog" peer=aaa1.test state=okay' "$W/proxy.log" | tail -1 |
		awk '{print substr($1, 4)}')
	check "aaa1.test back to OKAY only after SIGCONT and its DWA (${okay_ts:-never} > $CONT_TS)" \
		test -n "$okay_ts" -a "${okay_ts:-0}" \> "$CONT_TS"
fi
wait "$UAC_PID"
rc=$?
retr=$(awk '/INVITE ---------->/{s += $4} END {print s + 0}' "$W/uac.screen")
if [ "$rc" -eq 0 ]; then
	ok "$CALLS calls at $RATE cps with aaa1 killed: all succeeded ($(sipp_ok "$W/uac.screen")" \
		"successful, $((SECONDS - t0)) s, INVITE retransmissions: $retr)"
else
	nok "$CALLS calls with aaa1 killed: SIPp rc=$rc, $(sipp_ok "$W/uac.screen") successful," \
		"$(sipp_failed "$W/uac.screen") failed, INVITE retransmissions: $retr"
	tail -n 40 "$W/uac.screen" | sed 's/^/# /'
fi
check_uas_calls "$UAS_PID" "$W/uas.screen" "$CALLS"

# ---- totals ---------------------------------------------------------------------------------------------
check "mara-proxy exits 0 on SIGTERM" stop_ok "$PROXY_PID"
L=$W/proxy.log
grep 'msg="totals"\|msg="diameter pool stopped"\|failing over' "$L" | sed 's/^/# /'
check_totals mara-proxy "$L" "authorized=$CALLS" left_pending=0 err_500=0 no_peer_503=0 refused=0
# the balance: every request received was forwarded, answered, absorbed or dropped (none parked)
bal=$(($(total fwd_requests "$L") + $(total answered "$L") + $(total dropped "$L") +
	$(total retrans_absorbed "$L") + $(total acks_absorbed "$L") + $(total left_pending "$L")))
check "mara-proxy totals balance: requests ($(total requests "$L")) = forwarded + answered + dropped + absorbed + parked ($bal)" \
	test "$(total requests "$L")" = "$bal"
fo=$(total failovers "$L")
chal=$(total challenges "$L")
check "mara-proxy totals: challenges (${chal:-?}) >= $CALLS" test "${chal:-0}" -ge "$CALLS"
# MARs aaa2 received, before and after the kill (ts= is first on every line)
mar_rx() { grep 'msg="rx"' "$W/aaa2.log" | grep 'dump="[^"(]*(286) app=6 flags=R'; }
after=$(mar_rx | awk -v k="ts=$KILL_TS" '$1 > k' | wc -l)
before=$(mar_rx | awk -v k="ts=$KILL_TS" '$1 <= k' | wc -l)
tflag=$(mar_rx | grep -c 'flags=RP*T')
echo "# aaa2 received $before MARs before the kill, $after after; $tflag with the T flag;" \
	"proxy failovers=${fo:-?}"
check "the kill showed: failovers (${fo:-?}) = MARs aaa2 got with the T flag ($tflag)" \
	test "${fo:-x}" = "$tflag"
check "aaa2 answered MARs after the kill ($after), more than before it ($before)" \
	test "$after" -gt 0 -a "$after" -gt "$before"
check "aaa1 had its share before the kill ($(grep -c 'msg="rx".*(286) app=6 flags=R' "$W/aaa1.log"))" \
	test "$(grep -c 'msg="rx".*(286) app=6 flags=R' "$W/aaa1.log")" -gt 0
check "aaa2 exits 0 on SIGTERM" stop_ok "$AAA2"
[ "$SIG" = STOP ] && check "aaa1 (thawed) exits 0 on SIGTERM" stop_ok "$AAA1"
L=$W/aaa2.log
grep 'msg="totals"' "$L" | sed 's/^/# /'
v=$(total mar "$L")
check "aaa2 totals: mar (${v:-?}) = the MARs it received ($((before + after)))" \
	test "${v:-x}" = $((before + after))
check_totals aaa2 "$L" bad_response=0 replayed=0 forged_nonce=0 unknown_user=0 invalid=0 \
	framing_errors=0

check "no sanitizer report in mara's logs" \
	test "$(grep -lE 'runtime error|Sanitizer' "$W/proxy.log" "$W/aaa1.log" "$W/aaa2.log" |
		wc -l)" -eq 0

# ---- what tshark decoded -----------------------------------------------------------------------------------
if [ "$HAVE_TSHARK" = 1 ]; then
	for _ in $(seq 100); do kill -0 "$TSHARK_PID" 2>/dev/null || break; sleep 0.1; done
	kill "$TSHARK_PID" 2>/dev/null
	wait "$TSHARK_PID" 2>/dev/null
	C=$W/cap.pcapng
	# nframes FILTER -> frames matching the display filter
	nframes() { tshark -r "$C" -n "${DECODE[@]}" -Y "$1" -T fields -e frame.number 2>/dev/null | wc -l; }
	total_frames=$(tshark -r "$C" -n -T fields -e frame.number 2>/dev/null | wc -l)
	check "tshark captured the first seconds ($total_frames frames)" test "$total_frames" -gt 100
	# (severity values: Chat 0x00200000 < Note 0x00400000 < Warning 0x00600000 < Error)
	n=$(nframes '_ws.malformed || _ws.expert.severity >= 0x00600000')
	check "no malformed packet, no expert Warning/Error frame ($n)" test "$n" -eq 0
	tshark -r "$C" -n "${DECODE[@]}" -q -z expert >"$W/expert.txt" 2>&1
	sed -n '/Errors (/,/^$/p; /Warns (/,/^$/p; /Warnings (/,/^$/p' "$W/expert.txt" | head -20 |
		sed 's/^/# /'
	check "tshark -z expert: no Errors or Warnings section (sections: $(grep -oE '^(Errors|Warns|Warnings|Notes|Chats) \([0-9]+\)' "$W/expert.txt" | tr '\n' ' '))" \
		test "$(grep -cE '^(Errors|Warns|Warnings) \(' "$W/expert.txt")" -eq 0
	u2p="udp.srcport == $PC && udp.dstport == $PS"
	p2u="udp.srcport == $PS && udp.dstport == $PC"
	p2s="udp.srcport == $PS && udp.dstport == $PU"
	s2p="udp.srcport == $PU && udp.dstport == $PS"
	for x in \
		"UAC -> proxy: INVITE|$u2p && sip.Method == \"INVITE\"" \
		"proxy -> UAC: 407|$p2u && sip.Status-Code == 407" \
		"UAC -> proxy: ACK|$u2p && sip.Method == \"ACK\"" \
		"proxy -> UAC: 200 to INVITE|$p2u && sip.Status-Code == 200 && sip.CSeq.method == \"INVITE\"" \
		"UAC -> proxy: BYE|$u2p && sip.Method == \"BYE\"" \
		"proxy -> UAS: INVITE with Proxy-Authorization removed|$p2s && sip.Method == \"INVITE\" && !sip.Proxy-Authorization" \
		"UAS -> proxy: 200 to INVITE|$s2p && sip.Status-Code == 200 && sip.CSeq.method == \"INVITE\"" \
		"proxy -> UAS: ACK|$p2s && sip.Method == \"ACK\"" \
		"proxy -> UAS: BYE|$p2s && sip.Method == \"BYE\"" \
		"UAS -> proxy: 200 to BYE|$s2p && sip.Status-Code == 200 && sip.CSeq.method == \"BYE\"" \
		"MAR to aaa1 with SIP-Auth-Data-Item|tcp.dstport == $PA1 && diameter.cmd.code == 286 && diameter.flags.request == 1 && diameter.SIP-Auth-Data-Item" \
		"MAA from aaa1 with SIP-Auth-Data-Item|tcp.srcport == $PA1 && diameter.cmd.code == 286 && diameter.flags.request == 0 && diameter.SIP-Auth-Data-Item" \
		"MAR to aaa2 with SIP-Auth-Data-Item|tcp.dstport == $PA2 && diameter.cmd.code == 286 && diameter.flags.request == 1 && diameter.SIP-Auth-Data-Item" \
		"MAA from aaa2 with SIP-Auth-Data-Item|tcp.srcport == $PA2 && diameter.cmd.code == 286 && diameter.flags.request == 0 && diameter.SIP-Auth-Data-Item" \
		"MAA with SIP-Authenticate (challenge)|diameter.cmd.code == 286 && diameter.SIP-Authenticate" \
		"MAA with SIP-Authentication-Info (success)|diameter.cmd.code == 286 && diameter.SIP-Authentication-Info"; do
		n=$(nframes "${x#*|}")
		check "tshark decodes ${x%%|*} ($n frames)" test "$n" -gt 0
	done
	# the decoded Diameter: requests and answers pair up in the first seconds
	mar=$(nframes "diameter.cmd.code == 286 && diameter.flags.request == 1")
	maa=$(nframes "diameter.cmd.code == 286 && diameter.flags.request == 0")
	echo "# first ${CAP_S} s: $mar frames with a MAR, $maa with a MAA"
else
	ok "tshark checks # SKIP tshark not installed"
fi

if [ "$FAIL" -ne 0 ]; then
	dump "$W/proxy.log" "$W/aaa1.log" "$W/aaa2.log"
	tail -n 40 "$W/uac.out" | sed 's/^/# /'
	exit 1
fi
exit 0

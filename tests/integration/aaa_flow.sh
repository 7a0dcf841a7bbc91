#!/bin/bash
# SPDX-License-Identifier: MIT
# aaa_flow.sh - the Diameter half of RFC 4740 Figure 4 against a running mara-aaa, checked by our
# test client (tests/dia_client.c) and decoded independently by tshark:
#   1. every flow and refusal (wrong password, unknown user, replay, forged and expired nonces,
#      scheme, AOR), malformed messages, 10,000 pipelined MARs, framing loss; exit 0 on SIGTERM
#   2. a captured MAR/MAA exchange decodes in tshark by name, with no malformed-packet or expert
#      warnings
#   3. two instances sharing the nonce secret: MAR #1 to one, MAR #2 to the other
#   4. RFC 4740 §6.3 mode (Digest-HA1 in the challenge)
#   5. SIGHUP: a user added to the store authenticates without a restart
# Loopback only; every process is stopped by PID at exit.
set -u
. "$(dirname "$0")/lib.sh"
command -v tshark >/dev/null || { echo "skip: tshark not installed"; exit 77; }

# ---- 1. the whole client suite ------------------------------------------------------------
P1=$(free_port) || exit 1
start_aaa a1 "$P1" || exit 1
A1=$LAST_PID
if "$CLIENT" 127.0.0.1 "$P1" --secret "$SECRET" >"$W/client.tap" 2>&1; then
	ok "dia_client: $(grep -c '^ok' "$W/client.tap") checks passed"
else
	nok "dia_client"
	grep -v '^ok' "$W/client.tap"
fi
check "scrape mara-aaa's /metrics" scrape_to "$a1_STATS" "$W/a1.metrics"
if command -v promtool >/dev/null; then
	check "promtool check metrics on mara-aaa's scrape" promtool check metrics <"$W/a1.metrics"
fi
check "mara-aaa exits 0 on SIGTERM" stop_ok "$A1"
# the scrape agrees with the totals mara-aaa logs at exit (nothing happened in between)
for pair in mar_received_total:mar maa_sent_total{result=\"authorized\"}:authorized \
	maa_sent_total{result=\"replayed_nonce_count\"}:replayed \
	maa_sent_total{result=\"forged_nonce\"}:forged_nonce \
	maa_sent_total{result=\"unknown_user\"}:unknown_user; do
	mname="mara_aaa_${pair%%:*}"
	lname=${pair##*:}
	m=$(awk -v k="$mname" '$1 == k { print $2 }' "$W/a1.metrics")
	l=$(sed -n "s/.*msg=\"totals\".* $lname=\([0-9]*\).*/\1/p" "$W/a1.log")
	check "metric $mname ($m) equals the logged $lname ($l)" test -n "$m" -a "$m" = "$l"
done
check "totals count what the client sent (1 framing error)" \
	grep -q 'framing_errors=1 .*' "$W/a1.log"
grep -q "replayed=3 forged_nonce=1 unknown_user=2 stale=1" "$W/a1.log" &&
	ok "refusals counted by reason" || { nok "refusals counted by reason"; grep totals "$W/a1.log"; }

# ---- 2. tshark decodes a captured exchange ---------------------------------------------------
P2=$(free_port) || exit 1
start_aaa a2 "$P2" || exit 1
A2=$LAST_PID
tshark -i lo -f "tcp port $P2" -w "$W/cap.pcapng" >"$W/tshark.log" 2>&1 &
TP=$!
PIDS+=("$TP")
# tshark's first start on a fresh machine (dissector and plugin set-up) can take several seconds
wait_for "$W/tshark.log" "Capturing on" 30 || {
	nok "tshark did not start capturing"
	sed 's/^/# /' "$W/tshark.log"
	exit 1
}
sleep 1 # "Capturing on" is printed a moment before packets are really captured
"$CLIENT" 127.0.0.1 "$P2" --mode user >"$W/user.tap" 2>&1 || { nok "capture run"; cat "$W/user.tap"; }
"$CLIENT" 127.0.0.1 "$P2" --mode user --user bob --password wrong >/dev/null 2>&1
sleep 0.5
kill -INT "$TP"; wait "$TP" 2>/dev/null
check "mara-aaa exits 0 on SIGTERM (capture run)" stop_ok "$A2"
DEC=(tshark -r "$W/cap.pcapng" -d "tcp.port==$P2,diameter")
"${DEC[@]}" -q -z expert >"$W/expert.txt" 2>/dev/null
if grep -qiE 'malformed|^Errors|^Warns|^Warnings' "$W/expert.txt"; then
	nok "tshark: no malformed packets or expert warnings"
	cat "$W/expert.txt"
else
	ok "tshark: no malformed packets or expert warnings"
fi
n=$("${DEC[@]}" -Y 'diameter.cmd.code==286' 2>/dev/null | wc -l)
check "tshark sees 8 MAR/MAA (2 flows) (saw $n)" test "$n" -eq 8
"${DEC[@]}" -V -Y 'diameter.cmd.code==286' >"$W/tree.txt" 2>/dev/null
"${DEC[@]}" >"$W/summary.txt" 2>/dev/null
for name in 'Multimedia-Auth Request(286)' 'Multimedia-Auth Answer(286)' \
	'Capabilities-Exchange Request(257)' 'Capabilities-Exchange Answer(257)'; do
	check "tshark summary shows $name" grep -qF "$name" "$W/summary.txt"
done
for name in 'Diameter Session Initiation Protocol (SIP) Application' 'SIP-Auth-Data-Item(376)' \
	'SIP-Authentication-Scheme(377).*DIGEST' 'SIP-Authenticate(379)' 'SIP-Authorization(380)' \
	'SIP-Authentication-Info(381)' 'Digest-Nonce(105)' 'Digest-Response(103)' \
	'Digest-Realm(104).*example.com' 'SIP-AOR(122)' 'SIP-Method(393).*INVITE' \
	'SIP-Number-Auth-Items(382)' \
	'Result-Code(268).*DIAMETER_SUCCESS_AUTH_SENT_SERVER_NOT_STORED (2008)' \
	'Result-Code(268).*DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED (2006)' \
	'Result-Code(268).*DIAMETER_AUTHENTICATION_REJECTED (4001)' \
	'Auth-Session-State(277).*NO_STATE_MAINTAINED'; do
	check "tshark shows $name" grep -q "$name" "$W/tree.txt"
done
# the nonce in the 2008 answer is the one the second MAR carries
nonces=$("${DEC[@]}" -Y 'diameter.cmd.code==286' -T fields -e diameter.Digest-Nonce 2>/dev/null |
	grep -v '^$' | head -2 | sort -u | wc -l)
check "tshark: MAR #2 carries the nonce of the challenge" test "$nonces" -eq 1

# ---- 3. two instances sharing the secret ---------------------------------------------------
P3=$(free_port) || exit 1
start_aaa b1 "$P3" || exit 1
B1=$LAST_PID
P4=$(free_port) || exit 1
start_aaa b2 "$P4" || exit 1
B2=$LAST_PID
check "MAR #1 to one instance, MAR #2 to another sharing the secret -> re-challenged, never 2006" \
	"$CLIENT" 127.0.0.1 "$P3" --mode cross --port2 "$P4"
check "b1 exits 0" stop_ok "$B1"
check "b2 exits 0" stop_ok "$B2"

# ---- 4. RFC 4740 §6.3 mode ---------------------------------------------------------------------
P5=$(free_port) || exit 1
start_aaa h1 "$P5" 'return_ha1 = true;' || exit 1
H1=$LAST_PID
if "$CLIENT" 127.0.0.1 "$P5" --mode ha1 >"$W/ha1.tap" 2>&1; then
	ok "HA1 mode ($(grep -c '^ok' "$W/ha1.tap") checks)"
else
	nok "HA1 mode"
	cat "$W/ha1.tap"
fi
check "h1 exits 0" stop_ok "$H1"

# ---- 5. SIGHUP adds a user ------------------------------------------------------------------
cp "$SRC/deploy/demo/users" "$W/users"
P6=$(free_port) || exit 1
start_aaa r1 "$P6" "users = \"$W/users\";" || exit 1
R1=$LAST_PID
if "$CLIENT" 127.0.0.1 "$P6" --mode user --user carol --password carol-secret >/dev/null 2>&1; then
	nok "carol is refused before she is added"
else
	ok "carol is refused before she is added"
fi
echo "carol:example.com:$(printf 'carol:example.com:carol-secret' | md5sum | cut -d' ' -f1)" >>"$W/users"
kill -HUP "$R1"
wait_for "$W/r1.log" 'msg="reloaded" users=3' 5
check "after SIGHUP carol authenticates (Figure 4)" \
	"$CLIENT" 127.0.0.1 "$P6" --mode user --user carol --password carol-secret
check "alice still authenticates" "$CLIENT" 127.0.0.1 "$P6" --mode user
check "r1 exits 0" stop_ok "$R1"

if [ "$FAIL" -ne 0 ]; then
	echo "--- logs"; tail -n 20 "$W"/*.log
	exit 1
fi
exit 0

#!/bin/bash
# SPDX-License-Identifier: MIT
# scaleout.sh - replay protection across two mara-aaa without a shared store (issue 6):
#   SIPp UAC -> mara-proxy (proxy.test) -> freeDiameterd relay.test -> mara-aaa aaa1.test and
#   aaa2.test (both realm example.com, one nonce_secret, each its own replay table).
#   Each challenge names its minting instance (Digest-Opaque "dh:<Origin-Host>", and the nonce
#   under its MAC); mara-proxy sends the credentials back there with Destination-Host.
# Asserts:
#   1. the relay opens both instances, mara-proxy opens the relay
#   2. tests/dia_client through the relay: Figure 4 through aaa1 and through aaa2 (each picked
#      by Destination-Host); each one's credentials replayed through the other are answered with
#      a fresh challenge (stale) by that other, never 2006; replayed to the minter: 4001
#   3. SIPp: CALLS authenticated calls through the relay all succeed; on the two instances
#      together challenges = authorized = CALLS, and foreign_instance = 0 (every MAR #2 reached
#      the instance that minted its nonce); the relay saw CALLS MARs with Destination-Host
#   4. the minting instance dies between the 407 and the credentials (tests/sipp/uac_stale.xml,
#      6.5 s pause; the script kills whichever instance minted the nonce): the relay (rt_default:
#      Destination-Host honoured strictly) answers 3002, mara-proxy asks for a fresh challenge
#      (counted once), the UA gets a 407 with stale=true from the other instance and the call
#      completes; the other instance never sees the dead one's nonce
#   5. the same with two instances as mara-proxy's direct peers: the pool sees the minter gone
#      and mara-proxy asks the other for a fresh challenge itself (counted once)
# Loopback only; every process stopped by PID; bounded waits and SIPp runs.
# Exit: 0 pass, 1 fail, 77 skip (sipp, freeDiameterd, openssl, cc or a .fdx missing).
set -u
. "$(dirname "$0")/lib.sh"
CALLS=${SCALEOUT_CALLS:-100}
need_fd_relay rt_default.fdx

bail() {
	nok "$*"
	dump "$W/aaa1.log" "$W/aaa2.log" "$W/proxy.log" "$W/relay.log" "$W/calls.screen"
	exit 1
}
maa() { mval "$1" "mara_aaa_maa_sent_total{result=\"$2\"}"; }
refused() { mval "$1" "mara_aaa_digest_refused_total{reason=\"$2\"}"; }

# stale_call TAG LABEL SIP_PORT PROXY_STATS N1 N2: one call (tests/sipp/uac_stale.xml: a 6.5 s
# pause between the 407 and the credentials) through the proxy on SIP_PORT; whichever of aaaN1
# and aaaN2 minted its nonce (its challenge count moved) is killed (-9) during the pause, and the
# call must complete. Sets MINTER and OTHER (N1 or N2) and GONE: how many fresh challenges the
# proxy asked for because the minting server was gone (from /metrics on PROXY_STATS).
stale_call() {
	local tag=$1 label=$2 port=$3 pm=$4 n1=$5 n2=$6 n uac stats pid rc
	local pkey='mara_auth_results_total{result="rechallenged_minting_server_gone"}'
	for n in "$n1" "$n2"; do
		stats=aaa${n}_STATS
		metrics "${!stats}" "$W/$tag.b$n"
	done
	metrics "$pm" "$W/$tag.p0"
	sipp -sf "$SCN/uac_stale.xml" "127.0.0.1:$port" -i 127.0.0.1 -nostdin -m 1 \
		-key rdomain "127.0.0.1:$port" -s service -au alice -ap alice-secret \
		-timeout 30s -timeout_error -trace_screen -screen_file "$W/$tag.screen" \
		>"$W/$tag.out" 2>&1 &
	uac=$!
	PIDS+=("$uac")
	MINTER=
	for _ in $(seq 40); do
		sleep 0.1
		for n in "$n1" "$n2"; do
			stats=aaa${n}_STATS
			scrape_to "${!stats}" "$W/$tag.c$n" || continue 2
		done
		for n in "$n1" "$n2"; do
			if [ "$(maa "$W/$tag.c$n" challenge)" != "$(maa "$W/$tag.b$n" challenge)" ]; then
				MINTER=$n
				break 2
			fi
		done
	done
	[ -n "$MINTER" ] || bail "$label: no instance challenged the call"
	OTHER=$((n1 + n2 - MINTER))
	pid=AAA$MINTER
	kill -KILL "${!pid}"
	echo "# $label: aaa$MINTER minted the nonce: killed during the UA's pause"
	for _ in $(seq 150); do kill -0 "$uac" 2>/dev/null || break; sleep 0.1; done
	wait "$uac"
	rc=$?
	if [ "$rc" = 0 ]; then
		ok "$label: the call completed after a fresh challenge once aaa$MINTER was gone"
	else
		nok "$label: the call after aaa$MINTER was killed (SIPp exit $rc)"
		tail -n 30 "$W/$tag.screen" | sed 's/^/# /'
	fi
	metrics "$pm" "$W/$tag.p1"
	GONE=$(($(mval "$W/$tag.p1" "$pkey") - $(mval "$W/$tag.p0" "$pkey")))
}

# ---- two mara-aaa, Origin-Realm example.com ---------------------------------------------------
free_ports PA1 PA2 PF PS PU PM
# the Diameter realm the relay routes on is example.com
AAA_ORIGIN_REALM=example.com start_aaa aaa1 "$PA1" 'realm = "example.com";' || bail "aaa1"
AAA1=$LAST_PID
AAA_ORIGIN_REALM=example.com start_aaa aaa2 "$PA2" 'realm = "example.com";' || bail "aaa2"
AAA2=$LAST_PID

# ---- freeDiameterd relay.test -----------------------------------------------------------------
printf '%s\n' 'dh="aaa1.test" : "aaa2.test" += NO_DELIVERY ;' \
	'dh="aaa2.test" : "aaa1.test" += NO_DELIVERY ;' >"$W/rt_default.conf"
FD_EXTRA="LoadExtension = \"$FD_EXT/rt_default.fdx\" : \"$W/rt_default.conf\";" \
	start_fd_relay "$PF" "aaa1.test:$PA1" "aaa2.test:$PA2" || bail "cannot set up freeDiameter relay.test"
if wait_for "$W/relay.log" "'STATE_OPEN'	'aaa1.test'" 15 &&
	wait_for "$W/relay.log" "'STATE_OPEN'	'aaa2.test'" 15; then
	ok "freeDiameter relay.test opened aaa1.test and aaa2.test"
else
	bail "freeDiameter relay.test did not open both instances within 15 s"
fi

# ---- 2. dia_client through the relay ------------------------------------------------------------
if "$CLIENT" 127.0.0.1 "$PF" --mode relay --host1 aaa1.test --host2 aaa2.test \
	>"$W/relay.tap" 2>&1; then
	ok "dia_client via the relay: Figure 4 through each instance, replays refused ($(grep -c '^ok' "$W/relay.tap") checks)"
else
	nok "dia_client via the relay"
	sed 's/^/# /' "$W/relay.tap"
fi
{ scrape_to "$aaa1_STATS" "$W/m1.prom" && scrape_to "$aaa2_STATS" "$W/m2.prom"; } || bail "scrape"
for n in 1 2; do
	v=$(refused "$W/m$n.prom" foreign_instance)
	check "aaa$n re-challenged the other's credentials once (foreign_instance ${v:-?})" \
		test "${v:-x}" = 1
	v=$(refused "$W/m$n.prom" replayed_nonce_count)
	check "aaa$n refused the replay of its own credentials once (replayed ${v:-?})" \
		test "${v:-x}" = 1
done
base1=$(maa "$W/m1.prom" authorized)
base2=$(maa "$W/m2.prom" authorized)
cbase1=$(maa "$W/m1.prom" challenge)
cbase2=$(maa "$W/m2.prom" challenge)

# ---- mara-proxy: its one Diameter peer is the relay ---------------------------------------------
start_proxy proxy peer="relay.test 127.0.0.1:$PF" diameter_timeout_ms=2000 \
	stats_listen="127.0.0.1:$PM" || bail "mara-proxy did not start"
PROXY_PID=$LAST_PID
wait_for "$W/proxy.log" 'msg="peer open".*peer=relay.test' 10 || bail "mara-proxy did not open relay.test"
ok "mara-proxy opened relay.test"

# ---- 3. SIPp through the relay ----------------------------------------------------------------
sipp_uas uas uas_200.xml "$PU" -timeout 60s
if sipp_uac calls "$PS" 60 -m "$CALLS" -r 50 -l 200 -timeout 40s -timeout_error; then
	ok "$CALLS authenticated calls through the relay and two instances: all succeeded"
else
	nok "$CALLS authenticated calls through the relay"
	tail -n 30 "$W/calls.screen" | sed 's/^/# /'
fi
{ scrape_to "$aaa1_STATS" "$W/m1.prom" && scrape_to "$aaa2_STATS" "$W/m2.prom"; } || bail "scrape"
a1=$(($(maa "$W/m1.prom" authorized) - base1))
a2=$(($(maa "$W/m2.prom" authorized) - base2))
c1=$(($(maa "$W/m1.prom" challenge) - cbase1))
c2=$(($(maa "$W/m2.prom" challenge) - cbase2))
echo "# aaa1: $c1 challenges, $a1 authorized; aaa2: $c2 challenges, $a2 authorized"
check "each instance authorized exactly the calls it challenged ($c1/$a1, $c2/$a2)" \
	test "$a1" = "$c1" -a "$a2" = "$c2"
check "challenges = authorized = $CALLS over both instances" \
	test "$((a1 + a2))" = "$CALLS" -a "$((c1 + c2))" = "$CALLS"
for n in 1 2; do
	v=$(refused "$W/m$n.prom" foreign_instance)
	check "aaa$n: no MAR #2 reached it with another's nonce (foreign_instance still 1: ${v:-?})" \
		test "${v:-x}" = 1
done

# ---- 4. the minting instance dies between the 407 and the credentials --------------------------
stale_call stale "via the relay" "$PS" "$PM" 1 2
other_stats=aaa${OTHER}_STATS
metrics "${!other_stats}" "$W/o.prom"
fi_other=$(($(refused "$W/o.prom" foreign_instance) - 1))
check "the relay answered 3002 and mara-proxy asked for a fresh challenge, once (got $GONE)" \
	test "$GONE" = 1
check "aaa$OTHER never saw the dead instance's nonce (foreign_instance +$fi_other)" \
	test "$fi_other" = 0

check "mara-proxy exits 0 on SIGTERM" stop_ok "$PROXY_PID"
other_pid=AAA$OTHER
check "aaa$OTHER exits 0 on SIGTERM" stop_ok "${!other_pid}"

# ---- 5. the same with the instances as mara-proxy's direct peers: the pool sees the minter gone -
free_ports PA3 PA4 PS2 PM2
start_aaa aaa3 "$PA3" 'realm = "example.com";' || bail "aaa3"
AAA3=$LAST_PID
start_aaa aaa4 "$PA4" 'realm = "example.com";' || bail "aaa4"
AAA4=$LAST_PID
start_proxy proxy2 listen="127.0.0.1:$PS2" origin_host=proxy2.test \
	peer="aaa3.test 127.0.0.1:$PA3" peer="aaa4.test 127.0.0.1:$PA4" diameter_timeout_ms=2000 \
	stats_listen="127.0.0.1:$PM2" || bail "mara-proxy 2 did not start"
PROXY2_PID=$LAST_PID
{ wait_for "$W/proxy2.log" 'msg="peer open".*peer=aaa3.test' 10 &&
	wait_for "$W/proxy2.log" 'msg="peer open".*peer=aaa4.test' 10; } || bail "proxy2 peers"
stale_call stale2 "direct peers" "$PS2" "$PM2" 3 4
check "direct peers: mara-proxy asked for the fresh challenge itself, once (got $GONE)" \
	test "$GONE" = 1
check "mara-proxy 2 exits 0 on SIGTERM" stop_ok "$PROXY2_PID"
other_pid=AAA$OTHER
check "aaa$OTHER exits 0 on SIGTERM" stop_ok "${!other_pid}"
check "no sanitizer report in mara's logs" \
	test "$(grep -lE 'runtime error|Sanitizer' "$W"/proxy*.log "$W"/aaa?.log | wc -l)" -eq 0
exit $FAIL

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
PROXY=$BUILD/mara-proxy
SCN=$SRC/tests/sipp
FD_EXT=${FD_EXT:-/usr/lib/freeDiameter}
SHIM_SRC=${SHIM_SRC:-/work/shared/peers/freediameter/bind_lo.c}
CALLS=${SCALEOUT_CALLS:-100}

for p in sipp freeDiameterd openssl cc; do
	command -v "$p" >/dev/null || { echo "skip: $p not installed"; exit 77; }
done
for f in "$FD_EXT/dict_sip.fdx" "$FD_EXT/dbg_msg_dumps.fdx" "$FD_EXT/acl_wl.fdx" \
	"$FD_EXT/rt_default.fdx" "$SHIM_SRC"; do
	[ -r "$f" ] || { echo "skip: $f not found"; exit 77; }
done

dump() {
	local f
	for f in "$@"; do
		echo "# ----- $f"
		tail -n "${DUMP_LINES:-40}" "$f" 2>/dev/null | sed 's/^/# /'
	done
}
bail() {
	nok "$*"
	dump "$W/aaa1.log" "$W/aaa2.log" "$W/proxy.log" "$W/relay.log" "$W/calls.screen"
	exit 1
}
# metric FILE LINE-PREFIX: the value of the sample whose name{labels} is LINE-PREFIX
metric() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
maa() { metric "$1" "mara_aaa_maa_sent_total{result=\"$2\"}"; }
refused() { metric "$1" "mara_aaa_digest_refused_total{reason=\"$2\"}"; }

# ---- two mara-aaa, Origin-Realm example.com ---------------------------------------------------
PA1=$(free_port) || exit 1
PA2=$(free_port) || exit 1
PF=$(free_port) || exit 1
PS=$(free_port) || exit 1
PU=$(free_port) || exit 1
PM=$(free_port) || exit 1
# the Diameter realm the relay routes on is example.com
AAA_ORIGIN_REALM=example.com start_aaa aaa1 "$PA1" 'realm = "example.com";' || bail "aaa1"
AAA1=$LAST_PID
AAA_ORIGIN_REALM=example.com start_aaa aaa2 "$PA2" 'realm = "example.com";' || bail "aaa2"
AAA2=$LAST_PID

# ---- freeDiameterd relay.test -----------------------------------------------------------------
cc -O2 -shared -fPIC -o "$W/bind_lo.so" "$SHIM_SRC" -ldl 2>"$W/cc.log" || bail "cannot build bind_lo.so"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=relay.test \
	-keyout "$W/relay.key" -out "$W/relay.crt" >"$W/openssl.log" 2>&1 || bail "openssl"
echo "ALLOW_IPSEC *.test" >"$W/acl_wl.conf"
# a relay that honours Destination-Host strictly: a MAR for one instance never goes to the other
# (when that one is gone: 3002 DIAMETER_UNABLE_TO_DELIVER, not realm routing)
printf '%s\n' 'dh="aaa1.test" : "aaa2.test" += NO_DELIVERY ;' \
	'dh="aaa2.test" : "aaa1.test" += NO_DELIVERY ;' >"$W/rt_default.conf"
cat >"$W/relay.conf" <<EOF
Identity = "relay.test";
Realm = "test";
Port = $PF;
SecPort = 0;
No_SCTP;
No_IPv6;
TcTimer = 6;
TwTimer = 30;
ThreadsPerServer = 2;
AppServThreads = 2;
TLS_Cred = "$W/relay.crt", "$W/relay.key";
TLS_CA = "$W/relay.crt";
LoadExtension = "$FD_EXT/dict_sip.fdx";
LoadExtension = "$FD_EXT/dbg_msg_dumps.fdx" : "0x0080";
LoadExtension = "$FD_EXT/acl_wl.fdx" : "$W/acl_wl.conf";
LoadExtension = "$FD_EXT/rt_default.fdx" : "$W/rt_default.conf";
ConnectPeer = "aaa1.test" { ConnectTo = "127.0.0.1"; Port = $PA1; No_TLS; No_SCTP; };
ConnectPeer = "aaa2.test" { ConnectTo = "127.0.0.1"; Port = $PA2; No_TLS; No_SCTP; };
EOF
LD_PRELOAD="$W/bind_lo.so" freeDiameterd -c "$W/relay.conf" >"$W/relay.log" 2>&1 &
FD_PID=$!
PIDS+=("$FD_PID")
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
cat >"$W/proxy.conf" <<EOF
log = { level = "info"; };
proxy = {
  listen = "127.0.0.1:$PS";
  threads = 2;
  realm = "example.com";
  routes = ( { domain = "*"; address = "127.0.0.1:$PU"; } );
  origin_host = "proxy.test";
  origin_realm = "test";
  destination_realm = "example.com";
  aaa_peers = ( { host = "relay.test"; address = "127.0.0.1:$PF"; } );
  diameter_timeout_ms = 2000;
  stats_listen = "127.0.0.1:$PM";
};
EOF
"$PROXY" -c "$W/proxy.conf" >"$W/proxy.log" 2>&1 &
PROXY_PID=$!
PIDS+=("$PROXY_PID")
wait_for "$W/proxy.log" 'mara-proxy ready' 5 || bail "mara-proxy did not start"
wait_for "$W/proxy.log" 'msg="peer open".*peer=relay.test' 10 || bail "mara-proxy did not open relay.test"
ok "mara-proxy opened relay.test"

# ---- 3. SIPp through the relay ----------------------------------------------------------------
sipp -sf "$SCN/uas_200.xml" -i 127.0.0.1 -p "$PU" -nostdin -timeout 60s \
	-trace_screen -screen_file "$W/uas.screen" >"$W/uas.out" 2>&1 &
UAS_PID=$!
PIDS+=("$UAS_PID")
sleep 0.3
if timeout 60 sipp -sf "$SCN/uac_auth.xml" "127.0.0.1:$PS" -i 127.0.0.1 -nostdin -m "$CALLS" \
	-key rdomain "127.0.0.1:$PS" -s service -au alice -ap alice-secret -r 50 -l 200 \
	-timeout 40s -timeout_error -trace_screen -screen_file "$W/calls.screen" \
	>"$W/calls.out" 2>&1; then
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
scrape_to "$PM" "$W/p0.prom" || bail "scrape proxy"
sipp -sf "$SCN/uac_stale.xml" "127.0.0.1:$PS" -i 127.0.0.1 -nostdin -m 1 \
	-key rdomain "127.0.0.1:$PS" -s service -au alice -ap alice-secret \
	-timeout 30s -timeout_error -trace_screen -screen_file "$W/stale.screen" \
	>"$W/stale.out" 2>&1 &
UAC_PID=$!
PIDS+=("$UAC_PID")
minter=
for _ in $(seq 40); do
	sleep 0.1
	{ scrape_to "$aaa1_STATS" "$W/k1.prom" && scrape_to "$aaa2_STATS" "$W/k2.prom"; } || continue
	if [ "$(maa "$W/k1.prom" challenge)" != "$(maa "$W/m1.prom" challenge)" ]; then
		minter=1
		break
	fi
	if [ "$(maa "$W/k2.prom" challenge)" != "$(maa "$W/m2.prom" challenge)" ]; then
		minter=2
		break
	fi
done
[ -n "$minter" ] || bail "no instance challenged the call"
other=$((3 - minter))
if [ "$minter" = 1 ]; then kill -KILL "$AAA1"; OTHER_PID=$AAA2; OTHER_STATS=$aaa2_STATS; else
	kill -KILL "$AAA2"; OTHER_PID=$AAA1; OTHER_STATS=$aaa1_STATS; fi
echo "# aaa$minter minted the nonce: killed during the UA's pause"
for _ in $(seq 150); do kill -0 "$UAC_PID" 2>/dev/null || break; sleep 0.1; done
if wait "$UAC_PID"; then
	ok "the call completed after a fresh challenge (stale=true) once aaa$minter was gone"
else
	nok "the call after aaa$minter was killed"
	tail -n 30 "$W/stale.screen" | sed 's/^/# /'
fi
scrape_to "$PM" "$W/p1.prom" || bail "scrape proxy"
pkey='mara_auth_results_total{result="rechallenged_minting_server_gone"}'
g0=$(metric "$W/p0.prom" "$pkey")
g1=$(metric "$W/p1.prom" "$pkey")
gone=$((${g1:-0} - ${g0:-0}))
scrape_to "$OTHER_STATS" "$W/o.prom" || bail "scrape aaa$other"
fi_other=$(($(refused "$W/o.prom" foreign_instance) - 1))
check "the relay answered 3002 and mara-proxy asked for a fresh challenge, once (got $gone)" \
	test "$gone" = 1
check "aaa$other never saw the dead instance's nonce (foreign_instance +$fi_other)" \
	test "$fi_other" = 0

check "mara-proxy exits 0 on SIGTERM" stop_ok "$PROXY_PID"
check "aaa$other exits 0 on SIGTERM" stop_ok "$OTHER_PID"

# ---- 5. the same with the instances as mara-proxy's direct peers: the pool sees the minter gone -
PA3=$(free_port) || exit 1
PA4=$(free_port) || exit 1
PS2=$(free_port) || exit 1
PM2=$(free_port) || exit 1
start_aaa aaa3 "$PA3" 'realm = "example.com";' || bail "aaa3"
AAA3=$LAST_PID
start_aaa aaa4 "$PA4" 'realm = "example.com";' || bail "aaa4"
AAA4=$LAST_PID
sed -e "s/127.0.0.1:$PS\"/127.0.0.1:$PS2\"/" -e "s/127.0.0.1:$PM\"/127.0.0.1:$PM2\"/" \
	-e "s/origin_host = \"proxy.test\"/origin_host = \"proxy2.test\"/" \
	"$W/proxy.conf" |
	sed "s|aaa_peers = .*|aaa_peers = ( { host = \"aaa3.test\"; address = \"127.0.0.1:$PA3\"; }, { host = \"aaa4.test\"; address = \"127.0.0.1:$PA4\"; } );|" \
	>"$W/proxy2.conf"
"$PROXY" -c "$W/proxy2.conf" >"$W/proxy2.log" 2>&1 &
PROXY2_PID=$!
PIDS+=("$PROXY2_PID")
wait_for "$W/proxy2.log" 'mara-proxy ready' 5 || bail "mara-proxy 2 did not start"
{ wait_for "$W/proxy2.log" 'msg="peer open".*peer=aaa3.test' 10 &&
	wait_for "$W/proxy2.log" 'msg="peer open".*peer=aaa4.test' 10; } || bail "proxy2 peers"
{ scrape_to "$aaa3_STATS" "$W/d3.prom" && scrape_to "$aaa4_STATS" "$W/d4.prom" &&
	scrape_to "$PM2" "$W/q0.prom"; } || bail "scrape"
sipp -sf "$SCN/uac_stale.xml" "127.0.0.1:$PS2" -i 127.0.0.1 -nostdin -m 1 \
	-key rdomain "127.0.0.1:$PS2" -s service -au alice -ap alice-secret \
	-timeout 30s -timeout_error -trace_screen -screen_file "$W/stale2.screen" \
	>"$W/stale2.out" 2>&1 &
UAC_PID=$!
PIDS+=("$UAC_PID")
minter=
for _ in $(seq 40); do
	sleep 0.1
	{ scrape_to "$aaa3_STATS" "$W/e3.prom" && scrape_to "$aaa4_STATS" "$W/e4.prom"; } || continue
	if [ "$(maa "$W/e3.prom" challenge)" != "$(maa "$W/d3.prom" challenge)" ]; then
		minter=3
		break
	fi
	if [ "$(maa "$W/e4.prom" challenge)" != "$(maa "$W/d4.prom" challenge)" ]; then
		minter=4
		break
	fi
done
[ -n "$minter" ] || bail "no direct instance challenged the call"
if [ "$minter" = 3 ]; then kill -KILL "$AAA3"; OTHER_PID=$AAA4; else
	kill -KILL "$AAA4"; OTHER_PID=$AAA3; fi
echo "# aaa$minter (a direct peer) minted the nonce: killed during the UA's pause"
for _ in $(seq 150); do kill -0 "$UAC_PID" 2>/dev/null || break; sleep 0.1; done
if wait "$UAC_PID"; then
	ok "direct peers: the call completed after a fresh challenge once aaa$minter was gone"
else
	nok "direct peers: the call after aaa$minter was killed"
	tail -n 30 "$W/stale2.screen" | sed 's/^/# /'
fi
scrape_to "$PM2" "$W/q1.prom" || bail "scrape proxy2"
g0=$(metric "$W/q0.prom" "$pkey")
g1=$(metric "$W/q1.prom" "$pkey")
check "direct peers: mara-proxy asked for the fresh challenge itself, once (got $((${g1:-0} - ${g0:-0})))" \
	test "$((${g1:-0} - ${g0:-0}))" = 1
check "mara-proxy 2 exits 0 on SIGTERM" stop_ok "$PROXY2_PID"
check "aaa$((7 - minter)) exits 0 on SIGTERM" stop_ok "$OTHER_PID"
check "no sanitizer report in mara's logs" \
	test "$(grep -lE 'runtime error|Sanitizer' "$W"/proxy*.log "$W"/aaa?.log | wc -l)" -eq 0
exit $FAIL

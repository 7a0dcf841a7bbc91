#!/bin/bash
# SPDX-License-Identifier: MIT
# relay.sh - RFC 4740 §6.4 Figure 4 through a real Diameter relay agent:
#   SIPp UAC -> mara-proxy (proxy.test, Destination-Realm example.com)
#            -> freeDiameterd "relay.test" (realm test; relays by Destination-Realm)
#            -> mara-aaa "aaa.test" (Origin-Realm example.com, the realm the MARs name)
#   and mara-proxy -> SIPp UAS for the authorized INVITEs.
# freeDiameterd: no application of its own (it advertises Relay), dict_sip, dbg_msg_dumps (every
# message dumped), acl_wl "ALLOW_IPSEC *.test" (mara-proxy connects to it, no TLS), ConnectPeer
# to mara-aaa (No_TLS), bind_lo.c LD_PRELOAD shim (listens on 127.0.0.1 only).
# Asserts:
#   1. the relay opens both peers; mara-proxy opens relay.test
#   2. 100 calls (tests/sipp/uac_auth.xml, alice / alice-secret) all succeed, the UAS sees 100
#   3. mara-aaa's totals: mar = 200, challenges = 100, authorized = 100, nothing refused
#   4. mara-proxy's totals: mar = 200, challenges = 100, authorized = 100, no 500/503, no pool
#      timeouts, left_pending=0; exit 0 on SIGTERM
#   5. freeDiameter's dumps: 200 Multimedia-Auth-Request received from proxy.test and sent to
#      aaa.test (with a Route-Record naming proxy.test), 200 Multimedia-Auth-Answer received from
#      aaa.test and sent to proxy.test, 100 of them 2006
#      (DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED) with SIP-Authentication-Info and 100 2008
#      (..._AUTH_SENT_SERVER_NOT_STORED) with SIP-Auth-Data-Item / SIP-Authenticate;
#      every MAR's Session-Id begins with "proxy.test;" (RFC 6733 §8.8)
# Loopback only; every process stopped by PID; bounded waits and SIPp runs.
# Exit: 0 pass, 1 fail, 77 skip (sipp, freeDiameterd, openssl, cc or a .fdx missing).
set -u
. "$(dirname "$0")/lib.sh"
CALLS=${RELAY_CALLS:-100}
need_fd_relay

bail() {
	nok "$*"
	dump "$W/aaa.log" "$W/proxy.log" "$W/relay.log" "$W/calls.screen" "$W/calls.out"
	exit 1
}

free_ports PA PF PS PU

# ---- mara-aaa: Origin-Realm example.com, the realm the relay routes to ------------------------------
# (the demo users, the MD5 algorithm only: mara-aaa's defaults)
AAA_ALGS='"MD5"' AAA_ORIGIN_REALM=example.com start_aaa aaa "$PA" 'realm = "example.com";' ||
	bail "mara-aaa did not start"
AAA_PID=$LAST_PID

# ---- freeDiameterd relay.test ----------------------------------------------------------------------
start_fd_relay "$PF" "aaa.test:$PA" || bail "cannot set up freeDiameter relay.test"
if wait_for "$W/relay.log" "'STATE_OPEN'	'aaa.test'" 15; then
	ok "freeDiameter relay.test opened aaa.test (realm example.com)"
else
	bail "freeDiameter relay.test did not open aaa.test within 15 s"
fi
listen=$(ss -Hltn "sport = :$PF" | awk '{print $4}' | sort -u | tr '\n' ' ')
check "freeDiameterd listens on 127.0.0.1:$PF only (${listen% })" test "${listen% }" = "127.0.0.1:$PF"

# ---- mara-proxy: its one Diameter peer is the relay ------------------------------------------------------
start_proxy proxy peer="relay.test 127.0.0.1:$PF" diameter_timeout_ms=2000 || bail "mara-proxy did not start"
PROXY_PID=$LAST_PID
if wait_for "$W/proxy.log" 'msg="peer open".*peer=relay.test' 10 &&
	wait_for "$W/relay.log" "'STATE_OPEN'	'proxy.test'" 10; then
	ok "mara-proxy and relay.test opened each other"
else
	bail "mara-proxy did not open relay.test"
fi

# ---- SIPp ---------------------------------------------------------------------------------------------
sipp_uas uas uas_200.xml "$PU" -timeout 90s -m "$CALLS"
UAS_PID=$LAST_PID
t0=$SECONDS
if sipp_uac calls "$PS" 90 -m "$CALLS" -r 50 -l 200 -timeout 60s -timeout_error; then
	ok "$CALLS authenticated calls through the relay: all succeeded ($((SECONDS - t0)) s)"
else
	nok "$CALLS authenticated calls through the relay"
	tail -n 40 "$W/calls.screen" "$W/calls.out"
fi
check_uas_calls "$UAS_PID" "$W/uas.screen" "$CALLS"

# ---- totals -----------------------------------------------------------------------------------------
check "mara-proxy exits 0 on SIGTERM" stop_ok "$PROXY_PID"
L=$W/proxy.log
grep 'msg="totals"' "$L" | sed 's/^/# /'
check_totals mara-proxy "$L" "mar=$((2 * CALLS))" "challenges=$CALLS" "authorized=$CALLS" \
	refused=0 err_500=0 no_peer_503=0 pool_timeouts=0 left_pending=0
check "mara-aaa exits 0 on SIGTERM" stop_ok "$AAA_PID"
L=$W/aaa.log
grep 'msg="totals"' "$L" | sed 's/^/# /'
check_totals mara-aaa "$L" "mar=$((2 * CALLS))" "challenges=$CALLS" "authorized=$CALLS" \
	bad_response=0 replayed=0 forged_nonce=0 unknown_user=0 invalid=0 framing_errors=0
check "no sanitizer report in mara's logs" \
	test "$(grep -lE 'runtime error|Sanitizer' "$W/proxy.log" "$W/aaa.log" | wc -l)" -eq 0
check "mara-aaa's only peer was relay.test" \
	test "$(grep -o 'msg="peer open".*peer=[^ ]*' "$L" | grep -o 'peer=[^ ]*$' | sort -u)" = \
	"peer=relay.test"

# ---- what freeDiameter relayed ----------------------------------------------------------------------------
kill -TERM "$FD_PID"
for _ in $(seq 100); do kill -0 "$FD_PID" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$FD_PID" 2>/dev/null
# one line per dumped message: "SND to 'peer': | 'Command-Name' | ... | AVP: ... | ..."
sed 's/^[0-9:]*  *//' "$W/relay.log" | awk '
	/^NOTI   (SND to|RCV from) \047/ { if (b != "") print b; b = $0; next }
	b != "" && /^NOTI      / { sub(/^NOTI +/, ""); b = b " | " $0; next }
	{ if (b != "") print b; b = "" }
	END { if (b != "") print b }' >"$W/relay.msgs"
# count DIR PEER CMD [PATTERN...]
count() {
	local dir=$1 peer=$2 cmd=$3 p
	shift 3
	grep -F "$dir '$peer':" "$W/relay.msgs" | grep -F "| '$cmd' |" >"$W/sel"
	for p in "$@"; do
		grep -E -- "$p" "$W/sel" >"$W/sel2"
		mv "$W/sel2" "$W/sel"
	done
	wc -l <"$W/sel"
}
N2=$((2 * CALLS))
n=$(count "RCV from" proxy.test Multimedia-Auth-Request)
check "relay received $N2 Multimedia-Auth-Request from proxy.test (got $n)" test "$n" -eq "$N2"
n=$(count "SND to" aaa.test Multimedia-Auth-Request \
	"AVP: 'Destination-Realm'\(283\)[^|]*val=\"example.com\"" \
	"AVP: 'Route-Record'\(282\)[^|]*val=\"proxy.test\"")
check "relay sent $N2 Multimedia-Auth-Request to aaa.test, Destination-Realm example.com, Route-Record proxy.test (got $n)" \
	test "$n" -eq "$N2"
n=$(count "RCV from" aaa.test Multimedia-Auth-Answer)
check "relay received $N2 Multimedia-Auth-Answer from aaa.test (got $n)" test "$n" -eq "$N2"
n=$(count "SND to" proxy.test Multimedia-Auth-Answer)
check "relay sent $N2 Multimedia-Auth-Answer to proxy.test (got $n)" test "$n" -eq "$N2"
n=$(count "SND to" proxy.test Multimedia-Auth-Answer "'Result-Code'\(268\)[^|]*\(2008 " \
	"AVP: 'SIP-Auth-Data-Item'" "AVP: 'SIP-Authenticate'" "AVP: 'Digest-Nonce'")
check "$CALLS relayed MAAs are challenges: 2008 with SIP-Auth-Data-Item/SIP-Authenticate (got $n)" \
	test "$n" -eq "$CALLS"
n=$(count "SND to" proxy.test Multimedia-Auth-Answer "'Result-Code'\(268\)[^|]*\(2006 " \
	"AVP: 'SIP-Authentication-Info'" "AVP: 'Digest-Response-Auth'")
check "$CALLS relayed MAAs are successes: 2006 with SIP-Authentication-Info (got $n)" \
	test "$n" -eq "$CALLS"
# RFC 6733 §8.8 (and dia_sipcli.h): a Session-Id begins with the sender's DiameterIdentity
n=$(count "RCV from" proxy.test Multimedia-Auth-Request "AVP: 'Session-Id'\(263\)[^|]*val=\"proxy\.test;")
sid=$(grep -o "'Session-Id'(263)[^|]*" "$W/relay.msgs" | head -1 | grep -o 'val=.*')
check "the MARs' Session-Id begins with mara-proxy's Origin-Host \"proxy.test;\" (got $n of $N2; $sid)" \
	test "$n" -eq "$N2"
n=$(count "SND to" proxy.test Multimedia-Auth-Answer "AVP: 'Origin-Host'\(264\)[^|]*val=\"aaa.test\"")
check "the relayed MAAs keep Origin-Host aaa.test (got $n)" test "$n" -eq "$N2"
grep -m1 -F "SND to 'aaa.test':" "$W/relay.msgs" | grep -F Multimedia-Auth-Request | cut -c1-600 |
	sed 's/^/# first relayed MAR: /'

if [ "$FAIL" -ne 0 ]; then
	DUMP_LINES=80 dump "$W/aaa.log" "$W/proxy.log" "$W/relay.log" "$W/calls.screen"
	exit 1
fi
exit 0

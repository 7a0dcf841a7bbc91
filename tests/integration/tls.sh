#!/bin/bash
# SPDX-License-Identifier: MIT
# tls.sh - Diameter over TLS (RFC 6733 §13, TLS from the first byte) and SIP over TLS, with
# certificates made here by openssl (a CA, and a rogue CA):
#   0. --check-config refuses TLS settings without readable credentials (file:line)
#   1. mara-proxy -TLS-> mara-aaa (mutual certificates): Figure 4 with SIPp, 20 calls over UDP
#      authenticated through the TLS connection; handshakes counted on both /metrics
#   2. a client certificate from another CA: the handshake is refused and counted, no peer open
#   3. a certificate from the right CA naming another host than the CER's Origin-Host: the CER is
#      refused (DIAMETER_UNKNOWN_PEER), the connection closed, the mismatch counted
#   3b. a peer that aaa.peers marks tls = true connecting over plain TCP: its CER is refused
#   4. a TLS client with no certificate at all (openssl s_client): refused and counted
#   5. freeDiameterd as a TLS peer of mara-aaa (its RFC 6733 method: TLS at connection start on
#      the peer's secure port): CER/CEA inside TLS, STATE_OPEN on both sides
#   5b. mara-aaa as a TLS client (peers { connect = true; tls = true; }) of another mara-aaa
#   6. SIP over TLS: openssl s_client sends an INVITE to the proxy's TLS listener and the 407
#      comes back over TLS; a whole authenticated call with a python3 UA on TLS
#      (sip_tls_call.py) through the proxy to a SIPp UAS; that proxy is configured TLS 1.3 only
#      with one cipher suite: the UA gets that suite, a TLS 1.2 client and a client offering
#      another suite are refused and counted
#   7. a TCP connection to the TLS port that never handshakes is closed after 10 s (counted)
# Loopback only; every process is stopped by PID; every wait is bounded.
set -u
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "skip: openssl not installed"; exit 77; }
command -v sipp >/dev/null || { echo "skip: sipp (sip-tester) not installed"; exit 77; }

# ---- certificates -------------------------------------------------------------------------------
# ca NAME -> $W/NAME.crt/.key
ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=$1" -keyout "$W/$1.key" -out "$W/$1.crt" >>"$W/openssl.log" 2>&1
}
# cert CA NAME DNS -> $W/NAME.crt/.key signed by CA, subjectAltName DNS:DNS, CN=DNS
cert() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$3" \
		-keyout "$W/$2.key" -out "$W/$2.csr" >>"$W/openssl.log" 2>&1 &&
		printf 'subjectAltName=DNS:%s\n' "$3" >"$W/$2.ext" &&
		openssl x509 -req -in "$W/$2.csr" -CA "$W/$1.crt" -CAkey "$W/$1.key" \
			-CAcreateserial -days 2 -extfile "$W/$2.ext" -out "$W/$2.crt" >>"$W/openssl.log" 2>&1
}
{ ca ca && ca rogue_ca && cert ca aaa aaa.test && cert ca proxy proxy.test &&
	cert rogue_ca rogue proxy2.test && cert ca liar liar.test && cert ca fd fdtls.test &&
	cert ca sip sip.test && cert ca aaa2 aaa2.test; } || { echo "not ok - openssl could not make the certificates"; cat "$W/openssl.log"; exit 1; }

# ---- 0. configuration: what uses TLS must have readable credentials ---------------------------------
# refused NAME PATTERN CONFIG: --check-config refuses CONFIG with a line matching PATTERN
refused() {
	printf '%s\n' "$3" >"$W/$1.conf"
	! "$AAA" -c "$W/$1.conf" --check-config >"$W/$1.out" 2>&1 && grep -q "$2" "$W/$1.out"
}
check "config: tls_listen without a tls group is refused" refused c1 'aaa.tls lacks cert and key' \
	'aaa = { tls_listen = "127.0.0.1:5658"; };'
check "config: an unreadable cert is refused with file and line" refused c2 \
	"file=$W/c2.conf line=2 key=cert problem=\"cannot read: $W/nope.pem\"" \
	"aaa = {
  tls = { cert = \"$W/nope.pem\"; key = \"$W/aaa.key\"; ca = \"$W/ca.crt\"; };
};"
check "config: min_version SSLv3 is refused" refused c3 'line=1 key=min_version' \
	"aaa = { tls = { cert = \"$W/aaa.crt\"; key = \"$W/aaa.key\"; min_version = \"SSLv3\"; }; };"
check "config: a TLS Diameter peer without a CA is refused" refused c4 'proxy.tls lacks ca' \
	"proxy = { aaa_peers = ( { host = \"a.test\"; address = \"127.0.0.1:5658\"; tls = true; } );
  tls = { cert = \"$W/aaa.crt\"; key = \"$W/aaa.key\"; }; };"
check "config: an unknown key in tls is refused" refused c5 'unknown key in tls: certs' \
	"aaa = { tls = { certs = \"$W/aaa.crt\"; }; };"
check "config: a key that is not the certificate's is refused by --check-config" refused c6 \
	'what="key".*key values mismatch' \
	"aaa = { tls = { cert = \"$W/aaa.crt\"; key = \"$W/proxy.key\"; ca = \"$W/ca.crt\"; }; };"
check "config: a bad cipher list is refused by --check-config" refused c7 'what="ciphers"' \
	"aaa = { tls = { cert = \"$W/aaa.crt\"; key = \"$W/aaa.key\"; ciphers = \"NO-SUCH-CIPHER\"; }; };"


free_ports PA PT
start_aaa aaa "$PA" "tls_listen = \"127.0.0.1:$PT\";
  tls = { cert = \"$W/aaa.crt\"; key = \"$W/aaa.key\"; ca = \"$W/ca.crt\"; };
  peers = ( { host = \"plain.test\"; tls = true; } );" || exit 1
AAA_PID=$LAST_PID
check "mara-aaa logs its TLS listener" grep -q "Diameter over TLS.*listen=127.0.0.1:$PT min_version=TLSv1.2" "$W/aaa.log"

# proxy NAME CERT ORIGIN_HOST SIP_PORT [KEY=VALUE...] -> PROXY_PID, log $W/NAME.log: one shard,
# TLS with CERT (TLS_EXTRA: more tls settings) to aaa.test at 127.0.0.1:${AAA_AT:-$PT} (tls =
# ${AAA_TLS:-true}), its /metrics port in NAME_STATS
proxy() {
	local name=$1 crt=$2 oh=$3 ps=$4 sport
	shift 4
	sport=$(free_port) || return 1
	eval "${name}_STATS=$sport"
	start_proxy "$name" listen="127.0.0.1:$ps" threads=1 origin_host="$oh" \
		aaa_peers="( { host = \"aaa.test\"; address = \"127.0.0.1:${AAA_AT:-$PT}\"; tls = ${AAA_TLS:-true}; } )" \
		tls="{ cert = \"$W/$crt.crt\"; key = \"$W/$crt.key\"; ca = \"$W/ca.crt\"; ${TLS_EXTRA:-} }" \
		reconnect_s=1 stats_listen="127.0.0.1:$sport" "$@" || return 1
	PROXY_PID=$LAST_PID
}

# 7. (checked at the end) a TCP connection to the TLS port that never says a word is closed
exec 4<>"/dev/tcp/127.0.0.1/$PT" || nok "cannot open the idle connection"
IDLE_AT=$SECONDS

# ---- 1. mara-proxy -TLS-> mara-aaa, Figure 4 --------------------------------------------------------
free_ports PS PU PST
# this proxy: TLS 1.3 only, one cipher suite (its Diameter side and its SIP listener)
TLS_EXTRA='min_version = "TLSv1.3"; ciphersuites = "TLS_AES_256_GCM_SHA384";' \
	proxy proxy proxy proxy.test "$PS" tls_listen="127.0.0.1:$PST" || exit 1
P1=$PROXY_PID
if wait_for "$W/proxy.log" 'peer open' 10; then
	ok "mara-proxy opened its Diameter connection to aaa.test over TLS"
else
	nok "no peer open over TLS"; tail -n 20 "$W/proxy.log" "$W/aaa.log"; exit 1
fi
sipp_uas uas uas_200.xml "$PU" -timeout 60s -m 20
if sipp_uac uac "$PS" 60 -m 20 -r 20 -timeout 30s -timeout_error; then
	ok "20 authenticated Figure 4 calls with the MARs over Diameter/TLS"
else
	nok "Figure 4 over Diameter/TLS"; tail -n 30 "$W/uac.screen" "$W/uac.out"
fi
scrape_to "$aaa_STATS" "$W/aaa.m1"
scrape_to "$proxy_STATS" "$W/proxy.m1"
n=$(mval "$W/aaa.m1" mara_aaa_mar_received_total)
check "mara-aaa received the 40 MARs ($n)" test "$n" -ge 40
hs_ok=$(mval "$W/aaa.m1" 'mara_tls_handshakes_total{use="diameter",result="ok"}')
check "mara-aaa counts the TLS handshake ($hs_ok)" test "$hs_ok" -ge 1
p_ok=$(mval "$W/proxy.m1" 'mara_tls_handshakes_total{use="diameter",result="ok"}')
check "mara-proxy counts its TLS handshake ($p_ok)" test "$p_ok" -ge 1

# ---- 2. a client certificate from another CA -------------------------------------------------------
fail0=$(mval "$W/aaa.m1" 'mara_tls_handshakes_total{use="diameter",result="failed"}')
PS2=$(free_port) || exit 1
proxy proxy2 rogue proxy2.test "$PS2" || exit 1
P2=$PROXY_PID
check "a certificate from another CA: handshake refused by mara-aaa" \
	wait_for "$W/aaa.log" 'TLS handshake failed.*role=server' 10
sleep 1
check "the proxy with the rogue certificate never opened" bash -c "! grep -q 'peer open' '$W/proxy2.log'"
check "... and was told why: mara-aaa's alert reached it" \
	grep -q 'TLS.*role=client reason=".*alert' "$W/proxy2.log"
scrape_to "$aaa_STATS" "$W/aaa.m2"
fail2=$(mval "$W/aaa.m2" 'mara_tls_handshakes_total{use="diameter",result="failed"}')
check "failed handshakes counted ($fail0 -> $fail2)" test "$fail2" -gt "$fail0"
grep -h "TLS" "$W/proxy2.log" | head -2 | sed "s/^/# /"
kill "$P2"

# ---- 3. right CA, wrong identity -----------------------------------------------------------------------
PS3=$(free_port) || exit 1
proxy proxy3 liar proxy3.test "$PS3" || exit 1
P3=$PROXY_PID
check "Origin-Host proxy3.test with a certificate for liar.test: refused" \
	wait_for "$W/aaa.log" 'TLS peer identity mismatch.*peer=proxy3.test' 10
check "the CER was answered DIAMETER_UNKNOWN_PEER" wait_for "$W/aaa.log" 'CER refused.*peer=proxy3.test rc=3010' 5
check "the liar never opened" bash -c "! grep -q 'peer open' '$W/proxy3.log'"
scrape_to "$aaa_STATS" "$W/aaa.m3"
mm=$(mval "$W/aaa.m3" 'mara_tls_peer_identity_mismatch_total{use="diameter"}')
check "identity mismatches counted ($mm)" test "$mm" -ge 1
kill "$P3"

# ---- 3b. a peer configured with tls = true cannot come in over plain TCP -----------------------------------
PS4=$(free_port) || exit 1
AAA_AT=$PA AAA_TLS=false proxy proxy4 proxy plain.test "$PS4" || exit 1
P4=$PROXY_PID
check "plain.test (peers { tls = true; }) over plain TCP: refused" \
	wait_for "$W/aaa.log" 'peer must use TLS, refused on plain TCP.*peer=plain.test' 10
check "plain.test never opened" bash -c "! grep -q 'peer open' '$W/proxy4.log'"
kill "$P4"

# ---- 4. no client certificate ----------------------------------------------------------------------------
echo | timeout 5 openssl s_client -connect "127.0.0.1:$PT" -CAfile "$W/ca.crt" \
	>"$W/s_client.out" 2>&1
sleep 0.3
scrape_to "$aaa_STATS" "$W/aaa.m4"
fail4=$(mval "$W/aaa.m4" 'mara_tls_handshakes_total{use="diameter",result="failed"}')
check "a client without a certificate is refused and counted ($fail2 -> $fail4)" test "$fail4" -gt "$fail2"
check "mara-aaa still serves the TLS peer that is allowed" grep -q 'peer=proxy.test' "$W/aaa.log"

# ---- 5. freeDiameterd as a TLS peer -------------------------------------------------------------------------
FD_EXT=${FD_EXT:-/usr/lib/freeDiameter}
SHIM=${SHIM_SRC:-/work/shared/peers/freediameter/bind_lo.c}
[ -r "$SHIM" ] || SHIM=$SRC/tests/integration/bind_lo.c
if command -v freeDiameterd >/dev/null && [ -r "$FD_EXT/dict_sip.fdx" ] && [ -r "$SHIM" ] &&
	cc -O2 -shared -fPIC -o "$W/bind_lo.so" "$SHIM" -ldl 2>"$W/cc.log"; then
	FDP=$(free_port) || exit 1
	cat >"$W/fd.conf" <<EOF
Identity = "fdtls.test";
Realm = "test";
Port = $FDP;
SecPort = 0;
No_SCTP;
No_IPv6;
TcTimer = 6;
TwTimer = 30;
TLS_Cred = "$W/fd.crt", "$W/fd.key";
TLS_CA = "$W/ca.crt";
LoadExtension = "$FD_EXT/dict_sip.fdx";
ConnectPeer = "aaa.test" { ConnectTo = "127.0.0.1"; Port = $PT; No_SCTP; };
EOF
	LD_PRELOAD="$W/bind_lo.so" freeDiameterd -c "$W/fd.conf" >"$W/fd.log" 2>&1 &
	FD_PID=$!
	PIDS+=("$FD_PID")
	if wait_for "$W/fd.log" "'STATE_WAITCEA'.*'STATE_OPEN'.*'aaa.test'" 15; then
		ok "freeDiameterd: STATE_OPEN with aaa.test over TLS"
	else
		nok "freeDiameterd did not open with aaa.test over TLS"; tail -n 30 "$W/fd.log"
	fi
	check "mara-aaa: peer open with fdtls.test" wait_for "$W/aaa.log" 'peer open.*peer=fdtls.test' 5
	scrape_to "$aaa_STATS" "$W/aaa.m5"
	hs5=$(mval "$W/aaa.m5" 'mara_tls_handshakes_total{use="diameter",result="ok"}')
	check "freeDiameter's handshake counted ($hs_ok -> $hs5)" test "$hs5" -gt "$hs_ok"
	kill "$FD_PID"
else
	echo "# freeDiameterd, dict_sip or the bind_lo shim not available: part 5 skipped"
fi

# ---- 5b. mara-aaa as the TLS client: a second mara-aaa connects to the first one's TLS port ----------
PA2=$(free_port) || exit 1
start_aaa aaa2 "$PA2" "peers = ( { host = \"aaa.test\"; address = \"127.0.0.1:$PT\"; connect = true; tls = true; } );
  tls = { cert = \"$W/aaa2.crt\"; key = \"$W/aaa2.key\"; ca = \"$W/ca.crt\"; };" || exit 1
AAA2_PID=$LAST_PID
check "mara-aaa connects to a peer over TLS (peers { connect = true; tls = true; })" \
	wait_for "$W/aaa2.log" 'peer open.*peer=aaa.test.*role=initiator' 10
check "... and the other side sees aaa2.test" wait_for "$W/aaa.log" 'peer open.*peer=aaa2.test.*role=responder' 5
check "mara-aaa (TLS client) exits 0 on SIGTERM" stop_ok "$AAA2_PID"

# ---- 6. SIP over TLS ------------------------------------------------------------------------------------------
check "mara-proxy logs its SIP TLS listener" grep -q "SIP over TLS.*listen=127.0.0.1:$PST" "$W/proxy.log"
printf 'INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKtls1\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: tls-1@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:5999;transport=tls>\r\nContent-Length: 0\r\n\r\n' >"$W/invite.txt"
(cat "$W/invite.txt"; sleep 2) | timeout 5 openssl s_client -connect "127.0.0.1:$PST" \
	-CAfile "$W/ca.crt" -servername sip.test -quiet >"$W/sip_tls.out" 2>"$W/sip_tls.err"
check "INVITE over TLS: 407 Proxy Authentication Required came back over TLS" \
	grep -q '^SIP/2.0 407' "$W/sip_tls.out"
check "the 407 carries a digest challenge" grep -qi '^Proxy-Authenticate: Digest' "$W/sip_tls.out"
# the whole Figure 4 call with the UA on TLS (SIPp in Debian has no TLS: a small python3 UA)
if command -v python3 >/dev/null; then
	sipp_uas uas6 uas_200.xml "$PU" -timeout 30s -m 1
	UAS6=$LAST_PID
	if timeout 20 python3 "$SRC/tests/integration/sip_tls_call.py" 127.0.0.1 "$PST" "$W/ca.crt" \
		proxy.test >"$W/tls_call.out" 2>&1; then
		ok "Figure 4 over SIP/TLS: INVITE/407/ACK/INVITE+auth/200/ACK/BYE/200 ($(grep -c '^SIP/2.0' "$W/tls_call.out") responses)"
	else
		nok "Figure 4 over SIP/TLS"; cat "$W/tls_call.out"; grep -a -A30 "Messages" "$W/uas6.screen" | head -30
	fi
	check_uas_calls "$UAS6" "$W/uas6.screen" 1
	check "the SIP TLS listener negotiated TLS 1.3 with the one configured suite" \
		grep -q '^tls TLSv1.3 TLS_AES_256_GCM_SHA384' "$W/tls_call.out"
else
	echo "# python3 missing: the full call over SIP/TLS skipped"
fi
echo | timeout 5 openssl s_client -connect "127.0.0.1:$PST" -CAfile "$W/ca.crt" -tls1_2 \
	>"$W/tls12.out" 2>&1
echo | timeout 5 openssl s_client -connect "127.0.0.1:$PST" -CAfile "$W/ca.crt" -tls1_3 \
	-ciphersuites TLS_AES_128_GCM_SHA256 >"$W/aes128.out" 2>&1
check "min_version = TLSv1.3: a TLS 1.2 client is refused" grep -q 'TLS handshake failed.*reason=.*unsupported protocol' "$W/proxy.log"
check "ciphersuites: a client offering only another suite is refused" grep -q 'TLS handshake failed.*reason=.*no shared cipher' "$W/proxy.log"
scrape_to "$proxy_STATS" "$W/proxy.m6"
s_ok=$(mval "$W/proxy.m6" 'mara_tls_handshakes_total{use="sip",result="ok"}')
check "the SIP TLS handshakes are counted ($s_ok)" test "$s_ok" -ge 2
s_bad=$(mval "$W/proxy.m6" 'mara_tls_handshakes_total{use="sip",result="failed"}')
check "the refused SIP TLS handshakes are counted ($s_bad)" test "$s_bad" -ge 2

# ---- 7. the silent connection -----------------------------------------------------------------------
check "a connection without handshake is closed after the capabilities exchange deadline" \
	wait_for "$W/aaa.log" 'capabilities exchange timed out, closing.*state=wait-cer' 15
check "... not before 10 s ($((SECONDS - IDLE_AT)) s)" test $((SECONDS - IDLE_AT)) -ge 9
exec 4<&-
scrape_to "$aaa_STATS" "$W/aaa.m7"
ct=$(mval "$W/aaa.m7" 'mara_diameter_peer_events_total{event="capabilities_timeout"}')
check "capabilities exchange timeouts counted ($ct)" test "$ct" -ge 1

check "mara-proxy exits 0 on SIGTERM" stop_ok "$P1"
check "mara-aaa exits 0 on SIGTERM" stop_ok "$AAA_PID"

if [ "$FAIL" -ne 0 ]; then
	echo "--- logs"; tail -n 30 "$W/proxy.log" "$W/aaa.log"
	exit 1
fi
exit 0

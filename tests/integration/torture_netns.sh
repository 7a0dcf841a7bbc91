#!/bin/bash
# SPDX-License-Identifier: MIT
# torture_netns.sh - foreign input to a running mara-proxy: the 49 RFC 4475 torture messages
# (tests/vectors/rfc4475/*.dat, spec/sip-digest.md §7), then randomly mutated copies of the valid
# ones, each as one UDP datagram, inside a private network namespace that has only loopback.
#
# Why a namespace: the proxy answers a request at the packet's source IP but at the top Via's
# sent-by port (5060 when none, RFC 3261 §18.2.2; the source port only with rport), and most
# vectors name no port. In a namespace of our own, 5060 and 5050 (quotbal) are ours to bind, the
# proxy listens elsewhere, and nothing that leaves the proxy can reach a real network.
#
#   1. each vector: tests/udp_probe sends it from an ephemeral port and listens there and on 5060
#      and 5050 for up to PROBE_MS (500) for an answer carrying the vector's Call-ID:
#        valid requests      -> no parse error: 407 challenge (through mara-aaa), 416 (unkscm,
#                               novelsc), 420 + Unsupported (bext01), 483 (zeromf), 404 (wsinv:
#                               in-dialog, R-URI host is a name and there is no DNS)
#        valid responses     -> not ours (one Via, or bcast's): dropped, nothing forwarded
#        invalid requests    -> 400 (505 for badvers) where the parser got a Via and a Call-ID
#                               to answer with; dropped otherwise (badinv01, insuf)
#        invalid responses   -> dropped (scalarlg, bigcode)
#      longreq (34 Via values) is valid: it must not hit a fixed limit (SIP_MAX_VIA, sip.h).
#   2. mara-proxy still runs; SIGTERM: exit 0, and its totals match the table exactly
#      (requests, responses, parse_errors, challenges = mar = mara-aaa's mar, nothing forwarded,
#      no 500, left_pending=0); dblreq's trailing INVITE was not taken as a request.
#   3. a fresh mara-proxy gets TORTURE_MUTANTS (2000) mutants of the valid vectors (udp_probe -m:
#      bit flips, random/special bytes, truncation, deleted/duplicated/inserted spans, overlong
#      numbers, lost line ends; seed TORTURE_SEED, printed). After each mutant a ping (OPTIONS,
#      Max-Forwards 0) must come back 483: a stall names the exact mutant (saved, hex-dumped).
#      Then: still running, exit 0 on SIGTERM, left_pending=0, every MAR answered once
#      (mar = challenges + authorized + refused + err_500 + no_peer_503, and mara-aaa counted
#      all MARs of both proxies), mara-aaa alive and exits 0.
# Env: MARA_BUILD, MARA_SRC; PROBE_MS, TORTURE_MUTANTS, TORTURE_SEED.
# Exit: 0 pass, 1 fail, 77 skip (no unshare/ip, or namespaces not permitted).
set -u

if [ -z "${MARA_TORTURE_NETNS:-}" ]; then
	for p in unshare ip; do
		command -v "$p" >/dev/null || { echo "skip: $p not installed"; exit 77; }
	done
	unshare -n true 2>/dev/null || { echo "skip: unshare -n not permitted here"; exit 77; }
	MARA_TORTURE_NETNS=1 exec unshare -n -- "$0" "$@"
fi
# inside the namespace: only lo, down until we raise it
ip link set lo up || { echo "not ok - ip link set lo up in the namespace"; exit 1; }

. "$(dirname "$0")/lib.sh"
PROBE=$BUILD/tests/udp_probe
VEC=$SRC/tests/vectors/rfc4475
PROBE_MS=${PROBE_MS:-500}
MUTANTS=${TORTURE_MUTANTS:-2000}
SEED=${TORTURE_SEED:-$(((RANDOM << 15 | RANDOM) + 1))}
for f in "$PROXY" "$AAA" "$PROBE"; do
	[ -x "$f" ] || { echo "not ok - $f not built"; exit 1; }
done
echo "# network namespace: $(ip -o link show | awk -F': ' '{printf "%s ", $2}')"

# ---- mara-aaa and mara-proxy --------------------------------------------------------------------
PA=$(free_port) || exit 1
start_aaa aaa "$PA" || exit 1
AAA_PID=$LAST_PID
PS=$(free_port) || exit 1
PCLOSED=$(free_port) || exit 1 # nothing listens there: where "*" routes

# torture_proxy NAME -> PROXY_PID: mara-proxy (UDP only, "*" routed to a closed port), ready
# and its peer open (else the test ends here, its log shown); log $W/NAME.log
torture_proxy() {
	start_proxy_open "$1" tcp=false route="* 127.0.0.1:$PCLOSED" allow='[ "127.0.0.0/8" ]' \
		diameter_timeout_ms=2000 || {
		dump "$W/$1.log" "$W/aaa.log"
		exit 1
	}
	PROXY_PID=$LAST_PID
}

# ---- 1. the 49 vectors ---------------------------------------------------------------------------
# name | class | expected first line (NONE = no answer) | RFC 4475 section
#   vreq: valid request; vrsp: valid response; ireq: invalid request; irsp: invalid response
cat >"$W/table" <<'EOF'
wsinv|vreq|SIP/2.0 404|3.1.1.1
intmeth|vreq|SIP/2.0 407|3.1.1.2
esc01|vreq|SIP/2.0 407|3.1.1.3
escnull|vreq|SIP/2.0 407|3.1.1.4
esc02|vreq|SIP/2.0 407|3.1.1.5
lwsdisp|vreq|SIP/2.0 407|3.1.1.6
longreq|vreq|SIP/2.0 407|3.1.1.7
dblreq|vreq|SIP/2.0 407|3.1.1.8
semiuri|vreq|SIP/2.0 407|3.1.1.9
transports|vreq|SIP/2.0 407|3.1.1.10
mpart01|vreq|SIP/2.0 407|3.1.1.11
unreason|vrsp|NONE|3.1.1.12
noreason|vrsp|NONE|3.1.1.13
badinv01|ireq|NONE|3.1.2.1
clerr|ireq|SIP/2.0 400|3.1.2.2
ncl|ireq|SIP/2.0 400|3.1.2.3
scalar02|ireq|SIP/2.0 400|3.1.2.4
scalarlg|irsp|NONE|3.1.2.5
quotbal|ireq|SIP/2.0 400|3.1.2.6
ltgtruri|ireq|SIP/2.0 400|3.1.2.7
lwsruri|ireq|SIP/2.0 400|3.1.2.8
lwsstart|ireq|SIP/2.0 400|3.1.2.9
trws|ireq|SIP/2.0 400|3.1.2.10
escruri|vreq|SIP/2.0 407|3.1.2.11
baddate|vreq|SIP/2.0 407|3.1.2.12
regbadct|vreq|SIP/2.0 407|3.1.2.13
badaspec|ireq|SIP/2.0 400|3.1.2.14
baddn|ireq|SIP/2.0 400|3.1.2.15
badvers|ireq|SIP/2.0 505|3.1.2.16
mismatch01|ireq|SIP/2.0 400|3.1.2.17
mismatch02|ireq|SIP/2.0 400|3.1.2.18
bigcode|irsp|NONE|3.1.2.19
badbranch|vreq|SIP/2.0 407|3.2.1
insuf|ireq|NONE|3.3.1
unkscm|vreq|SIP/2.0 416|3.3.2
novelsc|vreq|SIP/2.0 416|3.3.3
unksm2|vreq|SIP/2.0 407|3.3.4
bext01|vreq|SIP/2.0 420|3.3.5
invut|vreq|SIP/2.0 407|3.3.6
regaut01|vreq|SIP/2.0 407|3.3.7
multi01|ireq|SIP/2.0 400|3.3.8
mcl01|ireq|SIP/2.0 400|3.3.9
bcast|vrsp|NONE|3.3.10
zeromf|vreq|SIP/2.0 483|3.3.11
cparam01|vreq|SIP/2.0 407|3.3.12
cparam02|vreq|SIP/2.0 407|3.3.13
regescrt|vreq|SIP/2.0 407|3.3.14
sdp01|vreq|SIP/2.0 407|3.3.15
inv2543|vreq|SIP/2.0 407|3.4.1
EOF
nfiles=$(find "$VEC" -name '*.dat' | wc -l)
check "49 vectors in $VEC, each with a row in the table" \
	test "$nfiles" -eq 49 -a "$(wc -l <"$W/table")" -eq 49 -a \
	"$(cut -d'|' -f1 "$W/table" | sort | tr '\n' ' ')" = \
	"$(cd "$VEC" && ls ./*.dat | sed 's|^\./||; s|\.dat$||' | sort | tr '\n' ' ')"

torture_proxy proxy
PROXY1=$PROXY_PID
mkdir -p "$W/ans"
# expected totals, from the classes
e_req=0 e_rsp=0 e_perr=0 e_chal=0
while IFS='|' read -r name class want sec; do
	got=$("$PROBE" -v -t "$PROBE_MS" -l 5060 -l 5050 127.0.0.1 "$PS" "$VEC/$name.dat" \
		2>"$W/ans/$name")
	if ! kill -0 "$PROXY1" 2>/dev/null; then
		nok "$name ($sec): mara-proxy died on this vector"
		od -A d -c "$VEC/$name.dat" | head -n 40 | sed 's/^/# /'
		dump "$W/proxy.log"
		exit 1
	fi
	case $class in
	vreq)
		e_req=$((e_req + 1))
		[ "${want#SIP/2.0 }" = 407 ] && e_chal=$((e_chal + 1))
		what="valid request, answered ${want#SIP/2.0 }"
		;;
	vrsp) e_rsp=$((e_rsp + 1)); what="valid response, not ours: dropped" ;;
	ireq)
		e_perr=$((e_perr + 1))
		if [ "$want" = NONE ]; then
			what="invalid request, no Via/Call-ID to answer with: dropped"
		else
			what="invalid request, answered ${want#SIP/2.0 }"
		fi
		;;
	irsp) e_perr=$((e_perr + 1)); what="invalid response: dropped" ;;
	esac
	if [ "$want" = NONE ]; then
		check "$name ($sec): $what" test "$got" = NONE
	else
		check "$name ($sec): $what: '$got'" test "${got#"$want"}" != "$got"
	fi
done <"$W/table"

# what the answers carry
ans_has() { grep -aq "$2" "$W/ans/$1"; }
n407=0 nbad=0
for f in "$W"/ans/*; do
	head -1 "$f" | grep -q '^SIP/2.0 407' || continue
	n407=$((n407 + 1))
	grep -aq '^Proxy-Authenticate: Digest realm="example.com", nonce="[0-9a-f]*".*qop="auth"' "$f" ||
		nbad=$((nbad + 1))
done
check "all $n407 answers 407 carry a Digest challenge for realm example.com with qop=\"auth\"" \
	test "$n407" -eq "$e_chal" -a "$nbad" -eq 0
check "bext01: 420 carries Unsupported: noProxiesSupportThis, norDoAnyProxiesSupportThis" \
	ans_has bext01 '^Unsupported: noProxiesSupportThis, norDoAnyProxiesSupportThis'
# (udp_probe only takes an answer that carries the vector's Call-ID)
notag=0
for f in "$W"/ans/*; do
	case $f in */wsinv) continue ;; esac
	head -1 "$f" | grep -q '^SIP/2.0' || continue
	grep -aq '^To:.*;tag=' "$f" || notag=$((notag + 1))
done
check "every answer has a To-tag (wsinv keeps its own, folded: tag    = 1918181833n)" \
	test "$notag" -eq 0 -a "$(grep -ac '^ sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n' \
	"$W/ans/wsinv")" -eq 1
check "the 400 to clerr keeps the vector's Via with received=127.0.0.1" \
	ans_has clerr '^Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523;received=127.0.0.1'

check "mara-proxy still running after the 49 vectors" kill -0 "$PROXY1"
check "mara-proxy exits 0 on SIGTERM" stop_ok "$PROXY1"
L=$W/proxy.log
check_totals mara-proxy "$L" "requests=$e_req" "responses=$e_rsp" "parse_errors=$e_perr" \
	"challenges=$e_chal" "mar=$e_chal" fwd_requests=0 fwd_responses=0 err_500=0 refused=0 \
	authorized=0 no_peer_503=0 left_pending=0
# dblreq: one REGISTER counted, its trailing INVITE bytes ignored (requests= above is exact)
grep 'msg="totals"' "$L" | sed 's/^/# /'
M1=$(total mar "$L")

# ---- 3. mutants ------------------------------------------------------------------------------------
torture_proxy proxy2
PROXY2=$PROXY_PID
mkdir -p "$W/mut"
files=()
while IFS='|' read -r name class _; do
	case $class in vreq | vrsp) files+=("$VEC/$name.dat") ;; esac
done <"$W/table"
echo "# $MUTANTS mutants of ${#files[@]} valid vectors, seed $SEED (TORTURE_SEED=$SEED to replay)"
t0=$SECONDS
out=$(timeout 120 "$PROBE" -m "$MUTANTS" -s "$SEED" -t 1000 -o "$W/mut" 127.0.0.1 "$PS" \
	"${files[@]}" 2>&1)
rc=$?
echo "# $out ($((SECONDS - t0)) s)"
if [ $rc -ne 0 ]; then
	nok "mutants: the proxy stopped answering (udp_probe rc=$rc): $out"
	alive=no
	kill -0 "$PROXY2" 2>/dev/null && alive=yes
	echo "# mara-proxy alive: $alive"
	if [ -f "$W/mut/stall.bin" ]; then
		keep=${TMPDIR:-/tmp}/mara-torture-stall-$SEED.bin
		cp "$W/mut/stall.bin" "$keep"
		echo "# the mutant it stopped on (kept as $keep):"
		od -A d -c "$W/mut/stall.bin" | head -n 60 | sed 's/^/# /'
	fi
	dump "$W/proxy2.log" "$W/aaa.log"
	exit 1
fi
ok "$MUTANTS mutants: a ping answered 483 after every one"
check "mara-proxy still running after the mutants" kill -0 "$PROXY2"
check "mara-proxy exits 0 on SIGTERM after the mutants" stop_ok "$PROXY2"
L=$W/proxy2.log
grep 'msg="totals"' "$L" | sed 's/^/# /'
v=$(total left_pending "$L")
check "mutants: left_pending=0 (got ${v:-?})" test "${v:-x}" = 0
req=$(total requests "$L") rsp=$(total responses "$L") perr=$(total parse_errors "$L")
check "mutants: requests (${req:-?}) >= the $MUTANTS pings, parse_errors (${perr:-?}) > 0" \
	test "${req:-0}" -ge "$MUTANTS" -a "${perr:-0}" -gt 0
pings=$(echo "$out" | grep -o 'pings=[0-9]*' | cut -d= -f2)
check "mutants: requests + responses + parse_errors <= the $MUTANTS mutants + ${pings:-?} pings" \
	test $((${req:-0} + ${rsp:-0} + ${perr:-0})) -le $((MUTANTS + ${pings:-0}))
m=$(total mar "$L")
s=$(($(total challenges "$L") + $(total authorized "$L") + $(total refused "$L") + \
	$(total err_500 "$L") + $(total no_peer_503 "$L")))
check "mutants: every MAR got one outcome (mar=${m:-?}, outcomes=$s)" test "${m:-x}" = "$s"

check "no sanitizer report in the logs" \
	test "$(grep -lE 'runtime error|Sanitizer' "$W/proxy.log" "$W/proxy2.log" "$W/aaa.log" |
		wc -l)" -eq 0
check "mara-aaa still running" kill -0 "$AAA_PID"
check "mara-aaa exits 0 on SIGTERM" stop_ok "$AAA_PID"
v=$(total mar "$W/aaa.log")
check "mara-aaa answered every MAR of both proxies (${v:-?} = $M1 + ${m:-?})" \
	test "${v:-x}" = $((M1 + ${m:-0}))

if [ "$FAIL" -ne 0 ]; then
	dump "$W/proxy.log" "$W/proxy2.log" "$W/aaa.log"
	exit 1
fi
exit 0

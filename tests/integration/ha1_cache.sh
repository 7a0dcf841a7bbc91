#!/bin/bash
# SPDX-License-Identifier: MIT
# ha1_cache.sh - RFC 4740 §6.3 local re-authentication (proxy.ha1_cache) end to end: mara-aaa
# with return_ha1 = true and a 5 s nonce lifetime, two mara-proxy (2 shards each), one with the
# HA1 cache (max_age_s 3), one without.
#   1. mara-bench --flow message-burst (a 407, then --burst 20 MESSAGEs on nc 1..20) against
#      both: from /metrics, cache on = 2 MARs per UA (the challenge, nc=1) for 21 requests and
#      19 validated locally; cache off = one MAR per request
#   2. ha1_ua.py (a UA and a UAS in Python): Proxy-Authentication-Info with the right rspauth;
#      a replayed nc (new transaction, other address, other proxy) refused: 407 stale from the
#      MAR (mara-aaa refuses every later MAR on a nonce it handed over); a wrong
#      response refused; an expired nonce refused (407 stale); a user removed from mara-aaa
#      (SIGHUP) still served until max_age_s, then refused (403)
# Every process is stopped by PID at exit; every run is bounded (timeout, --calls).
set -u
. "$(dirname "$0")/lib.sh"
BENCH=$BUILD/mara-bench
[ -x "$BENCH" ] || { echo "not ok - $BENCH not built"; exit 1; }
command -v python3 >/dev/null || { echo "skip: python3 not installed"; exit 77; }
MAX_AGE=3
LIFE=5

# the demo users plus carol (carol-secret), in a file this test may change
cp "$SRC/deploy/demo/users" "$W/users"
echo "carol:example.com:$(printf 'carol:example.com:carol-secret' | md5sum | cut -d' ' -f1)" \
	>>"$W/users"
PA=$(free_port) || exit 1
start_aaa aaa "$PA" "users = \"$W/users\"; realm = \"example.com\"; return_ha1 = true;
  nonce_lifetime_s = $LIFE;" || exit 1
AAA_PID=$LAST_PID
PU=$(free_port) || exit 1

# proxy NAME PORT STATS_PORT [KEY=VALUE...] -> NAME_PID (upper case): a mara-proxy (origin
# NAME.test) on PORT, peer open
proxy() {
	local name=$1 port=$2 sport=$3
	shift 3
	start_proxy_open "$name" listen="127.0.0.1:$port" origin_host="$name.test" \
		stats_listen="127.0.0.1:$sport" "$@" || return 1
	eval "${name^^}_PID=$LAST_PID"
}
free_ports PON SON POFF SOFF
proxy on "$PON" "$SON" ha1_cache="{ enabled = true; max_uses = 1000; max_age_s = $MAX_AGE;
  methods = [ \"MESSAGE\" ]; entries = 4096; }" || exit 1
proxy off "$POFF" "$SOFF" || exit 1


# burst NAME PORT STATS: 40 UAs x (1 + 20) MESSAGEs; sets MARS, REQS, LOCAL (deltas)
CALLS=40
N=20
burst() {
	local name=$1 port=$2 sport=$3
	scrape_to "$sport" "$W/$name.0" || return 1
	timeout 60 "$BENCH" --json --flow message-burst --burst $N --target "127.0.0.1:$port" \
		--uas "127.0.0.1:$PU" --calls $CALLS --concurrency 10 >"$W/$name.json" \
		2>"$W/$name.err" || { cat "$W/$name.json" "$W/$name.err"; return 1; }
	scrape_to "$sport" "$W/$name.1" || return 1
	MARS=$(($(mval "$W/$name.1" mara_diameter_mar_sent_total) -
		$(mval "$W/$name.0" mara_diameter_mar_sent_total)))
	REQS=$(($(mval "$W/$name.1" 'mara_sip_requests_received_total{method="MESSAGE"}') -
		$(mval "$W/$name.0" 'mara_sip_requests_received_total{method="MESSAGE"}')))
	LOCAL=$(($(mval "$W/$name.1" 'mara_auth_local_total{result="validated"}') -
		$(mval "$W/$name.0" 'mara_auth_local_total{result="validated"}')))
	echo "# $name: $REQS MESSAGEs, $MARS MARs, $LOCAL validated locally"
}

# ---- 1. message-burst, cache on and off ------------------------------------------------------------
burst on "$PON" "$SON"
check "cache on: message-burst completes, 0 failures" \
	test "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["completed"], d["failed"])' "$W/on.json")" = "$CALLS 0"
check "cache on: $((CALLS * (N + 1))) MESSAGEs, 2 MARs per UA (challenge, nc=1) = $((2 * CALLS)), $((CALLS * (N - 1))) validated locally" \
	test "$REQS/$MARS/$LOCAL" = "$((CALLS * (N + 1)))/$((2 * CALLS))/$((CALLS * (N - 1)))"
burst off "$POFF" "$SOFF"
check "cache off: message-burst completes, 0 failures" \
	test "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["completed"], d["failed"])' "$W/off.json")" = "$CALLS 0"
check "cache off: one MAR per MESSAGE ($((CALLS * (N + 1)))), none validated locally" \
	test "$REQS/$MARS/$LOCAL" = "$((CALLS * (N + 1)))/$((CALLS * (N + 1)))/0"

# ---- 2. replay, expired nonce, removed user ----------------------------------------------------
timeout 40 python3 "$SRC/tests/integration/ha1_ua.py" "$PON" "$PU" "$SON" "$AAA_PID" \
	"$W/aaa.log" "$W/users" "$MAX_AGE" "$LIFE" "$POFF"
rc=$?
check "ha1_ua.py: replay, wrong response, expired nonce, removed user (see above)" test $rc -eq 0
stop_all() { stop_ok "$ON_PID" && stop_ok "$OFF_PID" && stop_ok "$AAA_PID"; }
check "both proxies and mara-aaa stop cleanly (SIGTERM, exit 0)" stop_all
check "no sanitizer report in the logs" \
	test "$(grep -lE 'runtime error|Sanitizer' "$W/on.log" "$W/off.log" "$W/aaa.log" | wc -l)" -eq 0
[ $FAIL -eq 0 ] || tail -n 5 "$W/on.log" "$W/aaa.log"
exit $FAIL

#!/bin/bash
# SPDX-License-Identifier: MIT
# bench.sh - mara-bench end to end, functional assertions only (no timing): mara-aaa and
# mara-proxy (2 shards, route "*" to mara-bench's built-in UAS) on loopback, then
#   1. --help / --version
#   2. 2,000 invite flows at 500/s on 2 threads: 0 failures, JSON parses, completed == 2000
#   3. register and message flows (and a short message-burst) likewise
#   4. the mar flow straight at mara-aaa: 10,000 flows = 20,000 MARs, 0 failures; and in
#      freeDiameter app_sip's flavour (--method REGISTER --server-uri --empty-authz, as
#      bench/appsip/run.sh drives both servers): every MAR answered as expected (mars_ok)
#   5. a wrong --password: 403 failures and a non-zero exit status
#   6. noauth against a proxy that does not challenge INVITE: 0 failures
# Every process is stopped by PID at exit; every mara-bench run is bounded (timeout, --calls).
set -u
. "$(dirname "$0")/lib.sh"
BENCH=$BUILD/mara-bench
[ -x "$BENCH" ] || { echo "not ok - $BENCH not built"; exit 1; }

# ---- 1. --help / --version -----------------------------------------------------------------------
check "--help prints the usage" sh -c "'$BENCH' --help | grep -q -- '--flow'"
check "--version prints the version" sh -c "'$BENCH' --version | grep -q '^mara-bench [0-9]'"
"$BENCH" --flow nope --target 127.0.0.1:1 --calls 1 --rate 1 2>/dev/null
check "a bad --flow is a usage error (exit 2)" test $? -eq 2

PA=$(free_port) || exit 1
start_aaa aaa "$PA" || exit 1
free_ports PS PU PS2

# proxy NAME PORT [KEY=VALUE...] -> NAME_PID: a mara-proxy (origin NAME.test) on PORT, peer open
proxy() {
	local name=$1 port=$2
	shift 2
	start_proxy_open "$name" listen="127.0.0.1:$port" origin_host="$name.test" diameter_timeout_ms=2000 \
		"$@" || return 1
	eval "${name}_PID=$LAST_PID"
}
proxy proxy "$PS" || exit 1

# bench NAME [flags]: runs mara-bench with --json into $W/NAME.json; its exit status
bench() {
	local name=$1
	shift
	timeout 120 "$BENCH" --json "$@" >"$W/$name.json" 2>"$W/$name.err"
}

# jget NAME EXPR: a value of the JSON report (python3 is a test dependency)
jget() {
	python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$W/$1.json"
}

# flow_ok NAME CALLS: exit 0, JSON parses, completed == CALLS, failed == 0
flow_ok() {
	local name=$1 calls=$2 rc=$3
	[ "$rc" -eq 0 ] || { echo "# exit $rc"; cat "$W/$name.json" "$W/$name.err"; return 1; }
	[ "$(jget "$name" 'd["completed"]')" = "$calls" ] &&
		[ "$(jget "$name" 'd["failed"]')" = 0 ] || { cat "$W/$name.json"; return 1; }
}

# ---- 2. invite -----------------------------------------------------------------------------------
bench invite --flow invite --target "127.0.0.1:$PS" --uas "127.0.0.1:$PU" \
	--calls 2000 --rate 500 --threads 2
check "invite: 2000 flows at 500/s on 2 threads, 0 failures, completed == 2000" \
	flow_ok invite 2000 $?
check "invite: latencies recorded (request->407 and auth->2xx, 2000 each)" \
	test "$(jget invite 'd["latency_ms"]["challenge"]["count"], \
		d["latency_ms"]["auth"]["count"]')" = "2000 2000"
check "invite: 13 SIP messages per call counted (>= 26000)" \
	test "$(jget invite 'd["msgs_sent"] + d["msgs_received"]')" -ge 26000

# ---- 3. register, message, message-burst ---------------------------------------------------------
bench register --flow register --target "127.0.0.1:$PS" --uas "127.0.0.1:$PU" \
	--calls 1000 --rate 500 --threads 2
check "register: 1000 flows, 0 failures" flow_ok register 1000 $?
bench message --flow message --target "127.0.0.1:$PS" --uas "127.0.0.1:$PU" \
	--user bob --password bob-secret --calls 1000 --concurrency 50
check "message (bob, closed loop of 50): 1000 flows, 0 failures" flow_ok message 1000 $?
bench burst --flow message-burst --burst 5 --target "127.0.0.1:$PS" --uas "127.0.0.1:$PU" \
	--calls 100 --rate 100
check "message-burst: 100 UAs x 5 MESSAGEs, 0 failures" flow_ok burst 100 $?
check "message-burst: 500 authenticated MESSAGEs answered" \
	test "$(jget burst 'd["latency_ms"]["auth"]["count"]')" = 500

# ---- 4. mar --------------------------------------------------------------------------------------
bench mar --flow mar --target "127.0.0.1:$PA" --calls 10000 --concurrency 200 --threads 2
check "mar: 10000 flows (20000 MARs) against mara-aaa, 0 failures" flow_ok mar 10000 $?
check "mar: at least 20000 MAAs received" test "$(jget mar 'd["mars"]')" -ge 20000
check "mar: every MAA as expected (mars_ok == mars), INVITE" \
	test "$(jget mar 'd["mars_ok"] == d["mars"], d["method"]')" = "True INVITE"
bench appsip --flow mar --target "127.0.0.1:$PA" --method REGISTER \
	--server-uri sip:127.0.0.1:5060 --empty-authz --calls 1000 --concurrency 50 --conns 4
check "mar, app_sip flavour (REGISTER, SIP-Server-URI, empty SIP-Authorization): 1000 flows, 0 failures" \
	flow_ok appsip 1000 $?
check "mar, app_sip flavour: 2000 MARs answered as expected, 1000 x 2008 then 1000 x 2006" \
	test "$(jget appsip 'd["mars_ok"], d["method"], sorted(d["mar_codes"].items())')" \
	= "2000 REGISTER [('2006', 1000), ('2008', 1000)]"
# --empty-authz puts User-Name in MAR #1, so mara-aaa refuses an unknown user at once (5032)
# instead of challenging (without it the flow fails only at MAR #2: twice the MARs)
bench emptyauthz --flow mar --target "127.0.0.1:$PA" --method REGISTER --empty-authz \
	--user nobody --calls 20 --concurrency 5 --max-fail 100%
check "mar --empty-authz, unknown user: 20 flows refused on MAR #1 (20 MARs, 5032, 0 expected)" \
	test "$(jget emptyauthz 'd["mars"], d["mars_ok"], d["mar_codes"]')" = "20 0 {'5032': 20}"
"$BENCH" --flow register --target 127.0.0.1:1 --method REGISTER --calls 1 --rate 1 2>/dev/null
check "--method on a SIP flow is a usage error (exit 2)" test $? -eq 2

# ---- 5. wrong password ---------------------------------------------------------------------------
bench wrong --flow invite --target "127.0.0.1:$PS" --uas "127.0.0.1:$PU" \
	--password wrong-password --calls 20 --rate 50
rc=$?
check "wrong password: non-zero exit (1)" test "$rc" -eq 1
check "wrong password: 20 failures, all 403" \
	test "$(jget wrong 'd["failed"], d["failures"]["status_403"], d["statuses"].get("403")')" \
	= "20 20 20"
bench wrongmar --flow mar --target "127.0.0.1:$PA" --password wrong-password --calls 20 \
	--concurrency 5 --max-fail 100%
rc=$?
check "wrong password (mar): 4001 counted, --max-fail 100% passes" \
	test "$rc/$(jget wrongmar 'd["statuses"].get("4001")')" = "0/20"
check "wrong password (mar): 40 MAAs, only the 20 challenges as expected" \
	test "$(jget wrongmar 'd["mars"], d["mars_ok"]')" = "40 20"

# ---- 6. noauth -----------------------------------------------------------------------------------
proxy noauth "$PS2" auth_methods='[ "OPTIONS" ]' || exit 1
bench noauth --flow noauth --target "127.0.0.1:$PS2" --uas "127.0.0.1:$PU" \
	--calls 500 --rate 250
check "noauth (proxy not challenging INVITE): 500 flows, 0 failures" flow_ok noauth 500 $?

check "mara-proxy exits 0 on SIGTERM" stop_ok "$proxy_PID"
check "mara-proxy (noauth) exits 0 on SIGTERM" stop_ok "$noauth_PID"
if [ "$FAIL" -ne 0 ]; then
	echo "--- logs"; tail -n 20 "$W/proxy.log" "$W/aaa.log"
	exit 1
fi
exit 0

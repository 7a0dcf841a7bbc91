#!/bin/bash
# SPDX-License-Identifier: MIT
# lib.sh - helpers sourced by the integration scripts: PID bookkeeping and cleanup, mara-aaa and
# mara-proxy configs and start/stop, /metrics, logs; free ports and bounded waits (util.sh). Every
# wait has a limit; every process started is killed by PID at exit; the work dir is removed.
. "$(dirname "${BASH_SOURCE[0]}")/util.sh" # free_port, wait_for, wait_listening, CPU ticks, hex_secret
BUILD=${MARA_BUILD:-$(cd "$(dirname "$0")/../../build" && pwd)}
SRC=${MARA_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
AAA=$BUILD/mara-aaa
PROXY=$BUILD/mara-proxy
CLIENT=$BUILD/tests/dia_client
SCN=$SRC/tests/sipp
W=$(mktemp -d /tmp/mara-test.XXXX)
PIDS=()
FAIL=0

# Under the sanitizer build (tests/run-all.sh: ASAN_OPTIONS exitcode=23, UBSAN_OPTIONS
# exitcode=24) a daemon that leaks reports it when main() returns after SIGTERM: its status is 23
# and the report is in its log. Either fails the test, whatever it asserted before.
sanitizer_check() {
	if [ "$2" = 23 ] || [ "$2" = 24 ]; then
		echo "not ok - pid $1 exited with status $2: a sanitizer report (leak or UB), see its log"
		SAN_FAIL=1
	fi
}

cleanup() {
	local p rc f
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
		rc=$?
		sanitizer_check "$p" "$rc"
	done
	for f in $(grep -rlIE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$W" 2>/dev/null); do
		echo "not ok - sanitizer report in ${f#"$W"/}:"
		grep -aE -A 12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f" | head -n 40
		SAN_FAIL=1
	done
	rm -rf "$W"
	[ "${SAN_FAIL:-0}" = 1 ] && exit 1
}
trap cleanup EXIT

ok() { echo "ok - $*"; }
nok() { echo "not ok - $*"; FAIL=1; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what"; fi; }

command -v ss >/dev/null || { echo "skip: ss not installed"; exit 77; }

# start_aaa NAME PORT [extra config lines] -> sets LAST_PID; log in $W/NAME.log
# (AAA_ALGS, when set, replaces the algorithms list: e.g. AAA_ALGS='"SHA-256"'; AAA_LOG_LEVEL
# the log level; AAA_ORIGIN_REALM the Diameter realm, default test)
start_aaa() {
	local name=$1 port=$2 sport algs='"MD5", "SHA-256", "SHA-512-256"'
	shift 2
	[ -n "${AAA_ALGS:-}" ] && algs=$AAA_ALGS
	sport=$(free_port) || return 1
	eval "${name}_STATS=$sport" # its /metrics port, for scrape_to
	cat >"$W/$name.conf" <<EOF
log = { level = "${AAA_LOG_LEVEL:-info}"; };
aaa = {
  listen = "127.0.0.1:$port";
  origin_host = "$name.test";
  origin_realm = "${AAA_ORIGIN_REALM:-test}";
  threads = 2;
  nonce_secret = "$SECRET";
  algorithms = [ $algs ];
  stats_listen = "127.0.0.1:$sport";
  $*
};
EOF
	run_mara "$name" "$AAA"
}

# free_ports NAME...: a free_port in each variable NAME (none left: the test ends, 1)
free_ports() {
	local _n _p
	for _n in "$@"; do
		_p=$(free_port) || { echo "not ok - no free port for $_n"; exit 1; }
		printf -v "$_n" %s "$_p"
	done
}

# run_mara NAME BINARY -> LAST_PID: BINARY -c $W/NAME.conf in the background, log $W/NAME.log,
# its PID in PIDS; it logs "<binary name> ready" within 5 s (else its log is shown: 1)
run_mara() {
	"$2" -c "$W/$1.conf" >"$W/$1.log" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
	wait_for "$W/$1.log" "${2##*/} ready" 5 || { cat "$W/$1.log"; return 1; }
}

# stop PID LOG: SIGTERM, must exit 0 within 5 s
stop_ok() {
	local pid=$1 rc
	kill -TERM "$pid"
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		return 1
	fi
	wait "$pid"
	rc=$?
	sanitizer_check "$pid" "$rc"
	return $rc
}


# the nonce secret shared by the instances a script starts
SECRET=$(hex_secret)

# scrape_to PORT FILE: the body of GET /metrics (bash's /dev/tcp: no curl needed)
scrape_to() {
	exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
	printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
	tr -d '\r' <&3 | sed '1,/^$/d' >"$2"
	exec 3<&-
	[ -s "$2" ]
}

# metrics PORT [FILE]: scrape_to PORT FILE (default $W/m.txt); FILE is left empty when the
# scrape fails, so that every value then reads 0
metrics() { scrape_to "$1" "${2:-$W/m.txt}" || : >"${2:-$W/m.txt}"; }
# mval [FILE] KEY: the value of the sample KEY (name{labels} as written) in a scraped /metrics
# file (default $W/m.txt, the last `metrics PORT`), 0 when absent; msum [FILE] PREFIX: the sum
# of every sample whose name starts with PREFIX
mval() {
	[ $# = 1 ] && set -- "$W/m.txt" "$1"
	awk -v k="$2" '$1 == k {print $2; f=1} END {if (!f) print 0}' "$1"
}
msum() {
	[ $# = 1 ] && set -- "$W/m.txt" "$1"
	awk -v k="$2" 'index($1, k) == 1 {s += $2} END {print s + 0}' "$1"
}

# check_balance PORT LABEL: from mara-proxy's /metrics on PORT, every request received is
# accounted for by an outcome or parked, nothing is parked and no MAR is in flight (two checks)
check_balance() {
	local rx done parked inflight
	metrics "$1"
	rx=$(msum mara_sip_requests_received_total)
	done=$(msum mara_sip_request_outcomes_total)
	parked=$(mval mara_sip_pending_requests)
	inflight=$(mval mara_diameter_mar_inflight)
	echo "# $2: received=$rx" $(grep '^mara_sip_request_outcomes_total' "$W/m.txt" |
		sed 's/.*outcome="\([a-z_]*\)"} /\1=/')
	check "$2: balance received ($rx) = outcomes ($done) + parked ($parked)" \
		test "$rx" = "$((done + parked))"
	check "$2: nothing parked ($parked), no MAR in flight ($inflight)" \
		test "$parked,$inflight" = "0,0"
}

# total KEY LOG: the value of KEY= on the last msg="totals" line of a mara log
total() { grep 'msg="totals"' "$2" | tail -1 | grep -o " $1=[0-9]*" | cut -d= -f2; }

# check_totals WHO LOG KEY=VALUE...: a check per KEY: on LOG's last totals line KEY= is VALUE
check_totals() {
	local who=$1 log=$2 kv v
	shift 2
	for kv in "$@"; do
		v=$(total "${kv%=*}" "$log")
		check "$who totals: $kv (got ${v:-?})" test "${v:-x}" = "${kv#*=}"
	done
}

# check_uas_calls PID SCREEN CALLS: the SIPp UAS PID ends (up to 10 s: it stops after -m CALLS)
# and SCREEN counts exactly CALLS successful calls (a check)
check_uas_calls() {
	local n
	for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	n=$(sipp_ok "$2")
	check "the UAS saw exactly the $3 calls (${n:-?})" test "${n:-0}" -eq "$3"
}

# sipp_uas NAME SCENARIO PORT [SIPP ARG...] -> LAST_PID: SIPp as a UAS (tests/sipp/SCENARIO) on
# 127.0.0.1:PORT in the background, screen $W/NAME.screen, output $W/NAME.out; 0.3 s to bind
sipp_uas() {
	local name=$1 scen=$2 port=$3
	shift 3
	sipp -sf "$SCN/$scen" -i 127.0.0.1 -p "$port" -nostdin -trace_screen \
		-screen_file "$W/$name.screen" "$@" >"$W/$name.out" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
	sleep 0.3
}

# sipp_uac NAME PORT SECONDS [SIPP ARG...]: SIPp as alice / alice-secret (tests/sipp/uac_auth.xml:
# Figure 4 calls, service "service" at 127.0.0.1:PORT) against the proxy on 127.0.0.1:PORT, ended
# after SECONDS; screen $W/NAME.screen, output $W/NAME.out; SIPp's exit status (0: every call
# succeeded)
sipp_uac() {
	local name=$1 port=$2 secs=$3
	shift 3
	timeout "$secs" sipp -sf "$SCN/uac_auth.xml" "127.0.0.1:$port" -i 127.0.0.1 -nostdin \
		-key rdomain "127.0.0.1:$port" -s service -au alice -ap alice-secret -trace_screen \
		-screen_file "$W/$name.screen" "$@" >"$W/$name.out" 2>&1
}

# sipp_ok SCREEN / sipp_failed SCREEN: the successful / failed calls on a SIPp screen file
sipp_ok() { awk -F'|' '/Successful call/{gsub(/ /,"",$3); print $3; exit}' "$1"; }
sipp_failed() { awk -F'|' '/Failed call/{gsub(/ /,"",$3); print $3; exit}' "$1"; }

# dump FILE...: the last DUMP_LINES (40) lines of each file as comments, less the lines that
# match DUMP_SKIP (a grep pattern) when it is set
dump() {
	local f
	for f in "$@"; do
		echo "# ----- $f"
		if [ -n "${DUMP_SKIP:-}" ]; then grep -v -- "$DUMP_SKIP" "$f"; else cat "$f"; fi 2>/dev/null |
			tail -n "${DUMP_LINES:-40}" | sed 's/^/# /'
	done
}

# proxy_conf FILE [KEY=VALUE]...: a mara-proxy config in FILE with the settings the scripts
# share, in this order:
#   listen = "127.0.0.1:$PS"; threads = 2; realm = "example.com";
#   routes = ( { domain = "*"; address = "127.0.0.1:$PU"; } ); origin_host = "proxy.test";
#   origin_realm = "test"; destination_realm = "example.com";
#   aaa_peers = ( { host = "aaa.test"; address = "127.0.0.1:$PA"; } ); stats_listen = "" (off)
# each KEY=VALUE replacing the setting KEY, or added after them in the order given (so $PS, $PU
# or $PA need to be set only where their setting is not replaced). VALUE is written as it is
# when it is a number, true, false or begins with ( [ { or ", else quoted: listen=127.0.0.1:$P,
# routes='( ... )', auth_methods='[ "OPTIONS" ]'. Shorthands, each repeatable:
#   route='DOMAIN ADDRESS [TRANSPORT]' -> routes, in the order given
#   peer='HOST ADDRESS' -> aaa_peers, in the order given
# conf_list ITEM...: "( ITEM, ITEM )", a libconfig list
conf_list() {
	local out="" x
	for x in "$@"; do out+="${out:+, }$x"; done
	echo "( $out )"
}
proxy_conf() {
	local file=$1 arg k v a b c keys extra=() routes=() peers=()
	local -A set=()
	shift
	keys=(listen threads realm routes origin_host origin_realm destination_realm aaa_peers
		stats_listen)
	for arg in "$@"; do
		k=${arg%%=*} v=${arg#*=}
		case $k in
		route)
			read -r a b c <<<"$v"
			routes+=("{ domain = \"$a\"; address = \"$b\";${c:+ transport = \"$c\";} }")
			continue ;;
		peer)
			read -r a b <<<"$v"
			peers+=("{ host = \"$a\"; address = \"$b\"; }")
			continue ;;
		esac
		[[ " ${keys[*]} ${extra[*]} " == *" $k "* ]] || extra+=("$k")
		set[$k]=$v
	done
	[ ${#routes[@]} -gt 0 ] && set[routes]=$(conf_list "${routes[@]}")
	[ ${#peers[@]} -gt 0 ] && set[aaa_peers]=$(conf_list "${peers[@]}")
	[ -n "${set[listen]+x}" ] || set[listen]=127.0.0.1:$PS
	[ -n "${set[threads]+x}" ] || set[threads]=2
	[ -n "${set[realm]+x}" ] || set[realm]=example.com
	[ -n "${set[routes]+x}" ] || set[routes]="( { domain = \"*\"; address = \"127.0.0.1:$PU\"; } )"
	[ -n "${set[origin_host]+x}" ] || set[origin_host]=proxy.test
	[ -n "${set[origin_realm]+x}" ] || set[origin_realm]=test
	[ -n "${set[destination_realm]+x}" ] || set[destination_realm]=example.com
	[ -n "${set[aaa_peers]+x}" ] || set[aaa_peers]="( { host = \"aaa.test\"; address = \"127.0.0.1:$PA\"; } )"
	[ -n "${set[stats_listen]+x}" ] || set[stats_listen]=
	{
		echo 'log = { level = "info"; };'
		echo 'proxy = {'
		for k in "${keys[@]}" "${extra[@]}"; do
			v=${set[$k]}
			case $v in
			true | false | [\(\[\{\"]*) ;;
			'' | *[!0-9]*) v="\"$v\"" ;;
			esac
			printf '  %s = %s;\n' "$k" "$v"
		done
		echo '};'
	} >"$file"
}

# start_proxy NAME [KEY=VALUE]... -> LAST_PID: mara-proxy with proxy_conf $W/NAME.conf KEY=VALUE...,
# log in $W/NAME.log, ready within 5 s (else its log is shown and it returns 1)
start_proxy() {
	local name=$1
	shift
	proxy_conf "$W/$name.conf" "$@"
	run_mara "$name" "$PROXY"
}
# start_proxy_open NAME [KEY=VALUE]...: start_proxy, then a Diameter peer open within 10 s
start_proxy_open() {
	start_proxy "$@" || return 1
	wait_for "$W/$1.log" 'peer open' 10 || { cat "$W/$1.log"; return 1; }
}

# freeDiameter, for start_fd_relay: its extensions, and the LD_PRELOAD shim that keeps it on 127.0.0.1
FD_EXT=${FD_EXT:-/usr/lib/freeDiameter}
SHIM_SRC=${SHIM_SRC:-/work/shared/peers/freediameter/bind_lo.c}
# need_fd_relay [NAME.fdx...]: skip (77) unless sipp, freeDiameterd, openssl and cc are installed,
# $SHIM_SRC is there and $FD_EXT has dict_sip, dbg_msg_dumps, acl_wl and each NAME.fdx
need_fd_relay() {
	local p f
	for p in sipp freeDiameterd openssl cc; do
		command -v "$p" >/dev/null || { echo "skip: $p not installed"; exit 77; }
	done
	for f in dict_sip.fdx dbg_msg_dumps.fdx acl_wl.fdx "$@"; do
		[ -r "$FD_EXT/$f" ] || { echo "skip: $FD_EXT/$f not found"; exit 77; }
	done
	[ -r "$SHIM_SRC" ] || { echo "skip: $SHIM_SRC not found"; exit 77; }
}

# start_fd_relay PORT HOST:PORT... -> FD_PID: freeDiameterd "relay.test" (realm test, no
# application of its own: it relays) on 127.0.0.1:PORT, connecting to each HOST:PORT on
# 127.0.0.1 without TLS; acl_wl "ALLOW_IPSEC *.test" (its clients need no TLS), dict_sip, and
# dbg_msg_dumps 0x0080 (every message dumped in $W/relay.log); FD_EXTRA: more config lines.
# (need_fd_relay says whether it can run.)
# Returns 1 (the reason on stderr) when the shim or the certificate cannot be made.
start_fd_relay() {
	local port=$1 peer
	shift
	cc -O2 -shared -fPIC -o "$W/bind_lo.so" "$SHIM_SRC" -ldl 2>"$W/cc.log" ||
		{ echo "cannot build bind_lo.so: $(cat "$W/cc.log")" >&2; return 1; }
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=relay.test \
		-keyout "$W/relay.key" -out "$W/relay.crt" >"$W/openssl.log" 2>&1 ||
		{ echo "openssl req failed: $(cat "$W/openssl.log")" >&2; return 1; }
	echo "ALLOW_IPSEC *.test" >"$W/acl_wl.conf"
	{
		cat <<EOC
Identity = "relay.test";
Realm = "test";
Port = $port;
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
EOC
		[ -n "${FD_EXTRA:-}" ] && echo "$FD_EXTRA"
		for peer in "$@"; do
			echo "ConnectPeer = \"${peer%:*}\" { ConnectTo = \"127.0.0.1\"; Port = ${peer##*:}; No_TLS; No_SCTP; };"
		done
	} >"$W/relay.conf"
	LD_PRELOAD="$W/bind_lo.so" freeDiameterd -c "$W/relay.conf" >"$W/relay.log" 2>&1 &
	FD_PID=$!
	PIDS+=("$FD_PID")
}

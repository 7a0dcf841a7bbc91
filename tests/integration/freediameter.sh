#!/usr/bin/env bash
# freediameter.sh - mara-aaa against a real freeDiameterd (1.2.x) on 127.0.0.1.
#
# Phase 1 (freeDiameterd "fdclient.test" connects to mara-aaa "aaa.test", mara watchdog_s = 6,
#          freeDiameter TwTimer = 30 so that only mara's watchdog runs):
#   a) CER/CEA: freeDiameter goes STATE_WAITCEA -> STATE_OPEN and its dump of our CEA carries
#      Result-Code DIAMETER_SUCCESS, Product-Name "mara", Auth-Application-Id 6, Origin-State-Id,
#      Host-IP-Address, Vendor-Id; mara logs msg="peer open".
#   b1) DWR from mara (received by freeDiameter) and freeDiameter's DWA with DIAMETER_SUCCESS.
#   c) SIGTERM to mara-aaa: exit 0 within 5 s, freeDiameter receives a DPR from aaa.test and
#      leaves STATE_OPEN, mara's totals show dpr_sent=1 dpa_rx=1.
# Phase 2 (fresh identity "fdclient2.test" because of freeDiameter's zombie peers; mara
#          watchdog_s = 30, freeDiameter TwTimer = 6 so that only freeDiameter's watchdog runs):
#   b2) DWR from freeDiameter, DWA from aaa.test with DIAMETER_SUCCESS.
#   d) SIGTERM to freeDiameterd: mara logs msg="DPR received" and freeDiameter receives the DPA
#      from aaa.test with DIAMETER_SUCCESS; mara-aaa keeps running and then exits 0 on SIGTERM.
# Why two phases for the watchdog: RFC 3539 restarts the watchdog timer on every received
# message, so with Tw = 6 s on both sides whichever side fires first suppresses the other one's
# DWR, and "a DWR from each side within 20 s" only holds ~75 % of the time.
#
# Env: MARA_BUILD (default /work/main/build), MARA_SRC (default /work/main).
# Exit: 0 pass, 1 fail, 77 skip (freeDiameterd, ss, openssl or cc missing).
set -u

MARA_BUILD=${MARA_BUILD:-/work/main/build}
MARA_SRC=${MARA_SRC:-/work/main}
AAA=$MARA_BUILD/mara-aaa
FD_EXT=${FD_EXT:-/usr/lib/freeDiameter}
SHIM_SRC=${SHIM_SRC:-/work/shared/peers/freediameter/bind_lo.c}

for p in freeDiameterd ss openssl cc; do
	if ! command -v "$p" >/dev/null 2>&1; then
		echo "1..0 # SKIP $p not installed"
		exit 77
	fi
done
for f in "$FD_EXT/dict_sip.fdx" "$FD_EXT/dbg_msg_dumps.fdx" "$SHIM_SRC"; do
	if [ ! -r "$f" ]; then
		echo "1..0 # SKIP $f not found"
		exit 77
	fi
done
if [ ! -x "$AAA" ]; then
	echo "not ok - $AAA not built"
	exit 1
fi

PROC_NAME=fd
. "$(dirname "$0")/proc.sh"
LOGS=()
dump_logs() { show_tail 300 "${LOGS[@]}"; }
# Fatal: later steps depend on this one.
bail() {
	not_ok "$*"
	dump_logs
	exit 1
}

pick_ports() { # BASE .. BASE+3 free
	local i try
	for try in $(seq 1 50); do
		BASE=$((20000 + RANDOM % 9990))
		for i in 0 1 2 3; do
			port_free $((BASE + i)) || continue 2
		done
		return 0
	done
	bail "no free port range found"
}

# Message dumps of dbg_msg_dumps (0x0080), one line per message:
# "SND to 'peer': | 'Command-Name' | ... | AVP: 'Result-Code'(268) ... | ..."
fd_msgs() {
	sed 's/^[0-9:]*  *//' "$1" | awk '
		/^NOTI   (SND to|RCV from) \047/ { if (b != "") print b; b = $0; next }
		b != "" && /^NOTI      / { sub(/^NOTI +/, ""); b = b " | " $0; next }
		{ if (b != "") print b; b = "" }
		END { if (b != "") print b }'
}
# fd_has LOG DIR CMD [PATTERN...]: a message DIR ("RCV from"/"SND to") 'aaa.test' named CMD
# whose dump matches every PATTERN (extended regex).
fd_has() {
	local log=$1 dir=$2 cmd=$3 m
	shift 3
	m=$(fd_msgs "$log" | grep -F "$dir 'aaa.test':" | grep -F "| '$cmd' |")
	local p
	for p in "$@"; do
		m=$(printf '%s\n' "$m" | grep -E -- "$p")
	done
	[ -n "$m" ]
}

mk_cert() { # CN -> $WORK/CN.crt/.key
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" \
		-keyout "$WORK/$1.key" -out "$WORK/$1.crt" >"$WORK/openssl-$1.log" 2>&1 ||
		bail "openssl could not make a certificate for $1"
}

# fd_conf IDENTITY TWTIMER -> $WORK/IDENTITY.conf
fd_conf() {
	cat >"$WORK/$1.conf" <<EOF
Identity = "$1";
Realm = "test";
Port = $FD_PORT;
SecPort = 0;
No_SCTP;
No_IPv6;
TcTimer = 6;
TwTimer = $2;
TLS_Cred = "$WORK/$1.crt", "$WORK/$1.key";
TLS_CA = "$WORK/$1.crt";
LoadExtension = "$FD_EXT/dict_sip.fdx";
LoadExtension = "$FD_EXT/dbg_msg_dumps.fdx" : "0x0080";
ConnectPeer = "aaa.test" { ConnectTo = "127.0.0.1"; Port = $AAA_PORT; No_TLS; No_SCTP; };
EOF
}

# aaa_conf NAME WATCHDOG -> $WORK/NAME.conf
aaa_conf() {
	cat >"$WORK/$1.conf" <<EOF
log = { level = "debug"; };
aaa = {
  listen = "127.0.0.1:$AAA_PORT";
  origin_host = "aaa.test";
  origin_realm = "test";
  users = "$MARA_SRC/deploy/demo/users";
  watchdog_s = $2;
};
EOF
}

start_aaa() { # NAME -> AAA_PID, log $WORK/NAME.log
	"$AAA" -c "$WORK/$1.conf" >"$WORK/$1.log" 2>&1 &
	AAA_PID=$!
	PIDS+=("$AAA_PID")
	LOGS+=("$WORK/$1.log")
	poll 5 listening "$AAA_PORT" || bail "mara-aaa ($1) is not listening on 127.0.0.1:$AAA_PORT"
}

start_fd() { # IDENTITY -> FD_PID, log $WORK/IDENTITY.log
	LD_PRELOAD="$WORK/bind_lo.so" freeDiameterd -c "$WORK/$1.conf" >"$WORK/$1.log" 2>&1 &
	FD_PID=$!
	PIDS+=("$FD_PID")
	LOGS+=("$WORK/$1.log")
}

fd_open() { grep -qP "'STATE_WAITCEA'\t-> 'STATE_OPEN'\t'aaa.test'" "$1"; }

pick_ports
AAA_PORT=$BASE
FD_PORT=$((BASE + 1))
echo "# work dir $WORK, mara-aaa on 127.0.0.1:$AAA_PORT, freeDiameterd on 127.0.0.1:$FD_PORT"
cc -O2 -shared -fPIC -o "$WORK/bind_lo.so" "$SHIM_SRC" -ldl 2>"$WORK/cc.log" ||
	bail "cannot build the bind_lo.so shim: $(cat "$WORK/cc.log")"

# ================================ phase 1: our shutdown ======================================
mk_cert fdclient.test
fd_conf fdclient.test 30
aaa_conf aaa1 6
start_aaa aaa1
AAA1=$AAA_PID
start_fd fdclient.test
FD1=$FD_PID
FDLOG=$WORK/fdclient.test.log
AAALOG=$WORK/aaa1.log

# (a) CER/CEA
if poll 15 fd_open "$FDLOG"; then
	ok "freeDiameter: 'STATE_WAITCEA' -> 'STATE_OPEN' for aaa.test"
else
	bail "freeDiameter did not reach STATE_OPEN with aaa.test within 15 s"
fi
poll 5 fd_has "$FDLOG" "RCV from" Capabilities-Exchange-Answer
for want in \
	"Result-Code DIAMETER_SUCCESS|AVP: 'Result-Code'\(268\)[^|]*val='DIAMETER_SUCCESS' \(2001" \
	"Origin-Host aaa.test|AVP: 'Origin-Host'\(264\)[^|]*val=\"aaa.test\"" \
	"Product-Name mara|AVP: 'Product-Name'\(269\)[^|]*val=\"mara\"" \
	"Auth-Application-Id 6|AVP: 'Auth-Application-Id'\(258\)[^|]*val=6 " \
	"Origin-State-Id|AVP: 'Origin-State-Id'\(278\)[^|]*val=[0-9]+" \
	"Host-IP-Address 127.0.0.1|AVP: 'Host-IP-Address'\(257\)[^|]*val=127\.0\.0\.1" \
	"Vendor-Id|AVP: 'Vendor-Id'\(266\)[^|]*val=[0-9]+"; do
	if fd_has "$FDLOG" "RCV from" Capabilities-Exchange-Answer "${want#*|}"; then
		ok "CEA from aaa.test carries ${want%%|*}"
	else
		not_ok "CEA from aaa.test lacks ${want%%|*}"
	fi
done
if poll 5 grep -q 'msg="peer open".*peer=fdclient.test.*role=responder' "$AAALOG"; then
	ok "mara-aaa logs msg=\"peer open\" peer=fdclient.test role=responder"
else
	not_ok "mara-aaa did not log msg=\"peer open\" for fdclient.test"
fi

# (b1) our watchdog: DWR from aaa.test, DWA from freeDiameter with DIAMETER_SUCCESS
if poll 20 fd_has "$FDLOG" "RCV from" Device-Watchdog-Request "AVP: 'Origin-Host'\(264\)[^|]*val=\"aaa.test\""; then
	ok "freeDiameter received a Device-Watchdog-Request from aaa.test"
else
	not_ok "no Device-Watchdog-Request from aaa.test within 20 s"
fi
if poll 5 fd_has "$FDLOG" "SND to" Device-Watchdog-Answer "val='DIAMETER_SUCCESS' \(2001"; then
	ok "freeDiameter answered it with a Device-Watchdog-Answer DIAMETER_SUCCESS"
else
	not_ok "freeDiameter sent no successful Device-Watchdog-Answer to aaa.test"
fi
if grep -q 'msg="peer down\|msg="watchdog".*state=suspect' "$AAALOG"; then
	not_ok "mara-aaa's watchdog went suspect/down"
else
	ok "mara-aaa's watchdog stayed okay"
fi

# (c) our shutdown: DPR/DPA
kill -TERM "$AAA1"
if wait_exit "$AAA1" 5; then
	if [ "$EXIT_STATUS" -eq 0 ]; then
		ok "mara-aaa exited 0 within 5 s of SIGTERM"
	else
		not_ok "mara-aaa exited with status $EXIT_STATUS after SIGTERM"
	fi
else
	not_ok "mara-aaa still running 5 s after SIGTERM"
	kill -KILL "$AAA1" 2>/dev/null
fi
if poll 5 fd_has "$FDLOG" "RCV from" Disconnect-Peer-Request "AVP: 'Disconnect-Cause'\(273\)"; then
	ok "freeDiameter received a Disconnect-Peer-Request (with Disconnect-Cause) from aaa.test"
else
	not_ok "freeDiameter received no Disconnect-Peer-Request from aaa.test"
fi
if fd_has "$FDLOG" "SND to" Disconnect-Peer-Answer "val='DIAMETER_SUCCESS' \(2001"; then
	ok "freeDiameter answered the DPR with DIAMETER_SUCCESS"
else
	not_ok "freeDiameter sent no successful Disconnect-Peer-Answer"
fi
if poll 5 grep -qP "'STATE_OPEN'\t-> '[A-Z_]+'\t'aaa.test'" "$FDLOG"; then
	ok "freeDiameter's state for aaa.test left STATE_OPEN ($(grep -oP "'STATE_OPEN'\t-> '\K[A-Z_]+" "$FDLOG" | head -1))"
else
	not_ok "freeDiameter's state for aaa.test did not leave STATE_OPEN"
fi
if grep -q 'msg="totals".* dpr_sent=1 dpa_rx=1$' "$AAALOG"; then
	ok "mara-aaa totals: dpr_sent=1 dpa_rx=1"
else
	not_ok "mara-aaa totals line lacks dpr_sent=1 dpa_rx=1: $(grep 'msg="totals"' "$AAALOG")"
fi
if grep -q 'msg="stopped"' "$AAALOG"; then
	ok "mara-aaa logged msg=\"stopped\""
else
	not_ok "mara-aaa did not log msg=\"stopped\""
fi
kill -TERM "$FD1"
wait_exit "$FD1" 25 || {
	not_ok "freeDiameterd (phase 1) still running 25 s after SIGTERM"
	kill -KILL "$FD1" 2>/dev/null
}
poll 5 port_free "$FD_PORT"

# ================================ phase 2: their shutdown ====================================
mk_cert fdclient2.test
fd_conf fdclient2.test 6
aaa_conf aaa2 30
start_aaa aaa2
AAA2=$AAA_PID
start_fd fdclient2.test
FD2=$FD_PID
FDLOG=$WORK/fdclient2.test.log
AAALOG=$WORK/aaa2.log

if poll 15 fd_open "$FDLOG" && poll 5 grep -q 'msg="peer open".*peer=fdclient2.test' "$AAALOG"; then
	ok "phase 2: fdclient2.test and aaa.test open"
else
	bail "phase 2: fdclient2.test did not open with aaa.test within 15 s"
fi

# (b2) their watchdog: DWR from freeDiameter, DWA from aaa.test with DIAMETER_SUCCESS
if poll 20 fd_has "$FDLOG" "SND to" Device-Watchdog-Request; then
	ok "freeDiameter sent a Device-Watchdog-Request to aaa.test"
else
	not_ok "freeDiameter sent no Device-Watchdog-Request within 20 s"
fi
if poll 5 fd_has "$FDLOG" "RCV from" Device-Watchdog-Answer \
	"val='DIAMETER_SUCCESS' \(2001" "AVP: 'Origin-Host'\(264\)[^|]*val=\"aaa.test\"" "AVP: 'Origin-State-Id'\(278\)"; then
	ok "freeDiameter received a Device-Watchdog-Answer DIAMETER_SUCCESS (with Origin-State-Id) from aaa.test"
else
	not_ok "no successful Device-Watchdog-Answer from aaa.test"
fi

# (d) their shutdown: DPR from freeDiameter, our DPA
kill -TERM "$FD2"
if poll 10 grep -q 'msg="DPR received" peer=fdclient2.test' "$AAALOG"; then
	ok "mara-aaa logs msg=\"DPR received\" peer=fdclient2.test"
else
	not_ok "mara-aaa did not log msg=\"DPR received\" within 10 s of freeDiameter's SIGTERM"
fi
if poll 10 fd_has "$FDLOG" "RCV from" Disconnect-Peer-Answer "val='DIAMETER_SUCCESS' \(2001" \
	"AVP: 'Origin-Host'\(264\)[^|]*val=\"aaa.test\""; then
	ok "freeDiameter received a Disconnect-Peer-Answer DIAMETER_SUCCESS from aaa.test"
else
	not_ok "freeDiameter received no successful Disconnect-Peer-Answer from aaa.test"
fi
if wait_exit "$FD2" 25; then
	ok "freeDiameterd stopped (status $EXIT_STATUS)"
else
	not_ok "freeDiameterd still running 25 s after SIGTERM"
	kill -KILL "$FD2" 2>/dev/null
fi
if poll 5 grep -q 'msg="peer closed" peer=fdclient2.test' "$AAALOG"; then
	ok "mara-aaa closed the connection to fdclient2.test"
else
	not_ok "mara-aaa did not log msg=\"peer closed\" for fdclient2.test"
fi
if alive "$AAA2"; then
	ok "mara-aaa keeps running after the peer left"
else
	not_ok "mara-aaa died after the peer's DPR"
fi
kill -TERM "$AAA2"
if wait_exit "$AAA2" 5 && [ "$EXIT_STATUS" -eq 0 ]; then
	ok "mara-aaa (no peers) exited 0 within 5 s of SIGTERM"
else
	not_ok "mara-aaa (no peers) did not exit 0 within 5 s of SIGTERM (status ${EXIT_STATUS:-running})"
fi
if grep -q 'msg="totals".* dpr_sent=0 dpa_rx=0$' "$AAALOG"; then
	ok "mara-aaa totals: dpr_sent=0 dpa_rx=0 (the peer had already gone)"
else
	not_ok "mara-aaa totals unexpected: $(grep 'msg="totals"' "$AAALOG")"
fi

if [ "$FAILED" -ne 0 ]; then
	dump_logs
	exit 1
fi
exit 0

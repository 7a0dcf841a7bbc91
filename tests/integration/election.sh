#!/usr/bin/env bash
# election.sh - two mara-aaa instances that both connect to each other (RFC 6733 §5.6.4).
#
# A (origin_host a.test) and B (b.test) each listen on their own 127.0.0.1 port and list the
# other in `peers` with connect = true (reconnect_s = 2, watchdog_s = 6). A is started first
# (its first connect to B fails, it retries every reconnect_s), then B, whose connect to A
# succeeds; every later attempt of A runs into the election on B.
# Asserts:
#   * within 10 s exactly one ESTABLISHED TCP connection links the two, and it is the one
#     initiated by the higher identity b.test (it ends on A's listening port);
#   * B logs msg="peer open" role=initiator, A logs role=responder, each exactly once;
#   * any "election:" line is the right one: B (higher) keeps its own connection, A (lower)
#     keeps B's; neither ever logs the other;
#   * for 5 more seconds nothing moves: the same single connection in every ss sample, no
#     new "peer open", "peer closed" or "election:" lines (= A does not keep knocking: once
#     a connection with b.test is open, A must not open new connections to it);
#   * SIGTERM to B: exit 0 within 5 s, its DPR is answered (dpr_sent=1 dpa_rx=1) and A logs
#     msg="DPR received" peer=b.test; SIGTERM to A: exit 0 within 5 s.
#
# Env: MARA_BUILD (default /work/main/build), MARA_SRC (default /work/main).
# Exit: 0 pass, 1 fail, 77 skip (ss missing).
set -u

MARA_BUILD=${MARA_BUILD:-/work/main/build}
MARA_SRC=${MARA_SRC:-/work/main}
AAA=$MARA_BUILD/mara-aaa

if [ ! -x "$AAA" ]; then
	echo "not ok - $AAA not built"
	exit 1
fi

PROC_NAME=election
. "$(dirname "$0")/proc.sh"
dump_logs() { show_tail 200 "$WORK/a.log" "$WORK/b.log" "$WORK/ss.log"; }
bail() {
	not_ok "$*"
	dump_logs
	exit 1
}

# ESTABLISHED TCP connections with an end on PA or PB, one line per connection
# ("lowaddr:port highaddr:port", both sockets of a loopback connection folded into one).
conns() {
	ss -Htn state established 2>/dev/null | awk -v a="$PA" -v b="$PB" '
		{ l = $(NF - 1); p = $NF; lp = l; sub(/.*:/, "", lp); pp = p; sub(/.*:/, "", pp)
		  if (lp != a && lp != b && pp != a && pp != b) next
		  print (l < p) ? l " " p : p " " l }' | sort -u
}
nconns() { conns | grep -c .; }
one_conn() { [ "$(nconns)" -eq 1 ]; }
count() { grep -c -- "$1" "$2"; }

for try in $(seq 1 50); do
	PA=$((20000 + RANDOM % 9990))
	PB=$((PA + 1))
	port_free "$PA" && port_free "$PB" && break
	[ "$try" -eq 50 ] && bail "no free port pair found"
done
echo "# work dir $WORK, A = a.test on 127.0.0.1:$PA, B = b.test on 127.0.0.1:$PB"

mkconf() { # NAME LISTEN_PORT OTHER OTHER_PORT
	cat >"$WORK/$1.conf" <<EOF
log = { level = "debug"; };
aaa = {
  listen = "127.0.0.1:$2";
  origin_host = "$1.test";
  origin_realm = "test";
  users = "$MARA_SRC/deploy/demo/users";
  watchdog_s = 6;
  reconnect_s = 2;
  accept_unknown_peers = false;
  peers = ( { host = "$3.test"; address = "127.0.0.1:$4"; connect = true; } );
};
EOF
}
mkconf a "$PA" b "$PB"
mkconf b "$PB" a "$PA"
ALOG=$WORK/a.log
BLOG=$WORK/b.log

"$AAA" -c "$WORK/a.conf" >"$ALOG" 2>&1 &
A=$!
PIDS+=("$A")
poll 5 listening "$PA" || bail "A is not listening on 127.0.0.1:$PA"
"$AAA" -c "$WORK/b.conf" >"$BLOG" 2>&1 &
B=$!
PIDS+=("$B")
poll 5 listening "$PB" || bail "B is not listening on 127.0.0.1:$PB"

both_open() {
	grep -q 'msg="peer open"' "$ALOG" && grep -q 'msg="peer open"' "$BLOG" && one_conn
}
if poll 10 both_open; then
	ok "A and B are open with each other over exactly one TCP connection within 10 s"
else
	conns >"$WORK/ss.log"
	bail "no single open connection between A and B within 10 s ($(nconns) connections)"
fi

CONN=$(conns)
echo "# connection: $CONN"
case " $CONN " in
*" 127.0.0.1:$PA "*) ok "the connection ends on A's listening port: initiated by b.test (the higher identity)" ;;
*) not_ok "the connection does not end on A's listening port $PA: not initiated by b.test ($CONN)" ;;
esac
# Optional cross-check: the non-listening end belongs to B's process (needs ss -p).
if ss -Htnp state established "( dport = :$PA )" 2>/dev/null | grep -q 'pid='; then
	if ss -Htnp state established "( dport = :$PA )" | grep -q "pid=$B,"; then
		ok "ss -p: the initiating socket belongs to B (pid $B)"
	else
		not_ok "ss -p: the socket connected to A's port is not B's: $(ss -Htnp state established "( dport = :$PA )")"
	fi
fi

if [ "$(count 'msg="peer open"' "$BLOG")" -eq 1 ] &&
	grep -q 'msg="peer open".* peer=a.test .*role=initiator' "$BLOG"; then
	ok "B logs exactly one msg=\"peer open\" peer=a.test role=initiator"
else
	not_ok "B's msg=\"peer open\" lines are not exactly one with role=initiator: $(grep 'msg="peer open"' "$BLOG")"
fi
if [ "$(count 'msg="peer open"' "$ALOG")" -eq 1 ] &&
	grep -q 'msg="peer open".* peer=b.test .*role=responder' "$ALOG"; then
	ok "A logs exactly one msg=\"peer open\" peer=b.test role=responder"
else
	not_ok "A's msg=\"peer open\" lines are not exactly one with role=responder: $(grep 'msg="peer open"' "$ALOG")"
fi

# Election lines: the higher identity keeps its own initiative, the lower one keeps theirs.
if grep 'election:' "$BLOG" | grep -qv 'msg="election: keeping our connection" peer=a.test'; then
	not_ok "B (higher identity) logged a wrong election result: $(grep 'election:' "$BLOG" | sort -u)"
else
	ok "B's election lines only say \"keeping our connection\" ($(count 'election:' "$BLOG") lines)"
fi
if grep 'election:' "$ALOG" | grep -qv 'msg="election: keeping their connection" peer=b.test'; then
	not_ok "A (lower identity) logged a wrong election result: $(grep 'election:' "$ALOG" | sort -u)"
else
	ok "A's election lines only say \"keeping their connection\" ($(count 'election:' "$ALOG") lines)"
fi

# Stability: 5 s (more than two reconnect_s periods) with nothing changing.
OPEN0="$(count 'msg="peer open"' "$ALOG") $(count 'msg="peer open"' "$BLOG")"
CLOSED0="$(count 'msg="peer closed"' "$ALOG") $(count 'msg="peer closed"' "$BLOG")"
ELECT0="$(count 'election:' "$ALOG") $(count 'election:' "$BLOG")"
SAMPLES=0
BADSAMPLES=0
: >"$WORK/ss.log"
END=$((SECONDS + 6))
while [ "$SECONDS" -lt "$END" ]; do
	NOW=$(conns)
	SAMPLES=$((SAMPLES + 1))
	if [ "$NOW" != "$CONN" ]; then
		BADSAMPLES=$((BADSAMPLES + 1))
		printf '%s\n%s\n' "--- sample $SAMPLES:" "$NOW" >>"$WORK/ss.log"
	fi
	sleep 0.1
done
if [ "$BADSAMPLES" -eq 0 ]; then
	ok "the same single connection in all $SAMPLES ss samples over 5 s"
else
	not_ok "the connection set changed in $BADSAMPLES of $SAMPLES ss samples over 5 s"
fi
OPEN1="$(count 'msg="peer open"' "$ALOG") $(count 'msg="peer open"' "$BLOG")"
CLOSED1="$(count 'msg="peer closed"' "$ALOG") $(count 'msg="peer closed"' "$BLOG")"
ELECT1="$(count 'election:' "$ALOG") $(count 'election:' "$BLOG")"
if [ "$OPEN0" = "$OPEN1" ] && [ "$CLOSED0" = "$CLOSED1" ]; then
	ok "no new msg=\"peer open\"/\"peer closed\" lines in those 5 s (no flapping)"
else
	not_ok "peer open/closed lines changed in 5 s: open A B $OPEN0 -> $OPEN1, closed $CLOSED0 -> $CLOSED1"
fi
if [ "$ELECT0" = "$ELECT1" ]; then
	ok "no new election in those 5 s (A does not reconnect to an already open b.test)"
else
	not_ok "elections went on while the connection was open (\"election:\" lines A B: $ELECT0 -> $ELECT1):" \
		"A's connector keeps reconnecting to b.test every reconnect_s"
fi
if grep -q 'msg="peer down\|msg="watchdog".*state=suspect' "$ALOG" "$BLOG"; then
	not_ok "a watchdog went suspect/down"
else
	ok "watchdogs stayed okay"
fi

# Shutdown: B (the initiator) first, so that its DPR/DPA exchange is not raced by A's own.
kill -TERM "$B"
if wait_exit "$B" 5 && [ "$EXIT_STATUS" -eq 0 ]; then
	ok "B exited 0 within 5 s of SIGTERM"
else
	not_ok "B did not exit 0 within 5 s of SIGTERM (status $EXIT_STATUS)"
fi
if grep -q 'msg="totals".* dpr_sent=1 dpa_rx=1$' "$BLOG"; then
	ok "B's totals: dpr_sent=1 dpa_rx=1"
else
	not_ok "B's totals lack dpr_sent=1 dpa_rx=1: $(grep 'msg="totals"' "$BLOG")"
fi
if poll 3 grep -q 'msg="DPR received" peer=b.test' "$ALOG"; then
	ok "A logs msg=\"DPR received\" peer=b.test"
else
	not_ok "A did not log msg=\"DPR received\" peer=b.test"
fi
kill -TERM "$A"
if wait_exit "$A" 5 && [ "$EXIT_STATUS" -eq 0 ]; then
	ok "A exited 0 within 5 s of SIGTERM"
else
	not_ok "A did not exit 0 within 5 s of SIGTERM (status $EXIT_STATUS)"
fi

if [ "$FAILED" -ne 0 ]; then
	dump_logs
	exit 1
fi
exit 0

#!/bin/bash
# SPDX-License-Identifier: MIT
# watchdog.sh - the RFC 3539 watchdog of mara-aaa's peer connections:
#   1. a peer that stops answering gets DWR, then the connection goes SUSPECT and is closed
#      (watchdog_s = 6, the RFC minimum: about 18 s)
#   2. a peer we connect to is killed and restarted: we reconnect every reconnect_s, and the new
#      connection is REOPEN until three DWR/DWA round trips succeed, then OKAY
# Loopback only; every process is stopped by PID at exit.
set -u
. "$(dirname "$0")/lib.sh"

# ---- 1. silent peer ---------------------------------------------------------------------------
P1=$(free_port) || exit 1
start_aaa w1 "$P1" 'watchdog_s = 6;' || exit 1
W1=$LAST_PID
check "silent peer: DWR sent, then closed" "$CLIENT" 127.0.0.1 "$P1" --mode silent
check "log: watchdog went suspect" grep -q 'msg="watchdog" peer=client.test state=suspect' "$W/w1.log"
check "log: peer declared down" grep -q 'msg="peer down: no DWA" peer=client.test' "$W/w1.log"
check "w1 exits 0" stop_ok "$W1"

# ---- 2. reconnect and REOPEN ------------------------------------------------------------------
PB=$(free_port) || exit 1
PA=$(free_port) || exit 1
start_aaa b "$PB" 'watchdog_s = 6;' || exit 1
B=$LAST_PID
start_aaa a "$PA" "watchdog_s = 6; reconnect_s = 1; peers = ( { host = \"b.test\"; address = \"127.0.0.1:$PB\"; connect = true; } );" || exit 1
A=$LAST_PID
check "a opens to b" wait_for "$W/a.log" 'msg="peer open" .*peer=b.test .*role=initiator' 5
kill -KILL "$B"
wait "$B" 2>/dev/null
check "a sees b go away" wait_for "$W/a.log" 'msg="peer closed" peer=b.test' 5
mv "$W/b.log" "$W/b1.log"
start_aaa b "$PB" 'watchdog_s = 6;' || exit 1
B=$LAST_PID
check "a reconnects to the restarted b" wait_for "$W/b.log" 'msg="peer open" .*peer=a.test' 10
check "after three watchdog round trips the reconnected peer is OKAY (REOPEN -> OKAY)" \
	wait_for "$W/a.log" 'msg="watchdog" peer=b.test state=okay' 10
check "a exits 0" stop_ok "$A"
check "b exits 0" stop_ok "$B"

if [ "$FAIL" -ne 0 ]; then
	echo "--- logs"; tail -n 30 "$W"/*.log
	exit 1
fi
exit 0

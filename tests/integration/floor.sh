#!/bin/bash
# SPDX-License-Identifier: MIT
# floor.sh - bench/floor/pingpong.c (mara-floor) in a tiny mode: for each middle (blocking,
# io_uring, io_uring with the TCP far leg) and topology (echo, relay) 200 datagrams at 1000/s
# and 2000 unpaced (32 in flight) must all come back (the client exits 1 on a missing, duplicate
# or foreign datagram), and the middle must have counted every leg it handled.
# Loopback only; every process under timeout and stopped by PID. Exit 0 pass, 1 fail.
set -u
. "$(dirname "$0")/lib.sh"
PP=$BUILD/bench/mara-floor
[ -x "$PP" ] || { echo "not ok - $PP not built"; exit 1; }

# run_case MODE TOPO RATE COUNT (each case its own logs: a stale 'ready' must not count)
N=0
run_case() {
	local mode=$1 topo=$2 rate=$3 count=$4 pm pf far=() fpid="" mpid cl rc legs want flog mlog
	N=$((N + 1))
	flog=$W/far.$N.log
	mlog=$W/mid.$N.log
	pm=$(free_port) || return 1
	pf=$(free_port) || return 1
	if [ "$topo" != echo ]; then
		far=(--far "$pf")
		[ "$topo" = tcp ] && far+=(--tcp)
		timeout 10 "$PP" far --port "$pf" "${far[@]:2}" >"$flog" 2>&1 &
		fpid=$!
		PIDS+=("$fpid")
		wait_for "$flog" 'far ready' 5 || { cat "$flog"; return 1; }
	fi
	timeout 10 "$PP" middle --port "$pm" --mode "$mode" "${far[@]}" --warm 0 --secs 30 \
		>"$mlog" 2>&1 &
	mpid=$!
	PIDS+=("$mpid")
	wait_for "$mlog" 'middle ready' 5 || { cat "$mlog"; return 1; }
	cl=$(timeout 10 "$PP" client --port "$pm" --rate "$rate" --window 32 --count "$count" 2>&1)
	rc=$?
	wait "$mpid"
	[ -n "$fpid" ] && wait "$fpid"
	legs=$(sed -n 's/.* legs=\([0-9]*\).*/\1/p' "$mlog")
	want=$count
	[ "$topo" != echo ] && want=$((2 * count))
	# the leg that opens the window (the first) is not in it
	echo "# $mode $topo rate=$rate: $cl; middle legs=$legs"
	[ -n "$legs" ] || sed 's/^/# middle: /' "$mlog"
	[ "$rc" = 0 ] && [ "${legs:-0}" -eq $((want - 1)) ]
}

for v in block:echo uring:echo block:relay uring:relay uring:tcp; do
	check "${v/:/ } 1000/s: 200 datagrams all back" run_case "${v%%:*}" "${v##*:}" 1000 200
	check "${v/:/ } unpaced: 2000 datagrams all back" run_case "${v%%:*}" "${v##*:}" 0 2000
done
exit $FAIL

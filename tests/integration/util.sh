#!/bin/bash
# SPDX-License-Identifier: MIT
# util.sh - shell helpers with no side effects when sourced, shared by the integration tests
# (lib.sh sources it) and the benchmark drivers (bench/lib.sh sources it): free ports, bounded
# waits, CPU time of processes, a random nonce secret. Not a test: nothing here runs on its own.
# The caller sets $W (its work folder) before free_port.

# free_port: a port with no TCP or UDP socket on it (listening or not), not handed out before
# to this run (the ports handed out are kept in $W/.ports, so that two calls, even in $(...),
# never give the same port before anything binds it). Below 32768, the kernel's ephemeral range.
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 12000))
		grep -qx "$p" "$W/.ports" 2>/dev/null && continue
		ss -Htuan "sport = :$p" | grep -q . && continue
		echo "$p" >>"$W/.ports"
		echo "$p"
		return 0
	done
	return 1
}

# wait_for FILE PATTERN SECONDS [FROM]: PATTERN (grep) appears in FILE, or in what follows its
# first FROM-1 bytes (see start_daemon in bench/lib.sh), within SECONDS; 1 and a line on stderr
# after that
wait_for() {
	local i
	for i in $(seq $(($3 * 10))); do
		tail -c +"${4:-1}" "$1" 2>/dev/null | grep -q -- "$2" && return 0
		sleep 0.1
	done
	echo "timeout waiting for '$2' in $1" >&2
	return 1
}

# wait_listening tcp|udp PORT SECONDS [PATTERN]: a socket bound to PORT (its ss line matching
# PATTERN, e.g. 127.0.0.1, when given) within SECONDS
wait_listening() {
	local i
	for i in $(seq $(($3 * 10))); do
		ss -lnH "--$1" "sport = :$2" | grep -q -- "${4:-.}" && return 0
		sleep 0.1
	done
	return 1
}

# cpu_ticks PID...: the utime + stime of the processes (all their threads), in clock ticks;
# sys_ticks PID...: their stime alone (the kernel's part)
cpu_ticks() { proc_ticks '$12 + $13' "$@"; }
sys_ticks() { proc_ticks '$13' "$@"; }
# proc_ticks AWK_EXPR PID...: the sum of AWK_EXPR over the fields of /proc/PID/stat after "(comm) "
proc_ticks() {
	local expr=$1 p t=0 v
	shift
	for p in "$@"; do
		v=$(sed 's/^.*) //' /proc/"$p"/stat 2>/dev/null | awk "{print $expr}")
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# hex_secret: 64 random hex digits (a nonce_secret)
hex_secret() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

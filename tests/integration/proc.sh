#!/bin/bash
# SPDX-License-Identifier: MIT
# proc.sh - process and port predicates for the integration scripts that keep their own
# bookkeeping (election.sh, freediameter.sh, config_check.sh); lib.sh's scripts have theirs.
# Sourced, not run. Every wait is bounded.

# Sourced first: the work dir, PIDS killed and reaped at exit, TAP-ish ok/not_ok.
command -v ss >/dev/null 2>&1 || {
	echo "1..0 # SKIP ss not installed"
	exit 77
}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mara-${PROC_NAME:-test}.XXXXXX")
PIDS=()
FAILED=0

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { echo "ok - $*"; }
not_ok() {
	echo "not ok - $*"
	FAILED=1
}
# show_tail LINES FILE...: the end of each file, for a failure
show_tail() {
	local n=$1 f
	shift
	for f in "$@"; do
		echo "# ----- $f -----"
		sed 's/^/# /' "$f" 2>/dev/null | tail -n "$n"
	done
}


# alive PID: true while PID has not exited (a zombie child counts as exited)
alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# poll SECONDS CMD...: runs CMD every 0.2 s; 0 once it succeeds, 1 after SECONDS
poll() {
	local deadline=$((SECONDS + $1))
	shift
	while :; do
		"$@" && return 0
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}

# wait_exit PID SECONDS: 0 with EXIT_STATUS set once PID (our child) exited, 1 if still running
EXIT_STATUS=
wait_exit() {
	EXIT_STATUS=running
	if ! poll "$2" eval '! alive '"$1"; then
		return 1
	fi
	wait "$1" 2>/dev/null
	EXIT_STATUS=$?
	return 0
}

port_free() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q "127.0.0.1:$1"; }

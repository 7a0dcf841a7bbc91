#!/bin/bash
# SPDX-License-Identifier: MIT
# compare.sh - the side-by-side harness (bench/compare/run.sh) works: its quick mode (one load
# point, one run of each system, ~1 min) exits 0 and writes summary.md with a row for each of
# mara-auth, kamailio-auth, mara-fwd and kamailio-fwd, each with completed calls > 0.
# Functional only: no timing or CPU figure is asserted. Skips (77) without kamailio or sipp.
set -u
. "$(dirname "$0")/lib.sh"
command -v kamailio >/dev/null || { echo "skip: kamailio not installed"; exit 77; }
command -v sipp >/dev/null || { echo "skip: sipp (sip-tester) not installed"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 not installed"; exit 77; }
# CPU-per-call numbers from a sanitizer build mean nothing, and the run takes time: default build only
[ "${MARA_SANITIZED:-0}" = 1 ] && { echo "skip: not run on the sanitizer build"; exit 77; }

if MARA_BUILD=$BUILD MARA_SRC=$SRC timeout 170 "$SRC/bench/compare/run.sh" --quick \
	--generator sipp --out "$W/res" >"$W/run.log" 2>&1; then
	ok "run.sh --quick exits 0"
else
	nok "run.sh --quick exits 0"; tail -n 40 "$W/run.log"
fi
check "summary.md written" test -s "$W/res/summary.md"
check "runs.csv written" test -s "$W/res/runs.csv"
for s in mara-auth kamailio-auth mara-fwd kamailio-fwd; do
	# | system | offered calls/s | runs | completed | ...
	n=$(awk -F'|' -v s="$s" '{ gsub(/ /, "", $2); gsub(/ /, "", $3) }
		$2 == s && $3 ~ /^[0-9]+$/ { gsub(/ /, "", $5); print $5; exit }' \
		"$W/res/summary.md" 2>/dev/null)
	check "$s: a summary row with completed calls > 0 (${n:-none})" test "${n:-0}" -gt 0 2>/dev/null
done
[ "$FAIL" -eq 0 ] || { echo "--- run.log"; tail -n 40 "$W/run.log"; }
exit "$FAIL"

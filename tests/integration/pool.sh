#!/bin/bash
# SPDX-License-Identifier: MIT
# pool.sh - the proxy's Diameter pool (src/diameter/dia_pool.c) against real mara-aaa peers,
# driven by tests/pool_test.c (two shard threads with their own io loops):
#   1. basic: 20,000 pipelined MAR #1 from two shards over two peers; RFC 4740 Figure 4 through
#      the pool (MAR #1 and MAR #2 may reach different instances: they share the nonce secret);
#      peers that refuse TCP (-ENOTCONN at once); a peer that swallows MARs (-ETIMEDOUT), then
#      stop (-ECANCELED, DPR)
#   2. failover: a stream of MARs; when pool_test says so, the first peer is killed with SIGKILL
#      (every request still completes, re-sent with the T flag), then the second (-ENOTCONN)
# Loopback only; every process is stopped by PID at exit.
set -u
. "$(dirname "$0")/lib.sh"
POOL_TEST=$BUILD/tests/pool_test

P1=$(free_port) || exit 1
start_aaa a1 "$P1" || exit 1
A1=$LAST_PID
P2=$(free_port) || exit 1
start_aaa a2 "$P2" || exit 1
A2=$LAST_PID
PEERS=(--peer "a1.test=127.0.0.1:$P1" --peer "a2.test=127.0.0.1:$P2")

# ---- 1. basic ----------------------------------------------------------------------------------
if timeout 120 "$POOL_TEST" "${PEERS[@]}" basic >"$W/basic.tap" 2>"$W/basic.err"; then
	ok "pool_test basic: $(grep -c '^ok' "$W/basic.tap") checks passed"
else
	nok "pool_test basic"
	tail -20 "$W/basic.err"
fi
sed 's/^/    /' "$W/basic.tap"

# ---- 2. failover: kill a1, then a2, when pool_test asks --------------------------------------
timeout 120 "$POOL_TEST" "${PEERS[@]}" failover >"$W/failover.tap" 2>"$W/failover.err" &
PT=$!
PIDS+=("$PT")
if wait_for "$W/failover.tap" '^# KILL a1.test' 30; then
	kill -KILL "$A1"
	wait "$A1" 2>/dev/null
fi
if wait_for "$W/failover.tap" '^# (d) KILL a2.test' 30; then
	kill -KILL "$A2"
	wait "$A2" 2>/dev/null
fi
if wait "$PT"; then
	ok "pool_test failover: $(grep -c '^ok' "$W/failover.tap") checks passed"
else
	nok "pool_test failover"
	tail -20 "$W/failover.err"
fi
sed 's/^/    /' "$W/failover.tap"
exit $FAIL

#!/bin/bash
# SPDX-License-Identifier: MIT
# failover_freeze.sh - failover.sh with one Diameter server frozen (SIGSTOP) instead of killed:
# only the RFC 3539 watchdog can notice; see failover.sh (FAILOVER_SIGNAL=STOP) for the checks.
FAILOVER_SIGNAL=STOP exec "$(dirname "$0")/failover.sh" "$@"

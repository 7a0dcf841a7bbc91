#!/bin/bash
# SPDX-License-Identifier: MIT
# run-demo.sh - `make run`: mara-aaa and mara-proxy on their embedded defaults, in the
# foreground, on loopback only. Ctrl-C stops both (the proxy answers what is parked and says DPR).
set -u
BUILD=${1:-build}
"$BUILD/mara-aaa" &
AAA=$!
# the proxy first: it says DPR to mara-aaa, which is still there to answer
trap 'kill -TERM $PROXY 2>/dev/null; wait $PROXY 2>/dev/null; kill -TERM $AAA 2>/dev/null; wait $AAA 2>/dev/null' EXIT INT TERM
sleep 0.3
"$BUILD/mara-proxy" &
PROXY=$!
sleep 0.5
cat <<MSG

  mara is running on loopback:
    mara-aaa   Diameter 127.0.0.1:3868  realm example.com  users alice/alice-secret, bob/bob-secret
    mara-proxy SIP 127.0.0.1:5060 (UDP, TCP), forwards every authorized request to 127.0.0.1:5090

  Point a UA at it, e.g. with SIPp (apt-get install sip-tester):
    sipp -sf tests/sipp/uas_200.xml -i 127.0.0.1 -p 5090 -nostdin -bg          # the callee
    sipp -sf tests/sipp/uac_auth.xml 127.0.0.1:5060 -key rdomain 127.0.0.1:5060 \\
         -i 127.0.0.1 -p 5070 -s service -au alice -ap alice-secret -m 10 -r 5 -nostdin
  Ctrl-C stops both.

MSG
wait $PROXY

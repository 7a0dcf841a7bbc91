#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# flood.py - sends garbage UDP datagrams to a SIP proxy at a paced rate (bench/garbage.sh).
#   flood.py HOST PORT RATE SECONDS
# Half random bytes (40..400 bytes), half malformed SIP (a real INVITE with a span overwritten by
# random bytes, cut short, or its Content-Length lying): what a shard must parse and refuse.
# Paced in 1 ms steps from one socket per process; prints "sent=N seconds=S". Loopback only.
import os
import random
import socket
import sys
import time

INVITE = (b"INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.9:5060;branch=z9hG4bKg\r\n"
          b"Max-Forwards: 70\r\nTo: <sip:bob@127.0.0.1>\r\nFrom: <sip:eve@127.0.0.1>;tag=1\r\n"
          b"Call-ID: g@x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")


def corpus(n):
    rnd = random.Random(4475)
    out = []
    for i in range(n):
        if i % 2 == 0:
            out.append(os.urandom(rnd.randint(40, 400)))
            continue
        m = bytearray(INVITE)
        k = i % 6
        if k == 1:
            at = rnd.randrange(len(m))
            m[at:at + 16] = os.urandom(16)
        elif k == 3:
            m = m[: rnd.randrange(20, len(m) - 4)]
        else:
            m = m.replace(b"Content-Length: 0", b"Content-Length: 99999")
        out.append(bytes(m))
    return out


def main():
    host, port, rate, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    msgs = corpus(1024)
    sent = 0
    t0 = time.monotonic()
    end = t0 + secs
    while True:
        now = time.monotonic()
        if now >= end:
            break
        due = int((now - t0) * rate)
        while sent < due:
            try:
                s.sendto(msgs[sent & 1023], (host, port))
            except OSError:
                pass
            sent += 1
        time.sleep(0.001)
    print(f"sent={sent} seconds={time.monotonic() - t0:.2f}")


if __name__ == "__main__":
    main()

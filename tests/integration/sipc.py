#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# sipc.py - a small SIP client for the limit and fault scripts: sends crafted requests over UDP
# or TCP and prints what comes back, one line per answer. Loopback only; every wait is bounded.
#
#   sipc.py udp HOST PORT KIND [--src IP] [-n N] [-t S] [--ruri URI]
#       sends N requests of KIND (ok, big, headers, via: INVITE; ack: ACK) without credentials,
#       each with its own
#       Call-ID, from one socket (rport: answers come back to it); prints "CODE REASON" per
#       answer received within S seconds (default 1), then "answers=A"; "Retry-After" is
#       printed as "ra=V" after the code when present, and "t=MS" the time since the last send.
#   sipc.py tcpconns HOST PORT N [-t S]
#       opens N connections at once and reports after S seconds how many the proxy closed:
#       "open=O closed=C".
#   sipc.py slow HOST PORT [-t S]
#       sends the first half of a request and waits up to S seconds for the proxy to close the
#       connection; prints "closed after X.Y s" or "still open".
import socket
import sys
import time
import uuid


RURI = None


def request(kind, host, port, lport, i):
    cid = f"{uuid.uuid4().hex}-{i}@sipc"
    vias = [f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK{uuid.uuid4().hex[:16]};rport"]
    extra = []
    body = ""
    if kind == "via":
        vias += [f"Via: SIP/2.0/UDP 10.0.0.{k}:5060;branch=z9hG4bKx{k}" for k in range(1, 8)]
    elif kind == "headers":
        extra = [f"X-Pad-{k}: {k}" for k in range(40)]
    elif kind == "big":
        body = "v=0\r\n" + "a=x-pad:" + "y" * 3000 + "\r\n"
    ruri = RURI or f"sip:bob@{host}:{port}"
    method = "ACK" if kind == "ack" else "INVITE"  # an ACK is forwarded without credentials
    lines = [f"{method} {ruri} SIP/2.0"] + vias + [
        "Max-Forwards: 70",
        f"To: <sip:bob@{host}>",
        f"From: <sip:alice@{host}>;tag=t{i}",
        f"Call-ID: {cid}",
        f"CSeq: 1 {method}",
        f"Contact: <sip:alice@127.0.0.1:{lport}>",
    ] + extra + [
        "Content-Type: application/sdp" if body else "X-No-Body: 1",
        f"Content-Length: {len(body)}",
        "",
        "",
    ]
    return ("\r\n".join(lines) + body).encode()


def first_line(data):
    head = data.split(b"\r\n\r\n", 1)[0].decode(errors="replace").split("\r\n")
    out = head[0].split(" ", 1)[1] if head[0].startswith("SIP/2.0 ") else head[0]
    for h in head[1:]:
        if h.lower().startswith("retry-after:"):
            out += " ra=" + h.split(":", 1)[1].strip()
    return out


def opt(args, name, default):
    if name in args:
        k = args.index(name)
        v = args[k + 1]
        del args[k:k + 2]
        return v
    return default


def main():
    args = sys.argv[1:]
    wait = float(opt(args, "-t", "1"))
    src = opt(args, "--src", "127.0.0.1")
    n = int(opt(args, "-n", "1"))
    global RURI
    RURI = opt(args, "--ruri", None)
    mode, host, port = args[0], args[1], int(args[2])
    if mode == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)  # a burst's answers
        s.bind((src, 0))
        lport = s.getsockname()[1]
        for i in range(n):
            s.sendto(request(args[3], host, port, lport, i), (host, port))
        t0 = time.monotonic()
        s.settimeout(0.05)
        got = 0
        end = time.monotonic() + wait
        while time.monotonic() < end:
            try:
                data = s.recv(70000)
            except socket.timeout:
                continue
            got += 1
            print(f"{first_line(data)} t={(time.monotonic() - t0) * 1000:.0f}", flush=True)
        print(f"answers={got}")
    elif mode == "tcpconns":
        conns = []
        for _ in range(int(args[3])):
            c = socket.create_connection((host, port), timeout=2)
            conns.append(c)
        time.sleep(wait)
        closed = 0
        for c in conns:
            c.setblocking(False)
            try:
                closed += c.recv(1) == b""
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
            c.close()
        print(f"open={len(conns) - closed} closed={closed}")
    elif mode == "slow":
        c = socket.create_connection((host, port), timeout=2)
        req = request("ok", host, port, c.getsockname()[1], 0)
        c.sendall(req[: len(req) // 2])
        c.settimeout(wait)
        t0 = time.monotonic()
        try:
            data = c.recv(1)
            print(f"closed after {time.monotonic() - t0:.1f} s" if data == b"" else "data")
        except socket.timeout:
            print("still open")
        except OSError:
            print(f"closed after {time.monotonic() - t0:.1f} s")
    else:
        sys.exit(2)


if __name__ == "__main__":
    main()

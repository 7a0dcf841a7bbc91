#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# ha1_ua.py - the SIP side of ha1_cache.sh: a UA that answers 407s itself (MD5, qop=auth) and
# a UAS that answers 200 to whatever the proxy forwards, against mara-proxy with the HA1 cache
# on and mara-aaa in return_ha1 mode. Prints TAP-like "ok"/"not ok" lines; exit 1 on a failure.
# Usage: ha1_ua.py PROXY_PORT UAS_PORT STATS_PORT AAA_PID AAA_LOG USERS_FILE MAX_AGE_S LIFE_S
#        OTHER_PROXY_PORT (a second mara-proxy on the same mara-aaa, its cache off)
import hashlib
import os
import random
import re
import signal
import socket
import sys
import threading
import time
import urllib.request

PPORT, UPORT, SPORT, AAA_PID = (int(x) for x in sys.argv[1:5])
AAA_LOG, USERS = sys.argv[5], sys.argv[6]
MAX_AGE, LIFE, OTHER = int(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9])
REALM, URI = "example.com", "sip:bob@example.com"
FAIL = False


def check(what, cond, detail=""):
    global FAIL
    print(("ok - " if cond else "not ok - ") + what + ("" if cond else "  # " + str(detail)))
    sys.stdout.flush()
    if not cond:
        FAIL = True


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def metrics():
    body = urllib.request.urlopen(f"http://127.0.0.1:{SPORT}/metrics", timeout=3).read()
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def mars(m):
    return m.get("mara_diameter_mar_sent_total", 0)


def local(m):
    return m.get('mara_auth_local_total{result="validated"}', 0)


# ---- the UAS: 200 to every request, back to the proxy it came from --------------------------
seen = []
stop = False


def uas():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", UPORT))
    s.settimeout(0.1)
    while not stop:
        try:
            data, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        msg = data.decode(errors="replace")
        if msg.startswith("SIP/2.0"):
            continue
        seen.append(msg)
        lines = msg.split("\r\n\r\n")[0].split("\r\n")[1:]
        keep = [l for l in lines if l.split(":")[0].strip().lower() in ("via", "from", "call-id", "cseq")]
        to = [l for l in lines if l.lower().startswith("to:")][0]
        s.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(keep + [to + ";tag=uas"]) +
                  "\r\nContent-Length: 0\r\n\r\n").encode(), addr)


th = threading.Thread(target=uas, daemon=True)
th.start()
time.sleep(0.2)


class UA:
    def __init__(self, user, pw):
        self.user, self.pw = user, pw
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.s.settimeout(0.5)
        self.port = self.s.getsockname()[1]
        self.callid = "%x@ha1-test" % random.getrandbits(64)
        self.cseq = 0
        self.nonce = None
        self.last = None

    def build(self, nc=None, pw=None):
        self.cseq += 1
        br = "z9hG4bK%x" % random.getrandbits(48)
        auth = ""
        if nc is not None:
            ha1 = md5(f"{self.user}:{REALM}:{pw or self.pw}")
            ncs = "%08x" % nc
            resp = md5(f"{ha1}:{self.nonce}:{ncs}:c0ffee:auth:{md5('MESSAGE:' + URI)}")
            auth = (f'Proxy-Authorization: Digest username="{self.user}", realm="{REALM}", '
                    f'nonce="{self.nonce}", uri="{URI}", response="{resp}", algorithm=MD5, '
                    f'cnonce="c0ffee", qop=auth, nc={ncs}\r\n')
            self.rspauth = md5(f"{ha1}:{self.nonce}:{ncs}:c0ffee:auth:{md5(':' + URI)}")
        return (f"MESSAGE {URI} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{self.port};branch={br};rport\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:{self.user}@{REALM}>;tag=ua1\r\nTo: <{URI}>\r\n"
                f"Call-ID: {self.callid}\r\nCSeq: {self.cseq} MESSAGE\r\n{auth}"
                f"Content-Length: 0\r\n\r\n")

    def send(self, text, port=PPORT):
        """Sends @text, returns (status, response text) of the final response, (0, '') after 3 s."""
        self.last = text
        cseq = re.search(r"CSeq: (\d+)", text).group(1)
        self.s.sendto(text.encode(), ("127.0.0.1", port))
        end = time.time() + 3
        while time.time() < end:
            try:
                data = self.s.recv(65535).decode(errors="replace")
            except socket.timeout:
                continue
            if re.search(r"CSeq: %s " % cseq, data) is None:
                continue
            st = int(data.split(" ", 2)[1])
            if st >= 200:
                return st, data
        return 0, ""

    def challenge(self):
        st, r = self.send(self.build())
        m = re.search(r'Proxy-Authenticate: Digest .*nonce="([^"]+)"', r)
        self.nonce = m.group(1) if m else None
        return st

    def auth(self, nc, pw=None):
        return self.send(self.build(nc, pw))


def pai_ok(ua, r):
    m = re.search(r"Proxy-Authentication-Info: ([^\r]*)", r)
    return bool(m) and f'rspauth="{ua.rspauth}"' in m.group(1) and "nc=" in m.group(1)


def stale(r):
    return r.startswith("SIP/2.0 407") and "stale=true" in r


# ---- 1. replayed nonce-count --------------------------------------------------------------------
a = UA("alice", "alice-secret")
check("alice: MESSAGE without credentials -> 407 with a nonce", a.challenge() == 407 and a.nonce)
m0 = metrics()
st, r = a.auth(1)
m1 = metrics()
check("alice nc=1: MAR (the nonce is new here), 200, Proxy-Authentication-Info with the right rspauth",
      st == 200 and mars(m1) - mars(m0) == 1 and pai_ok(a, r), (st, mars(m1) - mars(m0), r))
ok = True
for nc in (2, 3):
    st, r = a.auth(nc)
    ok = ok and st == 200 and pai_ok(a, r)
    nc3 = a.last
m2 = metrics()
check("alice nc=2,3: 200 validated by the proxy, no MAR, rspauth computed locally",
      ok and mars(m2) == mars(m1) and local(m2) - local(m1) == 2, (ok, mars(m2) - mars(m1), local(m2) - local(m1)))
# an attacker replays the captured nc=3 request as a new transaction (new branch)
n_seen = len(seen)
st, r = a.send(re.sub(r"branch=z9hG4bK[0-9a-f]+", "branch=z9hG4bKreplay1", nc3))
m3 = metrics()
check("replayed nc=3 (new transaction): not validated locally (nc not higher), the MAR refuses: 407 stale",
      stale(r) and mars(m3) - mars(m2) == 1 and
      m3.get('mara_auth_cache_fallbacks_total{reason="nc_not_higher"}', 0) >= 1, (st, r[:200]))
eve = UA("alice", "x")
eve.callid, eve.cseq = a.callid, 100
st, r = eve.send(re.sub(r"branch=z9hG4bK[0-9a-f]+", "branch=z9hG4bKreplay2", nc3))
check("replayed nc=3 from another address (maybe another shard): refused (407 stale)", stale(r), (st, r[:200]))
st, r = eve.send(re.sub(r"nc=00000003", "nc=00000009", re.sub(r"branch=z9hG4bK[0-9a-f]+", "branch=z9hG4bKreplay3", nc3)))
check("a captured request with its nc raised: wrong response, refused", st in (403, 407), st)
st, r = eve.send(re.sub(r"branch=z9hG4bK[0-9a-f]+", "branch=z9hG4bKreplay4", nc3), port=OTHER)
check("replayed nc=3 through another proxy of the realm (no cache entry there): mara-aaa "
      "refuses the handed-over nonce, 407 stale", stale(r), (st, r[:200]))
check("the replays never reached the UAS", len(seen) == n_seen, len(seen) - n_seen)
st, r = a.auth(5, pw="guess")
check("a wrong response on a cached nonce: refused (the MAR decides), nc not burnt", st in (403, 407), st)
st, r = a.auth(4)
check("alice's own next count (nc=4) still passes locally", st == 200 and pai_ok(a, r), st)

# ---- 2. expired nonce, 3. removed user ------------------------------------------------------------
b = UA("bob", "bob-secret")
c = UA("carol", "carol-secret")
check("bob and carol: 407, then nc=1 (MAR) and nc=2 (local) 200",
      b.challenge() == 407 and c.challenge() == 407 and b.auth(1)[0] == 200 and
      c.auth(1)[0] == 200 and b.auth(2)[0] == 200 and c.auth(2)[0] == 200)
t_learned = time.time()
# carol is removed from mara-aaa's store, which reloads on SIGHUP
with open(USERS) as f:
    lines = [l for l in f if not l.startswith("carol:")]
with open(USERS, "w") as f:
    f.writelines(lines)
before = open(AAA_LOG).read().count("msg=\"reloaded\"")
os.kill(AAA_PID, signal.SIGHUP)
end = time.time() + 5
while open(AAA_LOG).read().count("msg=\"reloaded\"") == before and time.time() < end:
    time.sleep(0.05)
check("mara-aaa reloaded its user store without carol",
      open(AAA_LOG).read().count("msg=\"reloaded\"") > before)
st, _ = c.auth(3)
check(f"carol nc=3 right after the reload: still served from the cache (the bound is max_age_s = {MAX_AGE} s)",
      st == 200, st)
# nextnonce: a request MAR-validated on a nonce past half its lifetime brings a fresh nonce in
# Proxy-Authentication-Info, and the UA moves to it without a 407
d = UA("alice", "alice-secret")
d.challenge()
time.sleep(LIFE / 2 + 0.6)
chal0 = metrics().get('mara_sip_challenges_total{kind="fresh"}', 0)
st, r = d.auth(1)
nn = re.search(r'Proxy-Authentication-Info: [^\r]*nextnonce="([^"]+)"', r)
check("a nonce past half its lifetime: the 200 carries Proxy-Authentication-Info nextnonce",
      st == 200 and nn and nn.group(1) != d.nonce, (st, r[:300]))
if nn:
    d.nonce = nn.group(1)
    st, r = d.auth(1)
    st2, _ = d.auth(2)
    check("the UA moves to the nextnonce: nc=1 (MAR) and nc=2 (local) 200, no 407 in between",
          st == 200 and st2 == 200 and
          metrics().get('mara_sip_challenges_total{kind="fresh"}', 0) == chal0, (st, st2))
# past max_age_s (the entries) and the nonce lifetime (bob's nonce)
time.sleep(max(0.0, t_learned + max(MAX_AGE, LIFE) + 1 - time.time()))
m4 = metrics()
st, r = b.auth(3)
check(f"bob nc=3 after the nonce lifetime ({LIFE} s): refused with 407 stale=true, not forwarded",
      stale(r), (st, r[:200]))
st, r = c.auth(4)
m5 = metrics()
check(f"carol nc=4 after max_age_s: the MAR goes out and mara-aaa refuses the removed user: 403",
      st == 403, (st, r[:200]))
check("both went to the MAR because their cache entries had expired",
      m5.get('mara_auth_cache_fallbacks_total{reason="expired"}', 0) -
      m4.get('mara_auth_cache_fallbacks_total{reason="expired"}', 0) == 2)
st = b.challenge()
check("bob starts again on a fresh nonce: 407, nc=1 200, nc=2 200 locally",
      st == 407 and b.auth(1)[0] == 200 and b.auth(2)[0] == 200)
stop = True
th.join()
sys.exit(1 if FAIL else 0)

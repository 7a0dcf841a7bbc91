# sip_tls_call.py HOST PORT CAFILE SERVERNAME: one authenticated INVITE over SIP/TLS (Figure 4):
# INVITE -> 407 -> ACK -> INVITE + Proxy-Authorization -> 200 -> ACK -> BYE -> 200, all on one
# TLS connection to the proxy. Prints each status line received; exit 0 when the BYE got 200.
import hashlib, re, socket, ssl, sys, uuid

host, port, ca, name = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection((host, port), timeout=5), server_hostname=name)
lport = s.getsockname()[1]
print("tls %s %s" % (s.version(), s.cipher()[0]))
buf = b""


def read_msg():
    global buf
    while True:
        m = re.search(rb"\r\n\r\n", buf)
        if m:
            head = buf[: m.end()].decode()
            cl = re.search(r"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
            n = m.end() + (int(cl.group(1)) if cl else 0)
            if len(buf) >= n:
                msg, buf = buf[:n].decode(), buf[n:]
                return msg
        d = s.recv(65536)
        if not d:
            sys.exit("connection closed")
        buf += d


def hdr(msg, name):
    m = re.search(r"(?im)^%s\s*:\s*(.*)$" % name, msg)
    return m.group(1).strip() if m else ""


def hdrs(msg, name):
    return [v.strip() for v in re.findall(r"(?im)^%s\s*:\s*(.*)$" % name, msg)]


def response(want_cseq):
    while True:
        msg = read_msg()
        status = msg.split("\r\n", 1)[0]
        print(status)
        if not status.startswith("SIP/2.0 1") and hdr(msg, "CSeq").endswith(want_cseq):
            return status, msg


call, ftag = uuid.uuid4().hex + "@tls", uuid.uuid4().hex[:8]
ruri = "sip:service@%s:%d" % (host, port)
via = lambda b: "Via: SIP/2.0/TLS %s:%d;branch=z9hG4bK%s;rport\r\n" % (host, lport, b)


def req(method, uri, branch, cseq, to, extra=""):
    s.sendall((
        "%s %s SIP/2.0\r\n" % (method, uri) + via(branch) + "Max-Forwards: 70\r\n"
        "From: <sip:alice@example.com>;tag=%s\r\nTo: %s\r\nCall-ID: %s\r\n"
        "CSeq: %d %s\r\nContact: <sip:alice@%s:%d;transport=tls>\r\n%s"
        "Content-Length: 0\r\n\r\n" % (ftag, to, call, cseq, method, host, lport, extra)
    ).encode())


to0 = "<sip:service@example.com>"
req("INVITE", ruri, "a1", 1, to0)
st, m = response("INVITE")
if not st.startswith("SIP/2.0 407"):
    sys.exit("expected 407, got " + st)
req("ACK", ruri, "a1", 1, hdr(m, "To"))
ch = hdr(m, "Proxy-Authenticate")
p = dict(re.findall(r'(\w+)="?([^",]*)"?', ch))
ha1 = hashlib.md5(("alice:%s:alice-secret" % p["realm"]).encode()).hexdigest()
ha2 = hashlib.md5(("INVITE:" + ruri).encode()).hexdigest()
cnonce, nc = uuid.uuid4().hex[:16], "00000001"
resp = hashlib.md5(":".join([ha1, p["nonce"], nc, cnonce, "auth", ha2]).encode()).hexdigest()
auth = ('Proxy-Authorization: Digest username="alice",realm="%s",nonce="%s",uri="%s",'
        'response="%s",algorithm=MD5,qop=auth,nc=%s,cnonce="%s"%s\r\n'
        % (p["realm"], p["nonce"], ruri, resp, nc, cnonce,
           ',opaque="%s"' % p["opaque"] if "opaque" in p else ""))
req("INVITE", ruri, "a2", 2, to0, auth)
st, m = response("INVITE")
if not st.startswith("SIP/2.0 200"):
    sys.exit("expected 200, got " + st)
# the dialog: the UAS's Contact, through the proxy's Record-Route (reversed for the UAC)
route = "".join("Route: %s\r\n" % r for r in reversed(",".join(hdrs(m, "Record-Route")).split(",")) if r)
target = re.search(r"<([^>]*)>", hdr(m, "Contact")).group(1)
to = hdr(m, "To")
req("ACK", target, "a3", 2, to, route)
req("BYE", target, "a4", 3, to, route)
st, m = response("BYE")
if not st.startswith("SIP/2.0 200"):
    sys.exit("expected 200 to BYE, got " + st)
s.close()

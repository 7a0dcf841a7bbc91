/* SPDX-License-Identifier: MIT
 * mb_sip.c - SIP parsing: mara's sip_parse() against libosip2's osip_message_parse() on the
 * same bytes (an INVITE with SDP and Proxy-Authorization, its 200 OK, a REGISTER).
 * Owns: the message texts and one reused struct sip_msg per benchmark.
 * Thread: main thread (set-up and runs). */
#include "mb.h"

#include "auth.h"
#include "sip.h"

#include <errno.h>
#include <osipparser2/osip_message.h>
#include <osipparser2/osip_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Typical traffic at the proxy: headers a UA sends (Via with rport, Contact, Allow,
 * Supported, User-Agent), the retried INVITE with its credentials, the callee's 200 OK after
 * one proxy (two Via, Record-Route), a REGISTER. Content-Length is filled in at set-up. */
static const char invite_hdrs[] =
    "INVITE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n"
    "Max-Forwards: 70\r\n"
    "To: Bob <sip:bob@example.com>\r\n"
    "From: Alice <sip:alice@example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
    "CSeq: 314160 INVITE\r\n"
    "Contact: <sip:alice@192.0.2.10:5060;transport=udp>\r\n"
    "Proxy-Authorization: Digest username=\"alice\", realm=\"example.com\", "
    "nonce=\"0000000065a1b2c3f1e2d3c4b5a69788a1b2c3d4e5f60718293a4b5c6d7e8f90\", "
    "uri=\"sip:bob@example.com\", response=\"6629fae49393a05397450978507c4ef1\", "
    "algorithm=MD5, cnonce=\"0a4f113b\", qop=auth, nc=00000001\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK, REFER, NOTIFY\r\n"
    "Supported: replaces, timer, 100rel\r\n"
    "User-Agent: ExamplePhone/1.2.3\r\n"
    "Content-Type: application/sdp\r\n";

static const char invite_sdp[] = "v=0\r\n"
                                 "o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
                                 "s=-\r\n"
                                 "c=IN IP4 192.0.2.10\r\n"
                                 "t=0 0\r\n"
                                 "m=audio 49170 RTP/AVP 0 8 101\r\n"
                                 "a=rtpmap:0 PCMU/8000\r\n"
                                 "a=rtpmap:8 PCMA/8000\r\n"
                                 "a=rtpmap:101 telephone-event/8000\r\n"
                                 "a=fmtp:101 0-15\r\n"
                                 "a=ptime:20\r\n"
                                 "a=sendrecv\r\n";

static const char ok_hdrs[] =
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-mara-5f2c8e1a9b7d4c3e\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport=5060;received=192.0.2.10\r\n"
    "Record-Route: <sip:127.0.0.1:5060;lr>\r\n"
    "To: Bob <sip:bob@example.com>;tag=a6c85cf\r\n"
    "From: Alice <sip:alice@example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
    "CSeq: 314160 INVITE\r\n"
    "Contact: <sip:bob@192.0.2.20:5060>\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE\r\n"
    "Supported: replaces, timer\r\n"
    "Content-Type: application/sdp\r\n";

static const char ok_sdp[] = "v=0\r\n"
                             "o=bob 2808844564 2808844564 IN IP4 192.0.2.20\r\n"
                             "s=-\r\n"
                             "c=IN IP4 192.0.2.20\r\n"
                             "t=0 0\r\n"
                             "m=audio 3456 RTP/AVP 0 101\r\n"
                             "a=rtpmap:0 PCMU/8000\r\n"
                             "a=rtpmap:101 telephone-event/8000\r\n"
                             "a=sendrecv\r\n";

static const char register_hdrs[] =
    "REGISTER sip:example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKnashds7;rport\r\n"
    "Max-Forwards: 70\r\n"
    "To: Alice <sip:alice@example.com>\r\n"
    "From: Alice <sip:alice@example.com>;tag=456248\r\n"
    "Call-ID: 843817637684230@998sdasdh09\r\n"
    "CSeq: 1826 REGISTER\r\n"
    "Contact: <sip:alice@192.0.2.10:5060;transport=udp>;expires=3600\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK, REFER, NOTIFY\r\n"
    "User-Agent: ExamplePhone/1.2.3\r\n"
    "Expires: 3600\r\n";

struct sip_case {
	const char *name;
	const char *hdrs;
	const char *body; /* NULL: none */
	char *buf;        /* the message, built at set-up */
	uint32_t len;
	struct sip_msg *msg; /* mara: reused, as a shard reuses its own */
};

static struct sip_case cases[] = {
    {"INVITE", invite_hdrs, invite_sdp, NULL, 0, NULL},
    {"200OK", ok_hdrs, ok_sdp, NULL, 0, NULL},
    {"REGISTER", register_hdrs, NULL, NULL, 0, NULL},
};

/* hot: the proxy's cost per datagram: the message framed, the start line, every header line
 * found and typed, the hot headers (Via, From, To, Call-ID, CSeq, Max-Forwards,
 * Content-Length) parsed; the others stay slices until asked for. */
static void mara_parse(void *arg, uint64_t iters)
{
	struct sip_case *c = arg;

	for (uint64_t i = 0; i < iters; i++) {
		int n = sip_parse(c->msg, c->buf, c->len, false);

		if (mr_unlikely(n != (int)c->len))
			abort();
		mb_do_not_optimize(c->msg);
	}
}

/* What libosip2 builds beyond sip_parse(): the header values it turns into structures
 * (Contact, Route and Record-Route name-addrs and their URIs, From/To URIs, the digest
 * parameters of (Proxy-)Authorization), parsed with mara's own functions. Returns 0 or -1. */
static int parse_deep(const struct sip_msg *m)
{
	char scratch[256];
	struct sip_nameaddr na;
	struct auth_digest d;
	struct sip_uri u;
	int bad = 0;

	bad |= sip_uri_parse(m->from.uri, &u);
	bad |= sip_uri_parse(m->to.uri, &u);
	for (unsigned i = 0; i < m->nhdrs; i++) {
		const struct sip_hdr *h = &m->hdrs[i];
		struct mr_str cur = h->value, v;

		switch (h->type) {
		case SIP_HDR_CONTACT:
		case SIP_HDR_ROUTE:
		case SIP_HDR_RECORD_ROUTE:
			while (sip_value_next(&cur, &v) > 0) {
				bad |= sip_nameaddr_parse(v, &na);
				bad |= sip_uri_parse(na.uri, &u);
			}
			break;
		case SIP_HDR_PROXY_AUTHORIZATION:
		case SIP_HDR_AUTHORIZATION:
			bad |= auth_digest_parse(h->value, &d, scratch, sizeof(scratch));
			break;
		default:
			break;
		}
	}
	mb_do_not_optimize(&u);
	mb_do_not_optimize(&d);
	return bad ? -1 : 0;
}

/* hot: sip_parse() plus parse_deep(): the same depth as libosip2, a like-for-like pair. */
static void mara_parse_deep(void *arg, uint64_t iters)
{
	struct sip_case *c = arg;

	for (uint64_t i = 0; i < iters; i++) {
		int n = sip_parse(c->msg, c->buf, c->len, false);

		if (mr_unlikely(n != (int)c->len || parse_deep(c->msg)))
			abort();
		mb_do_not_optimize(c->msg);
	}
}

/* libosip2: a message object per message (its API allocates one), parsed whole (all
 * headers, the body kept as an osip_body_t), then freed, as a libosip2 user does. */
static void osip_parse(void *arg, uint64_t iters)
{
	struct sip_case *c = arg;

	for (uint64_t i = 0; i < iters; i++) {
		osip_message_t *m;

		if (mr_unlikely(osip_message_init(&m) != 0))
			abort();
		if (mr_unlikely(osip_message_parse(m, c->buf, c->len) != 0))
			abort();
		mb_do_not_optimize(m);
		osip_message_free(m);
	}
}

static int case_build(struct sip_case *c)
{
	size_t blen = c->body ? strlen(c->body) : 0;
	size_t cap = strlen(c->hdrs) + blen + 64;
	int n;

	c->buf = malloc(cap);
	c->msg = calloc(1, sizeof(*c->msg));
	if (!c->buf || !c->msg)
		return -ENOMEM;
	n = snprintf(c->buf, cap, "%sContent-Length: %zu\r\n\r\n%s", c->hdrs, blen,
	             c->body ? c->body : "");
	if (n < 0 || (size_t)n >= cap)
		return -ENOBUFS;
	c->len = (uint32_t)n;
	return 0;
}

/* Both parsers must accept each message whole before anything is timed. */
static int case_check(struct sip_case *c)
{
	osip_message_t *m;
	int n = sip_parse(c->msg, c->buf, c->len, false);

	if (n != (int)c->len || parse_deep(c->msg)) {
		fprintf(stderr, "mb_sip: mara rejects %s (%d)\n", c->name, n);
		return -EBADMSG;
	}
	if (osip_message_init(&m) != 0)
		return -ENOMEM;
	n = osip_message_parse(m, c->buf, c->len);
	osip_message_free(m);
	if (n != 0) {
		fprintf(stderr, "mb_sip: libosip2 rejects %s (%d)\n", c->name, n);
		return -EBADMSG;
	}
	return 0;
}

int mb_sip_init(void)
{
	char name[64], len[16];
	int ret;

	parser_init(); /* libosip2's header-name table, once per process */
	mb_context("libosip2", MB_OSIP_VERSION);
	for (size_t i = 0; i < MR_ARRAY_SIZE(cases); i++) {
		struct sip_case *c = &cases[i];

		ret = case_build(c);
		if (ret == 0)
			ret = case_check(c);
		if (ret < 0)
			return ret;
		snprintf(name, sizeof(name), "sip_bytes_%s", c->name);
		snprintf(len, sizeof(len), "%u", c->len);
		mb_context(name, len);
		snprintf(name, sizeof(name), "sip_parse/%s/mara", c->name);
		mb_register(name, mara_parse, c, 1, c->len);
		snprintf(name, sizeof(name), "sip_parse/%s/mara_deep", c->name);
		mb_register(name, mara_parse_deep, c, 1, c->len);
		snprintf(name, sizeof(name), "sip_parse/%s/libosip2", c->name);
		mb_register(name, osip_parse, c, 1, c->len);
	}
	return 0;
}

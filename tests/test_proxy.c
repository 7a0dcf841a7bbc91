/* SPDX-License-Identifier: MIT
 * test_proxy.c - cmocka tests of the stateless proxy rules and builders (sip_proxy.h): verdicts
 * of sip_proxy_route() (RFC 3261 §16.3-16.6), branch and To-tag (§16.11), local responses
 * (§8.2.6, RFC 3581), forwarded requests and responses (§16.6, §18.2.2), CIDR allow-lists.
 * Every message is real SIP text parsed with sip_parse(); every builder output is parsed back.
 * Table rows (route_cases, fwd_cases, resp_cases, cidr_cases) run as tests of their own.
 * Over 1500 lines because of those tables: one file per module (style §11).
 * Owns: heap copies of exact size (the sanitizer build catches reads past them). Thread: single. */
#include "sip_guard.h"
#include "sip_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define CRLF "\r\n"

/* ---- helpers ----------------------------------------------------------------------------- */

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		abort();
	return p;
}

/* A parsed message and the exact-size buffer its slices point into. */
struct tmsg {
	struct sip_msg m;
	char *buf;
	uint32_t len;
};

static struct tmsg *tmsg_parse_n(const char *s, size_t len)
{
	struct tmsg *t = xmalloc(sizeof(*t));
	int rc;

	memset(t, 0, sizeof(*t));
	t->buf = xmalloc(len);
	memcpy(t->buf, s, len);
	t->len = (uint32_t)len;
	rc = sip_parse(&t->m, t->buf, t->len, false);
	if (rc <= 0)
		fail_msg("sip_parse: %d on:\n%.*s", rc, (int)len, s);
	return t;
}

static struct tmsg *tmsg_parse(const char *s)
{
	return tmsg_parse_n(s, strlen(s));
}

static void tmsg_free(struct tmsg *t)
{
	if (!t)
		return;
	free(t->buf);
	free(t);
}

static struct tmsg *vec_parse(const char *name)
{
	char path[512], *p;
	struct tmsg *t;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/rfc4475/%s.dat", MR_TEST_VECTORS, name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	p = xmalloc((size_t)n);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	t = tmsg_parse_n(p, (size_t)n);
	free(p);
	return t;
}

static bool str_is(struct mr_str s, const char *c)
{
	return s.len == strlen(c) && (s.len == 0 || memcmp(s.p, c, s.len) == 0);
}

static void expect_str(struct mr_str s, const char *want, const char *what, const char *ctx)
{
	if (!str_is(s, want))
		fail_msg("%s: %s is \"%.*s\", want \"%s\"", ctx, what, (int)s.len, s.p ? s.p : "",
		         want);
}

/* Whether @hay (not NUL-terminated) contains @needle. */
static bool mem_has(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return true;
	return false;
}

static unsigned hdr_count(const struct sip_msg *m, enum sip_hdr_type type)
{
	unsigned n = 0;

	for (unsigned i = 0; i < m->nhdrs; i++)
		n += m->hdrs[i].type == type;
	return n;
}

/* Index in @m->hdrs of the @nth header of @type, -1 if none. */
static int hdr_nth(const struct sip_msg *m, enum sip_hdr_type type, unsigned nth)
{
	for (unsigned i = 0; i < m->nhdrs; i++)
		if (m->hdrs[i].type == type && nth-- == 0)
			return (int)i;
	return -1;
}

static struct mr_str hdr_value(const struct sip_msg *m, enum sip_hdr_type type, unsigned nth)
{
	int i = hdr_nth(m, type, nth);

	return i < 0 ? (struct mr_str){0} : m->hdrs[i].value;
}

static void expect_addr(const struct sockaddr_storage *ss, socklen_t len, const char *ip,
                        unsigned port, const char *ctx)
{
	char txt[64] = "?";
	unsigned p = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, txt, sizeof(txt));
		p = ntohs(s4->sin_port);
		if (len != sizeof(*s4))
			fail_msg("%s: socklen %u for AF_INET", ctx, (unsigned)len);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, txt, sizeof(txt));
		p = ntohs(s6->sin6_port);
		if (len != sizeof(*s6))
			fail_msg("%s: socklen %u for AF_INET6", ctx, (unsigned)len);
	}
	if (strcmp(txt, ip) != 0 || p != port)
		fail_msg("%s: next hop %s:%u, want %s:%u", ctx, txt, p, ip, port);
}

static struct sockaddr_storage ss_of(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		fail_msg("bad test address %s", ip);
	return ss;
}

/* ---- configuration and requests ------------------------------------------------------------ */

enum cfg_kind { CFG_BASE, CFG_STAR, CFG_AUTH_DLG, CFG_COUNT };

static struct sip_proxy_cfg cfgs[CFG_COUNT];

static void route_add(struct sip_proxy_cfg *c, const char *dom, const char *addr, uint16_t port,
                      enum sip_transport tp)
{
	struct sip_route *r = &c->routes[c->nroutes++];

	snprintf(r->domain, sizeof(r->domain), "%s", dom);
	snprintf(r->addr, sizeof(r->addr), "%s", addr);
	r->port = port;
	r->tp = tp;
}

static void cfg_build(struct sip_proxy_cfg *c, enum cfg_kind kind)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->host, sizeof(c->host), "127.0.0.1");
	c->port = 5060;
	snprintf(c->realm, sizeof(c->realm), "example.com");
	c->auth_methods = 0x7fffu & ~(unsigned)(SIP_M_ACK | SIP_M_CANCEL);
	c->auth_in_dialog = kind == CFG_AUTH_DLG;
	c->record_route = true;
	memcpy(c->secret, "0123456789abcdef", 16);
	route_add(c, "example.com", "127.0.0.10", 5080, SIP_TP_UDP);
	route_add(c, "tcp.example.com", "127.0.0.11", 5090, SIP_TP_TCP);
	route_add(c, "outside.example.com", "192.0.2.1", 5060, SIP_TP_UDP);
	if (kind == CFG_STAR)
		route_add(c, "*", "127.0.0.20", 5060, SIP_TP_UDP);
	assert_int_equal(sip_cidr_parse("127.0.0.0/8", &c->allow[c->nallow++]), 0);
	assert_int_equal(sip_cidr_parse("::1", &c->allow[c->nallow++]), 0);
}

static int group_setup(void **state)
{
	(void)state;
	for (int k = 0; k < CFG_COUNT; k++)
		cfg_build(&cfgs[k], (enum cfg_kind)k);
	return 0;
}

/* A request's variable parts; NULL fields take the defaults. */
struct rq {
	const char *method; /* "INVITE" */
	const char *ruri;   /* "sip:bob@example.com" */
	const char *via;    /* whole Via lines, CRLF-terminated */
	const char *totag;  /* NULL: no To-tag */
	const char *mf;     /* NULL: "70"; "": no Max-Forwards */
	const char *extra;  /* more header lines, CRLF-terminated */
	const char *body;   /* NULL: none */
	bool no_cl;         /* no Content-Length header */
	const char *callid; /* "c1@127.0.0.2" */
	const char *ftag;   /* "fa1" */
	unsigned cseq;      /* 0: 1 */
};

#define VIA_DEF "Via: SIP/2.0/UDP 127.0.0.2:5070;rport;branch=z9hG4bKc1" CRLF

static size_t rq_text(const struct rq *r, char *out, size_t cap)
{
	const char *method = r->method ? r->method : "INVITE";
	const char *body = r->body ? r->body : "";
	char mf[40] = "", cl[40] = "", to_tag[80] = "";
	int n;

	if (!r->mf || r->mf[0])
		snprintf(mf, sizeof(mf), "Max-Forwards: %s" CRLF, r->mf ? r->mf : "70");
	if (!r->no_cl)
		snprintf(cl, sizeof(cl), "Content-Length: %zu" CRLF, strlen(body));
	if (r->totag)
		snprintf(to_tag, sizeof(to_tag), ";tag=%s", r->totag);
	n = snprintf(out, cap,
	             "%s %s SIP/2.0" CRLF "%s%s"
	             "From: \"Alice\" <sip:alice@example.com>;tag=%s" CRLF
	             "To: <sip:bob@example.com>%s" CRLF "Call-ID: %s" CRLF "CSeq: %u %s" CRLF
	             "%s%s%s" CRLF "%s",
	             method, r->ruri ? r->ruri : "sip:bob@example.com", r->via ? r->via : VIA_DEF,
	             mf, r->ftag ? r->ftag : "fa1", to_tag, r->callid ? r->callid : "c1@127.0.0.2",
	             r->cseq ? r->cseq : 1, method, r->extra ? r->extra : "",
	             r->body ? "Content-Type: application/sdp" CRLF : "", cl, body);
	assert_true(n > 0 && (size_t)n < cap);
	return (size_t)n;
}

static struct tmsg *rq_parse(const struct rq *r)
{
	char text[4096];
	size_t n = rq_text(r, text, sizeof(text));

	return tmsg_parse_n(text, n);
}

static struct sip_rcv rcv_udp(const char *ip, uint16_t port)
{
	struct sip_rcv rcv;

	memset(&rcv, 0, sizeof(rcv));
	rcv.src = ss_of(ip);
	if (rcv.src.ss_family == AF_INET)
		((struct sockaddr_in *)&rcv.src)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&rcv.src)->sin6_port = htons(port);
	rcv.tp = SIP_TP_UDP;
	snprintf(rcv.src_ip, sizeof(rcv.src_ip), "%s", ip);
	rcv.src_port = port;
	return rcv;
}

/* ---- sip_proxy_route: the verdict table ------------------------------------------------------ */

static const char *const ROUTE_OURS = "Route: <sip:127.0.0.1:5060;lr>" CRLF;

/* One row: the request (method, R-URI, To-tag, Max-Forwards, extra header lines; NULL takes the
 * struct rq default) and the decision expected. */
struct route_case {
	const char *name;
	enum cfg_kind cfg;
	const char *method, *ruri, *totag, *mf, *extra;
	enum sip_verdict verdict;
	unsigned code;  /* SIP_V_REPLY */
	const char *ip; /* next hop (checked for FORWARD/AUTH) */
	unsigned port;
	enum sip_transport tp;
	int pop;
	const char *new_ruri; /* NULL: none */
	bool strict_next;
	bool in_dialog;
};

#define RT_BYE "BYE", "sip:bob@127.0.0.5:5070", "t2", NULL

static const struct route_case route_cases[] = {
    /* the auth policy */
    {"INVITE, no credentials", CFG_BASE, NULL, NULL, NULL, NULL, NULL, SIP_V_AUTH, 0, "127.0.0.10",
     5080},
    {"REGISTER", CFG_BASE, "REGISTER", "sip:example.com", NULL, NULL, NULL, SIP_V_AUTH, 0,
     "127.0.0.10", 5080},
    {"OPTIONS", CFG_BASE, "OPTIONS", NULL, NULL, NULL, NULL, SIP_V_AUTH, 0, "127.0.0.10", 5080},
    {"ACK (other To-tag) forwarded", CFG_BASE, "ACK", "sip:bob@127.0.0.5:5070", "uas-tag", NULL,
     NULL, SIP_V_FORWARD, 0, "127.0.0.5", 5070},
    {"ACK without To-tag forwarded", CFG_BASE, "ACK", NULL, NULL, NULL, NULL, SIP_V_FORWARD, 0,
     "127.0.0.10", 5080},
    {"CANCEL forwarded like its INVITE", CFG_BASE, "CANCEL", NULL, NULL, NULL, NULL, SIP_V_FORWARD,
     0, "127.0.0.10", 5080},
    {"CANCEL with Proxy-Require still forwarded", CFG_BASE, "CANCEL", NULL, NULL, NULL,
     "Proxy-Require: foo" CRLF, SIP_V_FORWARD, 0, "127.0.0.10", 5080},
    {"BYE in dialog (our Route) not challenged", CFG_BASE, RT_BYE, ROUTE_OURS, SIP_V_FORWARD, 0,
     "127.0.0.5", 5070, SIP_TP_UDP, 1, NULL, false, true},
    {"BYE in dialog, our Route without port", CFG_BASE, RT_BYE, "Route: <sip:127.0.0.1;lr>" CRLF,
     SIP_V_FORWARD, 0, "127.0.0.5", 5070, SIP_TP_UDP, 1, NULL, false, true},
    {"BYE in dialog, auth_in_dialog", CFG_AUTH_DLG, RT_BYE, ROUTE_OURS, SIP_V_AUTH, 0, "127.0.0.5",
     5070, SIP_TP_UDP, 1, NULL, false, true},
    {"BYE with To-tag, no Route: out of dialog", CFG_BASE, RT_BYE, NULL, SIP_V_AUTH, 0, "127.0.0.5",
     5070},
    {"BYE with To-tag, Route not ours", CFG_BASE, RT_BYE, "Route: <sip:127.0.0.30;lr>" CRLF,
     SIP_V_AUTH, 0, "127.0.0.30", 5060},
    /* validation */
    {"Max-Forwards 0", CFG_BASE, NULL, NULL, NULL, "0", NULL, SIP_V_REPLY, 483},
    {"Max-Forwards 0 on ACK", CFG_BASE, "ACK", "sip:bob@127.0.0.5:5070", "x", "0", NULL,
     SIP_V_FORWARD, 0, "127.0.0.5", 5070},
    {"Max-Forwards 1", CFG_BASE, NULL, NULL, NULL, "1", NULL, SIP_V_AUTH, 0, "127.0.0.10", 5080},
    {"Max-Forwards absent", CFG_BASE, NULL, NULL, NULL, "", NULL, SIP_V_AUTH, 0, "127.0.0.10",
     5080},
    {"tel: URI", CFG_BASE, NULL, "tel:+15551234567", NULL, NULL, NULL, SIP_V_REPLY, 416},
    {"opaque unknown scheme", CFG_BASE, "OPTIONS", "nobodyKnowsThisScheme:totallyopaquecontent",
     NULL, NULL, NULL, SIP_V_REPLY, 416},
    {"sips: accepted", CFG_BASE, NULL, "sips:bob@127.0.0.7:5071", NULL, NULL, NULL, SIP_V_AUTH, 0,
     "127.0.0.7", 5071},
    {"Proxy-Require", CFG_BASE, NULL, NULL, NULL, NULL, "Proxy-Require: foo, bar" CRLF, SIP_V_REPLY,
     420},
    /* next hop by Route */
    {"loose Route", CFG_BASE, NULL, NULL, NULL, NULL, "Route: <sip:127.0.0.30:5070;lr>" CRLF,
     SIP_V_AUTH, 0, "127.0.0.30", 5070},
    {"strict Route (no lr)", CFG_BASE, NULL, NULL, NULL, NULL, "Route: <sip:127.0.0.30:5070>" CRLF,
     SIP_V_AUTH, 0, "127.0.0.30", 5070, SIP_TP_UDP, 0, "sip:127.0.0.30:5070", true},
    {"Route transport=tcp", CFG_BASE, NULL, NULL, NULL, NULL,
     "Route: <sip:127.0.0.30:5070;transport=tcp;lr>" CRLF, SIP_V_AUTH, 0, "127.0.0.30", 5070,
     SIP_TP_TCP},
    {"our Route then another, one field", CFG_BASE, NULL, NULL, NULL, NULL,
     "Route: <sip:127.0.0.1;lr>, <sip:127.0.0.30;lr>" CRLF, SIP_V_AUTH, 0, "127.0.0.30", 5060,
     SIP_TP_UDP, 1},
    {"our Route then another, two fields", CFG_BASE, NULL, NULL, NULL, NULL,
     "Route: <sip:127.0.0.1;lr>" CRLF "Route: <sip:127.0.0.30;lr>" CRLF, SIP_V_AUTH, 0,
     "127.0.0.30", 5060, SIP_TP_UDP, 1},
    {"Route of another port of our host is not ours", CFG_BASE, NULL, NULL, NULL, NULL,
     "Route: <sip:127.0.0.1:5070;lr>" CRLF, SIP_V_AUTH, 0, "127.0.0.1", 5070},
    {"double Record-Route popped, 3 Routes", CFG_BASE, RT_BYE,
     "Route: <sip:127.0.0.1;lr>, <sip:127.0.0.1;transport=tcp;lr>" CRLF
     "Route: <sip:127.0.0.30;lr>" CRLF,
     SIP_V_FORWARD, 0, "127.0.0.30", 5060, SIP_TP_UDP, 2, NULL, false, true},
    {"double Record-Route popped, 4 Routes: next is the third", CFG_BASE, RT_BYE,
     "Route: <sip:127.0.0.1;lr>, <sip:127.0.0.1;transport=tcp;lr>" CRLF
     "Route: <sip:127.0.0.30;lr>, <sip:127.0.0.31;lr>" CRLF,
     SIP_V_FORWARD, 0, "127.0.0.30", 5060, SIP_TP_UDP, 2, NULL, false, true},
    {"Route host is a name (no DNS)", CFG_BASE, NULL, NULL, NULL, NULL,
     "Route: <sip:proxy.example.net;lr>" CRLF, SIP_V_REPLY, 404},
    /* next hop by route table */
    {"route table by domain", CFG_BASE, NULL, "sip:bob@example.com", NULL, NULL, NULL, SIP_V_AUTH,
     0, "127.0.0.10", 5080},
    {"route table domain case-insensitive", CFG_BASE, NULL, "sip:bob@EXAMPLE.com", NULL, NULL, NULL,
     SIP_V_AUTH, 0, "127.0.0.10", 5080},
    {"route table tcp entry", CFG_BASE, NULL, "sip:bob@tcp.example.com", NULL, NULL, NULL,
     SIP_V_AUTH, 0, "127.0.0.11", 5090, SIP_TP_TCP},
    {"route table \"*\" default", CFG_STAR, NULL, "sip:bob@unknown.org", NULL, NULL, NULL,
     SIP_V_AUTH, 0, "127.0.0.20", 5060},
    {"route table domain before \"*\"", CFG_STAR, NULL, "sip:bob@example.com", NULL, NULL, NULL,
     SIP_V_AUTH, 0, "127.0.0.10", 5080},
    /* next hop by Request-URI */
    {"numeric R-URI host:port", CFG_BASE, NULL, "sip:bob@127.0.0.7:5070", NULL, NULL, NULL,
     SIP_V_AUTH, 0, "127.0.0.7", 5070},
    {"numeric R-URI default port", CFG_BASE, NULL, "sip:bob@127.0.0.7", NULL, NULL, NULL,
     SIP_V_AUTH, 0, "127.0.0.7", 5060},
    {"numeric R-URI transport=tcp", CFG_BASE, NULL, "sip:bob@127.0.0.7:5070;transport=tcp", NULL,
     NULL, NULL, SIP_V_AUTH, 0, "127.0.0.7", 5070, SIP_TP_TCP},
    {"IPv6 R-URI", CFG_BASE, NULL, "sip:bob@[::1]:5070", NULL, NULL, NULL, SIP_V_AUTH, 0, "::1",
     5070},
    {"R-URI name without route", CFG_BASE, NULL, "sip:bob@unknown.org", NULL, NULL, NULL,
     SIP_V_REPLY, 404},
    {"R-URI is us, no Route", CFG_BASE, NULL, "sip:127.0.0.1:5060", NULL, NULL, NULL, SIP_V_REPLY,
     404},
    {"R-URI is us (default port), no Route", CFG_BASE, NULL, "sip:bob@127.0.0.1", NULL, NULL, NULL,
     SIP_V_REPLY, 404},
    {"R-URI our host, other port", CFG_BASE, NULL, "sip:bob@127.0.0.1:5070", NULL, NULL, NULL,
     SIP_V_AUTH, 0, "127.0.0.1", 5070},
    /* destination allow-list */
    {"R-URI outside the allow-list", CFG_BASE, NULL, "sip:bob@192.0.2.1", NULL, NULL, NULL,
     SIP_V_REPLY, 403},
    {"route table entry outside the allow-list", CFG_BASE, NULL, "sip:bob@outside.example.com",
     NULL, NULL, NULL, SIP_V_REPLY, 403},
    {"Route outside the allow-list", CFG_BASE, NULL, NULL, NULL, NULL,
     "Route: <sip:192.0.2.1;lr>" CRLF, SIP_V_REPLY, 403},
    {"IPv6 outside the allow-list", CFG_BASE, NULL, "sip:bob@[2001:db8::1]", NULL, NULL, NULL,
     SIP_V_REPLY, 403},
    {"ACK outside the allow-list", CFG_BASE, "ACK", "sip:bob@192.0.2.1", "x", NULL, NULL,
     SIP_V_REPLY, 403},
    /* in-dialog requests skip the route table */
    {"in-dialog BYE skips \"*\"", CFG_STAR, RT_BYE, ROUTE_OURS, SIP_V_FORWARD, 0, "127.0.0.5", 5070,
     SIP_TP_UDP, 1, NULL, false, true},
    {"ACK with To-tag skips \"*\"", CFG_STAR, "ACK", "sip:bob@127.0.0.5:5070", "t2", NULL, NULL,
     SIP_V_FORWARD, 0, "127.0.0.5", 5070},
    /* §16.4: a strict router put our URI in the R-URI */
    {"R-URI ours + Route: last Route is the target", CFG_BASE, NULL, "sip:127.0.0.1:5060", NULL,
     NULL, "Route: <sip:bob@127.0.0.7:5070>" CRLF, SIP_V_AUTH, 0, "127.0.0.7", 5070, SIP_TP_UDP, 0,
     "sip:bob@127.0.0.7:5070"},
    {"R-URI ours + Routes: next by the first", CFG_BASE, NULL, "sip:127.0.0.1", NULL, NULL,
     "Route: <sip:127.0.0.30;lr>" CRLF "Route: <sip:bob@127.0.0.7:5070>" CRLF, SIP_V_AUTH, 0,
     "127.0.0.30", 5060, SIP_TP_UDP, 0, "sip:bob@127.0.0.7:5070"},
};

/* One row of route_cases[] (the row is the cmocka state: each row reports on its own). */
static void test_route_row(void **state)
{
	const struct route_case *c = *state;
	size_t i = (size_t)(c - route_cases);
	struct sip_rcv rcv = rcv_udp("127.0.0.2", 5070);
	struct tmsg *t = rq_parse(&(struct rq){.method = c->method,
	                                       .ruri = c->ruri,
	                                       .totag = c->totag,
	                                       .mf = c->mf,
	                                       .extra = c->extra});
	struct sip_decision d;
	char ctx[160];

	snprintf(ctx, sizeof(ctx), "row %zu (%s)", i, c->name);
	assert_int_equal(sip_proxy_route(&cfgs[c->cfg], &t->m, &rcv, &d), 0);
	if (d.verdict != c->verdict)
		fail_msg("%s: verdict %d (%s, code %u), want %d", ctx, d.verdict,
		         d.why ? d.why : "-", d.code, c->verdict);
	if (c->verdict == SIP_V_REPLY) {
		if (d.code != c->code)
			fail_msg("%s: code %u, want %u", ctx, d.code, c->code);
		assert_non_null(d.why);
		tmsg_free(t);
		return;
	}
	if (c->ip)
		expect_addr(&d.next, d.next_len, c->ip, c->port, ctx);
	if (d.next_tp != c->tp)
		fail_msg("%s: transport %d, want %d", ctx, d.next_tp, c->tp);
	if (d.pop_route != c->pop)
		fail_msg("%s: pop_route %d, want %d", ctx, d.pop_route, c->pop);
	/* the R-URI rewrite: the strict router's URI, or the §16.4 target */
	expect_str(d.strict_next ? d.strict_uri : d.new_ruri, c->new_ruri ? c->new_ruri : "",
	           "new_ruri", ctx);
	if (d.strict_next != c->strict_next)
		fail_msg("%s: strict_next %d", ctx, d.strict_next);
	if (d.in_dialog != c->in_dialog)
		fail_msg("%s: in_dialog %d", ctx, d.in_dialog);
	if (d.verdict == SIP_V_FORWARD && d.authz_hdr != -1)
		fail_msg("%s: authz_hdr %d on a forward", ctx, d.authz_hdr);
	tmsg_free(t);
}

static void test_route_details(void **state)
{
	struct sip_rcv rcv = rcv_udp("127.0.0.2", 5070);
	struct sip_decision d;
	struct tmsg *t;

	(void)state;
	/* 420 names the Proxy-Require values */
	t = rq_parse(&(struct rq){.extra = "Proxy-Require: foo, bar" CRLF});
	assert_int_equal(sip_proxy_route(&cfgs[CFG_BASE], &t->m, &rcv, &d), 0);
	assert_int_equal(d.verdict, SIP_V_REPLY);
	assert_int_equal(d.code, 420);
	expect_str(d.unsupported, "foo, bar", "unsupported", "420");
	tmsg_free(t);

	/* strict next hop: the Route value that goes into the R-URI is named */
	t = rq_parse(
	    &(struct rq){.extra = "Route: <sip:127.0.0.30:5070>, <sip:127.0.0.31;lr>" CRLF});
	assert_int_equal(sip_proxy_route(&cfgs[CFG_BASE], &t->m, &rcv, &d), 0);
	assert_true(d.strict_next);
	expect_str(d.strict_drop, "<sip:127.0.0.30:5070>", "strict_drop", "strict");
	tmsg_free(t);

	/* §16.4: the last Route value is the one moved */
	t = rq_parse(
	    &(struct rq){.ruri = "sip:127.0.0.1:5060",
	                 .extra = "Route: <sip:127.0.0.30;lr>, <sip:bob@127.0.0.7:5070>" CRLF});
	assert_int_equal(sip_proxy_route(&cfgs[CFG_BASE], &t->m, &rcv, &d), 0);
	expect_str(d.last_route_drop, "<sip:bob@127.0.0.7:5070>", "last_route_drop", "16.4");
	expect_str(d.new_ruri, "sip:bob@127.0.0.7:5070", "new_ruri", "16.4");
	tmsg_free(t);

	/* a response is not routed */
	t = tmsg_parse("SIP/2.0 200 OK" CRLF VIA_DEF "From: <sip:a@example.com>;tag=1" CRLF
	               "To: <sip:b@example.com>;tag=2" CRLF "Call-ID: r1" CRLF "CSeq: 1 INVITE" CRLF
	               "Content-Length: 0" CRLF CRLF);
	assert_int_equal(sip_proxy_route(&cfgs[CFG_BASE], &t->m, &rcv, &d), -EINVAL);
	tmsg_free(t);
}

/* RFC 4475 vectors through the rules. */
static void test_route_rfc4475(void **state)
{
	struct sip_rcv rcv = rcv_udp("127.0.0.2", 5070);
	struct sip_decision d;
	struct tmsg *t;

	(void)state;
	t = vec_parse("unkscm");
	assert_int_equal(sip_proxy_route(&cfgs[CFG_BASE], &t->m, &rcv, &d), 0);
	assert_int_equal(d.verdict, SIP_V_REPLY);
	assert_int_equal(d.code, 416);
	tmsg_free(t);

	t = vec_parse("zeromf");
	assert_int_equal(sip_proxy_route(&cfgs[CFG_BASE], &t->m, &rcv, &d), 0);
	assert_int_equal(d.verdict, SIP_V_REPLY);
	assert_int_equal(d.code, 483);
	tmsg_free(t);

	t = vec_parse("dblreq"); /* the REGISTER only */
	assert_int_equal(sip_proxy_route(&cfgs[CFG_BASE], &t->m, &rcv, &d), 0);
	assert_int_equal(d.verdict, SIP_V_AUTH);
	expect_addr(&d.next, d.next_len, "127.0.0.10", 5080, "dblreq");
	tmsg_free(t);
}

/* ---- sip_proxy_route: credentials -------------------------------------------------------------
 */

#define PA_OURS                                                                                    \
	"Proxy-Authorization: Digest username=\"alice\", realm=\"example.com\", nonce=\"n1\", "    \
	"uri=\"sip:bob@example.com\", response=\"00112233445566778899aabbccddeeff\"" CRLF
#define PA_OTHER                                                                                   \
	"Proxy-Authorization: Digest username=\"alice\", realm=\"other.org\", nonce=\"n2\", "      \
	"uri=\"sip:bob@example.com\", response=\"ffeeddccbbaa99887766554433221100\"" CRLF

static const struct {
	const char *extra;
	int nth; /* which Proxy-Authorization (0-based) must be taken, -1 none */
} authz_cases[] = {
    {"", -1},
    {PA_OURS, 0},
    {PA_OTHER, -1},
    {PA_OTHER PA_OURS, 1},
    {PA_OURS PA_OTHER, 0},
    {"Proxy-Authorization: Digest realm=\"example.com\", username=\"a\", nonce=\"n\"" CRLF, 0},
    {"Proxy-Authorization: Digest username=\"a\",realm=example.com,nonce=\"n\"" CRLF, 0},
    {"Proxy-Authorization: Digest username=\"a\", realm = \"example.com\", nonce=\"n\"" CRLF, 0},
    {"Proxy-Authorization: Digest username=\"a\", realm=\"example.com.evil\"" CRLF, -1},
    {"Proxy-Authorization: Digest username=\"a\", realm=\"example.co\"" CRLF, -1},
    /* realm values compare case-sensitively (RFC 2617 §1.2) */
    {"Proxy-Authorization: Digest username=\"a\", realm=\"EXAMPLE.COM\"" CRLF, -1},
    /* "realm=" inside another parameter's quoted value is not the realm */
    {"Proxy-Authorization: Digest username=\"realm=example.com\", realm=\"other.org\"" CRLF, -1},
    {"Proxy-Authorization: Digest username=\"a, realm=example.com\", realm=\"other.org\"" CRLF, -1},
    {"Authorization: Digest username=\"a\", realm=\"example.com\"" CRLF, -1},
};

static void test_route_authz(void **state)
{
	(void)state;
	for (size_t i = 0; i < MR_ARRAY_SIZE(authz_cases); i++) {
		struct sip_rcv rcv = rcv_udp("127.0.0.2", 5070);
		struct tmsg *t = rq_parse(&(struct rq){.extra = authz_cases[i].extra});
		struct sip_decision d;
		int want;

		assert_int_equal(sip_proxy_route(&cfgs[CFG_BASE], &t->m, &rcv, &d), 0);
		if (d.verdict != SIP_V_AUTH)
			fail_msg("row %zu: verdict %d", i, d.verdict);
		want = authz_cases[i].nth < 0 ? -1
		                              : hdr_nth(&t->m, SIP_HDR_PROXY_AUTHORIZATION,
		                                        (unsigned)authz_cases[i].nth);
		if (authz_cases[i].nth >= 0)
			assert_true(want >= 0);
		if (d.authz_hdr != want)
			fail_msg("row %zu: authz_hdr %d, want %d", i, d.authz_hdr, want);
		if (want >= 0) {
			assert_ptr_equal(d.authz_value.p, t->m.hdrs[want].value.p);
			assert_int_equal(d.authz_value.len, t->m.hdrs[want].value.len);
		}
		tmsg_free(t);
	}
}

/* Credentials on ACK and CANCEL, and on in-dialog requests, are not taken: no AUTH. */
static void test_route_authz_not_taken(void **state)
{
	static const struct rq rows[] = {
	    {.method = "ACK", .ruri = "sip:bob@127.0.0.5:5070", .totag = "x", .extra = PA_OURS},
	    {.method = "CANCEL", .extra = PA_OURS},
	    {.method = "BYE",
	     .ruri = "sip:bob@127.0.0.5:5070",
	     .totag = "x",
	     .extra = "Route: <sip:127.0.0.1;lr>" CRLF PA_OURS},
	};

	(void)state;
	for (size_t i = 0; i < MR_ARRAY_SIZE(rows); i++) {
		struct sip_rcv rcv = rcv_udp("127.0.0.2", 5070);
		struct tmsg *t = rq_parse(&rows[i]);
		struct sip_decision d;

		assert_int_equal(sip_proxy_route(&cfgs[CFG_BASE], &t->m, &rcv, &d), 0);
		if (d.verdict != SIP_V_FORWARD || d.authz_hdr != -1)
			fail_msg("row %zu: verdict %d authz_hdr %d", i, d.verdict, d.authz_hdr);
		tmsg_free(t);
	}
}

/* The ACK of our own 407 (To-tag = sip_proxy_to_tag of the INVITE) is absorbed; any other ACK
 * of the same transaction goes on. */
static void test_route_ack_of_ours(void **state)
{
	struct sip_rcv rcv = rcv_udp("127.0.0.2", 5070);
	struct sip_decision d;
	struct tmsg *inv, *ack;
	char tag[24], other[24];

	(void)state;
	inv = rq_parse(&(struct rq){.callid = "ack-1@h", .ftag = "ft-9"});
	sip_proxy_to_tag(&cfgs[CFG_BASE], &inv->m, tag);

	ack = rq_parse(
	    &(struct rq){.method = "ACK", .totag = tag, .callid = "ack-1@h", .ftag = "ft-9"});
	assert_int_equal(sip_proxy_route(&cfgs[CFG_BASE], &ack->m, &rcv, &d), 0);
	assert_int_equal(d.verdict, SIP_V_DROP);
	assert_non_null(d.why);
	tmsg_free(ack);

	/* also with Max-Forwards 0 (ACK is exempt from 483) */
	ack = rq_parse(&(struct rq){
	    .method = "ACK", .totag = tag, .mf = "0", .callid = "ack-1@h", .ftag = "ft-9"});
	assert_int_equal(sip_proxy_route(&cfgs[CFG_BASE], &ack->m, &rcv, &d), 0);
	assert_int_equal(d.verdict, SIP_V_DROP);
	tmsg_free(ack);

	/* the tag of another dialog: forwarded */
	memcpy(other, tag, sizeof(other));
	other[19] = other[19] == '0' ? '1' : '0';
	ack = rq_parse(&(struct rq){.method = "ACK",
	                            .ruri = "sip:bob@127.0.0.5:5070",
	                            .totag = other,
	                            .callid = "ack-1@h",
	                            .ftag = "ft-9"});
	assert_int_equal(sip_proxy_route(&cfgs[CFG_BASE], &ack->m, &rcv, &d), 0);
	assert_int_equal(d.verdict, SIP_V_FORWARD);
	expect_addr(&d.next, d.next_len, "127.0.0.5", 5070, "other ACK");
	tmsg_free(ack);

	/* our tag but another Call-ID: not ours */
	ack = rq_parse(&(struct rq){.method = "ACK",
	                            .ruri = "sip:bob@127.0.0.5:5070",
	                            .totag = tag,
	                            .callid = "ack-2@h",
	                            .ftag = "ft-9"});
	assert_int_equal(sip_proxy_route(&cfgs[CFG_BASE], &ack->m, &rcv, &d), 0);
	assert_int_equal(d.verdict, SIP_V_FORWARD);
	tmsg_free(ack);
	tmsg_free(inv);
}

/* ---- loops (§16.3 step 4)
 * ------------------------------------------------------------------------
 */

/* A Via of ours below the top one carrying the branch we would compute now: 482. */
static void test_route_loop_482(void **state)
{
	struct sip_rcv rcv = rcv_udp("127.0.0.2", 5070);
	struct sip_decision d;
	char branch[SIP_BRANCH_LEN + 1], via[512];
	struct tmsg *t;

	(void)state;
	t = rq_parse(
	    &(struct rq){.via = "Via: SIP/2.0/UDP 127.0.0.9:5080;branch=z9hG4bKhop2" CRLF});
	sip_proxy_branch(&t->m, branch);
	tmsg_free(t);

	snprintf(via, sizeof(via),
	         "Via: SIP/2.0/UDP 127.0.0.9:5080;branch=z9hG4bKhop2" CRLF
	         "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=%s" CRLF VIA_DEF,
	         branch);
	t = rq_parse(&(struct rq){.via = via});
	assert_int_equal(sip_proxy_route(&cfgs[CFG_BASE], &t->m, &rcv, &d), 0);
	assert_int_equal(d.verdict, SIP_V_REPLY);
	assert_int_equal(d.code, 482);
	tmsg_free(t);

	/* the same Via values in one field */
	snprintf(via, sizeof(via),
	         "Via: SIP/2.0/UDP 127.0.0.9:5080;branch=z9hG4bKhop2, "
	         "SIP/2.0/UDP 127.0.0.1;branch=%s" CRLF,
	         branch);
	t = rq_parse(&(struct rq){.via = via});
	assert_int_equal(sip_proxy_route(&cfgs[CFG_BASE], &t->m, &rcv, &d), 0);
	assert_int_equal(d.code, 482);
	tmsg_free(t);

	/* a Via of ours with another branch: a spiral, processing goes on */
	t = rq_parse(&(struct rq){.via =
	                              "Via: SIP/2.0/UDP 127.0.0.9:5080;branch=z9hG4bKhop2" CRLF
	                              "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK0000" CRLF});
	assert_int_equal(sip_proxy_route(&cfgs[CFG_BASE], &t->m, &rcv, &d), 0);
	assert_int_equal(d.verdict, SIP_V_AUTH);
	tmsg_free(t);

	/* the branch, but on a Via of another host: no loop */
	snprintf(via, sizeof(via),
	         "Via: SIP/2.0/UDP 127.0.0.9:5080;branch=z9hG4bKhop2" CRLF
	         "Via: SIP/2.0/UDP 127.0.0.3:5060;branch=%s" CRLF,
	         branch);
	t = rq_parse(&(struct rq){.via = via});
	assert_int_equal(sip_proxy_route(&cfgs[CFG_BASE], &t->m, &rcv, &d), 0);
	assert_int_equal(d.verdict, SIP_V_AUTH);
	tmsg_free(t);
}

/* ---- branch and To-tag ------------------------------------------------------------------------
 */

static void expect_branch_form(const char *b)
{
	assert_int_equal(strlen(b), SIP_BRANCH_LEN);
	assert_memory_equal(b, "z9hG4bK", 7);
	for (int i = 7; i < SIP_BRANCH_LEN; i++)
		assert_true((b[i] >= '0' && b[i] <= '9') || (b[i] >= 'a' && b[i] <= 'f'));
}

static void branch_of(const struct rq *r, char *out)
{
	struct tmsg *t = rq_parse(r);

	sip_proxy_branch(&t->m, out);
	expect_branch_form(out);
	tmsg_free(t);
}

#define VIA_2543 "Via: SIP/2.0/UDP 127.0.0.2:5070" CRLF

static void test_branch(void **state)
{
	char a[SIP_BRANCH_LEN + 1], b[SIP_BRANCH_LEN + 1], c[SIP_BRANCH_LEN + 1];
	struct tmsg *t1, *t2;

	(void)state;
	/* a retransmission: the same bytes (two buffers) give the same branch */
	branch_of(&(struct rq){0}, a);
	branch_of(&(struct rq){0}, b);
	assert_string_equal(a, b);
	/* ... even if a hop changed Max-Forwards or added a header */
	branch_of(&(struct rq){.mf = "69", .extra = "X-Hop: 1" CRLF}, b);
	assert_string_equal(a, b);
	/* a CANCEL carries its INVITE's branch: it gets the INVITE's branch (§16.11) */
	branch_of(&(struct rq){.method = "CANCEL"}, b);
	assert_string_equal(a, b);
	/* a new transaction: another branch, another sent-by */
	branch_of(&(struct rq){.via = "Via: SIP/2.0/UDP 127.0.0.2:5070;rport;branch=z9hG4bKc2" CRLF,
	                       .cseq = 2},
	          b);
	assert_string_not_equal(a, b);
	branch_of(
	    &(struct rq){.via = "Via: SIP/2.0/UDP 127.0.0.3:5070;rport;branch=z9hG4bKc1" CRLF}, b);
	assert_string_not_equal(a, b);
	branch_of(
	    &(struct rq){.via = "Via: SIP/2.0/UDP 127.0.0.2:5071;rport;branch=z9hG4bKc1" CRLF}, b);
	assert_string_not_equal(a, b);

	/* RFC 2543 peer (no magic cookie): stable, and tied to the invariant fields */
	branch_of(&(struct rq){.via = VIA_2543}, a);
	branch_of(&(struct rq){.via = VIA_2543}, b);
	assert_string_equal(a, b);
	branch_of(&(struct rq){.via = VIA_2543, .method = "CANCEL"}, b); /* CSeq method ignored */
	assert_string_equal(a, b);
	branch_of(&(struct rq){.via = VIA_2543, .cseq = 2}, b);
	assert_string_not_equal(a, b);
	branch_of(&(struct rq){.via = VIA_2543, .callid = "other@h"}, b);
	assert_string_not_equal(a, b);
	branch_of(&(struct rq){.via = VIA_2543, .ftag = "fa2"}, b);
	assert_string_not_equal(a, b);
	branch_of(&(struct rq){.via = VIA_2543, .ruri = "sip:carol@example.com"}, b);
	assert_string_not_equal(a, b);
	branch_of(&(struct rq){.via = VIA_2543, .totag = "tt"}, c);
	assert_string_not_equal(a, c);
	branch_of(&(struct rq){.via = "Via: SIP/2.0/UDP 127.0.0.2:5070;branch=1234" CRLF}, b);
	assert_string_not_equal(a, b); /* a non-cookie branch is part of the Via hashed */
	branch_of(&(struct rq){.via = "Via: SIP/2.0/UDP 127.0.0.2:5070;branch=1234" CRLF}, c);
	assert_string_equal(b, c);

	/* RFC 4475 inv2543 */
	t1 = vec_parse("inv2543");
	t2 = vec_parse("inv2543");
	sip_proxy_branch(&t1->m, a);
	sip_proxy_branch(&t2->m, b);
	expect_branch_form(a);
	assert_string_equal(a, b);
	tmsg_free(t1);
	tmsg_free(t2);
}

static void test_to_tag(void **state)
{
	struct sip_proxy_cfg other = cfgs[CFG_BASE];
	char a[SIP_BRANCH_LEN + 1], b[SIP_BRANCH_LEN + 1];
	struct tmsg *t;

	(void)state;
	memset(a, 'x', sizeof(a));
	t = rq_parse(&(struct rq){0});
	sip_proxy_to_tag(&cfgs[CFG_BASE], &t->m, a);
	assert_int_equal(strlen(a), 20);
	tmsg_free(t);
	/* same Call-ID and From-tag, other request bytes: same tag */
	t = rq_parse(&(struct rq){.method = "ACK", .totag = a, .cseq = 1, .mf = "5"});
	sip_proxy_to_tag(&cfgs[CFG_BASE], &t->m, b);
	assert_string_equal(a, b);
	tmsg_free(t);
	t = rq_parse(&(struct rq){.via = VIA_2543, .ruri = "sip:x@127.0.0.7", .cseq = 9});
	sip_proxy_to_tag(&cfgs[CFG_BASE], &t->m, b);
	assert_string_equal(a, b);
	tmsg_free(t);
	/* another Call-ID, another From-tag, another secret: another tag */
	t = rq_parse(&(struct rq){.callid = "c2@127.0.0.2"});
	sip_proxy_to_tag(&cfgs[CFG_BASE], &t->m, b);
	assert_string_not_equal(a, b);
	tmsg_free(t);
	t = rq_parse(&(struct rq){.ftag = "fa2"});
	sip_proxy_to_tag(&cfgs[CFG_BASE], &t->m, b);
	assert_string_not_equal(a, b);
	tmsg_free(t);
	/* the separator keeps "ab"+"c" apart from "a"+"bc" */
	t = rq_parse(&(struct rq){.callid = "c1@127.0.0.2f", .ftag = "a1"});
	sip_proxy_to_tag(&cfgs[CFG_BASE], &t->m, b);
	assert_string_not_equal(a, b);
	tmsg_free(t);
	other.secret[0] ^= 1;
	t = rq_parse(&(struct rq){0});
	sip_proxy_to_tag(&other, &t->m, b);
	assert_string_not_equal(a, b);
	tmsg_free(t);
}

/* ---- sip_build_response ---------------------------------------------------------------------- */

#define PA_CHALLENGE "Proxy-Authenticate: Digest realm=\"example.com\", nonce=\"abc\"" CRLF

struct built {
	char out[8192];
	struct sip_buf b;
	struct tmsg *t; /* the output parsed back */
};

static void build_407(struct built *o, const struct tmsg *req, const struct sip_rcv *rcv,
                      const char *to_tag)
{
	sip_buf_init(&o->b, o->out, sizeof(o->out));
	sip_build_response(&o->b, &req->m, rcv, 407, NULL, mr_str_c(to_tag),
	                   MR_STR_LIT(PA_CHALLENGE));
	assert_int_equal(o->b.err, 0);
	o->t = tmsg_parse_n(o->out, o->b.len);
}

static void expect_same_hdr(const struct sip_msg *a, const struct sip_msg *b,
                            enum sip_hdr_type type, const char *ctx)
{
	struct mr_str x = hdr_value(a, type, 0), y = hdr_value(b, type, 0);

	assert_non_null(x.p);
	if (!y.p || x.len != y.len || memcmp(x.p, y.p, x.len) != 0)
		fail_msg("%s: header %d \"%.*s\" not copied (\"%.*s\")", ctx, type, (int)x.len, x.p,
		         (int)y.len, y.p ? y.p : "");
}

static void test_response_407(void **state)
{
	struct sip_rcv rcv = rcv_udp("127.0.0.2", 5070);
	struct built *o = xmalloc(sizeof(*o));
	const struct sip_msg *r;
	struct tmsg *req;
	char tag[24];

	(void)state;
	req = rq_parse(&(struct rq){.via =
	                                "Via: SIP/2.0/UDP 10.9.9.9:5070;rport;branch=z9hG4bKr1" CRLF
	                                "Via: SIP/2.0/TCP 127.0.0.40:5062;branch=z9hG4bKr2, "
	                                "SIP/2.0/UDP 127.0.0.41;branch=z9hG4bKr3" CRLF,
	                            .body = "v=0" CRLF});
	sip_proxy_to_tag(&cfgs[CFG_BASE], &req->m, tag);
	build_407(o, req, &rcv, tag);
	r = &o->t->m;
	assert_false(r->request);
	assert_int_equal(r->status, 407);
	expect_str(r->reason, "Proxy Authentication Required", "reason", "407");
	/* every Via, in order; the top one with received and rport=<source port> */
	assert_int_equal(r->nvia, 3);
	expect_str(r->via[0].host, "10.9.9.9", "via0 host", "407");
	expect_str(r->via[0].branch, "z9hG4bKr1", "via0 branch", "407");
	expect_str(r->via[0].received, "127.0.0.2", "received", "407");
	assert_true(r->via[0].has_rport);
	expect_str(r->via[0].rport, "5070", "rport", "407");
	expect_str(r->via[1].branch, "z9hG4bKr2", "via1 branch", "407");
	expect_str(r->via[1].transport, "TCP", "via1 transport", "407");
	expect_str(r->via[2].branch, "z9hG4bKr3", "via2 branch", "407");
	assert_false(r->via[1].received.p != NULL);
	assert_int_equal(hdr_count(r, SIP_HDR_VIA), 2);
	/* From, Call-ID, CSeq copied; To with our tag */
	expect_same_hdr(&req->m, r, SIP_HDR_FROM, "407");
	expect_same_hdr(&req->m, r, SIP_HDR_CALL_ID, "407");
	expect_same_hdr(&req->m, r, SIP_HDR_CSEQ, "407");
	expect_str(r->to.tag, tag, "To-tag", "407");
	expect_str(r->to.uri, "sip:bob@example.com", "To URI", "407");
	/* the challenge, Content-Length 0, no body, no request headers leaked */
	expect_str(hdr_value(r, SIP_HDR_PROXY_AUTHENTICATE, 0),
	           "Digest realm=\"example.com\", nonce=\"abc\"", "Proxy-Authenticate", "407");
	assert_int_equal(r->h[SIP_HDR_CONTENT_LENGTH] >= 0, 1);
	assert_int_equal(r->content_length, 0);
	assert_int_equal(r->body.len, 0);
	assert_int_equal(r->h[SIP_HDR_MAX_FORWARDS], -1);
	assert_int_equal(r->h[SIP_HDR_CONTENT_TYPE], -1);
	assert_false(mem_has(o->out, o->b.len, "v=0"));
	tmsg_free(o->t);
	tmsg_free(req);
	free(o);
}

/* Top Via edits (§18.2.1, RFC 3581 §4), one row per Via shape. */
static const struct {
	const char *via;
	const char *received; /* "" none */
	const char *rport;    /* NULL: no rport parameter; "" flag */
	const char *host;
} rport_cases[] = {
    /* valueless rport: rport=<port> and received, even when the host is the source */
    {"Via: SIP/2.0/UDP 127.0.0.2:5070;rport;branch=z9hG4bK1" CRLF, "127.0.0.2", "5070",
     "127.0.0.2"},
    {"Via: SIP/2.0/UDP 127.0.0.2:5070;branch=z9hG4bK1;rport" CRLF, "127.0.0.2", "5070",
     "127.0.0.2"},
    {"Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK1;rport" CRLF, "127.0.0.2", "5070",
     "pc33.example.com"},
    {"Via: SIP/2.0/UDP 127.0.0.2:5070;branch=z9hG4bK1;RPORT" CRLF, "127.0.0.2", "5070",
     "127.0.0.2"},
    {"Via: SIP/2.0/UDP 127.0.0.2:5070;rport;branch=z9hG4bK1, SIP/2.0/UDP 127.0.0.9;branch=x" CRLF,
     "127.0.0.2", "5070", "127.0.0.2"},
    /* no rport: received only when the sent-by host is not the source */
    {"Via: SIP/2.0/UDP 127.0.0.2:5070;branch=z9hG4bK1" CRLF, "", NULL, "127.0.0.2"},
    {"Via: SIP/2.0/UDP 127.0.0.2;branch=z9hG4bK1" CRLF, "", NULL, "127.0.0.2"},
    {"Via: SIP/2.0/UDP pc33.example.com:5070;branch=z9hG4bK1" CRLF, "127.0.0.2", NULL,
     "pc33.example.com"},
    {"Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1" CRLF, "127.0.0.2", NULL, "10.0.0.1"},
    /* rport with a value already, received already: left alone */
    {"Via: SIP/2.0/UDP 10.0.0.1:5070;rport=7000;received=127.0.0.2;branch=z9hG4bK1" CRLF,
     "127.0.0.2", "7000", "10.0.0.1"},
    {"v: SIP/2.0/UDP 10.0.0.1;rport;branch=z9hG4bK1" CRLF, "127.0.0.2", "5070", "10.0.0.1"},
};

static void test_response_rport(void **state)
{
	struct sip_rcv rcv = rcv_udp("127.0.0.2", 5070);
	struct built *o = xmalloc(sizeof(*o));

	(void)state;
	for (size_t i = 0; i < MR_ARRAY_SIZE(rport_cases); i++) {
		struct tmsg *req = rq_parse(&(struct rq){.via = rport_cases[i].via});
		const struct sip_via *v;
		char ctx[32];

		snprintf(ctx, sizeof(ctx), "row %zu", i);
		build_407(o, req, &rcv, "tg");
		v = &o->t->m.via[0];
		assert_int_equal(o->t->m.nvia, req->m.nvia);
		expect_str(v->host, rport_cases[i].host, "host", ctx);
		expect_str(v->branch, "z9hG4bK1", "branch", ctx);
		expect_str(v->received, rport_cases[i].received, "received", ctx);
		if (rport_cases[i].rport) {
			if (!v->has_rport)
				fail_msg("%s: no rport", ctx);
			expect_str(v->rport, rport_cases[i].rport, "rport", ctx);
		} else if (v->has_rport) {
			fail_msg("%s: rport added", ctx);
		}
		/* exactly one received parameter */
		{
			struct mr_str s = {o->out, o->b.len};
			unsigned n = 0;

			for (uint32_t k = 0; k + 9 <= s.len; k++)
				n += memcmp(s.p + k, "received=", 9) == 0;
			if (n != (rport_cases[i].received[0] ? 1u : 0u))
				fail_msg("%s: %u received parameters", ctx, n);
		}
		tmsg_free(o->t);
		tmsg_free(req);
	}
	free(o);
}

static void test_response_to_tag(void **state)
{
	struct sip_rcv rcv = rcv_udp("127.0.0.2", 5070);
	struct built *o = xmalloc(sizeof(*o));
	struct tmsg *req;

	(void)state;
	/* a To that has a tag keeps it, ours is not added */
	req = rq_parse(&(struct rq){.method = "BYE", .ruri = "sip:bob@127.0.0.5", .totag = "uas1"});
	build_407(o, req, &rcv, "mara0123");
	expect_str(o->t->m.to.tag, "uas1", "To-tag", "tagged");
	assert_false(mem_has(o->out, o->b.len, "mara0123"));
	tmsg_free(o->t);
	tmsg_free(req);
	/* no tag given: none added */
	req = rq_parse(&(struct rq){0});
	build_407(o, req, &rcv, "");
	expect_str(o->t->m.to.tag, "", "To-tag", "no tag");
	tmsg_free(o->t);
	/* no rcv: Vias copied untouched */
	sip_buf_init(&o->b, o->out, sizeof(o->out));
	sip_build_response(&o->b, &req->m, NULL, 483, "Too Many Hops", MR_STR_LIT("t"),
	                   (struct mr_str){0});
	assert_int_equal(o->b.err, 0);
	o->t = tmsg_parse_n(o->out, o->b.len);
	assert_int_equal(o->t->m.status, 483);
	expect_str(o->t->m.reason, "Too Many Hops", "reason", "483");
	expect_str(o->t->m.via[0].received, "", "received", "no rcv");
	assert_true(mem_has(o->out, o->b.len, VIA_DEF));
	tmsg_free(o->t);
	tmsg_free(req);
	free(o);
}

/* Too small a buffer: -ENOBUFS, and not a byte past cap. */
static void test_response_nobufs(void **state)
{
	struct sip_rcv rcv = rcv_udp("127.0.0.2", 5070);
	char full[4096], out[4096 + 64];
	struct sip_buf b;
	struct tmsg *req;
	uint32_t need;

	(void)state;
	req = rq_parse(&(struct rq){0});
	sip_buf_init(&b, full, sizeof(full));
	sip_build_response(&b, &req->m, &rcv, 407, NULL, MR_STR_LIT("tg"),
	                   MR_STR_LIT(PA_CHALLENGE));
	assert_int_equal(b.err, 0);
	need = b.len;
	for (uint32_t cap = 0; cap <= need; cap++) {
		memset(out, 0xa5, sizeof(out));
		sip_buf_init(&b, out, cap);
		sip_build_response(&b, &req->m, &rcv, 407, NULL, MR_STR_LIT("tg"),
		                   MR_STR_LIT(PA_CHALLENGE));
		if (cap < need) {
			if (b.err != -ENOBUFS)
				fail_msg("cap %u: err %d", cap, b.err);
		} else {
			assert_int_equal(b.err, 0);
			assert_memory_equal(out, full, need);
		}
		assert_true(b.len <= cap);
		for (uint32_t k = cap; k < sizeof(out); k++)
			if ((unsigned char)out[k] != 0xa5)
				fail_msg("cap %u: byte %u written", cap, k);
	}
	tmsg_free(req);
}

/* ---- sip_build_forward
 * ---------------------------------------------------------------------------
 */

struct fwd {
	struct sip_decision d;
	char branch[SIP_BRANCH_LEN + 1];
	char out[8192];
	struct sip_buf b;
	struct tmsg *t; /* output parsed back */
};

static struct fwd *forward_cfg(const struct sip_proxy_cfg *cfg, const struct tmsg *req,
                               enum sip_verdict want)
{
	struct sip_rcv rcv = rcv_udp("127.0.0.2", 5070);
	struct fwd *f = xmalloc(sizeof(*f));

	assert_int_equal(sip_proxy_route(cfg, &req->m, &rcv, &f->d), 0);
	if (f->d.verdict != want)
		fail_msg("verdict %d (%s), want %d", f->d.verdict, f->d.why ? f->d.why : "-", want);
	sip_proxy_branch(&req->m, f->branch);
	sip_buf_init(&f->b, f->out, sizeof(f->out));
	sip_build_forward(&f->b, cfg, &req->m, &rcv, &f->d, f->branch);
	assert_int_equal(f->b.err, 0);
	f->t = tmsg_parse_n(f->out, f->b.len);
	return f;
}

static struct fwd *forward(const struct tmsg *req, enum sip_verdict want)
{
	return forward_cfg(&cfgs[CFG_BASE], req, want);
}

static void fwd_free(struct fwd *f)
{
	tmsg_free(f->t);
	free(f);
}

static void test_forward_invite(void **state)
{
	static const char body[] =
	    "v=0" CRLF "o=- 1 1 IN IP4 127.0.0.2" CRLF "s=-" CRLF "c=IN IP4 127.0.0.2" CRLF
	    "t=0 0" CRLF "m=audio 4000 RTP/AVP 0" CRLF;
	const struct sip_msg *o;
	struct tmsg *req;
	struct fwd *f;

	(void)state;
	req = rq_parse(&(struct rq){
	    .via = "Via: SIP/2.0/UDP 127.0.0.2:5070;rport;branch=z9hG4bKf1" CRLF
	           "Via: SIP/2.0/UDP 127.0.0.50:5060;branch=z9hG4bKup" CRLF,
	    .extra = "Record-Route: <sip:127.0.0.50;lr>" CRLF
	             "Route: <sip:127.0.0.1;lr>, <sip:127.0.0.30:5070;lr>" CRLF PA_OTHER PA_OURS,
	    .body = body});
	f = forward(req, SIP_V_AUTH);
	assert_int_equal(f->d.pop_route, 1);
	assert_true(f->d.authz_hdr >= 0);
	o = &f->t->m;
	assert_true(o->request);
	expect_str(o->method_name, "INVITE", "method", "fwd");
	expect_str(o->ruri, "sip:bob@example.com", "R-URI", "fwd");
	/* our Via on top, then the previous top with received/rport */
	assert_int_equal(o->nvia, 3);
	expect_str(o->via[0].host, "127.0.0.1", "our Via host", "fwd");
	assert_int_equal(o->via[0].port, 5060);
	expect_str(o->via[0].transport, "UDP", "our Via transport", "fwd");
	expect_str(o->via[0].branch, f->branch, "our Via branch", "fwd");
	expect_str(o->via[1].branch, "z9hG4bKf1", "via1 branch", "fwd");
	expect_str(o->via[1].received, "127.0.0.2", "via1 received", "fwd");
	expect_str(o->via[1].rport, "5070", "via1 rport", "fwd");
	expect_str(o->via[2].branch, "z9hG4bKup", "via2 branch", "fwd");
	expect_str(o->via[2].received, "", "via2 received", "fwd");
	/* Record-Route: ours above the existing one */
	assert_int_equal(hdr_count(o, SIP_HDR_RECORD_ROUTE), 2);
	expect_str(hdr_value(o, SIP_HDR_RECORD_ROUTE, 0), "<sip:127.0.0.1:5060;lr>", "RR 0", "fwd");
	expect_str(hdr_value(o, SIP_HDR_RECORD_ROUTE, 1), "<sip:127.0.0.50;lr>", "RR 1", "fwd");
	/* our Route popped from a multi-value field: the rest stays */
	assert_int_equal(hdr_count(o, SIP_HDR_ROUTE), 1);
	expect_str(hdr_value(o, SIP_HDR_ROUTE, 0), "<sip:127.0.0.30:5070;lr>", "Route", "fwd");
	/* Max-Forwards decremented */
	assert_int_equal(o->max_forwards, 69);
	assert_int_equal(hdr_count(o, SIP_HDR_MAX_FORWARDS), 1);
	/* our realm's credentials consumed, the other realm's kept */
	assert_int_equal(hdr_count(o, SIP_HDR_PROXY_AUTHORIZATION), 1);
	assert_true(mem_has(o->buf, o->len, "realm=\"other.org\""));
	assert_false(mem_has(o->buf, o->len, "realm=\"example.com\""));
	/* body and Content-Length intact, other headers kept */
	assert_int_equal(o->content_length, sizeof(body) - 1);
	assert_int_equal(o->body.len, sizeof(body) - 1);
	assert_memory_equal(o->body.p, body, sizeof(body) - 1);
	expect_same_hdr(&req->m, o, SIP_HDR_FROM, "fwd");
	expect_same_hdr(&req->m, o, SIP_HDR_TO, "fwd");
	expect_same_hdr(&req->m, o, SIP_HDR_CALL_ID, "fwd");
	expect_same_hdr(&req->m, o, SIP_HDR_CSEQ, "fwd");
	expect_same_hdr(&req->m, o, SIP_HDR_CONTENT_TYPE, "fwd");
	/* nothing else changed: the input, plus our Via, our Record-Route and the top Via's
	 * "=5070" and ";received=...", minus the popped Route value and our credentials */
	{
		size_t added = strlen("Via: SIP/2.0/UDP 127.0.0.1:5060;branch=" CRLF) +
		               SIP_BRANCH_LEN +
		               strlen("Record-Route: <sip:127.0.0.1:5060;lr>" CRLF) +
		               strlen("=5070;received=127.0.0.2");
		size_t removed = strlen("<sip:127.0.0.1;lr>, ") + strlen(PA_OURS);

		assert_int_equal(f->b.len, req->m.len + added - removed);
	}
	fwd_free(f);
	tmsg_free(req);
}

/* A table of header-level outcomes of a forward: the request (as in route_case), then what the
 * output holds. */
struct fwd_case {
	const char *name;
	const char *method, *ruri, *totag, *mf, *extra;
	enum sip_verdict verdict;
	int rr;             /* Record-Route fields expected */
	bool rr_ours;       /* ours added on top */
	int routes;         /* Route values left */
	const char *route0; /* first Route value, NULL unchecked */
	int mf_out;         /* Max-Forwards expected */
};

#define ROUTE_MINE     "Route: <sip:127.0.0.1;lr>"
#define ROUTE_MINE_TCP "<sip:127.0.0.1;transport=tcp;lr>"

static const struct fwd_case fwd_cases[] = {
    {"INVITE adds RR", NULL, NULL, NULL, NULL, NULL, SIP_V_AUTH, 1, true, 0, NULL, 69},
    {"REGISTER: no RR", "REGISTER", "sip:example.com", NULL, NULL, NULL, SIP_V_AUTH, 0, false, 0,
     NULL, 69},
    {"in-dialog BYE: no RR, our single Route field removed", RT_BYE, ROUTE_OURS, SIP_V_FORWARD, 0,
     false, 0, NULL, 69},
    {"in-dialog BYE: our Route field removed, next field kept", RT_BYE,
     ROUTE_MINE CRLF "Route: <sip:127.0.0.30;lr>" CRLF, SIP_V_FORWARD, 0, false, 1,
     "<sip:127.0.0.30;lr>", 69},
    {"in-dialog BYE: ours first of three in one field", RT_BYE,
     ROUTE_MINE ", <sip:127.0.0.30;lr>, <sip:127.0.0.31;lr>" CRLF, SIP_V_FORWARD, 0, false, 2,
     "<sip:127.0.0.30;lr>", 69},
    {"double RR: two of ours popped, separate fields", RT_BYE,
     ROUTE_MINE CRLF "Route: " ROUTE_MINE_TCP CRLF, SIP_V_FORWARD, 0, false, 0, NULL, 69},
    {"double RR: two of ours popped, one field, more after", RT_BYE,
     ROUTE_MINE ", " ROUTE_MINE_TCP ", <sip:127.0.0.30;lr>" CRLF, SIP_V_FORWARD, 0, false, 1,
     "<sip:127.0.0.30;lr>", 69},
    {"double RR: the only two values of one field popped", RT_BYE,
     ROUTE_MINE ", " ROUTE_MINE_TCP CRLF, SIP_V_FORWARD, 0, false, 0, NULL, 69},
    /* §16.6 step 3: added with 70 */
    {"Max-Forwards absent: added", NULL, NULL, NULL, "", NULL, SIP_V_AUTH, 1, true, 0, NULL, 70},
    {"Max-Forwards 1 -> 0", NULL, NULL, NULL, "1", NULL, SIP_V_AUTH, 1, true, 0, NULL, 0},
    {"ACK Max-Forwards 0 stays 0", "ACK", "sip:bob@127.0.0.5:5070", "x", "0", NULL, SIP_V_FORWARD,
     0, false, 0, NULL, 0},
    {"existing RR kept below ours", NULL, NULL, NULL, NULL,
     "Record-Route: <sip:127.0.0.50;lr>, <sip:127.0.0.51;lr>" CRLF, SIP_V_AUTH, 2, true, 0, NULL,
     69},
};

/* One row of fwd_cases[]. */
static void test_forward_row(void **state)
{
	const struct fwd_case *c = *state;
	size_t i = (size_t)(c - fwd_cases);
	struct tmsg *req = rq_parse(&(struct rq){.method = c->method,
	                                         .ruri = c->ruri,
	                                         .totag = c->totag,
	                                         .mf = c->mf,
	                                         .extra = c->extra});
	struct fwd *f = forward(req, c->verdict);
	const struct sip_msg *o = &f->t->m;
	unsigned nroute = 0;
	struct mr_str first = {0};
	char ctx[160];

	snprintf(ctx, sizeof(ctx), "row %zu (%s)", i, c->name);
	if ((int)hdr_count(o, SIP_HDR_RECORD_ROUTE) != c->rr)
		fail_msg("%s: %u Record-Route fields, want %d", ctx,
		         hdr_count(o, SIP_HDR_RECORD_ROUTE), c->rr);
	if (c->rr_ours)
		expect_str(hdr_value(o, SIP_HDR_RECORD_ROUTE, 0), "<sip:127.0.0.1:5060;lr>", "RR",
		           ctx);
	else if (mem_has(o->buf, o->len, "Record-Route: <sip:127.0.0.1"))
		fail_msg("%s: our Record-Route added", ctx);
	for (unsigned k = 0; k < o->nhdrs; k++) {
		struct mr_str cur, v;

		if (o->hdrs[k].type != SIP_HDR_ROUTE)
			continue;
		cur = o->hdrs[k].value;
		while (sip_value_next(&cur, &v) > 0) {
			if (!nroute++)
				first = v;
		}
	}
	if ((int)nroute != c->routes)
		fail_msg("%s: %u Route values left, want %d", ctx, nroute, c->routes);
	if (c->route0)
		expect_str(first, c->route0, "first Route", ctx);
	if (o->max_forwards != c->mf_out)
		fail_msg("%s: Max-Forwards %d, want %d", ctx, o->max_forwards, c->mf_out);
	assert_int_equal(hdr_count(o, SIP_HDR_MAX_FORWARDS), 1);
	expect_str(o->via[0].branch, f->branch, "our branch", ctx);
	assert_int_equal(o->nvia, req->m.nvia + 1);
	fwd_free(f);
	tmsg_free(req);
}

/* UDP in, TCP out: a message without Content-Length gets one (§18.3), our Via says TCP. */
static void test_forward_tcp(void **state)
{
	static const char body[] = "v=0" CRLF "s=-" CRLF;
	const struct sip_msg *o;
	struct tmsg *req;
	struct fwd *f;

	(void)state;
	req =
	    rq_parse(&(struct rq){.ruri = "sip:bob@tcp.example.com", .body = body, .no_cl = true});
	assert_int_equal(req->m.h[SIP_HDR_CONTENT_LENGTH], -1);
	f = forward(req, SIP_V_AUTH);
	assert_int_equal(f->d.next_tp, SIP_TP_TCP);
	o = &f->t->m;
	expect_str(o->via[0].transport, "TCP", "our Via transport", "tcp");
	expect_str(hdr_value(o, SIP_HDR_RECORD_ROUTE, 0), "<sip:127.0.0.1:5060;transport=tcp;lr>",
	           "RR", "tcp");
	assert_int_equal(hdr_count(o, SIP_HDR_CONTENT_LENGTH), 1);
	assert_int_equal(o->content_length, sizeof(body) - 1);
	assert_memory_equal(o->body.p, body, sizeof(body) - 1);
	/* stream framing holds: the output parses in stream mode to its very end */
	{
		struct sip_msg *sm = xmalloc(sizeof(*sm));

		assert_int_equal(sip_parse(sm, f->out, f->b.len, true), (int)f->b.len);
		free(sm);
	}
	fwd_free(f);
	tmsg_free(req);

	/* with a Content-Length already: not added twice */
	req = rq_parse(&(struct rq){.ruri = "sip:bob@tcp.example.com", .body = body});
	f = forward(req, SIP_V_AUTH);
	assert_int_equal(hdr_count(&f->t->m, SIP_HDR_CONTENT_LENGTH), 1);
	fwd_free(f);
	tmsg_free(req);

	/* UDP out: none added */
	req = rq_parse(&(struct rq){.body = body, .no_cl = true});
	f = forward(req, SIP_V_AUTH);
	assert_int_equal(hdr_count(&f->t->m, SIP_HDR_CONTENT_LENGTH), 0);
	assert_memory_equal(f->t->m.body.p, body, sizeof(body) - 1);
	fwd_free(f);
	tmsg_free(req);
}

/* RFC 4475 dblreq: only the REGISTER is forwarded, not the bytes after its Content-Length. */
static void test_forward_dblreq(void **state)
{
	struct tmsg *req;
	struct fwd *f;

	(void)state;
	req = vec_parse("dblreq");
	assert_true(req->m.len < req->len);
	f = forward(req, SIP_V_AUTH);
	expect_str(f->t->m.method_name, "REGISTER", "method", "dblreq");
	assert_false(mem_has(f->out, f->b.len, "INVITE"));
	assert_false(mem_has(f->out, f->b.len, "v=0"));
	assert_int_equal(f->t->m.len, f->b.len);
	assert_int_equal(f->t->m.body.len, 0);
	assert_memory_equal(f->out + f->b.len - 4, CRLF CRLF, 4);
	/* received: the sent-by 192.0.2.125 is not the source */
	expect_str(f->t->m.via[1].received, "127.0.0.2", "received", "dblreq");
	fwd_free(f);
	tmsg_free(req);

	/* inv2543: no Content-Length, UDP out, the body runs to the end */
	req = vec_parse("inv2543");
	f = forward(req, SIP_V_AUTH);
	assert_int_equal(f->t->m.body.len, req->m.body.len);
	assert_memory_equal(f->t->m.body.p, req->m.body.p, req->m.body.len);
	expect_str(f->t->m.via[0].branch, f->branch, "branch", "inv2543");
	fwd_free(f);
	tmsg_free(req);
}

/* Strict routing: before a strict router, the old R-URI goes last in Route and the first Route
 * value becomes the R-URI (§16.6 step 6); after one (§16.4), the last Route is the R-URI. */
static void test_forward_strict(void **state)
{
	const struct sip_msg *o;
	struct tmsg *req;
	struct fwd *f;

	(void)state;
	req = rq_parse(
	    &(struct rq){.extra = "Route: <sip:127.0.0.30:5070>, <sip:127.0.0.31;lr>" CRLF});
	f = forward(req, SIP_V_AUTH);
	o = &f->t->m;
	expect_str(o->ruri, "sip:127.0.0.30:5070", "R-URI", "strict next");
	assert_int_equal(hdr_count(o, SIP_HDR_ROUTE), 2);
	expect_str(hdr_value(o, SIP_HDR_ROUTE, 0), "<sip:127.0.0.31;lr>", "Route 0", "strict next");
	expect_str(hdr_value(o, SIP_HDR_ROUTE, 1), "<sip:bob@example.com>", "last Route",
	           "strict next");
	fwd_free(f);
	tmsg_free(req);

	/* the only Route is a strict router */
	req = rq_parse(&(struct rq){.extra = "Route: <sip:127.0.0.30:5070>" CRLF});
	f = forward(req, SIP_V_AUTH);
	o = &f->t->m;
	expect_str(o->ruri, "sip:127.0.0.30:5070", "R-URI", "strict only");
	assert_int_equal(hdr_count(o, SIP_HDR_ROUTE), 1);
	expect_str(hdr_value(o, SIP_HDR_ROUTE, 0), "<sip:bob@example.com>", "Route", "strict only");
	fwd_free(f);
	tmsg_free(req);

	/* §16.4: R-URI is ours, the last Route value is the target */
	req = rq_parse(&(struct rq){.ruri = "sip:127.0.0.1:5060",
	                            .extra = "Route: <sip:127.0.0.30;lr>" CRLF
	                                     "Route: <sip:bob@127.0.0.7:5070>" CRLF});
	f = forward(req, SIP_V_AUTH);
	o = &f->t->m;
	expect_str(o->ruri, "sip:bob@127.0.0.7:5070", "R-URI", "16.4");
	assert_int_equal(hdr_count(o, SIP_HDR_ROUTE), 1);
	expect_str(hdr_value(o, SIP_HDR_ROUTE, 0), "<sip:127.0.0.30;lr>", "Route", "16.4");
	fwd_free(f);
	tmsg_free(req);
}

/* §16.4 then a strict router next (§16.6 step 6): the R-URI taken from the last Route goes back
 * last, the strict router's URI is the R-URI, our own URI appears nowhere. */
static void test_forward_strict_after_16_4(void **state)
{
	const struct sip_msg *o;
	struct tmsg *req;
	struct fwd *f;

	(void)state;
	req = rq_parse(&(struct rq){.ruri = "sip:127.0.0.1:5060",
	                            .extra = "Route: <sip:127.0.0.30:5070>, "
	                                     "<sip:bob@127.0.0.7:5070>" CRLF});
	f = forward(req, SIP_V_AUTH);
	o = &f->t->m;
	expect_str(o->ruri, "sip:127.0.0.30:5070", "R-URI", "16.4 + strict");
	if (hdr_count(o, SIP_HDR_ROUTE) != 1 || mem_has(o->buf, o->len, "<sip:127.0.0.1:5060>"))
		fail_msg("Route set wrong (want only <sip:bob@127.0.0.7:5070>):\n%.*s", (int)o->len,
		         o->buf);
	expect_str(hdr_value(o, SIP_HDR_ROUTE, 0), "<sip:bob@127.0.0.7:5070>", "Route",
	           "16.4 + strict");
	fwd_free(f);
	tmsg_free(req);
}

static void test_forward_nobufs(void **state)
{
	struct sip_rcv rcv = rcv_udp("127.0.0.2", 5070);
	char full[4096], out[4096 + 64], branch[SIP_BRANCH_LEN + 1];
	struct sip_decision d;
	struct sip_buf b;
	struct tmsg *req;
	uint32_t need;

	(void)state;
	req = rq_parse(&(struct rq){.extra = "Route: <sip:127.0.0.1;lr>, <sip:127.0.0.30;lr>" CRLF,
	                            .body = "v=0" CRLF});
	assert_int_equal(sip_proxy_route(&cfgs[CFG_BASE], &req->m, &rcv, &d), 0);
	sip_proxy_branch(&req->m, branch);
	sip_buf_init(&b, full, sizeof(full));
	sip_build_forward(&b, &cfgs[CFG_BASE], &req->m, &rcv, &d, branch);
	assert_int_equal(b.err, 0);
	need = b.len;
	for (uint32_t cap = 0; cap <= need; cap++) {
		memset(out, 0xa5, sizeof(out));
		sip_buf_init(&b, out, cap);
		sip_build_forward(&b, &cfgs[CFG_BASE], &req->m, &rcv, &d, branch);
		if (cap < need && b.err != -ENOBUFS)
			fail_msg("cap %u: err %d", cap, b.err);
		if (cap == need) {
			assert_int_equal(b.err, 0);
			assert_memory_equal(out, full, need);
		}
		for (uint32_t k = cap; k < sizeof(out); k++)
			if ((unsigned char)out[k] != 0xa5)
				fail_msg("cap %u: byte %u written", cap, k);
	}
	tmsg_free(req);
}

/* A request we forwarded that comes back to us unchanged but for the next hop's Via (and
 * Max-Forwards) has looped (§16.3 step 4, §16.6 step 8): 482. */
static void test_route_loop_round_trip(void **state)
{
	struct sip_rcv rcv = rcv_udp("127.0.0.10", 5080);
	static const char hop[] = "Via: SIP/2.0/UDP 127.0.0.10:5080;branch=z9hG4bKnexthop1" CRLF;
	struct sip_decision d;
	struct tmsg *req, *back;
	char *text, *eol;
	struct fwd *f;
	size_t n;

	(void)state;
	req = rq_parse(&(struct rq){0});
	f = forward(req, SIP_V_AUTH);
	/* the next hop (a stateless proxy) sends it straight back: its Via on top */
	text = xmalloc(f->b.len + sizeof(hop));
	eol = memchr(f->out, '\n', f->b.len);
	assert_non_null(eol);
	n = (size_t)(eol + 1 - f->out);
	memcpy(text, f->out, n);
	memcpy(text + n, hop, sizeof(hop) - 1);
	memcpy(text + n + sizeof(hop) - 1, f->out + n, f->b.len - n);
	back = tmsg_parse_n(text, f->b.len + sizeof(hop) - 1);
	assert_int_equal(back->m.nvia, 3);
	assert_int_equal(sip_proxy_route(&cfgs[CFG_BASE], &back->m, &rcv, &d), 0);
	if (d.verdict != SIP_V_REPLY || d.code != 482)
		fail_msg("looped request: verdict %d code %u, want 482", d.verdict, d.code);
	tmsg_free(back);
	free(text);
	fwd_free(f);
	tmsg_free(req);
}

/* ---- sip_proxy_response ---------------------------------------------------------------------- */

#define RESP_TAIL                                                                                  \
	"From: <sip:alice@example.com>;tag=fa1" CRLF "To: <sip:bob@example.com>;tag=tb" CRLF       \
	"Call-ID: r1@h" CRLF "CSeq: 1 INVITE" CRLF "Contact: <sip:bob@127.0.0.5:5070>" CRLF        \
	"Content-Type: application/sdp" CRLF "Content-Length: 5" CRLF CRLF "v=0" CRLF

#define VIA_OURS "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKours1"

static const struct {
	const char *vias; /* Via lines */
	int ret;
	const char *ip; /* destination */
	unsigned port;
	enum sip_transport tp;
	const char *top; /* the top Via value left, wire bytes */
} resp_cases[] = {
    {"Via: " VIA_OURS CRLF
     "Via: SIP/2.0/UDP 10.0.0.1:5070;received=127.0.0.2;rport=6000;branch=a" CRLF,
     0, "127.0.0.2", 6000, SIP_TP_UDP,
     "SIP/2.0/UDP 10.0.0.1:5070;received=127.0.0.2;rport=6000;branch=a"},
    {"Via: " VIA_OURS ", SIP/2.0/UDP 127.0.0.2:5070;branch=b" CRLF, 0, "127.0.0.2", 5070,
     SIP_TP_UDP, "SIP/2.0/UDP 127.0.0.2:5070;branch=b"},
    {"Via: " VIA_OURS " , SIP/2.0/UDP 127.0.0.2:5070;branch=b" CRLF, 0, "127.0.0.2", 5070,
     SIP_TP_UDP, "SIP/2.0/UDP 127.0.0.2:5070;branch=b"},
    {"Via: " VIA_OURS ", SIP/2.0/UDP 127.0.0.2;branch=b, SIP/2.0/UDP 127.0.0.3;branch=c" CRLF, 0,
     "127.0.0.2", 5060, SIP_TP_UDP, "SIP/2.0/UDP 127.0.0.2;branch=b"},
    {"Via: " VIA_OURS CRLF "Via: SIP/2.0/UDP 10.0.0.1:5070;received=127.0.0.2;branch=a" CRLF, 0,
     "127.0.0.2", 5070, SIP_TP_UDP, NULL},
    {"Via: " VIA_OURS CRLF "Via: SIP/2.0/UDP 127.0.0.2;rport=7001;branch=a" CRLF, 0, "127.0.0.2",
     7001, SIP_TP_UDP, NULL},
    {"Via: " VIA_OURS CRLF "Via: SIP/2.0/TCP 127.0.0.2:5070;branch=a" CRLF, 0, "127.0.0.2", 5070,
     SIP_TP_TCP, NULL},
    {"Via: " VIA_OURS CRLF "Via: SIP/2.0/UDP [::1]:5070;branch=a" CRLF, 0, "::1", 5070, SIP_TP_UDP,
     NULL},
    {"Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKours1" CRLF
     "Via: SIP/2.0/UDP 127.0.0.2;branch=a" CRLF,
     0, "127.0.0.2", 5060, SIP_TP_UDP, NULL},
    /* §18.2.2: over UDP a maddr in the next Via is where the response goes (sent-by port) */
    {"Via: " VIA_OURS CRLF "Via: SIP/2.0/UDP 10.0.0.1:5070;maddr=127.0.0.9;branch=a" CRLF, 0,
     "127.0.0.9", 5070, SIP_TP_UDP, NULL},
    /* not ours: drop */
    {"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=x" CRLF "Via: SIP/2.0/UDP 127.0.0.2;branch=a" CRLF,
     -ENOENT},
    {"Via: SIP/2.0/UDP 127.0.0.9;branch=x" CRLF "Via: SIP/2.0/UDP 127.0.0.2;branch=a" CRLF,
     -ENOENT},
    {"Via: SIP/2.0/UDP 127.0.0.2;branch=a" CRLF "Via: " VIA_OURS CRLF, -ENOENT},
    /* ours but the last: nobody to send it to */
    {"Via: " VIA_OURS CRLF, -ENOENT},
    /* the next Via is a name: no DNS */
    {"Via: " VIA_OURS CRLF "Via: SIP/2.0/UDP pc33.example.com;branch=a" CRLF, -EINVAL},
};

/* One row of resp_cases[]. */
static void test_response_row(void **state)
{
	size_t i =
	    (size_t)((const char *)*state - (const char *)resp_cases) / sizeof(resp_cases[0]);
	char text[2048], out[2048];
	struct sockaddr_storage next;
	socklen_t next_len = 0;
	enum sip_transport tp = SIP_TP_UDP;
	struct sip_buf b;
	struct tmsg *t, *o;
	char ctx[32];
	int n, ret;

	snprintf(ctx, sizeof(ctx), "row %zu", i);
	n = snprintf(text, sizeof(text), "SIP/2.0 200 OK" CRLF "%s" RESP_TAIL, resp_cases[i].vias);
	t = tmsg_parse_n(text, (size_t)n);
	sip_buf_init(&b, out, sizeof(out));
	ret = sip_proxy_response(&b, &cfgs[CFG_BASE], &t->m, &next, &next_len, &tp);
	if (ret != resp_cases[i].ret)
		fail_msg("%s: ret %d, want %d", ctx, ret, resp_cases[i].ret);
	if (ret) {
		tmsg_free(t);
		return;
	}
	expect_addr(&next, next_len, resp_cases[i].ip, resp_cases[i].port, ctx);
	if (tp != resp_cases[i].tp)
		fail_msg("%s: transport %d", ctx, tp);
	o = tmsg_parse_n(out, b.len);
	assert_int_equal(o->m.nvia, t->m.nvia - 1);
	assert_int_equal(o->m.status, 200);
	for (unsigned k = 0; k < o->m.nvia; k++) {
		const struct sip_via *a = &o->m.via[k], *w = &t->m.via[k + 1];

		if (a->len != w->len || memcmp(o->buf + a->off, t->buf + w->off, a->len))
			fail_msg("%s: Via %u changed", ctx, k);
	}
	if (resp_cases[i].top)
		expect_str(mr_str_make(o->buf + o->m.via[0].off, o->m.via[0].len),
		           resp_cases[i].top, "top Via", ctx);
	assert_false(mem_has(out, b.len, "z9hG4bKours1"));
	/* nothing else touched: the output is the input minus our Via's bytes */
	assert_true(b.len < t->m.len);
	assert_true(mem_has(out, b.len, RESP_TAIL));
	expect_str(o->m.body, "v=0" CRLF, "body", ctx);
	tmsg_free(o);
	tmsg_free(t);
}

/* ---- CIDR and the allow-list --------------------------------------------------------------- */

static const struct {
	const char *in;
	int ret;
	int family;
	unsigned bits;
} cidr_cases[] = {
    {"127.0.0.0/8", 0, AF_INET, 8},
    {"127.0.0.1", 0, AF_INET, 32},
    {"127.0.0.1/32", 0, AF_INET, 32},
    {"0.0.0.0/0", 0, AF_INET, 0},
    {"172.16.0.0/12", 0, AF_INET, 12},
    {"::1", 0, AF_INET6, 128},
    {"::1/128", 0, AF_INET6, 128},
    {"::/0", 0, AF_INET6, 0},
    {"2001:db8::/32", 0, AF_INET6, 32},
    {"", -EINVAL},
    {"/8", -EINVAL},
    {"127.0.0.1/", -EINVAL},
    {"127.0.0.1/33", -EINVAL},
    {"::1/129", -EINVAL},
    {"127.0.0.1/8x", -EINVAL},
    {"127.0.0.1/-1", -EINVAL},
    {"127.0.0.1/ 8", -EINVAL},
    {"127.0.0.1/+8", -EINVAL},
    {"127.0.0.1/8/8", -EINVAL},
    {"256.0.0.1", -EINVAL},
    {"127.0.0", -EINVAL},
    {"example.com", -EINVAL},
    {"[::1]", -EINVAL},
    {"127.0.0.1 ", -EINVAL},
    {"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd:eeee:ffff", -EINVAL},
};

/* One row of cidr_cases[]. */
static void test_cidr_row(void **state)
{
	size_t i =
	    (size_t)((const char *)*state - (const char *)cidr_cases) / sizeof(cidr_cases[0]);
	struct sip_cidr c;
	int ret = sip_cidr_parse(cidr_cases[i].in, &c);

	if (ret != cidr_cases[i].ret)
		fail_msg("row %zu (\"%s\"): ret %d, want %d", i, cidr_cases[i].in, ret,
		         cidr_cases[i].ret);
	if (ret)
		return;
	if (c.net.ss_family != cidr_cases[i].family || c.bits != cidr_cases[i].bits)
		fail_msg("row %zu: family %d bits %u", i, c.net.ss_family, c.bits);
}

static const struct {
	const char *allow[4];
	const char *addr;
	bool ok;
} allow_cases[] = {
    {{"127.0.0.0/8", "::1"}, "127.0.0.1", true},
    {{"127.0.0.0/8", "::1"}, "127.255.255.255", true},
    {{"127.0.0.0/8", "::1"}, "128.0.0.1", false},
    {{"127.0.0.0/8", "::1"}, "126.255.255.255", false},
    {{"127.0.0.0/8", "::1"}, "192.0.2.1", false},
    {{"127.0.0.0/8", "::1"}, "::1", true},
    {{"127.0.0.0/8", "::1"}, "::2", false},
    {{"127.0.0.0/8", "::1"}, "::", false},
    {{"127.0.0.0/8", "::1"}, "::ffff:192.0.2.1", false},
    {{"127.0.0.1/32"}, "127.0.0.1", true},
    {{"127.0.0.1/32"}, "127.0.0.2", false},
    {{"10.1.2.3/8"}, "10.200.0.1", true}, /* host bits in the network are ignored */
    {{"172.16.0.0/12"}, "172.31.255.255", true},
    {{"172.16.0.0/12"}, "172.32.0.0", false},
    {{"172.16.0.0/12"}, "172.15.255.255", false},
    {{"0.0.0.0/0"}, "203.0.113.7", true},
    {{"0.0.0.0/0"}, "::1", false},
    {{"::/0"}, "2001:db8::1", true},
    {{"::/0"}, "127.0.0.1", false},
    {{"2001:db8::/32"}, "2001:db8:ffff::1", true},
    {{"2001:db8::/32"}, "2001:db9::1", false},
    {{"2001:db8::1/128"}, "2001:db8::1", true},
    {{"2001:db8::1/128"}, "2001:db8::2", false},
    {{"fe80::/10"}, "febf::1", true},
    {{"fe80::/10"}, "fec0::1", false},
    {{NULL}, "127.0.0.1", false}, /* empty list: nothing allowed */
};

static void test_allowed(void **state)
{
	(void)state;
	for (size_t i = 0; i < MR_ARRAY_SIZE(allow_cases); i++) {
		struct sip_proxy_cfg cfg;
		struct sockaddr_storage ss = ss_of(allow_cases[i].addr);

		memset(&cfg, 0, sizeof(cfg));
		for (unsigned k = 0; k < 4 && allow_cases[i].allow[k]; k++)
			assert_int_equal(
			    sip_cidr_parse(allow_cases[i].allow[k], &cfg.allow[cfg.nallow++]), 0);
		if (sip_proxy_allowed(&cfg, &ss) != allow_cases[i].ok)
			fail_msg("row %zu: %s allowed=%d", i, allow_cases[i].addr,
			         !allow_cases[i].ok);
	}
}

/* Table rows run as tests of their own, named after the row. */
static char names[256][96];
static struct CMUnitTest tests[256];
static size_t ntests;

static void add_test(const char *name, CMUnitTestFunction fn, void *row)
{
	if (ntests == MR_ARRAY_SIZE(tests))
		abort();
	snprintf(names[ntests], sizeof(names[ntests]), "%s", name);
	tests[ntests] = (struct CMUnitTest){names[ntests], fn, NULL, NULL, row};
	ntests++;
}

/* Admission caps shared by the shards: per source (port ignored), and challenges in total. */
static void test_guard(void **state)
{
	struct sockaddr_storage a = ss_of("192.0.2.1"), a2 = ss_of("192.0.2.1"),
	                        b = ss_of("192.0.2.2");
	struct sip_guard *g = sip_guard_create(2, 2, 3);
	uint32_t ba, bb;

	(void)state;
	assert_non_null(g);
	((struct sockaddr_in *)&a2)->sin_port = htons(40000);
	ba = sip_guard_bucket(&a);
	bb = sip_guard_bucket(&b);
	assert_int_equal(sip_guard_bucket(&a2), ba);
	assert_int_not_equal(ba, bb); /* not guaranteed in general; true for these two */
	/* TCP per source */
	assert_int_equal(sip_guard_take(g, SIP_GUARD_TCP, ba), 0);
	assert_int_equal(sip_guard_take(g, SIP_GUARD_TCP, ba), 0);
	assert_int_equal(sip_guard_take(g, SIP_GUARD_TCP, ba), -EMFILE);
	assert_int_equal(sip_guard_take(g, SIP_GUARD_TCP, bb), 0);
	sip_guard_put(g, SIP_GUARD_TCP, ba);
	assert_int_equal(sip_guard_take(g, SIP_GUARD_TCP, ba), 0);
	/* challenges: 2 per source, 3 in total; a refusal takes nothing */
	assert_int_equal(sip_guard_take(g, SIP_GUARD_CHALLENGE, ba), 0);
	assert_int_equal(sip_guard_take(g, SIP_GUARD_CHALLENGE, ba), 0);
	assert_int_equal(sip_guard_take(g, SIP_GUARD_CHALLENGE, ba), -EMFILE);
	assert_int_equal(sip_guard_take(g, SIP_GUARD_CHALLENGE, bb), 0);
	assert_int_equal(sip_guard_take(g, SIP_GUARD_CHALLENGE, bb), -EBUSY);
	assert_int_equal(atomic_load(&g->challenges), 3);
	sip_guard_put(g, SIP_GUARD_CHALLENGE, ba);
	assert_int_equal(sip_guard_take(g, SIP_GUARD_CHALLENGE, bb), 0);
	assert_int_equal(sip_guard_take(g, SIP_GUARD_CHALLENGE, ba), -EBUSY);
	sip_guard_free(g);
}

int main(void)
{
	static const struct {
		const char *name;
		CMUnitTestFunction fn;
	} fixed[] = {
	    {"test_route_details", test_route_details},
	    {"test_route_rfc4475", test_route_rfc4475},
	    {"test_route_authz", test_route_authz},
	    {"test_route_authz_not_taken", test_route_authz_not_taken},
	    {"test_route_ack_of_ours", test_route_ack_of_ours},
	    {"test_route_loop_482", test_route_loop_482},
	    {"test_route_loop_round_trip", test_route_loop_round_trip},
	    {"test_branch", test_branch},
	    {"test_to_tag", test_to_tag},
	    {"test_response_407", test_response_407},
	    {"test_response_rport", test_response_rport},
	    {"test_response_to_tag", test_response_to_tag},
	    {"test_response_nobufs", test_response_nobufs},
	    {"test_forward_invite", test_forward_invite},
	    {"test_forward_tcp", test_forward_tcp},
	    {"test_forward_dblreq", test_forward_dblreq},
	    {"test_forward_strict", test_forward_strict},
	    {"test_forward_strict_after_16_4", test_forward_strict_after_16_4},
	    {"test_forward_nobufs", test_forward_nobufs},
	    {"test_allowed", test_allowed},
	    {"test_guard", test_guard},
	};
	char name[96];

	for (size_t i = 0; i < MR_ARRAY_SIZE(route_cases); i++) {
		snprintf(name, sizeof(name), "route[%zu] %s", i, route_cases[i].name);
		add_test(name, test_route_row, (void *)&route_cases[i]);
	}
	for (size_t i = 0; i < MR_ARRAY_SIZE(fixed); i++)
		add_test(fixed[i].name, fixed[i].fn, NULL);
	for (size_t i = 0; i < MR_ARRAY_SIZE(fwd_cases); i++) {
		snprintf(name, sizeof(name), "forward[%zu] %s", i, fwd_cases[i].name);
		add_test(name, test_forward_row, (void *)&fwd_cases[i]);
	}
	for (size_t i = 0; i < MR_ARRAY_SIZE(resp_cases); i++) {
		snprintf(name, sizeof(name), "response[%zu]", i);
		add_test(name, test_response_row, (void *)&resp_cases[i]);
	}
	for (size_t i = 0; i < MR_ARRAY_SIZE(cidr_cases); i++) {
		snprintf(name, sizeof(name), "cidr[%zu] \"%s\"", i, cidr_cases[i].in);
		add_test(name, test_cidr_row, (void *)&cidr_cases[i]);
	}
	return _cmocka_run_group_tests("test_proxy", tests, ntests, group_setup, NULL);
}

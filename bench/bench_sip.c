/* SPDX-License-Identifier: MIT
 * bench_sip.c - mara-bench's SIP side: the UACs of the invite, register, message,
 * message-burst and noauth flows (RFC 3261 UDP client transactions with Timer A/B/E/F), the
 * digest answers to 407 challenges, and a stateless UAS that answers what the proxy forwards.
 * Owns: the UAC and UAS sockets of each thread. Thread: the generator thread.
 * Messages are written with memcpy into the call's slot (no per-message allocation) and parsed
 * with sip_parse(); a call is found from its Call-ID ("run.thread.slot.gen", hex). */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define T1_MS      500
#define T2_MS      4000
#define UAC_BUFS   512
#define UAS_BUFS   2048
#define RX_BUF     4096
#define TX_SLOTS   1024
#define TX_SLOT_SZ 2048

static const char sdp[] = "v=0\r\n"
                          "o=bench 53655765 2353687637 IN IP4 127.0.0.1\r\n"
                          "s=-\r\n"
                          "c=IN IP4 127.0.0.1\r\n"
                          "t=0 0\r\n"
                          "m=audio 6000 RTP/AVP 0\r\n"
                          "a=rtpmap:0 PCMU/8000\r\n";

/* ---- a bounded writer --------------------------------------------------------------------- */

struct wb {
	char *p;
	uint32_t len, cap;
	bool err;
};

static inline void wb_put(struct wb *b, const void *s, size_t n)
{
	if (mr_unlikely(b->len + n > b->cap)) {
		b->err = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += (uint32_t)n;
}

#define wb_lit(b, s) wb_put((b), (s), sizeof(s) - 1)

static inline void wb_str(struct wb *b, struct mr_str s)
{
	wb_put(b, s.p, s.len);
}

static inline void wb_cstr(struct wb *b, const char *s)
{
	wb_put(b, s, strlen(s));
}

static void wb_u32(struct wb *b, uint32_t v)
{
	char tmp[10];
	int n = 0;

	do {
		tmp[9 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	wb_put(b, tmp + 10 - n, (size_t)n);
}

static void wb_hex(struct wb *b, uint32_t v, int width)
{
	static const char hx[] = "0123456789abcdef";
	char tmp[8];
	int n = 0;

	do {
		tmp[7 - n++] = hx[v & 15];
		v >>= 4;
	} while (v || n < width);
	wb_put(b, tmp + 8 - n, (size_t)n);
}

/* "run.thread.slot.gen": Call-ID left part, From-tag, and the stem of every branch. */
static void wb_ident(struct wb *b, const struct bench_thread *t, const struct bench_call *c)
{
	wb_hex(b, t->run_id, 8);
	wb_lit(b, ".");
	wb_hex(b, t->id, 1);
	wb_lit(b, ".");
	wb_hex(b, (uint32_t)(c - t->calls), 1);
	wb_lit(b, ".");
	wb_hex(b, c->gen, 1);
}

static bool hex_field(const char **p, const char *end, uint32_t *out)
{
	uint32_t v = 0;
	const char *s = *p;

	if (s >= end)
		return false;
	while (s < end && *s != '.' && *s != '@') {
		char ch = *s++;

		if (ch >= '0' && ch <= '9')
			v = v * 16 + (uint32_t)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v = v * 16 + (uint32_t)(ch - 'a' + 10);
		else
			return false;
	}
	*out = v;
	*p = s < end ? s + 1 : s;
	return true;
}

/* The call a response belongs to, NULL when it is not (or no longer) ours. */
static struct bench_call *call_of(struct bench_thread *t, struct mr_str cid)
{
	const char *p = cid.p, *end = cid.p + cid.len;
	uint32_t run, tid, slot, gen;

	if (!hex_field(&p, end, &run) || !hex_field(&p, end, &tid) || !hex_field(&p, end, &slot) ||
	    !hex_field(&p, end, &gen) || run != t->run_id || tid != t->id)
		return NULL;
	return bench_call_at(t, slot, gen);
}

/* ---- sending ------------------------------------------------------------------------------ */

static void send_to(struct bench_thread *t, struct io_udp *u, const char *p, uint32_t len,
                    const struct sockaddr_storage *to, socklen_t tolen)
{
	struct io_udp_slot *s = io_udp_slot_get(u);

	if (mr_unlikely(!s || len > s->cap)) {
		if (s)
			io_udp_slot_put(u, s);
		t->st.tx_drops++; /* a retransmission (or the peer's) makes up for it */
		return;
	}
	memcpy(s->data, p, len);
	io_udp_send(u, s, len, to, tolen);
	if (bench_measuring(t))
		mr_count(&t->st.sent, 1);
}

static void send_uac(struct bench_thread *t, struct bench_call *c, const char *p, uint32_t len)
{
	send_to(t, &t->socks[c->sock], p, len, &t->cfg->target, t->cfg->target_len);
}

static bool is_invite_flow(const struct bench_thread *t)
{
	return t->cfg->flow == BENCH_FLOW_INVITE || t->cfg->flow == BENCH_FLOW_NOAUTH;
}

/* First transmission of the request in c->last: Timer A/E at T1, Timer B/F at the timeout. */
static void send_request(struct bench_thread *t, struct bench_call *c)
{
	uint64_t now = t->loop.now_ms;

	c->t_req = bench_now_us();
	c->prov = false;
	c->ival = T1_MS;
	c->rtx_due = now + T1_MS;
	c->deadline = now + (uint64_t)(t->cfg->timeout_s * 1000);
	send_uac(t, c, c->last, c->len);
	bench_timer_arm(t, c);
}

void bench_sip_timer(struct bench_thread *t, struct bench_call *c)
{
	uint64_t now = t->loop.now_ms;
	bool inv = is_invite_flow(t) && c->state != BENCH_S_BYE;

	if (c->state == BENCH_S_HOLD) { /* the call's hold time is over: hang up */
		c->state = BENCH_S_BYE;
		send_request(t, c);
		return;
	}
	if (now >= c->deadline) {
		bench_call_end(t, c, BENCH_F_TIMEOUT, 0);
		return;
	}
	if (c->rtx_due && now >= c->rtx_due) {
		send_uac(t, c, c->last, c->len);
		if (bench_measuring(t))
			mr_count(&t->st.retrans, 1);
		/* Timer A doubles without a cap; Timer E is capped at T2, and stays at T2 once a
		 * provisional came (RFC 3261 §17.1.2.2) */
		c->ival =
		    inv ? c->ival * 2 : (c->prov || c->ival * 2 > T2_MS ? T2_MS : c->ival * 2);
		c->rtx_due = now + c->ival;
	}
	bench_timer_arm(t, c);
}

/* ---- building requests ------------------------------------------------------------------- */

static void put_via(struct wb *b, const struct bench_thread *t, const struct bench_call *c,
                    uint32_t cseq, char kind)
{
	wb_lit(b, "Via: SIP/2.0/UDP ");
	wb_cstr(b, t->lhost);
	wb_lit(b, ":");
	wb_u32(b, t->sock_port[c->sock]);
	wb_lit(b, ";branch=z9hG4bK");
	wb_ident(b, t, c);
	wb_lit(b, ".");
	wb_u32(b, cseq);
	wb_put(b, &kind, 1);
	wb_lit(b, ";rport\r\n");
}

/* The headers every request of the call shares, up to and including CSeq. @ruri and @to are
 * the target (the Contact and To with tag in a dialog). */
static void put_head(struct wb *b, const struct bench_thread *t, const struct bench_call *c,
                     struct mr_str method, struct mr_str ruri, struct mr_str to, uint32_t cseq,
                     char kind)
{
	wb_str(b, method);
	wb_lit(b, " ");
	wb_str(b, ruri);
	wb_lit(b, " SIP/2.0\r\n");
	put_via(b, t, c, cseq, kind);
	wb_lit(b, "Max-Forwards: 70\r\nFrom: <");
	wb_cstr(b, t->aor);
	wb_lit(b, ">;tag=");
	wb_ident(b, t, c);
	wb_lit(b, "\r\nTo: ");
	wb_str(b, to);
	wb_lit(b, "\r\nCall-ID: ");
	wb_ident(b, t, c);
	wb_lit(b, "@mara-bench\r\nCSeq: ");
	wb_u32(b, cseq);
	wb_lit(b, " ");
	wb_str(b, method);
	wb_lit(b, "\r\n");
}

static struct mr_str flow_method(const struct bench_thread *t)
{
	switch (t->cfg->flow) {
	case BENCH_FLOW_REGISTER:
		return MR_STR_LIT("REGISTER");
	case BENCH_FLOW_MESSAGE:
	case BENCH_FLOW_BURST:
		return MR_STR_LIT("MESSAGE");
	default:
		return MR_STR_LIT("INVITE");
	}
}

int bench_ha1(struct bench_thread *t, struct mr_str realm, enum auth_alg alg)
{
	enum auth_alg base = auth_alg_base(alg);
	int ret;

	if (t->ha1_alg == (int)base && mr_str_eq(realm, mr_str_c(t->ha1_realm)))
		return 0;
	if (mr_str_copy_to(realm, t->ha1_realm, sizeof(t->ha1_realm)))
		return -EINVAL;
	ret = auth_digest_ha1(&t->hash, base, mr_str_c(t->cfg->user), realm,
	                      mr_str_c(t->cfg->password), t->ha1);
	if (ret < 0) {
		t->ha1_alg = -1;
		return ret;
	}
	t->ha1_alg = (int)base;
	return 0;
}

/* Proxy-Authorization for the nonce stored in @c, nonce-count c->nc. */
static int put_auth(struct wb *b, struct bench_thread *t, struct bench_call *c,
                    struct mr_str method)
{
	char resp[AUTH_HEX_MAX + 1], nc[9], cnonce[24];
	struct wb cb = {cnonce, 0, sizeof(cnonce) - 1, false};
	struct auth_digest d = {0};
	struct mr_str realm = mr_str_c(t->cfg->realm[0] ? t->cfg->realm : t->ha1_realm);
	int ret;

	snprintf(nc, sizeof(nc), "%08x", c->nc);
	wb_hex(&cb, (uint32_t)(c - t->calls), 1);
	wb_lit(&cb, "x");
	wb_hex(&cb, c->gen, 1);
	d.username = mr_str_c(t->cfg->user);
	d.realm = realm;
	d.nonce = mr_str_make(c->nonce, c->nonce_len);
	d.uri = mr_str_c(t->ruri);
	d.algorithm = mr_str_c(auth_alg_name((enum auth_alg)c->alg));
	d.cnonce = mr_str_make(cnonce, cb.len);
	d.nc = mr_str_make(nc, 8);
	d.qop = MR_STR_LIT("auth");
	d.method = method;
	ret = auth_digest_response(&t->hash, &d, mr_str_c(t->ha1), false, resp);
	if (ret < 0)
		return ret;
	wb_lit(b, "Proxy-Authorization: Digest username=\"");
	wb_str(b, d.username);
	wb_lit(b, "\", realm=\"");
	wb_str(b, realm);
	wb_lit(b, "\", nonce=\"");
	wb_str(b, d.nonce);
	wb_lit(b, "\", uri=\"");
	wb_str(b, d.uri);
	wb_lit(b, "\", response=\"");
	wb_put(b, resp, (size_t)ret);
	wb_lit(b, "\", algorithm=");
	wb_str(b, d.algorithm);
	wb_lit(b, ", cnonce=\"");
	wb_str(b, d.cnonce);
	wb_lit(b, "\", qop=auth, nc=");
	wb_put(b, nc, 8);
	if (c->opaque_len) {
		wb_lit(b, ", opaque=\"");
		wb_put(b, c->opaque, c->opaque_len);
		wb_lit(b, "\"");
	}
	wb_lit(b, "\r\n");
	return 0;
}

/* The flow's request (INVITE, REGISTER or MESSAGE) with CSeq @cseq into c->last; with
 * credentials when @auth. */
static int build_request(struct bench_thread *t, struct bench_call *c, uint32_t cseq, bool auth)
{
	struct wb b = {c->last, 0, sizeof(c->last), false};
	struct mr_str method = flow_method(t);
	char to[256];
	int n;

	n = snprintf(to, sizeof(to), "<%s>",
	             t->cfg->flow == BENCH_FLOW_REGISTER ? t->aor : t->to_uri);
	put_head(&b, t, c, method, mr_str_c(t->ruri), mr_str_make(to, (size_t)n), cseq, 'r');
	if (t->cfg->flow != BENCH_FLOW_MESSAGE && t->cfg->flow != BENCH_FLOW_BURST) {
		wb_lit(&b, "Contact: <sip:");
		wb_cstr(&b, t->cfg->user);
		wb_lit(&b, "@");
		wb_cstr(&b, t->lhost);
		wb_lit(&b, ":");
		wb_u32(&b, t->sock_port[c->sock]);
		wb_lit(&b, ">\r\n");
	}
	if (auth && put_auth(&b, t, c, method) < 0)
		return -EINVAL;
	switch (t->cfg->flow) {
	case BENCH_FLOW_REGISTER:
		wb_lit(&b, "Expires: 3600\r\nContent-Length: 0\r\n\r\n");
		break;
	case BENCH_FLOW_MESSAGE:
	case BENCH_FLOW_BURST:
		wb_lit(&b, "Content-Type: text/plain\r\nContent-Length: 12\r\n\r\nmara-bench\r\n");
		break;
	default:
		wb_lit(&b, "Content-Type: application/sdp\r\nContent-Length: ");
		wb_u32(&b, sizeof(sdp) - 1);
		wb_lit(&b, "\r\n\r\n");
		wb_lit(&b, sdp);
		break;
	}
	if (b.err)
		return -ENOBUFS;
	c->len = (uint16_t)b.len;
	c->cseq = cseq;
	return 0;
}

int bench_sip_start(struct bench_thread *t, struct bench_call *c)
{
	int ret;

	c->sock = (uint8_t)((uint32_t)(c - t->calls) % t->nsocks);
	c->state = BENCH_S_REQ1;
	ret = build_request(t, c, 1, false);
	if (ret)
		return ret;
	send_request(t, c);
	return 0;
}

/* ---- responses ------------------------------------------------------------------------------ */

static struct mr_str hdr_value(const struct sip_msg *m, enum sip_hdr_type type)
{
	return m->h[type] >= 0 ? m->hdrs[m->h[type]].value : (struct mr_str){0};
}

/* ACK of a non-2xx final response to INVITE: same branch as the INVITE, To of the response. */
static void ack_non2xx(struct bench_thread *t, struct bench_call *c, const struct sip_msg *m)
{
	char buf[BENCH_MSG_MAX];
	struct wb b = {buf, 0, sizeof(buf), false};

	put_head(&b, t, c, MR_STR_LIT("ACK"), mr_str_c(t->ruri), hdr_value(m, SIP_HDR_TO), m->cseq,
	         'r');
	wb_lit(&b, "Content-Length: 0\r\n\r\n");
	if (!b.err)
		send_uac(t, c, buf, b.len);
}

/* ACK of a 2xx (a new transaction along the route set: Route from Record-Route reversed,
 * Request-URI the Contact); with @bye, the BYE after it, kept in c->last. */
static int ack_2xx(struct bench_thread *t, struct bench_call *c, const struct sip_msg *m, bool bye)
{
	char buf[BENCH_MSG_MAX], route[600];
	struct wb b = {buf, 0, sizeof(buf), false}, rb = {route, 0, sizeof(route), false};
	struct mr_str rr[8], target = mr_str_c(t->ruri), to = hdr_value(m, SIP_HDR_TO);
	struct sip_nameaddr na;
	unsigned nrr = 0;

	for (unsigned i = 0; i < m->nhdrs; i++) {
		struct mr_str cur = m->hdrs[i].value, v;

		if (m->hdrs[i].type != SIP_HDR_RECORD_ROUTE)
			continue;
		while (nrr < MR_ARRAY_SIZE(rr) && sip_value_next(&cur, &v) > 0)
			rr[nrr++] = v;
	}
	if (nrr) {
		wb_lit(&rb, "Route: ");
		for (unsigned i = nrr; i-- > 0;) {
			wb_str(&rb, rr[i]);
			wb_cstr(&rb, i ? ", " : "\r\n");
		}
	}
	if (m->h[SIP_HDR_CONTACT] >= 0 &&
	    sip_nameaddr_parse(hdr_value(m, SIP_HDR_CONTACT), &na) == 0 && na.uri.len)
		target = na.uri;
	put_head(&b, t, c, MR_STR_LIT("ACK"), target, to, m->cseq, 'a');
	wb_put(&b, route, rb.len);
	wb_lit(&b, "Content-Length: 0\r\n\r\n");
	if (b.err || rb.err)
		return -ENOBUFS;
	send_uac(t, c, buf, b.len);
	if (!bye)
		return 0;
	b = (struct wb){c->last, 0, sizeof(c->last), false};
	put_head(&b, t, c, MR_STR_LIT("BYE"), target, to, m->cseq + 1, 'b');
	wb_put(&b, route, rb.len);
	wb_lit(&b, "Content-Length: 0\r\n\r\n");
	if (b.err)
		return -ENOBUFS;
	c->len = (uint16_t)b.len;
	c->cseq = m->cseq + 1;
	if (t->cfg->hold_ms) { /* bench_sip_timer() sends it */
		c->state = BENCH_S_HOLD;
		c->rtx_due = 0;
		c->deadline = t->loop.now_ms + t->cfg->hold_ms;
		bench_timer_arm(t, c);
		return 0;
	}
	c->state = BENCH_S_BYE;
	send_request(t, c);
	return 0;
}

static void fail_status(struct bench_thread *t, struct bench_call *c, unsigned code)
{
	switch (code) {
	case 403:
		bench_call_end(t, c, BENCH_F_403, code);
		break;
	case 500:
		bench_call_end(t, c, BENCH_F_500, code);
		break;
	case 503:
		bench_call_end(t, c, BENCH_F_503, code);
		break;
	default:
		bench_call_end(t, c, BENCH_F_STATUS, code);
		break;
	}
}

static void lat(struct bench_thread *t, struct bench_call *c, enum bench_lat which)
{
	if (c->measured)
		bench_hist_add(&t->st.lat[which], bench_now_us() - c->t_req);
}

/* Reads the challenge of a 407 into @c: nonce, opaque, algorithm; caches the HA1. */
static int take_challenge(struct bench_thread *t, struct bench_call *c, const struct sip_msg *m)
{
	struct mr_str v = hdr_value(m, SIP_HDR_PROXY_AUTHENTICATE);
	struct auth_digest d;
	char scratch[512];
	int alg;

	if (!v.len || auth_digest_parse(v, &d, scratch, sizeof(scratch)) || !d.nonce.len ||
	    d.nonce.len > sizeof(c->nonce) || d.opaque.len > sizeof(c->opaque))
		return -EBADMSG;
	alg = auth_alg_parse(d.algorithm);
	if (alg < 0)
		return -EINVAL;
	memcpy(c->nonce, d.nonce.p, d.nonce.len);
	c->nonce_len = (uint8_t)d.nonce.len;
	if (d.opaque.len) /* absent: a NULL slice, and memcpy(NULL) is undefined even for 0 */
		memcpy(c->opaque, d.opaque.p, d.opaque.len);
	c->opaque_len = (uint8_t)d.opaque.len;
	c->alg = (uint8_t)alg;
	c->nc = 1;
	return bench_ha1(t, t->cfg->realm[0] ? mr_str_c(t->cfg->realm) : d.realm,
	                 (enum auth_alg)alg);
}

/* A 407 whose challenge says stale=true. */
static bool stale(const struct sip_msg *m)
{
	struct mr_str v = hdr_value(m, SIP_HDR_PROXY_AUTHENTICATE);

	for (uint32_t i = 0; i + 10 <= v.len; i++)
		if ((v.p[i] == 's' || v.p[i] == 'S') &&
		    mr_str_ieq(mr_str_make(v.p + i, 10), MR_STR_LIT("stale=true")))
			return true;
	return false;
}

static void on_final(struct bench_thread *t, struct bench_call *c, const struct sip_msg *m)
{
	bool inv = is_invite_flow(t);
	unsigned code = m->status;

	if (inv && c->state != BENCH_S_BYE && code >= 300)
		ack_non2xx(t, c, m);
	switch (c->state) {
	case BENCH_S_REQ1:
		if (code == 407 && t->cfg->flow != BENCH_FLOW_NOAUTH) {
			lat(t, c, BENCH_L_CHALLENGE);
			if (take_challenge(t, c, m) || build_request(t, c, c->cseq + 1, true)) {
				bench_call_end(t, c, BENCH_F_INTERNAL, 0);
				return;
			}
			c->state = BENCH_S_REQ2;
			send_request(t, c);
		} else if (code / 100 == 2 && t->cfg->flow == BENCH_FLOW_NOAUTH) {
			lat(t, c, BENCH_L_AUTH);
			if (ack_2xx(t, c, m, true))
				bench_call_end(t, c, BENCH_F_INTERNAL, 0);
		} else {
			fail_status(t, c, code);
		}
		return;
	case BENCH_S_REQ2:
		if (code == 407 && stale(m)) {
			/* expired nonce, or one the server's replay table dropped: answer the
			 * fresh challenge, as a UA does (RFC 2617 §3.2.1) */
			if (++c->stale > BENCH_STALE_MAX) {
				bench_call_end(t, c, BENCH_F_STALE, code);
				return;
			}
			mr_count(&t->st.stale, 1);
			if (take_challenge(t, c, m) || build_request(t, c, c->cseq + 1, true)) {
				bench_call_end(t, c, BENCH_F_INTERNAL, 0);
				return;
			}
			send_request(t, c);
			return;
		}
		if (code / 100 != 2) {
			fail_status(t, c, code);
			return;
		}
		lat(t, c, BENCH_L_AUTH);
		if (inv) {
			if (ack_2xx(t, c, m, true))
				bench_call_end(t, c, BENCH_F_INTERNAL, 0);
		} else if (t->cfg->flow == BENCH_FLOW_BURST && ++c->sent < t->cfg->burst) {
			c->nc++;
			if (build_request(t, c, c->cseq + 1, true)) {
				bench_call_end(t, c, BENCH_F_INTERNAL, 0);
				return;
			}
			send_request(t, c);
		} else {
			bench_call_end(t, c, -1, 0);
		}
		return;
	case BENCH_S_BYE:
		if (code / 100 == 2)
			bench_call_end(t, c, -1, 0);
		else
			fail_status(t, c, code);
		return;
	default:
		return;
	}
}

static void on_uac_datagram(struct io_udp *u, const struct sockaddr_storage *src, socklen_t srclen,
                            const uint8_t *data, uint32_t len)
{
	struct bench_thread *t = u->arg;
	struct sip_msg *m = t->msg;
	struct bench_call *c;

	(void)src;
	(void)srclen;
	if (bench_measuring(t))
		mr_count(&t->st.received, 1);
	if (sip_parse(m, (const char *)data, len, false) <= 0 || m->request) {
		mr_count(&t->st.fail[BENCH_F_PARSE], 1);
		return;
	}
	c = call_of(t, m->call_id);
	if (!c) {
		t->st.stray++;
		return;
	}
	if (m->cseq != c->cseq) {
		/* a retransmitted final response of an earlier transaction: ACK it again */
		if (is_invite_flow(t) && mr_str_eq(m->cseq_method, MR_STR_LIT("INVITE"))) {
			if (m->status >= 300)
				ack_non2xx(t, c, m);
			else if (m->status >= 200)
				ack_2xx(t, c, m, false);
		}
		t->st.stray++;
		return;
	}
	if (m->status < 200) {
		c->prov = true;
		if (is_invite_flow(t) && c->state != BENCH_S_BYE) {
			c->rtx_due = 0; /* Timer A stops at a provisional; Timer B runs on */
			bench_timer_arm(t, c);
		}
		return;
	}
	on_final(t, c, m);
}

/* ---- the UAS: stateless answers to what the proxy forwards ---------------------------------- */

static void on_uas_datagram(struct io_udp *u, const struct sockaddr_storage *src, socklen_t srclen,
                            const uint8_t *data, uint32_t len)
{
	struct bench_thread *t = u->arg;
	struct sip_msg *m = t->msg;
	struct io_udp_slot *s;
	struct wb b;

	if (bench_measuring(t))
		mr_count(&t->st.received, 1);
	if (sip_parse(m, (const char *)data, len, false) <= 0) {
		mr_count(&t->st.fail[BENCH_F_PARSE], 1);
		return;
	}
	if (!m->request || m->method == SIP_M_ACK)
		return; /* ACKs of our 200s are absorbed */
	s = io_udp_slot_get(u);
	if (!s) {
		t->st.tx_drops++;
		return;
	}
	b = (struct wb){(char *)s->data, 0, s->cap, false};
	wb_lit(&b, "SIP/2.0 200 OK\r\n");
	for (unsigned i = 0; i < m->nhdrs; i++) {
		const struct sip_hdr *h = &m->hdrs[i];

		switch (h->type) {
		case SIP_HDR_RECORD_ROUTE:
			if (m->method != SIP_M_INVITE)
				break;
			/* fallthrough */
		case SIP_HDR_VIA:
		case SIP_HDR_FROM:
		case SIP_HDR_CALL_ID:
		case SIP_HDR_CSEQ:
			wb_put(&b, m->buf + h->off, h->len);
			break;
		case SIP_HDR_TO:
			wb_lit(&b, "To: ");
			wb_str(&b, h->value);
			if (!m->to.tag.len)
				wb_lit(&b, ";tag=mbuas");
			wb_lit(&b, "\r\n");
			break;
		default:
			break;
		}
	}
	if (m->method == SIP_M_INVITE) {
		wb_lit(&b, "Contact: <sip:uas@");
		wb_cstr(&b, t->uas_hp);
		wb_lit(&b, ">\r\nContent-Type: application/sdp\r\nContent-Length: ");
		wb_u32(&b, sizeof(sdp) - 1);
		wb_lit(&b, "\r\n\r\n");
		wb_lit(&b, sdp);
	} else {
		wb_lit(&b, "Content-Length: 0\r\n\r\n");
	}
	if (b.err) {
		io_udp_slot_put(u, s);
		t->st.tx_drops++;
		return;
	}
	io_udp_send(u, s, b.len, src, srclen);
	if (bench_measuring(t))
		mr_count(&t->st.sent, 1);
}

/* ---- setup ----------------------------------------------------------------------------------- */

static int sock_port(int fd, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                       : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

int bench_sip_setup(struct bench_thread *t)
{
	const struct bench_cfg *cfg = t->cfg;
	int ret;

	t->msg = malloc(sizeof(*t->msg));
	t->socks = calloc(cfg->sockets, sizeof(*t->socks));
	t->sock_port = calloc(cfg->sockets, sizeof(*t->sock_port));
	if (!t->msg || !t->socks || !t->sock_port)
		return -ENOMEM;
	for (unsigned i = 0; i < cfg->sockets; i++)
		t->socks[i].fd = -1;
	snprintf(t->lhost, sizeof(t->lhost), strchr(cfg->local, ':') ? "[%s]" : "%s", cfg->local);
	snprintf(t->ruri, sizeof(t->ruri),
	         cfg->flow == BENCH_FLOW_REGISTER ? "sip:%s" : "sip:%s@%s",
	         cfg->flow == BENCH_FLOW_REGISTER ? cfg->domain : cfg->callee, cfg->domain);
	snprintf(t->aor, sizeof(t->aor), "sip:%s@%s", cfg->user, cfg->domain);
	snprintf(t->to_uri, sizeof(t->to_uri), "sip:%s@%s", cfg->callee, cfg->domain);
	for (unsigned i = 0; i < cfg->sockets; i++) {
		ret = io_udp_open(&t->socks[i], &t->loop, cfg->local, 0, (uint16_t)i, UAC_BUFS,
		                  RX_BUF, TX_SLOTS, TX_SLOT_SZ, on_uac_datagram, t);
		if (ret)
			return ret;
		t->nsocks = i + 1;
		ret = sock_port(t->socks[i].fd, &t->sock_port[i]);
		if (ret)
			return ret;
	}
	if (!cfg->has_uas)
		return 0;
	snprintf(t->uas_hp, sizeof(t->uas_hp), strchr(cfg->uas_host, ':') ? "[%s]:%u" : "%s:%u",
	         cfg->uas_host, cfg->uas_port);
	/* every thread binds the UAS port (SO_REUSEPORT): the kernel picks one per source */
	ret = io_udp_open(&t->uas, &t->loop, cfg->uas_host, cfg->uas_port, (uint16_t)cfg->sockets,
	                  UAS_BUFS, RX_BUF, TX_SLOTS, TX_SLOT_SZ, on_uas_datagram, t);
	if (ret)
		return ret;
	t->uas_open = true;
	return 0;
}

void bench_sip_teardown(struct bench_thread *t)
{
	for (unsigned i = 0; t->socks && i < t->nsocks; i++)
		io_udp_close(&t->socks[i]);
	if (t->uas_open)
		io_udp_close(&t->uas);
	t->uas_open = false;
	free(t->socks);
	free(t->sock_port);
	free(t->msg);
	t->socks = NULL;
	t->sock_port = NULL;
	t->msg = NULL;
	t->nsocks = 0;
}

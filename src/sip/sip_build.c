/* SPDX-License-Identifier: MIT
 * sip_build.c - the messages a stateless proxy sends: local responses (RFC 3261 §8.2.6),
 * forwarded requests (§16.6) and forwarded responses (§16.7 step 3, §18.2.2, RFC 3581).
 * A forward is the original with a few edits (insert, delete, replace at byte offsets), applied
 * in one pass that copies the untouched spans with memcpy.
 * Owns: nothing. Thread: any; pure, no allocation. */
#include "sip_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>

void sip_buf_put(struct sip_buf *b, const void *s, size_t n)
{
	if (b->err || n == 0) /* n == 0: @s may be NULL, and memcpy(NULL) is undefined */
		return;
	if (n > b->cap - b->len) {
		b->err = -ENOBUFS;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += (uint32_t)n;
}

void sip_buf_str(struct sip_buf *b, struct mr_str s)
{
	sip_buf_put(b, s.p, s.len);
}

void sip_buf_cstr(struct sip_buf *b, const char *s)
{
	sip_buf_put(b, s, strlen(s));
}

void sip_buf_u32(struct sip_buf *b, uint32_t v)
{
	char tmp[10];

	sip_buf_put(b, tmp, mr_u32_dec(tmp, v));
}

/* ---- edits over the original message -----------------------------------------------------------
 */

#define MAX_EDITS 24

struct edit {
	uint32_t off;      /* where, in the original */
	uint32_t del;      /* bytes of the original to skip there */
	struct mr_str ins; /* bytes to write there (before the skipped ones' place) */
	const char *ins2;  /* and a C string after it (NULL = none) */
};

struct edits {
	struct edit e[MAX_EDITS];
	unsigned n;
	int err;
};

static void edit_add(struct edits *es, uint32_t off, uint32_t del, struct mr_str ins,
                     const char *ins2)
{
	unsigned i;

	if (es->n == MAX_EDITS) {
		es->err = -E2BIG;
		return;
	}
	/* keep sorted by offset; equal offsets keep the order they were added in */
	for (i = es->n; i > 0 && es->e[i - 1].off > off; i--)
		es->e[i] = es->e[i - 1];
	es->e[i] = (struct edit){off, del, ins, ins2};
	es->n++;
}

static uint32_t off_of(const struct sip_msg *m, struct mr_str s)
{
	return (uint32_t)(s.p - m->buf);
}

/* Writes @m[from, to) with the edits applied. Overlapping deletions are clipped. */
static void apply(struct sip_buf *b, const struct sip_msg *m, const struct edits *es, uint32_t from,
                  uint32_t to)
{
	uint32_t pos = from;

	for (unsigned i = 0; i < es->n; i++) {
		const struct edit *e = &es->e[i];

		if (e->off < pos || e->off > to)
			continue;
		sip_buf_put(b, m->buf + pos, e->off - pos);
		sip_buf_str(b, e->ins);
		if (e->ins2)
			sip_buf_cstr(b, e->ins2);
		pos = e->off + e->del;
		if (pos > to)
			pos = to;
	}
	sip_buf_put(b, m->buf + pos, to - pos);
}

/* Offset just after a valueless ";rport" in the Via value @v, 0 when there is none. */
static uint32_t rport_flag_end(const struct sip_msg *m, const struct sip_via *v)
{
	const char *p = m->buf + v->off, *end = p + v->len;

	for (; p + 6 <= end; p++) {
		if (*p != ';')
			continue;
		const char *q = p + 1;

		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		if (end - q < 5 || !mr_str_ieq(mr_str_make(q, 5), MR_STR_LIT("rport")))
			continue;
		q += 5;
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		if (q == end || *q == ';')
			return (uint32_t)(q - m->buf);
	}
	return 0;
}

/* ;received=<ip> and rport=<port> on the top Via of a request (RFC 3261 §18.2.1, RFC 3581 §4):
 * received when the sent-by host differs from the source or rport was asked for. @tmp holds
 * the texts; the edits point into it. */
static void via_received(struct edits *es, const struct sip_msg *m, const struct sip_rcv *rcv,
                         char *tmp, size_t cap)
{
	const struct sip_via *v = &m->via[0];
	struct mr_str host = v->host;
	uint32_t at;
	int n = 0;

	if (!m->nvia || rcv->src_ip[0] == '\0')
		return;
	if (host.len >= 2 && host.p[0] == '[') {
		host.p++;
		host.len -= 2;
	}
	if (!v->received.p && (v->has_rport || !mr_str_ieq(host, mr_str_c(rcv->src_ip))))
		n = snprintf(tmp, cap, ";received=%s", rcv->src_ip);
	/* "=port" first: when ";rport" ends the value both edits sit at the same offset */
	at = v->has_rport && v->rport.len == 0 ? rport_flag_end(m, v) : 0;
	if (at) {
		char *pt = tmp + n + 1;

		snprintf(pt, cap - (size_t)n - 1, "=%u", rcv->src_port);
		edit_add(es, at, 0, mr_str_c(pt), NULL);
	}
	if (n > 0)
		edit_add(es, v->off + v->len, 0, mr_str_make(tmp, (size_t)n), NULL);
}

/* ---- local responses ----------------------------------------------------------------------------
 */

void sip_build_response(struct sip_buf *b, const struct sip_msg *m, const struct sip_rcv *rcv,
                        unsigned code, const char *reason, struct mr_str to_tag,
                        struct mr_str extra)
{
	static const enum sip_hdr_type copied[] = {SIP_HDR_FROM, SIP_HDR_CALL_ID, SIP_HDR_CSEQ};
	char tmp[160];
	struct edits es = {0};

	sip_buf_cstr(b, "SIP/2.0 ");
	sip_buf_u32(b, code);
	sip_buf_cstr(b, " ");
	sip_buf_cstr(b, reason ? reason : sip_reason(code));
	sip_buf_cstr(b, "\r\n");
	/* every Via field in order, the top value with received/rport */
	if (rcv)
		via_received(&es, m, rcv, tmp, sizeof(tmp));
	for (unsigned i = 0; i < m->nhdrs; i++) {
		const struct sip_hdr *h = &m->hdrs[i];

		if (h->type == SIP_HDR_VIA)
			apply(b, m, &es, h->off, h->off + h->len);
	}
	for (unsigned k = 0; k < MR_ARRAY_SIZE(copied); k++) {
		int i = m->h[copied[k]];

		if (i >= 0)
			sip_buf_put(b, m->buf + m->hdrs[i].off, m->hdrs[i].len);
	}
	if (m->h[SIP_HDR_TO] >= 0) {
		const struct sip_hdr *h = &m->hdrs[m->h[SIP_HDR_TO]];

		/* the field without its CRLF, then ;tag= when it has none */
		sip_buf_put(b, m->buf + h->off, off_of(m, h->value) + h->value.len - h->off);
		if (!m->to.tag.len && to_tag.len) {
			sip_buf_cstr(b, ";tag=");
			sip_buf_str(b, to_tag);
		}
		sip_buf_cstr(b, "\r\n");
	}
	sip_buf_str(b, extra);
	sip_buf_cstr(b, "Server: mara\r\nContent-Length: 0\r\n\r\n");
}

/* ---- forwarding
 * ----------------------------------------------------------------------------------- */

static void host_port(struct sip_buf *b, const char *host, uint16_t port)
{
	bool v6 = strchr(host, ':') != NULL;

	if (v6)
		sip_buf_cstr(b, "[");
	sip_buf_cstr(b, host);
	if (v6)
		sip_buf_cstr(b, "]");
	sip_buf_cstr(b, ":");
	sip_buf_u32(b, port);
}

#define MAX_VALUES 64

/* Removes the Route values that start at one of @drop (n of them) from every Route field: a
 * field whose values all go is removed whole; otherwise each run of removed values goes with
 * the comma that joined it to a kept one, so edits never overlap. */
static void drop_routes(struct edits *es, const struct sip_msg *m, const char *const *drop,
                        unsigned n)
{
	for (unsigned i = 0; i < m->nhdrs; i++) {
		const struct sip_hdr *h = &m->hdrs[i];
		struct mr_str cur, v[MAX_VALUES];
		bool gone[MAX_VALUES];
		unsigned nv = 0, ngone = 0;

		if (h->type != SIP_HDR_ROUTE)
			continue;
		cur = h->value;
		while (nv < MAX_VALUES && sip_value_next(&cur, &v[nv]) > 0) {
			gone[nv] = false;
			for (unsigned k = 0; k < n; k++)
				gone[nv] |= v[nv].p == drop[k];
			ngone += gone[nv];
			nv++;
		}
		if (!ngone)
			continue;
		if (ngone == nv) {
			edit_add(es, h->off, h->len, (struct mr_str){0}, NULL);
			continue;
		}
		for (unsigned a = 0; a < nv; a++) {
			unsigned b = a;
			uint32_t from, to;

			if (!gone[a])
				continue;
			while (b + 1 < nv && gone[b + 1])
				b++;
			if (a == 0) { /* "v.., next" -> "next" */
				from = off_of(m, v[0]);
				to = off_of(m, v[b + 1]);
			} else { /* "prev, v.." -> "prev" */
				from = off_of(m, v[a - 1]) + v[a - 1].len;
				to = off_of(m, v[b]) + v[b].len;
			}
			edit_add(es, from, to - from, (struct mr_str){0}, NULL);
			a = b;
		}
	}
}

/* The first @n Route values, over as many fields as they span, into @out. */
static unsigned first_routes(const struct sip_msg *m, int n, const char **out)
{
	unsigned k = 0;

	for (unsigned i = 0; i < m->nhdrs && (int)k < n; i++) {
		struct mr_str cur, v;

		if (m->hdrs[i].type != SIP_HDR_ROUTE)
			continue;
		cur = m->hdrs[i].value;
		while ((int)k < n && sip_value_next(&cur, &v) > 0)
			out[k++] = v.p;
	}
	return k;
}

void sip_build_forward(struct sip_buf *b, const struct sip_proxy_cfg *cfg, const struct sip_msg *m,
                       const struct sip_rcv *rcv, const struct sip_decision *d, const char *branch)
{
	/* via: @branch may carry ;mc= and up to 255 bytes of Proxy-Authentication-Info
	 * parameters (sip_authcache_via_params()) */
	char via[640], rr[200], mf[32], tmp[160], cl[48], strict[600];
	struct sip_buf vb, rb;
	struct edits es = {0};
	uint32_t first_hdr = m->nhdrs ? m->hdrs[0].off : m->body_off;
	uint32_t end_hdrs = m->body_off >= 2 ? m->body_off - 2 : m->body_off;
	const char *tp = d->next_tp == SIP_TP_TCP ? "TCP" : "UDP";
	bool rr_wanted;

	/* start line: the R-URI replaced (§16.4 target, or the strict router next) */
	if (d->strict_next && d->strict_uri.len)
		edit_add(&es, off_of(m, m->ruri), m->ruri.len, d->strict_uri, NULL);
	else if (d->new_ruri.len)
		edit_add(&es, off_of(m, m->ruri), m->ruri.len, d->new_ruri, NULL);
	/* our Via, first of the header fields */
	sip_buf_init(&vb, via, sizeof(via));
	sip_buf_cstr(&vb, "Via: SIP/2.0/");
	sip_buf_cstr(&vb, tp);
	sip_buf_cstr(&vb, " ");
	host_port(&vb, cfg->host, cfg->port);
	sip_buf_cstr(&vb, ";branch=");
	sip_buf_cstr(&vb, branch);
	sip_buf_cstr(&vb, "\r\n");
	if (vb.err) { /* never a cut Via: nothing is sent */
		b->err = vb.err;
		return;
	}
	edit_add(&es, first_hdr, 0, mr_str_make(via, vb.len), NULL);
	if (rcv)
		via_received(&es, m, rcv, tmp, sizeof(tmp));
	/* Record-Route: ours above any other, only on requests that may create a dialog */
	rr_wanted = cfg->record_route && !m->to.tag.len && m->method != SIP_M_REGISTER;
	if (rr_wanted) {
		int at = m->h[SIP_HDR_RECORD_ROUTE];

		sip_buf_init(&rb, rr, sizeof(rr));
		sip_buf_cstr(&rb, "Record-Route: <sip:");
		host_port(&rb, cfg->host, cfg->port);
		sip_buf_cstr(&rb, d->next_tp == SIP_TP_TCP ? ";transport=tcp;lr>\r\n" : ";lr>\r\n");
		edit_add(&es, at >= 0 ? m->hdrs[at].off : first_hdr, 0, mr_str_make(rr, rb.len),
		         NULL);
	}

	/* Max-Forwards */
	if (m->h[SIP_HDR_MAX_FORWARDS] >= 0) {
		const struct sip_hdr *h = &m->hdrs[m->h[SIP_HDR_MAX_FORWARDS]];

		unsigned n =
		    mr_u32_dec(mf, m->max_forwards > 0 ? (uint32_t)m->max_forwards - 1 : 0);

		edit_add(&es, off_of(m, h->value), h->value.len, mr_str_make(mf, n), NULL);
	} else {
		edit_add(&es, end_hdrs, 0, MR_STR_LIT("Max-Forwards: 70\r\n"), NULL);
	}
	/* our realm's credentials are consumed (§22.3: not the others) */
	if (d->authz_hdr >= 0)
		edit_add(&es, m->hdrs[d->authz_hdr].off, m->hdrs[d->authz_hdr].len,
		         (struct mr_str){0}, NULL);
	/* Route values that go: ours on top, the one moved into the R-URI by §16.4, the strict
	 * router's own; all in one pass so that edits on one field never overlap */
	{
		const char *drop[4];
		unsigned nd = first_routes(m, d->pop_route < 2 ? d->pop_route : 2, drop);

		if (d->last_route_drop.p)
			drop[nd++] = d->last_route_drop.p;
		if (d->strict_next && d->strict_drop.p)
			drop[nd++] = d->strict_drop.p;
		if (nd)
			drop_routes(&es, m, drop, nd);
	}
	if (d->strict_next && d->strict_drop.p) {
		struct mr_str prev = d->new_ruri.len ? d->new_ruri : m->ruri;

		/* §16.6 step 6: the Request-URI it replaced becomes the last Route */
		snprintf(strict, sizeof(strict), "Route: <%.*s>\r\n", (int)prev.len, prev.p);
		edit_add(&es, end_hdrs, 0, mr_str_c(strict), NULL);
	}
	/* a stream needs Content-Length (§18.3) */
	if (d->next_tp == SIP_TP_TCP && m->h[SIP_HDR_CONTENT_LENGTH] < 0) {
		snprintf(cl, sizeof(cl), "Content-Length: %u\r\n", m->body.len);
		edit_add(&es, end_hdrs, 0, mr_str_c(cl), NULL);
	}
	if (es.err) {
		b->err = es.err;
		return;
	}
	/* headers, the empty line and exactly Content-Length bytes of body (RFC 4475 dblreq) */
	apply(b, m, &es, 0, m->body_off + m->body.len);
}

/* ---- responses
 * ----------------------------------------------------------------------------------- */

static bool via_is_ours(const struct sip_proxy_cfg *cfg, const struct sip_via *v)
{
	struct mr_str h = v->host;

	if (h.len >= 2 && h.p[0] == '[') {
		h.p++;
		h.len -= 2;
	}
	return mr_str_ieq(h, mr_str_c(cfg->host)) && (v->port ? v->port : 5060) == cfg->port;
}

static int via_dest(const struct sip_via *v, struct sockaddr_storage *ss, socklen_t *len)
{
	/* §18.2.2: maddr first, then received, then sent-by */
	struct mr_str h = v->maddr.len ? v->maddr : v->received.len ? v->received : v->host;
	uint16_t port = v->port ? v->port : 5060;

	if (v->rport.len && !v->maddr.len) {
		unsigned long p = 0;

		for (uint32_t i = 0; i < v->rport.len; i++) {
			if (v->rport.p[i] < '0' || v->rport.p[i] > '9')
				return -EINVAL;
			p = p * 10 + (unsigned long)(v->rport.p[i] - '0');
			if (p > 65535)
				return -EINVAL;
		}
		port = (uint16_t)p;
	}
	/* a name: no DNS in a stateless proxy's response path */
	return sip_addr_numeric(h, port, ss, len);
}

int sip_proxy_response(struct sip_buf *b, const struct sip_proxy_cfg *cfg, const struct sip_msg *m,
                       struct sockaddr_storage *next, socklen_t *next_len,
                       enum sip_transport *next_tp)
{
	struct edits es = {0};
	const struct sip_via *top = &m->via[0], *nv = &m->via[1];
	const struct sip_hdr *h;
	int ret;

	if (m->nvia < 2 || !via_is_ours(cfg, top))
		return -ENOENT;
	ret = via_dest(nv, next, next_len);
	if (ret)
		return ret;
	*next_tp = mr_str_ieq(nv->transport, MR_STR_LIT("TCP")) ? SIP_TP_TCP : SIP_TP_UDP;
	h = &m->hdrs[top->hdr];
	if (nv->hdr != top->hdr) /* our Via is alone in its field */
		edit_add(&es, h->off, h->len, (struct mr_str){0}, NULL);
	else /* "ours, next" -> "next" */
		edit_add(&es, top->off, nv->off - top->off, (struct mr_str){0}, NULL);
	apply(b, m, &es, 0, m->body_off + m->body.len);
	return b->err;
}

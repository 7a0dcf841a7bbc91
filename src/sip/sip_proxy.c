/* SPDX-License-Identifier: MIT
 * sip_proxy.c - request rules of a stateless proxy (RFC 3261 §16.3-16.6, §16.11): validation,
 * Route preprocessing, the auth policy, next hop, destination allow-list; branch and To-tag.
 * Owns: nothing. Thread: any; pure, no allocation, no DNS. */
#include "sip_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack: no allocation per hash */
#include <xxhash.h>

static void hex64(char *out, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 15; i >= 0; i--) {
		out[i] = digits[v & 15];
		v >>= 4;
	}
}

void sip_proxy_to_tag(const struct sip_proxy_cfg *cfg, const struct sip_msg *m, char *out)
{
	XXH3_state_t st;

	/* keyed by our secret: the same Call-ID and From-tag always give the same tag, and a UA
	 * cannot forge one that makes us absorb its ACK */
	XXH3_64bits_reset_withSeed(&st, 0x6d617261);
	XXH3_64bits_update(&st, cfg->secret, sizeof(cfg->secret));
	XXH3_64bits_update(&st, m->call_id.p, m->call_id.len);
	XXH3_64bits_update(&st, "\0", 1);
	XXH3_64bits_update(&st, m->from.tag.p, m->from.tag.len);
	memcpy(out, "mara", 4);
	hex64(out + 4, XXH3_64bits_digest(&st));
	out[20] = '\0';
}

/* The part of the branch that names where the request goes (§16.6 step 8), without the Vias
 * and Routes that each hop changes. */
static uint32_t loop_hash(const struct sip_msg *m)
{
	XXH3_state_t st;
	char num[10];
	unsigned n = mr_u32_dec(num, m->cseq);

	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, m->ruri.p, m->ruri.len);
	XXH3_64bits_update(&st, m->call_id.p, m->call_id.len);
	XXH3_64bits_update(&st, m->from.tag.p, m->from.tag.len);
	XXH3_64bits_update(&st, "\0", 1);
	XXH3_64bits_update(&st, m->to.tag.p, m->to.tag.len);
	XXH3_64bits_update(&st, num, (size_t)n);
	for (unsigned i = 0; i < m->nhdrs; i++)
		if (m->hdrs[i].type == SIP_HDR_PROXY_REQUIRE)
			XXH3_64bits_update(&st, m->hdrs[i].value.p, m->hdrs[i].value.len);
	return (uint32_t)XXH3_64bits_digest(&st);
}

void sip_proxy_branch(const struct sip_msg *m, char *out)
{
	const struct sip_via *v = &m->via[0];
	XXH3_state_t st;
	char loop[17];

	XXH3_64bits_reset(&st);
	if (m->nvia && v->branch.len > 7 && memcmp(v->branch.p, "z9hG4bK", 7) == 0) {
		/* RFC 3261 branch: unique per transaction already; with the sent-by it names it */
		XXH3_64bits_update(&st, v->branch.p, v->branch.len);
		XXH3_64bits_update(&st, v->host.p, v->host.len);
		XXH3_64bits_update(&st, &v->port, sizeof(v->port));
	} else {
		/* RFC 2543 peer: the fields a retransmission keeps (§16.11) */
		char num[10];
		unsigned n = mr_u32_dec(num, m->cseq);

		if (m->nvia)
			XXH3_64bits_update(&st, m->buf + v->off, v->len);
		XXH3_64bits_update(&st, m->to.tag.p, m->to.tag.len);
		XXH3_64bits_update(&st, m->from.tag.p, m->from.tag.len);
		XXH3_64bits_update(&st, m->call_id.p, m->call_id.len);
		XXH3_64bits_update(&st, num, (size_t)n);
		XXH3_64bits_update(&st, m->ruri.p, m->ruri.len);
	}
	memcpy(out, "z9hG4bK", 7);
	hex64(out + 7, XXH3_64bits_digest(&st));
	hex64(loop, loop_hash(m));
	memcpy(out + 23, loop + 8, 8);
	out[SIP_BRANCH_LEN] = '\0';
}

/* ---- addresses ------------------------------------------------------------------------------ */

int sip_cidr_parse(const char *s, struct sip_cidr *c)
{
	char ip[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	struct sip_cidr r;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&r.net;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&r.net;
	unsigned max, bits = 0;

	if (n == 0 || n >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, n);
	ip[n] = '\0';
	memset(&r, 0, sizeof(r));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	r.bits = max;
	if (slash) { /* decimal digits only: no sign, no blanks */
		const char *d = slash + 1;

		if (*d == '\0' || strlen(d) > 3)
			return -EINVAL;
		for (; *d; d++) {
			if (*d < '0' || *d > '9')
				return -EINVAL;
			bits = bits * 10 + (unsigned)(*d - '0');
		}
		if (bits > max)
			return -EINVAL;
		r.bits = bits;
	}
	*c = r; /* only on success */
	return 0;
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	return rest == 0 || ((a[bytes] ^ b[bytes]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

bool sip_proxy_allowed(const struct sip_proxy_cfg *cfg, const struct sockaddr_storage *ss)
{
	for (unsigned i = 0; i < cfg->nallow; i++) {
		const struct sip_cidr *c = &cfg->allow[i];

		if (c->net.ss_family != ss->ss_family)
			continue;
		if (ss->ss_family == AF_INET &&
		    prefix_eq((const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr,
		              (const uint8_t *)&((const struct sockaddr_in *)&c->net)->sin_addr,
		              c->bits))
			return true;
		if (ss->ss_family == AF_INET6 &&
		    prefix_eq((const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_addr,
		              (const uint8_t *)&((const struct sockaddr_in6 *)&c->net)->sin6_addr,
		              c->bits))
			return true;
	}
	return false;
}

int sip_addr_numeric(struct mr_str host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	char ip[64];

	if (host.len >= 2 && host.p[0] == '[') {
		host.p++;
		host.len -= 2;
	}
	if (mr_str_copy_to(host, ip, sizeof(ip)))
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return 0;
	}
	return -EINVAL;
}

/* ---- the rules ------------------------------------------------------------------------------ */

static bool uri_is_ours(const struct sip_proxy_cfg *cfg, const struct sip_uri *u)
{
	struct mr_str h = u->host;

	if (h.len >= 2 && h.p[0] == '[') {
		h.p++;
		h.len -= 2;
	}
	return mr_str_ieq(h, mr_str_c(cfg->host)) && (u->port ? u->port : 5060) == cfg->port;
}

static enum sip_transport uri_tp(const struct sip_uri *u)
{
	return mr_str_ieq(u->transport, MR_STR_LIT("tcp")) ? SIP_TP_TCP : SIP_TP_UDP;
}

/* The realm parameter of a Digest credentials value, unquoted. */
static struct mr_str digest_realm(struct mr_str v)
{
	struct mr_str cur, x;
	uint32_t i = 0;

	while (i < v.len && v.p[i] != ' ' && v.p[i] != '\t') /* the scheme */
		i++;
	cur = mr_str_make(v.p + i, v.len - i);
	while (sip_value_next(&cur, &x) > 0) {
		uint32_t k = 0;

		while (k < x.len && x.p[k] != '=')
			k++;
		if (k == x.len)
			continue;
		struct mr_str name = mr_str_make(x.p, k),
		              val = mr_str_make(x.p + k + 1, x.len - k - 1);

		while (name.len && (name.p[name.len - 1] == ' ' || name.p[name.len - 1] == '\t'))
			name.len--;
		while (val.len && (val.p[0] == ' ' || val.p[0] == '\t')) {
			val.p++;
			val.len--;
		}
		if (!mr_str_ieq(name, MR_STR_LIT("realm")))
			continue;
		if (val.len >= 2 && val.p[0] == '"' && val.p[val.len - 1] == '"') {
			val.p++;
			val.len -= 2;
		}
		return val;
	}
	return (struct mr_str){0};
}

static void reply(struct sip_decision *d, unsigned code, const char *why)
{
	d->verdict = SIP_V_REPLY;
	d->code = code;
	d->why = why;
}

/* Route values in wire order: the first (and second) for popping, the last for strict routers. */
struct routes {
	struct mr_str v[3]; /* the first three */
	struct mr_str last;
	unsigned n;
};

static void collect_routes(const struct sip_msg *m, struct routes *r)
{
	memset(r, 0, sizeof(*r));
	for (unsigned i = 0; i < m->nhdrs; i++) {
		struct mr_str cur, x;

		if (m->hdrs[i].type != SIP_HDR_ROUTE)
			continue;
		cur = m->hdrs[i].value;
		while (sip_value_next(&cur, &x) > 0) {
			if (r->n < 3)
				r->v[r->n] = x;
			r->last = x;
			r->n++;
		}
	}
}

static bool route_is_ours(const struct sip_proxy_cfg *cfg, struct mr_str v)
{
	struct sip_nameaddr na;
	struct sip_uri u;

	return sip_nameaddr_parse(v, &na) == 0 && sip_uri_parse(na.uri, &u) == 0 &&
	       uri_is_ours(cfg, &u);
}

/* §16.3 steps 2-5: scheme, Max-Forwards, loop, Proxy-Require. True when @d is decided. */
static bool validate(const struct sip_proxy_cfg *cfg, const struct sip_msg *m,
                     struct sip_decision *d)
{
	char branch[SIP_BRANCH_LEN + 1];

	if (!mr_str_ieq(m->ruri_p.scheme, MR_STR_LIT("sip")) &&
	    !mr_str_ieq(m->ruri_p.scheme, MR_STR_LIT("sips"))) {
		reply(d, 416, "unsupported URI scheme");
		return true;
	}
	if (m->max_forwards == 0 && m->method != SIP_M_ACK) {
		reply(d, 483, "Max-Forwards is 0");
		return true;
	}
	/* a loop: a Via of ours whose branch carries the loop part this very request would get
	 * (same target and dialog fields); another loop part means a spiral (§16.3 step 4) */
	sip_proxy_branch(m, branch);
	for (unsigned i = 0; i < m->nvia; i++) {
		const struct sip_via *v = &m->via[i];
		struct mr_str h = v->host;

		if (h.len >= 2 && h.p[0] == '[') {
			h.p++;
			h.len -= 2;
		}
		if (mr_str_ieq(h, mr_str_c(cfg->host)) && (v->port ? v->port : 5060) == cfg->port &&
		    v->branch.len == SIP_BRANCH_LEN &&
		    memcmp(v->branch.p + 23, branch + 23, 8) == 0) {
			reply(d, 482, "loop detected");
			return true;
		}
	}
	if (m->h[SIP_HDR_PROXY_REQUIRE] >= 0 && m->method != SIP_M_ACK &&
	    m->method != SIP_M_CANCEL) {
		reply(d, 420, "Proxy-Require: no extension supported");
		d->unsupported = m->hdrs[m->h[SIP_HDR_PROXY_REQUIRE]].value;
		return true;
	}
	return false;
}

/* §16.6 step 7: the next hop, by Route, route table, then the R-URI. */
static void next_hop(const struct sip_proxy_cfg *cfg, const struct sip_msg *m,
                     const struct sip_uri *target, const struct routes *r, unsigned nroutes,
                     struct sip_decision *d)
{
	struct sip_nameaddr na;
	struct sip_uri u;
	int ret;

	if ((unsigned)d->pop_route < nroutes) {
		struct mr_str top = r->v[d->pop_route]; /* pop_route <= 2: the first left */

		if (sip_nameaddr_parse(top, &na) || sip_uri_parse(na.uri, &u)) {
			reply(d, 400, "bad Route");
			return;
		}
		if (!u.lr) { /* strict router next: it gets the route in its R-URI */
			d->strict_uri = na.uri;
			d->strict_drop = top;
			d->strict_next = true;
		}
		d->next_tp = uri_tp(&u);
		if (sip_addr_numeric(u.host, u.port ? u.port : 5060, &d->next, &d->next_len)) {
			reply(d, 404, "Route host is not numeric (no DNS)");
			return;
		}
		return;
	}
	/* the route table is for requests that start a dialog or stand alone; in a dialog the
	 * Request-URI is the remote target (a Contact) and goes where it says */
	for (unsigned i = 0; i < cfg->nroutes && !m->to.tag.len; i++) {
		const struct sip_route *rt = &cfg->routes[i];

		if (strcmp(rt->domain, "*") != 0 && !mr_str_ieq(target->host, mr_str_c(rt->domain)))
			continue;
		d->next_tp = rt->tp;
		ret = sip_addr_numeric(mr_str_c(rt->addr), rt->port, &d->next, &d->next_len);
		if (ret)
			reply(d, 500, "bad route table entry");
		return;
	}
	if (uri_is_ours(cfg, target)) {
		reply(d, 404, "no route for a request to us");
		return;
	}
	d->next_tp = uri_tp(target);
	if (sip_addr_numeric(target->host, target->port ? target->port : 5060, &d->next,
	                     &d->next_len))
		reply(d, 404, "no route for the domain (no DNS)");
}

int sip_proxy_route(const struct sip_proxy_cfg *cfg, const struct sip_msg *m,
                    const struct sip_rcv *rcv, struct sip_decision *d)
{
	struct sip_uri target;
	unsigned nroutes;
	struct routes r;
	char tag[24];

	(void)rcv;
	memset(d, 0, sizeof(*d));
	d->authz_hdr = -1;
	d->verdict = SIP_V_FORWARD;
	if (!m->request)
		return -EINVAL;
	if (validate(cfg, m, d))
		return 0;
	/* the ACK of a non-2xx response we sent ourselves (our 407) stops here (§16.11) */
	if (m->method == SIP_M_ACK && m->to.tag.len) {
		sip_proxy_to_tag(cfg, m, tag);
		if (mr_str_eq(m->to.tag, mr_str_c(tag))) {
			d->verdict = SIP_V_DROP;
			d->why = "ACK of our response";
			return 0;
		}
	}
	/* §16.4: a strict router before us put our URI in the R-URI */
	collect_routes(m, &r);
	target = m->ruri_p;
	nroutes = r.n;
	if (uri_is_ours(cfg, &m->ruri_p) && r.n) {
		struct sip_nameaddr na;

		if (sip_nameaddr_parse(r.last, &na) == 0 && sip_uri_parse(na.uri, &target) == 0) {
			/* the last Route is the real target: it becomes the R-URI */
			d->new_ruri = na.uri;
			d->last_route_drop = r.last;
			nroutes--;
		}
	}
	/* loose routing: our own Route values on top are removed (two with double RR) */
	while ((unsigned)d->pop_route < nroutes && d->pop_route < 2 &&
	       route_is_ours(cfg, r.v[d->pop_route]))
		d->pop_route++;
	d->in_dialog = m->to.tag.len && d->pop_route > 0;
	next_hop(cfg, m, &target, &r, nroutes, d);
	if (d->verdict == SIP_V_REPLY)
		return 0;
	if (!sip_proxy_allowed(cfg, &d->next)) {
		reply(d, 403, "destination not allowed");
		return 0;
	}
	/* auth policy: never ACK or CANCEL (they cannot be resubmitted) */
	if (!(cfg->auth_methods & m->method) || m->method == SIP_M_ACK ||
	    m->method == SIP_M_CANCEL || (d->in_dialog && !cfg->auth_in_dialog))
		return 0;
	for (unsigned i = 0; i < m->nhdrs; i++) {
		const struct sip_hdr *h = &m->hdrs[i];

		if (h->type == SIP_HDR_PROXY_AUTHORIZATION &&
		    mr_str_eq(digest_realm(h->value), mr_str_c(cfg->realm))) {
			d->authz_hdr = (int)i;
			d->authz_value = h->value;
			break;
		}
	}
	d->verdict = SIP_V_AUTH;
	return 0;
}

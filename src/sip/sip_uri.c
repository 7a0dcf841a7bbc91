/* SPDX-License-Identifier: MIT
 * sip_uri.c - SIP URI (RFC 3261 §19.1, IPv6 references per RFC 5118), name-addr, parameter
 * lists, comma-separated values and Via values (§20.42), all as slices of the input.
 * Owns: nothing; fills caller structs with slices into the caller's bytes.
 * Thread: any; pure, no allocation. */
#include "sip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#define NO_STOP 256 /* param_list(): no stop character */

/* A parameter a caller wants out of a list: @val gets its value, @found (optional) is set. */
struct pwant {
	const char *name; /* lower case */
	uint32_t len;
	struct mr_str *val;
	bool *found;
};

static inline struct mr_str span(const char *b, const char *e)
{
	return (struct mr_str){b, (uint32_t)(e - b)};
}

static inline const char *sws_skip(const char *p, const char *end)
{
	while (p < end && sip_is(*p, SIP_C_WS))
		p++;
	return p;
}

static inline const char *sws_rtrim(const char *b, const char *e)
{
	while (e > b && sip_is(e[-1], SIP_C_WS))
		e--;
	return e;
}

static inline const char *run(const char *p, const char *end, unsigned cls)
{
	while (p < end && sip_is(*p, cls))
		p++;
	return p;
}

/* Case-insensitive match against a lower-case ASCII literal: x | 0x20 equals a lower-case
 * letter only for that letter in either case, and the literals hold nothing else but '-'. */
static inline bool lc_eq(const char *p, uint32_t len, const char *lc, uint32_t n)
{
	if (len != n)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		if (((unsigned char)p[i] | 0x20u) != (unsigned char)lc[i])
			return false;
	}
	return true;
}

/* @p at an opening quote: returns the byte after the closing one, NULL if it is not closed.
 * quoted-pair is '\' and any byte but CR or LF (§25.1 allows NUL: RFC 4475 intmeth). */
static const char *quoted_end(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '"')
			return p + 1;
		if (*p == '\\') {
			p++;
			if (p >= end || *p == '\r' || *p == '\n')
				return NULL;
		}
	}
	return NULL;
}

/* IPv6reference contents (without the brackets), RFC 4291 text form: inet_pton, so the
 * 3-colon form that RFC 3261's ABNF admits (RFC 5118 §4.10) is refused. */
static bool ipv6_ok(const char *b, const char *e)
{
	char tmp[INET6_ADDRSTRLEN];
	struct in6_addr a;
	size_t n = (size_t)(e - b);

	if (n < 2 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, b, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET6, tmp, &a) == 1;
}

/* port = 1*5DIGIT, 1..65535 (0 cannot be told from "absent", so it is refused). */
static const char *port_parse(const char *p, const char *end, uint16_t *port)
{
	const char *b = p;
	uint32_t v = 0;

	while (p < end && sip_is(*p, SIP_C_DIGIT) && p - b < 6) {
		v = v * 10 + (uint32_t)(*p - '0');
		p++;
	}
	if (p == b || v == 0 || v > 65535)
		return NULL;
	*port = (uint16_t)v;
	return p;
}

/* host [":" port]; @sws allows LWS around the colon (Via sent-by), not in URIs. */
static const char *hostport_parse(const char *p, const char *end, struct mr_str *host,
                                  uint16_t *port, bool sws)
{
	const char *q;

	if (p >= end)
		return NULL;
	if (*p == '[') {
		q = memchr(p, ']', (size_t)(end - p));
		if (!q || !ipv6_ok(p + 1, q))
			return NULL;
		q++;
	} else {
		q = run(p, end, SIP_C_HOST);
		if (q == p)
			return NULL;
	}
	*host = span(p, q);
	p = q;
	q = sws ? sws_skip(p, end) : p;
	if (q < end && *q == ':') {
		q = sws ? sws_skip(q + 1, end) : q + 1;
		return port_parse(q, end, port);
	}
	return p;
}

/* One generic-param at @p: name [SWS "=" SWS value], value a run of SIP_C_PVAL bytes (token,
 * host, IPv6 reference with or without brackets) or a quoted string (kept with its quotes).
 * Returns the byte after it (LWS after it not consumed), NULL if malformed. */
static const char *param_one(const char *p, const char *end, struct mr_str *name,
                             struct mr_str *val)
{
	const char *q = run(p, end, SIP_C_PVAL);

	if (q == p)
		return NULL;
	*name = span(p, q);
	*val = span(q, q);
	p = sws_skip(q, end);
	if (p == end || *p != '=')
		return q;
	p = sws_skip(p + 1, end);
	if (p < end && *p == '"') {
		q = quoted_end(p, end);
		if (!q)
			return NULL;
	} else {
		q = run(p, end, SIP_C_PVAL);
		if (q == p)
			return NULL;
	}
	*val = span(p, q);
	return q;
}

/* A ';'-separated list starting at @p (just after the first ';'), with LWS around ';' and '='.
 * Ends at @end or before LWS + @stop. Fills the wanted parameters (first occurrence wins).
 * Returns the end of the last parameter, NULL on an empty or malformed one. */
static const char *param_list(const char *p, const char *end, unsigned stop, const struct pwant *w,
                              unsigned nw)
{
	const char *q;
	struct mr_str n, v;

	for (;;) {
		p = param_one(sws_skip(p, end), end, &n, &v);
		if (!p)
			return NULL;
		for (unsigned i = 0; i < nw; i++) {
			if (!lc_eq(n.p, n.len, w[i].name, w[i].len))
				continue;
			if (w[i].found && *w[i].found)
				break;
			if (w[i].found)
				*w[i].found = true;
			if (w[i].val && !w[i].val->p)
				*w[i].val = v;
			break;
		}
		q = sws_skip(p, end);
		if (q == end || (unsigned char)*q == stop)
			return p;
		if (*q != ';')
			return NULL;
		p = q + 1;
	}
}

static bool all_in(const char *p, const char *end, unsigned cls)
{
	return run(p, end, cls) == end;
}

/* The sip:/sips: part after the colon. userinfo ends at the first '@' (user and password
 * may hold ';' '?' ',' '/': RFC 4475 semiuri, intmeth; '@' itself must be escaped there). */
static int sip_uri_rest(const char *p, const char *end, struct sip_uri *u)
{
	const char *at = memchr(p, '@', (size_t)(end - p));
	const char *q;
	bool lr = false;

	if (at) {
		const char *c = memchr(p, ':', (size_t)(at - p));

		if ((c ? c : at) == p || !all_in(p, at, SIP_C_URI))
			return -EBADMSG;
		u->user = span(p, c ? c : at);
		if (c)
			u->password = span(c + 1, at);
		p = at + 1;
	}
	p = hostport_parse(p, end, &u->host, &u->port, false);
	if (!p)
		return -EBADMSG;
	if (p < end && *p == ';') {
		const struct pwant w[] = {
		    {"lr", 2, NULL, &lr},
		    {"transport", 9, &u->transport, NULL},
		    {"maddr", 5, &u->maddr, NULL},
		};

		/* no LWS anywhere in a URI: checking the classes first keeps param_list's LWS
		 * tolerance out of it */
		if (!all_in(p + 1, end, SIP_C_URI))
			return -EBADMSG;
		q = param_list(p + 1, end, '?', w, MR_ARRAY_SIZE(w));
		if (!q)
			return -EBADMSG;
		u->params = span(p + 1, q);
		u->lr = lr;
		p = q;
	}
	if (p < end && *p == '?') {
		p++;
		if (p == end || !all_in(p, end, SIP_C_URI))
			return -EBADMSG;
		u->headers = span(p, end);
		p = end;
	}
	return p == end ? 0 : -EBADMSG;
}

int sip_uri_parse(struct mr_str s, struct sip_uri *u)
{
	const char *p, *end, *q;

	memset(u, 0, sizeof(*u));
	if (s.len < 2 || !sip_is(s.p[0], SIP_C_ALPHA))
		return -EBADMSG;
	p = s.p;
	end = p + s.len;
	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	for (q = p + 1; q < end && (sip_is(*q, SIP_C_ALPHA | SIP_C_DIGIT) || *q == '+' ||
	                            *q == '-' || *q == '.');
	     q++)
		;
	if (q == end || *q != ':' || q + 1 == end)
		return -EBADMSG;
	u->scheme = span(p, q);
	p = q + 1;
	if (lc_eq(u->scheme.p, u->scheme.len, "sip", 3) ||
	    lc_eq(u->scheme.p, u->scheme.len, "sips", 4))
		return sip_uri_rest(p, end, u);
	if (!all_in(p, end, SIP_C_URI))
		return -EBADMSG;
	q = lc_eq(u->scheme.p, u->scheme.len, "tel", 3) ? memchr(p, ';', (size_t)(end - p)) : NULL;
	if (q) {
		u->user = span(p, q);
		u->params = span(q + 1, end);
	} else {
		u->user = span(p, end);
	}
	return 0;
}

/* The cheap URI check of name-addr values: scheme ":" something, visible ASCII without < > ",
 * and for a bare addr-spec none of , ? either (RFC 3261 §20: those need the <> form). */
static bool uri_light_ok(struct mr_str u, bool bare)
{
	const char *p = u.p, *end = u.p + u.len, *q;

	if (u.len < 2 || !sip_is(*p, SIP_C_ALPHA))
		return false;
	q = memchr(p, ':', u.len);
	if (!q || q + 1 == end || !all_in(p, end, SIP_C_URI))
		return false;
	for (p++; p < q; p++) {
		if (!sip_is(*p, SIP_C_ALPHA | SIP_C_DIGIT) && *p != '+' && *p != '-' && *p != '.')
			return false;
	}
	return !bare || (!memchr(u.p, ',', u.len) && !memchr(u.p, '?', u.len));
}

/* Display name, then the URI with or without <>; @p is past leading LWS, @end trimmed. */
static const char *nameaddr_uri(const char *p, const char *end, struct sip_nameaddr *na)
{
	const char *q, *b;

	if (*p == '"') {
		q = quoted_end(p, end);
		if (!q)
			return NULL;
		na->display = span(p, q);
		p = sws_skip(q, end);
		if (p == end || *p != '<')
			return NULL;
	} else if (*p != '<') {
		/* a token followed by ':' is a scheme (addr-spec); otherwise tokens and LWS up to
		 * '<' are a display name. LWS before '<' may be missing (RFC 4475 lwsdisp). */
		q = run(p, end, SIP_C_TOKEN);
		if (q == end || *q != ':') {
			q = run(q, end, SIP_C_TOKEN | SIP_C_WS);
			if (q == end || *q != '<')
				return NULL;
			na->display = span(p, sws_rtrim(p, q));
			p = q;
		}
	}
	if (*p == '<') {
		q = memchr(p, '>', (size_t)(end - p));
		if (!q)
			return NULL;
		na->uri = span(p + 1, q);
		na->bracketed = true;
		/* no LWS inside the brackets (RFC 4475 badaspec): SIP_C_URI excludes it */
		return uri_light_ok(na->uri, false) ? q + 1 : NULL;
	}
	/* addr-spec: up to LWS or the first ';' (a header parameter then: RFC 4475 cparam01) */
	q = run(p, end, SIP_C_URI);
	b = memchr(p, ';', (size_t)(q - p));
	na->uri = span(p, b ? b : q);
	q = b ? b : q;
	return uri_light_ok(na->uri, true) ? q : NULL;
}

int sip_nameaddr_parse(struct mr_str s, struct sip_nameaddr *na)
{
	const struct pwant w = {"tag", 3, &na->tag, NULL};
	const char *p, *end, *q;

	memset(na, 0, sizeof(*na));
	if (!s.len)
		return -EBADMSG;
	p = sws_skip(s.p, s.p + s.len);
	end = sws_rtrim(p, s.p + s.len);
	if (p == end)
		return -EBADMSG;
	p = nameaddr_uri(p, end, na);
	if (!p)
		return -EBADMSG;
	p = sws_skip(p, end);
	if (p == end)
		return 0;
	if (*p != ';')
		return -EBADMSG;
	p = sws_skip(p + 1, end);
	q = param_list(p, end, NO_STOP, &w, 1);
	if (!q || q != end)
		return -EBADMSG;
	na->params = span(p, q);
	return 0;
}

int sip_param_get(struct mr_str params, struct mr_str name, struct mr_str *val)
{
	const char *p, *end, *q;
	struct mr_str n, v;

	if (!params.len)
		return 0;
	p = sws_skip(params.p, params.p + params.len);
	end = params.p + params.len;
	if (p < end && *p == ';')
		p++;
	for (;;) {
		p = param_one(sws_skip(p, end), end, &n, &v);
		if (!p)
			return 0;
		if (mr_str_ieq(n, name)) {
			*val = v;
			return 1;
		}
		q = sws_skip(p, end);
		if (q == end || *q != ';')
			return 0;
		p = q + 1;
	}
}

int sip_value_next(struct mr_str *cursor, struct mr_str *out)
{
	const char *p, *end, *b, *q;

	if (!cursor->len)
		return 0;
	end = cursor->p + cursor->len;
	p = sws_skip(cursor->p, end);
	if (p == end) {
		*cursor = span(end, end);
		return 0;
	}
	if (*p == ',')
		return -EBADMSG; /* leading, doubled or trailing comma */
	for (b = p; p < end && *p != ',';) {
		if (*p == '"') {
			p = quoted_end(p, end);
			if (!p)
				return -EBADMSG;
		} else if (*p == '<') {
			q = memchr(p, '>', (size_t)(end - p));
			if (!q)
				return -EBADMSG;
			p = q + 1;
		} else {
			p++;
		}
	}
	*out = span(b, sws_rtrim(b, p));
	if (p == end) {
		*cursor = span(end, end);
		return 1;
	}
	/* an empty element next: leave the comma so that the next call reports it */
	q = sws_skip(p + 1, end);
	*cursor = (q == end || *q == ',') ? span(p, end) : span(q, end);
	return 1;
}

/* One via-parm at @p (past LWS): sent-protocol LWS sent-by *(SEMI via-params).
 * SLASH and COLON allow LWS around them (RFC 4475 wsinv). Returns its end, NULL if bad. */
static const char *via_one(const char *base, const char *p, const char *end, struct sip_via *v)
{
	const char *b = p, *q, *ps, *last;
	bool rport = false;

	memset(v, 0, sizeof(*v));
	for (int i = 0; i < 3; i++) {
		q = run(p, end, SIP_C_TOKEN);
		if (q == p)
			return NULL;
		if (i == 2)
			break;
		p = sws_skip(q, end);
		if (p == end || *p != '/')
			return NULL;
		p = sws_skip(p + 1, end);
	}
	v->transport = span(p, q);
	p = sws_skip(q, end);
	if (p == q)
		return NULL; /* LWS required between sent-protocol and sent-by */
	last = hostport_parse(p, end, &v->host, &v->port, true);
	if (!last)
		return NULL;
	q = sws_skip(last, end);
	if (q < end && *q == ';') {
		const struct pwant w[] = {
		    {"branch", 6, &v->branch, NULL},
		    {"received", 8, &v->received, NULL},
		    {"rport", 5, &v->rport, &rport},
		    {"maddr", 5, &v->maddr, NULL},
		};

		ps = sws_skip(q + 1, end);
		last = param_list(ps, end, ',', w, MR_ARRAY_SIZE(w));
		if (!last)
			return NULL;
		v->params = span(ps, last);
		v->has_rport = rport;
	}
	q = sws_skip(last, end);
	if (q < end && *q != ',')
		return NULL;
	v->off = (uint32_t)(b - base);
	v->len = (uint32_t)(last - b);
	return last;
}

int sip_via_parse(const char *base, struct mr_str value, struct sip_via *v, unsigned max,
                  unsigned *n)
{
	const char *p, *end;

	*n = 0;
	if (!value.len)
		return -EBADMSG;
	end = value.p + value.len;
	p = sws_skip(value.p, end);
	if (p == end)
		return -EBADMSG;
	for (;;) {
		if (*n == max)
			return -E2BIG;
		p = via_one(base, p, end, &v[*n]);
		if (!p)
			return -EBADMSG;
		(*n)++;
		p = sws_skip(p, end);
		if (p == end)
			return 0;
		if (*p != ',')
			return -EBADMSG;
		p = sws_skip(p + 1, end);
		if (p == end || *p == ',')
			return -EBADMSG;
	}
}

/* SPDX-License-Identifier: MIT
 * sip_parse.c - zero-copy SIP message parser (RFC 3261 §7, §20, §25; RFC 4475, RFC 5118).
 * Owns: nothing; fills struct sip_msg with slices and offsets into the caller's rx buffer.
 * Thread: any shard thread; pure, no allocation, no I/O.
 * One pass: the start line, then each header line (continuations included) is cut with memchr,
 * its name looked up by length and first letter, and the hot headers (Via, From, To, Call-ID,
 * CSeq, Max-Forwards, Content-Length) are parsed into their slots as they come. */
#include "sip.h"

#include <errno.h>
#include <string.h>

/* headers_parse(): more bytes are needed before the header section is complete */
#define HDRS_NEED_MORE 1

static inline struct mr_str span(const char *b, const char *e)
{
	return (struct mr_str){b, (uint32_t)(e - b)};
}

/* Lower-case literal match of a header name (token bytes only, see lc_eq in sip_uri.c). */
static inline bool name_is(const char *p, const char *lc, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (((unsigned char)p[i] | 0x20u) != (unsigned char)lc[i])
			return false;
	}
	return true;
}

static inline enum sip_hdr_type name_pick(const char *p, uint32_t len, const char *a,
                                          enum sip_hdr_type ta)
{
	return name_is(p, a, len) ? ta : SIP_HDR_OTHER;
}

static enum sip_hdr_type compact_type(unsigned c)
{
	switch (c | 0x20u) {
	case 'v':
		return SIP_HDR_VIA;
	case 'f':
		return SIP_HDR_FROM;
	case 't':
		return SIP_HDR_TO;
	case 'i':
		return SIP_HDR_CALL_ID;
	case 'm':
		return SIP_HDR_CONTACT;
	case 'l':
		return SIP_HDR_CONTENT_LENGTH;
	case 'c':
		return SIP_HDR_CONTENT_TYPE;
	case 'k':
		return SIP_HDR_SUPPORTED;
	default:
		return SIP_HDR_OTHER; /* s e o u r b x a j d y n: no slot of their own */
	}
}

/* hot: per header line. Length first, then the first letter. */
static inline enum sip_hdr_type hdr_lookup(const char *p, uint32_t len)
{
	unsigned c = (unsigned char)p[0] | 0x20u;

	switch (len) {
	case 1:
		return compact_type((unsigned char)p[0]);
	case 2:
		return name_pick(p, len, "to", SIP_HDR_TO);
	case 3:
		return name_pick(p, len, "via", SIP_HDR_VIA);
	case 4:
		if (c == 'f')
			return name_pick(p, len, "from", SIP_HDR_FROM);
		return name_pick(p, len, "cseq", SIP_HDR_CSEQ);
	case 5:
		return name_pick(p, len, "route", SIP_HDR_ROUTE);
	case 7:
		if (c == 'c') {
			if (name_is(p, "call-id", len))
				return SIP_HDR_CALL_ID;
			return name_pick(p, len, "contact", SIP_HDR_CONTACT);
		}
		if (c == 'e')
			return name_pick(p, len, "expires", SIP_HDR_EXPIRES);
		return name_pick(p, len, "require", SIP_HDR_REQUIRE);
	case 9:
		return name_pick(p, len, "supported", SIP_HDR_SUPPORTED);
	case 12:
		if (c == 'm')
			return name_pick(p, len, "max-forwards", SIP_HDR_MAX_FORWARDS);
		if (c == 'c')
			return name_pick(p, len, "content-type", SIP_HDR_CONTENT_TYPE);
		return name_pick(p, len, "record-route", SIP_HDR_RECORD_ROUTE);
	case 13:
		if (c == 'a')
			return name_pick(p, len, "authorization", SIP_HDR_AUTHORIZATION);
		return name_pick(p, len, "proxy-require", SIP_HDR_PROXY_REQUIRE);
	case 14:
		return name_pick(p, len, "content-length", SIP_HDR_CONTENT_LENGTH);
	case 18:
		return name_pick(p, len, "proxy-authenticate", SIP_HDR_PROXY_AUTHENTICATE);
	case 19:
		return name_pick(p, len, "proxy-authorization", SIP_HDR_PROXY_AUTHORIZATION);
	default:
		return SIP_HDR_OTHER;
	}
}

enum sip_hdr_type sip_hdr_type_of(struct mr_str name)
{
	if (!name.len)
		return SIP_HDR_OTHER;
	for (uint32_t i = 0; i < name.len; i++) {
		if (!sip_is(name.p[i], SIP_C_TOKEN))
			return SIP_HDR_OTHER; /* also keeps name_is() to token bytes */
	}
	return hdr_lookup(name.p, name.len);
}

/* 1*DIGIT with a value <= @max (leading zeros allowed: RFC 4475 wsinv "0068"). */
static int dec_parse(const char *p, const char *e, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (p == e)
		return -EBADMSG;
	for (; p < e; p++) {
		if (!sip_is(*p, SIP_C_DIGIT))
			return -EBADMSG;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > max)
			return -EBADMSG;
	}
	*out = (uint32_t)v;
	return 0;
}

/* SIP-Version = "SIP/" 1*DIGIT "." 1*DIGIT; 0 for 2.0, -EPROTONOSUPPORT for another version. */
static int version_check(const char *p, const char *e)
{
	const char *q, *b;

	if (e - p < 7 || !name_is(p, "sip", 3) || p[3] != '/')
		return -EBADMSG;
	for (q = b = p + 4; q < e && sip_is(*q, SIP_C_DIGIT); q++)
		;
	if (q == b || q == e || *q != '.')
		return -EBADMSG;
	for (b = ++q; q < e && sip_is(*q, SIP_C_DIGIT); q++)
		;
	if (q == b || q != e)
		return -EBADMSG;
	return (e - p == 7 && p[4] == '2' && p[6] == '0') ? 0 : -EPROTONOSUPPORT;
}

/* Request-Line = Method SP Request-URI SP SIP-Version: exactly one SP each (RFC 4475 lwsstart,
 * trws, lwsruri are refused), the URI neither in <> (ltgtruri) nor holding LWS. */
static int request_line(struct sip_msg *m, const char *p, const char *e)
{
	const char *q = p, *u, *sp;
	int rc;

	m->request = true;
	while (q < e && sip_is(*q, SIP_C_TOKEN))
		q++;
	if (q == p || q == e || *q != ' ')
		return -EBADMSG;
	m->method_name = span(p, q);
	m->method = sip_method_parse(m->method_name);
	u = q + 1;
	sp = memchr(u, ' ', (size_t)(e - u));
	if (!sp || sp == u)
		return -EBADMSG;
	rc = version_check(sp + 1, e);
	if (rc == -EBADMSG)
		return rc;
	m->ruri = span(u, sp);
	if (sip_uri_parse(m->ruri, &m->ruri_p))
		return -EBADMSG;
	return rc;
}

/* Status-Line = SIP-Version SP 3DIGIT SP Reason-Phrase; the reason may be absent (liberal). */
static int status_line(struct sip_msg *m, const char *p, const char *e)
{
	const char *sp = memchr(p, ' ', (size_t)(e - p)), *q;
	unsigned code;
	int rc;

	if (!sp)
		return -EBADMSG;
	rc = version_check(p, sp);
	if (rc == -EBADMSG)
		return rc;
	q = sp + 1;
	if (e - q < 3 || !sip_is(q[0], SIP_C_DIGIT) || !sip_is(q[1], SIP_C_DIGIT) ||
	    !sip_is(q[2], SIP_C_DIGIT))
		return -EBADMSG;
	code = (unsigned)(q[0] - '0') * 100 + (unsigned)(q[1] - '0') * 10 + (unsigned)(q[2] - '0');
	if (code < 100 || code > 699)
		return -EBADMSG;
	q += 3;
	if (q < e && *q != ' ')
		return -EBADMSG; /* 4+ digits: RFC 4475 bigcode */
	m->request = false;
	m->status = code;
	m->reason = q < e ? span(q + 1, e) : span(e, e);
	return rc;
}

static inline bool run_is_word(const char *p, const char *e)
{
	for (; p < e; p++) {
		if (!sip_is(*p, SIP_C_WORD))
			return false;
	}
	return true;
}

/* Call-ID = word ["@" word] */
static int callid_check(struct mr_str v)
{
	const char *p = v.p, *e = v.p + v.len, *at;

	if (!v.len)
		return -EBADMSG;
	at = memchr(p, '@', v.len);
	if (!at)
		return run_is_word(p, e) ? 0 : -EBADMSG;
	if (at == p || at + 1 == e || !run_is_word(p, at) || !run_is_word(at + 1, e))
		return -EBADMSG;
	return 0;
}

/* CSeq = 1*DIGIT LWS Method, number < 2^31, method equal to the request's (RFC 4475
 * mismatch01/02, scalar02). */
static int cseq_parse(struct sip_msg *m, struct mr_str v)
{
	const char *p = v.p, *e = v.p + v.len, *q = p, *t;
	uint32_t n;

	while (q < e && sip_is(*q, SIP_C_DIGIT))
		q++;
	if (dec_parse(p, q, 0x7fffffffu, &n))
		return -EBADMSG;
	for (t = q; t < e && sip_is(*t, SIP_C_WS); t++)
		;
	if (t == q)
		return -EBADMSG;
	for (q = t; q < e && sip_is(*q, SIP_C_TOKEN); q++)
		;
	if (q == t || q != e)
		return -EBADMSG;
	m->cseq = n;
	m->cseq_method = span(t, e);
	if (m->request && !mr_str_eq(m->cseq_method, m->method_name))
		return -EBADMSG;
	return 0;
}

static int via_add(struct sip_msg *m, unsigned idx)
{
	unsigned n = 0;
	int rc;

	rc = sip_via_parse(m->buf, m->hdrs[idx].value, &m->via[m->nvia], SIP_MAX_VIA - m->nvia, &n);
	for (unsigned i = 0; i < n; i++)
		m->via[m->nvia + i].hdr = (uint8_t)idx;
	m->nvia += n;
	return rc;
}

/* Fills the slot of header @idx; returns 0 or the error to record (parsing goes on). */
static int hdr_hot(struct sip_msg *m, unsigned idx)
{
	const struct sip_hdr *h = &m->hdrs[idx];
	const char *p = h->value.p, *e = h->value.p + h->value.len;
	bool first = m->h[h->type] < 0;
	uint32_t n;
	int rc;

	if (first)
		m->h[h->type] = (int16_t)idx;
	switch (h->type) {
	case SIP_HDR_VIA:
		return via_add(m, idx);
	case SIP_HDR_FROM:
		return first ? sip_nameaddr_parse(h->value, &m->from) : -EBADMSG;
	case SIP_HDR_TO:
		return first ? sip_nameaddr_parse(h->value, &m->to) : -EBADMSG;
	case SIP_HDR_CALL_ID:
		if (!first)
			return -EBADMSG;
		m->call_id = h->value;
		return callid_check(h->value);
	case SIP_HDR_CSEQ:
		return first ? cseq_parse(m, h->value) : -EBADMSG;
	case SIP_HDR_MAX_FORWARDS:
		if (!first)
			return -EBADMSG;
		rc = dec_parse(p, e, 255, &n);
		if (!rc)
			m->max_forwards = (int)n;
		return rc;
	case SIP_HDR_CONTENT_LENGTH:
		if (!first)
			return -EBADMSG;               /* RFC 4475 mcl01 */
		rc = dec_parse(p, e, 0x7fffffffu, &n); /* RFC 4475 ncl: "-999" */
		if (!rc)
			m->content_length = n;
		return rc;
	default:
		return 0;
	}
}

/* The header section from @*pp (just after the start line) to the empty line; @*pp is left on
 * the first body byte. Returns 0, HDRS_NEED_MORE, or a framing error / -E2BIG (value errors go
 * to @*err, first one kept). hot: per message, one memchr per physical line. */
static int headers_parse(struct sip_msg *m, const char **pp, const char *end, int *err)
{
	const char *p = *pp, *name_end, *colon, *lf, *v, *ve;
	struct sip_hdr *h;
	int rc;

	for (;;) {
		if (p >= end)
			return HDRS_NEED_MORE;
		if (*p == '\r') {
			if (end - p < 2)
				return HDRS_NEED_MORE;
			if (p[1] != '\n')
				return -EBADMSG;
			p += 2;
			break;
		}
		/* field-name HCOLON: token, optional SP/HTAB (wsinv "TO :"), ':' */
		for (name_end = p; name_end < end && sip_is(*name_end, SIP_C_TOKEN); name_end++)
			;
		for (colon = name_end; colon < end && (*colon == ' ' || *colon == '\t'); colon++)
			;
		if (colon == end)
			return HDRS_NEED_MORE;
		if (name_end == p || *colon != ':')
			return -EBADMSG; /* no name (continuation of the start line), no colon */
		/* the field ends at the LF not followed by SP/HTAB (continuation lines) */
		lf = memchr(colon, '\n', (size_t)(end - colon));
		for (;;) {
			if (!lf)
				return HDRS_NEED_MORE;
			if (lf[-1] != '\r')
				return -EBADMSG; /* bare LF: others would split the line there */
			if (lf + 1 >= end)
				return HDRS_NEED_MORE;
			if (lf[1] != ' ' && lf[1] != '\t')
				break;
			lf = memchr(lf + 2, '\n', (size_t)(end - lf - 2));
		}
		for (v = colon + 1; v < lf && sip_is(*v, SIP_C_WS); v++)
			;
		for (ve = lf; ve > v && sip_is(ve[-1], SIP_C_WS); ve--)
			;
		if (mr_unlikely(m->nhdrs == SIP_MAX_HEADERS))
			return -E2BIG;
		h = &m->hdrs[m->nhdrs];
		h->type = hdr_lookup(p, (uint32_t)(name_end - p));
		h->name = span(p, name_end);
		h->value = span(v, ve);
		h->off = (uint32_t)(p - m->buf);
		h->len = (uint32_t)(lf + 1 - p);
		if (h->type != SIP_HDR_OTHER) {
			rc = hdr_hot(m, m->nhdrs);
			if (rc && !*err)
				*err = rc;
		}
		m->nhdrs++;
		p = lf + 1;
	}
	*pp = p;
	return 0;
}

static void msg_reset(struct sip_msg *m)
{
	m->buf = NULL;
	m->len = 0;
	m->request = false;
	m->method_name = (struct mr_str){0};
	m->method = 0;
	m->ruri = (struct mr_str){0};
	memset(&m->ruri_p, 0, sizeof(m->ruri_p));
	m->status = 0;
	m->reason = (struct mr_str){0};
	m->nhdrs = 0;
	memset(m->h, 0xff, sizeof(m->h)); /* -1: absent */
	m->nvia = 0;
	memset(&m->from, 0, sizeof(m->from));
	memset(&m->to, 0, sizeof(m->to));
	m->call_id = (struct mr_str){0};
	m->cseq = 0;
	m->cseq_method = (struct mr_str){0};
	m->max_forwards = -1;
	m->content_length = 0;
	m->body_off = 0;
	m->body = (struct mr_str){0};
}

static int need_more(bool stream, uint32_t avail)
{
	if (!stream)
		return -EBADMSG;
	return avail >= SIP_MAX_MSG ? -EMSGSIZE : 0;
}

static bool mandatory_present(const struct sip_msg *m)
{
	return m->h[SIP_HDR_TO] >= 0 && m->h[SIP_HDR_FROM] >= 0 && m->h[SIP_HDR_CALL_ID] >= 0 &&
	       m->h[SIP_HDR_CSEQ] >= 0 && m->h[SIP_HDR_VIA] >= 0;
}

int sip_parse(struct sip_msg *m, const char *buf, uint32_t len, bool stream)
{
	const char *p, *end, *lf, *le;
	uint32_t skip, avail;
	uint64_t total;
	int err, rc;

	msg_reset(m);
	if (!len)
		return stream ? 0 : -ENODATA;
	if (!stream && len > SIP_MAX_MSG)
		return -EMSGSIZE;
	for (p = buf, end = buf + len; p < end && (*p == '\r' || *p == '\n'); p++)
		;
	if (p == end)
		return stream ? 0 : -ENODATA;
	skip = (uint32_t)(p - buf);
	avail = len - skip;
	if (avail > SIP_MAX_MSG) /* stream: look no further than one message can reach */
		avail = SIP_MAX_MSG;
	end = p + avail;
	m->buf = p;

	lf = memchr(p, '\n', avail);
	if (!lf)
		return need_more(stream, avail);
	if (lf == p || lf[-1] != '\r')
		return -EBADMSG;
	le = lf - 1;
	if (le - p >= 4 && name_is(p, "sip", 3) && p[3] == '/') /* '/' is not a token char */
		rc = status_line(m, p, le);
	else
		rc = request_line(m, p, le);
	/* a datagram goes on to fill the slots of the 400 or 505 (RFC 4475 lwsstart, badvers);
	 * a stream that does not start with a message is not worth waiting for */
	if (rc == -EBADMSG && stream)
		return rc;
	err = rc;
	p = lf + 1;

	rc = headers_parse(m, &p, end, &err);
	if (rc < 0)
		return err ? err : rc;
	if (rc == HDRS_NEED_MORE)
		return (err && !stream) ? err : need_more(stream, avail);
	m->body_off = (uint32_t)(p - m->buf);
	if (!err && !mandatory_present(m))
		err = -EBADMSG;
	if (err)
		return err;

	if (m->h[SIP_HDR_CONTENT_LENGTH] >= 0) {
		total = (uint64_t)m->body_off + m->content_length;
		if (total > avail) {
			if (!stream)
				return -EBADMSG; /* RFC 4475 clerr */
			return total > SIP_MAX_MSG ? -EMSGSIZE : 0;
		}
	} else if (stream) {
		return -EBADMSG; /* no framing on a stream */
	} else {
		total = avail; /* datagram: the body runs to its end (RFC 4475 inv2543) */
	}
	m->len = (uint32_t)total;
	m->body = span(m->buf + m->body_off, m->buf + total);
	return (int)(skip + total);
}

/* SPDX-License-Identifier: MIT
 * dia_codec.c - Diameter (RFC 6733 §3, §4) framing, in-place AVP decoding and the encoder.
 * Owns: nothing; decoded views point into the caller's buffer, the encoder writes into the
 * caller's buffer and never past its capacity.
 * Thread: any; pure over its arguments, no allocation. */
#include "dia.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#define DIA_MAX_LEN24 0xffffffu

static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void put_be24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

static inline uint32_t align4(uint32_t n)
{
	return (n + 3u) & ~3u;
}

/* ---- decoding ------------------------------------------------------------------------ */

int dia_frame(const uint8_t *buf, size_t len, uint32_t max_len)
{
	uint32_t mlen;

	if (len < 4)
		return 0;
	mlen = dia_get_be24(buf + 1);
	if (mlen < DIA_HDR_LEN || (mlen & 3u))
		return -EBADMSG;
	if (mlen > max_len)
		return -EMSGSIZE;
	if (len < mlen)
		return 0;
	return (int)mlen;
}

int dia_msg_init(struct dia_msg *m, const uint8_t *buf, uint32_t len)
{
	memset(m, 0, sizeof(*m));
	if (!buf || len < DIA_HDR_LEN || dia_get_be24(buf + 1) != len)
		return -EBADMSG;
	m->hdr.version = buf[0];
	m->hdr.length = len;
	m->hdr.flags = buf[4];
	m->hdr.code = dia_get_be24(buf + 5);
	m->hdr.app_id = dia_get_be32(buf + 8);
	m->hdr.hbh = dia_get_be32(buf + 12);
	m->hdr.e2e = dia_get_be32(buf + 16);
	m->buf = buf;
	m->len = len;
	return 0;
}

void dia_avp_iter_init(struct dia_avp_iter *it, const struct dia_msg *m)
{
	if (!m->buf || m->len < DIA_HDR_LEN) {
		it->p = NULL;
		it->end = NULL;
		return;
	}
	it->p = m->buf + DIA_HDR_LEN;
	it->end = m->buf + m->len;
}

void dia_avp_iter_init_group(struct dia_avp_iter *it, const struct dia_avp *group)
{
	const uint8_t *p = (const uint8_t *)group->data.p;

	it->p = p;
	it->end = p ? p + group->data.len : NULL;
}

static int find_in(struct dia_avp_iter *it, uint32_t code, uint32_t vendor, struct dia_avp *out)
{
	struct dia_avp a;
	int rc;

	while ((rc = dia_avp_next(it, &a)) > 0) {
		if (a.code == code && a.vendor == vendor) {
			*out = a;
			return 1;
		}
	}
	return rc;
}

int dia_msg_find(const struct dia_msg *m, uint32_t code, uint32_t vendor, struct dia_avp *out)
{
	struct dia_avp_iter it;

	dia_avp_iter_init(&it, m);
	return find_in(&it, code, vendor, out);
}

int dia_group_find(const struct dia_avp *g, uint32_t code, uint32_t vendor, struct dia_avp *out)
{
	struct dia_avp_iter it;

	dia_avp_iter_init_group(&it, g);
	return find_in(&it, code, vendor, out);
}

int dia_avp_u32(const struct dia_avp *a, uint32_t *out)
{
	if (a->data.len != 4)
		return -EBADMSG;
	*out = dia_get_be32((const uint8_t *)a->data.p);
	return 0;
}

int dia_avp_u64(const struct dia_avp *a, uint64_t *out)
{
	const uint8_t *p = (const uint8_t *)a->data.p;

	if (a->data.len != 8)
		return -EBADMSG;
	*out = (uint64_t)dia_get_be32(p) << 32 | dia_get_be32(p + 4);
	return 0;
}

int dia_avp_addr(const struct dia_avp *a, struct sockaddr_storage *ss)
{
	const uint8_t *p = (const uint8_t *)a->data.p;
	uint32_t family;

	memset(ss, 0, sizeof(*ss));
	if (a->data.len < 2)
		return -EBADMSG;
	family = (uint32_t)p[0] << 8 | p[1];
	if (family == 1 && a->data.len == 2 + 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, p + 2, 4);
		return 0;
	}
	if (family == 2 && a->data.len == 2 + 16) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, p + 2, 16);
		return 0;
	}
	return -EBADMSG;
}

/* ---- encoding -------------------------------------------------------------------------- */

static void enc_fail(struct dia_enc *e, int err)
{
	if (!e->err)
		e->err = err;
}

/* Reserves @n bytes at the end of the message; NULL (and the error made sticky) when the
 * encoder already failed or the bytes do not fit. */
static uint8_t *enc_reserve(struct dia_enc *e, uint32_t n)
{
	uint8_t *p;

	if (e->err)
		return NULL;
	if (n > e->cap - e->len || n > DIA_MAX_LEN24 - e->len) {
		enc_fail(e, -ENOBUFS);
		return NULL;
	}
	p = e->buf + e->len;
	e->len += n;
	return p;
}

/* AVPs only after the header: catches a forgotten dia_enc_hdr() at the first AVP. */
static bool enc_has_hdr(struct dia_enc *e)
{
	if (e->len >= DIA_HDR_LEN || e->err)
		return true;
	enc_fail(e, -EINVAL);
	return false;
}

void dia_enc_init(struct dia_enc *e, uint8_t *buf, uint32_t cap)
{
	memset(e, 0, sizeof(*e));
	e->buf = buf;
	e->cap = buf ? cap : 0;
}

void dia_enc_hdr(struct dia_enc *e, uint8_t flags, uint32_t code, uint32_t app, uint32_t hbh,
                 uint32_t e2e)
{
	uint8_t *p;

	if (e->len != 0) {
		enc_fail(e, -EINVAL);
		return;
	}
	p = enc_reserve(e, DIA_HDR_LEN);
	if (!p)
		return;
	p[0] = 1;
	put_be24(p + 1, DIA_HDR_LEN);
	p[4] = flags;
	put_be24(p + 5, code);
	put_be32(p + 8, app);
	put_be32(p + 12, hbh);
	put_be32(p + 16, e2e);
}

/* Writes an AVP header for @data_len bytes of data; returns where the data goes. A vendor id
 * forces the V flag; a V flag writes the vendor id (0 if none was given). */
static uint8_t *enc_avp_hdr(struct dia_enc *e, uint32_t code, uint8_t flags, uint32_t vendor,
                            uint32_t data_len, uint32_t *padded)
{
	uint32_t hlen, alen;
	uint8_t *p;

	if (!enc_has_hdr(e))
		return NULL;
	if (vendor)
		flags |= DIA_AVP_F_V;
	hlen = (flags & DIA_AVP_F_V) ? DIA_AVP_HDR_V : DIA_AVP_HDR;
	if (data_len > DIA_MAX_LEN24 - hlen - 3) {
		enc_fail(e, -ENOBUFS);
		return NULL;
	}
	alen = hlen + data_len;
	*padded = align4(alen);
	p = enc_reserve(e, *padded);
	if (!p)
		return NULL;
	put_be32(p, code);
	p[4] = flags;
	put_be24(p + 5, alen);
	if (flags & DIA_AVP_F_V)
		put_be32(p + 8, vendor);
	memset(p + alen, 0, *padded - alen);
	return p + hlen;
}

void dia_enc_avp_raw(struct dia_enc *e, uint32_t code, uint8_t flags, uint32_t vendor,
                     const void *data, uint32_t len)
{
	uint32_t padded;
	uint8_t *p;

	if (len && !data) {
		enc_fail(e, -EINVAL);
		return;
	}
	p = enc_avp_hdr(e, code, flags, vendor, len, &padded);
	if (p && len)
		memcpy(p, data, len);
}

void dia_enc_avp_str(struct dia_enc *e, uint32_t code, uint8_t flags, struct mr_str s)
{
	dia_enc_avp_raw(e, code, flags, 0, s.p, s.len);
}

void dia_enc_avp_u32(struct dia_enc *e, uint32_t code, uint8_t flags, uint32_t v)
{
	uint8_t b[4];

	put_be32(b, v);
	dia_enc_avp_raw(e, code, flags, 0, b, sizeof(b));
}

void dia_enc_avp_u64(struct dia_enc *e, uint32_t code, uint8_t flags, uint64_t v)
{
	uint8_t b[8];

	put_be32(b, (uint32_t)(v >> 32));
	put_be32(b + 4, (uint32_t)v);
	dia_enc_avp_raw(e, code, flags, 0, b, sizeof(b));
}

void dia_enc_avp_addr(struct dia_enc *e, uint32_t code, uint8_t flags, const struct sockaddr *sa)
{
	uint8_t b[2 + 16];

	b[0] = 0;
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		b[1] = 1;
		memcpy(b + 2, &sin->sin_addr, 4);
		dia_enc_avp_raw(e, code, flags, 0, b, 2 + 4);
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		b[1] = 2;
		memcpy(b + 2, &sin6->sin6_addr, 16);
		dia_enc_avp_raw(e, code, flags, 0, b, 2 + 16);
	} else {
		enc_fail(e, -EINVAL);
	}
}

/* Re-encodes the view's header fields and data: byte-identical to @a->raw for any AVP that
 * came out of dia_avp_next(), and a well-formed AVP for the header-only views that
 * dia_msg_validate() builds for AVPs whose length field is unusable (5014). */
void dia_enc_avp_copy(struct dia_enc *e, const struct dia_avp *a)
{
	uint32_t padded;
	uint8_t *p;

	if (a->data.len && !a->data.p) {
		enc_fail(e, -EINVAL);
		return;
	}
	p = enc_avp_hdr(e, a->code, a->flags, a->vendor, a->data.len, &padded);
	if (p && a->data.len)
		memcpy(p, a->data.p, a->data.len);
}

void dia_enc_group_begin(struct dia_enc *e, uint32_t code, uint8_t flags, uint32_t vendor)
{
	uint32_t at = e->len, padded;

	if (e->err)
		return;
	if (e->depth >= DIA_MAX_NEST) {
		enc_fail(e, -EINVAL);
		return;
	}
	if (!enc_avp_hdr(e, code, flags, vendor, 0, &padded))
		return;
	e->group_at[e->depth++] = at;
}

void dia_enc_group_end(struct dia_enc *e)
{
	uint32_t at;

	if (e->err)
		return;
	if (e->depth <= 0) {
		enc_fail(e, -EINVAL);
		return;
	}
	at = e->group_at[--e->depth];
	/* Children are padded, so the group's length is its padded length already. */
	put_be24(e->buf + at + 5, e->len - at);
}

int dia_enc_finish(struct dia_enc *e)
{
	if (e->err)
		return e->err;
	if (e->len < DIA_HDR_LEN || e->depth != 0)
		return -EINVAL;
	put_be24(e->buf + 1, e->len);
	return (int)e->len;
}

/* ---- answers --------------------------------------------------------------------------- */

void dia_enc_answer_hdr(struct dia_enc *e, const struct dia_msg *req, const struct dia_ident *id,
                        uint32_t rc)
{
	struct dia_avp sid;
	uint8_t flags = req->hdr.flags & DIA_FLAG_P;

	if (rc >= 3000 && rc < 4000)
		flags |= DIA_FLAG_E;
	dia_enc_hdr(e, flags, req->hdr.code, req->hdr.app_id, req->hdr.hbh, req->hdr.e2e);
	/* The value is copied; the flags are ours (the request's may be what is wrong with it). */
	if (dia_msg_find(req, DIA_AVP_SESSION_ID, 0, &sid) > 0)
		dia_enc_avp_str(e, DIA_AVP_SESSION_ID, DIA_AVP_F_M, sid.data);
	dia_enc_avp_u32(e, DIA_AVP_RESULT_CODE, DIA_AVP_F_M, rc);
	dia_enc_avp_str(e, DIA_AVP_ORIGIN_HOST, DIA_AVP_F_M, id->host);
	dia_enc_avp_str(e, DIA_AVP_ORIGIN_REALM, DIA_AVP_F_M, id->realm);
}

/* Failed-AVP (RFC 6733 §7.5): the offending AVP, or for 5005 a template of the missing one
 * (M flag, zero-filled data of the minimum size of its type, §7.1.5). */
static void enc_failed_avp(struct dia_enc *e, const struct dia_error *err)
{
	static const uint8_t zeros[8];
	const struct dia_avp_def *def;
	uint32_t size = 0;

	if (err->rc == DIA_RC_MISSING_AVP && err->missing_code) {
		def = dia_dict_avp(err->missing_code, 0);
		if (def)
			size = dia_type_size(def->type);
		dia_enc_group_begin(e, DIA_AVP_FAILED_AVP, DIA_AVP_F_M, 0);
		dia_enc_avp_raw(e, err->missing_code, DIA_AVP_F_M, 0, zeros, size);
		dia_enc_group_end(e);
	} else if (err->failed.raw_len > 0) {
		dia_enc_group_begin(e, DIA_AVP_FAILED_AVP, DIA_AVP_F_M, 0);
		dia_enc_avp_copy(e, &err->failed);
		dia_enc_group_end(e);
	}
}

int dia_enc_error_answer(struct dia_enc *e, const struct dia_msg *req, const struct dia_ident *id,
                         const struct dia_error *err)
{
	struct dia_avp_iter it;
	struct dia_avp a;

	dia_enc_answer_hdr(e, req, id, err->rc);
	if (id->state_id)
		dia_enc_avp_u32(e, DIA_AVP_ORIGIN_STATE_ID, DIA_AVP_F_M, id->state_id);
	if (err->what)
		dia_enc_avp_str(e, DIA_AVP_ERROR_MESSAGE, 0, mr_str_c(err->what));
	enc_failed_avp(e, err);

	/* Proxy-Info is echoed unchanged and in order (RFC 6733 §6.7.3, §7.2). */
	dia_avp_iter_init(&it, req);
	while (dia_avp_next(&it, &a) > 0) {
		if (a.code == DIA_AVP_PROXY_INFO && a.vendor == 0)
			dia_enc_avp_copy(e, &a);
	}
	return dia_enc_finish(e);
}

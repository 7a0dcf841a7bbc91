/* SPDX-License-Identifier: MIT
 * dia_sipcli.c - RFC 4740 client side: MAR encoding, MAA judgement, stateless Session-Id.
 * Owns: nothing; writes into the caller's encoder, reads the caller's MAA in place.
 * Thread: any; pure. */
#include "dia_sipcli.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <xxhash.h>

enum {
	AVP_EXPERIMENTAL_RESULT_CODE = 298,   /* RFC 6733 §7.7, not in dia.h's short list */
	AUTH_SESSION_NO_STATE_MAINTAINED = 1, /* RFC 6733 §8.11 */
	SIP_AUTH_SCHEME_DIGEST = 0,           /* RFC 4740 §9.5.1, the only value */
};

/* ---- MAR ------------------------------------------------------------------------------------- */

static void put_opt(struct dia_enc *e, uint32_t code, struct mr_str s)
{
	if (s.len)
		dia_enc_avp_str(e, code, DIA_AVP_F_M, s);
}

/* SIP-Authorization (RFC 4740 §9.5.3): the five required Digest-* always, the rest when the
 * UA sent them. */
static void put_authorization(struct dia_enc *e, const struct auth_digest *d, struct mr_str method,
                              bool want_ha1)
{
	dia_enc_group_begin(e, DIA_AVP_SIP_AUTHORIZATION, DIA_AVP_F_M, 0);
	dia_enc_avp_str(e, DIA_AVP_DIGEST_USERNAME, DIA_AVP_F_M, d->username);
	dia_enc_avp_str(e, DIA_AVP_DIGEST_REALM, DIA_AVP_F_M, d->realm);
	dia_enc_avp_str(e, DIA_AVP_DIGEST_NONCE, DIA_AVP_F_M, d->nonce);
	dia_enc_avp_str(e, DIA_AVP_DIGEST_URI, DIA_AVP_F_M, d->uri);
	dia_enc_avp_str(e, DIA_AVP_DIGEST_RESPONSE, DIA_AVP_F_M, d->response);
	put_opt(e, DIA_AVP_DIGEST_ALGORITHM, d->algorithm);
	put_opt(e, DIA_AVP_DIGEST_CNONCE, d->cnonce);
	put_opt(e, DIA_AVP_DIGEST_OPAQUE, d->opaque);
	put_opt(e, DIA_AVP_DIGEST_QOP, d->qop);
	put_opt(e, DIA_AVP_DIGEST_NONCE_COUNT, d->nc);
	dia_enc_avp_str(e, DIA_AVP_DIGEST_METHOD, DIA_AVP_F_M, method);
	put_opt(e, DIA_AVP_DIGEST_ENTITY_BODY_HASH, d->body_hash);
	if (want_ha1) /* §9.5.3 "* [ AVP ]": the SIP server would validate the next counts */
		dia_enc_avp_str(e, DIA_AVP_DIGEST_HA1, DIA_AVP_F_M, (struct mr_str){0});
	dia_enc_group_end(e);
}

struct mr_str dia_sipcli_opaque_host(struct mr_str opaque)
{
	struct mr_str h;

	if (opaque.len < 4 || opaque.len > 3 + 255 || memcmp(opaque.p, "dh:", 3) != 0)
		return (struct mr_str){0};
	h = mr_str_make(opaque.p + 3, opaque.len - 3);
	for (uint32_t i = 0; i < h.len; i++) {
		char c = h.p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return (struct mr_str){0};
	}
	return h;
}

int dia_sipcli_encode_mar(struct dia_enc *e, const struct dia_ident *id, struct mr_str dest_realm,
                          const struct dia_sipcli_mar *m)
{
	struct mr_str user = m->user_name;

	if (!m->session_id.len || !m->aor.len || !m->method.len || !dest_realm.len ||
	    !id->host.len || !id->realm.len)
		return -EINVAL;
	/* RFC 4740 §8.7: with credentials, User-Name MUST be their username */
	if (!user.len && m->cred)
		user = m->cred->username;
	dia_enc_hdr(e, DIA_FLAG_R | DIA_FLAG_P, DIA_CMD_MA, DIA_APP_SIP, 0, 0);
	dia_enc_avp_str(e, DIA_AVP_SESSION_ID, DIA_AVP_F_M, m->session_id);
	dia_enc_avp_u32(e, DIA_AVP_AUTH_APPLICATION_ID, DIA_AVP_F_M, DIA_APP_SIP);
	dia_enc_avp_u32(e, DIA_AVP_AUTH_SESSION_STATE, DIA_AVP_F_M,
	                AUTH_SESSION_NO_STATE_MAINTAINED);
	dia_enc_avp_str(e, DIA_AVP_ORIGIN_HOST, DIA_AVP_F_M, id->host);
	dia_enc_avp_str(e, DIA_AVP_ORIGIN_REALM, DIA_AVP_F_M, id->realm);
	dia_enc_avp_str(e, DIA_AVP_DESTINATION_REALM, DIA_AVP_F_M, dest_realm);
	put_opt(e, DIA_AVP_DESTINATION_HOST, m->dest_host);
	dia_enc_avp_str(e, DIA_AVP_SIP_AOR, DIA_AVP_F_M, m->aor);
	dia_enc_avp_str(e, DIA_AVP_SIP_METHOD, DIA_AVP_F_M, m->method);
	put_opt(e, DIA_AVP_USER_NAME, user);
	dia_enc_avp_u32(e, DIA_AVP_SIP_NUMBER_AUTH_ITEMS, DIA_AVP_F_M, 1);
	dia_enc_group_begin(e, DIA_AVP_SIP_AUTH_DATA_ITEM, DIA_AVP_F_M, 0);
	dia_enc_avp_u32(e, DIA_AVP_SIP_AUTHENTICATION_SCHEME, DIA_AVP_F_M, SIP_AUTH_SCHEME_DIGEST);
	if (m->cred)
		put_authorization(e, m->cred, m->method, m->want_ha1);
	dia_enc_group_end(e);
	return dia_enc_finish(e);
}

/* ---- MAA ------------------------------------------------------------------------------------- */

const char *dia_sipcli_outcome_name(enum dia_sipcli_outcome o)
{
	static const char *const names[] = {"error", "challenge", "authorized", "refused",
	                                    "unsupported"};

	return (unsigned)o < MR_ARRAY_SIZE(names) ? names[o] : "?";
}

enum dia_sipcli_outcome dia_sipcli_judge(uint32_t code, bool has_challenge)
{
	switch (code) {
	case DIA_RC_MULTI_ROUND_AUTH:
	case DIA_RC_SUCCESS_AUTH_SENT_SERVER_NOT_STORED:
		/* a challenge code without a challenge gives the proxy nothing to send */
		return has_challenge ? DIA_SIPCLI_CHALLENGE : DIA_SIPCLI_ERROR;
	case DIA_RC_SUCCESS:
	case DIA_RC_SUCCESS_SERVER_NAME_NOT_STORED:
		return has_challenge ? DIA_SIPCLI_CHALLENGE : DIA_SIPCLI_AUTHORIZED;
	case DIA_RC_USER_NAME_REQUIRED:
		return has_challenge ? DIA_SIPCLI_CHALLENGE : DIA_SIPCLI_REFUSED;
	case DIA_RC_AUTHENTICATION_REJECTED:
	case 5003: /* DIAMETER_AUTHORIZATION_REJECTED */
	case DIA_RC_UNABLE_TO_COMPLY:
	case DIA_RC_USER_UNKNOWN:
	case DIA_RC_IDENTITIES_DONT_MATCH:
	case 5034: /* IDENTITY_NOT_REGISTERED */
	case 5035: /* ROAMING_NOT_ALLOWED */
	case 5036: /* IDENTITY_ALREADY_REGISTERED */
		return DIA_SIPCLI_REFUSED;
	case DIA_RC_AUTH_SCHEME_NOT_SUPPORTED:
		return DIA_SIPCLI_UNSUPPORTED;
	default:
		return DIA_SIPCLI_ERROR;
	}
}

/* The Digest-* AVPs read from a grouped AVP: each one's data lands in the mr_str at @off of
 * the structure being filled (the last of a repeated AVP wins). */
struct digest_field {
	uint32_t code;
	size_t off;
};

#define CHAL(code, field)                                                                          \
	{                                                                                          \
		code, offsetof(struct dia_sipcli_challenge, field)                                 \
	}
static const struct digest_field chal_fields[] = {
    CHAL(DIA_AVP_DIGEST_REALM, realm),         CHAL(DIA_AVP_DIGEST_NONCE, nonce),
    CHAL(DIA_AVP_DIGEST_ALGORITHM, algorithm), CHAL(DIA_AVP_DIGEST_QOP, qop),
    CHAL(DIA_AVP_DIGEST_OPAQUE, opaque),       CHAL(DIA_AVP_DIGEST_DOMAIN, domain),
    CHAL(DIA_AVP_DIGEST_STALE, stale_text),    CHAL(DIA_AVP_DIGEST_HA1, ha1),
};
#define INFO(code, field)                                                                          \
	{                                                                                          \
		code, offsetof(struct dia_sipcli_auth_info, field)                                 \
	}
static const struct digest_field info_fields[] = {
    INFO(DIA_AVP_DIGEST_RESPONSE_AUTH, rspauth),
    INFO(DIA_AVP_DIGEST_NEXTNONCE, nextnonce),
    INFO(DIA_AVP_DIGEST_QOP, qop),
    INFO(DIA_AVP_DIGEST_CNONCE, cnonce),
    INFO(DIA_AVP_DIGEST_NONCE_COUNT, nc),
    INFO(DIA_AVP_DIGEST_HA1, ha1),
};

static inline __attribute__((always_inline)) int read_digest(const struct dia_avp *g, void *out,
                                                             const struct digest_field *f, size_t n)
{
	struct dia_avp_iter it;
	struct dia_avp a;
	int r;

	dia_avp_iter_init_group(&it, g);
	while ((r = dia_avp_next(&it, &a)) > 0) {
		if (a.vendor)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (f[i].code == a.code) {
				*(struct mr_str *)(void *)((char *)out + f[i].off) = a.data;
				break;
			}
		}
	}
	return r;
}

static int read_challenge(const struct dia_avp *g, struct dia_sipcli_challenge *c)
{
	int r = read_digest(g, c, chal_fields, MR_ARRAY_SIZE(chal_fields));

	c->stale = mr_str_ieq(c->stale_text, MR_STR_LIT("true"));
	return r;
}

static int read_info(const struct dia_avp *g, struct dia_sipcli_auth_info *in)
{
	return read_digest(g, in, info_fields, MR_ARRAY_SIZE(info_fields));
}

/* One SIP-Auth-Data-Item: its first SIP-Authenticate / SIP-Authentication-Info, unless an
 * earlier item already gave one. */
static int read_item(const struct dia_avp *item, struct dia_sipcli_result *r)
{
	struct dia_avp_iter it;
	struct dia_avp a;
	int ret;

	dia_avp_iter_init_group(&it, item);
	while ((ret = dia_avp_next(&it, &a)) > 0) {
		if (a.vendor)
			continue;
		if (a.code == DIA_AVP_SIP_AUTHENTICATE && !r->has_challenge) {
			struct dia_sipcli_challenge c = {0};

			if (read_challenge(&a, &c) < 0)
				return -EBADMSG;
			/* realm and nonce are required (§9.5.2): without them it is no challenge */
			if (c.realm.len && c.nonce.len) {
				r->chal = c;
				r->has_challenge = true;
			}
		} else if (a.code == DIA_AVP_SIP_AUTHENTICATION_INFO && !r->has_info) {
			if (read_info(&a, &r->info) < 0)
				return -EBADMSG;
			r->has_info = true;
		}
	}
	return ret;
}

static int read_experimental(const struct dia_avp *g, struct dia_sipcli_result *r)
{
	struct dia_avp a;

	if (dia_group_find(g, AVP_EXPERIMENTAL_RESULT_CODE, 0, &a) <= 0 ||
	    dia_avp_u32(&a, &r->result_code))
		return -EBADMSG;
	if (dia_group_find(g, DIA_AVP_VENDOR_ID, 0, &a) > 0)
		dia_avp_u32(&a, &r->exp_vendor);
	r->experimental = true;
	return 0;
}

int dia_sipcli_decode_maa(const struct dia_msg *maa, struct dia_sipcli_result *r)
{
	struct dia_avp_iter it;
	struct dia_avp a, exp = {0};
	bool have_rc = false;
	int ret;

	memset(r, 0, sizeof(*r));
	if (maa->hdr.code != DIA_CMD_MA || maa->hdr.app_id != DIA_APP_SIP ||
	    (maa->hdr.flags & DIA_FLAG_R))
		return -EBADMSG;
	r->error_bit = maa->hdr.flags & DIA_FLAG_E;
	dia_avp_iter_init(&it, maa);
	while ((ret = dia_avp_next(&it, &a)) > 0) {
		if (a.vendor)
			continue;
		switch (a.code) {
		case DIA_AVP_RESULT_CODE:
			if (dia_avp_u32(&a, &r->result_code))
				return -EBADMSG;
			have_rc = true;
			break;
		case DIA_AVP_EXPERIMENTAL_RESULT:
			exp = a;
			break;
		case DIA_AVP_SESSION_ID:
			r->session_id = a.data;
			break;
		case DIA_AVP_USER_NAME:
			r->user_name = a.data;
			break;
		case DIA_AVP_ORIGIN_HOST:
			r->origin_host = a.data;
			break;
		case DIA_AVP_SIP_AUTH_DATA_ITEM:
			if (read_item(&a, r) < 0)
				return -EBADMSG;
			break;
		default:
			break;
		}
	}
	if (ret < 0)
		return -EBADMSG;
	if (!have_rc && (!exp.raw || read_experimental(&exp, r)))
		return -EBADMSG;
	r->outcome = dia_sipcli_judge(r->result_code, r->has_challenge);
	return 0;
}

/* ---- Session-Id ------------------------------------------------------------------------------ */

int dia_sipcli_session_id(char *out, size_t cap, struct mr_str origin_host, struct mr_str call_id,
                          struct mr_str from_tag)
{
	/* The Call-ID hash seeds the From-tag hash, so ("ab","c") and ("a","bc") differ. */
	XXH64_hash_t seed = XXH3_64bits(call_id.p, call_id.len);
	XXH64_hash_t h = XXH3_64bits_withSeed(from_tag.p, from_tag.len, seed);
	char tail[2 * 11 + sizeof(";mara")];
	size_t n = 0;

	/* "<origin-host>;<high 32>;<low 32>;mara" (RFC 6733 §8.8), without snprintf: per MAR */
	tail[n++] = ';';
	n += mr_u32_dec(tail + n, (uint32_t)(h >> 32));
	tail[n++] = ';';
	n += mr_u32_dec(tail + n, (uint32_t)h);
	memcpy(tail + n, ";mara", 5);
	n += 5;
	if (cap == 0)
		return -ENOBUFS;
	if (origin_host.len + n >= cap) {
		out[0] = '\0';
		return -ENOBUFS;
	}
	if (origin_host.len)
		memcpy(out, origin_host.p, origin_host.len);
	memcpy(out + origin_host.len, tail, n);
	out[origin_host.len + n] = '\0';
	return (int)(origin_host.len + n);
}

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

/* Where each Digest-* AVP (codes 103..121, RFC 5090) of a SIP-Authenticate (challenge) or
 * SIP-Authentication-Info (info) group goes: the offset + 1 of its struct mr_str in the target,
 * 0 for a code not read, indexed by code - 103. One reader for both groups; the last AVP of a
 * code wins. A direct index: a search per AVP cost a third of reading an MAA (bench/micro). */
#define DIGEST_FIRST          DIA_AVP_DIGEST_RESPONSE
#define DIGEST_N              (DIA_AVP_DIGEST_HA1 - DIGEST_FIRST + 1)
#define AT(type, field, code) [code - DIGEST_FIRST] = offsetof(type, field) + 1

_Static_assert(sizeof(struct dia_sipcli_challenge) < UINT8_MAX &&
                   sizeof(struct dia_sipcli_auth_info) < UINT8_MAX,
               "offsets + 1 fit in a byte");

static const uint8_t challenge_at[DIGEST_N] = {
    AT(struct dia_sipcli_challenge, realm, DIA_AVP_DIGEST_REALM),
    AT(struct dia_sipcli_challenge, nonce, DIA_AVP_DIGEST_NONCE),
    AT(struct dia_sipcli_challenge, algorithm, DIA_AVP_DIGEST_ALGORITHM),
    AT(struct dia_sipcli_challenge, qop, DIA_AVP_DIGEST_QOP),
    AT(struct dia_sipcli_challenge, opaque, DIA_AVP_DIGEST_OPAQUE),
    AT(struct dia_sipcli_challenge, domain, DIA_AVP_DIGEST_DOMAIN),
    AT(struct dia_sipcli_challenge, stale_text, DIA_AVP_DIGEST_STALE),
    AT(struct dia_sipcli_challenge, ha1, DIA_AVP_DIGEST_HA1),
};

static const uint8_t info_at[DIGEST_N] = {
    AT(struct dia_sipcli_auth_info, rspauth, DIA_AVP_DIGEST_RESPONSE_AUTH),
    AT(struct dia_sipcli_auth_info, nextnonce, DIA_AVP_DIGEST_NEXTNONCE),
    AT(struct dia_sipcli_auth_info, qop, DIA_AVP_DIGEST_QOP),
    AT(struct dia_sipcli_auth_info, cnonce, DIA_AVP_DIGEST_CNONCE),
    AT(struct dia_sipcli_auth_info, nc, DIA_AVP_DIGEST_NONCE_COUNT),
    AT(struct dia_sipcli_auth_info, ha1, DIA_AVP_DIGEST_HA1),
};

/* Reads group @g into @out (a struct dia_sipcli_challenge with challenge_at, a struct
 * dia_sipcli_auth_info with info_at). Returns dia_avp_next()'s last result: 0, or -EBADMSG for a
 * malformed child. */
static int read_digest(const struct dia_avp *g, const uint8_t at[DIGEST_N], void *out)
{
	struct dia_avp_iter it;
	struct dia_avp a;
	int r;

	dia_avp_iter_init_group(&it, g);
	while ((r = dia_avp_next(&it, &a)) > 0) {
		uint32_t k = a.code - DIGEST_FIRST;

		if (!a.vendor && k < DIGEST_N && at[k])
			memcpy((char *)out + at[k] - 1, &a.data, sizeof(a.data));
	}
	return r;
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
			/* Read in place: r->chal is all zero until a challenge is taken. */
			struct dia_sipcli_challenge *c = &r->chal;

			if (read_digest(&a, challenge_at, c) < 0) {
				memset(c, 0, sizeof(*c));
				return -EBADMSG;
			}
			/* realm and nonce are required (§9.5.2): without them it is no challenge */
			if (!c->realm.len || !c->nonce.len) {
				memset(c, 0, sizeof(*c));
				continue;
			}
			c->stale = mr_str_ieq(c->stale_text, MR_STR_LIT("true"));
			r->has_challenge = true;
		} else if (a.code == DIA_AVP_SIP_AUTHENTICATION_INFO && !r->has_info) {
			if (read_digest(&a, info_at, &r->info) < 0)
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

/* SPDX-License-Identifier: MIT
 * dia_sipsrv.c - MAR -> MAA for RFC 4740 §6.4 (see dia_sipsrv.h).
 * Owns: the per-loop contexts of struct dia_sipsrv. Thread: its loop. */
#include "dia_sipsrv.h"

#include "mr_log.h"

#include <errno.h>
#include <stdlib.h>
#include <xxhash.h>

/* What a MAR says, as slices into it. */
struct mar_view {
	struct mr_str user_name;
	struct mr_str aor;
	struct mr_str method;
	bool have_item;
	bool have_scheme;
	uint32_t scheme;
	bool have_authz;
	struct dia_avp authz; /* SIP-Authorization */
	struct mr_str alg_hint;
};

/* The answer being built. */
struct maa_plan {
	uint32_t rc;
	bool challenge;
	bool stale;
	enum auth_alg alg;
	const struct auth_user *usr; /* for Digest-HA1 in §6.3 mode */
	struct mr_str user_name;
	const struct auth_digest *ok; /* authorized: for rspauth */
	uint64_t minted;              /* authorized: when its nonce was minted (nextnonce) */
	bool handover;                /* authorized: Digest-HA1 goes with the answer */
	const char *why;
};

int dia_sipsrv_init(struct dia_sipsrv *s, const struct dia_sipsrv_cfg *cfg)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	ret = auth_hash_init(&s->hash);
	if (ret)
		return ret;
	ret = auth_nonce_ctx_init(&s->nonce, cfg->key);
	if (ret) {
		auth_hash_fini(&s->hash);
		return ret;
	}
	s->users = auth_users_ref_get(cfg->users, &s->users_gen);
	if (cfg->id.host.len + 3 < sizeof(s->opaque)) {
		memcpy(s->opaque, "dh:", 3);
		memcpy(s->opaque + 3, cfg->id.host.p, cfg->id.host.len);
		s->opaque_len = cfg->id.host.len + 3;
	}
	return 0;
}

const char *dia_sipsrv_reason_name(enum dia_sipsrv_reason r)
{
	static const char *const names[DIA_SIPSRV_R_COUNT] = {
	    [DIA_SIPSRV_R_WRONG_RESPONSE] = "wrong_response",
	    [DIA_SIPSRV_R_FORGED_NONCE] = "forged_nonce",
	    [DIA_SIPSRV_R_FOREIGN_REALM] = "foreign_realm",
	    [DIA_SIPSRV_R_EXPIRED_NONCE] = "expired_nonce",
	    [DIA_SIPSRV_R_REPLAYED] = "replayed_nonce_count",
	    [DIA_SIPSRV_R_ALG_NOT_ALLOWED] = "algorithm_not_allowed",
	    [DIA_SIPSRV_R_ALG_DOWNGRADE] = "algorithm_downgrade",
	    [DIA_SIPSRV_R_BAD_USERNAME] = "bad_username",
	    [DIA_SIPSRV_R_FOREIGN_INSTANCE] = "foreign_instance",
	    [DIA_SIPSRV_R_REPLAY_TABLE_STALE] = "replay_table_stale",
	    [DIA_SIPSRV_R_UNKNOWN_USER] = "unknown_user",
	    [DIA_SIPSRV_R_QOP_REQUIRED] = "qop_required",
	    [DIA_SIPSRV_R_BAD_NC] = "bad_nonce_count",
	    [DIA_SIPSRV_R_NO_HA1] = "no_ha1_for_algorithm",
	    [DIA_SIPSRV_R_INCONSISTENT] = "inconsistent_credentials",
	};

	return (unsigned)r < DIA_SIPSRV_R_COUNT ? names[r] : "unknown";
}

void dia_sipsrv_fini(struct dia_sipsrv *s)
{
	auth_nonce_ctx_fini(&s->nonce);
	auth_hash_fini(&s->hash);
	if (s->users)
		auth_users_put(s->users);
	s->users = NULL;
}

void dia_sipsrv_refresh(struct dia_sipsrv *s)
{
	uint64_t g = atomic_load_explicit(&s->cfg->users->gen, memory_order_relaxed);
	struct auth_users *u;

	if (mr_likely(g == s->users_gen))
		return;
	u = auth_users_ref_get(s->cfg->users, &s->users_gen);
	if (s->users)
		auth_users_put(s->users);
	s->users = u;
}

static bool alg_allowed(const struct dia_sipsrv_cfg *cfg, int a)
{
	for (unsigned i = 0; i < cfg->nalgs; i++)
		if (cfg->algs[i] == a)
			return true;
	return false;
}

static int read_mar(const struct dia_msg *m, struct mar_view *v)
{
	struct dia_avp_iter it;
	struct dia_avp a, in;
	int r;

	memset(v, 0, sizeof(*v));
	dia_avp_iter_init(&it, m);
	while ((r = dia_avp_next(&it, &a)) > 0) {
		if (a.vendor)
			continue;
		switch (a.code) {
		case DIA_AVP_USER_NAME:
			v->user_name = a.data;
			break;
		case DIA_AVP_SIP_AOR:
			v->aor = a.data;
			break;
		case DIA_AVP_SIP_METHOD:
			v->method = a.data;
			break;
		case DIA_AVP_SIP_AUTH_DATA_ITEM:
			if (v->have_item) /* §8.7: at most one in a MAR; use the first */
				break;
			v->have_item = true;
			if (dia_group_find(&a, DIA_AVP_SIP_AUTHENTICATION_SCHEME, 0, &in) > 0 &&
			    dia_avp_u32(&in, &v->scheme) == 0)
				v->have_scheme = true;
			if (dia_group_find(&a, DIA_AVP_SIP_AUTHORIZATION, 0, &v->authz) > 0)
				v->have_authz = true;
			if (dia_group_find(&a, DIA_AVP_SIP_AUTHENTICATE, 0, &in) > 0) {
				struct dia_avp alg;

				if (dia_group_find(&in, DIA_AVP_DIGEST_ALGORITHM, 0, &alg) > 0)
					v->alg_hint = alg.data;
			}
			break;
		default:
			break;
		}
	}
	return r;
}

/* Digest-* children of SIP-Authorization into @d. */
static int read_authz(const struct dia_avp *authz, struct auth_digest *d)
{
	static const struct {
		uint32_t code;
		size_t off;
	} map[] = {
	    {DIA_AVP_DIGEST_USERNAME, offsetof(struct auth_digest, username)},
	    {DIA_AVP_DIGEST_REALM, offsetof(struct auth_digest, realm)},
	    {DIA_AVP_DIGEST_NONCE, offsetof(struct auth_digest, nonce)},
	    {DIA_AVP_DIGEST_URI, offsetof(struct auth_digest, uri)},
	    {DIA_AVP_DIGEST_RESPONSE, offsetof(struct auth_digest, response)},
	    {DIA_AVP_DIGEST_ALGORITHM, offsetof(struct auth_digest, algorithm)},
	    {DIA_AVP_DIGEST_CNONCE, offsetof(struct auth_digest, cnonce)},
	    {DIA_AVP_DIGEST_NONCE_COUNT, offsetof(struct auth_digest, nc)},
	    {DIA_AVP_DIGEST_QOP, offsetof(struct auth_digest, qop)},
	    {DIA_AVP_DIGEST_OPAQUE, offsetof(struct auth_digest, opaque)},
	    {DIA_AVP_DIGEST_METHOD, offsetof(struct auth_digest, method)},
	    {DIA_AVP_DIGEST_ENTITY_BODY_HASH, offsetof(struct auth_digest, body_hash)},
	};
	struct dia_avp_iter it;
	struct dia_avp a;
	int r;

	memset(d, 0, sizeof(*d));
	dia_avp_iter_init_group(&it, authz);
	while ((r = dia_avp_next(&it, &a)) > 0) {
		if (a.vendor)
			continue;
		for (size_t i = 0; i < MR_ARRAY_SIZE(map); i++)
			if (map[i].code == a.code)
				*(struct mr_str *)(void *)((char *)d + map[i].off) = a.data;
	}
	return r;
}

/* "alice" or "alice@example.com" (our realm) -> "alice". */
static struct mr_str bare_user(struct mr_str u, struct mr_str realm)
{
	for (uint32_t i = 0; i < u.len; i++)
		if (u.p[i] == '@') {
			struct mr_str dom = mr_str_make(u.p + i + 1, u.len - i - 1);

			if (mr_str_ieq(dom, realm))
				return mr_str_make(u.p, i);
			break;
		}
	return u;
}

/* User part of a SIP(S) AOR: "sip:alice@example.com" -> "alice". */
static struct mr_str aor_user(struct mr_str aor)
{
	uint32_t s = 0;

	if (aor.len > 4 && memcmp(aor.p, "sip:", 4) == 0)
		s = 4;
	else if (aor.len > 5 && memcmp(aor.p, "sips:", 5) == 0)
		s = 5;
	for (uint32_t i = s; i < aor.len; i++)
		if (aor.p[i] == '@')
			return mr_str_make(aor.p + s, i - s);
	return (struct mr_str){0};
}

static int parse_nc(struct mr_str nc, uint32_t *out)
{
	uint32_t v = 0;

	if (nc.len != 8)
		return -EINVAL;
	for (unsigned i = 0; i < 8; i++) {
		char c = nc.p[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
		v = v << 4 | d;
	}
	*out = v;
	return v ? 0 : -EINVAL;
}

static void plan_challenge(struct dia_sipsrv *s, const struct mar_view *v, struct maa_plan *p)
{
	int hint = v->alg_hint.len ? auth_alg_parse(v->alg_hint) : -1;

	p->challenge = true;
	p->alg = hint >= 0 && alg_allowed(s->cfg, hint) ? (enum auth_alg)hint
	                                                : (enum auth_alg)s->cfg->algs[0];
	p->rc = DIA_RC_SUCCESS_AUTH_SENT_SERVER_NOT_STORED;
	mr_count(&s->st.challenges, 1);
}

static void refuse(struct dia_sipsrv *s, struct maa_plan *p, uint32_t rc, uint64_t *counter,
                   enum dia_sipsrv_reason reason, const char *why)
{
	p->rc = rc;
	p->why = why;
	mr_count(counter, 1);
	mr_count(&s->st.refused[reason], 1);
}

/* A nonce this instance will not vouch for (expired, minted elsewhere, replay table full): a
 * fresh challenge with Digest-Stale, so the UA retries with the same password. */
static void rechallenge(struct dia_sipsrv *s, const struct mar_view *v, struct maa_plan *p,
                        enum dia_sipsrv_reason reason)
{
	plan_challenge(s, v, p);
	p->stale = true;
	mr_count(&s->st.stale, 1);
	mr_count(&s->st.refused[reason], 1);
}

/* A MAR without credentials (or with app_sip-style empty ones): a challenge. */
static void plan_no_credentials(struct dia_sipsrv *s, const struct mar_view *v, struct maa_plan *p)
{
	if (v->user_name.len) {
		struct mr_str u = bare_user(v->user_name, s->cfg->realm);

		if (!auth_user_name_ok(v->user_name)) {
			refuse(s, p, DIA_RC_USER_UNKNOWN, &s->st.unknown_user,
			       DIA_SIPSRV_R_BAD_USERNAME, "user name not acceptable");
			return;
		}
		p->user_name = v->user_name;
		p->usr = auth_users_find(s->users, u, s->cfg->realm);
		if (!p->usr) {
			refuse(s, p, DIA_RC_USER_UNKNOWN, &s->st.unknown_user,
			       DIA_SIPSRV_R_UNKNOWN_USER, "unknown user");
			return;
		}
		/* §8.8 rule 3: for REGISTER the user must own the AOR it registers */
		if (mr_str_eq(v->method, MR_STR_LIT("REGISTER")) && v->aor.len &&
		    !mr_str_eq(aor_user(v->aor), u)) {
			p->rc = DIA_RC_IDENTITIES_DONT_MATCH;
			p->why = "user does not own the AOR";
			mr_count(&s->st.aor_mismatch, 1);
			return;
		}
	}
	plan_challenge(s, v, p);
	/* §6.3 needs a user to send an HA1 for: without User-Name, ask for it (4013). */
	if (s->cfg->return_ha1 && !p->usr)
		p->rc = DIA_RC_USER_NAME_REQUIRED;
}

/* Which request a MAR is for: its Session-Id (mara-proxy derives it from Call-ID and From-tag,
 * so a retransmitted request carries the same one). 0 when absent. */
static uint64_t txn_of(const struct dia_msg *m)
{
	struct dia_avp a;
	uint64_t h;

	if (dia_msg_find(m, DIA_AVP_SESSION_ID, 0, &a) <= 0 || !a.data.len)
		return 0;
	h = XXH3_64bits(a.data.p, a.data.len);
	return h ? h : 1;
}

/* A MAR with SIP-Authorization: validate as the Diameter server (§6.4). The order matters:
 * nothing about the user is looked up before its name is known to be sane, and only a verified
 * response may touch the replay table. */
static void plan_validate(struct dia_sipsrv *s, const struct dia_msg *m, const struct mar_view *v,
                          struct auth_digest *d, struct maa_plan *p, uint64_t now)
{
	const struct dia_sipsrv_cfg *cfg = s->cfg;
	const uint32_t rej = DIA_RC_AUTHENTICATION_REJECTED;
	struct auth_nonce_info info = {0};
	struct mr_str user, ha1;
	uint32_t nc = 1;
	int alg, ret;

	if (!auth_user_name_ok(d->username) ||
	    (v->user_name.len && !auth_user_name_ok(v->user_name))) {
		refuse(s, p, DIA_RC_USER_UNKNOWN, &s->st.unknown_user, DIA_SIPSRV_R_BAD_USERNAME,
		       "user name not acceptable");
		return;
	}
	p->user_name = v->user_name.len ? v->user_name : d->username;
	if (!d->method.len)
		d->method = v->method;
	alg = auth_alg_parse(d->algorithm);
	if (alg < 0 || !alg_allowed(cfg, alg)) {
		refuse(s, p, rej, &s->st.bad_request, DIA_SIPSRV_R_ALG_NOT_ALLOWED,
		       "algorithm not offered");
		return;
	}
	if (!mr_str_ieq(d->realm, cfg->realm)) {
		refuse(s, p, rej, &s->st.bad_request, DIA_SIPSRV_R_FOREIGN_REALM,
		       "realm is not ours");
		return;
	}
	user = bare_user(d->username, cfg->realm);
	p->usr = auth_users_find(s->users, user, cfg->realm);
	if (!p->usr) {
		refuse(s, p, DIA_RC_USER_UNKNOWN, &s->st.unknown_user, DIA_SIPSRV_R_UNKNOWN_USER,
		       "unknown user");
		return;
	}
	ret = auth_nonce_inspect(&s->nonce, cfg->realm, d->nonce, now, &info);
	if (ret == -EBADMSG) {
		refuse(s, p, rej, &s->st.forged_nonce, DIA_SIPSRV_R_FORGED_NONCE, "nonce not ours");
		return;
	}
	if (ret < 0 && ret != -ESTALE) {
		refuse(s, p, DIA_RC_UNABLE_TO_COMPLY, &s->st.bad_request, DIA_SIPSRV_R_INCONSISTENT,
		       "nonce check failed");
		return;
	}
	/* An answer with another algorithm than the one the nonce was offered with: a downgrade
	 * (e.g. MD5 to a SHA-256 challenge), refused even when the policy allows both. */
	if (info.alg != AUTH_NONCE_ANY_ALG && info.alg != alg) {
		refuse(s, p, rej, &s->st.bad_request, DIA_SIPSRV_R_ALG_DOWNGRADE,
		       "algorithm is not the challenge's");
		return;
	}
	/* Minted by another instance: its replay table, not ours, knows the counts used. */
	if (info.instance && cfg->key->instance && info.instance != cfg->key->instance) {
		rechallenge(s, v, p, DIA_SIPSRV_R_FOREIGN_INSTANCE);
		return;
	}
	if (ret == -ESTALE) {
		rechallenge(s, v, p, DIA_SIPSRV_R_EXPIRED_NONCE);
		return;
	}
	if (d->qop.len == 0) {
		if (!cfg->allow_no_qop) {
			refuse(s, p, rej, &s->st.bad_request, DIA_SIPSRV_R_QOP_REQUIRED,
			       "qop required");
			return;
		}
	} else if (parse_nc(d->nc, &nc)) {
		refuse(s, p, rej, &s->st.bad_request, DIA_SIPSRV_R_BAD_NC, "bad nc");
		return;
	}
	ha1 = auth_user_ha1(p->usr, (enum auth_alg)alg);
	if (!ha1.len) {
		refuse(s, p, rej, &s->st.bad_request, DIA_SIPSRV_R_NO_HA1,
		       "no HA1 for this algorithm");
		return;
	}
	ret = auth_digest_verify(&s->hash, d, ha1);
	if (ret == -EACCES) {
		refuse(s, p, rej, &s->st.bad_response, DIA_SIPSRV_R_WRONG_RESPONSE,
		       "wrong response");
		return;
	}
	if (ret) {
		refuse(s, p, rej, &s->st.bad_request, DIA_SIPSRV_R_INCONSISTENT,
		       "inconsistent credentials");
		return;
	}
	/* Only a verified response may advance the nonce count, so garbage cannot burn it. */
	ret = auth_replay_check_txn(cfg->replay, d->nonce, info.minted, nc, txn_of(m), now);
	if (ret == 1) /* the same SIP request again through a stateless proxy */
		mr_count(&s->st.retransmissions, 1);
	if (ret == -ESTALE) {
		rechallenge(s, v, p, DIA_SIPSRV_R_REPLAY_TABLE_STALE);
		return;
	}
	if (ret == -EALREADY && !(m->hdr.flags & DIA_FLAG_T) && cfg->return_ha1) {
		/* §6.3 mode: the nonce was handed over with its HA1 (below), so its later
		 * counts are the SIP server's to check. A MAR for it again is a proxy that no
		 * longer holds it (evicted, expired by its policy, another shard or instance)
		 * or a replay: either way only a fresh nonce is safe, and the legitimate UA
		 * moves to it without an error. */
		plan_challenge(s, v, p);
		p->stale = true;
		mr_count(&s->st.replayed, 1);
		mr_count(&s->st.refused[DIA_SIPSRV_R_REPLAYED], 1);
		return;
	}
	if (ret == -EALREADY && !(m->hdr.flags & DIA_FLAG_T)) {
		refuse(s, p, rej, &s->st.replayed, DIA_SIPSRV_R_REPLAYED, "nonce count replayed");
		return;
	}
	/* §6.3 mode, asked for by the SIP server (an empty Digest-HA1 in its SIP-Authorization:
	 * mara-proxy with ha1_cache on): the HA1 goes out with this answer and the SIP server
	 * validates the next counts of this nonce itself; no count of it is accepted here any
	 * more (see above). A SIP server that does not ask keeps the server-validates flow. */
	if (cfg->return_ha1 && v->have_authz &&
	    dia_group_find(&v->authz, DIA_AVP_DIGEST_HA1, 0, &(struct dia_avp){0}) > 0) {
		auth_replay_check_txn(cfg->replay, d->nonce, info.minted, UINT32_MAX, 0, now);
		p->handover = true;
	}
	/* T flag: a failover retransmission of a request we may have answered already; the
	 * response verified, so it is the same request, not a replay by a third party. */
	p->rc = DIA_RC_SUCCESS_SERVER_NAME_NOT_STORED;
	p->alg = (enum auth_alg)alg;
	p->ok = d;
	p->minted = info.minted;
	mr_count(&s->st.authorized, 1);
}

static void put_challenge(struct dia_sipsrv *s, struct dia_enc *e, const struct maa_plan *p,
                          uint64_t now)
{
	char nonce[AUTH_NONCE_LEN + 1];

	if (auth_nonce_mint_alg(&s->nonce, s->cfg->realm, (int)p->alg, now, nonce)) {
		e->err = -EIO;
		return;
	}
	dia_enc_avp_u32(e, DIA_AVP_SIP_NUMBER_AUTH_ITEMS, DIA_AVP_F_M, 1);
	dia_enc_group_begin(e, DIA_AVP_SIP_AUTH_DATA_ITEM, DIA_AVP_F_M, 0);
	dia_enc_avp_u32(e, DIA_AVP_SIP_AUTHENTICATION_SCHEME, DIA_AVP_F_M, 0);
	dia_enc_avp_u32(e, DIA_AVP_SIP_ITEM_NUMBER, DIA_AVP_F_M, 1);
	dia_enc_group_begin(e, DIA_AVP_SIP_AUTHENTICATE, DIA_AVP_F_M, 0);
	dia_enc_avp_str(e, DIA_AVP_DIGEST_REALM, DIA_AVP_F_M, s->cfg->realm);
	dia_enc_avp_str(e, DIA_AVP_DIGEST_NONCE, DIA_AVP_F_M, mr_str_make(nonce, AUTH_NONCE_LEN));
	if (p->stale)
		dia_enc_avp_str(e, DIA_AVP_DIGEST_STALE, DIA_AVP_F_M, MR_STR_LIT("true"));
	dia_enc_avp_str(e, DIA_AVP_DIGEST_ALGORITHM, DIA_AVP_F_M, mr_str_c(auth_alg_name(p->alg)));
	dia_enc_avp_str(e, DIA_AVP_DIGEST_QOP, DIA_AVP_F_M, MR_STR_LIT("auth"));
	if (s->opaque_len)
		dia_enc_avp_str(e, DIA_AVP_DIGEST_OPAQUE, DIA_AVP_F_M,
		                mr_str_make(s->opaque, s->opaque_len));
	if (s->cfg->return_ha1 && p->usr) {
		struct mr_str ha1 = auth_user_ha1(p->usr, p->alg);

		if (ha1.len)
			dia_enc_avp_str(e, DIA_AVP_DIGEST_HA1, DIA_AVP_F_M, ha1);
	}
	dia_enc_group_end(e);
	dia_enc_group_end(e);
}

/* Authentication-Info material (rspauth) for a UA that wants mutual authentication; a
 * nextnonce once the nonce has lived half its lifetime, so a UA that supports it (RFC 2617
 * §3.2.3) moves to a fresh one before it expires, without a 407; in §6.3 mode the HA1 the
 * SIP server validates the next counts with (RFC 4740 §9.5.3 allows further AVPs here). */
static void put_auth_info(struct dia_sipsrv *s, struct dia_enc *e, const struct maa_plan *p,
                          uint64_t now)
{
	char rspauth[AUTH_HEX_MAX + 1], next[AUTH_NONCE_LEN + 1];
	uint32_t life = s->cfg->key->lifetime_s ? s->cfg->key->lifetime_s : 300;
	struct mr_str ha1 = auth_user_ha1(p->usr, p->alg);
	int n;

	if (!p->ok->qop.len)
		return;
	n = auth_digest_response(&s->hash, p->ok, ha1, true, rspauth);
	if (n <= 0)
		return;
	dia_enc_avp_u32(e, DIA_AVP_SIP_NUMBER_AUTH_ITEMS, DIA_AVP_F_M, 1);
	dia_enc_group_begin(e, DIA_AVP_SIP_AUTH_DATA_ITEM, DIA_AVP_F_M, 0);
	dia_enc_avp_u32(e, DIA_AVP_SIP_AUTHENTICATION_SCHEME, DIA_AVP_F_M, 0);
	dia_enc_group_begin(e, DIA_AVP_SIP_AUTHENTICATION_INFO, DIA_AVP_F_M, 0);
	dia_enc_avp_str(e, DIA_AVP_DIGEST_QOP, DIA_AVP_F_M, p->ok->qop);
	dia_enc_avp_str(e, DIA_AVP_DIGEST_RESPONSE_AUTH, DIA_AVP_F_M,
	                mr_str_make(rspauth, (size_t)n));
	dia_enc_avp_str(e, DIA_AVP_DIGEST_CNONCE, DIA_AVP_F_M, p->ok->cnonce);
	dia_enc_avp_str(e, DIA_AVP_DIGEST_NONCE_COUNT, DIA_AVP_F_M, p->ok->nc);
	if (now >= p->minted + life / 2 &&
	    auth_nonce_mint_alg(&s->nonce, s->cfg->realm, (int)p->alg, now, next) == 0)
		dia_enc_avp_str(e, DIA_AVP_DIGEST_NEXTNONCE, DIA_AVP_F_M,
		                mr_str_make(next, AUTH_NONCE_LEN));
	if (p->handover && ha1.len)
		dia_enc_avp_str(e, DIA_AVP_DIGEST_HA1, DIA_AVP_F_M, ha1);
	dia_enc_group_end(e);
	dia_enc_group_end(e);
}

int dia_sipsrv_answer(struct dia_sipsrv *s, const struct dia_msg *mar, struct dia_enc *e,
                      uint64_t now)
{
	struct maa_plan p = {.rc = DIA_RC_UNABLE_TO_COMPLY};
	struct auth_digest d;
	struct mar_view v;
	struct dia_avp_iter it;
	struct dia_avp a;

	mr_count(&s->st.mar, 1);
	if (read_mar(mar, &v) < 0) {
		p.rc = DIA_RC_INVALID_AVP_VALUE;
	} else if (v.have_scheme && v.scheme != 0) { /* only DIGEST (0) exists */
		p.rc = DIA_RC_AUTH_SCHEME_NOT_SUPPORTED;
		p.why = "scheme not supported";
		mr_count(&s->st.bad_scheme, 1);
	} else if (v.have_authz && read_authz(&v.authz, &d) == 0 && d.response.len) {
		plan_validate(s, mar, &v, &d, &p, now);
	} else {
		/* no SIP-Authorization, or one without a response (freeDiameter app_sip's
		 * "challenge me" form): a first round */
		plan_no_credentials(s, &v, &p);
	}
	/* the name is logged only once auth_user_name_ok() said it holds no quote or control byte
	 * (p.user_name stays empty otherwise); never a response, nonce secret or HA1 */
	if (p.why)
		mr_debug("msg=\"MAR refused\" user=\"%.*s\" rc=%u why=\"%s\"", (int)p.user_name.len,
		         p.user_name.p ? p.user_name.p : "", p.rc, p.why);

	dia_enc_answer_hdr(e, mar, &s->cfg->id, p.rc);
	dia_enc_avp_u32(e, DIA_AVP_AUTH_APPLICATION_ID, DIA_AVP_F_M, DIA_APP_SIP);
	dia_enc_avp_u32(e, DIA_AVP_AUTH_SESSION_STATE, DIA_AVP_F_M, 1); /* NO_STATE_MAINTAINED */
	if (p.user_name.len)
		dia_enc_avp_str(e, DIA_AVP_USER_NAME, DIA_AVP_F_M, p.user_name);
	if (v.aor.len)
		dia_enc_avp_str(e, DIA_AVP_SIP_AOR, DIA_AVP_F_M, v.aor);
	if (p.challenge)
		put_challenge(s, e, &p, now);
	else if (p.ok)
		put_auth_info(s, e, &p, now);
	/* Proxy-Info is echoed unchanged (RFC 6733 §6.7.3) */
	dia_avp_iter_init(&it, mar);
	while (dia_avp_next(&it, &a) > 0)
		if (a.code == DIA_AVP_PROXY_INFO && !a.vendor)
			dia_enc_avp_copy(e, &a);
	return dia_enc_finish(e);
}

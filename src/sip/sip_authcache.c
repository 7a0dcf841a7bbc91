/* SPDX-License-Identifier: MIT
 * sip_authcache.c - local re-authentication on nonces mara-aaa handed over (see
 * sip_authcache.h): a 4-way set-associative table keyed by two hashes of the nonce.
 * Owns: the bucket array (HA1s wiped on removal) and an auth_hash. Thread: the owning shard. */
#include "sip_authcache.h"

#include "dia_sipcli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#define AC_WAYS     4
#define AC_MIN      64
#define AC_SEED     0x9e3779b97f4a7c15ull /* second, independent hash of the nonce */
#define AC_WHO_MAX  128                   /* username + realm bytes kept */
#define AC_SCRATCH  1024                  /* unescaped credential values */
#define AC_HDR_NAME "Proxy-Authentication-Info: "

/* One way. Free when expires == 0. */
struct ac_entry {
	uint64_t h1, h2;  /* XXH3_64bits(nonce), XXH3_64bits_withSeed(nonce, AC_SEED) */
	uint64_t txn;     /* the request that used @nc */
	uint64_t at;      /* when @nc was accepted */
	uint64_t expires; /* monotonic seconds; 0 = free */
	uint32_t nc;      /* highest nonce-count accepted */
	uint32_t uses;    /* local validations so far */
	uint8_t alg;      /* enum auth_alg of the credentials that were authorized */
	uint8_t ha1_len;
	uint8_t user_len, realm_len;
	char ha1[AUTH_HEX_MAX];
	char who[AC_WHO_MAX]; /* username then realm, exact bytes */
};

struct sip_authcache {
	struct sip_authcache_policy pol;
	struct ac_entry *e; /* nbuckets * AC_WAYS */
	uint32_t mask;      /* nbuckets - 1 */
	struct auth_hash hash;
	struct sip_authcache_stats st;
};

int sip_authcache_create(const struct sip_authcache_policy *pol, struct sip_authcache **out)
{
	struct sip_authcache *c;
	uint32_t n = AC_MIN;
	int ret;

	while (n < pol->entries && n < (1u << 26))
		n <<= 1;
	c = aligned_alloc(64, sizeof(*c));
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->pol = *pol;
	c->e = calloc(n, sizeof(*c->e));
	if (!c->e) {
		free(c);
		return -ENOMEM;
	}
	c->mask = n / AC_WAYS - 1;
	ret = auth_hash_init(&c->hash);
	if (ret) {
		free(c->e);
		free(c);
		return ret;
	}
	*out = c;
	return 0;
}

void sip_authcache_destroy(struct sip_authcache *c)
{
	if (!c)
		return;
	auth_hash_fini(&c->hash);
	explicit_bzero(c->e, (size_t)(c->mask + 1) * AC_WAYS * sizeof(*c->e));
	free(c->e);
	free(c);
}

const struct sip_authcache_stats *sip_authcache_stats(const struct sip_authcache *c)
{
	return &c->st;
}

static void entry_drop(struct sip_authcache *c, struct ac_entry *e)
{
	explicit_bzero(e, sizeof(*e));
	mr_count(&c->st.entries, (uint64_t)-1);
}

/* The credentials of @m for the table: parsed, with the request's method. -ENOENT when
 * there are none usable (the MAR path decides what to do with them). */
static int creds(const struct sip_msg *m, struct mr_str authz, struct auth_digest *d, char *scratch)
{
	memset(d, 0, sizeof(*d));
	if (!authz.len || auth_digest_parse(authz, d, scratch, AC_SCRATCH) || !d->response.len ||
	    !d->nonce.len)
		return -ENOENT;
	d->method = m->method_name;
	return 0;
}

static int parse_nc(struct mr_str s, uint32_t *nc)
{
	uint32_t v = 0;

	if (s.len != 8)
		return -EINVAL;
	for (uint32_t i = 0; i < 8; i++) {
		char ch = s.p[i];
		uint32_t x;

		if (ch >= '0' && ch <= '9')
			x = (uint32_t)(ch - '0');
		else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
			x = (uint32_t)((ch | 0x20) - 'a' + 10);
		else
			return -EINVAL;
		v = v << 4 | x;
	}
	*nc = v;
	return v ? 0 : -EINVAL;
}

static struct ac_entry *bucket(struct sip_authcache *c, struct mr_str nonce, uint64_t *h1,
                               uint64_t *h2)
{
	*h1 = XXH3_64bits(nonce.p, nonce.len);
	*h2 = XXH3_64bits_withSeed(nonce.p, nonce.len, AC_SEED);
	return &c->e[(size_t)(*h1 & c->mask) * AC_WAYS];
}

static struct ac_entry *find(struct sip_authcache *c, struct mr_str nonce)
{
	uint64_t h1, h2;
	struct ac_entry *b = bucket(c, nonce, &h1, &h2);

	for (unsigned i = 0; i < AC_WAYS; i++)
		if (b[i].expires && b[i].h1 == h1 && b[i].h2 == h2)
			return &b[i];
	return NULL;
}

/* Qop "auth" only: auth-int needs the body hash, which the proxy does not compute. */
static bool usable_qop(const struct auth_digest *d)
{
	return mr_str_ieq(d->qop, MR_STR_LIT("auth"));
}

static bool same_who(const struct ac_entry *e, const struct auth_digest *d)
{
	return d->username.len == e->user_len && d->realm.len == e->realm_len &&
	       memcmp(e->who, d->username.p, e->user_len) == 0 &&
	       memcmp(e->who + e->user_len, d->realm.p, e->realm_len) == 0;
}

static int fail(uint64_t *counter, int err)
{
	mr_count(counter, 1);
	return err;
}

int sip_authcache_check(struct sip_authcache *c, const struct sip_msg *m, struct mr_str authz,
                        uint64_t txn, uint64_t now, struct sip_authcache_info *info)
{
	char scratch[AC_SCRATCH], expect[AUTH_HEX_MAX + 1];
	struct auth_digest d;
	struct ac_entry *e;
	uint32_t nc;
	int alg, n;
	bool retrans;

	if (!(c->pol.methods & (uint32_t)m->method))
		return fail(&c->st.method, -ENOTSUP);
	if (creds(m, authz, &d, scratch) || !(e = find(c, d.nonce)))
		return fail(&c->st.miss, -ENOENT);
	if (now >= e->expires) {
		entry_drop(c, e);
		return fail(&c->st.expired, -ESTALE);
	}
	alg = auth_alg_parse(d.algorithm);
	if (!same_who(e, &d) || alg != (int)e->alg || !usable_qop(&d) || parse_nc(d.nc, &nc))
		return fail(&c->st.mismatch, -EPERM);
	/* the same request again (a retransmission to a stateless proxy) is forwarded again,
	 * like mara-aaa's replay table does for a MAR: same transaction, same count, recent */
	retrans = nc == e->nc && txn && txn == e->txn && now - e->at <= AUTH_REPLAY_RETRANS_S;
	if (!retrans && nc <= e->nc)
		return fail(&c->st.nc_not_higher, -EALREADY);
	if (!retrans && e->uses >= c->pol.max_uses) {
		entry_drop(c, e);
		return fail(&c->st.used_up, -EDQUOT);
	}
	/* only a verified response may move the count, so garbage cannot burn it */
	n = auth_digest_response(&c->hash, &d, mr_str_make(e->ha1, e->ha1_len), false, expect);
	if (n < 0)
		return fail(&c->st.mismatch, -EPERM);
	if (!auth_ct_eq(expect, (size_t)n, d.response.p, d.response.len))
		return fail(&c->st.wrong_response, -EACCES);
	if (info) {
		memset(info, 0, sizeof(*info));
		if (auth_digest_response(&c->hash, &d, mr_str_make(e->ha1, e->ha1_len), true,
		                         info->rspauth) < 0)
			info->rspauth[0] = '\0';
		/* slices of @authz survive the call only when it needed no unescaping */
		info->qop = MR_STR_LIT("auth");
		info->nc =
		    (d.nc.p >= authz.p && d.nc.p < authz.p + authz.len) ? d.nc : (struct mr_str){0};
		info->cnonce = (d.cnonce.p >= authz.p && d.cnonce.p < authz.p + authz.len)
		                   ? d.cnonce
		                   : (struct mr_str){0};
	}
	mr_count(&c->st.validated, 1);
	if (retrans) {
		mr_count(&c->st.retransmission, 1);
		return 1;
	}
	e->nc = nc;
	e->txn = txn;
	e->at = now;
	e->uses++;
	return 0;
}

/* What the table can hold: qop=auth with a count, an algorithm without -sess (RFC 4740 §6.3 does
 * not fit -sess: A1 depends on each cnonce), names that fit. Returns the algorithm or -EINVAL. */
static int cacheable(const struct auth_digest *d)
{
	int alg = auth_alg_parse(d->algorithm);
	uint32_t nc;

	if (alg < 0 || auth_alg_is_sess((enum auth_alg)alg) || !usable_qop(d) ||
	    parse_nc(d->nc, &nc) || (size_t)d->username.len + d->realm.len > AC_WHO_MAX ||
	    d->username.len > 255 || d->realm.len > 255)
		return -EINVAL;
	return alg;
}

bool sip_authcache_wants(const struct sip_authcache *c, enum sip_method method,
                         const struct auth_digest *cred)
{
	return c && (c->pol.methods & (uint32_t)method) && cred && cacheable(cred) >= 0;
}

int sip_authcache_learn(struct sip_authcache *c, const struct sip_msg *m, struct mr_str authz,
                        struct mr_str ha1, uint64_t txn, uint64_t now)
{
	char scratch[AC_SCRATCH];
	struct ac_entry *b, *slot = NULL;
	struct auth_digest d;
	uint64_t h1, h2;
	uint32_t nc;
	int alg;

	if (!(c->pol.methods & (uint32_t)m->method))
		return -ENOTSUP;
	if (creds(m, authz, &d, scratch))
		return -EINVAL;
	alg = cacheable(&d);
	if (alg < 0 || parse_nc(d.nc, &nc) || ha1.len != auth_alg_hexlen((enum auth_alg)alg))
		return -EINVAL;
	b = bucket(c, d.nonce, &h1, &h2);
	for (unsigned i = 0; i < AC_WAYS && !slot; i++)
		if (b[i].expires && b[i].h1 == h1 && b[i].h2 == h2)
			slot = &b[i];
	for (unsigned i = 0; i < AC_WAYS && !slot; i++)
		if (!b[i].expires || now >= b[i].expires) {
			if (b[i].expires)
				mr_count(&c->st.entries, (uint64_t)-1);
			slot = &b[i];
		}
	if (!slot) { /* the entry closest to its end goes: it would soon anyway */
		slot = &b[0];
		for (unsigned i = 1; i < AC_WAYS; i++)
			if (b[i].expires < slot->expires)
				slot = &b[i];
		mr_count(&c->st.evicted, 1);
		mr_count(&c->st.entries, (uint64_t)-1);
	} else if (slot->expires && slot->h1 == h1 && slot->h2 == h2) {
		mr_count(&c->st.entries, (uint64_t)-1);
	}
	explicit_bzero(slot, sizeof(*slot));
	slot->h1 = h1;
	slot->h2 = h2;
	slot->txn = txn;
	slot->at = now;
	slot->expires = now + (c->pol.max_age_s ? c->pol.max_age_s : 1);
	slot->nc = nc;
	slot->alg = (uint8_t)alg;
	slot->ha1_len = (uint8_t)ha1.len;
	memcpy(slot->ha1, ha1.p, ha1.len);
	slot->user_len = (uint8_t)d.username.len;
	slot->realm_len = (uint8_t)d.realm.len;
	memcpy(slot->who, d.username.p, d.username.len);
	memcpy(slot->who + d.username.len, d.realm.p, d.realm.len);
	mr_count(&c->st.entries, 1);
	mr_count(&c->st.learned, 1);
	return 0;
}

/* ---- Proxy-Authentication-Info ------------------------------------------------------------- */

void sip_authcache_info_from_maa(const struct dia_sipcli_auth_info *in, bool has,
                                 struct sip_authcache_info *info)
{
	memset(info, 0, sizeof(*info));
	if (!has)
		return;
	if (in->rspauth.len <= AUTH_HEX_MAX) {
		memcpy(info->rspauth, in->rspauth.p, in->rspauth.len);
		info->rspauth[in->rspauth.len] = '\0';
	}
	info->qop = in->qop;
	info->cnonce = in->cnonce;
	info->nc = in->nc;
	info->nextnonce = in->nextnonce;
}

/* RFC 3261 §25.1 token characters */
static bool is_token(struct mr_str s)
{
	if (!s.len)
		return false;
	for (uint32_t i = 0; i < s.len; i++) {
		unsigned char ch = (unsigned char)s.p[i];

		if (!((ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') ||
		      strchr("-.!%*_+`'~", ch)) ||
		    ch == 0)
			return false;
	}
	return true;
}

static void put_param(struct sip_buf *b, const char *name, struct mr_str v)
{
	if (!is_token(v))
		return;
	sip_buf_cstr(b, name);
	sip_buf_str(b, v);
}

int sip_authcache_via_params(const struct sip_authcache_info *in, char *out, size_t cap)
{
	struct mr_str rsp = mr_str_c(in->rspauth);
	struct sip_buf b;

	if (cap)
		out[0] = '\0';
	if (!is_token(rsp) && !is_token(in->nextnonce))
		return 0;
	sip_buf_init(&b, out, cap > 0 ? (uint32_t)cap - 1 : 0);
	put_param(&b, ";aiq=", in->qop);
	put_param(&b, ";ain=", in->nc);
	put_param(&b, ";air=", rsp);
	put_param(&b, ";aic=", in->cnonce);
	put_param(&b, ";aix=", in->nextnonce);
	if (b.err) {
		if (cap)
			out[0] = '\0';
		return 0;
	}
	out[b.len] = '\0';
	return (int)b.len;
}

/* Locates the empty line that ends the header fields in @b. */
static int headers_end(const struct sip_buf *b)
{
	for (uint32_t i = 0; i + 3 < b->len; i++)
		if (b->p[i] == '\r' && b->p[i + 1] == '\n' && b->p[i + 2] == '\r' &&
		    b->p[i + 3] == '\n')
			return (int)i + 2;
	return -1;
}

int sip_authcache_response_info(struct sip_buf *b, const struct sip_msg *m)
{
	static const struct {
		const char *via, *hdr;
		bool quoted;
	} map[] = {
	    {"aiq", "qop=", false}, {"air", "rspauth=", true},   {"aic", "cnonce=", true},
	    {"ain", "nc=", false},  {"aix", "nextnonce=", true},
	};
	char hdr[SIP_AUTHCACHE_VIA_MAX + 64];
	struct sip_buf h;
	struct mr_str v;
	bool any = false;
	int at;

	if (m->request || m->status < 200 || !m->nvia || b->err)
		return 0;
	sip_buf_init(&h, hdr, sizeof(hdr));
	sip_buf_cstr(&h, AC_HDR_NAME);
	for (unsigned i = 0; i < MR_ARRAY_SIZE(map); i++) {
		if (sip_param_get(m->via[0].params, mr_str_c(map[i].via), &v) <= 0 || !is_token(v))
			continue;
		if (any)
			sip_buf_cstr(&h, ", ");
		sip_buf_cstr(&h, map[i].hdr);
		if (map[i].quoted)
			sip_buf_cstr(&h, "\"");
		sip_buf_str(&h, v);
		if (map[i].quoted)
			sip_buf_cstr(&h, "\"");
		any = true;
	}
	sip_buf_cstr(&h, "\r\n");
	if (!any || h.err)
		return 0;
	at = headers_end(b);
	if (at < 0)
		return 0;
	if (b->cap - b->len < h.len)
		return -ENOBUFS;
	memmove(b->p + at + h.len, b->p + at, b->len - (uint32_t)at);
	memcpy(b->p + at, hdr, h.len);
	b->len += h.len;
	return 1;
}

/* SPDX-License-Identifier: MIT
 * sip_authcache.h - RFC 4740 §6.3 at the proxy: a bounded table, one per shard, of the nonces
 * mara-aaa has authorized and handed over (Digest-HA1 in the authorized MAA), so that later
 * requests of the same UA on the same nonce with a higher nonce-count are validated here,
 * without a MAR. Anything else (unknown nonce, lower or repeated nc, expired entry, other user,
 * realm or algorithm, wrong response, used up) is not decided here: the caller sends the full
 * MAR and mara-aaa answers (it refuses every later MAR on a nonce it handed over, see
 * dia_sipsrv.c, so a request replayed through another shard or proxy cannot get in either).
 * Also carries the server's SIP-Authentication-Info (rspauth, nextnonce) to the UA: as
 * parameters of our Via on the forwarded request, turned into Proxy-Authentication-Info on
 * the response that comes back through us (no per-transaction state).
 * Owns: its table (HA1s are wiped when an entry goes) and its hashing context.
 * Thread: the owning shard only, no locks; the stats thread reads @st with relaxed loads. */
#ifndef SIP_AUTHCACHE_H
#define SIP_AUTHCACHE_H

#include "auth.h"
#include "sip.h"
#include "sip_proxy.h"

/* Policy (proxy.ha1_cache in the configuration); read at start-up. */
struct sip_authcache_policy {
	bool enabled;
	uint32_t max_uses;  /* local validations per nonce, then the MAR again */
	uint32_t max_age_s; /* life of an entry from the authorized MAA: the bound on how long a
	                     * user removed or changed in mara-aaa is still served. Keep it <=
	                     * mara-aaa's nonce_lifetime_s. */
	uint32_t methods;   /* bitmap of enum sip_method that may be validated locally */
	uint32_t entries;   /* per shard, rounded up to a power of two (>= 64) */
};

/* Counters: one writer (the shard), relaxed loads by the stats thread. */
struct __attribute__((aligned(64))) sip_authcache_stats {
	uint64_t validated;      /* requests validated locally: no MAR */
	uint64_t retransmission; /* of which the same request again with the same nc */
	uint64_t learned;        /* entries made from an authorized MAA carrying Digest-HA1 */
	uint64_t evicted;        /* live entries pushed out by a full bucket */
	/* why a request with credentials went to the MAR instead */
	uint64_t miss, nc_not_higher, expired, used_up, mismatch, wrong_response, method;
	uint64_t entries; /* gauge */
};

struct sip_authcache;

/* sip_authcache_create() : a table for @pol (copied). -ENOMEM, -EIO (OpenSSL). */
int sip_authcache_create(const struct sip_authcache_policy *pol, struct sip_authcache **out);
void sip_authcache_destroy(struct sip_authcache *c);
const struct sip_authcache_stats *sip_authcache_stats(const struct sip_authcache *c);
/* Whether a request of @method with credentials @cred could be validated here later (policy
 * methods, qop=auth, no -sess algorithm, names that fit): then its MAR asks mara-aaa for the
 * HA1 (dia_sipcli_mar.want_ha1). Asking for what cannot be cached would make mara-aaa refuse
 * the nonce's next counts for nothing. NULL @c: false. */
bool sip_authcache_wants(const struct sip_authcache *c, enum sip_method method,
                         const struct auth_digest *cred);

/* What a local validation gives the UA back (Proxy-Authentication-Info). */
struct sip_authcache_info {
	char rspauth[AUTH_HEX_MAX + 1];
	struct mr_str qop, cnonce, nc, nextnonce; /* slices into the request / MAA */
};

/* sip_authcache_check() : @authz is the Proxy-Authorization value with our realm (as
 * sip_proxy_route() found it) of request @m, @txn its transaction key, @now monotonic
 * seconds. Returns 0 when the response is right for a nonce in the table and its nc is above
 * the highest seen (the entry moves to that nc; @info filled), 1 for the same request again
 * (same @txn and nc within AUTH_REPLAY_RETRANS_S: a retransmission, forwarded again), or a
 * negative errno, counted, meaning "send the MAR": -ENOENT unknown nonce (or no usable
 * credentials), -EALREADY nc not higher, -ESTALE entry too old (removed), -EDQUOT max_uses
 * reached (removed), -EPERM other user, realm, algorithm or qop, -EACCES wrong response,
 * -ENOTSUP a method the policy leaves to the server. The entry never changes on failure. */
int sip_authcache_check(struct sip_authcache *c, const struct sip_msg *m, struct mr_str authz,
                        uint64_t txn, uint64_t now, struct sip_authcache_info *info);

/* sip_authcache_learn() : after mara-aaa authorized request @m (credentials @authz, @txn) and
 * handed over @ha1: remember its nonce at the request's nc for max_age_s. Replaces an entry of
 * the same nonce; evicts the entry closest to expiry when the bucket is full. Returns 0,
 * -EINVAL (no qop/nc, HA1 not of the algorithm, names too long: not cached), -ENOTSUP. */
int sip_authcache_learn(struct sip_authcache *c, const struct sip_msg *m, struct mr_str authz,
                        struct mr_str ha1, uint64_t txn, uint64_t now);

/* ---- Proxy-Authentication-Info without state ------------------------------------------------ */

struct dia_sipcli_auth_info;

/* sip_authcache_info_from_maa() : @info from an authorized MAA's SIP-Authentication-Info
 * (@has false: none, @info is emptied). Slices point into the MAA. */
void sip_authcache_info_from_maa(const struct dia_sipcli_auth_info *in, bool has,
                                 struct sip_authcache_info *info);

/* Longest text sip_authcache_via_params() writes. */
#define SIP_AUTHCACHE_VIA_MAX 256

/* sip_authcache_via_params() : ";aiq=qop;ain=nc;air=rspauth[;aic=cnonce][;aix=nextnonce]" for our
 * Via into @out (NUL-terminated); values that are not SIP tokens are left out (a cnonce with
 * other characters: the UA then gets no cnonce back). Returns the length, 0 when there is
 * nothing to carry (no rspauth). */
int sip_authcache_via_params(const struct sip_authcache_info *in, char *out, size_t cap);

/* sip_authcache_response_info() : @b holds response @m as forwarded (our Via, m->via[0],
 * removed); when our Via carried the parameters above and @m is final, inserts
 * "Proxy-Authentication-Info: ..." (RFC 2617 §3.2.3) as its last header field. Returns 1
 * when inserted, 0 when there was nothing to add, -ENOBUFS when @b has no room (left as it
 * was). */
int sip_authcache_response_info(struct sip_buf *b, const struct sip_msg *m);

#endif

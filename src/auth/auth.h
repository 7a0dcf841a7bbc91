/* SPDX-License-Identifier: MIT
 * auth.h - HTTP Digest (RFC 2617, RFC 7616, RFC 8760), stateless HMAC nonces with a bounded
 * replay table, and the htdigest user store.
 * Owns: auth_hash (per-thread OpenSSL contexts), auth_nonce_ctx (per-thread MAC context over a
 * shared read-only key), auth_replay (shared, internally locked), auth_users (immutable after
 * load, refcounted, hot-swapped through auth_users_ref).
 * Thread: contexts are per thread; auth_replay and auth_users_ref are safe to share.
 * Errors are negative errno values. Comparisons of secrets are constant-time. */
#ifndef AUTH_H
#define AUTH_H

#include "mr.h"

#include <pthread.h>
#include <stdatomic.h>

/* ---- algorithms and hashing ----------------------------------------------------------- */

enum auth_alg {
	AUTH_ALG_MD5 = 0,
	AUTH_ALG_MD5_SESS,
	AUTH_ALG_SHA256,
	AUTH_ALG_SHA256_SESS,
	AUTH_ALG_SHA512_256,
	AUTH_ALG_SHA512_256_SESS,
	AUTH_ALG_COUNT,
};

#define AUTH_HEX_MAX 64 /* hex length of the longest hash (SHA-256, SHA-512/256) */

/* Parses an algorithm token case-insensitively ("MD5", "sha-256-sess"...); an empty token
 * means MD5 (RFC 2617 default). Returns the enum value or -EINVAL. */
int auth_alg_parse(struct mr_str s);
/* Canonical token, e.g. "SHA-512-256-sess". */
const char *auth_alg_name(enum auth_alg a);
/* The algorithm without -sess (which HA1 column of the user store it uses). */
enum auth_alg auth_alg_base(enum auth_alg a);
bool auth_alg_is_sess(enum auth_alg a);
/* Hex digits of the algorithm's hash: 32 for MD5, 64 for the others. */
unsigned auth_alg_hexlen(enum auth_alg a);

/* Per-thread hashing state: the three EVP_MD fetched once, one reusable EVP_MD_CTX. */
struct auth_hash {
	void *md[3]; /* EVP_MD *: MD5, SHA-256, SHA-512/256 */
	void *ctx;   /* EVP_MD_CTX * */
};

int auth_hash_init(struct auth_hash *h);
void auth_hash_fini(struct auth_hash *h);

/* auth_hash_hex() : lowercase hex of H(parts[0] || parts[1] || ...) with the algorithm's base
 * hash. @out holds AUTH_HEX_MAX + 1 bytes. Returns the hex length or -EIO (OpenSSL failed). */
int auth_hash_hex(struct auth_hash *h, enum auth_alg a, const struct mr_str *parts, unsigned n,
                  char *out);

/* Constant-time equality of two equal-length buffers; false when lengths differ. */
bool auth_ct_eq(const void *a, size_t alen, const void *b, size_t blen);

/* ---- digest computation ---------------------------------------------------------------- */

/* The parameters of one digest response: what a UA sent (Proxy-Authorization) plus the method
 * of the request. All are borrowed slices, unquoted. An empty @qop means RFC 2069 (no qop). */
struct auth_digest {
	struct mr_str username;
	struct mr_str realm;
	struct mr_str nonce;
	struct mr_str uri;
	struct mr_str response;
	struct mr_str algorithm; /* token as sent; empty = MD5 */
	struct mr_str cnonce;
	struct mr_str nc;  /* 8 hex digits */
	struct mr_str qop; /* "auth", "auth-int" or empty */
	struct mr_str opaque;
	struct mr_str method;
	struct mr_str body_hash; /* H(entity-body) hex, for auth-int */
};

/* auth_digest_ha1() : hex H(username:realm:password) into @out (AUTH_HEX_MAX + 1 bytes).
 * Returns the hex length or a negative errno. */
int auth_digest_ha1(struct auth_hash *h, enum auth_alg a, struct mr_str user, struct mr_str realm,
                    struct mr_str password, char *out);

/* auth_digest_response() : the expected response for @d given @ha1 = hex H(user:realm:pass) of
 * the algorithm's base hash (-sess is applied here: H(HA1:nonce:cnonce)). @rspauth selects the
 * Authentication-Info form (A2 without the method). Returns the hex length, -EINVAL when @d
 * is inconsistent (qop without cnonce/nc, auth-int without body hash, bad HA1 length, unknown
 * qop or algorithm), -EIO on an OpenSSL failure. */
int auth_digest_response(struct auth_hash *h, const struct auth_digest *d, struct mr_str ha1,
                         bool rspauth, char *out);

/* auth_digest_verify() : 0 when d->response matches (constant-time), -EACCES when it does not,
 * other negative errno as auth_digest_response(). */
int auth_digest_verify(struct auth_hash *h, const struct auth_digest *d, struct mr_str ha1);

/* auth_digest_parse() : parses a credentials header value, "Digest k=v, k="v"...", into @d
 * (slices into @value; quoted values without their quotes; a value with backslash escapes is
 * unescaped into @scratch, @scratch_len bytes). Scheme and names are case-insensitive; LWS
 * around '=' and ',' is allowed; unknown parameters are skipped. Returns 0, -EBADMSG on a
 * syntax error or a parameter given twice, -EPROTO when the scheme is not Digest, -ENOBUFS
 * when @scratch is too small. Does not set d->method or d->body_hash. */
int auth_digest_parse(struct mr_str value, struct auth_digest *d, char *scratch,
                      size_t scratch_len);

/* ---- nonces ----------------------------------------------------------------------------- */

/* Nonce text: hex of ts(8, seconds since epoch) || random(8) || instance(4) || alg(1), then 32
 * hex of HMAC-SHA256 (truncated to 128 bits) over those 21 bytes || realm, keyed with the shared
 * secret. @instance binds a nonce to the mara-aaa that minted it (a hash of its Origin-Host):
 * several instances share the secret but not their replay tables, so only the minting one can
 * vouch for a nonce's counts. @alg binds it to the algorithm it was offered with, so an answer
 * with a weaker algorithm than the challenge's is told apart from a forgery. */
#define AUTH_NONCE_LEN     74
#define AUTH_SECRET_LEN    32
#define AUTH_NONCE_ANY_ALG 0xff /* minted without an algorithm binding */

struct auth_nonce_key {
	uint8_t secret[AUTH_SECRET_LEN];
	uint32_t lifetime_s; /* default 300 */
	uint32_t instance;   /* minting instance id (auth_nonce_instance_id), 0 = unbound */
};

/* What a nonce says about itself once its MAC checked. */
struct auth_nonce_info {
	uint64_t minted;   /* its timestamp */
	uint32_t instance; /* the minting instance's id, 0 = unbound */
	int alg;           /* enum auth_alg it was minted for, or AUTH_NONCE_ANY_ALG */
};

/* Per-thread: a MAC context keyed once with key->secret (keys are reused, not reset per op). */
struct auth_nonce_ctx {
	const struct auth_nonce_key *key; /* borrowed, read-only, shared by threads */
	void *mac;                        /* EVP_MAC_CTX * */
	void *rnd_state;                  /* reserved */
};

/* The instance id of a Diameter identity (never 0): what key->instance holds for it. */
uint32_t auth_nonce_instance_id(struct mr_str origin_host);

/* auth_nonce_key_weak() : true when the secret cannot be a random one: fewer than 8 distinct
 * byte values (an all-zero placeholder, a repeated pattern). */
bool auth_nonce_key_weak(const struct auth_nonce_key *key);

/* Fills @key->secret from the OS RNG (RAND_bytes). -EIO on failure. */
int auth_nonce_key_random(struct auth_nonce_key *key);
/* Parses 64 hex digits into @key->secret. -EINVAL otherwise. */
int auth_nonce_key_from_hex(struct auth_nonce_key *key, const char *hex);

int auth_nonce_ctx_init(struct auth_nonce_ctx *c, const struct auth_nonce_key *key);
void auth_nonce_ctx_fini(struct auth_nonce_ctx *c);

/* auth_nonce_mint() : writes AUTH_NONCE_LEN chars and a NUL into @out for @realm at @now
 * (seconds, wall clock: nonces are checked by other instances), bound to key->instance and to
 * no algorithm. Returns 0 or -EIO. */
int auth_nonce_mint(struct auth_nonce_ctx *c, struct mr_str realm, uint64_t now, char *out);
/* The same, bound to @alg (enum auth_alg) as well. */
int auth_nonce_mint_alg(struct auth_nonce_ctx *c, struct mr_str realm, int alg, uint64_t now,
                        char *out);

/* auth_nonce_check() : 0 when @nonce was minted with this secret for @realm and is younger
 * than the lifetime; -ESTALE when the MAC is right but it expired (or lies > 30 s in the
 * future); -EBADMSG when malformed or forged. On 0 or -ESTALE *@minted receives its timestamp.
 * It does not look at the instance or algorithm binding (auth_nonce_inspect() does). */
int auth_nonce_check(struct auth_nonce_ctx *c, struct mr_str realm, struct mr_str nonce,
                     uint64_t now, uint64_t *minted);
/* auth_nonce_inspect() : auth_nonce_check() that also gives the bindings (@info is filled on 0
 * and -ESTALE); callers compare info->instance and info->alg themselves. */
int auth_nonce_inspect(struct auth_nonce_ctx *c, struct mr_str realm, struct mr_str nonce,
                       uint64_t now, struct auth_nonce_info *info);

/* ---- replay protection ------------------------------------------------------------------ */

/* A bounded table of the highest nonce-count seen per nonce, shared by all threads (striped
 * locks). When it must evict a live entry it raises that bucket's floor: nonces minted at or
 * before the floor that are not in the table are then refused as stale (never silently
 * accepted), so a bounded table cannot be used to replay. */
struct auth_replay;

/* @entries is rounded up to a power of two (minimum 64). -ENOMEM. */
int auth_replay_create(size_t entries, uint32_t lifetime_s, struct auth_replay **out);
void auth_replay_destroy(struct auth_replay *r);

/* auth_replay_check() : records @nc for @nonce (minted at @minted) and returns 0 when @nc is
 * higher than any seen before; -EALREADY when @nc was seen (replay, or a lower nc); -ESTALE
 * when the table can no longer vouch for this nonce (see above: the UA gets a fresh challenge).
 * For RFC 2069 (no qop) callers pass nc = 1, which makes such a nonce single-use. */
int auth_replay_check(struct auth_replay *r, struct mr_str nonce, uint64_t minted, uint32_t nc,
                      uint64_t now);

/* How long the same request may come again with the same nonce-count (a SIP transaction's
 * lifetime, RFC 3261 timer B/F). */
#define AUTH_REPLAY_RETRANS_S 32

/* auth_replay_check_txn() : auth_replay_check() that also knows which request used the count:
 * @txn (non-zero; e.g. a hash of the Diameter Session-Id, which the proxy derives from Call-ID
 * and From-tag) seen again with the same @nc within AUTH_REPLAY_RETRANS_S is a retransmission
 * of that request, not a replay: returns 1 (and changes nothing). Another request with a used
 * count is still -EALREADY. */
int auth_replay_check_txn(struct auth_replay *r, struct mr_str nonce, uint64_t minted, uint32_t nc,
                          uint64_t txn, uint64_t now);

/* ---- user store ------------------------------------------------------------------------- */

/* One user. HA1 columns are lowercase hex, empty when the file has no such column. */
struct auth_user {
	struct mr_str name;
	struct mr_str realm;
	char ha1_md5[33];
	char ha1_sha256[65];
	char ha1_sha512_256[65];
};

/* An immutable loaded store: an xxHash-keyed open-addressing table over one allocation. */
struct auth_users;

/* auth_users_load() : reads an htdigest file: "user:realm:HA1md5[:HA1sha256[:HA1sha512-256]]"
 * per line; '#' comments and blank lines skipped. Any bad line (missing field, HA1 not hex of the
 * right length, duplicate user@realm) fails the whole load with -EINVAL after logging
 * "file:line: problem". -ENOENT/-EACCES from open, -EPERM when the file is writable by others
 * (a warning is logged when others may read it or its group write it), -ENOMEM. Returned with
 * one reference. */
int auth_users_load(const char *path, struct auth_users **out);
size_t auth_users_count(const struct auth_users *u);
/* auth_user_name_ok() : whether @name may be looked up at all: 1..AUTH_USER_NAME_MAX bytes of
 * printable ASCII without '"', '\\' or ':' (htdigest's separator). Anything else (quotes or
 * backslashes left after unquoting, NUL and other control bytes, UTF-8, over-long names) is
 * refused before a lookup, so it never reaches a log line or the store. */
#define AUTH_USER_NAME_MAX 128
bool auth_user_name_ok(struct mr_str name);
/* NULL when unknown. The pointer lives as long as the caller's reference on @u. */
const struct auth_user *auth_users_find(const struct auth_users *u, struct mr_str name,
                                        struct mr_str realm);
/* Returns the HA1 hex for @a's base algorithm, empty slice when the user has none. */
struct mr_str auth_user_ha1(const struct auth_user *usr, enum auth_alg a);
void auth_users_get(struct auth_users *u);
void auth_users_put(struct auth_users *u); /* frees at the last reference */

/* The current store of a process, replaced on reload while lookups go on. Readers hold their
 * own reference; a reload publishes the new store and bumps @gen so each thread can refresh its
 * reference at a quiet point (per event-loop turn) with one relaxed load. */
struct auth_users_ref {
	pthread_mutex_t lock;
	struct auth_users *cur; /* guarded by lock */
	_Atomic uint64_t gen;
};

int auth_users_ref_init(struct auth_users_ref *r, struct auth_users *initial); /* consumes */
void auth_users_ref_fini(struct auth_users_ref *r);
/* Returns a new reference to the current store (caller puts it). */
struct auth_users *auth_users_ref_get(struct auth_users_ref *r, uint64_t *gen);
/* Publishes @u (consumes the caller's reference) and drops the old one. */
void auth_users_ref_swap(struct auth_users_ref *r, struct auth_users *u);

#endif

/* SPDX-License-Identifier: MIT
 * mb_auth.c - the per-MAR costs of mara-aaa's authentication: digest response (MD5,
 * SHA-256, qop=auth), nonce mint and check (HMAC-SHA256), replay-table check.
 * Owns: one hashing context, one nonce context, one replay table, a set of minted nonces.
 * Thread: main thread (contexts are per thread, as in mara-aaa). */
#include "mb.h"

#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

enum {
	NOW = 1700000000,
	NONCES = 4096,            /* distinct nonces the replay benchmark cycles through */
	REPLAY_ENTRIES = 1 << 20, /* mara-aaa's default replay_entries */
};

static const struct mr_str realm = MR_STR_LIT("example.com");

struct digest_case {
	struct auth_digest d;
	char ha1[AUTH_HEX_MAX + 1];
	struct mr_str ha1_s;
};

static struct digest_case md5_case, sha256_case;
static struct auth_hash hash;
static struct auth_nonce_key key = {.lifetime_s = 300};
static struct auth_nonce_ctx nonce_ctx;
static char minted_nonce[AUTH_NONCE_LEN + 1];

static struct {
	struct auth_replay *table;
	char (*nonces)[AUTH_NONCE_LEN + 1];
	uint64_t next; /* checks done so far, across runs: nc keeps rising */
} replay;

/* hot: one expected response, as auth_digest_verify computes it for every credentialed MAR. */
static void digest_response(void *arg, uint64_t iters)
{
	struct digest_case *c = arg;
	char out[AUTH_HEX_MAX + 1];

	for (uint64_t i = 0; i < iters; i++) {
		if (mr_unlikely(auth_digest_response(&hash, &c->d, c->ha1_s, false, out) <= 0))
			abort();
		mb_do_not_optimize(out);
	}
}

/* hot: one challenge. */
static void nonce_mint(void *arg, uint64_t iters)
{
	char out[AUTH_NONCE_LEN + 1];

	(void)arg;
	for (uint64_t i = 0; i < iters; i++) {
		if (mr_unlikely(auth_nonce_mint(&nonce_ctx, realm, NOW, out)))
			abort();
		mb_do_not_optimize(out);
	}
}

/* hot: the nonce of every credentialed MAR. */
static void nonce_check(void *arg, uint64_t iters)
{
	struct mr_str n = mr_str_make(minted_nonce, AUTH_NONCE_LEN);
	uint64_t minted;

	(void)arg;
	for (uint64_t i = 0; i < iters; i++) {
		if (mr_unlikely(auth_nonce_check(&nonce_ctx, realm, n, NOW + 1, &minted)))
			abort();
		mb_do_not_optimize(&minted);
	}
}

/* hot: a fresh nonce-count on one of NONCES live nonces, as dia_sipsrv.c checks it
 * (auth_replay_check_txn, the accepting path: lock a stripe, find the entry, raise its count).
 * The transaction id stands for the Session-Id hash mara-aaa passes. */
static void replay_check(void *arg, uint64_t iters)
{
	(void)arg;
	for (uint64_t i = 0; i < iters; i++, replay.next++) {
		uint64_t k = replay.next % NONCES;
		uint32_t nc = (uint32_t)(replay.next / NONCES) + 1;
		struct mr_str n = mr_str_make(replay.nonces[k], AUTH_NONCE_LEN);

		if (mr_unlikely(auth_replay_check_txn(replay.table, n, NOW, nc, k + 1, NOW + 1)))
			abort();
	}
}

static int digest_case_init(struct digest_case *c, enum auth_alg alg, const char *alg_name)
{
	int n;

	c->d = (struct auth_digest){
	    .username = MR_STR_LIT("alice"),
	    .realm = realm,
	    .nonce = MR_STR_LIT("0000000065a1b2c3f1e2d3c4b5a69788a1b2c3d4e5f60718293a4b5c6d7e8f90"),
	    .uri = MR_STR_LIT("sip:bob@example.com"),
	    .response = MR_STR_LIT(""),
	    .algorithm = mr_str_c(alg_name),
	    .cnonce = MR_STR_LIT("0a4f113b"),
	    .nc = MR_STR_LIT("00000001"),
	    .qop = MR_STR_LIT("auth"),
	    .method = MR_STR_LIT("INVITE"),
	};
	n = auth_digest_ha1(&hash, alg, c->d.username, realm, MR_STR_LIT("alice-secret"), c->ha1);
	if (n <= 0)
		return n < 0 ? n : -EIO;
	c->ha1_s = mr_str_make(c->ha1, (size_t)n);
	return 0;
}

/* A table holding NONCES live nonces with nc 2, checked twice so that none was evicted: with
 * random nonces a 4-way bucket may get a fifth one (rare at this size, not impossible), and the
 * table then answers -ESTALE (by design) where the benchmark wants the accepting path.
 * -EAGAIN: that happened, draw again. */
static int replay_fill(void)
{
	int r;

	auth_replay_destroy(replay.table);
	replay.table = NULL;
	r = auth_replay_create(REPLAY_ENTRIES, key.lifetime_s, &replay.table);
	for (unsigned i = 0; r == 0 && i < NONCES; i++)
		r = auth_nonce_mint(&nonce_ctx, realm, NOW, replay.nonces[i]);
	if (r)
		return r;
	for (uint32_t nc = 1; nc <= 2; nc++) {
		for (unsigned i = 0; i < NONCES; i++) {
			struct mr_str n = mr_str_make(replay.nonces[i], AUTH_NONCE_LEN);

			if (auth_replay_check_txn(replay.table, n, NOW, nc, i + 1, NOW + 1))
				return -EAGAIN;
		}
	}
	replay.next = 2 * NONCES; /* the benchmark goes on at nc 3 */
	return 0;
}

static int setup(void)
{
	int r;

	r = auth_hash_init(&hash);
	if (r == 0)
		r = digest_case_init(&md5_case, AUTH_ALG_MD5, "MD5");
	if (r == 0)
		r = digest_case_init(&sha256_case, AUTH_ALG_SHA256, "SHA-256");
	if (r == 0)
		r = auth_nonce_key_random(&key);
	if (r == 0)
		r = auth_nonce_ctx_init(&nonce_ctx, &key);
	if (r == 0)
		r = auth_nonce_mint(&nonce_ctx, realm, NOW, minted_nonce);
	if (r)
		return r;
	replay.nonces = calloc(NONCES, sizeof(*replay.nonces));
	if (!replay.nonces)
		return -ENOMEM;
	for (int attempt = 0; attempt < 16; attempt++) {
		r = replay_fill();
		if (r != -EAGAIN)
			return r;
	}
	return -EAGAIN;
}

int mb_auth_init(void)
{
	int r = setup();

	if (r) {
		fprintf(stderr, "mb_auth: set-up failed: %d\n", r);
		return r;
	}
	mb_register("auth/digest_response/MD5", digest_response, &md5_case, 1, 0);
	mb_register("auth/digest_response/SHA-256", digest_response, &sha256_case, 1, 0);
	mb_register("auth/nonce_mint", nonce_mint, NULL, 1, 0);
	mb_register("auth/nonce_check", nonce_check, NULL, 1, 0);
	mb_register("auth/replay_check", replay_check, NULL, 1, 0);
	return 0;
}

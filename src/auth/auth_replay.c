/* SPDX-License-Identifier: MIT
 * auth_replay.c - bounded nonce-count table: 4-way set-associative buckets with a per-bucket
 * floor, so eviction under pressure turns into "stale" answers, never into accepted replays.
 * Owns: the bucket array and the stripe locks.
 * Thread: any; a bucket is guarded by the stripe lock of its index (index % REPLAY_STRIPES). */
#include "auth.h"

#include <errno.h>
#include <stdlib.h>

#include <xxhash.h>

#define REPLAY_WAYS               4
#define REPLAY_STRIPES            64
#define REPLAY_MIN                64
#define REPLAY_SEED               0x9e3779b97f4a7c15ull /* second, independent hash of the nonce */
#define REPLAY_DEFAULT_LIFETIME_S 300

/* One way. States: free (nc == 0); live (minted + lifetime >= now); expired (reusable). */
struct replay_entry {
	uint64_t h1, h2; /* XXH3_64bits(nonce), XXH3_64bits_withSeed(nonce, REPLAY_SEED) */
	uint64_t minted;
	uint64_t txn; /* the request that used @nc (0: unknown) */
	uint64_t at;  /* when @nc was accepted */
	uint32_t nc;  /* highest nonce-count accepted */
};

struct replay_bucket {
	struct replay_entry way[REPLAY_WAYS];
	/* Nonces minted before @below that are not in the bucket are refused (-ESTALE): one
	 * of them may have been evicted. Starts at 0 (nothing refused). */
	uint64_t below;
};

struct replay_stripe {
	pthread_mutex_t lock;
} __attribute__((aligned(MR_CACHELINE)));

struct auth_replay {
	struct replay_stripe stripe[REPLAY_STRIPES];
	struct replay_bucket *bucket;
	size_t mask; /* buckets - 1 */
	uint32_t lifetime_s;
	unsigned nlocks; /* stripes initialised */
};

int auth_replay_create(size_t entries, uint32_t lifetime_s, struct auth_replay **out)
{
	struct auth_replay *r;
	size_t n = REPLAY_MIN, nb;

	while (n < entries) {
		if (n > SIZE_MAX / 2 / sizeof(struct replay_bucket))
			return -ENOMEM;
		n <<= 1;
	}
	nb = n / REPLAY_WAYS;
	r = aligned_alloc(MR_CACHELINE, sizeof(*r));
	if (!r)
		return -ENOMEM;
	memset(r, 0, sizeof(*r));
	r->bucket = calloc(nb, sizeof(*r->bucket));
	if (!r->bucket)
		goto err;
	r->mask = nb - 1;
	r->lifetime_s = lifetime_s ? lifetime_s : REPLAY_DEFAULT_LIFETIME_S;
	for (; r->nlocks < REPLAY_STRIPES; r->nlocks++)
		if (pthread_mutex_init(&r->stripe[r->nlocks].lock, NULL) != 0)
			goto err;
	*out = r;
	return 0;
err:
	auth_replay_destroy(r);
	return -ENOMEM;
}

void auth_replay_destroy(struct auth_replay *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->nlocks; i++)
		pthread_mutex_destroy(&r->stripe[i].lock);
	free(r->bucket);
	free(r);
}

static bool entry_expired(const struct replay_entry *e, uint64_t lifetime, uint64_t now)
{
	return e->minted + lifetime < now;
}

/* Called with the bucket's stripe held. */
static int bucket_check(struct replay_bucket *b, uint64_t h1, uint64_t h2, uint64_t minted,
                        uint32_t nc, uint64_t txn, uint64_t lifetime, uint64_t now)
{
	struct replay_entry *slot = NULL, *victim = NULL;

	for (unsigned i = 0; i < REPLAY_WAYS; i++) {
		struct replay_entry *e = &b->way[i];

		if (e->nc != 0 && e->h1 == h1 && e->h2 == h2) {
			if (entry_expired(e, lifetime, now))
				return -ESTALE;
			/* the same request again (a SIP retransmission reaching a stateless
			 * proxy): not a replay, within the time a transaction lives */
			if (nc == e->nc && txn && txn == e->txn &&
			    now - e->at <= AUTH_REPLAY_RETRANS_S)
				return 1;
			if (nc <= e->nc)
				return -EALREADY;
			e->nc = nc;
			e->txn = txn;
			e->at = now;
			return 0;
		}
	}
	if (nc == 0)
		return -EALREADY; /* not above the implicit 0 of a fresh nonce */
	if (minted + lifetime < now || minted < b->below)
		return -ESTALE;
	for (unsigned i = 0; i < REPLAY_WAYS; i++) {
		struct replay_entry *e = &b->way[i];

		if (e->nc == 0 || entry_expired(e, lifetime, now)) {
			slot = e;
			break;
		}
		if (!victim || e->minted < victim->minted)
			victim = e;
	}
	if (!slot) {
		/* Evict the oldest live nonce: the floor rises the least, and it is the one
		 * closest to expiring anyway. Its later uses are then refused as stale. */
		if (victim->minted + 1 > b->below)
			b->below = victim->minted + 1;
		slot = victim;
	}
	*slot = (struct replay_entry){
	    .h1 = h1, .h2 = h2, .minted = minted, .txn = txn, .at = now, .nc = nc};
	return 0;
}

int auth_replay_check(struct auth_replay *r, struct mr_str nonce, uint64_t minted, uint32_t nc,
                      uint64_t now)
{
	return auth_replay_check_txn(r, nonce, minted, nc, 0, now);
}

int auth_replay_check_txn(struct auth_replay *r, struct mr_str nonce, uint64_t minted, uint32_t nc,
                          uint64_t txn, uint64_t now)
{
	uint64_t h1 = XXH3_64bits(nonce.p, nonce.len);
	uint64_t h2 = XXH3_64bits_withSeed(nonce.p, nonce.len, REPLAY_SEED);
	size_t idx = (size_t)h1 & r->mask;
	pthread_mutex_t *lock = &r->stripe[idx % REPLAY_STRIPES].lock;
	int ret;

	pthread_mutex_lock(lock);
	ret = bucket_check(&r->bucket[idx], h1, h2, minted, nc, txn, r->lifetime_s, now);
	pthread_mutex_unlock(lock);
	return ret;
}

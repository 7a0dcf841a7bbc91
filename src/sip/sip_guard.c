/* SPDX-License-Identifier: MIT
 * sip_guard.c - shared admission counters (see sip_guard.h). */
#include "sip_guard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

struct sip_guard *sip_guard_create(unsigned tcp_per_source, unsigned challenges_per_source,
                                   unsigned challenges)
{
	struct sip_guard *g = calloc(1, sizeof(*g)); /* all-zero atomics are valid zeros */

	if (!g)
		return NULL;
	g->max_per_source[SIP_GUARD_TCP] = tcp_per_source;
	g->max_per_source[SIP_GUARD_CHALLENGE] = challenges_per_source;
	g->max_challenges = challenges;
	return g;
}

void sip_guard_free(struct sip_guard *g)
{
	free(g);
}

uint32_t sip_guard_bucket(const struct sockaddr_storage *src)
{
	if (src->ss_family == AF_INET6)
		return (uint32_t)XXH3_64bits(&((const struct sockaddr_in6 *)src)->sin6_addr, 16) &
		       (SIP_GUARD_BUCKETS - 1);
	return (uint32_t)XXH3_64bits(&((const struct sockaddr_in *)src)->sin_addr, 4) &
	       (SIP_GUARD_BUCKETS - 1);
}

int sip_guard_take(struct sip_guard *g, enum sip_guard_kind kind, uint32_t b)
{
	unsigned max = g->max_per_source[kind];
	_Atomic unsigned *c = &g->count[kind][b & (SIP_GUARD_BUCKETS - 1)];

	/* add first, undo when over: the counter may pass the limit for an instant, but no
	 * caller is ever admitted beyond it */
	if (atomic_fetch_add_explicit(c, 1, memory_order_relaxed) >= max && max) {
		atomic_fetch_sub_explicit(c, 1, memory_order_relaxed);
		return -EMFILE;
	}
	if (kind != SIP_GUARD_CHALLENGE)
		return 0;
	if (atomic_fetch_add_explicit(&g->challenges, 1, memory_order_relaxed) >=
	        g->max_challenges &&
	    g->max_challenges) {
		atomic_fetch_sub_explicit(&g->challenges, 1, memory_order_relaxed);
		atomic_fetch_sub_explicit(c, 1, memory_order_relaxed);
		return -EBUSY;
	}
	return 0;
}

void sip_guard_put(struct sip_guard *g, enum sip_guard_kind kind, uint32_t b)
{
	atomic_fetch_sub_explicit(&g->count[kind][b & (SIP_GUARD_BUCKETS - 1)], 1,
	                          memory_order_relaxed);
	if (kind == SIP_GUARD_CHALLENGE)
		atomic_fetch_sub_explicit(&g->challenges, 1, memory_order_relaxed);
}

/* SPDX-License-Identifier: MIT
 * sip_guard.h - admission counters shared by every shard of a proxy: TCP connections per source
 * IP address, and challenge MARs (requests without credentials) in flight per source and in
 * total, so that no single address, and no flood, can hold more than its share (issue 6).
 * Sources are hashed into SIP_GUARD_BUCKETS atomic counters: two addresses that share a bucket
 * share its limit (rare with 64 Ki buckets; never more than the limit is admitted).
 * Owns: its counters. Thread: any; every operation is one atomic RMW on a counter. */
#ifndef SIP_GUARD_H
#define SIP_GUARD_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define SIP_GUARD_BUCKETS 65536u

enum sip_guard_kind {
	SIP_GUARD_TCP,       /* connections from a source */
	SIP_GUARD_CHALLENGE, /* challenge MARs in flight from a source */
	SIP_GUARD_KINDS,
};

struct sip_guard {
	unsigned max_per_source[SIP_GUARD_KINDS];
	unsigned max_challenges; /* all sources together */
	_Atomic unsigned challenges;
	_Atomic unsigned count[SIP_GUARD_KINDS][SIP_GUARD_BUCKETS];
};

/* sip_guard_create() : a guard with these limits (0: no limit). NULL when out of memory. */
struct sip_guard *sip_guard_create(unsigned tcp_per_source, unsigned challenges_per_source,
                                   unsigned challenges);
void sip_guard_free(struct sip_guard *g);
/* The bucket of @src's address (port ignored). */
uint32_t sip_guard_bucket(const struct sockaddr_storage *src);
/* sip_guard_take() : admits one more @kind from bucket @b. Returns 0, -EMFILE when the source is
 * at its limit, -EBUSY when the global challenge limit is reached (nothing taken then). */
int sip_guard_take(struct sip_guard *g, enum sip_guard_kind kind, uint32_t b);
/* Gives back what sip_guard_take() admitted. */
void sip_guard_put(struct sip_guard *g, enum sip_guard_kind kind, uint32_t b);

#endif

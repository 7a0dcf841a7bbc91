/* SPDX-License-Identifier: MIT
 * mb_ring.c - Concurrency Kit's SPSC ring between two threads, as dia_pool.c uses it between
 * a SIP shard and the pool thread (struct ck_ring over a ck_ring_buffer of pointers, one
 * ck_ring_enqueue_spsc / ck_ring_dequeue_spsc per request, 4096 slots). Items per second.
 * Owns: the ring, its buffer and, during a run, the consumer thread.
 * Thread: the benchmark thread produces; a thread started per run consumes. */
#include "mb.h"

#include "mr.h"

#include <ck_pr.h>
#include <ck_ring.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

enum { RING_SLOTS = 4096 }; /* dia_pool's default queue_size */

struct spsc {
	struct ck_ring ring; /* its head and tail sit on their own cache lines */
	struct ck_ring_buffer *buf;
	uint64_t items; /* this run's count, written before the consumer starts */
	uint64_t sum;   /* the consumer's check, read after the join */
};

static struct spsc *spsc;

/* The consumer: busy-polls like the pool thread does between io_uring waits. Values are
 * 1, 2, ... items, so the sum proves every item came out once. */
static void *consume(void *arg)
{
	struct spsc *q = arg;
	uint64_t sum = 0;

	for (uint64_t got = 0; got < q->items;) {
		void *v;

		if (ck_ring_dequeue_spsc(&q->ring, q->buf, &v)) {
			sum += (uintptr_t)v;
			got++;
		} else {
			ck_pr_stall();
		}
	}
	q->sum = sum;
	return NULL;
}

/* hot: @iters enqueues here, @iters dequeues on the other thread; the time ends when the
 * last item is out (the join). Starting the thread is amortised over the run. */
static void spsc_run(void *arg, uint64_t iters)
{
	struct spsc *q = arg;
	pthread_t t;

	q->items = iters;
	q->sum = 0;
	if (pthread_create(&t, NULL, consume, q))
		abort();
	for (uint64_t i = 1; i <= iters; i++) {
		while (!ck_ring_enqueue_spsc(&q->ring, q->buf, (void *)(uintptr_t)i))
			ck_pr_stall();
	}
	pthread_join(t, NULL);
	if (mr_unlikely(q->sum != iters * (iters + 1) / 2))
		abort();
}

int mb_ring_init(void)
{
	char slots[16];

	if (posix_memalign((void **)&spsc, MR_CACHELINE, sizeof(*spsc)))
		return -ENOMEM;
	spsc->buf = calloc(RING_SLOTS, sizeof(*spsc->buf));
	if (!spsc->buf)
		return -ENOMEM;
	ck_ring_init(&spsc->ring, RING_SLOTS);
	snprintf(slots, sizeof(slots), "%d", RING_SLOTS);
	mb_context("ck_ring_slots", slots);
	mb_register_wall("ring/ck_ring_spsc/2threads", spsc_run, spsc, 1, 0);
	return 0;
}

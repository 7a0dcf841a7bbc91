/* SPDX-License-Identifier: MIT
 * bench_run.c - mara-bench's engine: the preallocated call table, a 1 ms timer wheel for
 * retransmissions and timeouts, pacing (open loop at a rate, closed loop at a concurrency), and
 * the generator thread's io_uring loop.
 * Owns: the call table and the wheel of each thread. Thread: the generator thread, except
 * bench_thread_init/fini (main thread, before the thread starts and after it is joined). */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

_Atomic bool bench_interrupted;

uint64_t bench_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- timer wheel: one doubly linked list per 1 ms slot, indexes into the call table ------ */

static void wheel_unlink(struct bench_thread *t, struct bench_call *c)
{
	uint32_t idx = (uint32_t)(c - t->calls);
	uint32_t slot = (uint32_t)(c->tw_due & (BENCH_WHEEL - 1));

	if (c->tw_prev != BENCH_NIL)
		t->calls[c->tw_prev].tw_next = c->tw_next;
	else if (t->wheel[slot] == idx)
		t->wheel[slot] = c->tw_next;
	if (c->tw_next != BENCH_NIL)
		t->calls[c->tw_next].tw_prev = c->tw_prev;
	c->tw_next = c->tw_prev = BENCH_NIL;
	c->tw_due = 0;
}

static void wheel_insert(struct bench_thread *t, struct bench_call *c, uint64_t due)
{
	uint32_t idx = (uint32_t)(c - t->calls);
	uint32_t slot;

	if (due <= t->tw_tick)
		due = t->tw_tick + 1; /* already due: the next slot processed */
	c->tw_due = due;
	slot = (uint32_t)(due & (BENCH_WHEEL - 1));
	c->tw_prev = BENCH_NIL;
	c->tw_next = t->wheel[slot];
	if (c->tw_next != BENCH_NIL)
		t->calls[c->tw_next].tw_prev = idx;
	t->wheel[slot] = idx;
}

void bench_timer_disarm(struct bench_thread *t, struct bench_call *c)
{
	if (c->tw_due)
		wheel_unlink(t, c);
}

void bench_timer_arm(struct bench_thread *t, struct bench_call *c)
{
	uint64_t due = c->deadline;

	if (c->rtx_due && c->rtx_due < due)
		due = c->rtx_due;
	bench_timer_disarm(t, c);
	wheel_insert(t, c, due);
}

static void fire(struct bench_thread *t, struct bench_call *c)
{
	if (t->cfg->flow == BENCH_FLOW_MAR)
		bench_mar_timer(t, c);
	else
		bench_sip_timer(t, c);
}

/* Visits the slots from the last one processed up to now; a call whose due time is a lap
 * ahead (beyond 65 s) goes back in its slot. */
static void wheel_run(struct bench_thread *t, uint64_t now)
{
	uint64_t n = now > t->tw_tick ? now - t->tw_tick : 0;

	if (n > BENCH_WHEEL)
		t->tw_tick = now - BENCH_WHEEL;
	while (t->tw_tick < now) {
		uint32_t slot = (uint32_t)(++t->tw_tick & (BENCH_WHEEL - 1));
		uint32_t idx = t->wheel[slot];

		t->wheel[slot] = BENCH_NIL;
		while (idx != BENCH_NIL) {
			struct bench_call *c = &t->calls[idx];

			idx = c->tw_next;
			c->tw_next = c->tw_prev = BENCH_NIL;
			if (c->tw_due > now) {
				uint64_t due = c->tw_due;

				wheel_insert(t, c, due);
				continue;
			}
			c->tw_due = 0;
			fire(t, c);
		}
	}
}

/* ---- the call table ------------------------------------------------------------------------ */

struct bench_call *bench_call_at(struct bench_thread *t, uint32_t idx, uint32_t gen)
{
	struct bench_call *c;

	if (idx >= t->ncalls)
		return NULL;
	c = &t->calls[idx];
	return c->state != BENCH_S_FREE && c->gen == gen ? c : NULL;
}

void bench_call_end(struct bench_thread *t, struct bench_call *c, int fail, unsigned status)
{
	uint64_t now = bench_now_us();

	if (c->measured) {
		if (fail < 0) {
			mr_count(&t->st.completed, 1);
			bench_hist_add(&t->st.lat[BENCH_L_FLOW], now - c->t_start);
		} else {
			mr_count(&t->st.failed, 1);
			mr_count(&t->st.fail[fail], 1);
			if (status)
				t->st.status[status < BENCH_STATUS_MAX ? status : 0]++;
		}
		t->st.end_us = now;
	}
	bench_timer_disarm(t, c);
	c->state = BENCH_S_FREE;
	c->gen++;
	c->tw_next = t->free_head;
	t->free_head = (uint32_t)(c - t->calls);
	t->inflight--;
}

static struct bench_call *call_alloc(struct bench_thread *t)
{
	struct bench_call *c;

	if (t->free_head == BENCH_NIL)
		return NULL;
	c = &t->calls[t->free_head];
	t->free_head = c->tw_next;
	c->tw_next = c->tw_prev = BENCH_NIL;
	c->tw_due = 0;
	c->rtx_due = 0;
	c->prov = false;
	c->sent = 0;
	c->stale = 0;
	c->nc = 0;
	c->nonce_len = c->opaque_len = 0;
	return c;
}

/* ---- pacing ---------------------------------------------------------------------------------- */

/* Starts the flows that are due: open loop, the count that the rate gives since t0 (a start
 * held back by the concurrency cap or a full table leaves later, in a burst); closed loop,
 * as many as keep the concurrency. */
static void pump(struct bench_thread *t)
{
	uint64_t now, target = UINT64_MAX;

	if (t->no_more)
		return;
	if (t->cfg->flow == BENCH_FLOW_MAR && !bench_mar_ready(t))
		return;
	now = bench_now_us();
	if (atomic_load_explicit(&bench_interrupted, memory_order_relaxed) ||
	    t->started_meas >= t->quota || (t->stop_us && now >= t->stop_us)) {
		t->no_more = true;
		return;
	}
	if (t->rate > 0)
		target = (uint64_t)((double)(now - t->t0_us) * t->rate / 1e6) + 1;
	while (t->started_all < target && t->started_meas < t->quota) {
		struct bench_call *c;
		int ret;

		if (t->conc && t->inflight >= t->conc)
			break;
		c = call_alloc(t);
		if (!c)
			break;
		c->measured = now >= t->meas_us;
		c->t_start = now;
		t->started_all++;
		t->inflight++;
		if (c->measured) {
			t->started_meas++;
			mr_count(&t->st.started, 1);
		}
		if (t->cfg->flow == BENCH_FLOW_MAR)
			ret = bench_mar_start(t, c);
		else
			ret = bench_sip_start(t, c);
		if (ret < 0) {
			if (c->state == BENCH_S_FREE)
				c->state = BENCH_S_REQ1;
			bench_call_end(t, c, BENCH_F_INTERNAL, 0);
		}
	}
}

static void on_turn(struct io_loop *l, void *arg)
{
	struct bench_thread *t = arg;

	(void)l;
	pump(t);
	if (t->no_more && t->inflight == 0 && !t->finished) {
		t->finished = true;
		atomic_fetch_sub(t->active, 1);
	}
	if (t->finished && atomic_load(t->active) == 0)
		t->loop.stop = true;
}

static void on_tick(struct io_loop *l, struct io_timer *tm)
{
	struct bench_thread *t = mr_container_of(tm, struct bench_thread, tick);

	wheel_run(t, l->now_ms);
	io_timer_arm(l, &t->tick, on_tick, 1);
}

/* ---- the thread ------------------------------------------------------------------------------ */

int bench_thread_init(struct bench_thread *t, const struct bench_cfg *cfg, unsigned id,
                      _Atomic unsigned *active)
{
	int ret;

	memset(t, 0, sizeof(*t));
	t->cfg = cfg;
	t->id = id;
	t->active = active;
	t->ha1_alg = -1;
	t->run_id = cfg->run_id;
	t->ncalls = cfg->table;
	t->calls = calloc(t->ncalls, sizeof(*t->calls));
	t->wheel = malloc(sizeof(*t->wheel) * BENCH_WHEEL);
	if (!t->calls || !t->wheel)
		return -ENOMEM;
	for (uint32_t i = 0; i < BENCH_WHEEL; i++)
		t->wheel[i] = BENCH_NIL;
	for (uint32_t i = 0; i < t->ncalls; i++) {
		t->calls[i].tw_next = i + 1 < t->ncalls ? i + 1 : BENCH_NIL;
		t->calls[i].tw_prev = BENCH_NIL;
		t->calls[i].gen = 1;
	}
	t->free_head = 0;
	ret = auth_hash_init(&t->hash);
	if (ret)
		return ret;
	ret = io_loop_init(&t->loop, id, 4096);
	if (ret)
		return ret;
	t->loop.on_turn = on_turn;
	t->loop.turn_arg = t;
	if (cfg->flow == BENCH_FLOW_MAR)
		return bench_mar_setup(t);
	return bench_sip_setup(t);
}

void bench_thread_fini(struct bench_thread *t)
{
	if (t->loop.ring.ring_fd > 0)
		io_loop_fini(&t->loop);
	if (t->cfg && t->cfg->flow == BENCH_FLOW_MAR)
		bench_mar_teardown(t);
	else
		bench_sip_teardown(t);
	auth_hash_fini(&t->hash);
	free(t->calls);
	free(t->wheel);
	t->calls = NULL;
	t->wheel = NULL;
}

void *bench_thread_main(void *arg)
{
	struct bench_thread *t = arg;
	int ret;

	t->loop.now_ms = io_now_ms();
	t->tw_tick = t->loop.now_ms;
	io_timer_arm(&t->loop, &t->tick, on_tick, 1);
	ret = io_loop_run(&t->loop);
	if (ret < 0 && !t->error)
		t->error = ret;
	return NULL;
}

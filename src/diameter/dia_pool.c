/* SPDX-License-Identifier: MIT
 * dia_pool.c - the shared Diameter client pool: connectors with Tc retries, round-robin over
 * usable peers, a hop-by-hop pending table, a timer wheel, failover with the T flag, SPSC
 * rings to and from the SIP shards with batched wake-ups.
 * Owns: the pool loop and thread, its dia_conns, the rings, the pending table and wheel.
 *   Requests are borrowed from the shards between submit and poll (never freed here).
 * Thread: the pool thread, but for the shard-side calls (submit, kick, poll: each on its
 *   shard's thread), the relaxed stat readers, and create/start/stop/destroy (controller). */
#include "dia_pool.h"

#include "mr_log.h"

#include <ck_ring.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#define WHEEL_SLOTS  512u /* the wheel spans >= 2 timeouts: a slot holds only due entries */
#define DRAIN_BATCH  64u  /* per shard per pass: fairness between shards */
#define DPA_WAIT_MS  2000u
#define HOST_WAIT_MS (2 * DPA_WAIT_MS + 3000u) /* > the deadline's two expiries */
#define MAX_MESSAGE  65536u /* framing limit; answers above DIA_POOL_MSG_MAX get -EMSGSIZE */
#define BACKLOG_MS   1u     /* retry when every usable peer's tx queue is full */
#define HBH_OFF      12u
#define E2E_OFF      16u

/* A counter written by one thread (relaxed load + store, no locked RMW), read by any. */
typedef _Atomic uint64_t ctr_t;

static inline void ctr_add(ctr_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
	                      memory_order_relaxed);
}

static inline void ctr_set(ctr_t *c, uint64_t v)
{
	atomic_store_explicit(c, v, memory_order_relaxed);
}

static inline uint64_t ctr_get(const ctr_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

struct pool_stats {
	ctr_t mar_sent, maa_by_class[6], timeouts, failovers, no_peer, cancelled, invalid;
	ctr_t unknown_answers, inflight, rtt_sum_ns, rtt_count, lat_hist[DIA_POOL_LAT_BUCKETS];
	ctr_t shard_wakes, overload_on;
	_Atomic uint64_t pool_wakes; /* the one counter with many writers (the shards): RMW */
};

struct pool_peer_stats {
	ctr_t state, wd, usable, connects, opens, sent, answered, failed_over, timeouts, inflight;
};

/* A configured peer; one connection at a time, driven like mara-aaa's connectors. */
struct pool_peer {
	struct dia_pool *pool;
	const struct dia_pool_peer *cfg;
	unsigned idx;
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct dia_conn *conn; /* NULL between connections */
	struct io_timer retry;
	bool ever_open;
	bool was_open;
	struct dia_pool_req *pending; /* sent here, unanswered (doubly linked through _p.peer_*) */
	unsigned npending;
	struct pool_peer_stats st;
};

/* One SIP shard's pair of rings. Fields are grouped by the thread that writes them. */
struct pool_shard {
	struct ck_ring to_pool;   /* producer: the shard; consumer: the pool */
	struct ck_ring from_pool; /* producer: the pool; consumer: the shard */
	struct ck_ring_buffer *to_buf, *from_buf;
	struct io_loop *loop;
	/* shard thread */
	_Alignas(MR_CACHELINE) unsigned outstanding; /* submitted and not yet polled back */
	atomic_bool submitting; /* inside dia_pool_submit(): the final drain waits for it */
	/* set by the pool when it wakes the shard, cleared by the shard's poll */
	_Alignas(MR_CACHELINE) atomic_bool woken;
	/* pool thread */
	_Alignas(MR_CACHELINE) bool wake_due; /* answers pushed since the last wake-up */
};

/* Pending requests by hop-by-hop id: open addressing, linear probing, backshift deletion. */
struct pend_slot {
	uint32_t hbh;
	struct dia_pool_req *req; /* NULL = empty */
};

struct dia_pool {
	struct io_loop loop;     /* own-thread mode only */
	struct io_loop *lp;      /* the loop the pool runs on: &loop, or the host shard's */
	struct pool_shard *host; /* hosted mode: the shard whose loop runs the pool; else NULL */
	struct dia_pool_cfg cfg; /* copy with defaults applied */
	struct dia_peer_cfg pcfg;
	struct dia_peer_table table;
	struct dia_peer_stats pst;
	const char *known[DIA_POOL_MAX_PEERS + 1];
	uint32_t apps[1];
	struct pool_peer peers[DIA_POOL_MAX_PEERS];
	struct pool_shard *shards;
	/* pool thread */
	struct pend_slot *tab;
	uint32_t tab_mask;
	unsigned tab_shift;
	unsigned inflight;
	unsigned rr;         /* next peer to try */
	unsigned drain_from; /* next shard to drain first */
	uint32_t next_hbh, next_e2e;
	struct dia_pool_req *wheel[WHEEL_SLOTS];
	uint64_t tick_ms, wheel_last;
	/* Taken from the rings but not sendable yet: max_inflight are out, or every usable
	 * peer's tx queue is full. FIFO (failovers at the head: older), so the head has the
	 * earliest deadline; linked through _p.wheel_next (a backlogged request is in no wheel). */
	struct dia_pool_req *backlog, *backlog_tail;
	bool stopping;
	bool deadline_hit;
	struct io_timer wheel_timer, batch_timer, backlog_timer, deadline;
	pthread_t th;
	bool started; /* controller thread */
	bool stopped;
	atomic_bool finished; /* hosted: the stop is over, or the host loop ended (host thread) */
	/* any thread */
	_Alignas(MR_CACHELINE) atomic_bool closed; /* stop requested: submits refused */
	_Alignas(MR_CACHELINE) atomic_bool kicked; /* a wake of the pool loop is pending */
	_Alignas(MR_CACHELINE) atomic_uint usable;
	_Alignas(MR_CACHELINE) atomic_bool overloaded; /* written by the pool thread */
	uint64_t ovl_start_ns, ovl_min_ns;             /* pool thread: the current interval */
	struct pool_stats st;
};

static const uint64_t lat_bounds_us[DIA_POOL_LAT_BUCKETS] = {
    50,    100,   200,    500,    1000,   2000,    5000,       10000,
    20000, 50000, 100000, 200000, 500000, 1000000, UINT64_MAX,
};

uint64_t dia_pool_lat_bound_us(unsigned i)
{
	return i < DIA_POOL_LAT_BUCKETS ? lat_bounds_us[i] : UINT64_MAX;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Arms @t to fire in this turn's timer pass: the loop's timers are its "before sleep" hook.
 * (io_timer_arm() reads a fresh clock that may be 1 ms past l->now_ms, which would defer the
 * timer by a whole wait.) */
static void timer_now(struct io_loop *l, struct io_timer *t, io_timer_fn *fn)
{
	io_timer_arm(l, t, fn, 0);
	t->due_ms = l->now_ms;
}

/* ---- pending table --------------------------------------------------------------------------- */

static uint32_t tab_home(const struct dia_pool *p, uint32_t hbh)
{
	return (uint32_t)((hbh * 0x9e3779b1u) >> p->tab_shift) & p->tab_mask;
}

static struct dia_pool_req *tab_find(const struct dia_pool *p, uint32_t hbh)
{
	for (uint32_t i = tab_home(p, hbh);; i = (i + 1) & p->tab_mask) {
		if (!p->tab[i].req)
			return NULL;
		if (p->tab[i].hbh == hbh)
			return p->tab[i].req;
	}
}

/* The table holds >= 2 x max_inflight slots, so there is always an empty one. */
static void tab_put(struct dia_pool *p, struct dia_pool_req *req)
{
	uint32_t i = tab_home(p, req->_p.hbh);

	while (p->tab[i].req)
		i = (i + 1) & p->tab_mask;
	p->tab[i].hbh = req->_p.hbh;
	p->tab[i].req = req;
}

/* Backshift deletion: entries after the hole move back unless it would put them before their
 * home slot, so lookups never need tombstones. */
static void tab_del(struct dia_pool *p, uint32_t hbh)
{
	uint32_t i = tab_home(p, hbh), j;

	while (p->tab[i].req && p->tab[i].hbh != hbh)
		i = (i + 1) & p->tab_mask;
	if (!p->tab[i].req)
		return;
	for (j = (i + 1) & p->tab_mask; p->tab[j].req; j = (j + 1) & p->tab_mask) {
		uint32_t home = tab_home(p, p->tab[j].hbh);

		/* j may move to i when its home is not in the cyclic range (i, j] */
		if (((j - home) & p->tab_mask) >= ((j - i) & p->tab_mask)) {
			p->tab[i] = p->tab[j];
			i = j;
		}
	}
	p->tab[i].req = NULL;
}

static uint32_t hbh_alloc(struct dia_pool *p)
{
	uint32_t h;

	do /* 2^32 ids for at most max_inflight live ones: a repeat is a wrap-around */
		h = p->next_hbh++;
	while (tab_find(p, h));
	return h;
}

/* ---- timer wheel ----------------------------------------------------------------------------- */

static void wheel_fire(struct io_loop *l, struct io_timer *t);
static void overload_drained(struct dia_pool *p);

static void wheel_add(struct dia_pool *p, struct dia_pool_req *req)
{
	uint64_t tick = (req->_p.deadline_ms + p->tick_ms - 1) / p->tick_ms;
	struct dia_pool_req **slot;

	if (tick <= p->wheel_last) /* a failover out of the backlog: due at the next tick */
		tick = p->wheel_last + 1;
	req->_p.wheel_slot = (uint16_t)(tick & (WHEEL_SLOTS - 1));
	slot = &p->wheel[req->_p.wheel_slot];
	req->_p.wheel_prev = NULL;
	req->_p.wheel_next = *slot;
	if (*slot)
		(*slot)->_p.wheel_prev = req;
	*slot = req;
	req->_p.in_wheel = true;
	if (!p->wheel_timer.armed)
		io_timer_arm(p->lp, &p->wheel_timer, wheel_fire, p->tick_ms);
}

static void wheel_del(struct dia_pool *p, struct dia_pool_req *req)
{
	if (!req->_p.in_wheel)
		return;
	if (req->_p.wheel_prev)
		req->_p.wheel_prev->_p.wheel_next = req->_p.wheel_next;
	else
		p->wheel[req->_p.wheel_slot] = req->_p.wheel_next;
	if (req->_p.wheel_next)
		req->_p.wheel_next->_p.wheel_prev = req->_p.wheel_prev;
	req->_p.in_wheel = false;
	req->_p.wheel_next = req->_p.wheel_prev = NULL;
}

/* ---- handing requests back ------------------------------------------------------------------- */

static void batch_fire(struct io_loop *l, struct io_timer *t);

/* Consumes @req: status set, pushed on its shard's answer ring. Never full: a shard has fewer
 * requests out than the ring holds (dia_pool_submit() counts them). */
static void complete(struct dia_pool *p, struct dia_pool_req *req, int status)
{
	struct pool_shard *sh = &p->shards[req->shard];

	req->status = status;
	if (mr_unlikely(!ck_ring_enqueue_spsc(&sh->from_pool, sh->from_buf, req))) {
		mr_err("msg=\"pool answer ring full: request lost\" shard=%u", req->shard);
		return;
	}
	sh->wake_due = true;
	if (!p->batch_timer.armed)
		timer_now(p->lp, &p->batch_timer, batch_fire);
}

static void peer_link(struct pool_peer *pp, struct dia_pool_req *req)
{
	req->_p.peer = (uint16_t)pp->idx;
	req->_p.peer_prev = NULL;
	req->_p.peer_next = pp->pending;
	if (pp->pending)
		pp->pending->_p.peer_prev = req;
	pp->pending = req;
	pp->npending++;
	ctr_set(&pp->st.inflight, pp->npending);
}

/* Takes @req out of the pending table and its peer's list (not the wheel). */
static void detach(struct dia_pool *p, struct dia_pool_req *req)
{
	struct pool_peer *pp = &p->peers[req->_p.peer];

	tab_del(p, req->_p.hbh);
	if (req->_p.peer_prev)
		req->_p.peer_prev->_p.peer_next = req->_p.peer_next;
	else
		pp->pending = req->_p.peer_next;
	if (req->_p.peer_next)
		req->_p.peer_next->_p.peer_prev = req->_p.peer_prev;
	req->_p.peer_next = req->_p.peer_prev = NULL;
	pp->npending--;
	ctr_set(&pp->st.inflight, pp->npending);
	p->inflight--;
	ctr_set(&p->st.inflight, p->inflight);
	if (!p->inflight && !p->backlog)
		overload_drained(p);
	if (p->backlog && !p->batch_timer.armed) /* room for the backlog's head */
		timer_now(p->lp, &p->batch_timer, batch_fire);
}

/* ---- sending --------------------------------------------------------------------------------- */

static bool peer_usable(const struct pool_peer *pp)
{
	return pp->conn && dia_conn_usable(pp->conn);
}

/* Queues @req on @pp with a fresh hop-by-hop id. -ENOBUFS when the connection's tx queue is
 * full (the peer does not read) or it is closing; nothing changed then. */
static int send_on(struct dia_pool *p, struct pool_peer *pp, struct dia_pool_req *req)
{
	struct dia_enc e;
	uint32_t hbh;

	if (dia_conn_begin(pp->conn, &e, req->mar_len))
		return -ENOBUFS;
	hbh = hbh_alloc(p);
	req->_p.hbh = hbh;
	put_be32(req->mar + HBH_OFF, hbh);
	memcpy(e.buf, req->mar, req->mar_len);
	dia_conn_commit(pp->conn, req->mar_len);
	tab_put(p, req);
	peer_link(pp, req);
	if (!req->_p.in_wheel)
		wheel_add(p, req);
	p->inflight++;
	ctr_set(&p->st.inflight, p->inflight);
	ctr_add(&p->st.mar_sent, 1);
	ctr_add(&pp->st.sent, 1);
	return 0;
}

/* Round-robin over usable peers but @exclude. 0 sent; -EAGAIN every usable peer is full;
 * -ENOTCONN no usable peer. hot: per request. */
static int route(struct dia_pool *p, struct dia_pool_req *req, const struct pool_peer *exclude)
{
	unsigned n = p->cfg.npeers;
	bool full = false;

	/* bound to one server (the one that minted the nonce): that one or none */
	if (req->dest_peer) {
		struct pool_peer *pp = req->dest_peer <= n ? &p->peers[req->dest_peer - 1] : NULL;

		if (!pp || pp == exclude || !peer_usable(pp))
			return -EHOSTUNREACH;
		return send_on(p, pp, req) == 0 ? 0 : -EAGAIN;
	}

	for (unsigned k = 0; k < n; k++) {
		struct pool_peer *pp = &p->peers[(p->rr + k) % n];

		if (pp == exclude || !peer_usable(pp))
			continue;
		if (send_on(p, pp, req) == 0) {
			p->rr = (pp->idx + 1) % n;
			return 0;
		}
		full = true;
	}
	return full ? -EAGAIN : -ENOTCONN;
}

static void backlog_fire(struct io_loop *l, struct io_timer *t);

static void backlog_add(struct dia_pool *p, struct dia_pool_req *req, bool head)
{
	req->_p.wheel_next = NULL;
	if (!p->backlog) {
		p->backlog = p->backlog_tail = req;
	} else if (head) {
		req->_p.wheel_next = p->backlog;
		p->backlog = req;
	} else {
		p->backlog_tail->_p.wheel_next = req;
		p->backlog_tail = req;
	}
	if (!p->backlog_timer.armed)
		io_timer_arm(p->lp, &p->backlog_timer, backlog_fire, BACKLOG_MS);
}

static struct dia_pool_req *backlog_pop(struct dia_pool *p)
{
	struct dia_pool_req *req = p->backlog;

	p->backlog = req->_p.wheel_next;
	if (!p->backlog)
		p->backlog_tail = NULL;
	req->_p.wheel_next = NULL;
	return req;
}

/* Sends a request that is in no table, wheel or list, or gives it back (cancelled, expired,
 * no usable peer). Returns 0 when consumed, -EAGAIN when it cannot be sent yet (max_inflight
 * out, or every usable peer's tx queue full): the caller backlogs it. */
static int dispatch(struct dia_pool *p, struct dia_pool_req *req)
{
	int ret;

	if (p->stopping) {
		ctr_add(&p->st.cancelled, 1);
		complete(p, req, -ECANCELED);
		return 0;
	}
	if (req->_p.deadline_ms <= p->lp->now_ms) {
		ctr_add(&p->st.timeouts, 1);
		complete(p, req, -ETIMEDOUT);
		return 0;
	}
	if (p->inflight >= p->cfg.max_inflight)
		return -EAGAIN;
	ret = route(p, req, NULL);
	if (ret == -ENOTCONN || ret == -EHOSTUNREACH) {
		ctr_add(&p->st.no_peer, 1);
		complete(p, req, ret);
		return 0;
	}
	return ret;
}

/* Sends (or expires) from the head of the backlog until the head must wait again. */
static void backlog_run(struct dia_pool *p)
{
	while (p->backlog) {
		struct dia_pool_req *req = backlog_pop(p);

		if (dispatch(p, req) == -EAGAIN) {
			backlog_add(p, req, true);
			return;
		}
	}
	io_timer_disarm(p->lp, &p->backlog_timer);
}

static bool mar_ok(const struct dia_pool_req *req)
{
	return req->mar_len >= DIA_HDR_LEN && req->mar_len <= DIA_POOL_MSG_MAX &&
	       dia_frame(req->mar, req->mar_len, DIA_POOL_MSG_MAX) == (int)req->mar_len &&
	       (req->mar[4] & DIA_FLAG_R);
}

/* A request fresh from a shard ring: end-to-end id and deadline (the timeout runs from here:
 * the rings are drained at every kick), then sent, or backlogged behind earlier ones. */
static void dispatch_new(struct dia_pool *p, struct dia_pool_req *req)
{
	memset(&req->_p, 0, sizeof(req->_p));
	req->maa_len = 0;
	req->rtt_ns = 0;
	if (!mar_ok(req)) {
		ctr_add(&p->st.invalid, 1);
		complete(p, req, -EINVAL);
		return;
	}
	req->mar[4] &= (uint8_t)~DIA_FLAG_T;
	req->_p.e2e = p->next_e2e++;
	put_be32(req->mar + E2E_OFF, req->_p.e2e);
	/* + 1: the loop clock is in whole ms, never time out early */
	req->_p.deadline_ms = p->lp->now_ms + p->cfg.timeout_ms + 1;
	req->_p.sent_ns = now_ns();
	if (p->backlog || dispatch(p, req) == -EAGAIN) /* no overtaking the backlog */
		backlog_add(p, req, false);
}

/* Runs the backlog, then empties the shard rings (DRAIN_BATCH per shard per pass, starting
 * with a different shard each time, for fairness). Every request taken is sent, answered at
 * once, or backlogged, so each one is under a deadline as soon as the pool has it. */
static void drain_submits(struct dia_pool *p)
{
	bool more = true;

	backlog_run(p);
	while (more) {
		more = false;
		for (unsigned k = 0; k < p->cfg.nshards; k++) {
			struct pool_shard *sh = &p->shards[(p->drain_from + k) % p->cfg.nshards];
			unsigned n;

			for (n = 0; n < DRAIN_BATCH; n++) {
				void *obj;

				if (!ck_ring_dequeue_spsc(&sh->to_pool, sh->to_buf, &obj))
					break;
				dispatch_new(p, obj);
			}
			more |= n == DRAIN_BATCH;
		}
		p->drain_from++;
	}
}

static void backlog_fire(struct io_loop *l, struct io_timer *t)
{
	struct dia_pool *p = mr_container_of(t, struct dia_pool, backlog_timer);

	backlog_run(p);
	if (p->backlog) /* waiting for tx room: look again in a moment */
		io_timer_arm(l, t, backlog_fire, BACKLOG_MS);
}

/* Once per loop turn (a timer due now): send from the backlog when in-flight room came back,
 * then wake every shard that got answers and has not been woken since its last poll. */
static void batch_fire(struct io_loop *l, struct io_timer *t)
{
	struct dia_pool *p = mr_container_of(t, struct dia_pool, batch_timer);

	(void)l;
	if (p->backlog)
		backlog_run(p);
	for (unsigned i = 0; i < p->cfg.nshards; i++) {
		struct pool_shard *sh = &p->shards[i];

		if (!sh->wake_due || sh == p->host) /* the host polls in dia_pool_host_turn() */
			continue;
		sh->wake_due = false;
		/* seq_cst RMW after the pushes: pairs with the one in dia_pool_poll() */
		if (!atomic_exchange(&sh->woken, true)) {
			io_loop_wake(sh->loop);
			ctr_add(&p->st.shard_wakes, 1);
		}
	}
}

/* ---- timeouts, failover ---------------------------------------------------------------------- */

static void wheel_fire(struct io_loop *l, struct io_timer *t)
{
	struct dia_pool *p = mr_container_of(t, struct dia_pool, wheel_timer);
	uint64_t now_tick = l->now_ms / p->tick_ms, from = p->wheel_last + 1;

	if (now_tick >= from + WHEEL_SLOTS) /* idle for a long while: each slot once */
		from = now_tick - WHEEL_SLOTS + 1;
	for (uint64_t tick = from; tick <= now_tick; tick++) {
		struct dia_pool_req *req = p->wheel[tick & (WHEEL_SLOTS - 1)], *next;

		for (; req; req = next) {
			next = req->_p.wheel_next;
			if (req->_p.deadline_ms > l->now_ms)
				continue;
			wheel_del(p, req);
			ctr_add(&p->peers[req->_p.peer].st.timeouts, 1);
			detach(p, req);
			ctr_add(&p->st.timeouts, 1);
			complete(p, req, -ETIMEDOUT);
		}
	}
	if (now_tick > p->wheel_last)
		p->wheel_last = now_tick;
	if (p->inflight)
		io_timer_arm(l, &p->wheel_timer, wheel_fire, p->tick_ms);
}

/* RFC 6733 §5.5.4: what @pp had pending goes to another usable peer with the T flag, same
 * end-to-end id, new hop-by-hop id; at most once per request, else -ENOTCONN. A late answer
 * from @pp then matches nothing and is counted as unknown. */
static void failover_peer(struct dia_pool *p, struct pool_peer *pp)
{
	struct dia_pool_req *req;
	int ret;

	while ((req = pp->pending)) {
		detach(p, req);
		ctr_add(&pp->st.failed_over, 1);
		if (req->_p.failed_over || p->stopping) {
			wheel_del(p, req);
			if (p->stopping) {
				ctr_add(&p->st.cancelled, 1);
				complete(p, req, -ECANCELED);
			} else {
				ctr_add(&p->st.no_peer, 1);
				complete(p, req, -ENOTCONN);
			}
			continue;
		}
		req->_p.failed_over = true;
		req->mar[4] |= DIA_FLAG_T;
		ret = route(p, req, pp);
		if (ret == 0) {
			ctr_add(&p->st.failovers, 1);
			continue;
		}
		wheel_del(p, req);
		if (ret == -EAGAIN) { /* every other peer's tx queue is full: wait for room */
			ctr_add(&p->st.failovers, 1);
			backlog_add(p, req, true);
		} else {
			ctr_add(&p->st.no_peer, 1);
			complete(p, req, ret == -EHOSTUNREACH ? -EHOSTUNREACH : -ENOTCONN);
		}
	}
}

/* ---- peer application callbacks -------------------------------------------------------------- */

static unsigned result_class(const struct dia_msg *m)
{
	struct dia_avp a, in;
	uint32_t rc = 0;

	if (dia_msg_find(m, DIA_AVP_RESULT_CODE, 0, &a) > 0)
		dia_avp_u32(&a, &rc);
	else if (dia_msg_find(m, DIA_AVP_EXPERIMENTAL_RESULT, 0, &a) > 0 &&
	         dia_group_find(&a, 298, 0, &in) > 0) /* Experimental-Result-Code */
		dia_avp_u32(&in, &rc);
	return rc >= 1000 && rc < 6000 ? rc / 1000 : 0;
}

#define OVERLOAD_INTERVAL_NS 100000000ull

static void overload_window(struct dia_pool *p, uint64_t now)
{
	p->ovl_start_ns = now;
	p->ovl_min_ns = UINT64_MAX;
}

/* The flag, its counter and its log line (@fastest_ns: the interval's fastest MAA, or 0 when
 * the queue drained); a new interval starts either way. Pool thread. */
static void overload_set(struct dia_pool *p, bool is, uint64_t now, uint64_t fastest_ns)
{
	if (is != atomic_load_explicit(&p->overloaded, memory_order_relaxed)) {
		atomic_store_explicit(&p->overloaded, is, memory_order_relaxed);
		if (is)
			ctr_add(&p->st.overload_on, 1);
		if (fastest_ns)
			mr_warn("msg=\"%s\" fastest_maa_ms=%llu target_ms=%u",
			        is ? "AAA overloaded: new calls refused (503)"
			           : "AAA overload over",
			        (unsigned long long)(fastest_ns / 1000000u), p->cfg.overload_ms);
		else
			mr_warn("msg=\"AAA overload over: queue drained\"");
	}
	overload_window(p, now);
}

/* CoDel's test (Nichols and Jacobson) on the MAR round trip: when even the fastest answer of
 * an interval took longer than overload_ms, requests wait in a standing queue (at the AAA or
 * in our backlog), not behind a passing burst. Pool thread; per MAA. */
static void overload_sample(struct dia_pool *p, uint64_t now, uint64_t rtt)
{
	if (rtt < p->ovl_min_ns)
		p->ovl_min_ns = rtt;
	if (now - p->ovl_start_ns >= OVERLOAD_INTERVAL_NS)
		overload_set(p, p->ovl_min_ns > (uint64_t)p->cfg.overload_ms * 1000000u, now,
		             p->ovl_min_ns);
}

/* Nothing out and nothing waiting: no queue, so no overload (while overloaded, new calls send
 * no MAR: without this the last answer of the drained queue would leave the flag up for good).
 * Pool thread. */
static void overload_drained(struct dia_pool *p)
{
	if (atomic_load_explicit(&p->overloaded, memory_order_relaxed))
		overload_set(p, false, now_ns(), 0);
}

bool dia_pool_overloaded(const struct dia_pool *p)
{
	return atomic_load_explicit(&p->overloaded, memory_order_relaxed);
}

static void account_rtt(struct dia_pool *p, uint64_t rtt)
{
	unsigned b = 0;

	while (b + 1 < DIA_POOL_LAT_BUCKETS && rtt > lat_bounds_us[b] * 1000u)
		b++;
	ctr_add(&p->st.lat_hist[b], 1);
	ctr_add(&p->st.rtt_sum_ns, rtt);
	ctr_add(&p->st.rtt_count, 1);
}

/* hot: per MAA. Matches by hop-by-hop id, then checks the peer and end-to-end id. */
static void pool_on_answer(struct dia_conn *pc, const struct dia_msg *m)
{
	struct pool_peer *pp = pc->app_arg;
	struct dia_pool *p = pp->pool;
	struct dia_pool_req *req = tab_find(p, m->hdr.hbh);

	if (!req || req->_p.peer != pp->idx || req->_p.e2e != m->hdr.e2e ||
	    m->hdr.code != DIA_CMD_MA) {
		ctr_add(&p->st.unknown_answers, 1);
		return;
	}
	wheel_del(p, req);
	detach(p, req);
	{
		uint64_t now = now_ns();

		req->rtt_ns = now - req->_p.sent_ns;
		overload_sample(p, now, req->rtt_ns);
	}
	account_rtt(p, req->rtt_ns);
	ctr_add(&p->st.maa_by_class[result_class(m)], 1);
	ctr_add(&pp->st.answered, 1);
	if (mr_unlikely(m->len > DIA_POOL_MSG_MAX)) {
		ctr_add(&p->st.invalid, 1);
		complete(p, req, -EMSGSIZE);
		return;
	}
	if (m->len <= req->cap) {
		req->maa = req->mar;
	} else if (!(req->maa = malloc(m->len))) {
		complete(p, req, -ENOMEM);
		return;
	}
	memcpy(req->maa, m->buf, m->len);
	req->maa_len = m->len;
	complete(p, req, 0);
}

static void count_usable(struct dia_pool *p)
{
	unsigned n = 0;

	for (unsigned i = 0; i < p->cfg.npeers; i++)
		n += !p->stopping && peer_usable(&p->peers[i]);
	atomic_store_explicit(&p->usable, n, memory_order_relaxed);
}

static void pool_on_state(struct dia_conn *pc)
{
	struct pool_peer *pp = pc->app_arg;
	struct dia_pool *p = pp->pool;
	bool usable = dia_conn_usable(pc);

	if (pc->state == DIA_PS_OPEN && !pp->was_open) {
		pp->was_open = pp->ever_open = true;
		ctr_add(&pp->st.opens, 1);
	}
	ctr_set(&pp->st.state, pc->state);
	ctr_set(&pp->st.wd, pc->wd);
	ctr_set(&pp->st.usable, usable);
	if (!usable && pp->npending) {
		mr_warn("msg=\"peer unusable: failing over\" peer=%s state=%s pending=%u",
		        pp->cfg->host, dia_peer_state_name(pc->state), pp->npending);
		failover_peer(p, pp);
		/* on close this runs after the loop's flush: wake it so that the re-sent
		 * requests leave now, not at the next completion */
		if (pc->state == DIA_PS_CLOSED)
			io_loop_wake(p->lp);
	}
	count_usable(p);
}

static const struct dia_app_ops pool_app_ops = {
    .on_answer = pool_on_answer,
    .on_state = pool_on_state,
};

/* ---- connectors ------------------------------------------------------------------------------ */

/* The stop is over: the pool's own loop ends; a host loop goes on (its shard ends it), and one
 * more turn lets it see this. */
static void stop_done(struct dia_pool *p)
{
	if (!p->host) {
		p->loop.stop = true;
		return;
	}
	atomic_store(&p->finished, true);
	io_loop_wake(p->lp);
}

static void maybe_finish(struct dia_pool *p)
{
	for (unsigned i = 0; i < p->cfg.npeers; i++)
		if (p->peers[i].conn)
			return;
	if (p->stopping)
		stop_done(p);
}

static void connector_fire(struct io_loop *l, struct io_timer *t);

static void conn_free(struct dia_conn *pc)
{
	struct pool_peer *pp = pc->app_arg;
	struct dia_pool *p = pp->pool;
	unsigned delay = p->cfg.tc_ms;

	/* RFC 6733 §5.4.3: DO_NOT_WANT_TO_TALK_TO_YOU asks us to stay away; a proxy cannot
	 * give up on its AAA server for good, so it waits ten times longer */
	if (pc->peer_said_goodbye && pc->disconnect_cause == 2)
		delay *= 10;
	pp->conn = NULL;
	pp->was_open = false;
	ctr_set(&pp->st.state, DIA_PS_CLOSED);
	ctr_set(&pp->st.usable, 0);
	free(pc);
	if (p->stopping)
		maybe_finish(p);
	else
		io_timer_arm(p->lp, &pp->retry, connector_fire, delay);
}

static void connector_fire(struct io_loop *l, struct io_timer *t)
{
	struct pool_peer *pp = mr_container_of(t, struct pool_peer, retry);
	struct dia_pool *p = pp->pool;
	struct dia_conn *pc;

	if (p->stopping || pp->conn)
		return;
	pc = calloc(1, sizeof(*pc));
	if (!pc) {
		io_timer_arm(l, &pp->retry, connector_fire, p->cfg.tc_ms);
		return;
	}
	pc->app_arg = pp;
	pc->on_free = conn_free;
	pc->tls = pp->cfg->tls;
	/* after a lost connection, RFC 3539 REOPEN: three watchdog round trips before use */
	pc->wd = pp->ever_open ? DIA_WD_REOPEN : DIA_WD_OKAY;
	ctr_add(&pp->st.connects, 1);
	if (dia_conn_connect(pc, l, pp->cfg->host, (struct sockaddr *)&pp->ss, pp->sslen, &p->pcfg,
	                     &p->pst)) {
		free(pc);
		io_timer_arm(l, &pp->retry, connector_fire, p->cfg.tc_ms);
		return;
	}
	pp->conn = pc;
	ctr_set(&pp->st.state, pc->state);
}

/* ---- stop ------------------------------------------------------------------------------------ */

/* DPAs not in by the deadline: close what is left; a second expiry gives up on closes that
 * never complete (the connections are then leaked, and logged at destroy). */
static void deadline_fire(struct io_loop *l, struct io_timer *t)
{
	struct dia_pool *p = mr_container_of(t, struct dia_pool, deadline);

	if (p->deadline_hit) {
		stop_done(p);
		return;
	}
	p->deadline_hit = true;
	for (unsigned i = 0; i < p->cfg.npeers; i++) {
		if (p->peers[i].conn && !p->peers[i].conn->io.closing) {
			mr_warn("msg=\"pool stop: no DPA in time\" peer=%s", p->peers[i].cfg->host);
			io_conn_close(&p->peers[i].conn->io, -ETIMEDOUT);
		}
	}
	io_timer_arm(l, t, deadline_fire, 1000);
}

/* On the pool thread: every request back with -ECANCELED, DPR to every peer, then the loop
 * ends once every connection is gone (or at the deadline). */
static void begin_stop(struct dia_pool *p)
{
	p->stopping = true;
	count_usable(p);
	io_timer_disarm(p->lp, &p->backlog_timer);
	for (unsigned i = 0; i < p->cfg.npeers; i++) {
		io_timer_disarm(p->lp, &p->peers[i].retry);
		failover_peer(p, &p->peers[i]); /* stopping: -ECANCELED */
	}
	drain_submits(p); /* the backlog and the rings: -ECANCELED */
	for (unsigned i = 0; i < p->cfg.npeers; i++)
		if (p->peers[i].conn)
			dia_conn_disconnect(p->peers[i].conn, 0); /* REBOOTING */
	io_timer_arm(p->lp, &p->deadline, deadline_fire, DPA_WAIT_MS + 500);
	maybe_finish(p);
}

static void pool_turn(struct dia_pool *p)
{
	/* seq_cst RMW before the drain: pairs with the one in dia_pool_kick() */
	atomic_exchange(&p->kicked, false);
	if (p->stopping)
		return;
	if (atomic_load(&p->closed)) {
		begin_stop(p);
		return;
	}
	drain_submits(p);
}

static void pool_on_wake(struct io_loop *l, void *arg)
{
	(void)l;
	pool_turn(arg);
}

bool dia_pool_host_turn(struct dia_pool *p)
{
	struct pool_shard *h = p->host;

	if (atomic_load_explicit(&p->finished, memory_order_relaxed))
		return false;
	pool_turn(p);
	if (!h->wake_due)
		return false;
	h->wake_due = false;
	return true;
}

void dia_pool_host_exit(struct dia_pool *p)
{
	atomic_store(&p->finished, true);
}

bool dia_pool_host_done(const struct dia_pool *p)
{
	return atomic_load(&p->finished);
}

int dia_pool_host_shard(const struct dia_pool *p)
{
	return p->host ? (int)(p->host - p->shards) : -1;
}

static void *pool_main(void *arg)
{
	struct dia_pool *p = arg;
	int ret = io_loop_run(&p->loop);

	if (ret)
		mr_err("msg=\"pool loop failed\" err=%d", ret);
	return NULL;
}

/* ---- shard side ------------------------------------------------------------------------------ */

int dia_pool_submit(struct dia_pool *p, unsigned shard, struct dia_pool_req *req)
{
	struct pool_shard *sh;
	int ret = 0;

	if (mr_unlikely(shard >= p->cfg.nshards))
		return -EINVAL;
	sh = &p->shards[shard];
	if (mr_unlikely(sh->outstanding >= p->cfg.queue_size - 1))
		return -ENOBUFS;
	/* Dekker with dia_pool_stop(): either we see @closed, or its final drain sees
	 * @submitting and waits for our enqueue. */
	atomic_store(&sh->submitting, true);
	if (atomic_load(&p->closed)) {
		ret = -ESHUTDOWN;
	} else {
		req->shard = (uint16_t)shard;
		if (ck_ring_enqueue_spsc(&sh->to_pool, sh->to_buf, req))
			sh->outstanding++;
		else
			ret = -ENOBUFS;
	}
	atomic_store_explicit(&sh->submitting, false, memory_order_release);
	return ret;
}

void dia_pool_kick(struct dia_pool *p)
{
	/* seq_cst RMW after the enqueues: if it reads true, the pool's clearing exchange comes
	 * later in the flag's order and the drain that follows it sees our requests */
	if (!atomic_exchange(&p->kicked, true)) {
		io_loop_wake(p->lp);
		atomic_fetch_add_explicit(&p->st.pool_wakes, 1, memory_order_relaxed);
	}
}

unsigned dia_pool_poll(struct dia_pool *p, unsigned shard, struct dia_pool_req **reqs, unsigned max)
{
	struct pool_shard *sh = &p->shards[shard];
	unsigned n = 0;

	/* cleared before the dequeues: answers pushed after this get a new wake-up */
	atomic_exchange(&sh->woken, false);
	while (n < max && ck_ring_dequeue_spsc(&sh->from_pool, sh->from_buf, &reqs[n]))
		n++;
	sh->outstanding -= n;
	return n;
}

/* ---- readers --------------------------------------------------------------------------------- */

unsigned dia_pool_usable_peers(const struct dia_pool *p)
{
	return atomic_load_explicit(&p->usable, memory_order_relaxed);
}

void dia_pool_stats_get(const struct dia_pool *p, struct dia_pool_stats *o)
{
	const struct pool_stats *s = &p->st;

	o->mar_sent = ctr_get(&s->mar_sent);
	for (unsigned i = 0; i < MR_ARRAY_SIZE(o->maa_by_class); i++)
		o->maa_by_class[i] = ctr_get(&s->maa_by_class[i]);
	o->timeouts = ctr_get(&s->timeouts);
	o->failovers = ctr_get(&s->failovers);
	o->no_peer = ctr_get(&s->no_peer);
	o->cancelled = ctr_get(&s->cancelled);
	o->invalid = ctr_get(&s->invalid);
	o->unknown_answers = ctr_get(&s->unknown_answers);
	o->too_deep = mr_count_read(&p->pst.too_deep);
	o->overloaded = dia_pool_overloaded(p);
	o->overload_on = ctr_get(&s->overload_on);
	o->inflight = ctr_get(&s->inflight);
	o->pool_wakes = ctr_get(&s->pool_wakes);
	o->shard_wakes = ctr_get(&s->shard_wakes);
	o->rtt_sum_ns = ctr_get(&s->rtt_sum_ns);
	o->rtt_count = ctr_get(&s->rtt_count);
	for (unsigned i = 0; i < DIA_POOL_LAT_BUCKETS; i++)
		o->lat_hist[i] = ctr_get(&s->lat_hist[i]);
}

int dia_pool_peer_stats(const struct dia_pool *p, unsigned i, struct dia_pool_peer_stats *o)
{
	const struct pool_peer_stats *s;

	if (i >= p->cfg.npeers)
		return -ENOENT;
	s = &p->peers[i].st;
	o->state = (enum dia_peer_state)ctr_get(&s->state);
	o->wd = (enum dia_wd_state)ctr_get(&s->wd);
	o->usable = ctr_get(&s->usable) != 0;
	o->connects = ctr_get(&s->connects);
	o->opens = ctr_get(&s->opens);
	o->sent = ctr_get(&s->sent);
	o->answered = ctr_get(&s->answered);
	o->failed_over = ctr_get(&s->failed_over);
	o->timeouts = ctr_get(&s->timeouts);
	o->inflight = ctr_get(&s->inflight);
	return 0;
}

int dia_pool_peer_index(const struct dia_pool *p, struct mr_str host)
{
	for (unsigned i = 0; i < p->cfg.npeers; i++)
		if (mr_str_ieq(mr_str_c(p->cfg.peers[i].host), host))
			return (int)i;
	return -ENOENT;
}

int dia_pool_encode_mar(const struct dia_pool *p, struct dia_pool_req *req,
                        const struct dia_sipcli_mar *m)
{
	struct dia_enc e;
	int len;

	dia_enc_init(&e, req->mar, req->cap);
	len = dia_sipcli_encode_mar(&e, &p->cfg.id, p->cfg.dest_realm, m);
	req->mar_len = len > 0 ? (uint32_t)len : 0;
	return len;
}

struct dia_pool_req *dia_pool_req_new(uint32_t cap)
{
	struct dia_pool_req *r;

	if (!cap)
		cap = DIA_POOL_MSG_MAX;
	r = malloc(sizeof(*r) + cap);
	if (!r)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->cap = cap;
	return r;
}

void dia_pool_req_free(struct dia_pool_req *r)
{
	if (!r)
		return;
	if (r->maa && r->maa != r->mar)
		free(r->maa);
	free(r);
}

struct dia_pool_req *dia_pool_mar_new(const struct dia_pool *p, const struct dia_sipcli_mar *m,
                                      int *err)
{
	uint8_t buf[DIA_POOL_MSG_MAX];
	struct dia_pool_req *r;
	struct dia_enc e;
	int len;

	dia_enc_init(&e, buf, sizeof(buf));
	len = dia_sipcli_encode_mar(&e, &p->cfg.id, p->cfg.dest_realm, m);
	if (len <= 0) {
		*err = len < 0 ? len : -EINVAL;
		return NULL;
	}
	r = dia_pool_req_new((uint32_t)len > DIA_POOL_MAA_RESERVE ? (uint32_t)len
	                                                          : DIA_POOL_MAA_RESERVE);
	if (!r) {
		*err = -ENOMEM;
		return NULL;
	}
	memcpy(r->mar, buf, (size_t)len);
	r->mar_len = (uint32_t)len;
	return r;
}

/* ---- life cycle ------------------------------------------------------------------------------ */

/* "ip:port" or "[ip6]:port" into @pp->ss. */
static int peer_addr(struct pool_peer *pp, const char *text)
{
	char host[64];
	const char *colon = text ? strrchr(text, ':') : NULL;
	const char *h = text;
	size_t hl;
	long port;
	char *end;

	if (!colon)
		return -EINVAL;
	hl = (size_t)(colon - text);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port <= 0 || port > 65535)
		return -EINVAL;
	return io_sockaddr_parse(host, (uint16_t)port, &pp->ss, &pp->sslen);
}

static int cfg_apply(struct dia_pool *p, const struct dia_pool_cfg *cfg)
{
	struct dia_pool_cfg *c = &p->cfg;

	*c = *cfg;
	c->tw_ms = c->tw_ms ? c->tw_ms : 30000;
	c->tc_ms = c->tc_ms ? c->tc_ms : 30000;
	c->timeout_ms = c->timeout_ms ? c->timeout_ms : 2000;
	c->overload_ms = c->overload_ms ? c->overload_ms : c->timeout_ms / 4;
	c->max_inflight = c->max_inflight ? c->max_inflight : 16384;
	c->queue_size = c->queue_size ? c->queue_size : 4096;
	if (!c->npeers || c->npeers > DIA_POOL_MAX_PEERS || !c->peers || !c->nshards ||
	    c->nshards > DIA_POOL_MAX_SHARDS || !c->shard_loops || c->host > c->nshards ||
	    c->queue_size < 4 || (c->queue_size & (c->queue_size - 1)) ||
	    c->max_inflight > (1u << 24) || !c->id.host.len || !c->id.realm.len ||
	    !c->dest_realm.len)
		return -EINVAL;
	for (unsigned i = 0; i < c->nshards; i++)
		if (!c->shard_loops[i])
			return -EINVAL;
	for (unsigned i = 0; i < c->npeers; i++) {
		struct pool_peer *pp = &p->peers[i];

		if (!c->peers[i].host || peer_addr(pp, c->peers[i].addr)) {
			mr_err("msg=\"pool: bad peer\" index=%u host=%s addr=%s", i,
			       c->peers[i].host ? c->peers[i].host : "?",
			       c->peers[i].addr ? c->peers[i].addr : "?");
			return -EINVAL;
		}
		pp->pool = p;
		pp->cfg = &c->peers[i];
		pp->idx = i;
		ctr_set(&pp->st.state, DIA_PS_CLOSED);
		p->known[i] = c->peers[i].host;
	}
	return 0;
}

static int shards_init(struct dia_pool *p)
{
	unsigned q = p->cfg.queue_size;

	if (posix_memalign((void **)&p->shards, MR_CACHELINE, p->cfg.nshards * sizeof(*p->shards)))
		return -ENOMEM;
	memset(p->shards, 0, p->cfg.nshards * sizeof(*p->shards));
	for (unsigned i = 0; i < p->cfg.nshards; i++) {
		struct pool_shard *sh = &p->shards[i];

		sh->loop = p->cfg.shard_loops[i];
		sh->to_buf = calloc(q, sizeof(*sh->to_buf));
		sh->from_buf = calloc(q, sizeof(*sh->from_buf));
		if (!sh->to_buf || !sh->from_buf)
			return -ENOMEM;
		ck_ring_init(&sh->to_pool, q);
		ck_ring_init(&sh->from_pool, q);
	}
	return 0;
}

static void peer_cfg_init(struct dia_pool *p)
{
	uint32_t seed[2] = {0, 0};

	p->apps[0] = DIA_APP_SIP;
	p->pcfg = (struct dia_peer_cfg){
	    .id = p->cfg.id,
	    .product = "mara",
	    .firmware = 100,
	    .apps = p->apps,
	    .napps = 1,
	    .tw_ms = p->cfg.tw_ms,
	    .dpa_wait_ms = DPA_WAIT_MS,
	    .max_message = MAX_MESSAGE,
	    .max_nest = p->cfg.max_avp_nest,
	    .accept_unknown = false, /* we never listen: a CEA must come from a configured host */
	    .known = p->known,
	    .table = &p->table,
	    .app = &pool_app_ops,
	};
	if (getrandom(seed, sizeof(seed), 0) != sizeof(seed))
		seed[0] = seed[1] = (uint32_t)now_ns();
	p->next_hbh = seed[0];
	/* RFC 6733 §3: end-to-end ids: high 12 bits from the clock, low 20 random */
	p->next_e2e = ((uint32_t)time(NULL) << 20) | (seed[1] & 0xfffff);
}

int dia_pool_create(const struct dia_pool_cfg *cfg, struct dia_pool **out)
{
	struct dia_pool *p;
	uint32_t slots;
	int ret;

	if (posix_memalign((void **)&p, MR_CACHELINE, sizeof(*p)))
		return -ENOMEM;
	memset(p, 0, sizeof(*p));
	ret = cfg_apply(p, cfg);
	if (ret)
		goto err_free;
	ret = shards_init(p);
	if (ret)
		goto err_shards;
	for (slots = 16, p->tab_shift = 28; slots < 2 * p->cfg.max_inflight; slots *= 2)
		p->tab_shift--;
	p->tab_mask = slots - 1;
	p->tab = calloc(slots, sizeof(*p->tab));
	ret = -ENOMEM;
	if (!p->tab)
		goto err_shards;
	/* WHEEL_SLOTS / 2 ticks per timeout: the wheel spans two timeouts */
	p->tick_ms = (p->cfg.timeout_ms + WHEEL_SLOTS / 2 - 1) / (WHEEL_SLOTS / 2);
	ret = dia_peer_table_init(&p->table);
	if (ret)
		goto err_shards;
	if (p->cfg.host) {
		/* hosted: timers, connections and turns on the host shard's loop (no thread) */
		p->host = &p->shards[p->cfg.host - 1];
		p->lp = p->host->loop;
	} else {
		ret = io_loop_init(&p->loop, 0, 256);
		if (ret)
			goto err_table;
		io_loop_batch_or_warn(&p->loop, p->cfg.batch_us);
		io_loop_set_slice(&p->loop, p->cfg.slice_us);
		p->loop.on_wake = pool_on_wake;
		p->loop.wake_arg = p;
		p->lp = &p->loop;
	}
	p->wheel_last = p->lp->now_ms / p->tick_ms;
	overload_window(p, now_ns());
	peer_cfg_init(p);
	*out = p;
	return 0;
err_table:
	pthread_mutex_destroy(&p->table.lock);
err_shards:
	for (unsigned i = 0; p->shards && i < p->cfg.nshards; i++) {
		free(p->shards[i].to_buf);
		free(p->shards[i].from_buf);
	}
	free(p->shards);
	free(p->tab);
err_free:
	free(p);
	return ret;
}

int dia_pool_start(struct dia_pool *p)
{
	int ret;

	if (p->started)
		return -EALREADY;
	for (unsigned i = 0; i < p->cfg.npeers; i++)
		io_timer_arm(p->lp, &p->peers[i].retry, connector_fire, 0);
	if (!p->host) {
		ret = -pthread_create(&p->th, NULL, pool_main, p);
		if (ret)
			return ret;
	}
	p->started = true;
	mr_info("msg=\"diameter pool started\" peers=%u shards=%u timeout_ms=%u max_inflight=%u "
	        "thread=%s",
	        p->cfg.npeers, p->cfg.nshards, p->cfg.timeout_ms, p->cfg.max_inflight,
	        p->host ? "host shard" : "own");
	return 0;
}

/* After the pool thread ended (or never ran): this thread is now the only consumer of the
 * submit rings and producer of the answer rings. */
static void final_drain(struct dia_pool *p)
{
	p->stopping = true;
	for (unsigned i = 0; i < p->cfg.nshards; i++) {
		struct pool_shard *sh = &p->shards[i];
		void *obj;

		while (atomic_load(&sh->submitting))
			sched_yield();
		while (ck_ring_dequeue_spsc(&sh->to_pool, sh->to_buf, &obj)) {
			ctr_add(&p->st.cancelled, 1);
			((struct dia_pool_req *)obj)->status = -ECANCELED;
			if (!ck_ring_enqueue_spsc(&sh->from_pool, sh->from_buf, obj))
				mr_err("msg=\"pool answer ring full at stop\" shard=%u", i);
			sh->wake_due = true;
		}
		if (sh->wake_due) {
			sh->wake_due = false;
			if (!atomic_exchange(&sh->woken, true))
				io_loop_wake(sh->loop);
		}
	}
}

/* Hosted: wakes the host loop (its next turn begins the stop) and waits for the stop to end
 * there, or for the host loop to end. */
static bool host_wait(struct dia_pool *p)
{
	const struct timespec ms = {0, 1000000};

	io_loop_wake(p->lp);
	for (unsigned i = 0; i < HOST_WAIT_MS; i++) {
		if (atomic_load(&p->finished))
			return true;
		nanosleep(&ms, NULL);
	}
	return atomic_load(&p->finished);
}

void dia_pool_stop(struct dia_pool *p)
{
	if (p->stopped)
		return;
	p->stopped = true;
	atomic_store(&p->closed, true);
	if (p->started && !p->host) {
		io_loop_wake(&p->loop);
		pthread_join(p->th, NULL);
	} else if (p->started && !host_wait(p)) {
		/* the host loop neither finished the stop nor ended: it may still touch the
		 * rings, so leave them; its shard's own stop deadline ends it */
		mr_err("msg=\"pool stop: host loop unresponsive\" wait_ms=%u", HOST_WAIT_MS);
		return;
	}
	p->started = false;
	final_drain(p);
	atomic_store_explicit(&p->usable, 0, memory_order_relaxed);
	mr_info("msg=\"diameter pool stopped\" mar_sent=%lu timeouts=%lu failovers=%lu no_peer=%lu",
	        (unsigned long)ctr_get(&p->st.mar_sent), (unsigned long)ctr_get(&p->st.timeouts),
	        (unsigned long)ctr_get(&p->st.failovers), (unsigned long)ctr_get(&p->st.no_peer));
}

void dia_pool_destroy(struct dia_pool *p)
{
	if (!p)
		return;
	if (p->started && !p->host) /* hosted: the host loop has ended (contract), nothing runs */
		dia_pool_stop(p);
	for (unsigned i = 0; i < p->cfg.npeers; i++)
		if (p->peers[i].conn) /* only after a stop that hit its deadline */
			mr_warn("msg=\"pool destroyed with a live connection\" peer=%s",
			        p->peers[i].cfg->host);
	if (!p->host)
		io_loop_fini(&p->loop);
	pthread_mutex_destroy(&p->table.lock);
	for (unsigned i = 0; i < p->cfg.nshards; i++) {
		free(p->shards[i].to_buf);
		free(p->shards[i].from_buf);
	}
	free(p->shards);
	free(p->tab);
	free(p);
}

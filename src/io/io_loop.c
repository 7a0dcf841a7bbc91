/* SPDX-License-Identifier: MIT
 * io_loop.c - the per-core io_uring loop, its timers and its cross-thread wake-up.
 * Owns: the ring and the eventfd of each loop. Thread: the loop's own, but io_loop_wake(). */
#include "io.h"

#include "io_int.h"
#include "mr_log.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

uint64_t io_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* IORING_FEAT_MIN_TIMEOUT (Linux 6.12), newer than liburing 2.3's header */
#define IO_FEAT_MIN_TIMEOUT (1U << 15)
/* completions that end a batched sleep early: more than a turn usually brings */
#define IO_BATCH_NR 64

static void arm_wake(struct io_loop *l);

static void on_wake(struct io_loop *l, struct io_op *op, int res, uint32_t flags)
{
	(void)op;
	(void)flags;
	if (res < 0 && res != -EINTR && res != -ECANCELED)
		mr_err("msg=\"eventfd read failed\" loop=%u err=%d", l->id, res);
	if (l->on_wake)
		l->on_wake(l, l->wake_arg);
	if (!l->stop)
		arm_wake(l);
}

static void arm_wake(struct io_loop *l)
{
	struct io_uring_sqe *sqe = io_loop_sqe(l);

	if (!sqe)
		return;
	l->wake_op.fn = on_wake;
	io_uring_prep_read(sqe, l->wake_fd, &l->wake_val, sizeof(l->wake_val), 0);
	io_uring_sqe_set_data(sqe, &l->wake_op);
}

int io_loop_init(struct io_loop *l, unsigned id, unsigned entries)
{
	struct io_uring_params p;
	int ret;

	memset(l, 0, sizeof(*l));
	memset(&p, 0, sizeof(p));
	l->id = id;
	/* The loop is the only submitter; COOP_TASKRUN avoids IPIs for task work (limits.md:
	 * plain and DEFER_TASKRUN tie within noise on this kernel, so keep the simpler mode).
	 * The ring is set up by the main thread but submitted to by the loop's thread, so it
	 * starts disabled and the loop thread enables it (SINGLE_ISSUER binds the enabler). */
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED;
	ret = io_uring_queue_init_params(entries, &l->ring, &p);
	if (ret == -EINVAL) { /* before 6.1: no DEFER_TASKRUN */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN |
		          IORING_SETUP_R_DISABLED;
		ret = io_uring_queue_init_params(entries, &l->ring, &p);
	}
	if (ret == -EINVAL) { /* older kernels: no SINGLE_ISSUER */
		memset(&p, 0, sizeof(p));
		ret = io_uring_queue_init_params(entries, &l->ring, &p);
	}
	if (ret < 0)
		return ret;
	l->enable = (p.flags & IORING_SETUP_R_DISABLED) != 0;
	l->min_wait_ok = (p.features & IO_FEAT_MIN_TIMEOUT) != 0;
	l->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (l->wake_fd < 0) {
		ret = -errno;
		io_uring_queue_exit(&l->ring);
		return ret;
	}
	l->now_ms = io_now_ms();
	arm_wake(l);
	return 0;
}

void io_loop_fini(struct io_loop *l)
{
	io_uring_queue_exit(&l->ring);
	close(l->wake_fd);
	l->wake_fd = -1;
}

struct io_uring_sqe *io_loop_sqe(struct io_loop *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);

	if (mr_likely(sqe))
		return sqe;
	if (io_uring_submit(&l->ring) < 0)
		return NULL;
	return io_uring_get_sqe(&l->ring);
}

int io_loop_wake(struct io_loop *l)
{
	uint64_t one = 1;

	return write(l->wake_fd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

void io_timer_arm(struct io_loop *l, struct io_timer *t, io_timer_fn *fn, uint64_t delay_ms)
{
	t->fn = fn;
	/* against the turn's clock, the one run_timers() compares with: a 0 ms timer armed while
	 * completions are handled fires in this very turn */
	t->due_ms = l->now_ms + delay_ms;
	if (!t->armed) {
		t->next = l->timers;
		l->timers = t;
		t->armed = true;
	}
}

void io_timer_disarm(struct io_loop *l, struct io_timer *t)
{
	if (!t->armed)
		return;
	for (struct io_timer **pp = &l->timers; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	t->armed = false;
	t->next = NULL;
}

/* Fires due timers. A handler may re-arm its own timer or disarm others, so the list is
 * rescanned after each firing. */
static void run_timers(struct io_loop *l)
{
	bool fired;

	do {
		fired = false;
		for (struct io_timer *t = l->timers; t; t = t->next) {
			if (t->due_ms <= l->now_ms) {
				io_timer_disarm(l, t);
				t->fn(l, t);
				fired = true;
				break;
			}
		}
	} while (fired);
}

/* ms until the next timer (capped at 1 s; 0 when one is already due). */
static uint64_t next_timer_ms(const struct io_loop *l)
{
	uint64_t next = 1000;

	for (const struct io_timer *t = l->timers; t; t = t->next) {
		if (t->due_ms <= l->now_ms)
			return 0;
		if (t->due_ms - l->now_ms < next)
			next = t->due_ms - l->now_ms;
	}
	return next;
}

int io_loop_set_batch(struct io_loop *l, unsigned batch_us)
{
	if (batch_us && !l->min_wait_ok)
		return -EOPNOTSUPP;
	l->batch_us = batch_us;
	return 0;
}

void io_loop_batch_or_warn(struct io_loop *l, unsigned batch_us)
{
	if (io_loop_set_batch(l, batch_us) < 0)
		mr_warn("msg=\"batch_wait_us needs Linux 6.12 (IORING_FEAT_MIN_TIMEOUT): ignored\" "
		        "loop=%u",
		        l->id);
}

/* Publishes the SQEs queued since the last submit (liburing 2.3's __io_uring_flush_sq, which
 * it does not export) and returns how many the kernel has still to consume. */
static unsigned flush_sq(struct io_uring *ring)
{
	struct io_uring_sq *sq = &ring->sq;
	unsigned tail = sq->sqe_tail;

	if (sq->sqe_head != tail) {
		sq->sqe_head = tail;
		io_uring_smp_store_release(sq->ktail, tail);
	}
	return tail - io_uring_smp_load_acquire(sq->khead);
}

/* Submits and sleeps until a completion or the timeout. With batch_us, the kernel's minimum
 * wait (6.12+) holds the thread asleep up to batch_us after the first completion so that a
 * burst of datagrams costs one wake-up instead of one each: at a few thousand calls/s the
 * sleep/wake cycle, not the SIP work, is most of a shard's CPU (bench/README.md). */
static int loop_wait(struct io_loop *l, uint64_t wait_ms)
{
	struct __kernel_timespec ts = {.tv_sec = (long long)(wait_ms / 1000),
	                               .tv_nsec = (long long)(wait_ms % 1000) * 1000000};
	struct io_uring_getevents_arg arg = {.sigmask_sz = _NSIG / 8, .ts = (uintptr_t)&ts};
	struct io_uring_cqe *cqe;
	unsigned submit;
	long ret;

	/* a timer due sooner than the batch ends: no batching this turn (timers stay on time) */
	if (!l->batch_us || wait_ms * 1000u < l->batch_us)
		return io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
	arg.pad = l->batch_us; /* min_wait_usec in 6.12's struct, "pad" in liburing 2.3's */
	submit = flush_sq(&l->ring);
	ret = syscall(__NR_io_uring_enter, l->ring.ring_fd, submit, IO_BATCH_NR,
	              IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
	return ret < 0 ? -errno : (int)ret;
}

void io_loop_set_slice(struct io_loop *l, unsigned slice_us)
{
	l->slice_us = slice_us;
}

/* struct sched_attr (include/uapi/linux/sched/types.h), not in glibc 2.36's headers */
struct io_sched_attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
};

static void apply_slice(struct io_loop *l)
{
	struct io_sched_attr a = {.size = sizeof(a), .policy = SCHED_OTHER};

	if (!l->slice_us)
		return;
	/* keep the nice value the thread has: sched_setattr() sets it too */
	errno = 0;
	a.nice = getpriority(PRIO_PROCESS, 0);
	a.runtime = (uint64_t)l->slice_us * 1000u;
	if (syscall(SYS_sched_setattr, 0, &a, 0) < 0)
		mr_warn("msg=\"sched_slice_us needs Linux 6.12 (EEVDF custom slices): ignored\" "
		        "loop=%u err=%d",
		        l->id, -errno);
}

int io_loop_run(struct io_loop *l)
{
	uint64_t wait_ms = 0;

	apply_slice(l);
	if (l->enable) {
		/* liburing 2.3 declares io_uring_enable_rings() but does not export it */
		if (syscall(__NR_io_uring_register, l->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS,
		            NULL, 0) < 0)
			return -errno;
		l->enable = false;
	}
	while (!l->stop) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		int ret;

		ret = loop_wait(l, wait_ms);
		if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			mr_err("msg=\"io_uring wait failed\" loop=%u err=%d", l->id, ret);
			return ret;
		}
		l->now_ms = io_now_ms();
		io_uring_for_each_cqe(&l->ring, head, cqe)
		{
			struct io_op *op = io_uring_cqe_get_data(cqe);

			n++;
			if (op)
				op->fn(l, op, cqe->res, cqe->flags);
		}
		io_uring_cq_advance(&l->ring, n);
		run_timers(l);
		if (l->on_turn)
			l->on_turn(l, l->turn_arg);
		/* closes first: their on_close may queue output or arm timers for this turn */
		io_conn_reap(l);
		io_conn_flush_all(l);
		wait_ms = next_timer_ms(l);
	}
	return 0;
}

/* SPDX-License-Identifier: MIT
 * test_io.c - the io_uring loop on real rings over loopback: timers, cross-thread wake-up,
 * stream connections (batched sends, partial consumption, close paths, tx limit), accept.
 * Exits 77 (meson skip) when io_uring is not available. No sleeps: everything is driven by the
 * loop itself. */
#include "io.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- timers ----------------------------------------------------------------------------- */

struct tstate {
	struct io_timer t[3];
	int order[3];
	int fired;
};

static void t_fire(struct io_loop *l, struct io_timer *t)
{
	int idx = -1;
	struct tstate *s = l->wake_arg;

	for (int i = 0; i < 3; i++)
		if (&s->t[i] == t)
			idx = i;
	s->order[s->fired++] = idx;
	if (s->fired == 3)
		l->stop = true;
}

/* Three timers armed out of order (30, 0, 15 ms) fire in due order. */
static void run_three_timers(struct io_loop *l, struct tstate *s)
{
	l->stop = false;
	l->wake_arg = s;
	io_timer_arm(l, &s->t[2], t_fire, 30);
	io_timer_arm(l, &s->t[0], t_fire, 0);
	io_timer_arm(l, &s->t[1], t_fire, 15);
	assert_int_equal(io_loop_run(l), 0);
	assert_int_equal(s->order[0], 0);
	assert_int_equal(s->order[1], 1);
	assert_int_equal(s->order[2], 2);
}

static void test_timers(void **state)
{
	struct io_loop l;
	struct tstate s = {0};

	(void)state;
	assert_int_equal(io_loop_init(&l, 0, 64), 0);
	run_three_timers(&l, &s);
	/* disarm: a disarmed timer never fires */
	s = (struct tstate){0};
	l.stop = false;
	io_timer_arm(&l, &s.t[0], t_fire, 0);
	io_timer_arm(&l, &s.t[1], t_fire, 1);
	io_timer_arm(&l, &s.t[2], t_fire, 2);
	io_timer_disarm(&l, &s.t[1]);
	io_timer_arm(&l, &s.t[1], t_fire, 40); /* re-armed later: fires last */
	assert_int_equal(io_loop_run(&l), 0);
	assert_int_equal(s.order[2], 1);
	io_loop_fini(&l);
}

/* ---- wake-up from another thread ---------------------------------------------------------- */

static void on_wake_stop(struct io_loop *l, void *arg)
{
	(*(int *)arg)++;
	l->stop = true;
}

static void *waker(void *arg)
{
	io_loop_wake(arg);
	return NULL;
}

/* Another thread's io_loop_wake() ends the loop's sleep and calls on_wake once. */
static void run_woken(struct io_loop *l)
{
	pthread_t th;
	int woken = 0;

	l->stop = false;
	l->on_wake = on_wake_stop;
	l->wake_arg = &woken;
	assert_int_equal(pthread_create(&th, NULL, waker, l), 0);
	assert_int_equal(io_loop_run(l), 0);
	pthread_join(th, NULL);
	assert_int_equal(woken, 1);
}

static void test_wake(void **state)
{
	struct io_loop l;

	(void)state;
	assert_int_equal(io_loop_init(&l, 1, 64), 0);
	run_woken(&l);
	io_loop_fini(&l);
}

/* ---- connections ------------------------------------------------------------------------- */

/* Server side echoes complete lines ("...\n") back and keeps a partial line for later; the
 * client sends three lines in three commits of one turn (one SEND), then a fourth in pieces. */
struct peer {
	struct io_conn c;
	char got[256];
	size_t got_len;
	int closed;
	int close_reason;
	int connected;
};

struct world {
	struct io_loop l;
	struct io_listener ls;
	struct peer srv, cli;
	bool have_srv;
	int step;
};

static struct world *W;

static int srv_data(struct io_conn *c, const uint8_t *buf, uint32_t len)
{
	uint32_t used = 0;

	for (uint32_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		uint8_t *out = io_conn_tx_reserve(c, i + 1 - used);

		assert_non_null(out);
		memcpy(out, buf + used, i + 1 - used);
		io_conn_tx_commit(c, i + 1 - used);
		used = i + 1;
	}
	return (int)used; /* partial line stays in the buffer */
}

static void send_str(struct io_conn *c, const char *s)
{
	uint8_t *p = io_conn_tx_reserve(c, (uint32_t)strlen(s));

	assert_non_null(p);
	memcpy(p, s, strlen(s));
	io_conn_tx_commit(c, (uint32_t)strlen(s));
}

static int cli_data(struct io_conn *c, const uint8_t *buf, uint32_t len)
{
	struct peer *p = mr_container_of(c, struct peer, c);

	memcpy(p->got + p->got_len, buf, len);
	p->got_len += len;
	if (p->got_len == strlen("one\ntwo\nthree\n") && W->step == 0) {
		W->step = 1;
		send_str(c, "fo"); /* a partial line: the server must wait for the rest */
	} else if (W->step == 1 && p->got_len == strlen("one\ntwo\nthree\nfour\n")) {
		W->step = 2;
		io_conn_close_after_flush(c);
	}
	return (int)len;
}

static void on_close(struct io_conn *c, int reason)
{
	struct peer *p = mr_container_of(c, struct peer, c);

	p->closed++;
	p->close_reason = reason;
	if (W->cli.closed && W->srv.closed)
		W->l.stop = true;
}

static void cli_connected(struct io_conn *c, int res)
{
	struct peer *p = mr_container_of(c, struct peer, c);

	assert_int_equal(res, 0);
	p->connected = 1;
	send_str(c, "one\n");
	send_str(c, "two\n");
	send_str(c, "three\n");
}

static const struct io_conn_ops srv_ops = {.on_data = srv_data, .on_close = on_close};
static const struct io_conn_ops cli_ops = {
    .on_data = cli_data, .on_connect = cli_connected, .on_close = on_close};

static void on_accept(struct io_loop *l, struct io_listener *ls, int fd)
{
	(void)ls;
	assert_false(W->have_srv);
	W->have_srv = true;
	assert_int_equal(io_conn_init(&W->srv.c, l, fd, &srv_ops, 4096, 65536), 0);
}

/* the server gets "fo" then "ur\n" in a later turn: a timer sends the rest */
static struct io_timer rest_timer;
static void send_rest(struct io_loop *l, struct io_timer *t)
{
	(void)l;
	(void)t;
	if (W->step == 1)
		send_str(&W->cli.c, "ur\n");
	else
		io_timer_arm(&W->l, &rest_timer, send_rest, 1);
}

static void test_conn_echo(void **state)
{
	static struct world w;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	(void)state;
	memset(&w, 0, sizeof(w));
	W = &w;
	assert_int_equal(io_loop_init(&w.l, 0, 64), 0);
	w.ls.fd = io_tcp_listen("127.0.0.1", 0, 16);
	assert_true(w.ls.fd >= 0);
	w.ls.on_accept = on_accept;
	assert_int_equal(io_listener_start(&w.l, &w.ls), 0);
	assert_int_equal(getsockname(w.ls.fd, (struct sockaddr *)&ss, &sl), 0);
	assert_int_equal(
	    io_conn_connect(&w.cli.c, &w.l, (struct sockaddr *)&ss, sl, &cli_ops, 4096, 65536), 0);
	io_timer_arm(&w.l, &rest_timer, send_rest, 1);
	assert_int_equal(io_loop_run(&w.l), 0);
	assert_int_equal(w.cli.connected, 1);
	assert_int_equal(w.cli.got_len, strlen("one\ntwo\nthree\nfour\n"));
	assert_memory_equal(w.cli.got, "one\ntwo\nthree\nfour\n", w.cli.got_len);
	assert_int_equal(w.cli.closed, 1);
	assert_int_equal(w.cli.close_reason, 0); /* we closed after flush */
	assert_int_equal(w.srv.closed, 1);       /* it saw our FIN */
	assert_int_equal(w.srv.close_reason, -ECONNRESET);
	close(w.ls.fd);
	io_loop_fini(&w.l);
}

/* tx_max: a reservation beyond the queue limit fails without side effects. */
static int nop_data(struct io_conn *c, const uint8_t *b, uint32_t l)
{
	(void)c;
	(void)b;
	return (int)l;
}

static int closes;
static void count_close(struct io_conn *c, int r)
{
	(void)r;
	closes++;
	c->loop->stop = true;
}

static void test_tx_limit(void **state)
{
	static const struct io_conn_ops ops = {.on_data = nop_data, .on_close = count_close};
	struct io_loop l;
	struct io_conn c;
	int sv[2];

	(void)state;
	assert_int_equal(io_loop_init(&l, 0, 64), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(io_conn_init(&c, &l, sv[0], &ops, 1024, 4096), 0);
	assert_non_null(io_conn_tx_reserve(&c, 4096));
	io_conn_tx_commit(&c, 4000);
	assert_null(io_conn_tx_reserve(&c, 200)); /* 4000 + 200 > 4096 */
	assert_non_null(io_conn_tx_reserve(&c, 96));
	io_conn_close(&c, -EPIPE);
	assert_null(io_conn_tx_reserve(&c, 1)); /* closing: nothing more */
	closes = 0;
	assert_int_equal(io_loop_run(&l), 0);
	assert_int_equal(closes, 1);
	close(sv[1]);
	io_loop_fini(&l);
}

/* UDP: A sends to B; B echoes; A checks the bytes and the source address, 100 times. */
struct udp_world {
	struct io_udp a, b;
	struct sockaddr_storage a_addr, b_addr;
	socklen_t a_len, b_len;
	int echoed, back;
};

static void udp_b(struct io_udp *u, const struct sockaddr_storage *src, socklen_t srclen,
                  const uint8_t *data, uint32_t len)
{
	struct udp_world *w = u->arg;
	struct io_udp_slot *s = io_udp_slot_get(u);

	assert_non_null(s);
	assert_int_equal(memcmp(src, &w->a_addr, sizeof(struct sockaddr_in)), 0);
	memcpy(s->data, data, len);
	io_udp_send(u, s, len, src, srclen);
	w->echoed++;
}

static void udp_send_one(struct udp_world *w, int i)
{
	struct io_udp_slot *s = io_udp_slot_get(&w->a);
	int n;

	assert_non_null(s);
	n = snprintf((char *)s->data, s->cap, "datagram %d", i);
	io_udp_send(&w->a, s, (uint32_t)n, &w->b_addr, w->b_len);
}

static void udp_a(struct io_udp *u, const struct sockaddr_storage *src, socklen_t srclen,
                  const uint8_t *data, uint32_t len)
{
	struct udp_world *w = u->arg;
	char want[32];
	int n = snprintf(want, sizeof(want), "datagram %d", w->back);

	(void)src;
	(void)srclen;
	assert_int_equal(len, n);
	assert_memory_equal(data, want, len);
	if (++w->back == 100)
		u->loop->stop = true;
	else
		udp_send_one(w, w->back);
}

static void test_udp(void **state)
{
	static struct udp_world w;
	struct io_loop l;

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_int_equal(io_loop_init(&l, 0, 256), 0);
	/* 8 receive buffers: 100 round trips recycle each one many times */
	assert_int_equal(io_udp_open(&w.a, &l, "127.0.0.1", 0, 1, 8, 2048, 4, 2048, udp_a, &w), 0);
	assert_int_equal(io_udp_open(&w.b, &l, "127.0.0.1", 0, 2, 8, 2048, 4, 2048, udp_b, &w), 0);
	w.a_len = w.b_len = sizeof(struct sockaddr_storage);
	getsockname(w.a.fd, (struct sockaddr *)&w.a_addr, &w.a_len);
	getsockname(w.b.fd, (struct sockaddr *)&w.b_addr, &w.b_len);
	udp_send_one(&w, 0);
	assert_int_equal(io_loop_run(&l), 0);
	assert_int_equal(w.back, 100);
	assert_int_equal(w.echoed, 100);
	assert_int_equal(w.a.rx, 100);
	io_loop_fini(&l); /* first: the ring may still point into the buffers */
	io_udp_close(&w.a);
	io_udp_close(&w.b);
}

/* ---- batched waits (io_loop_set_batch) ----------------------------------------------------- */

struct batch_world {
	struct io_udp u;
	struct sockaddr_storage addr;
	socklen_t len;
	int got, turns;
};

static void batch_rx(struct io_udp *u, const struct sockaddr_storage *src, socklen_t srclen,
                     const uint8_t *data, uint32_t len)
{
	struct batch_world *w = u->arg;

	(void)src;
	(void)srclen;
	(void)data;
	(void)len;
	if (++w->got == 20)
		u->loop->stop = true;
}

static void batch_turn(struct io_loop *l, void *arg)
{
	(void)l;
	((struct batch_world *)arg)->turns++;
}

/* 20 datagrams 1 ms apart from another thread */
static void *batch_sender(void *arg)
{
	struct batch_world *w = arg;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	const struct timespec gap = {.tv_nsec = 1000000};

	for (int i = 0; i < 20; i++) {
		sendto(fd, "x", 1, 0, (struct sockaddr *)&w->addr, w->len);
		nanosleep(&gap, NULL);
	}
	close(fd);
	return NULL;
}

/* With a 50 ms batch the loop takes the 20 datagrams (sent over ~20 ms) in a few turns instead
 * of one turn each; timers and cross-thread wakes still end a batched sleep. */
static void test_batch(void **state)
{
	static struct batch_world w;
	struct io_loop l;
	struct tstate ts = {0};
	pthread_t th;
	int ret;

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_int_equal(io_loop_init(&l, 0, 256), 0);
	ret = io_loop_set_batch(&l, 50000);
	if (ret == -EOPNOTSUPP) {
		io_loop_fini(&l);
		skip(); /* kernel before 6.12 */
	}
	assert_int_equal(ret, 0);
	assert_int_equal(io_udp_open(&w.u, &l, "127.0.0.1", 0, 1, 64, 2048, 4, 2048, batch_rx, &w),
	                 0);
	w.len = sizeof(w.addr);
	getsockname(w.u.fd, (struct sockaddr *)&w.addr, &w.len);
	l.on_turn = batch_turn;
	l.turn_arg = &w;
	assert_int_equal(pthread_create(&th, NULL, batch_sender, &w), 0);
	assert_int_equal(io_loop_run(&l), 0);
	pthread_join(th, NULL);
	assert_int_equal(w.got, 20);
	assert_in_range(w.turns, 1, 6);
	/* timers fire in order under a batched wait */
	l.on_turn = NULL;
	run_three_timers(&l, &ts);
	/* and a wake from another thread ends it */
	run_woken(&l);
	io_loop_fini(&l);
	io_udp_close(&w.u);
}

static void test_sockaddr(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64];

	(void)state;
	assert_int_equal(io_sockaddr_parse("127.0.0.1", 3868, &ss, &len), 0);
	io_sockaddr_str(&ss, text, sizeof(text));
	assert_string_equal(text, "127.0.0.1:3868");
	assert_int_equal(io_sockaddr_parse("::1", 5060, &ss, &len), 0);
	io_sockaddr_str(&ss, text, sizeof(text));
	assert_string_equal(text, "[::1]:5060");
	assert_int_equal(io_sockaddr_parse("example.com", 1, &ss, &len), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_timers),    cmocka_unit_test(test_wake),
	    cmocka_unit_test(test_conn_echo), cmocka_unit_test(test_tx_limit),
	    cmocka_unit_test(test_sockaddr),  cmocka_unit_test(test_udp),
	    cmocka_unit_test(test_batch),
	};
	struct io_loop probe;
	int ret = io_loop_init(&probe, 0, 8);

	if (ret == -ENOSYS || ret == -EPERM || ret == -EACCES) {
		fprintf(stderr, "io_uring not available (%d): skipping\n", ret);
		return 77;
	}
	if (ret == 0)
		io_loop_fini(&probe);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT
 * io_conn.c - stream connections on the loop: one recv armed, one send in flight, output queued
 * during a turn and sent in one SEND at its end; listeners with multishot accept.
 * Owns: each io_conn owns its fd and buffers until on_close. Thread: the loop's own. */
#include "io.h"

#include "io_int.h"
#include "io_tls.h"
#include "mr_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void arm_recv(struct io_conn *c);

static void queue_flush(struct io_conn *c)
{
	if (!c->flush_queued) {
		c->flush_queued = true;
		c->flush_next = c->loop->flush;
		c->loop->flush = c;
	}
}

/* Bytes are waiting to go out: plaintext queued, or TLS records (handshake included). */
static bool has_output(const struct io_conn *c)
{
	return c->out_len || (c->tls && io_tls_pending(c->tls));
}

static void kill_conn(struct io_conn *c, int reason)
{
	if (!c->closing) {
		c->closing = true;
		c->close_reason = reason;
		/* Wakes the pending recv (returns 0) and fails a pending send, so every op
		 * completes and the conn can be released without cancel bookkeeping. */
		shutdown(c->fd, SHUT_RDWR);
	}
	if (c->inflight == 0 && !c->dead_queued) {
		c->dead_queued = true;
		c->dead_next = c->loop->dead;
		c->loop->dead = c;
	}
}

/* Hands every unconsumed byte to the owner. False when the connection is going. */
static bool deliver(struct io_conn *c)
{
	int used = c->ops->on_data(c, c->rx, c->rx_len);

	if (used < 0) {
		kill_conn(c, used);
		return false;
	}
	if (c->closing) {
		kill_conn(c, c->close_reason);
		return false;
	}
	if ((uint32_t)used < c->rx_len)
		memmove(c->rx, c->rx + used, c->rx_len - (uint32_t)used);
	c->rx_len -= (uint32_t)used;
	if (c->rx_len == c->rx_cap) { /* a message larger than the buffer: framing's job */
		kill_conn(c, -EMSGSIZE);
		return false;
	}
	return true;
}

/* @n bytes of ciphertext arrived in tls->cin: handshake, then decrypt and deliver until the
 * TLS buffers are empty. False when the connection is going. */
static bool tls_recv(struct io_conn *c, uint32_t n)
{
	bool was_done = c->tls->done;
	char peer[64] = "";
	int r;

	if (!was_done) /* the name is only logged while handshaking */
		io_sockaddr_str(&c->peer, peer, sizeof(peer));
	r = io_tls_feed(c->tls, n, peer);
	if (r) {
		/* the alert that tells the peer why leaves before the close; nothing else does,
		 * and nothing more is read */
		c->out_len = 0;
		if (io_tls_pending(c->tls) && !c->closing) {
			c->close_reason = r;
			c->close_on_flush = true;
			queue_flush(c);
		} else {
			kill_conn(c, r);
		}
		return false;
	}
	while ((r = io_tls_read(c->tls, c->rx + c->rx_len, c->rx_cap - c->rx_len)) > 0) {
		c->rx_len += (uint32_t)r;
		if (!deliver(c))
			return false;
	}
	if (r < 0) {
		kill_conn(c, r);
		return false;
	}
	/* handshake records to answer, or application bytes that waited for the handshake */
	if (has_output(c))
		queue_flush(c);
	return true;
}

static void on_recv(struct io_loop *l, struct io_op *op, int res, uint32_t flags)
{
	struct io_conn *c = mr_container_of(op, struct io_conn, rx_op);

	(void)l;
	(void)flags;
	c->inflight--;
	if (c->closing) {
		kill_conn(c, c->close_reason);
		return;
	}
	if (res <= 0) {
		if (res == -EINTR || res == -EAGAIN) {
			arm_recv(c);
			return;
		}
		kill_conn(c, res == 0 ? -ECONNRESET : res);
		return;
	}
	if (c->tls) {
		if (!tls_recv(c, (uint32_t)res))
			return;
	} else {
		c->rx_len += (uint32_t)res;
		if (!deliver(c))
			return;
	}
	arm_recv(c);
}

static void arm_recv(struct io_conn *c)
{
	struct io_uring_sqe *sqe = io_loop_sqe(c->loop);

	if (!sqe) {
		kill_conn(c, -EBUSY);
		return;
	}
	if (c->tls)
		io_uring_prep_recv(sqe, c->fd, c->tls->cin, c->tls->cin_cap, 0);
	else
		io_uring_prep_recv(sqe, c->fd, c->rx + c->rx_len, c->rx_cap - c->rx_len, 0);
	io_uring_sqe_set_data(sqe, &c->rx_op);
	c->inflight++;
}

static void start_send(struct io_conn *c);

static void on_send(struct io_loop *l, struct io_op *op, int res, uint32_t flags)
{
	struct io_conn *c = mr_container_of(op, struct io_conn, tx_op);

	(void)l;
	(void)flags;
	c->inflight--;
	if (c->closing) {
		kill_conn(c, c->close_reason);
		return;
	}
	if (res < 0) {
		kill_conn(c, res);
		return;
	}
	c->fl_off += (uint32_t)res;
	if (c->fl_off < c->fl_len) { /* short send: the socket buffer is full */
		start_send(c);
		return;
	}
	c->fl_len = 0;
	c->fl_off = 0;
	if (has_output(c)) {
		start_send(c);
		return;
	}
	if (c->close_on_flush)
		kill_conn(c, c->close_reason);
}

/* Encrypts the queued plaintext (once the handshake is done) and moves every TLS record
 * waiting into @fl, which is idle. False when there is nothing to send (or the conn went). */
static bool tls_fill(struct io_conn *c)
{
	uint32_t pend;

	if (c->tls->done && c->out_len) {
		if (io_tls_write(c->tls, c->out, c->out_len)) {
			kill_conn(c, -EPROTO);
			return false;
		}
		c->out_len = 0;
	}
	pend = io_tls_pending(c->tls);
	if (!pend)
		return false;
	if (pend > c->fl_cap) {
		uint8_t *b = realloc(c->fl, pend);

		if (!b) {
			kill_conn(c, -ENOMEM);
			return false;
		}
		c->fl = b;
		c->fl_cap = pend;
	}
	c->fl_len = io_tls_drain(c->tls, c->fl, c->fl_cap);
	c->fl_off = 0;
	return c->fl_len > 0;
}

/* Sends what is in flight, or swaps in the queued output when nothing is. */
static void start_send(struct io_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->fl_len == 0 && c->tls) {
		if (!tls_fill(c))
			return;
	} else if (c->fl_len == 0) {
		uint8_t *b = c->fl;
		uint32_t cap = c->fl_cap;

		c->fl = c->out;
		c->fl_cap = c->out_cap;
		c->fl_len = c->out_len;
		c->fl_off = 0;
		c->out = b;
		c->out_cap = cap;
		c->out_len = 0;
	}
	sqe = io_loop_sqe(c->loop);
	if (!sqe) {
		kill_conn(c, -EBUSY);
		return;
	}
	io_uring_prep_send(sqe, c->fd, c->fl + c->fl_off, c->fl_len - c->fl_off, MSG_NOSIGNAL);
	io_uring_sqe_set_data(sqe, &c->tx_op);
	c->inflight++;
}

void io_conn_flush_all(struct io_loop *l)
{
	struct io_conn *c = l->flush;

	l->flush = NULL;
	while (c) {
		struct io_conn *next = c->flush_next;

		c->flush_queued = false;
		c->flush_next = NULL;
		if (!c->closing && !c->connecting && c->fl_len == 0 && has_output(c))
			start_send(c);
		c = next;
	}
}

void io_conn_reap(struct io_loop *l)
{
	while (l->dead) {
		struct io_conn *c = l->dead;

		int fd = c->fd;

		l->dead = c->dead_next;
		/* output queued in the turn it died in (a connect() refused while bytes waited):
		 * off the flush list before the owner may free it (rare: a linear unlink) */
		if (c->flush_queued) {
			for (struct io_conn **pp = &l->flush; *pp; pp = &(*pp)->flush_next)
				if (*pp == c) {
					*pp = c->flush_next;
					break;
				}
			c->flush_queued = false;
			c->flush_next = NULL;
		}
		free(c->rx);
		free(c->out);
		free(c->fl);
		c->rx = c->out = c->fl = NULL;
		if (c->tls) {
			io_tls_fini(c->tls);
			free(c->tls);
			c->tls = NULL;
		}
		c->fd = -1;
		/* on_close runs before the fd is closed, so a table that other threads use to
		 * shut this fd down can drop it first and never touch a recycled fd number. */
		c->ops->on_close(c, c->close_reason); /* the owner may free @c now */
		close(fd);
	}
}

static int conn_setup(struct io_conn *c, struct io_loop *l, int fd, const struct io_conn_ops *ops,
                      uint32_t rx_cap, uint32_t tx_max)
{
	socklen_t sl = sizeof(c->peer);
	int one = 1;

	memset(c, 0, sizeof(*c));
	c->loop = l;
	c->fd = fd;
	c->ops = ops;
	c->rx_op.fn = on_recv;
	c->tx_op.fn = on_send;
	c->rx_cap = rx_cap;
	c->tx_max = tx_max;
	c->out_cap = c->fl_cap = 16384 < tx_max ? 16384 : tx_max;
	c->rx = malloc(rx_cap);
	c->out = malloc(c->out_cap);
	c->fl = malloc(c->fl_cap);
	if (!c->rx || !c->out || !c->fl) {
		free(c->rx);
		free(c->out);
		free(c->fl);
		return -ENOMEM;
	}
	/* Diameter answers are small and latency-bound; batching is done by the loop. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	getpeername(fd, (struct sockaddr *)&c->peer, &sl);
	sl = sizeof(c->local);
	getsockname(fd, (struct sockaddr *)&c->local, &sl);
	return 0;
}

int io_conn_init(struct io_conn *c, struct io_loop *l, int fd, const struct io_conn_ops *ops,
                 uint32_t rx_cap, uint32_t tx_max)
{
	int ret = conn_setup(c, l, fd, ops, rx_cap, tx_max);

	if (ret)
		return ret;
	arm_recv(c);
	return 0;
}

/* Gives the set-up @c its TLS state; on failure frees what conn_setup() allocated. */
static int tls_setup(struct io_conn *c, struct io_tls_ctx *ctx, bool server, const char *sni)
{
	c->tls = malloc(sizeof(*c->tls));
	if (!c->tls || io_tls_init(c->tls, ctx, server, sni)) {
		free(c->tls);
		c->tls = NULL;
		free(c->rx);
		free(c->out);
		free(c->fl);
		c->rx = c->out = c->fl = NULL;
		return -ENOMEM;
	}
	return 0;
}

int io_conn_init_tls(struct io_conn *c, struct io_loop *l, int fd, const struct io_conn_ops *ops,
                     uint32_t rx_cap, uint32_t tx_max, struct io_tls_ctx *tls)
{
	int ret = conn_setup(c, l, fd, ops, rx_cap, tx_max);

	if (ret)
		return ret;
	ret = tls_setup(c, tls, true, NULL);
	if (ret)
		return ret;
	arm_recv(c); /* the server waits for the ClientHello */
	return 0;
}

static void on_connect(struct io_loop *l, struct io_op *op, int res, uint32_t flags)
{
	struct io_conn *c = mr_container_of(op, struct io_conn, cn_op);
	socklen_t sl = sizeof(c->local);

	(void)l;
	(void)flags;
	c->inflight--;
	if (c->closing) {
		kill_conn(c, c->close_reason);
		return;
	}
	if (res < 0) {
		if (c->ops->on_connect)
			c->ops->on_connect(c, res);
		kill_conn(c, res);
		return;
	}
	getsockname(c->fd, (struct sockaddr *)&c->local, &sl);
	c->connecting = false;
	arm_recv(c);
	if (c->tls) { /* ClientHello into the write BIO */
		char peer[64];
		int r;

		io_sockaddr_str(&c->peer, peer, sizeof(peer));
		r = io_tls_start(c->tls, peer);
		if (r) {
			kill_conn(c, r);
			return;
		}
	}
	if (c->ops->on_connect)
		c->ops->on_connect(c, 0);
	/* output queued while connecting leaves with this turn */
	if (has_output(c) && !c->closing)
		queue_flush(c);
}

static int conn_connect(struct io_conn *c, struct io_loop *l, const struct sockaddr *sa,
                        socklen_t salen, const struct io_conn_ops *ops, uint32_t rx_cap,
                        uint32_t tx_max, struct io_tls_ctx *tls, const char *sni)
{
	struct io_uring_sqe *sqe;
	int fd, ret;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	ret = conn_setup(c, l, fd, ops, rx_cap, tx_max);
	if (!ret && tls)
		ret = tls_setup(c, tls, false, sni);
	if (ret) {
		close(fd);
		return ret;
	}
	memcpy(&c->peer, sa, salen);
	c->cn_op.fn = on_connect;
	c->connecting = true;
	sqe = io_loop_sqe(l);
	if (!sqe) {
		kill_conn(c, -EBUSY);
		return 0; /* on_close reports it */
	}
	io_uring_prep_connect(sqe, fd, (const struct sockaddr *)&c->peer, salen);
	io_uring_sqe_set_data(sqe, &c->cn_op);
	c->inflight++;
	return 0;
}

int io_conn_connect(struct io_conn *c, struct io_loop *l, const struct sockaddr *sa,
                    socklen_t salen, const struct io_conn_ops *ops, uint32_t rx_cap,
                    uint32_t tx_max)
{
	return conn_connect(c, l, sa, salen, ops, rx_cap, tx_max, NULL, NULL);
}

int io_conn_connect_tls(struct io_conn *c, struct io_loop *l, const struct sockaddr *sa,
                        socklen_t salen, const struct io_conn_ops *ops, uint32_t rx_cap,
                        uint32_t tx_max, struct io_tls_ctx *tls, const char *sni)
{
	return conn_connect(c, l, sa, salen, ops, rx_cap, tx_max, tls, sni);
}

uint8_t *io_conn_tx_reserve(struct io_conn *c, uint32_t need)
{
	if (c->closing || c->close_on_flush)
		return NULL;
	if (c->out_len + need > c->out_cap) {
		uint32_t cap = c->out_cap;
		uint8_t *b;

		if (c->out_len + need > c->tx_max)
			return NULL;
		while (cap < c->out_len + need)
			cap *= 2;
		if (cap > c->tx_max)
			cap = c->tx_max;
		b = realloc(c->out, cap);
		if (!b)
			return NULL;
		c->out = b;
		c->out_cap = cap;
	}
	return c->out + c->out_len;
}

void io_conn_tx_commit(struct io_conn *c, uint32_t len)
{
	c->out_len += len;
	queue_flush(c);
}

void io_conn_close(struct io_conn *c, int reason)
{
	kill_conn(c, reason);
}

void io_conn_close_after_flush(struct io_conn *c)
{
	/* TLS: what is queued, then close_notify (RFC 8446 §6.1), leave with the last SEND */
	if (c->tls && c->tls->done && !c->closing) {
		if (c->out_len && io_tls_write(c->tls, c->out, c->out_len) == 0)
			c->out_len = 0;
		io_tls_shutdown(c->tls);
		if (has_output(c))
			queue_flush(c);
	}
	if (!has_output(c) && c->fl_len == 0) {
		kill_conn(c, 0);
		return;
	}
	c->close_on_flush = true;
}

/* ---- listeners ------------------------------------------------------------------------ */

int io_sockaddr_parse(const char *addr, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return 0;
	}
	return -EINVAL;
}

void io_sockaddr_str(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, cap, "%s:%u", ip, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(out, cap, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		snprintf(out, cap, "?");
	}
}

int io_tcp_listen(const char *addr, uint16_t port, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, ret;

	ret = io_sockaddr_parse(addr, port, &ss, &len);
	if (ret)
		return ret;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static void on_accept(struct io_loop *l, struct io_op *op, int res, uint32_t flags)
{
	struct io_listener *ls = mr_container_of(op, struct io_listener, op);

	if (res >= 0)
		ls->on_accept(l, ls, res);
	else if (res != -ECANCELED && res != -EINVAL)
		mr_warn("msg=\"accept failed\" loop=%u err=%d", l->id, res);
	if (!(flags & IORING_CQE_F_MORE) && !l->stop && res != -EINVAL && res != -EBADF)
		io_listener_start(l, ls);
}

int io_listener_start(struct io_loop *l, struct io_listener *ls)
{
	struct io_uring_sqe *sqe = io_loop_sqe(l);

	if (!sqe)
		return -EBUSY;
	ls->op.fn = on_accept;
	io_uring_prep_multishot_accept(sqe, ls->fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data(sqe, &ls->op);
	return 0;
}

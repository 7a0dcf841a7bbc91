// SPDX-License-Identifier: MIT
/*
 * pingpong.c - the physical floor of one "ping-pong leg" at the proxy position (bench/floor).
 *
 * At moderate load every message a proxy handles is a leg of its own: the proxy sleeps, is woken
 * by one datagram, and sends one message on to a peer that is itself asleep. On loopback the
 * sender pays the receiver's protocol processing and the wake-up of the sleeping receiver. This
 * program measures that leg with nothing else in it: no parsing, no state, no logging.
 *
 * Three roles, each its own process (run.sh pins and bounds them):
 *   client  sends one datagram every 1/rate s (absolute clock_nanosleep in a sender thread, a
 *           receiver thread blocked in recv so that each echo wakes a sleeper), or, with rate 0,
 *           keeps --window datagrams in flight (unpaced: saturation). Counts the echoes; exit
 *           status 1 when one is missing.
 *   middle  the proxy position. --mode block: recvfrom/sendto; --mode uring: io_uring as mara
 *           does (SINGLE_ISSUER|DEFER_TASKRUN, multishot recvmsg into a provided buffer ring,
 *           one submit_and_wait per turn). Without --far it echoes to the sender; with --far it
 *           relays client -> far -> client (2 legs per round trip); with --tcp (uring only) the
 *           far leg is a TCP stream of 300-byte messages (the Diameter leg).
 *           It measures its own CPU (getrusage RUSAGE_SELF: all its threads, io_uring's
 *           included; and the sum of /proc/self/task/N/schedstat field 1) and its context
 *           switches over a window [warm, warm + secs] after its first datagram, and prints one
 *           "result" line when it stops.
 *   far     the far end: UDP echo (blocking), or with --tcp a TCP echo of one connection.
 * A datagram with sequence number STOP_SEQ ends the run: the middle passes it on and exits.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STOP_SEQ  UINT64_MAX
#define MAX_DGRAM 2048
#define TCP_MSG   300  /* a Diameter MAR/MAA is about this size */
#define NBUFS     256  /* provided buffers per group (power of 2) */
#define NSLOTS    1024 /* sends in flight (uring): more than one batch of recv CQEs (2 x NBUFS) */
#define BGID_UDP  0
#define BGID_TCP  1

/* io_uring user_data: op in the top byte, slot/index below */
enum { OP_RECV_UDP = 1, OP_RECV_TCP, OP_SEND };
#define UD(op, idx) (((uint64_t)(op) << 56) | (uint64_t)(idx))
#define UD_OP(u)    ((int)((u) >> 56))
#define UD_IDX(u)   ((unsigned)((u)&0xffffffffu))

struct opts {
	const char *role;
	const char *mode; /* block | uring */
	int port;         /* own UDP port (middle, far) or the middle's port (client) */
	int far;          /* far end's UDP port, or TCP port with tcp (middle) */
	int tcp;
	double rate; /* datagrams/s, 0 = unpaced */
	int window;  /* in flight when unpaced */
	double warm, secs;
	long count; /* client: stop after this many (0 = by time) */
	int size;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "pingpong: %s: %s\n", what, strerror(err));
	exit(2);
}

static struct sockaddr_in loop_addr(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int udp_bound(int port)
{
	struct sockaddr_in a = loop_addr(port);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int sz = 4 << 20;

	if (fd < 0)
		die("socket", errno);
	/* room for a burst (a paced sender that fell behind catches up): FORCE passes rmem_max
	 * where allowed (root); otherwise the buffer stays at rmem_max */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("bind", errno);
	return fd;
}

/* ---- middle: measurement window ---- */

struct snap {
	int64_t wall, cpu_ns, user_ns, sys_ns, sched_ns;
	long nvcsw, nivcsw;
};

/* Sum of /proc/self/task/N/schedstat field 1 (ns on CPU) over all threads of this process. */
static int64_t sched_ns(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int64_t sum = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[300];
		unsigned long long v;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/schedstat", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%llu", &v) == 1)
			sum += (int64_t)v;
		fclose(f);
	}
	closedir(d);
	return sum;
}

static void take(struct snap *s)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	s->wall = now_ns();
	s->user_ns = (int64_t)ru.ru_utime.tv_sec * 1000000000 + ru.ru_utime.tv_usec * 1000;
	s->sys_ns = (int64_t)ru.ru_stime.tv_sec * 1000000000 + ru.ru_stime.tv_usec * 1000;
	s->cpu_ns = s->user_ns + s->sys_ns;
	s->nvcsw = ru.ru_nvcsw;
	s->nivcsw = ru.ru_nivcsw;
	s->sched_ns = sched_ns();
}

/* The window opens warm s after the first datagram and closes secs later (or at the stop). */
struct meter {
	const struct opts *o;
	int64_t t0, open_at, close_at;
	int state; /* 0 before the first datagram, 1 warming, 2 open, 3 closed */
	long n;    /* legs (datagrams or TCP messages received and sent on) in the window */
	struct snap a, b;
};

static void meter_leg(struct meter *m)
{
	int64_t t;

	if (m->state == 3)
		return;
	if (m->state == 2)
		m->n++;
	t = now_ns();
	if (m->state == 0) {
		m->t0 = t;
		m->open_at = t + (int64_t)(m->o->warm * 1e9);
		m->close_at = m->open_at + (int64_t)(m->o->secs * 1e9);
		m->state = 1;
	}
	if (m->state == 1 && t >= m->open_at) {
		take(&m->a);
		m->state = 2;
	} else if (m->state == 2 && t >= m->close_at) {
		take(&m->b);
		m->state = 3;
	}
}

static void meter_report(struct meter *m)
{
	double n;

	if (m->state == 2) { /* stopped inside the window: close it now */
		take(&m->b);
		m->state = 3;
	}
	if (m->state != 3 || m->n == 0) {
		printf("result mode=%s topo=%s legs=0\n", m->o->mode,
		       m->o->tcp   ? "tcp"
		       : m->o->far ? "relay"
		                   : "echo");
		return;
	}
	n = (double)m->n;
	printf("result mode=%s topo=%s legs=%ld secs=%.3f legs_per_s=%.0f cpu_us_per_leg=%.3f "
	       "user_us_per_leg=%.3f sys_us_per_leg=%.3f sched_us_per_leg=%.3f "
	       "vcsw_per_leg=%.3f ivcsw_per_leg=%.3f\n",
	       m->o->mode,
	       m->o->tcp   ? "tcp"
	       : m->o->far ? "relay"
	                   : "echo",
	       m->n, (double)(m->b.wall - m->a.wall) / 1e9,
	       n * 1e9 / (double)(m->b.wall - m->a.wall),
	       (double)(m->b.cpu_ns - m->a.cpu_ns) / 1e3 / n,
	       (double)(m->b.user_ns - m->a.user_ns) / 1e3 / n,
	       (double)(m->b.sys_ns - m->a.sys_ns) / 1e3 / n,
	       (double)(m->b.sched_ns - m->a.sched_ns) / 1e3 / n,
	       (double)(m->b.nvcsw - m->a.nvcsw) / n, (double)(m->b.nivcsw - m->a.nivcsw) / n);
	fflush(stdout);
}

static uint64_t seq_of(const void *p, size_t len)
{
	uint64_t s = 0;

	if (len >= sizeof(s))
		memcpy(&s, p, sizeof(s));
	return s;
}

/* ---- middle, variant (a): blocking recvfrom/sendto ---- */

static void middle_block(const struct opts *o)
{
	int fd = udp_bound(o->port);
	struct sockaddr_in far = loop_addr(o->far), client = {0};
	struct meter m = {.o = o};
	char buf[MAX_DGRAM];

	printf("middle ready\n");
	fflush(stdout);
	for (;;) {
		struct sockaddr_in src;
		socklen_t sl = sizeof(src);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&src, &sl);
		const struct sockaddr_in *dst = &src;
		uint64_t seq;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("recvfrom", errno);
		}
		seq = seq_of(buf, (size_t)n);
		if (o->far) {
			if (src.sin_port == far.sin_port) {
				dst = &client;
			} else {
				client = src;
				dst = &far;
			}
		}
		if (seq == STOP_SEQ && (!o->far || dst == &far)) {
			if (o->far)
				sendto(fd, buf, (size_t)n, 0, (const struct sockaddr *)&far,
				       sizeof(far));
			break;
		}
		if (sendto(fd, buf, (size_t)n, 0, (const struct sockaddr *)dst, sizeof(*dst)) < 0)
			die("sendto", errno);
		meter_leg(&m);
	}
	meter_report(&m);
	close(fd);
}

/* ---- middle, variant (b)/(c): io_uring as mara does ---- */

struct slot { /* one send in flight: owns its bytes until its CQE */
	struct msghdr msg;
	struct iovec iov;
	struct sockaddr_in to;
	char data[MAX_DGRAM];
};

struct umid {
	const struct opts *o;
	struct io_uring ring;
	int ufd, tfd;
	struct io_uring_buf_ring *br[2];
	char *bufs[2];
	struct msghdr rtmpl; /* multishot recvmsg template: name length only */
	struct slot *slots;
	unsigned free_slots[NSLOTS], nfree;
	struct sockaddr_in far, client;
	char stream[TCP_MSG * 64]; /* TCP bytes not yet framed */
	size_t stream_len;
	struct meter m;
	int stop;
};

static struct io_uring_sqe *sqe_get(struct umid *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) { /* SQ full: hand what is queued to the kernel, then there is room */
		io_uring_submit(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
	}
	if (!sqe)
		die("io_uring_get_sqe", EBUSY);
	return sqe;
}

static void buf_ring_setup(struct umid *u, int bgid)
{
	struct io_uring_buf_reg reg = {0};
	void *mem;
	int ret;

	if (posix_memalign(&mem, 4096, NBUFS * sizeof(struct io_uring_buf)))
		die("posix_memalign", ENOMEM);
	u->br[bgid] = mem;
	io_uring_buf_ring_init(u->br[bgid]);
	reg.ring_addr = (uintptr_t)mem;
	reg.ring_entries = NBUFS;
	reg.bgid = (uint16_t)bgid;
	ret = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (ret < 0)
		die("io_uring_register_buf_ring", -ret);
	u->bufs[bgid] = malloc((size_t)NBUFS * MAX_DGRAM);
	if (!u->bufs[bgid])
		die("malloc", ENOMEM);
	for (int i = 0; i < NBUFS; i++)
		io_uring_buf_ring_add(u->br[bgid], u->bufs[bgid] + (size_t)i * MAX_DGRAM, MAX_DGRAM,
		                      (unsigned short)i, io_uring_buf_ring_mask(NBUFS), i);
	io_uring_buf_ring_advance(u->br[bgid], NBUFS);
}

static void buf_put(struct umid *u, int bgid, unsigned bid)
{
	io_uring_buf_ring_add(u->br[bgid], u->bufs[bgid] + (size_t)bid * MAX_DGRAM, MAX_DGRAM,
	                      (unsigned short)bid, io_uring_buf_ring_mask(NBUFS), 0);
	io_uring_buf_ring_advance(u->br[bgid], 1);
}

static void arm_udp(struct umid *u)
{
	struct io_uring_sqe *sqe = sqe_get(u);

	io_uring_prep_recvmsg_multishot(sqe, u->ufd, &u->rtmpl, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID_UDP;
	io_uring_sqe_set_data64(sqe, UD(OP_RECV_UDP, 0));
}

static void arm_tcp(struct umid *u)
{
	struct io_uring_sqe *sqe = sqe_get(u);

	io_uring_prep_recv_multishot(sqe, u->tfd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID_TCP;
	io_uring_sqe_set_data64(sqe, UD(OP_RECV_TCP, 0));
}

/* Queue a send of len bytes (copied into a slot) to dst (UDP) or on the TCP stream (dst NULL). */
static void send_queue(struct umid *u, const void *p, size_t len, const struct sockaddr_in *dst)
{
	struct io_uring_sqe *sqe;
	struct slot *s;
	unsigned i;

	if (u->nfree == 0)
		die("send slots exhausted", ENOBUFS);
	i = u->free_slots[--u->nfree];
	s = &u->slots[i];
	memcpy(s->data, p, len);
	sqe = sqe_get(u);
	if (dst) {
		s->to = *dst;
		s->iov = (struct iovec){.iov_base = s->data, .iov_len = len};
		s->msg = (struct msghdr){.msg_name = &s->to,
		                         .msg_namelen = sizeof(s->to),
		                         .msg_iov = &s->iov,
		                         .msg_iovlen = 1};
		io_uring_prep_sendmsg(sqe, u->ufd, &s->msg, 0);
	} else {
		io_uring_prep_send(sqe, u->tfd, s->data, len, MSG_NOSIGNAL);
	}
	io_uring_sqe_set_data64(sqe, UD(OP_SEND, i));
}

static void on_udp(struct umid *u, struct io_uring_cqe *cqe)
{
	unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
	void *buf = u->bufs[BGID_UDP] + (size_t)bid * MAX_DGRAM;
	struct io_uring_recvmsg_out *out = io_uring_recvmsg_validate(buf, cqe->res, &u->rtmpl);
	const struct sockaddr_in *src, *dst;
	char msg[MAX_DGRAM];
	size_t len;
	void *p;

	if (!out)
		die("recvmsg_validate", EINVAL);
	src = io_uring_recvmsg_name(out);
	p = io_uring_recvmsg_payload(out, &u->rtmpl);
	len = io_uring_recvmsg_payload_length(out, cqe->res, &u->rtmpl);
	dst = src;
	if (u->o->far && !u->o->tcp) {
		if (src->sin_port == u->far.sin_port) {
			dst = &u->client;
		} else {
			u->client = *src;
			dst = &u->far;
		}
	} else if (u->o->tcp) {
		u->client = *src;
		dst = NULL;
	}
	if (seq_of(p, len) == STOP_SEQ && dst != &u->client) {
		if (u->o->far && !u->o->tcp)
			send_queue(u, p, len, &u->far);
		u->stop = 1;
		buf_put(u, BGID_UDP, bid);
		return;
	}
	if (dst) {
		send_queue(u, p, len, dst);
	} else { /* the Diameter leg: a 300-byte message carrying the client's sequence */
		memset(msg, 0, TCP_MSG);
		memcpy(msg, p, len < sizeof(uint64_t) ? len : sizeof(uint64_t));
		send_queue(u, msg, TCP_MSG, NULL);
	}
	buf_put(u, BGID_UDP, bid);
	meter_leg(&u->m);
}

static void on_tcp(struct umid *u, struct io_uring_cqe *cqe)
{
	unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
	const char *buf = u->bufs[BGID_TCP] + (size_t)bid * MAX_DGRAM;
	size_t off = 0;
	char reply[MAX_DGRAM];

	if (u->stream_len + (size_t)cqe->res > sizeof(u->stream))
		die("tcp stream overrun", EMSGSIZE);
	memcpy(u->stream + u->stream_len, buf, (size_t)cqe->res);
	u->stream_len += (size_t)cqe->res;
	buf_put(u, BGID_TCP, bid);
	while (u->stream_len - off >= TCP_MSG) { /* each answer goes back to the client */
		memset(reply, 0, (size_t)u->o->size);
		memcpy(reply, u->stream + off, sizeof(uint64_t));
		send_queue(u, reply, (size_t)u->o->size, &u->client);
		off += TCP_MSG;
		meter_leg(&u->m);
	}
	memmove(u->stream, u->stream + off, u->stream_len - off);
	u->stream_len -= off;
}

static void middle_uring(const struct opts *o)
{
	struct io_uring_params p = {0};
	struct umid *u = calloc(1, sizeof(*u));
	int ret;

	if (!u)
		die("calloc", ENOMEM);
	u->o = o;
	u->m.o = o;
	u->far = loop_addr(o->far);
	u->slots = calloc(NSLOTS, sizeof(*u->slots));
	if (!u->slots)
		die("calloc", ENOMEM);
	for (unsigned i = 0; i < NSLOTS; i++)
		u->free_slots[u->nfree++] = NSLOTS - 1 - i;
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	ret = io_uring_queue_init_params(NSLOTS * 2, &u->ring, &p);
	if (ret < 0)
		die("io_uring_queue_init_params", -ret);
	u->ufd = udp_bound(o->port);
	u->tfd = -1;
	u->rtmpl.msg_namelen = sizeof(struct sockaddr_in);
	buf_ring_setup(u, BGID_UDP);
	arm_udp(u);
	if (o->tcp) {
		struct sockaddr_in a = loop_addr(o->far);
		int one = 1;

		u->tfd = socket(AF_INET, SOCK_STREAM, 0);
		if (u->tfd < 0)
			die("socket", errno);
		setsockopt(u->tfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(u->tfd, (struct sockaddr *)&a, sizeof(a)) < 0)
			die("connect far", errno);
		buf_ring_setup(u, BGID_TCP);
		arm_tcp(u);
	}
	printf("middle ready\n");
	fflush(stdout);
	while (!u->stop) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		/* one submit_and_wait per turn: the sends queued last turn go out, then sleep */
		ret = io_uring_submit_and_wait(&u->ring, 1);
		if (ret < 0 && ret != -EINTR)
			die("io_uring_submit_and_wait", -ret);
		io_uring_for_each_cqe(&u->ring, head, cqe)
		{
			uint64_t ud = io_uring_cqe_get_data64(cqe);

			seen++;
			switch (UD_OP(ud)) {
			case OP_RECV_UDP:
				if (cqe->res == -ENOBUFS) {
					arm_udp(u);
					break;
				}
				if (cqe->res < 0)
					die("udp recvmsg", -cqe->res);
				on_udp(u, cqe);
				if (!(cqe->flags & IORING_CQE_F_MORE))
					arm_udp(u);
				break;
			case OP_RECV_TCP:
				if (cqe->res == -ENOBUFS) {
					arm_tcp(u);
					break;
				}
				if (cqe->res <= 0)
					die("tcp recv (far end closed?)",
					    cqe->res ? -cqe->res : EPIPE);
				on_tcp(u, cqe);
				if (!(cqe->flags & IORING_CQE_F_MORE))
					arm_tcp(u);
				break;
			case OP_SEND:
				if (cqe->res < 0)
					die("send", -cqe->res);
				u->free_slots[u->nfree++] = UD_IDX(ud);
				break;
			default:
				die("unexpected cqe", EINVAL);
			}
		}
		io_uring_cq_advance(&u->ring, seen);
	}
	io_uring_submit(&u->ring); /* the stop datagram to the far end */
	meter_report(&u->m);
	if (u->tfd >= 0)
		close(u->tfd); /* the TCP far end sees EOF and exits */
	io_uring_queue_exit(&u->ring);
	close(u->ufd);
	free(u->slots);
	free(u->bufs[0]);
	free(u->bufs[1]);
	free(u->br[0]);
	free(u->br[1]);
	free(u);
}

/* ---- far end ---- */

static void far_udp(const struct opts *o)
{
	int fd = udp_bound(o->port);
	char buf[MAX_DGRAM];

	printf("far ready\n");
	fflush(stdout);
	for (;;) {
		struct sockaddr_in src;
		socklen_t sl = sizeof(src);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&src, &sl);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("recvfrom", errno);
		}
		if (seq_of(buf, (size_t)n) == STOP_SEQ)
			break;
		if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&src, sl) < 0)
			die("sendto", errno);
	}
	close(fd);
}

static void far_tcp(const struct opts *o)
{
	struct sockaddr_in a = loop_addr(o->port);
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0), fd;
	char buf[TCP_MSG * 64];

	if (lfd < 0)
		die("socket", errno);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 4) < 0)
		die("bind/listen", errno);
	printf("far ready\n");
	fflush(stdout);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept", errno);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (;;) { /* a stream echo keeps the 300-byte framing */
		ssize_t n = read(fd, buf, sizeof(buf)), off = 0;

		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("read", errno);
		}
		while (off < n) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));

			if (w < 0)
				die("write", errno);
			off += w;
		}
	}
	close(fd);
	close(lfd);
}

/* ---- client ---- */

struct client {
	const struct opts *o;
	int fd;
	_Atomic long sent, rcvd;
	_Atomic int done;    /* the sender has sent its last datagram */
	unsigned char *seen; /* seen[seq] once its echo came back */
	long cap;
	_Atomic long dups, bad;
};

static void client_send(struct client *c, uint64_t seq)
{
	char buf[MAX_DGRAM];

	memset(buf, 'x', (size_t)c->o->size);
	memcpy(buf, &seq, sizeof(seq));
	if (send(c->fd, buf, (size_t)c->o->size, 0) < 0)
		die("send", errno);
}

/* Returns 1 for a datagram received, 0 on the receive timeout, -1 once shut down. */
static int client_recv1(struct client *c)
{
	char buf[MAX_DGRAM];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
	uint64_t seq;

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		die("recv", errno);
	}
	if (n == 0) /* shutdown(SHUT_RD) by the sender: nothing sends empty datagrams here */
		return -1;
	seq = seq_of(buf, (size_t)n);
	if (seq >= (uint64_t)c->cap || n != c->o->size)
		c->bad++;
	else if (c->seen[seq]++)
		c->dups++;
	c->rcvd++;
	return 1;
}

static void *client_rx(void *arg)
{
	struct client *c = arg;

	/* ends when the sender shuts the socket down, or at a receive timeout (1 s) after */
	for (;;) {
		int r = client_recv1(c);

		if (r < 0 || (r == 0 && c->done))
			break;
	}
	return NULL;
}

static int run_client(const struct opts *o)
{
	struct sockaddr_in mid = loop_addr(o->port);
	struct timeval tv = {.tv_sec = 1};
	struct client *c = calloc(1, sizeof(*c));
	int64_t t0, end;
	long lost;
	pthread_t rx;
	int rc;

	if (!c)
		die("calloc", ENOMEM);
	c->o = o;
	c->fd = udp_bound(0);
	if (connect(c->fd, (struct sockaddr *)&mid, sizeof(mid)) < 0)
		die("connect", errno);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	c->cap = o->count ? o->count : (long)((o->rate ? o->rate : 2e6) * (o->warm + o->secs + 1));
	c->seen = calloc((size_t)c->cap, 1);
	if (!c->seen)
		die("calloc", ENOMEM);
	t0 = now_ns();
	end = t0 + (int64_t)((o->warm + o->secs + 0.15) * 1e9); /* the middle closes first */
	if (o->rate > 0) {
		/* paced: the sender sleeps to absolute deadlines; the receiver thread sleeps in
		 * recv, so each echo is a send to a sleeping peer */
		struct timespec ts;
		int64_t period = (int64_t)(1e9 / o->rate), next = t0;

		if (pthread_create(&rx, NULL, client_rx, c))
			die("pthread_create", EAGAIN);
		for (long i = 0; i < c->cap; i++) {
			if (o->count ? i >= o->count : next >= end)
				break;
			ts.tv_sec = next / 1000000000;
			ts.tv_nsec = next % 1000000000;
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
			client_send(c, (uint64_t)i);
			c->sent++;
			next += period;
		}
		c->done = 1;
		/* the last echoes get up to 1 s, then the receiver is woken out of recv */
		for (int k = 0; k < 1000 && c->rcvd < c->sent; k++)
			usleep(1000);
		shutdown(c->fd, SHUT_RD);
		pthread_join(rx, NULL);
	} else {
		/* unpaced: keep window datagrams in flight, one more for each echo */
		for (long i = 0; i < o->window && i < c->cap; i++, c->sent++)
			client_send(c, (uint64_t)i);
		while (c->rcvd < c->sent) {
			if (client_recv1(c) <= 0)
				break;
			if (c->sent < c->cap && (o->count ? c->sent < o->count : now_ns() < end)) {
				client_send(c, (uint64_t)c->sent);
				c->sent++;
			}
		}
		c->done = 1;
	}
	client_send(c, STOP_SEQ); /* the middle passes it on and both exit */
	lost = c->sent - (c->rcvd - c->dups - c->bad);
	printf("client sent=%ld rcvd=%ld lost=%ld dups=%ld bad=%ld rate_achieved=%.0f\n", c->sent,
	       c->rcvd, lost, c->dups, c->bad,
	       (double)c->rcvd * 1e9 / (double)(now_ns() - t0 > 0 ? now_ns() - t0 : 1));
	rc = (lost == 0 && c->dups == 0 && c->bad == 0) ? 0 : 1;
	close(c->fd);
	free(c->seen);
	free(c);
	return rc;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: pingpong client --port MIDDLE [--rate R|0] [--window W] [--count N]\n"
	        "                       [--warm S] [--secs S] [--size B]\n"
	        "       pingpong middle --port P --mode block|uring [--far PORT [--tcp]]\n"
	        "                       [--warm S] [--secs S] [--size B]\n"
	        "       pingpong far --port P [--tcp]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = {
	    .mode = "block", .rate = 3000, .window = 32, .warm = 0.5, .secs = 2.0, .size = 500};

	if (argc < 2)
		usage();
	o.role = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(k, "--tcp")) {
			o.tcp = 1;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(k, "--mode"))
			o.mode = v;
		else if (!strcmp(k, "--port"))
			o.port = atoi(v);
		else if (!strcmp(k, "--far"))
			o.far = atoi(v);
		else if (!strcmp(k, "--rate"))
			o.rate = atof(v);
		else if (!strcmp(k, "--window"))
			o.window = atoi(v);
		else if (!strcmp(k, "--warm"))
			o.warm = atof(v);
		else if (!strcmp(k, "--secs"))
			o.secs = atof(v);
		else if (!strcmp(k, "--count"))
			o.count = atol(v);
		else if (!strcmp(k, "--size"))
			o.size = atoi(v);
		else
			usage();
	}
	if (o.port <= 0 || o.size < (int)sizeof(uint64_t) || o.size > MAX_DGRAM || o.window < 1)
		usage();
	if (!strcmp(o.role, "client"))
		return run_client(&o);
	if (!strcmp(o.role, "middle")) {
		if (o.tcp && (strcmp(o.mode, "uring") || !o.far))
			usage(); /* the TCP leg exists in the io_uring middle, as in mara */
		if (!strcmp(o.mode, "uring"))
			middle_uring(&o);
		else if (!strcmp(o.mode, "block"))
			middle_block(&o);
		else
			usage();
		return 0;
	}
	if (!strcmp(o.role, "far")) {
		if (o.tcp)
			far_tcp(&o);
		else
			far_udp(&o);
		return 0;
	}
	usage();
	return 2;
}

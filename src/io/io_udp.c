/* SPDX-License-Identifier: MIT
 * io_udp.c - UDP on the loop: multishot RECVMSG with a provided buffer ring (a buffer goes back
 * to the ring right after its datagram is handled), SENDMSG from a fixed pool of send slots.
 * Owns: the socket, the buffer ring and the slots of each io_udp. Thread: the loop's own. */
#include "io.h"

#include "mr_log.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static void arm_recv(struct io_udp *u);

static void put_buf(struct io_udp *u, unsigned bid)
{
	io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * u->buf_size, u->buf_size,
	                      (unsigned short)bid, io_uring_buf_ring_mask(u->nbufs), 0);
	io_uring_buf_ring_advance(u->br, 1);
}

/* hot: per datagram */
static void on_recv(struct io_loop *l, struct io_op *op, int res, uint32_t flags)
{
	struct io_udp *u = mr_container_of(op, struct io_udp, op);

	(void)l;
	if (mr_likely(res >= 0 && (flags & IORING_CQE_F_BUFFER))) {
		unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
		uint8_t *buf = u->bufs + (size_t)bid * u->buf_size;
		struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, res, &u->rmsg);

		if (o && !(o->flags & MSG_TRUNC)) {
			u->rx++;
			u->on_datagram(u, io_uring_recvmsg_name(o), (socklen_t)o->namelen,
			               io_uring_recvmsg_payload(o, &u->rmsg),
			               io_uring_recvmsg_payload_length(o, res, &u->rmsg));
		} else {
			u->truncated++;
		}
		put_buf(u, bid);
	} else if (res == -ENOBUFS) {
		u->rx_nobufs++; /* all buffers busy: the kernel dropped multishot; re-armed below */
	} else if (res < 0 && res != -ECANCELED) {
		mr_warn("msg=\"udp recv failed\" loop=%u err=%d", u->loop->id, res);
	}
	if (!(flags & IORING_CQE_F_MORE) && u->fd >= 0 && !u->loop->stop)
		arm_recv(u);
}

static void arm_recv(struct io_udp *u)
{
	struct io_uring_sqe *sqe = io_loop_sqe(u->loop);

	if (!sqe)
		return;
	io_uring_prep_recvmsg_multishot(sqe, u->fd, &u->rmsg, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = u->bgid;
	io_uring_sqe_set_data(sqe, &u->op);
}

static void on_sent(struct io_loop *l, struct io_op *op, int res, uint32_t flags)
{
	struct io_udp_slot *s = mr_container_of(op, struct io_udp_slot, op);
	struct io_udp *u = s->u;

	(void)l;
	(void)flags;
	if (res < 0)
		u->tx_errors++;
	else
		u->tx++;
	s->next_free = u->free;
	u->free = s;
}

int io_udp_open(struct io_udp *u, struct io_loop *l, const char *addr, uint16_t port, uint16_t bgid,
                unsigned nbufs, uint32_t buf_size, unsigned nslots, uint32_t slot_size,
                io_datagram_fn *cb, void *arg)
{
	struct io_uring_buf_reg reg = {0};
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, ret, size = 4 << 20;
	size_t ring_sz = sizeof(struct io_uring_buf) * nbufs;

	memset(u, 0, sizeof(*u));
	u->fd = -1;
	if (nbufs == 0 || (nbufs & (nbufs - 1)) || nbufs > 32768)
		return -EINVAL;
	ret = io_sockaddr_parse(addr, port, &ss, &len);
	if (ret)
		return ret;
	u->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (u->fd < 0)
		return -errno;
	/* Large socket buffers absorb bursts while the loop is busy (deploy/ sysctl raises the
	 * caps); failures here only mean the kernel's defaults apply. */
	setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (setsockopt(u->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    bind(u->fd, (struct sockaddr *)&ss, len) < 0) {
		ret = -errno;
		goto err;
	}
	u->loop = l;
	u->bgid = bgid;
	u->nbufs = nbufs;
	u->buf_size = buf_size;
	u->on_datagram = cb;
	u->arg = arg;
	u->op.fn = on_recv;
	u->rmsg.msg_namelen = sizeof(struct sockaddr_storage);
	ret = -ENOMEM;
	if (posix_memalign((void **)&u->br, 4096, ring_sz < 4096 ? 4096 : ring_sz))
		goto err;
	u->bufs = malloc((size_t)nbufs * buf_size);
	u->slots = calloc(nslots, sizeof(*u->slots));
	if (!u->bufs || !u->slots)
		goto err;
	u->nslots_alloc = nslots;
	for (unsigned i = 0; i < nslots; i++) {
		struct io_udp_slot *s = &u->slots[i];

		s->data = malloc(slot_size);
		if (!s->data)
			goto err;
		s->u = u;
		s->cap = slot_size;
		s->op.fn = on_sent;
		s->next_free = u->free;
		u->free = s;
	}
	u->nslots = nslots;
	io_uring_buf_ring_init(u->br);
	reg.ring_addr = (unsigned long)u->br;
	reg.ring_entries = nbufs;
	reg.bgid = bgid;
	ret = io_uring_register_buf_ring(&l->ring, &reg, 0);
	if (ret)
		goto err;
	for (unsigned i = 0; i < nbufs; i++)
		io_uring_buf_ring_add(u->br, u->bufs + (size_t)i * buf_size, buf_size,
		                      (unsigned short)i, io_uring_buf_ring_mask(nbufs), (int)i);
	io_uring_buf_ring_advance(u->br, (int)nbufs);
	arm_recv(u);
	return 0;
err:
	io_udp_close(u);
	return ret;
}

void io_udp_close(struct io_udp *u)
{
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
	/* slots come from calloc: a slot io_udp_open did not reach has data NULL */
	for (unsigned i = 0; u->slots && i < u->nslots_alloc; i++)
		free(u->slots[i].data);
	free(u->slots);
	free(u->bufs);
	free(u->br);
	u->slots = NULL;
	u->bufs = NULL;
	u->br = NULL;
	u->free = NULL;
}

struct io_udp_slot *io_udp_slot_get(struct io_udp *u)
{
	struct io_udp_slot *s = u->free;

	if (mr_unlikely(!s)) {
		u->tx_full++;
		return NULL;
	}
	u->free = s->next_free;
	return s;
}

void io_udp_slot_put(struct io_udp *u, struct io_udp_slot *s)
{
	s->next_free = u->free;
	u->free = s;
}

void io_udp_send(struct io_udp *u, struct io_udp_slot *s, uint32_t len,
                 const struct sockaddr_storage *to, socklen_t tolen)
{
	struct io_uring_sqe *sqe = io_loop_sqe(u->loop);

	if (!sqe) {
		u->tx_errors++;
		s->next_free = u->free;
		u->free = s;
		return;
	}
	memcpy(&s->to, to, tolen);
	s->iov.iov_base = s->data;
	s->iov.iov_len = len;
	s->msg = (struct msghdr){
	    .msg_name = &s->to, .msg_namelen = tolen, .msg_iov = &s->iov, .msg_iovlen = 1};
	io_uring_prep_sendmsg(sqe, u->fd, &s->msg, 0);
	io_uring_sqe_set_data(sqe, &s->op);
}

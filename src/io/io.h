/* SPDX-License-Identifier: MIT
 * io.h - the per-core event loop on io_uring: completions dispatched to embedded ops, timers,
 * stream connections with batched sends, multishot accept, cross-thread wake-up.
 * Owns: struct io_loop owns its ring; struct io_conn owns its fd and buffers until on_close.
 * Thread: everything here runs on the loop's own thread, except io_loop_wake(), which any
 * thread may call. One loop per core; nothing is shared between loops.
 *
 * Loop turn (liburing io_uring-udp.c + Redis beforesleep): submit_and_wait(timeout of the next
 * timer) -> dispatch every completion -> fire due timers -> flush queued sends (one SEND per
 * connection per turn, however many messages were queued) -> release closed connections. */
#ifndef IO_H
#define IO_H

#include "mr.h"

#include <liburing.h>
#include <netinet/in.h>
#include <sys/socket.h>

struct io_loop;
struct io_op;

/* A completion handler. @res is cqe->res (>= 0 or -errno), @flags cqe->flags. */
typedef void io_op_fn(struct io_loop *l, struct io_op *op, int res, uint32_t flags);

/* Embedded in its owner; user_data of the SQE points to it; the owner is recovered with
 * mr_container_of. */
struct io_op {
	io_op_fn *fn;
};

struct io_timer;
typedef void io_timer_fn(struct io_loop *l, struct io_timer *t);

/* A one-shot timer. All-zero = disarmed. Timers per loop are few (one per Diameter peer
 * connection), so they live on an unsorted list scanned once per turn: O(n) with n small. */
struct io_timer {
	io_timer_fn *fn;
	uint64_t due_ms;
	struct io_timer *next;
	bool armed;
};

struct io_conn;
struct io_tls;
struct io_tls_ctx;

struct io_loop {
	struct io_uring ring;
	unsigned id;
	bool stop;         /* set on the loop's own thread; ends io_loop_run() */
	bool enable;       /* ring created disabled: the loop thread enables it */
	bool min_wait_ok;  /* the kernel takes a minimum wait (IORING_FEAT_MIN_TIMEOUT) */
	unsigned batch_us; /* 0: wake on every completion; else io_loop_set_batch() */
	unsigned slice_us; /* 0: the kernel's; else io_loop_set_slice() */
	uint64_t now_ms;   /* CLOCK_MONOTONIC, refreshed once per turn */
	int wake_fd;       /* eventfd: other threads write to wake this loop */
	uint64_t wake_val;
	struct io_op wake_op;
	void (*on_wake)(struct io_loop *l, void *arg); /* called on the loop thread after a wake */
	void *wake_arg;
	/* called at the end of every turn, after sends were queued (Redis's beforesleep): the
	 * place for once-per-batch work such as waking another thread */
	void (*on_turn)(struct io_loop *l, void *arg);
	void *turn_arg;
	struct io_timer *timers;
	struct io_conn *flush; /* connections with bytes queued this turn */
	struct io_conn *dead;  /* closed connections whose on_close is due */
};

int io_loop_init(struct io_loop *l, unsigned id, unsigned entries);
void io_loop_fini(struct io_loop *l);
/* Returns an SQE, submitting first when the SQ is full; NULL only if that submit failed. */
struct io_uring_sqe *io_loop_sqe(struct io_loop *l);
/* Before io_loop_run(): after the first completion of a sleep, wait up to batch_us more for
 * others (bounded latency for fewer wake-ups). 0 turns it off. -EOPNOTSUPP before Linux 6.12. */
int io_loop_set_batch(struct io_loop *l, unsigned batch_us);
/* io_loop_set_batch() for the daemons: a kernel without it logs a warning and runs unbatched
 * (a tuning knob, not a reason to refuse to start). */
void io_loop_batch_or_warn(struct io_loop *l, unsigned batch_us);
/* Runs turns until l->stop. Returns 0, or a negative errno if the ring fails. */
int io_loop_run(struct io_loop *l);
/* Before io_loop_run(): the loop's thread asks the scheduler for a time slice of slice_us
 * (EEVDF's sched_attr.sched_runtime for SCHED_OTHER, Linux 6.12+; 0 = the default). A short
 * slice lets a woken loop preempt a busy neighbour sooner (lower latency under load); the
 * thread still gets its fair share. A kernel without it logs a warning once per loop. */
void io_loop_set_slice(struct io_loop *l, unsigned slice_us);
/* Any thread: makes the loop call on_wake on its own thread soon. */
int io_loop_wake(struct io_loop *l);
uint64_t io_now_ms(void);

void io_timer_arm(struct io_loop *l, struct io_timer *t, io_timer_fn *fn, uint64_t delay_ms);
void io_timer_disarm(struct io_loop *l, struct io_timer *t);

/* ---- stream connections ------------------------------------------------------------------ */

struct io_conn_ops {
	/* New bytes are in @buf/@len (all unconsumed bytes so far). Returns how many bytes it
	 * consumed (>= 0; the rest is kept for the next call) or a negative errno to close. */
	int (*on_data)(struct io_conn *c, const uint8_t *buf, uint32_t len);
	/* connect() finished: 0 or -errno (after -errno on_close follows). Optional. */
	void (*on_connect)(struct io_conn *c, int res);
	/* Called once, on the loop thread, after the fd is closed and no op is pending: the owner
	 * may free the struct now. @reason: 0 for a local close, else -errno / -ECONNRESET. */
	void (*on_close)(struct io_conn *c, int reason);
};

/* States: OPEN (recv armed) -> CLOSING (shutdown, waiting for ops) -> DEAD (on_close called).
 * Two tx buffers: @out fills during a turn, @fl is in flight; they swap when @fl drains. */
struct io_conn {
	struct io_loop *loop;
	const struct io_conn_ops *ops;
	int fd;
	struct io_op rx_op, tx_op, cn_op;
	uint8_t *rx;
	uint32_t rx_len, rx_cap;
	uint8_t *out;
	uint32_t out_len, out_cap;
	uint8_t *fl;
	uint32_t fl_len, fl_off, fl_cap;
	uint32_t tx_max;   /* limit of queued bytes: beyond it the peer is not reading */
	unsigned inflight; /* SQEs whose completion is still due */
	bool closing;
	bool connecting;     /* connect() pending: output waits for it */
	bool close_on_flush; /* close once everything queued has been sent */
	bool flush_queued;
	bool dead_queued;
	int close_reason;
	struct io_conn *flush_next;
	struct io_conn *dead_next;
	struct sockaddr_storage peer; /* remote address */
	struct sockaddr_storage local;
	/* NULL for plain TCP. With TLS the RECV lands in tls->cin and is decrypted into @rx; @out
	 * holds plaintext until the handshake is done, then SSL_write turns it into the
	 * ciphertext that @fl carries (io_tls.h). */
	struct io_tls *tls;
};

/* io_conn_init() : takes ownership of connected @fd and arms receive. -ENOMEM (fd not closed). */
int io_conn_init(struct io_conn *c, struct io_loop *l, int fd, const struct io_conn_ops *ops,
                 uint32_t rx_cap, uint32_t tx_max);
/* io_conn_connect() : non-blocking connect to @sa; on_connect reports the outcome, then receive is
 * armed. -errno when no socket could be made. */
int io_conn_connect(struct io_conn *c, struct io_loop *l, const struct sockaddr *sa,
                    socklen_t salen, const struct io_conn_ops *ops, uint32_t rx_cap,
                    uint32_t tx_max);
/* TLS variants (io_tls.h): the server side of accepted @fd, or a client that starts the
 * handshake once connected (@sni: the name sent in the ClientHello, may be NULL). The handshake
 * runs under the connection; application bytes queued before it ends leave after it.
 * A failed handshake closes the connection with -EPROTO. */
int io_conn_init_tls(struct io_conn *c, struct io_loop *l, int fd, const struct io_conn_ops *ops,
                     uint32_t rx_cap, uint32_t tx_max, struct io_tls_ctx *tls);
int io_conn_connect_tls(struct io_conn *c, struct io_loop *l, const struct sockaddr *sa,
                        socklen_t salen, const struct io_conn_ops *ops, uint32_t rx_cap,
                        uint32_t tx_max, struct io_tls_ctx *tls, const char *sni);
/* Room for @need bytes at the end of the queued output; NULL when the queue would pass tx_max
 * (the caller counts a drop or closes a peer that does not read). */
uint8_t *io_conn_tx_reserve(struct io_conn *c, uint32_t need);
/* Queues @len bytes written at the reserved pointer; sent at the end of this turn. */
void io_conn_tx_commit(struct io_conn *c, uint32_t len);
/* Closes now (queued bytes are dropped). on_close follows on a later dispatch. */
void io_conn_close(struct io_conn *c, int reason);
/* Closes once every queued byte has been sent (used after DPA/CEA errors). */
void io_conn_close_after_flush(struct io_conn *c);

/* ---- listeners ---------------------------------------------------------------------------- */

struct io_listener;
typedef void io_accept_fn(struct io_loop *l, struct io_listener *ls, int fd);

struct io_listener {
	struct io_op op;
	int fd;
	io_accept_fn *on_accept;
	void *arg;
};

/* io_tcp_listen() : a TCP listening socket on @addr:@port with SO_REUSEPORT (one per loop, the
 * kernel spreads connections). Returns the fd or -errno. */
int io_tcp_listen(const char *addr, uint16_t port, int backlog);
/* Arms multishot accept on @ls->fd; re-armed when the kernel drops it. */
int io_listener_start(struct io_loop *l, struct io_listener *ls);
/* Parses a numeric IPv4/IPv6 address and port into @ss. -EINVAL. */
int io_sockaddr_parse(const char *addr, uint16_t port, struct sockaddr_storage *ss, socklen_t *len);
/* "ip:port" / "[ip6]:port" text of @ss into @out. */
void io_sockaddr_str(const struct sockaddr_storage *ss, char *out, size_t cap);

/* ---- UDP endpoints ------------------------------------------------------------------------ */

struct io_udp;
/* A datagram: @data is valid only during the call (its buffer goes back to the ring after). */
typedef void io_datagram_fn(struct io_udp *u, const struct sockaddr_storage *src, socklen_t srclen,
                            const uint8_t *data, uint32_t len);

#define IO_UDP_MAX 65535

/* One send in flight: its bytes, destination and msghdr live here until the completion. */
struct io_udp_slot {
	struct io_op op;
	struct io_udp *u;
	struct io_udp_slot *next_free;
	struct msghdr msg;
	struct iovec iov;
	struct sockaddr_storage to;
	uint32_t cap;
	uint8_t *data;
};

/* A UDP socket on the loop: multishot RECVMSG over a provided buffer ring (liburing's
 * io_uring-udp.c), sends queued as SENDMSG SQEs submitted with the loop's next turn.
 * States: closed (fd -1) -> open (recv armed; re-armed when the kernel drops multishot). */
struct io_udp {
	struct io_op op;
	struct io_loop *loop;
	int fd;
	uint16_t bgid;
	unsigned nbufs;
	uint32_t buf_size;
	struct io_uring_buf_ring *br;
	uint8_t *bufs;
	struct msghdr rmsg; /* the template multishot RECVMSG lays out */
	io_datagram_fn *on_datagram;
	void *arg;
	struct io_udp_slot *slots;
	struct io_udp_slot *free;
	unsigned nslots;
	unsigned nslots_alloc;
	uint64_t rx, tx, rx_nobufs, tx_full, tx_errors, truncated;
};

/* io_udp_open() : binds @addr:@port (SO_REUSEPORT: one socket per loop), sets up @nbufs receive
 * buffers of @buf_size bytes in buffer group @bgid and @nslots send slots of @slot_size bytes.
 * -errno on failure (nothing left open). */
int io_udp_open(struct io_udp *u, struct io_loop *l, const char *addr, uint16_t port, uint16_t bgid,
                unsigned nbufs, uint32_t buf_size, unsigned nslots, uint32_t slot_size,
                io_datagram_fn *cb, void *arg);
/* Frees @u: call it after io_loop_fini(), since a pending multishot receive keeps the socket
 * and may still write into the buffer ring until the ring itself is gone. */
void io_udp_close(struct io_udp *u);
/* A free send slot (NULL when all are in flight: the caller counts a drop). Write at most
 * slot->cap bytes into slot->data, then io_udp_send(). */
struct io_udp_slot *io_udp_slot_get(struct io_udp *u);
/* Returns an unused slot. */
void io_udp_slot_put(struct io_udp *u, struct io_udp_slot *s);
/* Queues the datagram in @s (consumed) for @to; sent with the loop turn's submit. */
void io_udp_send(struct io_udp *u, struct io_udp_slot *s, uint32_t len,
                 const struct sockaddr_storage *to, socklen_t tolen);

#endif

/* SPDX-License-Identifier: MIT
 * dia_pool.h - the proxy's shared, pipelined Diameter client pool: one io loop (its own
 * thread's, or one shard's: see cfg.host) owns the connections to the configured Diameter servers
 * and carries MARs from N SIP shards to them and their MAAs back, with round-robin over usable
 * peers, per-request timeouts on a timer wheel, and RFC 6733 §5.5.4 failover (T flag, same
 * end-to-end id, new hop-by-hop). Owns: the peer connections, the pending table and the per-shard
 * SPSC rings. Requests are the shards' memory: a submitted request is borrowed by the pool until
 * dia_pool_poll() hands it back; the pool never allocates, frees or copies a request. Thread: the
 * pool runs on its own thread, or (cfg.host) on one shard's loop thread. dia_pool_submit/kick/poll
 * for shard i only on shard i's thread (one producer and one consumer per ring);
 * dia_pool_usable_peers/stats_get/peer_stats from any thread; create/start/stop/destroy from one
 * controlling thread.
 *
 * Request life:  shard: encode -> submit (owned by pool) -> pool: hbh/e2e, send, pending ->
 *   answer | timeout | failover (at most once) | no peer | stop -> answer ring -> poll (owned
 *   by shard again). Every submitted request comes back exactly once.
 *
 * Wake-ups (no syscall per message): a shard submits a batch, then calls dia_pool_kick() once;
 * the kick writes the pool's eventfd only when no wake is already pending. The pool pushes
 * answers as they arrive and, once per loop turn, wakes each shard that got some, again only
 * when that shard has not been woken since its last dia_pool_poll(). */
#ifndef DIA_POOL_H
#define DIA_POOL_H

#include "dia.h"
#include "dia_peer.h"
#include "dia_sipcli.h"
#include "io.h"

#define DIA_POOL_MSG_MAX     4096 /* largest MAR / MAA carried */
#define DIA_POOL_MAX_PEERS   16
#define DIA_POOL_MAX_SHARDS  256
#define DIA_POOL_LAT_BUCKETS 15

struct dia_pool;

/* Pool-private part of a request: the shard must not touch it while the pool owns the
 * request (between a successful submit and the poll that returns it). */
struct dia_pool_req_priv {
	struct dia_pool_req *wheel_next, *wheel_prev; /* timer wheel slot */
	struct dia_pool_req *peer_next, *peer_prev;   /* the peer it is pending on */
	uint64_t sent_ns;     /* CLOCK_MONOTONIC when first queued for sending */
	uint64_t deadline_ms; /* loop time; a failover keeps the first deadline */
	uint32_t hbh, e2e;
	uint16_t peer;
	uint16_t wheel_slot;
	bool failed_over; /* re-sent with T once: never again */
	bool in_wheel;
};

/* The unit of exchange between a shard and the pool. All-zero is a valid idle request.
 * status when it comes back:
 *   0           maa[0..maa_len) holds the MAA (judge it with dia_sipcli_decode_maa)
 *   -ETIMEDOUT  no answer within the configured timeout
 *   -ENOTCONN   no usable peer (none open, or the peer died and failover was impossible or
 *               already used): answer 503 with Retry-After
 *   -ECANCELED  the pool is stopping
 *   -EINVAL     mar[] does not hold one framed Diameter request of mar_len bytes
 *   -EMSGSIZE   the answer was larger than DIA_POOL_MSG_MAX
 *   -EHOSTUNREACH  @dest_peer is not usable (the server that minted the nonce is gone): the
 *               shard asks for a fresh challenge instead */
struct dia_pool_req {
	uint64_t cookie; /* the shard's: untouched by the pool */
	uint16_t shard;  /* set by dia_pool_submit() */
	int status;
	uint32_t mar_len;
	uint32_t maa_len;
	uint64_t rtt_ns;    /* first send to answer, when status == 0 */
	uint16_t dest_peer; /* the shard's: 0 = any peer (round-robin), i + 1 = configured peer i
	                     * only (its Destination-Host), failover included */
	struct dia_pool_req_priv _p;
	/* the answer, maa_len bytes: written over mar[] when it fits there (the MAR is not needed
	 * once answered), else in an allocation of its own; dia_pool_req_free() frees both */
	uint8_t *maa;
	uint32_t cap; /* bytes at mar[] */
	uint8_t mar[];
};

/* Requests are sized to their MAR (a pending call holds ~0.9 KiB here, not two 4 KiB buffers):
 * dia_pool_req_new() allocates one with @cap bytes for the MAR (0: DIA_POOL_MSG_MAX);
 * dia_pool_mar_new() encodes a MAR and returns a request just large enough for it and for a
 * usual answer (NULL and *err on failure). Freed with dia_pool_req_free(). Any thread. */
#define DIA_POOL_MAA_RESERVE 768
struct dia_pool_req *dia_pool_req_new(uint32_t cap);
void dia_pool_req_free(struct dia_pool_req *r);

struct dia_pool_peer {
	const char *host;       /* Diameter identity: must match the peer's Origin-Host in CEA */
	const char *addr;       /* "ip:port" or "[ip6]:port" */
	struct io_tls_ctx *tls; /* TLS from the first byte with this context; NULL = TCP */
};

/* Borrowed by dia_pool_create(): must outlive the pool (strings included). */
struct dia_pool_cfg {
	struct dia_ident id;      /* our Origin-Host/Realm/State-Id */
	struct mr_str dest_realm; /* Destination-Realm of our MARs */
	const struct dia_pool_peer *peers;
	unsigned npeers;
	unsigned tw_ms;        /* watchdog Tw (>= 6000; 0 = 30000) */
	unsigned tc_ms;        /* reconnect Tc (0 = 30000) */
	unsigned timeout_ms;   /* per-request answer timeout (0 = 2000) */
	unsigned max_inflight; /* requests sent and not answered, all peers (0 = 16384) */
	unsigned queue_size;   /* per-shard ring size, power of two (0 = 4096) */
	unsigned max_avp_nest; /* grouped AVP nesting accepted in answers (0 = DIA_MAX_NEST) */
	unsigned nshards;
	unsigned batch_us; /* io_loop_set_batch() of the pool thread's loop */
	unsigned slice_us; /* io_loop_set_slice() of the pool thread's loop */
	/* overload: when even the fastest MAA of a 100 ms interval took longer than this (a
	 * standing queue at the AAA, CoDel's test), dia_pool_overloaded() turns true until an
	 * interval's fastest is back under it. 0 = timeout_ms / 4; UINT_MAX = never. */
	unsigned overload_ms;
	struct io_loop *const *shard_loops; /* woken with io_loop_wake(); their on_wake polls */
	/* 0: the pool runs its own thread and loop. i + 1: it runs on shard i's loop (no thread
	 * of its own): that shard calls dia_pool_host_turn() every turn, so its MARs and MAAs
	 * cost no cross-thread hand-off and no wake-up (bench/README.md: most of a call's CPU at
	 * moderate load was the pool thread's sleeps and wakes). */
	unsigned host;
};

/* Pool counters, a snapshot of relaxed atomics (one writer: the pool thread). */
struct dia_pool_stats {
	uint64_t mar_sent;        /* MARs queued on a connection, failover re-sends included */
	uint64_t maa_by_class[6]; /* [1..5]: Result-Code 1xxx..5xxx, [0]: none or other */
	uint64_t timeouts;
	uint64_t failovers;       /* re-sent with T to another peer */
	uint64_t no_peer;         /* returned -ENOTCONN */
	uint64_t cancelled;       /* returned -ECANCELED at stop */
	uint64_t invalid;         /* returned -EINVAL or -EMSGSIZE */
	uint64_t unknown_answers; /* hop-by-hop not pending on that peer (late, after failover) */
	uint64_t too_deep;        /* messages with grouped AVPs nested beyond max_avp_nest */
	uint64_t inflight;        /* gauge: sent and not yet answered */
	uint64_t overloaded;      /* gauge: 1 while dia_pool_overloaded() */
	uint64_t overload_on;     /* times the AAA was found overloaded */
	uint64_t pool_wakes;      /* eventfd writes by dia_pool_kick() (not one per request) */
	uint64_t shard_wakes;     /* eventfd writes to shard loops (not one per answer) */
	uint64_t rtt_sum_ns, rtt_count;
	uint64_t lat_hist[DIA_POOL_LAT_BUCKETS]; /* bucket i: rtt <= dia_pool_lat_bound_us(i) */
};

/* One configured peer, as seen by the pool thread at the last state change. */
struct dia_pool_peer_stats {
	enum dia_peer_state state; /* DIA_PS_CLOSED when no connection */
	enum dia_wd_state wd;
	bool usable;
	uint64_t connects; /* connection attempts */
	uint64_t opens;    /* capabilities exchanged */
	uint64_t sent;     /* MARs sent to it, failover re-sends included */
	uint64_t answered;
	uint64_t failed_over; /* pending here when it went away, re-sent elsewhere or -ENOTCONN */
	uint64_t timeouts;
	uint64_t inflight; /* gauge */
};

/* dia_pool_create() : checks @cfg, allocates the pool, its loop and rings; nothing runs yet.
 * Returns 0, -EINVAL (bad config: no peers, too many, bad address, queue_size not a power of
 * two, no shard loop), -ENOMEM, or the error of io_loop_init(). */
int dia_pool_create(const struct dia_pool_cfg *cfg, struct dia_pool **out);
/* dia_pool_start() : starts the pool thread, which connects to every peer at once. */
int dia_pool_start(struct dia_pool *p);
/* dia_pool_stop() : fails every pending and queued request with -ECANCELED back to its shard,
 * sends DPR to every open peer, waits for the DPAs (bounded) and joins the pool thread. Later
 * submits return -ESHUTDOWN. Shards must keep polling until they have every request back. */
void dia_pool_stop(struct dia_pool *p);
/* dia_pool_destroy() : frees the pool (stopped, or never started). The shards must not touch
 * it any more. */
void dia_pool_destroy(struct dia_pool *p);

/* dia_pool_encode_mar() : dia_sipcli_encode_mar() into @req->mar with the pool's identity and
 * Destination-Realm; sets mar_len. Any thread (reads the immutable config). Returns the
 * length or the encoder's negative errno. */
int dia_pool_encode_mar(const struct dia_pool *p, struct dia_pool_req *req,
                        const struct dia_sipcli_mar *m);
struct dia_pool_req *dia_pool_mar_new(const struct dia_pool *p, const struct dia_sipcli_mar *m,
                                      int *err);

/* dia_pool_peer_index() : the index of the configured peer whose Diameter identity is @host
 * (case-insensitive), -ENOENT when none. Any thread (reads the immutable config). */
int dia_pool_peer_index(const struct dia_pool *p, struct mr_str host);
/* dia_pool_submit() : hands @req (mar/mar_len filled, cookie set) to the pool. On 0 the caller
 * must not touch @req until dia_pool_poll() returns it. -ENOBUFS: this shard already has
 * queue_size - 1 requests out (submitted or answered but not polled); -ESHUTDOWN: stopping;
 * -EINVAL: bad @shard. On error the caller still owns @req. Shard @shard's thread only.
 * hot: per SIP request. */
int dia_pool_submit(struct dia_pool *p, unsigned shard, struct dia_pool_req *req);
/* dia_pool_kick() : makes the pool look at the submit rings; call once after a batch of
 * submits (one eventfd write at most, none while a wake is already pending). Any thread. */
void dia_pool_kick(struct dia_pool *p);
/* dia_pool_poll() : returns up to @max answered requests of @shard in @reqs (the shard owns
 * them again). Call from the shard loop's on_wake, and again while it returns @max: the pool
 * wakes the shard only for answers pushed after the last poll. Shard @shard's thread only. */
unsigned dia_pool_poll(struct dia_pool *p, unsigned shard, struct dia_pool_req **reqs,
                       unsigned max);

/* Hosted pool (cfg.host), all on the host shard's thread:
 * dia_pool_host_turn() : the pool's turn: begins the stop when asked, takes every shard's
 *   submits (the host's too: it needs no kick). Call from the host loop's on_turn, after the
 *   shard has polled its answers; true when answers for the host came in meanwhile (poll
 *   again, then call again). No-op once the pool has finished stopping.
 * dia_pool_host_done() : the pool has finished its stop (the host loop may end).
 * dia_pool_host_exit() : the host loop ended: dia_pool_stop() stops waiting for it.
 * dia_pool_host_shard() : the host shard's index, -1 when the pool has its own thread (any
 *   thread). dia_pool_start() arms the connectors on the host loop: call it before that loop
 *   runs; dia_pool_stop() wakes the host and waits for its stop (bounded). */
bool dia_pool_host_turn(struct dia_pool *p);
bool dia_pool_host_done(const struct dia_pool *p);
void dia_pool_host_exit(struct dia_pool *p);
int dia_pool_host_shard(const struct dia_pool *p);

/* Number of peers whose connection is open with watchdog OKAY (relaxed atomic). 0 means a
 * submit will come back -ENOTCONN: shards may answer 503 without submitting. */
unsigned dia_pool_usable_peers(const struct dia_pool *p);
/* dia_pool_overloaded() : the AAA answers late (see dia_pool_cfg.overload_ms): shards refuse
 * new calls (503 Retry-After) and let authenticated ones through. Any thread; hot. */
bool dia_pool_overloaded(const struct dia_pool *p);
void dia_pool_stats_get(const struct dia_pool *p, struct dia_pool_stats *out);
/* -ENOENT when @i >= npeers. */
int dia_pool_peer_stats(const struct dia_pool *p, unsigned i, struct dia_pool_peer_stats *out);
/* Upper bound of latency bucket @i in µs: 50, 100, 200, 500, 1 ms ... 1 s; UINT64_MAX last. */
uint64_t dia_pool_lat_bound_us(unsigned i);

#endif

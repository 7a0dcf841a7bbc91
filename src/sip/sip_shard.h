/* SPDX-License-Identifier: MIT
 * sip_shard.h - one proxy shard: a thread with its own io_uring loop, UDP socket and TCP
 * listener on the SIP port (SO_REUSEPORT), running RFC 4740 §6.4 Figure 4: requests without
 * usable credentials -> MAR -> 407; with credentials -> MAR -> forward / 403; responses
 * forwarded by Via. Requests waiting for their MAA are parked in a per-shard table keyed by
 * transaction, so a retransmission is absorbed instead of sending a second MAR.
 * Owns: its loop, sockets, connections, parked requests and pool requests.
 * Thread: its own; sip_shard_stop() from any thread. Nothing is shared between shards but the
 * Diameter pool (through its SPSC rings) and the immutable config. */
#ifndef SIP_SHARD_H
#define SIP_SHARD_H

#include "dia_pool.h"
#include "io.h"
#include "sip_authcache.h"
#include "sip_guard.h"
#include "sip_proxy.h"

#include <pthread.h>
#include <stdatomic.h>

struct sip_shard_cfg {
	/* the rules' config: replaced as a whole on reload (SIGHUP); shards load it once per
	 * message, and the old one is freed after every shard has finished a loop turn */
	_Atomic(const struct sip_proxy_cfg *) px;
	struct dia_pool *pool;
	const char *origin_host; /* our Diameter identity: Session-Ids start with it */
	const char *listen_addr;
	uint16_t listen_port;
	bool tcp;
	/* SIP over TLS (RFC 3261 §26.2): a listener on tls_addr:tls_port when @tls is set; its
	 * connections are handled as TCP ones (responses on the same connection) */
	struct io_tls_ctx *tls;
	const char *tls_addr;
	uint16_t tls_port;
	unsigned max_pending;   /* parked requests per shard (power of two after rounding) */
	unsigned retry_after_s; /* in 503 when no Diameter peer is usable */
	unsigned udp_bufs;      /* receive buffers in the ring (power of two) */
	unsigned udp_slots;     /* sends in flight */
	unsigned batch_us;      /* io_loop_set_batch(): 0 = wake on every completion */
	unsigned slice_us;      /* io_loop_set_slice(): 0 = the kernel's */
	struct sip_authcache_policy ha1_cache; /* local re-authentication (sip_authcache.h) */
	/* limits on hostile input (0: the parser's own, SIP_MAX_*); refusals are counted in
	 * sip_shard_stats.limit[] */
	unsigned max_message, max_headers, max_via;
	unsigned tcp_timeout_ms; /* an inbound TCP connection completes a message within it */
	struct sip_guard *guard; /* shared by all shards: TCP per source, challenge MARs */
};

#define SIP_SHARD_METHODS 15 /* enum sip_method bits */
#define SIP_SHARD_CODES   13 /* local response codes counted one by one, the last: others */
#define SIP_SHARD_RESULTS 14 /* MAA Result-Codes counted one by one, the last: others */

/* Limits of issue 6, as counted in sip_shard_stats.limit[]. */
enum sip_shard_limit {
	SIP_LIM_MESSAGE_SIZE,     /* larger than max_message: 513 (UDP, TCP) */
	SIP_LIM_HEADERS,          /* more header fields than max_headers: 400 */
	SIP_LIM_VIA,              /* more Via values than max_via: 400 */
	SIP_LIM_TCP_PER_SOURCE,   /* connection refused: its source holds tcp_max_per_source */
	SIP_LIM_TCP_SLOW,         /* connection closed: no complete message in tcp_timeout_ms */
	SIP_LIM_CHALLENGE_SOURCE, /* 503: its source has max_challenges_per_source MARs out */
	SIP_LIM_CHALLENGE_TOTAL,  /* 503: max_challenges MARs without credentials are out */
	SIP_LIM_AAA_OVERLOAD,     /* 503: the AAA's answers queue (dia_pool_overloaded()) */
	SIP_SHARD_LIMITS,
};

/* Per-shard counters: written by the shard thread only (stats_add: no RMW), read by the stats
 * thread with relaxed loads; on their own cache lines (no false sharing between shards). */
struct __attribute__((aligned(64))) sip_shard_stats {
	uint64_t rx_requests, rx_responses;
	uint64_t rx_by_method[SIP_SHARD_METHODS]; /* index: bit of enum sip_method */
	uint64_t sent_by_code[SIP_SHARD_CODES];   /* local responses: sip_shard_code_slot() */
	uint64_t fwd_by_class[7];                 /* forwarded responses by class, [0] other */
	uint64_t maa_by_code[SIP_SHARD_RESULTS];  /* MAAs judged: sip_shard_result_slot() */
	uint64_t parse_errors, replied_400, replied_505;
	uint64_t local_replies;    /* 4xx/5xx we answered by rule (416, 420, 482, 483...) */
	uint64_t not_allowed;      /* next hop outside the allow-list: 403 */
	uint64_t challenges;       /* 407 sent */
	uint64_t stale_challenges; /* of which stale=true */
	uint64_t minter_gone; /* credentials for a nonce whose server is gone: fresh challenge */
	uint64_t authorized, refused; /* forwarded after a good MAA / 403 */
	uint64_t mar_submitted, mar_errors, mar_timeouts, no_peer_503, err_500;
	uint64_t retrans_absorbed, acks_absorbed;
	uint64_t pending_full;
	uint64_t fwd_requests, fwd_responses, responses_dropped;
	uint64_t send_drops; /* no send slot, or a TCP peer not reading */
	uint64_t tcp_accepted, tcp_closed;
	uint64_t next_hop_tcp_failed; /* outbound connect() failed: what it held is lost */
	uint64_t pending_gauge;
	uint64_t limit[SIP_SHARD_LIMITS];
	/* what became of every request counted in rx_requests (the balance the fault tests
	 * check): rx_requests = fwd_requests + req_answered + req_dropped + retrans_absorbed +
	 * acks_absorbed + pending_gauge */
	uint64_t req_answered; /* a local response was queued */
	uint64_t req_dropped;  /* no response could be sent (send queue, connection gone) */
};

struct sip_pend;
struct sip_tcp;

struct sip_shard {
	struct io_loop loop;
	unsigned id;
	const struct sip_shard_cfg *cfg;
	struct io_udp udp;
	struct io_listener tcp_ls;
	struct io_listener tls_ls; /* fd -1 when SIP over TLS is off */
	struct sip_tcp *tcp_conns; /* every TCP connection of this shard */
	uint32_t tcp_next_id;
	struct sip_pend *pend; /* open addressing, power of two */
	uint32_t pend_mask;
	bool kick;
	bool host; /* the Diameter pool runs on this shard's loop (dia_pool_cfg.host) */
	atomic_bool stop_requested;
	bool stopping;
	_Atomic uint64_t turns; /* loop turns done: a reload waits for it to move */
	struct io_timer stop_timer;
	struct sip_authcache *ac;  /* NULL when ha1_cache is off */
	struct io_timer tcp_timer; /* closes inbound connections past their message deadline */
	pthread_t th;
	struct sip_shard_stats st;
};

/* sip_shard_init() : sets up the loop, sockets and tables of shard @id (on the calling thread:
 * rings start disabled and the shard thread enables them). -errno. */
int sip_shard_init(struct sip_shard *sh, unsigned id, const struct sip_shard_cfg *cfg);
/* Starts the shard thread. */
int sip_shard_start(struct sip_shard *sh);
/* Any thread: stop reading, finish what is parked (answers from the pool or its stop), exit. */
void sip_shard_stop(struct sip_shard *sh);
void sip_shard_join(struct sip_shard *sh);
void sip_shard_fini(struct sip_shard *sh);
/* Slot of @code in sent_by_code (SIP_SHARD_CODES - 1 for the others), and back (0: others). */
unsigned sip_shard_code_slot(unsigned code);
unsigned sip_shard_code_of_slot(unsigned slot);
/* The same for MAA Result-Codes (maa_by_code). */
unsigned sip_shard_result_slot(uint32_t rc);
uint32_t sip_shard_result_of_slot(unsigned slot);

/* sip_shard_set_rules() : publishes @px for shards[0..n) and returns the previous rules once no
 * shard can still be using them (each finished a loop turn after the swap; bounded wait of
 * about 2 s, then -ETIMEDOUT and nothing freed: the caller keeps the old one alive). The caller
 * frees the returned pointer. Main thread. */
int sip_shard_set_rules(struct sip_shard *shards, unsigned n, struct sip_shard_cfg *cfg,
                        const struct sip_proxy_cfg *px, const struct sip_proxy_cfg **old);

#endif

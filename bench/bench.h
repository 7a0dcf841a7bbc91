/* SPDX-License-Identifier: MIT
 * bench.h - mara-bench: a load generator that plays many SIP UAs (and their UAS) through
 * mara-proxy, or drives mara-aaa directly over Diameter. Shared types of its files.
 * Owns: struct bench_thread owns its io_uring loop, sockets, call table and statistics.
 * Thread: one generator thread per struct bench_thread; the main thread only reads counters
 * (relaxed loads) for the progress line and merges statistics after the threads are joined. */
#ifndef BENCH_H
#define BENCH_H

#include "auth.h"
#include "io.h"
#include "sip.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

enum bench_flow {
	BENCH_FLOW_INVITE = 0,
	BENCH_FLOW_REGISTER,
	BENCH_FLOW_MESSAGE,
	BENCH_FLOW_BURST, /* message-burst */
	BENCH_FLOW_NOAUTH,
	BENCH_FLOW_MAR,
};

/* Why a flow failed (JSON "failures" keys, in this order). */
enum bench_fail {
	BENCH_F_TIMEOUT = 0,
	BENCH_F_403,
	BENCH_F_500,
	BENCH_F_503,
	BENCH_F_STATUS,   /* any other unexpected status (see bench_stats.status) */
	BENCH_F_PARSE,    /* a response we could not parse (not tied to a call) */
	BENCH_F_DIA,      /* mar flow: unexpected Result-Code */
	BENCH_F_CONN,     /* mar flow: connection lost with the flow in flight */
	BENCH_F_INTERNAL, /* digest or encoding failed */
	BENCH_F_STALE,    /* still stale after BENCH_STALE_MAX fresh nonces */
	BENCH_F_COUNT,
};

extern const char *const bench_fail_names[BENCH_F_COUNT];

/* Latencies recorded per flow (JSON "latency_ms" keys). */
enum bench_lat {
	BENCH_L_CHALLENGE = 0, /* request -> 407 (mar: MAR #1 -> MAA) */
	BENCH_L_AUTH,          /* request with credentials -> 2xx (mar: MAR #2 -> MAA 2006) */
	BENCH_L_FLOW,          /* first request sent -> flow complete */
	BENCH_L_COUNT,
};

extern const char *const bench_lat_names[BENCH_L_COUNT];

/* ---- log-linear histogram (HDR-like: 32 linear sub-buckets per power of two, ~3 %) ---- */

#define BENCH_HIST_SUB     5
#define BENCH_HIST_BUCKETS (64 + (64 - 6) * 32)

struct bench_hist {
	uint64_t count, sum, min, max; /* microseconds */
	uint64_t b[BENCH_HIST_BUCKETS];
};

void bench_hist_add(struct bench_hist *h, uint64_t us);
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);
/* The value (microseconds, bucket midpoint) at percentile @p (0..100); 0 when empty. */
uint64_t bench_hist_pct(const struct bench_hist *h, double p);

/* ---- configuration (immutable once the threads start) ------------------------------------ */

struct bench_cfg {
	enum bench_flow flow;
	const char *flow_name;
	char target_host[64];
	uint16_t target_port;
	struct sockaddr_storage target;
	socklen_t target_len;
	bool has_uas;
	char uas_host[64];
	uint16_t uas_port;
	char local[64];   /* local address of our sockets */
	char domain[160]; /* Request-URI host[:port] */
	char user[64];
	char password[128];
	char realm[128]; /* empty: the challenge's realm */
	char callee[64];
	/* mar: SIP-Method and Digest-Method (INVITE); with REGISTER the SIP-AOR is the user's own
	 * sip:USER@DOMAIN and the Digest-URI sip:DOMAIN, as the proxy sends for a REGISTER */
	char method[32];
	/* mar: SIP-Server-URI in every MAR (empty: none, as mara-proxy sends). freeDiameter's
	 * app_sip needs it: without it its handler fails, and a value other than the user's
	 * stored one makes it write the database on every MAR */
	char server_uri[160];
	/* mar: MAR #1 carries SIP-Authorization with Digest-Username/Realm/URI and an empty
	 * nonce and response (app_sip's "challenge me" form: it answers 5005 without them) */
	bool empty_authz;
	uint64_t calls; /* 0: --duration */
	double duration_s;
	double rate;          /* flows started per second, 0: closed loop */
	unsigned concurrency; /* closed loop size, or the cap of the open loop (0: none) */
	unsigned threads;
	unsigned sockets; /* UAC sockets per thread */
	unsigned conns;   /* Diameter connections per thread (mar) */
	unsigned burst;   /* MESSAGEs per UA (message-burst) */
	unsigned hold_ms; /* invite/noauth: the call stays up this long between ACK and BYE */
	unsigned table;   /* call slots per thread */
	double warmup_s;
	double timeout_s;
	double max_fail; /* a count, or a percentage of the flows started when @max_fail_pct */
	bool max_fail_pct;
	bool json;
	bool progress;
	uint32_t run_id; /* in Call-IDs and Session-Ids: runs do not collide */
};

/* ---- per-thread statistics: one writer (the thread), relaxed reads by the main thread ------ */

#define BENCH_STATUS_MAX 6000 /* SIP statuses and Diameter Result-Codes */

struct bench_stats {
	uint64_t started, completed, failed; /* measured flows only */
	uint64_t sent, received;             /* SIP messages (or Diameter messages for mar) */
	uint64_t retrans;
	uint64_t mars;    /* MAAs received (mar flow) */
	uint64_t mars_ok; /* MAAs with the expected outcome: a challenge to MAR #1, an
	                   * authorization to MAR #2 (mar flow) */
	uint64_t mar_rc[BENCH_STATUS_MAX]; /* Result-Code of every MAA received (mar flow) */
	uint64_t stray, tx_drops;
	uint64_t stale; /* stale challenges answered again with the fresh nonce */
	uint64_t fail[BENCH_F_COUNT];
	uint64_t status[BENCH_STATUS_MAX]; /* unexpected final statuses, or Result-Codes */
	uint64_t end_us;                   /* when the last measured flow ended */
	struct bench_hist lat[BENCH_L_COUNT];
};

/* ---- calls ------------------------------------------------------------------------------- */

#define BENCH_NIL       UINT32_MAX
#define BENCH_STALE_MAX 3
#define BENCH_MSG_MAX   1400
#define BENCH_WHEEL     65536 /* 1 ms slots: 65 s, more than Timer B (32 s) */

enum bench_state {
	BENCH_S_FREE = 0,
	BENCH_S_REQ1, /* first request (no credentials) out */
	BENCH_S_REQ2, /* request with credentials out */
	BENCH_S_BYE,  /* BYE out */
	BENCH_S_HOLD, /* call up (--hold): the BYE waits in @last */
	BENCH_S_MAR1,
	BENCH_S_MAR2,
};

/* One flow in progress, in a preallocated table. @last keeps the request to retransmit. */
struct bench_call {
	uint32_t gen;
	uint8_t state;
	uint8_t sock;
	bool measured;
	bool prov;     /* a provisional answer stopped retransmissions */
	uint16_t len;  /* bytes in @last */
	uint16_t sent; /* MESSAGEs answered 200 (message-burst) */
	uint8_t stale; /* stale challenges met in this flow */
	uint32_t tw_next, tw_prev;
	uint32_t nc;       /* nonce-count of the last credentials */
	uint32_t cseq;     /* of the request in @last */
	uint32_t ival;     /* current retransmission interval, ms */
	uint32_t hbh;      /* mar: hop-by-hop id of the MAR out */
	uint64_t tw_due;   /* ms, loop clock */
	uint64_t rtx_due;  /* ms: next retransmission, 0 none */
	uint64_t deadline; /* ms: Timer B/F */
	uint64_t t_start;  /* us: flow started */
	uint64_t t_req;    /* us: current request first sent */
	uint8_t nonce_len, opaque_len, alg;
	char nonce[96];
	char opaque[255]; /* mara-aaa: "dh:<Origin-Host>" (uint8_t opaque_len) */
	char last[BENCH_MSG_MAX];
};

struct bench_dconn;

struct bench_thread {
	struct io_loop loop;
	const struct bench_cfg *cfg;
	unsigned id;
	pthread_t th;
	uint32_t run_id;
	_Atomic unsigned *active; /* threads with work left, shared */
	struct bench_stats st;

	struct bench_call *calls;
	uint32_t ncalls, free_head, inflight;
	uint64_t quota;        /* measured flows to start (--calls), UINT64_MAX with --duration */
	uint64_t started_all;  /* including warmup */
	uint64_t started_meas; /* measured */
	double rate;           /* this thread's share */
	unsigned conc;         /* this thread's cap, 0 none */
	uint64_t t0_us, meas_us, stop_us, deadline_ms_total;
	bool no_more;     /* nothing more will be started */
	bool finished;    /* counted out of *active */
	uint64_t tw_tick; /* last wheel slot processed (ms) */
	uint32_t *wheel;
	struct io_timer tick;

	/* SIP */
	struct io_udp *socks;
	uint16_t *sock_port;
	unsigned nsocks;
	struct io_udp uas;
	bool uas_open;
	struct auth_hash hash;
	char ha1[AUTH_HEX_MAX + 1];
	char ha1_realm[128];
	int ha1_alg;      /* -1: none cached */
	char ruri[256];   /* Request-URI of the flow's requests */
	char aor[240];    /* sip:user@domain (From, and To of REGISTER) */
	char to_uri[240]; /* sip:callee@domain */
	char lhost[72];   /* our address as written in Via/Contact (IPv6 in brackets) */
	char uas_hp[80];  /* the UAS's host:port for its Contact */
	struct sip_msg *msg;

	/* Diameter (mar) */
	struct bench_dconn *dconns;
	unsigned ndconns, dready;
	uint32_t e2e;
	int error; /* setup failure, reported by main */
};

/* bench_run.c: the engine every flow runs on */
extern _Atomic bool bench_interrupted; /* SIGINT: start nothing more, drain */
uint64_t bench_now_us(void);
int bench_thread_init(struct bench_thread *t, const struct bench_cfg *cfg, unsigned id,
                      _Atomic unsigned *active);
void bench_thread_fini(struct bench_thread *t);
void *bench_thread_main(void *arg);
struct bench_call *bench_call_at(struct bench_thread *t, uint32_t idx, uint32_t gen);
/* Ends @c: @fail < 0 is success, else a BENCH_F_* reason (@status: the code for STATUS/DIA). */
void bench_call_end(struct bench_thread *t, struct bench_call *c, int fail, unsigned status);
/* (Re)arms @c's timer for min(rtx_due, deadline). */
void bench_timer_arm(struct bench_thread *t, struct bench_call *c);
void bench_timer_disarm(struct bench_thread *t, struct bench_call *c);
static inline bool bench_measuring(const struct bench_thread *t)
{
	return t->loop.now_ms >= t->meas_us / 1000;
}

/* bench_sip.c: the SIP flows (UAC and UAS) */
int bench_sip_setup(struct bench_thread *t);
void bench_sip_teardown(struct bench_thread *t);
int bench_sip_start(struct bench_thread *t, struct bench_call *c);
void bench_sip_timer(struct bench_thread *t, struct bench_call *c);
/* bench_ha1() : the HA1 of --user/--password for @realm and @alg's base hash into t->ha1, cached
 * per thread (one challenge realm in practice). 0 or a negative errno. */
int bench_ha1(struct bench_thread *t, struct mr_str realm, enum auth_alg alg);

/* bench_mar.c: the Diameter flow */
int bench_mar_setup(struct bench_thread *t);
void bench_mar_teardown(struct bench_thread *t);
int bench_mar_start(struct bench_thread *t, struct bench_call *c);
void bench_mar_timer(struct bench_thread *t, struct bench_call *c);
bool bench_mar_ready(struct bench_thread *t);

/* bench_report.c */
void bench_report(const struct bench_cfg *cfg, const struct bench_stats *st, double elapsed_s,
                  uint64_t failed_total, bool over_limit, FILE *out, bool json);

#endif

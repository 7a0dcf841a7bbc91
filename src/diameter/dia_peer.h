/* SPDX-License-Identifier: MIT
 * dia_peer.h - Diameter peer connections over TCP on the io loop (RFC 6733 §5): stream framing,
 * CER/CEA, DWR/DWA with the RFC 3539 watchdog, DPR/DPA, and election between two peers that
 * connect to each other. Applications plug in through struct dia_app_ops.
 * Kept apart from dia.h so that the codec (and its fuzzers) does not depend on io_uring.
 * Owns: a dia_conn owns its io_conn; the owner of the dia_conn memory is told by on_free.
 * The peer table is shared by all loops (one mutex, taken only on CER/CEA and close).
 * Thread: a dia_conn lives on one loop's thread; the table is thread-safe. */
#ifndef DIA_PEER_H
#define DIA_PEER_H

#include "dia.h"
#include "io.h"

#include <pthread.h>

enum dia_peer_state {
	DIA_PS_CONNECTING, /* initiator: TCP connect pending */
	DIA_PS_WAIT_CEA,   /* initiator: CER sent */
	DIA_PS_WAIT_CER,   /* responder: accepted, waiting for CER */
	DIA_PS_OPEN,
	DIA_PS_CLOSING, /* DPR sent (or received and DPA queued) */
	DIA_PS_CLOSED,
};

/* RFC 3539 watchdog states of an open connection. */
enum dia_wd_state {
	DIA_WD_OKAY,
	DIA_WD_SUSPECT, /* a DWR went unanswered for Tw: fail requests over */
	DIA_WD_REOPEN,  /* reconnected: 3 DWR/DWA round trips before use */
};

struct dia_conn;

struct dia_app_ops {
	/* A request of an application both sides advertised, already validated. The handler
	 * answers with dia_conn_begin()/dia_conn_end(). */
	void (*on_request)(struct dia_conn *pc, const struct dia_msg *m);
	/* An answer to a request this side sent (hbh matched by the application). */
	void (*on_answer)(struct dia_conn *pc, const struct dia_msg *m);
	/* State or watchdog change (open, suspect, closed...). Optional. */
	void (*on_state)(struct dia_conn *pc);
};

#define DIA_TABLE_MAX 128

/* Connections by peer identity, for election and duplicate connections. */
struct dia_peer_table {
	pthread_mutex_t lock;
	struct {
		struct dia_conn *conn; /* NULL = free slot */
		char host[256];
		int fd;
		bool initiator;
		bool open;
	} ent[DIA_TABLE_MAX];
};

/* Immutable, shared by every loop. */
struct dia_peer_cfg {
	struct dia_ident id;
	const char *product;  /* Product-Name, "mara" */
	uint32_t firmware;    /* Firmware-Revision */
	const uint32_t *apps; /* Auth-Application-Ids we advertise */
	unsigned napps;
	unsigned tw_ms;       /* watchdog interval (jittered by +-2 s, never below 6 s) */
	unsigned dpa_wait_ms; /* how long to wait for DPA before closing */
	uint32_t max_message;
	unsigned max_nest;        /* grouped AVP nesting accepted (0: DIA_MAX_NEST) */
	bool accept_unknown;      /* accept CER from hosts not in @known */
	const char *const *known; /* peer identities we know, NULL-terminated */
	/* known_tls[i]: known[i] must come over TLS (its CER on plain TCP is refused); NULL: none
	 */
	const bool *known_tls;
	struct dia_peer_table *table;
	const struct dia_app_ops *app;
};

/* Counters of one loop's peer layer (summed by the stats module later). */
struct __attribute__((aligned(64))) dia_peer_stats {
	uint64_t rx_msgs, tx_msgs;
	uint64_t framing_errors; /* connection closed: framing lost */
	uint64_t invalid_msgs;   /* answered with a 3xxx/5xxx error */
	uint64_t too_deep;       /* of which: grouped AVPs nested beyond cfg->max_nest */
	uint64_t cer_rejected;
	uint64_t elections_won, elections_lost, duplicates;
	uint64_t dwr_sent, dwa_rx, dwr_rx;
	uint64_t wd_suspect, wd_down;
	uint64_t dpr_sent, dpr_rx, dpa_rx;
	uint64_t unknown_hbh;
	uint64_t ce_timeouts; /* no CER/CEA (or TLS handshake) within DIA_CE_WAIT_MS: closed */
};

/* A connection must finish its TLS handshake and capabilities exchange this soon after the
 * TCP connection is up, or it is closed: a peer cannot hold connections without speaking. */
#define DIA_CE_WAIT_MS 10000

struct dia_conn {
	struct io_conn io;
	const struct dia_peer_cfg *cfg;
	struct dia_peer_stats *st;
	void *app_arg; /* the application's per-loop context */
	/* Set by the owner before dia_conn_accept/connect (kept by them): TLS from the first
	 * byte with this context, and the peer's Origin-Host must be named by its certificate
	 * (a mismatch refuses the CER/CEA and is counted in the context). NULL = plain TCP. */
	struct io_tls_ctx *tls;
	void (*on_free)(struct dia_conn *pc); /* owner frees the memory */
	enum dia_peer_state state;
	enum dia_wd_state wd;
	bool initiator;
	bool dwr_pending;
	bool peer_said_goodbye; /* DPR received: do not reconnect before Tc */
	uint32_t disconnect_cause;
	unsigned reopen_ok;
	char peer_host[256];
	char peer_realm[256];
	uint32_t peer_state_id;
	uint32_t next_hbh;
	uint32_t e2e;
	uint32_t rng;
	struct io_timer wd_timer;
	struct io_timer close_timer;
	struct dia_conn *next; /* the owner's list */
};

int dia_peer_table_init(struct dia_peer_table *t);
/* Whether an OPEN connection with @host exists, whoever initiated it. */
bool dia_peer_table_has_open(struct dia_peer_table *t, const char *host);
/* Number of OPEN connections in the table (tests, logs). */
unsigned dia_peer_table_open(struct dia_peer_table *t);

/* dia_conn_accept() : a responder connection on accepted @fd (consumed). -ENOMEM. */
int dia_conn_accept(struct dia_conn *pc, struct io_loop *l, int fd, const struct dia_peer_cfg *cfg,
                    struct dia_peer_stats *st);
/* dia_conn_connect() : an initiator connection to @host at @sa; sends CER once connected. */
int dia_conn_connect(struct dia_conn *pc, struct io_loop *l, const char *host,
                     const struct sockaddr *sa, socklen_t salen, const struct dia_peer_cfg *cfg,
                     struct dia_peer_stats *st);

/* Starts an outgoing message: reserves @max bytes of output and points @e at them. -ENOBUFS
 * when the peer does not read (queue full) or the connection is closing. */
int dia_conn_begin(struct dia_conn *pc, struct dia_enc *e, uint32_t max);
/* Finishes and queues it (sent at the end of the loop turn). Returns the length or -ENOBUFS. */
int dia_conn_end(struct dia_conn *pc, struct dia_enc *e);
/* Queues @len bytes already encoded at the reserved pointer (after dia_enc_finish()). */
void dia_conn_commit(struct dia_conn *pc, uint32_t len);
uint32_t dia_conn_next_hbh(struct dia_conn *pc);
uint32_t dia_conn_next_e2e(struct dia_conn *pc);

/* Sends DPR with @cause (0 REBOOTING, 1 BUSY, 2 DO_NOT_WANT_TO_TALK_TO_YOU) and closes on DPA or
 * after cfg->dpa_wait_ms. Closes at once a connection that is not open. */
void dia_conn_disconnect(struct dia_conn *pc, uint32_t cause);
bool dia_conn_usable(const struct dia_conn *pc);
const char *dia_peer_state_name(enum dia_peer_state s);

#endif

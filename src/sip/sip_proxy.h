/* SPDX-License-Identifier: MIT
 * sip_proxy.h - the stateless proxy's rules (RFC 3261 §16, §16.11; RFC 3581) and the builders
 * of the messages it sends: local responses (§8.2.6), forwarded requests and responses.
 * Owns: nothing. A decision (struct sip_decision) holds slices into the request and values;
 * builders write into caller buffers, splicing the untouched spans of the original message.
 * Thread: any; pure over their arguments, no allocation, no I/O. */
#ifndef SIP_PROXY_H
#define SIP_PROXY_H

#include "sip.h"

#include <netinet/in.h>
#include <sys/socket.h>

/* ---- an output buffer with a sticky error -------------------------------------------------- */

struct sip_buf {
	char *p;
	uint32_t cap;
	uint32_t len;
	int err; /* -ENOBUFS once something did not fit; later writes are ignored */
};

static inline void sip_buf_init(struct sip_buf *b, char *p, uint32_t cap)
{
	b->p = p;
	b->cap = cap;
	b->len = 0;
	b->err = 0;
}

void sip_buf_put(struct sip_buf *b, const void *s, size_t n);
void sip_buf_str(struct sip_buf *b, struct mr_str s);
void sip_buf_cstr(struct sip_buf *b, const char *s);
void sip_buf_u32(struct sip_buf *b, uint32_t v);

/* ---- where a message came from -------------------------------------------------------------- */

enum sip_transport { SIP_TP_UDP = 0, SIP_TP_TCP = 1 };

struct sip_rcv {
	struct sockaddr_storage src; /* the peer that sent it */
	enum sip_transport tp;
	char src_ip[48]; /* text of src's address, no brackets */
	uint16_t src_port;
};

/* ---- configuration the rules read (immutable) ------------------------------------------------ */

#define SIP_MAX_ROUTES 32
#define SIP_MAX_ALLOW  16

struct sip_route { /* route table: requests for @domain go to @addr:@port */
	char domain[128];
	char addr[64];
	uint16_t port;
	enum sip_transport tp;
};

struct sip_cidr {
	struct sockaddr_storage net; /* address family and network */
	unsigned bits;
};

struct sip_proxy_cfg {
	char host[64]; /* our address as written in Via and Record-Route (numeric) */
	uint16_t port;
	char realm[256];       /* digest realm we challenge for */
	uint32_t auth_methods; /* bitmap of enum sip_method to challenge (ACK/CANCEL never) */
	bool auth_in_dialog;   /* challenge in-dialog requests too (default: let them pass) */
	bool record_route;
	uint8_t secret[16]; /* keys the To-tags of our 407s */
	struct sip_route routes[SIP_MAX_ROUTES];
	unsigned nroutes;
	struct sip_cidr allow[SIP_MAX_ALLOW]; /* destination allow-list */
	unsigned nallow;
};

/* ---- decisions --------------------------------------------------------------------------------
 */

enum sip_verdict {
	SIP_V_DROP,    /* absorb silently (ACK of our 407, ...) */
	SIP_V_REPLY,   /* answer locally with @code */
	SIP_V_AUTH,    /* needs a MAR (with or without @cred) before it may be forwarded */
	SIP_V_FORWARD, /* send to @next */
};

struct sip_decision {
	enum sip_verdict verdict;
	unsigned code;             /* SIP_V_REPLY */
	const char *why;           /* static text, for logs and counters */
	struct mr_str unsupported; /* 420: the Proxy-Require values */
	/* next hop */
	struct sockaddr_storage next;
	socklen_t next_len;
	enum sip_transport next_tp;
	/* how to rewrite the request */
	int pop_route;                 /* Route values of ours to remove from the top (0..2) */
	struct mr_str new_ruri;        /* §16.4: the last Route (the real target) as R-URI */
	struct mr_str last_route_drop; /* ...and that Route value, removed */
	bool strict_next;              /* next hop is a strict router (§16.6 step 6): */
	struct mr_str strict_uri;      /* its URI becomes the Request-URI, */
	struct mr_str strict_drop;     /* its Route value goes, and the previous R-URI is */
	                               /* appended as the last Route */
	bool in_dialog;
	/* credentials for our realm (SIP_V_AUTH) */
	int authz_hdr; /* index of the Proxy-Authorization for our realm, -1 none */
	struct mr_str authz_value;
};

/* sip_proxy_route() : runs the request rules of §16.3-16.6 on @m: validation (416 scheme, 483
 * Max-Forwards, 482 loop, 420 Proxy-Require), ACK of our own 407 absorbed, Route preprocessing,
 * the auth policy, next-hop choice (Route, route table by domain, Request-URI host:port, numeric
 * only: no DNS) and the destination allow-list (403). Fills @d; returns 0 or -EINVAL. */
int sip_proxy_route(const struct sip_proxy_cfg *cfg, const struct sip_msg *m,
                    const struct sip_rcv *rcv, struct sip_decision *d);

/* Deterministic To-tag for our local responses to @m, so the ACK of a 407 is recognised
 * statelessly. Writes 20 chars + NUL. */
void sip_proxy_to_tag(const struct sip_proxy_cfg *cfg, const struct sip_msg *m, char *out);
#define SIP_BRANCH_LEN 31 /* "z9hG4bK" + 16 hex (transaction) + 8 hex (loop detection) */

/* Branch of our Via for @m (§16.11): a retransmission gets the same one. "z9hG4bK", 16 hex of
 * the transaction, then 8 hex of the fields that decide where the request goes (§16.6 step 8:
 * Request-URI, Call-ID, tags, CSeq number, Proxy-Require), so that a request coming back with
 * the same loop part is a loop (482) and one with another is a spiral. Writes
 * SIP_BRANCH_LEN chars + NUL. */
void sip_proxy_branch(const struct sip_msg *m, char *out);

/* ---- builders ------------------------------------------------------------------------------- */

/* A local response to request @m: status line, every Via (the top one with received/rport from
 * @rcv when RFC 3581 asks), From, To (with @to_tag added when the request had none), Call-ID,
 * CSeq, @extra (whole header lines, each ending CRLF), Content-Length: 0. */
void sip_build_response(struct sip_buf *b, const struct sip_msg *m, const struct sip_rcv *rcv,
                        unsigned code, const char *reason, struct mr_str to_tag,
                        struct mr_str extra);

/* The request forwarded: our Via on top (host:port of @cfg, transport @d->next_tp, @branch: the
 * branch value, optionally followed by ";params" of ours), received/rport on the previous top
 * Via, Record-Route when configured, our Route values popped, Max-Forwards decremented (70
 * added when absent, §16.6 step 3), the Proxy-Authorization at
 * d->authz_hdr removed, Content-Length written when the next hop is a stream, the body. */
void sip_build_forward(struct sip_buf *b, const struct sip_proxy_cfg *cfg, const struct sip_msg *m,
                       const struct sip_rcv *rcv, const struct sip_decision *d, const char *branch);

/* sip_proxy_response() : for a response: checks that the top Via is ours (host:port of @cfg),
 * writes the response without it into @b, and sets @next to the next Via's destination (RFC
 * 3261 §18.2.2 + RFC 3581: received/rport, else sent-by). Returns 0, -ENOENT when the top Via is
 * not ours or there is no second Via (drop), -EINVAL on a bad address. */
int sip_proxy_response(struct sip_buf *b, const struct sip_proxy_cfg *cfg, const struct sip_msg *m,
                       struct sockaddr_storage *next, socklen_t *next_len,
                       enum sip_transport *next_tp);

/* A numeric host (IPv6 with or without brackets) and @port into @ss: 0, or -EINVAL for a name
 * (no DNS here) or a malformed address. */
int sip_addr_numeric(struct mr_str host, uint16_t port, struct sockaddr_storage *ss,
                     socklen_t *len);
/* Whether @ss is inside the allow-list. */
bool sip_proxy_allowed(const struct sip_proxy_cfg *cfg, const struct sockaddr_storage *ss);
/* Parses "10.0.0.0/8", "::1", "127.0.0.1/32" into @c. 0 or -EINVAL. */
int sip_cidr_parse(const char *s, struct sip_cidr *c);

#endif

/* SPDX-License-Identifier: MIT
 * sip_shard.c - a proxy shard: SIP over UDP and TCP on its own io_uring loop, the rules of
 * sip_proxy.c, and RFC 4740 §6.4 Figure 4 through the Diameter pool (see sip_shard.h).
 * Owns: the shard's sockets, connections, parked requests (a slab plus a hash index keyed by
 * transaction) and pool requests (a free list). Thread: the shard's own. */
#include "sip_shard.h"

#include "mr_log.h"
#include "stats.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#define OUT_EXTRA    1024 /* room a forward adds to a message (Via, RR, params) */
#define POLL_BATCH   64
#define STOP_WAIT_MS 3000

/* A request waiting for its MAA: a private copy of its bytes and where it came from. */
struct sip_pend {
	uint64_t key; /* transaction: top Via branch + sent-by, CSeq method, Call-ID */
	uint32_t gen;
	bool used;
	uint32_t tcp_id;  /* 0 = came over UDP */
	bool bound;       /* its MAR named the server that minted the nonce (Destination-Host) */
	bool rechallenge; /* that server was gone: its MAR now asks for a fresh challenge */
	bool challenge;   /* a MAR without credentials: holds a sip_guard challenge slot */
	uint32_t bucket;  /* its source's sip_guard bucket */
	struct sip_rcv rcv;
	char *msg;
	uint32_t len;
	uint32_t next_free;
};

struct sip_tcp {
	struct io_conn io;
	struct sip_shard *sh;
	uint32_t id;
	bool outbound; /* we connected (to a next hop) */
	bool guarded;  /* inbound: holds a sip_guard TCP slot of @bucket */
	uint32_t bucket;
	uint64_t deadline_ms; /* inbound: a message must be complete by then (0: idle is fine) */
	struct sip_tcp *next;
};

/* The slab of parked requests and its index live after the shard's table pointer. */
struct pend_table {
	struct sip_pend *slab;
	uint32_t *index; /* slab index + 1, 0 = empty */
	uint32_t nslab;
	uint32_t free_head; /* slab index + 1 */
};

/* The rules in force: one acquire load, pairs with the release store of a reload. */
static inline const struct sip_proxy_cfg *px_of(const struct sip_shard *sh)
{
	return atomic_load_explicit(&sh->cfg->px, memory_order_acquire);
}

static struct pend_table *ptab(struct sip_shard *sh)
{
	return (struct pend_table *)(void *)sh->pend;
}

static const struct io_conn_ops tcp_ops;

/* ---- output ---------------------------------------------------------------------------------- */

/* Where one outgoing message is being written: a UDP send slot or a TCP connection's queue. */
struct sip_out {
	struct sip_buf b;
	struct io_udp_slot *slot;
	struct sip_tcp *tc;
	struct sockaddr_storage to;
	socklen_t tolen;
};

static struct sip_tcp *tcp_by_id(struct sip_shard *sh, uint32_t id)
{
	for (struct sip_tcp *t = sh->tcp_conns; t; t = t->next)
		if (t->id == id && !t->io.closing)
			return t;
	return NULL;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		              &((const struct sockaddr_in *)b)->sin_addr, 4) == 0 &&
		       ((const struct sockaddr_in *)a)->sin_port ==
		           ((const struct sockaddr_in *)b)->sin_port;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	              &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0 &&
	       ((const struct sockaddr_in6 *)a)->sin6_port ==
	           ((const struct sockaddr_in6 *)b)->sin6_port;
}

static struct sip_tcp *tcp_new(struct sip_shard *sh)
{
	struct sip_tcp *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->sh = sh;
	t->id = ++sh->tcp_next_id ? sh->tcp_next_id : ++sh->tcp_next_id;
	return t;
}

/* An outbound connection to @to: an open one, or a new one (queued bytes wait for connect). */
static struct sip_tcp *tcp_to(struct sip_shard *sh, const struct sockaddr_storage *to,
                              socklen_t tolen)
{
	struct sip_tcp *t;

	for (t = sh->tcp_conns; t; t = t->next)
		if (!t->io.closing && same_addr(&t->io.peer, to))
			return t;
	t = tcp_new(sh);
	if (!t)
		return NULL;
	t->outbound = true;
	if (io_conn_connect(&t->io, &sh->loop, (const struct sockaddr *)to, tolen, &tcp_ops,
	                    SIP_MAX_MSG + 1, 4u << 20)) {
		free(t);
		return NULL;
	}
	t->next = sh->tcp_conns;
	sh->tcp_conns = t;
	return t;
}

static bool out_begin(struct sip_shard *sh, struct sip_out *o, enum sip_transport tp,
                      const struct sockaddr_storage *to, socklen_t tolen, struct sip_tcp *tc,
                      uint32_t need)
{
	char *p;

	memset(o, 0, sizeof(*o));
	if (tp == SIP_TP_UDP) {
		o->slot = io_udp_slot_get(&sh->udp);
		if (!o->slot)
			goto drop;
		memcpy(&o->to, to, tolen);
		o->tolen = tolen;
		sip_buf_init(&o->b, (char *)o->slot->data, o->slot->cap);
		return true;
	}
	o->tc = tc ? tc : tcp_to(sh, to, tolen);
	if (!o->tc)
		goto drop;
	p = (char *)io_conn_tx_reserve(&o->tc->io, need);
	if (!p)
		goto drop;
	sip_buf_init(&o->b, p, need);
	return true;
drop:
	stats_add(&sh->st.send_drops, 1);
	return false;
}

static bool out_end(struct sip_shard *sh, struct sip_out *o)
{
	if (o->b.err) { /* nothing half-written leaves: the slot goes back, the reservation
		         * is simply not committed */
		if (o->b.err == -ENOBUFS)
			stats_add(&sh->st.send_drops, 1);
		if (o->slot)
			io_udp_slot_put(&sh->udp, o->slot);
		return false;
	}
	if (o->slot)
		io_udp_send(&sh->udp, o->slot, o->b.len, &o->to, o->tolen);
	else
		io_conn_tx_commit(&o->tc->io, o->b.len);
	return true;
}

/* ---- local responses ----------------------------------------------------------------------- */

/* Where a response to @m goes (RFC 3261 §18.2.2, RFC 3581): over the connection it came on, or
 * to the source address, with the sent-by port unless rport was asked for. */
static void reply_dest(const struct sip_msg *m, const struct sip_rcv *rcv,
                       struct sockaddr_storage *ss, socklen_t *len)
{
	uint16_t port = 5060;

	memcpy(ss, &rcv->src, sizeof(*ss));
	*len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (m->nvia && m->via[0].has_rport)
		return;
	if (m->nvia && m->via[0].port)
		port = m->via[0].port;
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* Returns whether the response was queued. */
static bool reply(struct sip_shard *sh, const struct sip_msg *m, const struct sip_rcv *rcv,
                  struct sip_tcp *tc, unsigned code, const char *reason, struct mr_str extra)
{
	struct sockaddr_storage to;
	struct sip_out o;
	socklen_t tolen;
	char tag[24];

	if (m->method == SIP_M_ACK) /* never answer an ACK */
		return false;
	if (rcv->tp == SIP_TP_TCP && !tc)
		return false; /* its connection is gone */
	reply_dest(m, rcv, &to, &tolen);
	stats_add(&sh->st.sent_by_code[sip_shard_code_slot(code)], 1);
	sip_proxy_to_tag(px_of(sh), m, tag);
	if (!out_begin(sh, &o, rcv->tp, &to, tolen, tc, m->len + extra.len + 512))
		return false;
	sip_build_response(&o.b, m, rcv, code, reason, mr_str_c(tag), extra);
	return out_end(sh, &o);
}

static bool reply_code(struct sip_shard *sh, const struct sip_msg *m, const struct sip_rcv *rcv,
                       struct sip_tcp *tc, unsigned code)
{
	return reply(sh, m, rcv, tc, code, NULL, (struct mr_str){0});
}

/* 503 with Retry-After (RFC 3261 §21.5.4): the proxy sheds load or has no usable peer. */
static bool reply_503(struct sip_shard *sh, const struct sip_msg *m, const struct sip_rcv *rcv,
                      struct sip_tcp *tc)
{
	char ra[64];
	int n = snprintf(ra, sizeof(ra), "Retry-After: %u\r\n", sh->cfg->retry_after_s);

	return reply(sh, m, rcv, tc, 503, NULL, mr_str_make(ra, (size_t)n));
}

/* The end of a request counted in rx_requests: answered here, or dropped when the answer
 * could not be queued. */
static void answered(struct sip_shard *sh, bool sent)
{
	if (sent)
		stats_add(&sh->st.req_answered, 1);
	else
		stats_add(&sh->st.req_dropped, 1);
}

/* ---- forwarding ------------------------------------------------------------------------------ */

/* @via_extra: more parameters for our Via (Proxy-Authentication-Info, sip_authcache.h), or
 * NULL. */
static void forward_ex(struct sip_shard *sh, const struct sip_msg *m, const struct sip_rcv *rcv,
                       struct sip_tcp *tc, const struct sip_decision *d, const char *via_extra)
{
	char branch[64 + SIP_AUTHCACHE_VIA_MAX];
	struct sip_out o;
	int n = SIP_BRANCH_LEN;

	sip_proxy_branch(m, branch);
	/* a request that came over TCP: its connection's id rides in our Via, so the response
	 * finds the way back without state (§18.2.2: same connection) */
	if (tc)
		n += snprintf(branch + SIP_BRANCH_LEN, 64 - SIP_BRANCH_LEN, ";mc=%u", tc->id);
	if (via_extra)
		snprintf(branch + n, sizeof(branch) - (size_t)n, "%s", via_extra);
	if (!out_begin(sh, &o, d->next_tp, &d->next, d->next_len, NULL, m->len + OUT_EXTRA)) {
		stats_add(&sh->st.req_dropped, 1);
		return;
	}
	sip_build_forward(&o.b, px_of(sh), m, rcv, d, branch);
	if (!out_end(sh, &o)) {
		stats_add(&sh->st.req_dropped, 1);
		return;
	}
	stats_add(&sh->st.fwd_requests, 1);
}

static void forward(struct sip_shard *sh, const struct sip_msg *m, const struct sip_rcv *rcv,
                    struct sip_tcp *tc, const struct sip_decision *d)
{
	forward_ex(sh, m, rcv, tc, d, NULL);
}

/* ---- parked requests ------------------------------------------------------------------------- */

static uint64_t txn_key(const struct sip_msg *m)
{
	const struct sip_via *v = &m->via[0];
	XXH3_state_t st;
	uint64_t k;

	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, v->branch.p, v->branch.len);
	XXH3_64bits_update(&st, v->host.p, v->host.len);
	XXH3_64bits_update(&st, &v->port, sizeof(v->port));
	XXH3_64bits_update(&st, m->cseq_method.p, m->cseq_method.len);
	XXH3_64bits_update(&st, &m->cseq, sizeof(m->cseq));
	XXH3_64bits_update(&st, m->call_id.p, m->call_id.len);
	k = XXH3_64bits_digest(&st);
	return k ? k : 1;
}

static struct sip_pend *pend_find(struct sip_shard *sh, uint64_t key, uint32_t *slot)
{
	struct pend_table *t = ptab(sh);

	for (uint32_t i = (uint32_t)key & sh->pend_mask;; i = (i + 1) & sh->pend_mask) {
		uint32_t x = t->index[i];

		if (x == 0) {
			*slot = i;
			return NULL;
		}
		if (t->slab[x - 1].key == key) {
			*slot = i;
			return &t->slab[x - 1];
		}
	}
}

/* Backward-shift deletion keeps probe chains whole without tombstones. */
static void pend_del(struct sip_shard *sh, struct sip_pend *p)
{
	struct pend_table *t = ptab(sh);
	uint32_t i, j, idx = (uint32_t)(p - t->slab);

	pend_find(sh, p->key, &i);
	t->index[i] = 0;
	for (j = (i + 1) & sh->pend_mask; t->index[j]; j = (j + 1) & sh->pend_mask) {
		uint32_t home = (uint32_t)t->slab[t->index[j] - 1].key & sh->pend_mask;

		/* move j back to i when its home is not in (i, j] */
		if (((j - home) & sh->pend_mask) >= ((j - i) & sh->pend_mask)) {
			t->index[i] = t->index[j];
			t->index[j] = 0;
			i = j;
		}
	}
	free(p->msg);
	p->msg = NULL;
	p->used = false;
	if (p->challenge)
		sip_guard_put(sh->cfg->guard, SIP_GUARD_CHALLENGE, p->bucket);
	p->challenge = false;
	p->gen++;
	p->next_free = t->free_head;
	t->free_head = idx + 1;
	stats_set(&sh->st.pending_gauge, sh->st.pending_gauge - 1);
}

/* ---- Figure 4: MAR out ------------------------------------------------------------------------
 */

/* The MAR fields every request has: Session-Id (into @sid), AOR, method. */
static void mar_base(struct sip_shard *sh, const struct sip_msg *m, struct dia_sipcli_mar *mar,
                     char *sid, size_t cap)
{
	int ret = dia_sipcli_session_id(sid, cap, mr_str_c(sh->cfg->origin_host), m->call_id,
	                                m->from.tag);

	mar->session_id = mr_str_make(sid, ret > 0 ? (size_t)ret : 0);
	mar->aor = m->method == SIP_M_REGISTER ? m->to.uri : m->ruri;
	mar->method = m->method_name;
}

/* The server that minted the nonce of @p's credentials is gone (not connected, or a relay said
 * 3002): ask any server for a fresh challenge for the same parked request, once. 0 when a new
 * request is with the pool (@old, the answered one, is then freed here). Replay protection
 * stays with the minting server: nobody else ever validates its nonce. */
static int rechallenge(struct sip_shard *sh, const struct sip_msg *m, struct sip_pend *p,
                       struct dia_pool_req *old)
{
	struct dia_sipcli_mar mar = {0};
	struct dia_pool_req *req;
	char sid[512];
	int ret;

	if (p->rechallenge || !p->bound)
		return -EALREADY;
	/* a MAR without credentials: under the same caps as any other (released by pend_del) */
	if (sh->cfg->guard && !p->challenge) {
		ret = sip_guard_take(sh->cfg->guard, SIP_GUARD_CHALLENGE, p->bucket);
		if (ret) {
			stats_add(&sh->st.limit[ret == -EMFILE ? SIP_LIM_CHALLENGE_SOURCE
			                                       : SIP_LIM_CHALLENGE_TOTAL],
			          1);
			return ret;
		}
		p->challenge = true;
	}
	mar_base(sh, m, &mar, sid, sizeof(sid));
	req = dia_pool_mar_new(sh->cfg->pool, &mar, &ret);
	if (!req)
		return ret;
	req->cookie = old->cookie;
	req->dest_peer = 0;
	if (dia_pool_submit(sh->cfg->pool, sh->id, req)) {
		dia_pool_req_free(req);
		return -ENOBUFS;
	}
	dia_pool_req_free(old);
	p->rechallenge = true;
	stats_add(&sh->st.minter_gone, 1);
	stats_add(&sh->st.mar_submitted, 1);
	sh->kick = true;
	return 0;
}

static void authenticate(struct sip_shard *sh, const struct sip_msg *m, const struct sip_rcv *rcv,
                         struct sip_tcp *tc, const struct sip_decision *d)
{
	struct pend_table *t = ptab(sh);
	char sid[512], scratch[1024];
	struct dia_sipcli_mar mar = {0};
	struct auth_digest cred = {0}; /* parse leaves method and body_hash alone */
	struct dia_pool_req *req;
	struct sip_pend *p;
	uint32_t slot, idx, bucket = 0;
	bool guarded = false;
	int ret;

	p = pend_find(sh, txn_key(m), &slot);
	if (p) { /* a retransmission while its MAR is out: absorbed (§16.11 allows no more) */
		stats_add(&sh->st.retrans_absorbed, 1);
		return;
	}
	if (sh->ac && d->authz_hdr >= 0) { /* RFC 4740 §6.3: a nonce mara-aaa handed over */
		struct sip_authcache_info ai;
		char vx[SIP_AUTHCACHE_VIA_MAX];

		if (sip_authcache_check(sh->ac, m, d->authz_value, txn_key(m),
		                        sh->loop.now_ms / 1000, &ai) >= 0) {
			sip_authcache_via_params(&ai, vx, sizeof(vx));
			forward_ex(sh, m, rcv, tc, d, vx);
			return;
		}
	}
	if (!t->free_head) { /* bounded: shed at once rather than queue without end */
		stats_add(&sh->st.pending_full, 1);
		answered(sh, reply_503(sh, m, rcv, tc));
		return;
	}
	if (!dia_pool_usable_peers(sh->cfg->pool)) {
		stats_add(&sh->st.no_peer_503, 1);
		answered(sh, reply_503(sh, m, rcv, tc));
		return;
	}
	mar_base(sh, m, &mar, sid, sizeof(sid));
	/* credentials that do not parse (another scheme, garbage) are no credentials: the UA
	 * gets a challenge (RFC 4475 regaut01) */
	if (d->authz_hdr >= 0 &&
	    auth_digest_parse(d->authz_value, &cred, scratch, sizeof(scratch)) == 0 &&
	    cred.response.len) {
		mar.cred = &cred;
		mar.user_name = cred.username;
		mar.want_ha1 = sip_authcache_wants(sh->ac, m->method, &cred);
		/* back to the server that minted the nonce: a direct peer, or via a relay */
		mar.dest_host = dia_sipcli_opaque_host(cred.opaque);
	}
	/* no credentials: a MAR only the source's share and the global cap allow, so a flood
	 * of unauthenticated requests cannot keep the AAA servers busy without bound */
	/* the AAA answers late (a standing queue, not a burst): new calls get 503 Retry-After
	 * while calls already challenged keep their way through, so the calls admitted complete
	 * at the AAA's capacity instead of all of them timing out (issue 6: no collapse) */
	if (!mar.cred && dia_pool_overloaded(sh->cfg->pool)) {
		stats_add(&sh->st.limit[SIP_LIM_AAA_OVERLOAD], 1);
		answered(sh, reply_503(sh, m, rcv, tc));
		return;
	}
	bucket = sip_guard_bucket(&rcv->src);
	if (!mar.cred && sh->cfg->guard &&
	    (ret = sip_guard_take(sh->cfg->guard, SIP_GUARD_CHALLENGE, bucket))) {
		stats_add(&sh->st.limit[ret == -EMFILE ? SIP_LIM_CHALLENGE_SOURCE
		                                       : SIP_LIM_CHALLENGE_TOTAL],
		          1);
		answered(sh, reply_503(sh, m, rcv, tc));
		return;
	}
	guarded = !mar.cred && sh->cfg->guard;
	req = dia_pool_mar_new(sh->cfg->pool, &mar, &ret);
	if (!req) {
		mr_debug("msg=\"cannot encode MAR\" shard=%u err=%d", sh->id, ret);
		goto fail;
	}
	req->dest_peer = 0;
	if (mar.dest_host.len) {
		int i = dia_pool_peer_index(sh->cfg->pool, mar.dest_host);

		req->dest_peer = i >= 0 ? (uint16_t)(i + 1) : 0;
	}
	idx = t->free_head - 1;
	p = &t->slab[idx];
	p->msg = malloc(m->len);
	if (!p->msg) {
		dia_pool_req_free(req);
		goto fail;
	}
	memcpy(p->msg, m->buf, m->len);
	p->len = m->len;
	p->key = txn_key(m);
	p->rcv = *rcv;
	p->tcp_id = tc ? tc->id : 0;
	p->bound = mar.dest_host.len != 0;
	p->rechallenge = false;
	req->cookie = (uint64_t)p->gen << 32 | idx;
	if (dia_pool_submit(sh->cfg->pool, sh->id, req)) { /* the ring to the pool is full */
		free(p->msg);
		p->msg = NULL;
		dia_pool_req_free(req);
		if (guarded)
			sip_guard_put(sh->cfg->guard, SIP_GUARD_CHALLENGE, bucket);
		stats_add(&sh->st.pending_full, 1);
		answered(sh, reply_503(sh, m, rcv, tc));
		return;
	}
	t->free_head = p->next_free;
	p->used = true;
	p->challenge = guarded;
	p->bucket = bucket;
	t->index[slot] = idx + 1;
	stats_add(&sh->st.pending_gauge, 1);
	stats_add(&sh->st.mar_submitted, 1);
	sh->kick = true;
	return;
fail:
	if (guarded)
		sip_guard_put(sh->cfg->guard, SIP_GUARD_CHALLENGE, bucket);
	stats_add(&sh->st.mar_errors, 1);
	mr_debug("msg=\"MAR not sent: 500\" shard=%u", sh->id);
	answered(sh, reply_code(sh, m, rcv, tc, 500));
}

/* ---- Figure 4: MAA in -------------------------------------------------------------------------
 */

static void challenge(struct sip_shard *sh, const struct sip_msg *m, const struct sip_rcv *rcv,
                      struct sip_tcp *tc, const struct dia_sipcli_challenge *c)
{
	char hdr[1024];
	struct sip_buf b;

	sip_buf_init(&b, hdr, sizeof(hdr));
	sip_buf_cstr(&b, "Proxy-Authenticate: Digest realm=\"");
	sip_buf_str(&b, c->realm);
	sip_buf_cstr(&b, "\", nonce=\"");
	sip_buf_str(&b, c->nonce);
	sip_buf_cstr(&b, "\"");
	if (c->opaque.len) {
		sip_buf_cstr(&b, ", opaque=\"");
		sip_buf_str(&b, c->opaque);
		sip_buf_cstr(&b, "\"");
	}
	if (c->algorithm.len) {
		sip_buf_cstr(&b, ", algorithm=");
		sip_buf_str(&b, c->algorithm);
	}
	/* §22.4 item 8: a challenge always offers qop */
	sip_buf_cstr(&b, ", qop=\"");
	sip_buf_str(&b, c->qop.len ? c->qop : MR_STR_LIT("auth"));
	sip_buf_cstr(&b, "\"");
	if (c->stale)
		sip_buf_cstr(&b, ", stale=true");
	sip_buf_cstr(&b, "\r\n");
	if (b.err) {
		stats_add(&sh->st.err_500, 1);
		answered(sh, reply_code(sh, m, rcv, tc, 500));
		return;
	}
	stats_add(&sh->st.challenges, 1);
	stats_add(&sh->st.stale_challenges, (uint64_t)(c->stale));
	answered(sh, reply(sh, m, rcv, tc, 407, NULL, mr_str_make(hdr, b.len)));
}

static void on_maa(struct sip_shard *sh, struct dia_pool_req *req)
{
	struct pend_table *t = ptab(sh);
	uint32_t idx = (uint32_t)req->cookie, gen = (uint32_t)(req->cookie >> 32);
	struct sip_pend *p = idx < t->nslab ? &t->slab[idx] : NULL;
	struct dia_sipcli_result r;
	struct sip_decision d;
	struct sip_tcp *tc = NULL;
	struct dia_msg maa;
	struct sip_msg m;

	if (!p || !p->used || p->gen != gen)
		goto out;
	if ((p->tcp_id && !(tc = tcp_by_id(sh, p->tcp_id))) || /* the UA's connection is gone */
	    sip_parse(&m, p->msg, p->len, false) <= 0) {
		stats_add(&sh->st.req_dropped, 1);
		goto done;
	}
	if (req->status == -EHOSTUNREACH && rechallenge(sh, &m, p, req) == 0)
		return; /* a new request is with the pool; @p stays parked */
	if (req->status == -ENOTCONN || req->status == -EHOSTUNREACH || req->status == -ECANCELED) {
		stats_add(&sh->st.no_peer_503, 1);
		answered(sh, reply_503(sh, &m, &p->rcv, tc));
		goto done;
	}
	if (req->status) {
		stats_add(&sh->st.mar_timeouts, (uint64_t)(req->status == -ETIMEDOUT));
		stats_add(&sh->st.err_500, 1);
		answered(sh, reply_code(sh, &m, &p->rcv, tc, 500));
		goto done;
	}
	if (dia_msg_init(&maa, req->maa, req->maa_len) || dia_sipcli_decode_maa(&maa, &r)) {
		stats_add(&sh->st.err_500, 1);
		answered(sh, reply_code(sh, &m, &p->rcv, tc, 500));
		goto done;
	}
	stats_add(&sh->st.maa_by_code[sip_shard_result_slot(r.result_code)], 1);
	/* a relay could not reach the Destination-Host (the minting server is gone) */
	if (r.result_code == DIA_RC_UNABLE_TO_DELIVER && rechallenge(sh, &m, p, req) == 0)
		return;
	switch (r.outcome) {
	case DIA_SIPCLI_CHALLENGE:
		/* after the minting server went away the UA's password was not wrong: stale */
		if (p->rechallenge)
			r.chal.stale = true;
		challenge(sh, &m, &p->rcv, tc, &r.chal);
		break;
	case DIA_SIPCLI_AUTHORIZED: {
		struct sip_authcache_info ai;
		char vx[SIP_AUTHCACHE_VIA_MAX];

		/* the rules are pure: running them again gives the same next hop and edits */
		sip_proxy_route(px_of(sh), &m, &p->rcv, &d);
		stats_add(&sh->st.authorized, 1);
		if (sh->ac && r.has_info && r.info.ha1.len && d.authz_hdr >= 0)
			sip_authcache_learn(sh->ac, &m, d.authz_value, r.info.ha1, p->key,
			                    sh->loop.now_ms / 1000);
		sip_authcache_info_from_maa(&r.info, r.has_info, &ai);
		sip_authcache_via_params(&ai, vx, sizeof(vx));
		forward_ex(sh, &m, &p->rcv, tc, &d, vx);
		break;
	}
	case DIA_SIPCLI_REFUSED:
	case DIA_SIPCLI_UNSUPPORTED:
		stats_add(&sh->st.refused, 1);
		answered(sh, reply_code(sh, &m, &p->rcv, tc, 403));
		break;
	default:
		stats_add(&sh->st.err_500, 1);
		answered(sh, reply_code(sh, &m, &p->rcv, tc, 500));
		break;
	}
done:
	pend_del(sh, p);
out:
	dia_pool_req_free(req);
}

/* ---- receive path ------------------------------------------------------------------------------
 */

static void on_request(struct sip_shard *sh, const struct sip_msg *m, const struct sip_rcv *rcv,
                       struct sip_tcp *tc)
{
	struct sip_decision d;

	stats_add(&sh->st.rx_requests, 1);
	stats_add(&sh->st.rx_by_method[__builtin_ctz((unsigned)m->method) % SIP_SHARD_METHODS], 1);
	sip_proxy_route(px_of(sh), m, rcv, &d);
	switch (d.verdict) {
	case SIP_V_DROP:
		stats_add(&sh->st.acks_absorbed, 1);
		return;
	case SIP_V_REPLY:
		if (d.code == 403)
			stats_add(&sh->st.not_allowed, 1);
		else
			stats_add(&sh->st.local_replies, 1);
		if (d.code == 420) {
			char un[512];
			int n = snprintf(un, sizeof(un), "Unsupported: %.*s\r\n",
			                 (int)d.unsupported.len, d.unsupported.p);

			answered(sh, reply(sh, m, rcv, tc, 420, NULL,
			                   mr_str_make(un, n < (int)sizeof(un) ? (size_t)n : 0)));
		} else {
			answered(sh, reply_code(sh, m, rcv, tc, d.code));
		}
		return;
	case SIP_V_AUTH:
		authenticate(sh, m, rcv, tc, &d);
		return;
	case SIP_V_FORWARD:
		forward(sh, m, rcv, tc, &d);
		return;
	}
}

static void on_response(struct sip_shard *sh, const struct sip_msg *m)
{
	struct sockaddr_storage next = {0};
	enum sip_transport tp;
	struct sip_tcp *tc = NULL;
	struct sip_out o;
	socklen_t len = sizeof(next);

	stats_add(&sh->st.rx_responses, 1);
	if (m->nvia < 2) {
		stats_add(&sh->st.responses_dropped, 1);
		return;
	}
	/* a TCP or TLS hop back: the connection the request came on, named in our Via (mc=);
	 * never UDP for a UA that sent over a stream */
	if (mr_str_ieq(m->via[1].transport, MR_STR_LIT("TCP")) ||
	    mr_str_ieq(m->via[1].transport, MR_STR_LIT("TLS"))) {
		struct mr_str mc;
		uint32_t id = 0;

		if (sip_param_get(m->via[0].params, MR_STR_LIT("mc"), &mc) > 0)
			for (uint32_t i = 0; i < mc.len && mc.p[i] >= '0' && mc.p[i] <= '9'; i++)
				id = id * 10 + (uint32_t)(mc.p[i] - '0');
		tc = id ? tcp_by_id(sh, id) : NULL;
		if (!tc) {
			stats_add(&sh->st.responses_dropped, 1);
			return;
		}
	}
	if (!out_begin(sh, &o, tc ? SIP_TP_TCP : SIP_TP_UDP, &next, len, tc,
	               m->len + SIP_AUTHCACHE_VIA_MAX + 64))
		return;
	if (sip_proxy_response(&o.b, px_of(sh), m, &next, &len, &tp) ||
	    (!tc && !sip_proxy_allowed(px_of(sh), &next))) {
		/* not ours, or a next Via we may not send to (RFC 4475 bcast) */
		stats_add(&sh->st.responses_dropped, 1);
		if (!o.b.err)
			o.b.err = -ENOENT;
		out_end(sh, &o);
		return;
	}
	sip_authcache_response_info(&o.b, m); /* no room: the response goes without it */
	memcpy(&o.to, &next, len);
	o.tolen = len;
	out_end(sh, &o);
	stats_add(&sh->st.fwd_responses, 1);
	stats_add(&sh->st.fwd_by_class[m->status / 100 < 7 ? m->status / 100 : 0], 1);
}

/* hot: per SIP message */
static void on_message(struct sip_shard *sh, const struct sip_msg *m, int ret,
                       const struct sip_rcv *rcv, struct sip_tcp *tc)
{
	const struct sip_shard_cfg *cfg = sh->cfg;
	int lim = -1;

	/* the configured limits, below the parser's own (whose overflow, -E2BIG, counts too) */
	if (ret == -E2BIG)
		lim = m->nhdrs >= SIP_MAX_HEADERS ? SIP_LIM_HEADERS : SIP_LIM_VIA;
	else if (ret > 0 && cfg->max_message && m->len > cfg->max_message)
		lim = SIP_LIM_MESSAGE_SIZE;
	else if (ret > 0 && cfg->max_headers && m->nhdrs > cfg->max_headers)
		lim = SIP_LIM_HEADERS;
	else if (ret > 0 && cfg->max_via && m->nvia > cfg->max_via)
		lim = SIP_LIM_VIA;
	if (mr_unlikely(lim >= 0)) {
		stats_add(&sh->st.limit[lim], 1);
		if (m->request && m->nvia && m->call_id.len)
			reply(sh, m, rcv, tc, lim == SIP_LIM_MESSAGE_SIZE ? 513 : 400,
			      lim == SIP_LIM_VIA       ? "Too Many Via Headers"
			      : lim == SIP_LIM_HEADERS ? "Too Many Headers"
			                               : NULL,
			      (struct mr_str){0});
		return;
	}
	if (mr_likely(ret > 0)) {
		if (m->request)
			on_request(sh, m, rcv, tc);
		else
			on_response(sh, m);
		return;
	}
	stats_add(&sh->st.parse_errors, 1);
	/* a response can be routed back only for a request with its Via and Call-ID read */
	if (!m->request || !m->nvia || !m->call_id.len)
		return;
	if (ret == -EPROTONOSUPPORT) {
		stats_add(&sh->st.replied_505, 1);
		reply_code(sh, m, rcv, tc, 505);
	} else {
		stats_add(&sh->st.replied_400, 1);
		reply_code(sh, m, rcv, tc, 400);
	}
}

static void fill_rcv(struct sip_rcv *rcv, const struct sockaddr_storage *src, socklen_t len,
                     enum sip_transport tp)
{
	memset(rcv, 0, sizeof(*rcv));
	memcpy(&rcv->src, src, len < sizeof(rcv->src) ? len : sizeof(rcv->src));
	rcv->tp = tp;
	if (src->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)src)->sin_addr, rcv->src_ip,
		          sizeof(rcv->src_ip));
		rcv->src_port = ntohs(((const struct sockaddr_in *)src)->sin_port);
	} else if (src->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)src)->sin6_addr, rcv->src_ip,
		          sizeof(rcv->src_ip));
		rcv->src_port = ntohs(((const struct sockaddr_in6 *)src)->sin6_port);
	}
}

/* hot: per datagram */
static void on_datagram(struct io_udp *u, const struct sockaddr_storage *src, socklen_t srclen,
                        const uint8_t *data, uint32_t len)
{
	struct sip_shard *sh = u->arg;
	struct sip_rcv rcv;
	struct sip_msg m;
	int ret;

	if (mr_unlikely(sh->stopping))
		return;
	/* keep-alives (CRLF pings, RFC 5626) are not messages */
	if (len <= 4 && (len == 0 || data[0] == '\r' || data[0] == '\n'))
		return;
	fill_rcv(&rcv, src, srclen, SIP_TP_UDP);
	ret = sip_parse(&m, (const char *)data, len, false);
	on_message(sh, &m, ret, &rcv, NULL);
}

/* hot: per TCP segment; frames every complete message */
static int tcp_data(struct io_conn *c, const uint8_t *buf, uint32_t len)
{
	struct sip_tcp *t = mr_container_of(c, struct sip_tcp, io);
	struct sip_shard *sh = t->sh;
	struct sip_rcv rcv;
	uint32_t off = 0;
	bool framed = false;

	fill_rcv(&rcv, &c->peer, sizeof(c->peer), SIP_TP_TCP);
	while (off < len && !c->closing) {
		struct sip_msg m;
		int ret;

		while (off < len && (buf[off] == '\r' || buf[off] == '\n')) /* keep-alives */
			off++;
		if (off == len)
			break;
		ret = sip_parse(&m, (const char *)buf + off, len - off, true);
		if (ret == 0)
			break;
		if (ret < 0) { /* framing on a stream cannot be trusted after an error */
			on_message(sh, &m, ret, &rcv, t);
			io_conn_close_after_flush(c);
			return (int)len;
		}
		on_message(sh, &m, ret, &rcv, t);
		off += (uint32_t)ret;
		framed = true;
	}
	if (sh->cfg->max_message && len - off > sh->cfg->max_message && !c->closing) {
		/* a message that can only end larger than allowed: nothing to answer yet */
		stats_add(&sh->st.limit[SIP_LIM_MESSAGE_SIZE], 1);
		io_conn_close(c, -EMSGSIZE);
		return (int)len;
	}
	/* slowloris: the clock runs from the first byte of an incomplete message (from accept
	 * for the first one); a connection with nothing pending may idle */
	if (!t->outbound) {
		if (off == len)
			t->deadline_ms = 0;
		else if (framed || !t->deadline_ms)
			t->deadline_ms = c->loop->now_ms + sh->cfg->tcp_timeout_ms;
	}
	return (int)off;
}

static void tcp_close(struct io_conn *c, int reason)
{
	struct sip_tcp *t = mr_container_of(c, struct sip_tcp, io);
	struct sip_shard *sh = t->sh;

	(void)reason;
	if (t->guarded)
		sip_guard_put(sh->cfg->guard, SIP_GUARD_TCP, t->bucket);
	for (struct sip_tcp **pp = &sh->tcp_conns; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	stats_add(&sh->st.tcp_closed, 1);
	free(t);
}

/* A next hop over TCP that cannot be reached (refused, unreachable, timed out): what was queued
 * for it is lost, and counted (no crash, the stateless proxy has no copy to answer from). */
static void tcp_connected(struct io_conn *c, int res)
{
	struct sip_tcp *t = mr_container_of(c, struct sip_tcp, io);

	if (res < 0)
		stats_add(&t->sh->st.next_hop_tcp_failed, 1);
}

static const struct io_conn_ops tcp_ops = {
    .on_data = tcp_data, .on_connect = tcp_connected, .on_close = tcp_close};

static void on_accept(struct io_loop *l, struct io_listener *ls, int fd)
{
	struct sip_shard *sh = mr_container_of(l, struct sip_shard, loop);
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	uint32_t bucket = 0;
	struct sip_tcp *t;
	int ret;

	if (sh->cfg->guard && getpeername(fd, (struct sockaddr *)&ss, &sslen) == 0) {
		bucket = sip_guard_bucket(&ss);
		if (sip_guard_take(sh->cfg->guard, SIP_GUARD_TCP, bucket)) {
			stats_add(&sh->st.limit[SIP_LIM_TCP_PER_SOURCE], 1);
			close(fd);
			return;
		}
	} else if (sh->cfg->guard) {
		close(fd); /* already reset by its peer */
		return;
	}
	if (sh->stopping || !(t = tcp_new(sh))) {
		close(fd);
		goto unguard;
	}
	if (ls == &sh->tls_ls)
		ret = io_conn_init_tls(&t->io, l, fd, &tcp_ops, SIP_MAX_MSG + 1, 4u << 20,
		                       sh->cfg->tls);
	else
		ret = io_conn_init(&t->io, l, fd, &tcp_ops, SIP_MAX_MSG + 1, 4u << 20);
	if (ret) {
		close(fd);
		free(t);
		goto unguard;
	}
	t->guarded = sh->cfg->guard != NULL;
	t->bucket = bucket;
	if (sh->cfg->tcp_timeout_ms)
		t->deadline_ms = l->now_ms + sh->cfg->tcp_timeout_ms;
	t->next = sh->tcp_conns;
	sh->tcp_conns = t;
	stats_add(&sh->st.tcp_accepted, 1);
	return;
unguard:
	if (sh->cfg->guard)
		sip_guard_put(sh->cfg->guard, SIP_GUARD_TCP, bucket);
}

/* Once a second (or tcp_timeout_ms / 4): closes inbound connections whose message is late.
 * O(connections of this shard); the per-source cap bounds how many one host can hold. */
static void tcp_sweep(struct io_loop *l, struct io_timer *tm)
{
	struct sip_shard *sh = mr_container_of(tm, struct sip_shard, tcp_timer);
	unsigned period = sh->cfg->tcp_timeout_ms / 4;

	for (struct sip_tcp *t = sh->tcp_conns; t; t = t->next)
		if (!t->outbound && t->deadline_ms && t->deadline_ms <= l->now_ms &&
		    !t->io.closing) {
			stats_add(&sh->st.limit[SIP_LIM_TCP_SLOW], 1);
			io_conn_close(&t->io, -ETIMEDOUT);
		}
	io_timer_arm(l, tm, tcp_sweep, period > 1000 ? 1000 : period ? period : 1);
}

/* ---- loop hooks -------------------------------------------------------------------------------
 */

static void stop_fire(struct io_loop *l, struct io_timer *t)
{
	(void)t;
	mr_warn("msg=\"shard stop deadline: requests still parked\" shard=%u", l->id);
	l->stop = true;
}

static void poll_answers(struct sip_shard *sh)
{
	struct dia_pool_req *reqs[POLL_BATCH];
	unsigned n;

	do {
		n = dia_pool_poll(sh->cfg->pool, sh->id, reqs, POLL_BATCH);
		for (unsigned i = 0; i < n; i++)
			on_maa(sh, reqs[i]);
	} while (n == POLL_BATCH);
}

/* The loop may end once nothing is parked (and, on the pool's host, the pool has said DPR and
 * seen its connections go). */
static void maybe_end(struct io_loop *l, struct sip_shard *sh)
{
	if (sh->stopping && sh->st.pending_gauge == 0 &&
	    (!sh->host || dia_pool_host_done(sh->cfg->pool)))
		l->stop = true;
}

static void on_turn(struct io_loop *l, void *arg)
{
	struct sip_shard *sh = arg;

	atomic_store_explicit(&sh->turns,
	                      atomic_load_explicit(&sh->turns, memory_order_relaxed) + 1,
	                      memory_order_release);
	if (sh->host) {
		/* the pool runs here: its answers for us are a poll, our MARs a drain, in the
		 * same turn; no eventfd either way */
		sh->kick = false;
		do
			poll_answers(sh);
		while (dia_pool_host_turn(sh->cfg->pool));
		maybe_end(l, sh);
	} else if (sh->kick) { /* one wake-up of the pool per turn, however many MARs were queued */
		sh->kick = false;
		dia_pool_kick(sh->cfg->pool);
	}
}

static void on_wake(struct io_loop *l, void *arg)
{
	struct sip_shard *sh = arg;

	poll_answers(sh);
	if (atomic_load(&sh->stop_requested) && !sh->stopping) {
		sh->stopping = true;
		io_timer_arm(l, &sh->stop_timer, stop_fire, STOP_WAIT_MS);
		if (sh->tcp_ls.fd >= 0) {
			close(sh->tcp_ls.fd);
			sh->tcp_ls.fd = -1;
		}
		if (sh->tls_ls.fd >= 0) {
			close(sh->tls_ls.fd);
			sh->tls_ls.fd = -1;
		}
	}
	maybe_end(l, sh);
}

static int tls_listen(struct sip_shard *sh)
{
	const struct sip_shard_cfg *cfg = sh->cfg;

	sh->tls_ls.fd = io_tcp_listen(cfg->tls_addr, cfg->tls_port, 1024);
	if (sh->tls_ls.fd < 0) {
		mr_err("msg=\"cannot listen on SIP TLS\" addr=%s port=%u err=%d", cfg->tls_addr,
		       cfg->tls_port, sh->tls_ls.fd);
		return sh->tls_ls.fd;
	}
	sh->tls_ls.on_accept = on_accept;
	return io_listener_start(&sh->loop, &sh->tls_ls);
}

int sip_shard_init(struct sip_shard *sh, unsigned id, const struct sip_shard_cfg *cfg)
{
	struct pend_table *t;
	uint32_t n = 16, slab = cfg->max_pending ? cfg->max_pending : 65536;
	int ret;

	memset(sh, 0, sizeof(*sh));
	sh->id = id;
	sh->cfg = cfg;
	sh->tcp_ls.fd = -1;
	sh->tls_ls.fd = -1;
	while (n < slab * 2)
		n <<= 1;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->slab = calloc(slab, sizeof(*t->slab));
	t->index = calloc(n, sizeof(*t->index));
	if (!t->slab || !t->index) {
		free(t->slab);
		free(t->index);
		free(t);
		return -ENOMEM;
	}
	t->nslab = slab;
	for (uint32_t i = slab; i > 0; i--) {
		t->slab[i - 1].next_free = t->free_head;
		t->free_head = i;
	}
	sh->pend = (struct sip_pend *)(void *)t;
	sh->pend_mask = n - 1;
	if (cfg->ha1_cache.enabled) {
		ret = sip_authcache_create(&cfg->ha1_cache, &sh->ac);
		if (ret)
			return ret;
	}
	ret = io_loop_init(&sh->loop, id, 4096);
	if (ret)
		return ret;
	io_loop_batch_or_warn(&sh->loop, cfg->batch_us);
	io_loop_set_slice(&sh->loop, cfg->slice_us);
	sh->loop.on_wake = on_wake;
	sh->loop.wake_arg = sh;
	sh->loop.on_turn = on_turn;
	sh->loop.turn_arg = sh;
	ret = io_udp_open(&sh->udp, &sh->loop, cfg->listen_addr, cfg->listen_port, 1,
	                  cfg->udp_bufs ? cfg->udp_bufs : 4096, 65536 + 256,
	                  cfg->udp_slots ? cfg->udp_slots : 1024, SIP_MAX_MSG + OUT_EXTRA,
	                  on_datagram, sh);
	if (ret) {
		mr_err("msg=\"cannot open SIP UDP\" addr=%s port=%u err=%d", cfg->listen_addr,
		       cfg->listen_port, ret);
		return ret;
	}
	if (cfg->tcp) {
		sh->tcp_ls.fd = io_tcp_listen(cfg->listen_addr, cfg->listen_port, 1024);
		if (sh->tcp_ls.fd < 0) {
			mr_err("msg=\"cannot listen on SIP TCP\" addr=%s port=%u err=%d",
			       cfg->listen_addr, cfg->listen_port, sh->tcp_ls.fd);
			return sh->tcp_ls.fd;
		}
		sh->tcp_ls.on_accept = on_accept;
		ret = io_listener_start(&sh->loop, &sh->tcp_ls);
	}
	if (!ret && cfg->tls)
		ret = tls_listen(sh);
	if (!ret && (cfg->tcp || cfg->tls) && cfg->tcp_timeout_ms) /* slowloris, TLS too */
		io_timer_arm(&sh->loop, &sh->tcp_timer, tcp_sweep, 100);
	return ret;
}

static void *shard_main(void *arg)
{
	struct sip_shard *sh = arg;
	int ret;

	sh->host = dia_pool_host_shard(sh->cfg->pool) == (int)sh->id;
	ret = io_loop_run(&sh->loop);
	if (ret)
		mr_err("msg=\"shard loop failed\" shard=%u err=%d", sh->id, ret);
	if (sh->host) /* whatever the pool still had, dia_pool_stop() takes it from here */
		dia_pool_host_exit(sh->cfg->pool);
	return NULL;
}

int sip_shard_start(struct sip_shard *sh)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;
	int ret = -pthread_create(&sh->th, NULL, shard_main, sh);

	if (ret || cpus <= 1)
		return ret;
	/* one shard per core: pinned, so its ring, socket and caches stay on that core */
	CPU_ZERO(&set);
	CPU_SET(sh->id % (unsigned)cpus, &set);
	if (pthread_setaffinity_np(sh->th, sizeof(set), &set))
		mr_warn("msg=\"cannot pin shard\" shard=%u", sh->id);
	return 0;
}

void sip_shard_stop(struct sip_shard *sh)
{
	atomic_store(&sh->stop_requested, true);
	io_loop_wake(&sh->loop);
}

void sip_shard_join(struct sip_shard *sh)
{
	pthread_join(sh->th, NULL);
}

void sip_shard_fini(struct sip_shard *sh)
{
	struct pend_table *t = ptab(sh);

	io_loop_fini(&sh->loop);
	io_udp_close(&sh->udp);
	while (sh->tcp_conns) {
		struct sip_tcp *x = sh->tcp_conns;

		sh->tcp_conns = x->next;
		close(x->io.fd);
		free(x->io.rx);
		free(x->io.out);
		free(x->io.fl);
		free(x);
	}
	if (t) {
		for (uint32_t i = 0; i < t->nslab; i++)
			free(t->slab[i].msg);
		free(t->slab);
		free(t->index);
		free(t);
	}
	sh->pend = NULL;
	sip_authcache_destroy(sh->ac);
	sh->ac = NULL;
}

int sip_shard_set_rules(struct sip_shard *shards, unsigned n, struct sip_shard_cfg *cfg,
                        const struct sip_proxy_cfg *px, const struct sip_proxy_cfg **old)
{
	uint64_t seen[256];
	unsigned waited = 0;

	if (n > MR_ARRAY_SIZE(seen))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		seen[i] = atomic_load_explicit(&shards[i].turns, memory_order_acquire);
	*old = atomic_exchange_explicit(&cfg->px, px, memory_order_acq_rel);
	/* a shard that started a turn before the swap may still hold the old pointer: wait until
	 * each has begun a new turn (they turn at least once a second, on their timer tick) */
	for (unsigned i = 0; i < n; i++) {
		while (atomic_load_explicit(&shards[i].turns, memory_order_acquire) < seen[i] + 2) {
			struct timespec ts = {0, 10 * 1000 * 1000};

			if (++waited > 300)
				return -ETIMEDOUT;
			io_loop_wake(&shards[i].loop);
			nanosleep(&ts, NULL);
		}
	}
	return 0;
}

static const unsigned code_slots[SIP_SHARD_CODES - 1] = {400, 403, 404, 407, 416, 420,
                                                         482, 483, 500, 503, 505, 513};

unsigned sip_shard_code_slot(unsigned code)
{
	for (unsigned i = 0; i < MR_ARRAY_SIZE(code_slots); i++)
		if (code_slots[i] == code)
			return i;
	return SIP_SHARD_CODES - 1;
}

unsigned sip_shard_code_of_slot(unsigned slot)
{
	return slot < MR_ARRAY_SIZE(code_slots) ? code_slots[slot] : 0;
}

static const uint32_t result_slots[SIP_SHARD_RESULTS - 1] = {
    1001, 2001, 2006, 2008, 3002, 3004, 4001, 4013, 5001, 5005, 5012, 5032, 5037};

unsigned sip_shard_result_slot(uint32_t rc)
{
	for (unsigned i = 0; i < MR_ARRAY_SIZE(result_slots); i++)
		if (result_slots[i] == rc)
			return i;
	return SIP_SHARD_RESULTS - 1;
}

uint32_t sip_shard_result_of_slot(unsigned slot)
{
	return slot < MR_ARRAY_SIZE(result_slots) ? result_slots[slot] : 0;
}

/* SPDX-License-Identifier: MIT
 * bench_mar.c - mara-bench's mar flow: no SIP, the proxy's half of RFC 4740 §6.4 Figure 4
 * played straight at mara-aaa: per thread a few TCP connections (CER/CEA), then pipelined
 * MAR #1 (no credentials) -> 2008 challenge -> MAR #2 with digest credentials -> 2006.
 * Owns: the connections of each thread. Thread: the generator thread.
 * MARs are encoded with dia_sipcli_encode_mar() (the proxy's own encoder) straight into the
 * connection's output buffer; answers are matched by hop-by-hop id = slot | generation.
 * --method, --server-uri and --empty-authz shape the MARs for servers with their own
 * expectations (freeDiameter's app_sip: REGISTER only, SIP-Server-URI, an empty
 * SIP-Authorization in MAR #1); a MAA counts in mars_ok when it is the expected step. */
#include "bench.h"

#include "dia.h"
#include "dia_sipcli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAR_MAX   2048
#define HBH_SLOTS 18 /* table slots < 2^18; the generation fills the rest of the id */

struct bench_dconn {
	struct io_conn c;
	struct bench_thread *t;
	unsigned idx;
	bool live; /* connect() issued, on_close not yet called */
	bool ready;
	/* Origin-Host "bench-<run>-<thread>-<conn>.test": mara-aaa replaces a second connection
	 * of the same peer (RFC 6733 §5.6.4), so every connection is a peer of its own */
	char host[64];
	struct dia_ident ident;
};

static struct mr_str dest_realm(const struct bench_thread *t)
{
	return mr_str_c(t->cfg->realm[0] ? t->cfg->realm : "example.com");
}

static uint32_t hbh_of(const struct bench_thread *t, const struct bench_call *c)
{
	return (uint32_t)(c - t->calls) | (c->gen << HBH_SLOTS);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Encodes MAR #1 (@cred NULL) or #2 for @c on its connection and queues it. */
static int send_mar(struct bench_thread *t, struct bench_call *c, const struct auth_digest *cred)
{
	struct bench_dconn *dc = &t->dconns[c->sock];
	struct dia_sipcli_mar m = {0};
	struct auth_digest empty;
	char sid[96];
	struct dia_enc e;
	uint8_t *p;
	int n;

	if (!dc->ready)
		return -ENOTCONN;
	p = io_conn_tx_reserve(&dc->c, MAR_MAX);
	if (!p)
		return -ENOBUFS;
	n = snprintf(sid, sizeof(sid), "%s;%u;%u", dc->host, (unsigned)(c - t->calls), c->gen);
	m.session_id = mr_str_make(sid, (size_t)n);
	m.aor = mr_str_c(t->aor);
	m.method = mr_str_c(t->cfg->method);
	if (!cred && t->cfg->empty_authz) {
		/* app_sip's first round: the user, realm and URI, nonce and response empty, no
		 * cnonce (its sign of a first round) */
		empty = (struct auth_digest){.username = mr_str_c(t->cfg->user),
		                             .realm = dest_realm(t),
		                             .uri = mr_str_c(t->ruri)};
		cred = &empty;
	}
	m.cred = cred;
	dia_enc_init(&e, p, MAR_MAX);
	n = dia_sipcli_encode_mar(&e, &dc->ident, dest_realm(t), &m);
	if (n > 0 && t->cfg->server_uri[0]) {
		/* after the encoder's AVPs: a MAR's AVP order is free past the Session-Id */
		dia_enc_avp_str(&e, DIA_AVP_SIP_SERVER_URI, DIA_AVP_F_M,
		                mr_str_c(t->cfg->server_uri));
		n = dia_enc_finish(&e);
	}
	if (n < 0)
		return n;
	c->hbh = hbh_of(t, c);
	put_be32(p + 12, c->hbh);
	put_be32(p + 16, t->e2e++);
	io_conn_tx_commit(&dc->c, (uint32_t)n);
	c->t_req = bench_now_us();
	c->deadline = t->loop.now_ms + (uint64_t)(t->cfg->timeout_s * 1000);
	c->rtx_due = 0;
	bench_timer_arm(t, c);
	if (bench_measuring(t))
		mr_count(&t->st.sent, 1);
	return 0;
}

int bench_mar_start(struct bench_thread *t, struct bench_call *c)
{
	c->sock = (uint8_t)((uint32_t)(c - t->calls) % t->ndconns);
	c->state = BENCH_S_MAR1;
	return send_mar(t, c, NULL);
}

void bench_mar_timer(struct bench_thread *t, struct bench_call *c)
{
	if (t->loop.now_ms >= c->deadline)
		bench_call_end(t, c, BENCH_F_TIMEOUT, 0);
	else
		bench_timer_arm(t, c);
}

bool bench_mar_ready(struct bench_thread *t)
{
	return t->dready == t->ndconns;
}

/* MAR #2: the UA's digest over the challenge's nonce (nc 1, qop auth). */
static int answer_challenge(struct bench_thread *t, struct bench_call *c,
                            const struct dia_sipcli_challenge *ch)
{
	char resp[AUTH_HEX_MAX + 1], cnonce[24];
	struct mr_str realm = t->cfg->realm[0] ? mr_str_c(t->cfg->realm) : ch->realm;
	struct auth_digest d = {0};
	int alg = auth_alg_parse(ch->algorithm), n;

	if (alg < 0 || bench_ha1(t, realm, (enum auth_alg)alg))
		return -EINVAL;
	n = snprintf(cnonce, sizeof(cnonce), "%xx%x", (unsigned)(c - t->calls), c->gen);
	d.username = mr_str_c(t->cfg->user);
	d.realm = realm;
	d.nonce = ch->nonce;
	d.uri = mr_str_c(t->ruri);
	d.algorithm = mr_str_c(auth_alg_name((enum auth_alg)alg));
	d.cnonce = mr_str_make(cnonce, (size_t)n);
	d.nc = MR_STR_LIT("00000001");
	d.qop = MR_STR_LIT("auth");
	d.method = mr_str_c(t->cfg->method);
	n = auth_digest_response(&t->hash, &d, mr_str_c(t->ha1), false, resp);
	if (n < 0)
		return n;
	d.response = mr_str_make(resp, (size_t)n);
	c->state = BENCH_S_MAR2;
	return send_mar(t, c, &d);
}

static void on_maa(struct bench_thread *t, const struct dia_msg *msg)
{
	uint32_t slot = msg->hdr.hbh & ((1u << HBH_SLOTS) - 1);
	struct bench_call *c = slot < t->ncalls ? &t->calls[slot] : NULL;
	struct dia_sipcli_result r;

	if (!c || (c->state != BENCH_S_MAR1 && c->state != BENCH_S_MAR2) ||
	    c->hbh != msg->hdr.hbh) {
		t->st.stray++;
		return;
	}
	if (dia_sipcli_decode_maa(msg, &r)) {
		if (bench_measuring(t))
			mr_count(&t->st.mars, 1);
		bench_call_end(t, c, BENCH_F_PARSE, 0);
		return;
	}
	if (bench_measuring(t)) {
		mr_count(&t->st.mars, 1);
		if (r.result_code < BENCH_STATUS_MAX)
			t->st.mar_rc[r.result_code]++;
		/* the unit of MAR/s: a MAR answered as the flow expects (a fresh challenge to
		 * MAR #1, an authorization to MAR #2); a stale re-challenge is not */
		if (c->state == BENCH_S_MAR1 ? r.outcome == DIA_SIPCLI_CHALLENGE && !r.chal.stale
		                             : r.outcome == DIA_SIPCLI_AUTHORIZED)
			mr_count(&t->st.mars_ok, 1);
	}
	if (c->state == BENCH_S_MAR1) {
		if (r.outcome != DIA_SIPCLI_CHALLENGE) {
			bench_call_end(t, c,
			               r.outcome == DIA_SIPCLI_REFUSED ? BENCH_F_403 : BENCH_F_DIA,
			               r.result_code);
			return;
		}
		if (c->measured)
			bench_hist_add(&t->st.lat[BENCH_L_CHALLENGE], bench_now_us() - c->t_req);
		if (answer_challenge(t, c, &r.chal))
			bench_call_end(t, c, BENCH_F_INTERNAL, 0);
		return;
	}
	if (r.outcome == DIA_SIPCLI_CHALLENGE && r.chal.stale) {
		/* the nonce expired, or the server's bounded replay table could no longer vouch
		 * for it: a UA answers the fresh challenge (RFC 2617 §3.2.1) */
		if (++c->stale > BENCH_STALE_MAX) {
			bench_call_end(t, c, BENCH_F_STALE, r.result_code);
			return;
		}
		mr_count(&t->st.stale, 1);
		if (answer_challenge(t, c, &r.chal))
			bench_call_end(t, c, BENCH_F_INTERNAL, 0);
		return;
	}
	if (r.outcome == DIA_SIPCLI_AUTHORIZED) {
		if (c->measured)
			bench_hist_add(&t->st.lat[BENCH_L_AUTH], bench_now_us() - c->t_req);
		bench_call_end(t, c, -1, 0);
		return;
	}
	bench_call_end(t, c, r.outcome == DIA_SIPCLI_REFUSED ? BENCH_F_403 : BENCH_F_DIA,
	               r.result_code);
}

static uint32_t result_code(const struct dia_msg *m)
{
	struct dia_avp a;
	uint32_t v = 0;

	if (dia_msg_find(m, DIA_AVP_RESULT_CODE, 0, &a) > 0)
		dia_avp_u32(&a, &v);
	return v;
}

/* Answers a request of the server (DWR, DPR) with 2001. */
static void answer(struct bench_dconn *dc, const struct dia_msg *req)
{
	uint8_t *p = io_conn_tx_reserve(&dc->c, 512);
	struct dia_enc e;
	int n;

	if (!p)
		return;
	dia_enc_init(&e, p, 512);
	dia_enc_answer_hdr(&e, req, &dc->ident, DIA_RC_SUCCESS);
	n = dia_enc_finish(&e);
	if (n > 0)
		io_conn_tx_commit(&dc->c, (uint32_t)n);
}

static int on_data(struct io_conn *ic, const uint8_t *buf, uint32_t len)
{
	struct bench_dconn *dc = mr_container_of(ic, struct bench_dconn, c);
	struct bench_thread *t = dc->t;
	uint32_t used = 0;

	while (used < len) {
		int n = dia_frame(buf + used, len - used, 1u << 20);
		struct dia_msg m;

		if (n == 0)
			break;
		if (n < 0 || dia_msg_init(&m, buf + used, (uint32_t)n))
			return -EBADMSG;
		used += (uint32_t)n;
		if (bench_measuring(t))
			mr_count(&t->st.received, 1);
		if (m.hdr.flags & DIA_FLAG_R) {
			answer(dc, &m);
			if (m.hdr.code == DIA_CMD_DP)
				io_conn_close_after_flush(ic);
			continue;
		}
		if (m.hdr.code == DIA_CMD_CE) {
			if (result_code(&m) != DIA_RC_SUCCESS) {
				fprintf(stderr, "mara-bench: CER refused (Result-Code %u)\n",
				        result_code(&m));
				return -EACCES;
			}
			if (!dc->ready) {
				dc->ready = true;
				t->dready++;
			}
			continue;
		}
		if (m.hdr.code == DIA_CMD_MA)
			on_maa(t, &m);
	}
	return (int)used;
}

static void on_connect(struct io_conn *ic, int res)
{
	struct bench_dconn *dc = mr_container_of(ic, struct bench_dconn, c);
	struct sockaddr_storage lo = ic->local;
	uint8_t *p;
	struct dia_enc e;
	int n;

	if (res < 0) {
		fprintf(stderr, "mara-bench: connect to %s:%u: %s\n", dc->t->cfg->target_host,
		        dc->t->cfg->target_port, strerror(-res));
		return;
	}
	p = io_conn_tx_reserve(ic, 1024);
	if (!p) {
		io_conn_close(ic, -ENOBUFS);
		return;
	}
	dia_enc_init(&e, p, 1024);
	dia_enc_hdr(&e, DIA_FLAG_R, DIA_CMD_CE, 0, dc->t->e2e, dc->t->e2e);
	dc->t->e2e++;
	dia_enc_avp_str(&e, DIA_AVP_ORIGIN_HOST, DIA_AVP_F_M, dc->ident.host);
	dia_enc_avp_str(&e, DIA_AVP_ORIGIN_REALM, DIA_AVP_F_M, dc->ident.realm);
	dia_enc_avp_addr(&e, DIA_AVP_HOST_IP_ADDRESS, DIA_AVP_F_M, (struct sockaddr *)&lo);
	dia_enc_avp_u32(&e, DIA_AVP_VENDOR_ID, DIA_AVP_F_M, 0);
	dia_enc_avp_str(&e, DIA_AVP_PRODUCT_NAME, 0, MR_STR_LIT("mara-bench"));
	dia_enc_avp_u32(&e, DIA_AVP_ORIGIN_STATE_ID, DIA_AVP_F_M, dc->ident.state_id);
	dia_enc_avp_u32(&e, DIA_AVP_AUTH_APPLICATION_ID, DIA_AVP_F_M, DIA_APP_SIP);
	n = dia_enc_finish(&e);
	if (n < 0) {
		io_conn_close(ic, n);
		return;
	}
	io_conn_tx_commit(ic, (uint32_t)n);
}

static void on_close(struct io_conn *ic, int reason)
{
	struct bench_dconn *dc = mr_container_of(ic, struct bench_dconn, c);
	struct bench_thread *t = dc->t;

	dc->live = false;
	if (dc->ready) {
		dc->ready = false;
		t->dready--;
	}
	/* the flows on this connection cannot finish: fail them, start nothing more */
	for (uint32_t i = 0; i < t->ncalls; i++) {
		struct bench_call *c = &t->calls[i];

		if ((c->state == BENCH_S_MAR1 || c->state == BENCH_S_MAR2) && c->sock == dc->idx)
			bench_call_end(t, c, BENCH_F_CONN, 0);
	}
	if (!t->no_more && !t->loop.stop) {
		fprintf(stderr, "mara-bench: Diameter connection %u/%u closed (%s)\n", t->id,
		        dc->idx, reason ? strerror(-reason) : "locally");
		if (!t->error)
			t->error = reason ? reason : -ECONNRESET;
	}
	t->no_more = true;
}

static const struct io_conn_ops dconn_ops = {
    .on_data = on_data,
    .on_connect = on_connect,
    .on_close = on_close,
};

int bench_mar_setup(struct bench_thread *t)
{
	const struct bench_cfg *cfg = t->cfg;
	int ret;

	if (cfg->table > (1u << HBH_SLOTS))
		return -E2BIG;
	if (strcmp(cfg->method, "REGISTER") == 0) {
		/* as mara-proxy asks for a REGISTER: the AOR is the To URI (the user's own), the
		 * digest uri the Request-URI */
		snprintf(t->ruri, sizeof(t->ruri), "sip:%s", cfg->domain);
		snprintf(t->aor, sizeof(t->aor), "sip:%s@%s", cfg->user, cfg->domain);
	} else {
		snprintf(t->ruri, sizeof(t->ruri), "sip:%s@%s", cfg->callee, cfg->domain);
		snprintf(t->aor, sizeof(t->aor), "sip:%s@%s", cfg->callee, cfg->domain);
	}
	t->dconns = calloc(cfg->conns, sizeof(*t->dconns));
	if (!t->dconns)
		return -ENOMEM;
	t->e2e = t->run_id ^ (t->id << 24);
	for (unsigned i = 0; i < cfg->conns; i++) {
		struct bench_dconn *dc = &t->dconns[i];

		dc->t = t;
		dc->idx = i;
		snprintf(dc->host, sizeof(dc->host), "bench-%08x-%u-%u.test", t->run_id, t->id, i);
		dc->ident = (struct dia_ident){mr_str_c(dc->host), MR_STR_LIT("test"), t->run_id};
		ret = io_conn_connect(&dc->c, &t->loop, (const struct sockaddr *)&cfg->target,
		                      cfg->target_len, &dconn_ops, 1u << 20, 64u << 20);
		if (ret)
			return ret;
		dc->live = true;
		t->ndconns = i + 1;
	}
	return 0;
}

/* After io_loop_fini(): the ring is gone, so buffers of connections still open are ours. */
void bench_mar_teardown(struct bench_thread *t)
{
	for (unsigned i = 0; t->dconns && i < t->ndconns; i++) {
		struct io_conn *c = &t->dconns[i].c;

		if (!t->dconns[i].live)
			continue;
		if (c->fd >= 0)
			close(c->fd);
		free(c->rx);
		free(c->out);
		free(c->fl);
	}
	free(t->dconns);
	t->dconns = NULL;
	t->ndconns = 0;
}

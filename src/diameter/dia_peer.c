/* SPDX-License-Identifier: MIT
 * dia_peer.c - Diameter peer connections: framing, CER/CEA, watchdog, DPR/DPA, election.
 * Owns: each dia_conn's protocol state; the memory is its owner's (on_free).
 * Thread: a connection's loop; the peer table under its mutex. */
#include "dia_peer.h"

#include "io_tls.h"

#include "mr_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define CER_MAX 1024

static const struct io_conn_ops peer_io_ops;

const char *dia_peer_state_name(enum dia_peer_state s)
{
	static const char *const names[] = {"connecting", "wait-cea", "wait-cer",
	                                    "open",       "closing",  "closed"};

	return (unsigned)s < MR_ARRAY_SIZE(names) ? names[s] : "?";
}

bool dia_conn_usable(const struct dia_conn *pc)
{
	return pc->state == DIA_PS_OPEN && pc->wd == DIA_WD_OKAY;
}

/* ---- peer table ------------------------------------------------------------------------ */

int dia_peer_table_init(struct dia_peer_table *t)
{
	memset(t, 0, sizeof(*t));
	return -pthread_mutex_init(&t->lock, NULL);
}

unsigned dia_peer_table_open(struct dia_peer_table *t)
{
	unsigned n = 0;

	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < DIA_TABLE_MAX; i++)
		n += t->ent[i].conn && t->ent[i].open;
	pthread_mutex_unlock(&t->lock);
	return n;
}

bool dia_peer_table_has_open(struct dia_peer_table *t, const char *host)
{
	bool found = false;

	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < DIA_TABLE_MAX && !found; i++)
		found = t->ent[i].conn && t->ent[i].open && strcmp(t->ent[i].host, host) == 0;
	pthread_mutex_unlock(&t->lock);
	return found;
}

static int table_add(struct dia_peer_table *t, struct dia_conn *pc, const char *host, bool open)
{
	for (unsigned i = 0; i < DIA_TABLE_MAX; i++) {
		if (t->ent[i].conn)
			continue;
		t->ent[i].conn = pc;
		snprintf(t->ent[i].host, sizeof(t->ent[i].host), "%s", host);
		t->ent[i].fd = pc->io.fd;
		t->ent[i].initiator = pc->initiator;
		t->ent[i].open = open;
		return 0;
	}
	return -ENOSPC;
}

static void table_del(struct dia_peer_table *t, struct dia_conn *pc)
{
	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < DIA_TABLE_MAX; i++)
		if (t->ent[i].conn == pc)
			t->ent[i].conn = NULL;
	pthread_mutex_unlock(&t->lock);
}

/* Election (RFC 6733 §5.6.4) and duplicates, at the moment @pc is about to open with @host.
 * The surviving connection is the one initiated by the higher identity; a second responder
 * connection from the same peer replaces the first (the peer lost its old one). The losing
 * connection of another loop is shut down by fd: its own loop sees the close and cleans up
 * (entries leave the table before their fd is closed, so the fd is still ours here).
 * Returns true when @pc may open, false when @pc itself lost. */
static bool table_open(struct dia_conn *pc, const char *host)
{
	struct dia_peer_table *t = pc->cfg->table;
	int cmp = strcmp(pc->cfg->id.host.p, host);
	bool ok = true;

	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < DIA_TABLE_MAX && ok; i++) {
		struct dia_conn *o = t->ent[i].conn;
		bool o_wins;

		if (!o || o == pc || strcmp(t->ent[i].host, host) != 0)
			continue;
		if (t->ent[i].initiator == pc->initiator) {
			if (pc->initiator) /* a second outgoing one: keep the first */
				ok = false;
			else { /* a peer reconnected: the new one replaces */
				mr_count(&pc->st->duplicates, 1);
				shutdown(t->ent[i].fd, SHUT_RDWR);
				t->ent[i].conn = NULL;
			}
			continue;
		}
		/* one initiated by us, one by them: the higher identity's initiative wins */
		o_wins = t->ent[i].initiator ? cmp > 0 : cmp < 0;
		if (o_wins) {
			mr_count(&pc->st->elections_lost, 1);
			ok = false;
		} else {
			mr_count(&pc->st->elections_won, 1);
			shutdown(t->ent[i].fd, SHUT_RDWR);
			t->ent[i].conn = NULL;
		}
	}
	if (ok) {
		bool found = false;

		for (unsigned i = 0; i < DIA_TABLE_MAX; i++)
			if (t->ent[i].conn == pc) {
				t->ent[i].open = true;
				snprintf(t->ent[i].host, sizeof(t->ent[i].host), "%s", host);
				found = true;
			}
		if (!found && table_add(t, pc, host, true))
			ok = false;
	}
	pthread_mutex_unlock(&t->lock);
	return ok;
}

/* ---- sending ----------------------------------------------------------------------------- */

uint32_t dia_conn_next_hbh(struct dia_conn *pc)
{
	return pc->next_hbh++;
}

uint32_t dia_conn_next_e2e(struct dia_conn *pc)
{
	return pc->e2e++;
}

int dia_conn_begin(struct dia_conn *pc, struct dia_enc *e, uint32_t max)
{
	uint8_t *p = io_conn_tx_reserve(&pc->io, max);

	if (!p)
		return -ENOBUFS;
	dia_enc_init(e, p, max);
	return 0;
}

int dia_conn_end(struct dia_conn *pc, struct dia_enc *e)
{
	int len = dia_enc_finish(e);

	if (len < 0)
		return len;
	dia_conn_commit(pc, (uint32_t)len);
	return len;
}

void dia_conn_commit(struct dia_conn *pc, uint32_t len)
{
	io_conn_tx_commit(&pc->io, len);
	mr_count(&pc->st->tx_msgs, 1);
}

static void put_ident(struct dia_conn *pc, struct dia_enc *e)
{
	dia_enc_avp_str(e, DIA_AVP_ORIGIN_HOST, DIA_AVP_F_M, pc->cfg->id.host);
	dia_enc_avp_str(e, DIA_AVP_ORIGIN_REALM, DIA_AVP_F_M, pc->cfg->id.realm);
}

/* CER and CEA share their capability AVPs (RFC 6733 §5.3). */
static void put_caps(struct dia_conn *pc, struct dia_enc *e)
{
	const struct dia_peer_cfg *cfg = pc->cfg;

	dia_enc_avp_addr(e, DIA_AVP_HOST_IP_ADDRESS, DIA_AVP_F_M,
	                 (const struct sockaddr *)&pc->io.local);
	dia_enc_avp_u32(e, DIA_AVP_VENDOR_ID, DIA_AVP_F_M, 0);
	dia_enc_avp_str(e, DIA_AVP_PRODUCT_NAME, 0, mr_str_c(cfg->product));
	dia_enc_avp_u32(e, DIA_AVP_ORIGIN_STATE_ID, DIA_AVP_F_M, cfg->id.state_id);
	for (unsigned i = 0; i < cfg->napps; i++)
		dia_enc_avp_u32(e, DIA_AVP_AUTH_APPLICATION_ID, DIA_AVP_F_M, cfg->apps[i]);
	dia_enc_avp_u32(e, DIA_AVP_INBAND_SECURITY_ID, DIA_AVP_F_M, 0);
	dia_enc_avp_u32(e, DIA_AVP_FIRMWARE_REVISION, 0, cfg->firmware);
}

static int send_simple_req(struct dia_conn *pc, uint32_t code, uint32_t cause)
{
	struct dia_enc e;
	int ret = dia_conn_begin(pc, &e, CER_MAX);

	if (ret)
		return ret;
	dia_enc_hdr(&e, DIA_FLAG_R, code, 0, dia_conn_next_hbh(pc), dia_conn_next_e2e(pc));
	put_ident(pc, &e);
	if (code == DIA_CMD_CE)
		put_caps(pc, &e);
	else if (code == DIA_CMD_DW)
		dia_enc_avp_u32(&e, DIA_AVP_ORIGIN_STATE_ID, DIA_AVP_F_M, pc->cfg->id.state_id);
	else if (code == DIA_CMD_DP)
		dia_enc_avp_u32(&e, DIA_AVP_DISCONNECT_CAUSE, DIA_AVP_F_M, cause);
	ret = dia_conn_end(pc, &e);
	return ret < 0 ? ret : 0;
}

/* An answer to a base request (CEA, DWA, DPA) with @rc. */
static int send_base_answer(struct dia_conn *pc, const struct dia_msg *req, uint32_t rc)
{
	struct dia_enc e;
	int ret = dia_conn_begin(pc, &e, CER_MAX);

	if (ret)
		return ret;
	dia_enc_answer_hdr(&e, req, &pc->cfg->id, rc);
	if (req->hdr.code == DIA_CMD_CE)
		put_caps(pc, &e);
	else if (req->hdr.code == DIA_CMD_DW)
		dia_enc_avp_u32(&e, DIA_AVP_ORIGIN_STATE_ID, DIA_AVP_F_M, pc->cfg->id.state_id);
	ret = dia_conn_end(pc, &e);
	return ret < 0 ? ret : 0;
}

static int send_error(struct dia_conn *pc, const struct dia_msg *req, const struct dia_error *err)
{
	struct dia_enc e;
	int ret = dia_conn_begin(pc, &e, req->len + CER_MAX);

	if (ret)
		return ret;
	ret = dia_enc_error_answer(&e, req, &pc->cfg->id, err);
	if (ret < 0)
		return ret;
	dia_conn_commit(pc, (uint32_t)ret);
	return 0;
}

/* ---- watchdog (RFC 3539) ----------------------------------------------------------------- */

static uint32_t rnd(struct dia_conn *pc)
{
	uint32_t x = pc->rng; /* xorshift32: jitter only, not security */

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	pc->rng = x;
	return x;
}

static void wd_fire(struct io_loop *l, struct io_timer *t);

static void wd_arm(struct dia_conn *pc)
{
	unsigned tw = pc->cfg->tw_ms, j = rnd(pc) % 4001; /* Tw +- 2 s, >= 6 s (RFC 3539) */
	uint64_t d = (uint64_t)tw + j;

	d = d > 2000 ? d - 2000 : 0;
	if (d < 6000 && tw >= 6000)
		d = 6000;
	io_timer_arm(pc->io.loop, &pc->wd_timer, wd_fire, d);
}

static void set_wd(struct dia_conn *pc, enum dia_wd_state s)
{
	if (pc->wd == s)
		return;
	pc->wd = s;
	mr_info("msg=\"watchdog\" peer=%s state=%s", pc->peer_host,
	        s == DIA_WD_OKAY      ? "okay"
	        : s == DIA_WD_SUSPECT ? "suspect"
	                              : "reopen");
	if (pc->cfg->app->on_state)
		pc->cfg->app->on_state(pc);
}

static void wd_fire(struct io_loop *l, struct io_timer *t)
{
	struct dia_conn *pc = mr_container_of(t, struct dia_conn, wd_timer);

	(void)l;
	if (pc->state != DIA_PS_OPEN)
		return;
	if (pc->dwr_pending) {
		if (pc->wd == DIA_WD_SUSPECT) { /* second silent Tw: the peer is down */
			mr_count(&pc->st->wd_down, 1);
			mr_warn("msg=\"peer down: no DWA\" peer=%s", pc->peer_host);
			io_conn_close(&pc->io, -ETIMEDOUT);
			return;
		}
		mr_count(&pc->st->wd_suspect, 1);
		set_wd(pc, DIA_WD_SUSPECT);
		wd_arm(pc);
		return;
	}
	if (send_simple_req(pc, DIA_CMD_DW, 0) == 0) {
		pc->dwr_pending = true;
		mr_count(&pc->st->dwr_sent, 1);
	}
	wd_arm(pc);
}

/* Any message proves the peer alive (RFC 3539 §3.4.1). */
static void wd_traffic(struct dia_conn *pc, bool is_dwa)
{
	if (pc->state != DIA_PS_OPEN)
		return;
	if (is_dwa) {
		pc->dwr_pending = false;
		if (pc->wd == DIA_WD_REOPEN && ++pc->reopen_ok >= 3)
			set_wd(pc, DIA_WD_OKAY);
		else if (pc->wd == DIA_WD_REOPEN && send_simple_req(pc, DIA_CMD_DW, 0) == 0) {
			pc->dwr_pending = true;
			mr_count(&pc->st->dwr_sent, 1);
		}
	}
	if (pc->wd == DIA_WD_SUSPECT) {
		pc->dwr_pending = false;
		set_wd(pc, DIA_WD_OKAY);
	}
	wd_arm(pc);
}

/* ---- state changes ----------------------------------------------------------------------- */

static void go_open(struct dia_conn *pc)
{
	pc->state = DIA_PS_OPEN;
	io_timer_disarm(pc->io.loop, &pc->close_timer); /* the capabilities exchange deadline */
	mr_info("msg=\"peer open\" loop=%u peer=%s realm=%s role=%s", pc->io.loop->id,
	        pc->peer_host, pc->peer_realm, pc->initiator ? "initiator" : "responder");
	if (pc->wd == DIA_WD_REOPEN && send_simple_req(pc, DIA_CMD_DW, 0) == 0) {
		pc->dwr_pending = true;
		mr_count(&pc->st->dwr_sent, 1);
	}
	wd_arm(pc);
	if (pc->cfg->app->on_state)
		pc->cfg->app->on_state(pc);
}

static void close_fire(struct io_loop *l, struct io_timer *t)
{
	struct dia_conn *pc = mr_container_of(t, struct dia_conn, close_timer);

	(void)l;
	if (pc->state == DIA_PS_WAIT_CER || pc->state == DIA_PS_WAIT_CEA) {
		mr_count(&pc->st->ce_timeouts, 1);
		mr_warn("msg=\"capabilities exchange timed out, closing\" peer=%s state=%s",
		        pc->peer_host[0] ? pc->peer_host : "?", dia_peer_state_name(pc->state));
	} else {
		mr_warn("msg=\"no DPA in time, closing\" peer=%s", pc->peer_host);
	}
	io_conn_close(&pc->io, -ETIMEDOUT);
}

void dia_conn_disconnect(struct dia_conn *pc, uint32_t cause)
{
	if (pc->state == DIA_PS_CLOSING) /* DPR sent, or DPA queued: it closes by itself */
		return;
	if (pc->state != DIA_PS_OPEN) {
		if (pc->state != DIA_PS_CLOSED)
			io_conn_close(&pc->io, 0);
		return;
	}
	if (send_simple_req(pc, DIA_CMD_DP, cause) != 0) {
		io_conn_close(&pc->io, 0);
		return;
	}
	mr_count(&pc->st->dpr_sent, 1);
	pc->state = DIA_PS_CLOSING;
	mr_info("msg=\"DPR sent\" peer=%s cause=%u", pc->peer_host, cause);
	io_timer_arm(pc->io.loop, &pc->close_timer, close_fire, pc->cfg->dpa_wait_ms);
	if (pc->cfg->app->on_state)
		pc->cfg->app->on_state(pc);
}

/* ---- capability exchange ---------------------------------------------------------------- */

static bool app_common(const struct dia_conn *pc, uint32_t app)
{
	if (app == DIA_APP_RELAY)
		return true;
	for (unsigned i = 0; i < pc->cfg->napps; i++)
		if (pc->cfg->apps[i] == app)
			return true;
	return false;
}

/* Reads the peer's identity and applications from a CER/CEA. Returns 0, or the Result-Code
 * that refuses it. */
static uint32_t read_caps(struct dia_conn *pc, const struct dia_msg *m)
{
	struct dia_avp_iter it;
	struct dia_avp a;
	bool common = false;
	int r;

	pc->peer_host[0] = pc->peer_realm[0] = '\0';
	dia_avp_iter_init(&it, m);
	while ((r = dia_avp_next(&it, &a)) > 0) {
		uint32_t v;

		if (a.vendor)
			continue;
		switch (a.code) {
		case DIA_AVP_ORIGIN_HOST:
			if (mr_str_copy_to(a.data, pc->peer_host, sizeof(pc->peer_host)))
				return DIA_RC_INVALID_AVP_VALUE;
			break;
		case DIA_AVP_ORIGIN_REALM:
			if (mr_str_copy_to(a.data, pc->peer_realm, sizeof(pc->peer_realm)))
				return DIA_RC_INVALID_AVP_VALUE;
			break;
		case DIA_AVP_ORIGIN_STATE_ID:
			if (dia_avp_u32(&a, &v) == 0)
				pc->peer_state_id = v;
			break;
		case DIA_AVP_AUTH_APPLICATION_ID:
		case DIA_AVP_ACCT_APPLICATION_ID:
			if (dia_avp_u32(&a, &v) == 0 && app_common(pc, v))
				common = true;
			break;
		case DIA_AVP_VENDOR_SPECIFIC_APPLICATION_ID: {
			struct dia_avp in;

			if (dia_group_find(&a, DIA_AVP_AUTH_APPLICATION_ID, 0, &in) > 0 &&
			    dia_avp_u32(&in, &v) == 0 && app_common(pc, v))
				common = true;
			break;
		}
		default:
			break;
		}
	}
	if (r < 0 || !pc->peer_host[0])
		return DIA_RC_INVALID_AVP_VALUE;
	/* RFC 6733 §13.1: the identity in CER/CEA must be the one the certificate proves */
	if (pc->io.tls && !io_tls_peer_is(pc->io.tls, pc->peer_host)) {
		mr_warn("msg=\"TLS peer identity mismatch: Origin-Host not in its certificate\" "
		        "peer=%s",
		        pc->peer_host);
		return DIA_RC_UNKNOWN_PEER;
	}
	for (unsigned i = 0; pc->cfg->known_tls && pc->cfg->known[i]; i++)
		if (pc->cfg->known_tls[i] && !pc->io.tls &&
		    strcmp(pc->cfg->known[i], pc->peer_host) == 0) {
			mr_warn("msg=\"peer must use TLS, refused on plain TCP\" peer=%s",
			        pc->peer_host);
			return DIA_RC_UNKNOWN_PEER;
		}
	if (!pc->cfg->accept_unknown) {
		bool known = false;

		for (const char *const *k = pc->cfg->known; k && *k; k++)
			known |= strcmp(*k, pc->peer_host) == 0;
		if (!known)
			return DIA_RC_UNKNOWN_PEER;
	}
	if (!common)
		return DIA_RC_NO_COMMON_APPLICATION;
	return 0;
}

static int on_cer(struct dia_conn *pc, const struct dia_msg *m)
{
	uint32_t rc = read_caps(pc, m);

	if (rc == 0 && !table_open(pc, pc->peer_host)) {
		/* we won the election with our own connection: this one goes */
		mr_info("msg=\"election: keeping our connection\" peer=%s", pc->peer_host);
		io_conn_close(&pc->io, 0);
		return 0;
	}
	if (send_base_answer(pc, m, rc ? rc : DIA_RC_SUCCESS))
		return -ENOBUFS;
	if (rc) {
		mr_count(&pc->st->cer_rejected, 1);
		mr_warn("msg=\"CER refused\" peer=%s rc=%u", pc->peer_host[0] ? pc->peer_host : "?",
		        rc);
		io_conn_close_after_flush(&pc->io);
		return 0;
	}
	go_open(pc);
	return 0;
}

static int on_cea(struct dia_conn *pc, const struct dia_msg *m)
{
	struct dia_avp a;
	uint32_t rc = 0, bad;

	if (dia_msg_find(m, DIA_AVP_RESULT_CODE, 0, &a) <= 0 || dia_avp_u32(&a, &rc)) {
		mr_warn("msg=\"CEA without Result-Code\" conn=initiator");
		return -EBADMSG;
	}
	bad = read_caps(pc, m);
	if (rc != DIA_RC_SUCCESS || bad) {
		mr_warn("msg=\"CEA refused us\" peer=%s rc=%u local_check=%u", pc->peer_host, rc,
		        bad);
		return -ECONNREFUSED;
	}
	if (!table_open(pc, pc->peer_host)) {
		mr_info("msg=\"election: keeping their connection\" peer=%s", pc->peer_host);
		dia_conn_disconnect(pc, 0);
		return 0;
	}
	go_open(pc);
	return 0;
}

/* ---- receive path -------------------------------------------------------------------------- */

static int on_base(struct dia_conn *pc, const struct dia_msg *m)
{
	bool req = m->hdr.flags & DIA_FLAG_R;
	uint32_t v;
	struct dia_avp a;

	switch (m->hdr.code) {
	case DIA_CMD_DW:
		if (dia_msg_find(m, DIA_AVP_ORIGIN_STATE_ID, 0, &a) > 0 && !dia_avp_u32(&a, &v) &&
		    pc->peer_state_id && v != pc->peer_state_id) {
			mr_warn("msg=\"peer restarted (Origin-State-Id changed)\" peer=%s",
			        pc->peer_host);
			return -ECONNRESET;
		}
		if (!req) {
			mr_count(&pc->st->dwa_rx, 1);
			wd_traffic(pc, true);
			return 0;
		}
		mr_count(&pc->st->dwr_rx, 1);
		wd_traffic(pc, false);
		return send_base_answer(pc, m, DIA_RC_SUCCESS);
	case DIA_CMD_DP:
		if (!req) {
			mr_count(&pc->st->dpa_rx, 1);
			io_timer_disarm(pc->io.loop, &pc->close_timer);
			io_conn_close(&pc->io, 0);
			return 0;
		}
		mr_count(&pc->st->dpr_rx, 1);
		pc->peer_said_goodbye = true;
		if (dia_msg_find(m, DIA_AVP_DISCONNECT_CAUSE, 0, &a) > 0)
			dia_avp_u32(&a, &pc->disconnect_cause);
		mr_info("msg=\"DPR received\" peer=%s cause=%u", pc->peer_host,
		        pc->disconnect_cause);
		if (send_base_answer(pc, m, DIA_RC_SUCCESS))
			return -ENOBUFS;
		pc->state = DIA_PS_CLOSING;
		if (pc->cfg->app->on_state) /* no longer usable: the application fails over now */
			pc->cfg->app->on_state(pc);
		/* the DPR sender closes; we close too once DPA is out */
		io_conn_close_after_flush(&pc->io);
		return 0;
	case DIA_CMD_CE: /* a second CER on an open connection */
		if (req) {
			struct dia_error err = {.rc = DIA_RC_UNABLE_TO_COMPLY,
			                        .what = "capabilities already exchanged"};

			return send_error(pc, m, &err);
		}
		return 0;
	default:
		break;
	}
	return 1; /* not a base command */
}

/* Debug level only: the whole message by name, one log line per message. */
static MR_COLD void log_msg(const struct dia_conn *pc, const struct dia_msg *m)
{
	char text[8192];

	dia_msg_dump(m, text, sizeof(text));
	for (char *p = text; *p; p++) /* one log line: lines joined by '|', quotes as ' */
		if (*p == '\n')
			*p = p[1] ? '|' : '\0';
		else if (*p == '"')
			*p = '\'';
	mr_debug("msg=\"rx\" peer=%s dump=\"%s\"", pc->peer_host[0] ? pc->peer_host : "?", text);
}

static int dispatch(struct dia_conn *pc, const struct dia_msg *m)
{
	bool req = m->hdr.flags & DIA_FLAG_R;
	struct dia_error err;
	int ret;

	dia_msg_validate_nest(m, (int)pc->cfg->max_nest, &err);
	if (mr_unlikely(err.too_deep))
		mr_count(&pc->st->too_deep, 1);
	if (mr_unlikely(mr_log_get_level() >= MR_LOG_DEBUG))
		log_msg(pc, m);
	if (pc->state == DIA_PS_WAIT_CER || pc->state == DIA_PS_WAIT_CEA) {
		bool want_cer = pc->state == DIA_PS_WAIT_CER;

		/* RFC 6733 §5.6: nothing but CER/CEA before the connection is open */
		if (m->hdr.code != DIA_CMD_CE || req != want_cer) {
			mr_warn("msg=\"message before capabilities exchange\" code=%u",
			        m->hdr.code);
			return -EPROTO;
		}
		if (err.rc) {
			mr_count(&pc->st->invalid_msgs, 1);
			if (req) {
				send_error(pc, m, &err);
				io_conn_close_after_flush(&pc->io);
				return 0;
			}
			return -EBADMSG;
		}
		return want_cer ? on_cer(pc, m) : on_cea(pc, m);
	}
	if (pc->state != DIA_PS_OPEN && pc->state != DIA_PS_CLOSING)
		return 0;
	if (err.rc) {
		mr_count(&pc->st->invalid_msgs, 1);
		mr_debug("msg=\"invalid message\" peer=%s code=%u rc=%u what=\"%s\"", pc->peer_host,
		         m->hdr.code, err.rc, err.what ? err.what : "");
		if (req) {
			wd_traffic(pc, false);
			return send_error(pc, m, &err);
		}
		/* a flawed answer still answers its request: the application judges its content
		 * (an error now beats a timeout later) */
	}
	ret = on_base(pc, m);
	if (ret <= 0)
		return ret;
	wd_traffic(pc, false);
	if (!app_common(pc, m->hdr.app_id) || m->hdr.app_id == DIA_APP_BASE) {
		if (req) {
			err = (struct dia_error){.rc = m->hdr.app_id == DIA_APP_BASE
			                                   ? DIA_RC_COMMAND_UNSUPPORTED
			                                   : DIA_RC_APPLICATION_UNSUPPORTED};
			return send_error(pc, m, &err);
		}
		mr_count(&pc->st->unknown_hbh, 1);
		return 0;
	}
	if (req) {
		if (pc->state == DIA_PS_CLOSING) { /* we said goodbye: refuse new work */
			err = (struct dia_error){.rc = DIA_RC_TOO_BUSY, .what = "disconnecting"};
			return send_error(pc, m, &err);
		}
		if (pc->cfg->app->on_request)
			pc->cfg->app->on_request(pc, m);
	} else if (pc->cfg->app->on_answer) {
		pc->cfg->app->on_answer(pc, m);
	}
	return 0;
}

/* hot: per received TCP segment. Frames every complete message in @buf. */
static int peer_on_data(struct io_conn *c, const uint8_t *buf, uint32_t len)
{
	struct dia_conn *pc = mr_container_of(c, struct dia_conn, io);
	uint32_t off = 0;

	while (off < len && !c->closing) {
		struct dia_msg m;
		int n = dia_frame(buf + off, len - off, pc->cfg->max_message);
		int ret;

		if (n == 0)
			break;
		if (n < 0) {
			mr_count(&pc->st->framing_errors, 1);
			mr_warn("msg=\"Diameter framing lost, closing\" peer=%s err=%d",
			        pc->peer_host[0] ? pc->peer_host : "?", n);
			return n;
		}
		mr_count(&pc->st->rx_msgs, 1);
		if (dia_msg_init(&m, buf + off, (uint32_t)n) == 0) {
			ret = dispatch(pc, &m);
			if (ret < 0)
				return ret;
		}
		off += (uint32_t)n;
	}
	return (int)off;
}

static void peer_on_connect(struct io_conn *c, int res)
{
	struct dia_conn *pc = mr_container_of(c, struct dia_conn, io);

	if (res < 0) {
		mr_warn("msg=\"connect failed\" peer=%s err=%d", pc->peer_host, res);
		return;
	}
	pc->state = DIA_PS_WAIT_CEA;
	io_timer_arm(c->loop, &pc->close_timer, close_fire, DIA_CE_WAIT_MS);
	if (send_simple_req(pc, DIA_CMD_CE, 0))
		io_conn_close(c, -ENOBUFS);
}

static void peer_on_close(struct io_conn *c, int reason)
{
	struct dia_conn *pc = mr_container_of(c, struct dia_conn, io);
	enum dia_peer_state was = pc->state;

	io_timer_disarm(c->loop, &pc->wd_timer);
	io_timer_disarm(c->loop, &pc->close_timer);
	table_del(pc->cfg->table, pc);
	pc->state = DIA_PS_CLOSED;
	if (was == DIA_PS_OPEN || was == DIA_PS_CLOSING)
		mr_info("msg=\"peer closed\" peer=%s reason=%d", pc->peer_host, reason);
	if (pc->cfg->app->on_state)
		pc->cfg->app->on_state(pc);
	if (pc->on_free)
		pc->on_free(pc);
}

static const struct io_conn_ops peer_io_ops = {
    .on_data = peer_on_data,
    .on_connect = peer_on_connect,
    .on_close = peer_on_close,
};

static void conn_common(struct dia_conn *pc, const struct dia_peer_cfg *cfg,
                        struct dia_peer_stats *st)
{
	uint32_t seed[2] = {0, 0};

	pc->cfg = cfg;
	pc->st = st;
	pc->wd = DIA_WD_OKAY;
	if (getrandom(seed, sizeof(seed), 0) != sizeof(seed))
		seed[0] = seed[1] = (uint32_t)io_now_ms();
	pc->next_hbh = seed[0];
	/* RFC 6733 §3: high 12 bits from the clock, low 20 random */
	pc->e2e = ((uint32_t)time(NULL) << 20) | (seed[1] & 0xfffff);
	pc->rng = seed[0] | 1;
}

int dia_conn_accept(struct dia_conn *pc, struct io_loop *l, int fd, const struct dia_peer_cfg *cfg,
                    struct dia_peer_stats *st)
{
	void *arg = pc->app_arg;
	void (*on_free)(struct dia_conn *) = pc->on_free;
	struct io_tls_ctx *tls = pc->tls;
	int ret;

	if (tls)
		ret = io_conn_init_tls(&pc->io, l, fd, &peer_io_ops, cfg->max_message,
		                       4u * cfg->max_message + (1u << 20), tls);
	else
		ret = io_conn_init(&pc->io, l, fd, &peer_io_ops, cfg->max_message,
		                   4u * cfg->max_message + (1u << 20));
	if (ret) {
		close(fd);
		return ret;
	}
	pc->app_arg = arg;
	pc->on_free = on_free;
	pc->tls = tls;
	conn_common(pc, cfg, st);
	pc->state = DIA_PS_WAIT_CER;
	io_timer_arm(l, &pc->close_timer, close_fire, DIA_CE_WAIT_MS);
	return 0;
}

int dia_conn_connect(struct dia_conn *pc, struct io_loop *l, const char *host,
                     const struct sockaddr *sa, socklen_t salen, const struct dia_peer_cfg *cfg,
                     struct dia_peer_stats *st)
{
	void *arg = pc->app_arg;
	void (*on_free)(struct dia_conn *) = pc->on_free;
	enum dia_wd_state wd = pc->wd;
	struct io_tls_ctx *tls = pc->tls;
	int ret;

	if (tls) /* SNI: the identity we expect, which its certificate must name */
		ret = io_conn_connect_tls(&pc->io, l, sa, salen, &peer_io_ops, cfg->max_message,
		                          4u * cfg->max_message + (1u << 20), tls, host);
	else
		ret = io_conn_connect(&pc->io, l, sa, salen, &peer_io_ops, cfg->max_message,
		                      4u * cfg->max_message + (1u << 20));
	if (ret)
		return ret;
	pc->app_arg = arg;
	pc->on_free = on_free;
	pc->tls = tls;
	conn_common(pc, cfg, st);
	pc->wd = wd; /* the owner sets REOPEN for a reconnection */
	pc->initiator = true;
	pc->state = DIA_PS_CONNECTING;
	snprintf(pc->peer_host, sizeof(pc->peer_host), "%s", host);
	pthread_mutex_lock(&cfg->table->lock);
	ret = table_add(cfg->table, pc, host, false);
	pthread_mutex_unlock(&cfg->table->lock);
	if (ret)
		io_conn_close(&pc->io, ret);
	return 0;
}

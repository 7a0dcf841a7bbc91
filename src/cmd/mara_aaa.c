/* SPDX-License-Identifier: MIT
 * mara_aaa.c - mara-aaa: the RFC 4740 Diameter server (§6.4 Figure 4, steps 2-3 and 6-7).
 * Owns: main() only: flags -> config -> shared state (nonce key, replay table, user store, peer
 * table) -> one io_uring loop per core, each with its own SO_REUSEPORT listener -> signals.
 * Thread: main handles signals (SIGTERM/SIGINT: DPR to every peer and exit 0; SIGHUP: reload);
 * each loop thread owns its connections. */
#include "aaa_metrics.h"
#include "auth.h"
#include "cmd_tls.h"
#include "conf.h"
#include "dia.h"
#include "dia_peer.h"
#include "dia_sipsrv.h"
#include "io.h"
#include "mara_build.h"
#include "mr_log.h"
#include "mr_sd.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

struct aaa;

/* A configured peer we connect to (owned by loop 0). */
struct connector {
	const struct conf_peer *peer;
	struct aaa_loop *loop;
	struct dia_conn *conn; /* current connection or NULL */
	struct io_timer retry;
	unsigned attempts;
	bool ever_open;
};

struct aaa_loop {
	struct io_loop io;
	struct io_listener ls;
	struct io_listener tls_ls; /* Diameter over TLS (fd -1 when not configured) */
	struct dia_sipsrv srv;
	struct dia_peer_stats pst;
	struct dia_conn *conns; /* every connection of this loop */
	struct io_timer deadline;
	struct aaa *app;
	pthread_t th;
	bool stopping;
	struct mr_ratelimit rl_drop; /* "peer not reading": at most 5 lines a minute */
};

struct aaa {
	struct conf conf;
	const char *conf_path;
	struct auth_nonce_key key;
	struct auth_replay *replay;
	struct auth_users_ref users;
	struct dia_peer_table table;
	struct dia_peer_cfg pcfg;
	struct dia_sipsrv_cfg scfg;
	struct io_tls_ctx *tls; /* NULL when aaa.tls is not configured */
	const char *known[CONF_MAX_PEERS + 1];
	bool known_tls[CONF_MAX_PEERS]; /* peers { tls = true; }: never accepted on plain TCP */
	struct aaa_loop *loops;
	unsigned nloops;
	struct connector conns[CONF_MAX_PEERS];
	unsigned nconns;
	atomic_bool stop;
	char sd_status[384]; /* STATUS= for systemd, kept for the READY=1 after a reload */
	/* /metrics: views of every loop's counters, the registry and its endpoint */
	const struct dia_sipsrv_stats **srv_st;
	const struct dia_peer_stats **peer_st;
	struct aaa_metrics_src msrc;
	struct stats_server stats;
	struct aaa_metrics *metrics;
};

static const uint32_t advertised_apps[] = {DIA_APP_SIP};

static int metrics_setup(struct stats_registry *r, void *arg)
{
	struct aaa *a = arg;

	return aaa_metrics_init(r, &a->msrc, &a->metrics);
}

/* /metrics, when configured: a failure to bind is logged and mara-aaa runs without it. */
static void stats_start(struct aaa *a)
{
	const struct conf_aaa *c = &a->conf.aaa;

	if (!c->stats_port)
		return;
	a->srv_st = calloc(a->nloops, sizeof(*a->srv_st));
	a->peer_st = calloc(a->nloops, sizeof(*a->peer_st));
	if (!a->srv_st || !a->peer_st) {
		mr_err("msg=\"metrics endpoint not started\" err=%d", -ENOMEM);
		return;
	}
	for (unsigned i = 0; i < a->nloops; i++) {
		a->srv_st[i] = &a->loops[i].srv.st;
		a->peer_st[i] = &a->loops[i].pst;
	}
	a->msrc = (struct aaa_metrics_src){a->srv_st, a->peer_st, a->nloops, &a->table, a->tls};
	stats_serve(&a->stats, "mara-aaa", c->stats_addr, c->stats_port, metrics_setup, a);
}

static void stats_stop(struct aaa *a)
{
	stats_serve_stop(&a->stats);
	aaa_metrics_free(a->metrics);
	free(a->srv_st);
	free(a->peer_st);
	a->metrics = NULL;
}

/* ---- connections ------------------------------------------------------------------------ */

static void maybe_finish(struct aaa_loop *al)
{
	if (al->stopping && !al->conns)
		al->io.stop = true;
}

static void conn_unlink(struct aaa_loop *al, struct dia_conn *pc)
{
	for (struct dia_conn **pp = &al->conns; *pp; pp = &(*pp)->next)
		if (*pp == pc) {
			*pp = pc->next;
			return;
		}
}

static void connector_schedule(struct connector *cn, unsigned ms);

static void conn_free(struct dia_conn *pc)
{
	struct aaa_loop *al = pc->app_arg;

	conn_unlink(al, pc);
	for (unsigned i = 0; i < al->app->nconns; i++) {
		struct connector *cn = &al->app->conns[i];

		if (cn->conn != pc)
			continue;
		cn->conn = NULL;
		if (!al->stopping && !(pc->peer_said_goodbye && pc->disconnect_cause == 2))
			connector_schedule(cn, al->app->conf.aaa.reconnect_s * 1000u);
	}
	free(pc);
	maybe_finish(al);
}

static void on_state(struct dia_conn *pc)
{
	struct aaa_loop *al = pc->app_arg;

	if (pc->state != DIA_PS_OPEN)
		return;
	for (unsigned i = 0; i < al->app->nconns; i++)
		if (al->app->conns[i].conn == pc)
			al->app->conns[i].ever_open = true;
}

static void on_request(struct dia_conn *pc, const struct dia_msg *m)
{
	struct aaa_loop *al = pc->app_arg;
	struct dia_enc e;
	int len;

	if (dia_conn_begin(pc, &e, m->len + 4096)) {
		uint64_t n;

		if (mr_ratelimit_ok(&al->rl_drop, &n))
			mr_warn("msg=\"peer not reading, MAR dropped\" peer=%s suppressed=%lu",
			        pc->peer_host, n);
		return;
	}
	if (m->hdr.code != DIA_CMD_MA || m->hdr.app_id != DIA_APP_SIP) {
		struct dia_error err = {.rc = DIA_RC_COMMAND_UNSUPPORTED,
		                        .what = "mara-aaa serves MAR only"};

		len = dia_enc_error_answer(&e, m, &pc->cfg->id, &err);
	} else {
		dia_sipsrv_refresh(&al->srv);
		len = dia_sipsrv_answer(&al->srv, m, &e, (uint64_t)time(NULL));
	}
	if (len < 0) {
		mr_err("msg=\"cannot encode answer\" err=%d", len);
		return;
	}
	dia_conn_commit(pc, (uint32_t)len);
}

static const struct dia_app_ops app_ops = {
    .on_request = on_request,
    .on_state = on_state,
};

static struct dia_conn *conn_new(struct aaa_loop *al)
{
	struct dia_conn *pc = calloc(1, sizeof(*pc));

	if (!pc)
		return NULL;
	pc->app_arg = al;
	pc->on_free = conn_free;
	return pc;
}

static void on_accept(struct io_loop *l, struct io_listener *ls, int fd)
{
	struct aaa_loop *al = mr_container_of(l, struct aaa_loop, io);
	struct dia_conn *pc;

	if (al->stopping) {
		close(fd);
		return;
	}
	pc = conn_new(al);
	if (pc && ls == &al->tls_ls)
		pc->tls = al->app->tls;
	if (!pc || dia_conn_accept(pc, l, fd, &al->app->pcfg, &al->pst)) {
		mr_err("msg=\"cannot accept: out of memory\"");
		if (!pc)
			close(fd);
		free(pc);
		return;
	}
	pc->next = al->conns;
	al->conns = pc;
}

/* ---- connectors (peers we initiate to) -------------------------------------------------- */

static void connector_fire(struct io_loop *l, struct io_timer *t)
{
	struct connector *cn = mr_container_of(t, struct connector, retry);
	struct aaa_loop *al = cn->loop;
	struct sockaddr_storage ss;
	struct dia_conn *pc;
	socklen_t len;

	(void)l;
	if (al->stopping || cn->conn)
		return;
	/* One connection per peer (RFC 6733 §2.1): when the election left us theirs, or they
	 * reconnected first, only watch for it to go away. */
	if (dia_peer_table_has_open(&al->app->table, cn->peer->host)) {
		connector_schedule(cn, al->app->conf.aaa.reconnect_s * 1000u);
		return;
	}
	if (io_sockaddr_parse(cn->peer->addr, cn->peer->port, &ss, &len))
		return;
	pc = conn_new(al);
	if (!pc) {
		connector_schedule(cn, al->app->conf.aaa.reconnect_s * 1000u);
		return;
	}
	/* after a lost connection, RFC 3539 REOPEN: three watchdog round trips before use */
	pc->wd = cn->ever_open ? DIA_WD_REOPEN : DIA_WD_OKAY;
	pc->tls = cn->peer->tls ? al->app->tls : NULL;
	cn->attempts++;
	if (dia_conn_connect(pc, &al->io, cn->peer->host, (struct sockaddr *)&ss, len,
	                     &al->app->pcfg, &al->pst)) {
		free(pc);
		connector_schedule(cn, al->app->conf.aaa.reconnect_s * 1000u);
		return;
	}
	cn->conn = pc;
	pc->next = al->conns;
	al->conns = pc;
}

static void connector_schedule(struct connector *cn, unsigned ms)
{
	io_timer_arm(&cn->loop->io, &cn->retry, connector_fire, ms);
}

/* ---- loops ------------------------------------------------------------------------------- */

static void deadline_fire(struct io_loop *l, struct io_timer *t)
{
	(void)t;
	mr_warn("msg=\"shutdown deadline: closing remaining peers\" loop=%u", l->id);
	l->stop = true;
}

static void on_wake(struct io_loop *l, void *arg)
{
	struct aaa_loop *al = arg;

	if (!atomic_load(&al->app->stop) || al->stopping)
		return;
	al->stopping = true;
	close(al->ls.fd); /* no new peers */
	al->ls.fd = -1;
	if (al->tls_ls.fd >= 0)
		close(al->tls_ls.fd);
	al->tls_ls.fd = -1;
	for (unsigned i = 0; i < al->app->nconns; i++)
		if (al->app->conns[i].loop == al)
			io_timer_disarm(l, &al->app->conns[i].retry);
	for (struct dia_conn *pc = al->conns, *next; pc; pc = next) {
		next = pc->next;
		dia_conn_disconnect(pc, 0); /* REBOOTING */
	}
	io_timer_arm(l, &al->deadline, deadline_fire, al->app->pcfg.dpa_wait_ms + 500);
	maybe_finish(al);
}

static void *loop_main(void *arg)
{
	struct aaa_loop *al = arg;
	int ret = io_loop_run(&al->io);

	if (ret)
		mr_err("msg=\"loop failed\" loop=%u err=%d", al->io.id, ret);
	return NULL;
}

static int loop_setup(struct aaa *a, struct aaa_loop *al, unsigned id)
{
	const struct conf_aaa *c = &a->conf.aaa;
	int ret;

	al->app = a;
	al->rl_drop = (struct mr_ratelimit){.interval_ms = 60000, .burst = 5};
	ret = io_loop_init(&al->io, id, 256);
	if (ret) {
		mr_err("msg=\"io_uring setup failed\" err=%d hint=\"kernel.io_uring_disabled?\"",
		       ret);
		return ret;
	}
	io_loop_batch_or_warn(&al->io, c->batch_wait_us);
	io_loop_set_slice(&al->io, c->sched_slice_us);
	al->io.on_wake = on_wake;
	al->io.wake_arg = al;
	ret = dia_sipsrv_init(&al->srv, &a->scfg);
	if (ret)
		return ret;
	al->ls.fd = io_tcp_listen(c->listen_addr, c->listen_port, 1024);
	if (al->ls.fd < 0) {
		mr_err("msg=\"cannot listen\" addr=%s port=%u err=%d", c->listen_addr,
		       c->listen_port, al->ls.fd);
		return al->ls.fd;
	}
	al->ls.on_accept = on_accept;
	ret = io_listener_start(&al->io, &al->ls);
	al->tls_ls.fd = -1;
	if (ret || !c->tls_listen_addr[0])
		return ret;
	al->tls_ls.fd = io_tcp_listen(c->tls_listen_addr, c->tls_listen_port, 1024);
	if (al->tls_ls.fd < 0) {
		mr_err("msg=\"cannot listen (TLS)\" addr=%s port=%u err=%d", c->tls_listen_addr,
		       c->tls_listen_port, al->tls_ls.fd);
		return al->tls_ls.fd;
	}
	al->tls_ls.on_accept = on_accept;
	return io_listener_start(&al->io, &al->tls_ls);
}

/* ---- set-up ------------------------------------------------------------------------------ */

static int shared_setup(struct aaa *a)
{
	const struct conf_aaa *c = &a->conf.aaa;
	struct auth_users *u;
	uint32_t state_id;
	int ret;

	ret = c->nonce_secret[0] ? auth_nonce_key_from_hex(&a->key, c->nonce_secret)
	                         : auth_nonce_key_random(&a->key);
	if (ret)
		return ret;
	if (auth_nonce_key_weak(&a->key)) { /* conf refuses it too; the key is what counts */
		mr_err("msg=\"nonce_secret is a placeholder, not a secret\" key=aaa.nonce_secret");
		return -EINVAL;
	}
	a->key.lifetime_s = c->nonce_lifetime_s;
	/* nonces name their minting instance; its Origin-Host is what the proxies route to */
	a->key.instance = auth_nonce_instance_id(mr_str_c(c->origin_host));
	ret = auth_users_load(c->users, &u);
	if (ret) {
		mr_err("msg=\"cannot load user store\" key=aaa.users file=%s err=\"%s\"", c->users,
		       strerror(-ret));
		return ret;
	}
	mr_info("msg=\"user store loaded\" file=%s users=%zu", c->users, auth_users_count(u));
	ret = auth_users_ref_init(&a->users, u);
	if (ret)
		return ret;
	ret = auth_replay_create(c->replay_entries, c->nonce_lifetime_s, &a->replay);
	if (ret)
		return ret;
	ret = dia_peer_table_init(&a->table);
	if (ret)
		return ret;
	if (c->tls.cert[0]) { /* Diameter peers are authenticated both ways (RFC 6733 §13) */
		ret = cmd_tls_ctx(&c->tls, true, &a->tls);
		if (ret)
			return ret;
	}
	state_id = (uint32_t)time(NULL);
	a->pcfg = (struct dia_peer_cfg){
	    .id = {mr_str_c(c->origin_host), mr_str_c(c->origin_realm), state_id},
	    .product = "mara",
	    .firmware = 100,
	    .apps = advertised_apps,
	    .napps = MR_ARRAY_SIZE(advertised_apps),
	    .tw_ms = c->watchdog_s * 1000u,
	    .dpa_wait_ms = 2000,
	    .max_message = c->max_message,
	    .max_nest = c->max_avp_nest,
	    .accept_unknown = c->accept_unknown_peers,
	    .known = a->known,
	    .known_tls = a->known_tls,
	    .table = &a->table,
	    .app = &app_ops,
	};
	for (unsigned i = 0; i < c->npeers; i++) {
		a->known[i] = c->peers[i].host;
		a->known_tls[i] = c->peers[i].tls;
	}
	a->scfg = (struct dia_sipsrv_cfg){
	    .id = a->pcfg.id,
	    .realm = mr_str_c(c->realm),
	    .nalgs = c->nalgorithms,
	    .allow_no_qop = c->allow_no_qop,
	    .return_ha1 = c->return_ha1,
	    .key = &a->key,
	    .replay = a->replay,
	    .users = &a->users,
	};
	for (unsigned i = 0; i < c->nalgorithms; i++)
		a->scfg.algs[i] = c->algorithms[i];
	return 0;
}

/* SIGHUP: a new user store and log level; a bad file keeps the old ones. */
static void reload(struct aaa *a)
{
	struct conf nc;
	struct auth_users *u;
	int ret;

	ret = conf_load(&nc, a->conf_path);
	if (ret) {
		mr_err("msg=\"reload refused: bad config, keeping the old one\" err=%d", ret);
		return;
	}
	ret = auth_users_load(nc.aaa.users, &u);
	if (ret) {
		mr_err("msg=\"reload refused: bad user store, keeping the old one\" file=%s err=%d",
		       nc.aaa.users, ret);
		return;
	}
	auth_users_ref_swap(&a->users, u);
	mr_log_set_level((enum mr_log_level)nc.log_level);
	mr_info("msg=\"reloaded\" users=%zu file=%s", auth_users_count(u), nc.aaa.users);
}

static void log_totals(const struct aaa *a)
{
	struct dia_sipsrv_stats t = {0};
	struct dia_peer_stats p = {0};

	for (unsigned i = 0; i < a->nloops; i++) {
		const struct dia_sipsrv_stats *s = &a->loops[i].srv.st;
		const struct dia_peer_stats *q = &a->loops[i].pst;

		t.mar += s->mar;
		t.challenges += s->challenges;
		t.authorized += s->authorized;
		t.bad_response += s->bad_response;
		t.replayed += s->replayed;
		t.forged_nonce += s->forged_nonce;
		t.unknown_user += s->unknown_user;
		t.stale += s->stale;
		p.rx_msgs += q->rx_msgs;
		p.invalid_msgs += q->invalid_msgs;
		p.framing_errors += q->framing_errors;
		p.dpr_sent += q->dpr_sent;
		p.dpa_rx += q->dpa_rx;
	}
	mr_info("msg=\"totals\" mar=%lu challenges=%lu authorized=%lu bad_response=%lu "
	        "replayed=%lu forged_nonce=%lu unknown_user=%lu stale=%lu rx=%lu invalid=%lu "
	        "framing_errors=%lu dpr_sent=%lu dpa_rx=%lu",
	        t.mar, t.challenges, t.authorized, t.bad_response, t.replayed, t.forged_nonce,
	        t.unknown_user, t.stale, p.rx_msgs, p.invalid_msgs, p.framing_errors, p.dpr_sent,
	        p.dpa_rx);
}

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: mara-aaa [-c FILE] [--check-config] [--print-default] [--help] "
	       "[--version]\n"
	       "  RFC 4740 Diameter server: answers MAR with digest challenges (stateless\n"
	       "  HMAC nonces) and validates the credentials of the second MAR.\n"
	       "  -c FILE          libconfig file (default: the embedded default: 127.0.0.1:3868,\n"
	       "                   realm example.com, users deploy/demo/users)\n"
	       "  --check-config   load and check the config and user store, then exit\n"
	       "  --print-default  print the embedded default config\n"
	       "  signals: TERM/INT stop (DPR to peers), HUP reloads users and log level\n");
}

static int start(struct aaa *a)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int ret;

	a->nloops = a->conf.aaa.threads ? a->conf.aaa.threads : (unsigned)(cpus > 0 ? cpus : 1);
	a->loops = calloc(a->nloops, sizeof(*a->loops));
	if (!a->loops)
		return -ENOMEM;
	for (unsigned i = 0; i < a->nloops; i++) {
		ret = loop_setup(a, &a->loops[i], i);
		if (ret)
			return ret;
	}
	for (unsigned i = 0; i < a->conf.aaa.npeers; i++) {
		struct connector *cn = &a->conns[a->nconns];

		if (!a->conf.aaa.peers[i].connect)
			continue;
		cn->peer = &a->conf.aaa.peers[i];
		cn->loop = &a->loops[0];
		connector_schedule(cn, 0);
		a->nconns++;
	}
	for (unsigned i = 0; i < a->nloops; i++) {
		ret = -pthread_create(&a->loops[i].th, NULL, loop_main, &a->loops[i]);
		if (ret)
			return ret;
	}
	stats_start(a);
	if (a->conf.aaa.tls_listen_addr[0])
		mr_info("msg=\"Diameter over TLS\" listen=%s:%u min_version=%s",
		        a->conf.aaa.tls_listen_addr, a->conf.aaa.tls_listen_port,
		        a->conf.aaa.tls.min_version);
	mr_info("msg=\"mara-aaa ready\" listen=%s:%u origin_host=%s realm=%s loops=%u "
	        "watchdog_s=%u mode=%s",
	        a->conf.aaa.listen_addr, a->conf.aaa.listen_port, a->conf.aaa.origin_host,
	        a->conf.aaa.realm, a->nloops, a->conf.aaa.watchdog_s,
	        a->conf.aaa.return_ha1 ? "ha1" : "server-validates");
	snprintf(a->sd_status, sizeof(a->sd_status), "Diameter on %s:%u, realm %s, %u loops",
	         a->conf.aaa.listen_addr, a->conf.aaa.listen_port, a->conf.aaa.realm, a->nloops);
	mr_sd_ready(a->sd_status);
	return 0;
}

/* Under a systemd watchdog (WatchdogSec=) the wait wakes every half interval to ping it. */
static void wait_signals(struct aaa *a, const sigset_t *set)
{
	uint64_t wd_ms = mr_sd_watchdog_interval_ms() / 2;
	struct timespec wd = {(time_t)(wd_ms / 1000), (long)(wd_ms % 1000) * 1000000L};

	for (;;) {
		int sig = sigtimedwait(set, NULL, wd_ms ? &wd : NULL);

		if (wd_ms)
			mr_sd_watchdog_ping();
		if (sig < 0) /* EAGAIN (the watchdog's timeout) or EINTR */
			continue;
		if (sig == SIGHUP) {
			mr_sd_reloading();
			reload(a);
			mr_sd_ready(a->sd_status);
			continue;
		}
		mr_info("msg=\"stopping\" signal=%d", sig);
		mr_sd_stopping();
		atomic_store(&a->stop, true);
		for (unsigned i = 0; i < a->nloops; i++)
			io_loop_wake(&a->loops[i].io);
		return;
	}
}

int main(int argc, char **argv)
{
	static struct aaa a; /* main's own state, handed to the threads by pointer */
	struct conf_cmdline cl;
	bool check;
	sigset_t set;
	int ret;

	ret = conf_start(argc, argv, "mara-aaa", usage, &a.conf, &cl);
	if (ret)
		return ret;
	a.conf_path = cl.path;
	check = cl.check;
	if (check) {
		struct auth_users *u;

		if (cmd_tls_check(&a.conf.aaa.tls, "mara-aaa",
		                  a.conf_path ? a.conf_path : "<embedded>"))
			return 1;
		ret = auth_users_load(a.conf.aaa.users, &u);
		if (ret) {
			fprintf(stderr,
			        "mara-aaa: %s: aaa.users = \"%s\": user store refused: %s\n",
			        a.conf_path ? a.conf_path : "<embedded>", a.conf.aaa.users,
			        strerror(-ret));
			return 1;
		}
		printf("mara-aaa: %s: configuration OK (%zu users)\n",
		       a.conf_path ? a.conf_path : "<embedded>", auth_users_count(u));
		auth_users_put(u);
		return 0;
	}
	/* Signals go to the main thread only: block them before any thread exists. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	ret = shared_setup(&a);
	if (!ret)
		ret = start(&a);
	if (ret) {
		mr_err("msg=\"start-up failed\" err=%d (%s)", ret, strerror(-ret));
		return 1;
	}
	wait_signals(&a, &set);
	for (unsigned i = 0; i < a.nloops; i++)
		pthread_join(a.loops[i].th, NULL);
	log_totals(&a);
	stats_stop(&a); /* before the loops it reads go */
	for (unsigned i = 0; i < a.nloops; i++) {
		dia_sipsrv_fini(&a.loops[i].srv);
		io_loop_fini(&a.loops[i].io);
	}
	free(a.loops);
	auth_replay_destroy(a.replay);
	auth_users_ref_fini(&a.users);
	io_tls_ctx_free(a.tls);
	mr_info("msg=\"stopped\"");
	return 0;
}

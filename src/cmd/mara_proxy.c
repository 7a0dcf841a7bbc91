/* SPDX-License-Identifier: MIT
 * mara_proxy.c - mara-proxy: the SIP proxy of RFC 4740 §6.4 Figure 4.
 * Owns: main() only: flags -> config -> Diameter pool (its own thread) -> one shard per core
 * (io_uring loop, UDP socket and TCP listener on the SIP port each) -> signals.
 * Thread: main handles signals (SIGTERM/SIGINT: stop reading, answer what is parked, DPR to the
 * Diameter peers, exit 0). */
#include "cmd_tls.h"
#include "conf.h"
#include "dia_pool.h"
#include "mara_build.h"
#include "mr_log.h"
#include "mr_sd.h"
#include "proxy_metrics.h"
#include "sip_proxy.h"
#include "sip_shard.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

struct proxy {
	struct conf conf;
	const char *conf_path;
	struct sip_proxy_cfg *px; /* the rules in force (owned; replaced on SIGHUP) */
	const char *peer_names[CONF_MAX_PEERS];
	struct stats_server stats;
	struct proxy_metrics *metrics;
	struct sip_shard_cfg scfg;
	struct dia_pool_cfg pcfg;
	struct dia_pool_peer peers[CONF_MAX_PEERS];
	char peer_addr[CONF_MAX_PEERS][80];
	struct dia_pool *pool;
	struct io_tls_ctx *dia_tls; /* towards aaa_peers with tls = true; NULL = none */
	struct io_tls_ctx *sip_tls; /* the SIP TLS listener's; NULL = none */
	struct sip_shard *shards;
	struct sip_guard *guard; /* shared admission counters of every shard */
	struct io_loop **loops;
	unsigned nshards;
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: mara-proxy [-c FILE] [--check-config] [--print-default] [--help] "
	        "[--version]\n"
	        "  SIP proxy that authenticates every request through Diameter (RFC 4740 §6.4).\n"
	        "  -c FILE          libconfig file (default: the embedded default: SIP on\n"
	        "                   127.0.0.1:5060 UDP+TCP, realm example.com, mara-aaa at\n"
	        "                   127.0.0.1:3868, destinations limited to loopback)\n"
	        "  --check-config   load and check the config, then exit\n"
	        "  --print-default  print the embedded default config\n"
	        "  signals: TERM/INT stop (parked requests answered, DPR to the Diameter peers),\n"
	        "           HUP reloads routes, allow-list, auth policy, realm and log level\n");
}

/* The proxy rules' view of @c: numeric addresses, parsed CIDRs, into a new @out (owned by the
 * caller). The To-tag secret is @secret when given (a reload keeps it: the ACKs of 407s sent
 * before must still be recognised), else random. */
static int build_rules(const struct conf_proxy *c, const uint8_t *secret,
                       struct sip_proxy_cfg **out)
{
	struct sip_proxy_cfg *px = calloc(1, sizeof(*px));

	if (!px)
		return -ENOMEM;
	snprintf(px->host, sizeof(px->host), "%s", c->advertise[0] ? c->advertise : c->listen_addr);
	px->port = c->listen_port;
	snprintf(px->realm, sizeof(px->realm), "%s", c->realm);
	px->auth_methods = c->auth_methods;
	px->auth_in_dialog = c->auth_in_dialog;
	px->record_route = c->record_route;
	if (secret)
		memcpy(px->secret, secret, sizeof(px->secret));
	else if (getrandom(px->secret, sizeof(px->secret), 0) != sizeof(px->secret))
		goto err;
	for (unsigned i = 0; i < c->nroutes; i++) {
		struct sip_route *r = &px->routes[i];

		/* both come from the config with the same bounds: the copies always fit */
		memcpy(r->domain, c->routes[i].domain, sizeof(r->domain));
		memcpy(r->addr, c->routes[i].addr, sizeof(r->addr));
		r->port = c->routes[i].port;
		r->tp = c->routes[i].tcp ? SIP_TP_TCP : SIP_TP_UDP;
	}
	px->nroutes = c->nroutes;
	for (unsigned i = 0; i < c->nallow; i++)
		if (sip_cidr_parse(c->allow[i], &px->allow[i]))
			goto err;
	px->nallow = c->nallow;
	*out = px;
	return 0;
err:
	free(px);
	return -EINVAL;
}

/* SIGHUP: the reloadable parts (routes, allow-list, auth policy, realm, log level) without
 * dropping calls in flight; a bad config is refused and the old one kept. Listen addresses,
 * shards and Diameter peers need a restart. */
static void reload(struct proxy *p)
{
	const struct sip_proxy_cfg *old;
	struct sip_proxy_cfg *px;
	struct conf nc;
	int ret;

	ret = conf_load(&nc, p->conf_path);
	if (ret == 0)
		ret = build_rules(&nc.proxy, p->px->secret, &px);
	if (ret) {
		mr_err("msg=\"reload refused: bad config, keeping the old one\" file=%s err=%d",
		       p->conf_path ? p->conf_path : "<embedded>", ret);
		return;
	}
	if (strcmp(nc.proxy.listen_addr, p->conf.proxy.listen_addr) ||
	    nc.proxy.listen_port != p->conf.proxy.listen_port)
		mr_warn("msg=\"listen address changes need a restart: kept\"");
	px->port = p->px->port;
	memcpy(px->host, p->px->host, sizeof(px->host));
	ret = sip_shard_set_rules(p->shards, p->nshards, &p->scfg, px, &old);
	if (ret) /* a shard did not turn in time: the old rules may still be read, keep them */
		mr_warn("msg=\"old rules kept alive: a shard did not turn\" err=%d", ret);
	else
		free((void *)old);
	p->px = px;
	mr_log_set_level((enum mr_log_level)nc.log_level);
	mr_info("msg=\"reloaded\" routes=%u allow=%u realm=%s", px->nroutes, px->nallow, px->realm);
}

static int metrics_setup(struct stats_registry *r, void *arg)
{
	struct proxy *p = arg;
	int ret = proxy_metrics_init(r, p->shards, p->nshards, p->pool, p->peer_names,
	                             p->conf.proxy.npeers, &p->metrics);

	if (!ret)
		proxy_metrics_tls(p->metrics, p->dia_tls, p->sip_tls);
	return ret;
}

/* /metrics, when configured: a failure to bind is logged and the proxy runs without it. */
static void stats_start(struct proxy *p)
{
	const struct conf_proxy *c = &p->conf.proxy;

	if (!c->stats_port)
		return;
	for (unsigned i = 0; i < c->npeers; i++)
		p->peer_names[i] = c->peers[i].host;
	stats_serve(&p->stats, "mara-proxy", c->stats_addr, c->stats_port, metrics_setup, p);
}

static void stats_stop(struct proxy *p)
{
	stats_serve_stop(&p->stats);
	proxy_metrics_free(p->metrics);
	p->metrics = NULL;
}

/* TLS contexts: mutual authentication towards the Diameter peers; SIP UAs are not asked for a
 * certificate (they authenticate with digest). */
static int tls_setup(struct proxy *p)
{
	const struct conf_proxy *c = &p->conf.proxy;
	bool dia = false;
	int ret;

	for (unsigned i = 0; i < c->npeers; i++)
		dia |= c->peers[i].tls;
	if (dia) {
		ret = cmd_tls_ctx(&c->tls, true, &p->dia_tls);
		if (ret)
			return ret;
	}
	if (c->tls_listen_addr[0])
		return cmd_tls_ctx(&c->tls, false, &p->sip_tls);
	return 0;
}

static int start(struct proxy *p)
{
	const struct conf_proxy *c = &p->conf.proxy;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char sd_status[384];
	int ret;

	p->nshards = c->threads ? c->threads : (unsigned)(cpus > 0 ? cpus : 1);
	p->shards = calloc(p->nshards, sizeof(*p->shards));
	p->loops = calloc(p->nshards, sizeof(*p->loops));
	if (!p->shards || !p->loops)
		return -ENOMEM;
	ret = build_rules(c, NULL, &p->px);
	if (ret)
		return ret;
	ret = tls_setup(p);
	if (ret)
		return ret;
	p->scfg = (struct sip_shard_cfg){
	    .px = p->px,
	    .origin_host = c->origin_host,
	    .listen_addr = c->listen_addr,
	    .listen_port = c->listen_port,
	    .tcp = c->tcp,
	    .tls = p->sip_tls,
	    .tls_addr = c->tls_listen_addr,
	    .tls_port = c->tls_listen_port,
	    .max_pending = c->max_pending,
	    .batch_us = c->batch_wait_us,
	    .slice_us = c->sched_slice_us,
	    .retry_after_s = c->retry_after_s,
	    .ha1_cache = {.enabled = c->ha1_cache.enabled,
	                  .max_uses = c->ha1_cache.max_uses,
	                  .max_age_s = c->ha1_cache.max_age_s,
	                  .methods = c->ha1_cache.methods,
	                  .entries = c->ha1_cache.entries},
	    .max_message = c->max_message,
	    .max_headers = c->max_headers,
	    .max_via = c->max_via,
	    .tcp_timeout_ms = c->tcp_message_timeout_ms,
	};
	p->guard = sip_guard_create(c->tcp_max_per_source, c->max_challenges_per_source,
	                            c->max_challenges);
	if (!p->guard)
		return -ENOMEM;
	p->scfg.guard = p->guard;
	for (unsigned i = 0; i < c->npeers; i++) {
		const struct conf_peer *cp = &c->peers[i];
		bool v6 = strchr(cp->addr, ':') != NULL;

		snprintf(p->peer_addr[i], sizeof(p->peer_addr[i]), v6 ? "[%s]:%u" : "%s:%u",
		         cp->addr, cp->port);
		p->peers[i] =
		    (struct dia_pool_peer){cp->host, p->peer_addr[i], cp->tls ? p->dia_tls : NULL};
	}
	for (unsigned i = 0; i < p->nshards; i++)
		p->loops[i] = &p->shards[i].loop;
	p->pcfg = (struct dia_pool_cfg){
	    .id = {mr_str_c(c->origin_host), mr_str_c(c->origin_realm), (uint32_t)time(NULL)},
	    .dest_realm = mr_str_c(c->destination_realm),
	    .peers = p->peers,
	    .npeers = c->npeers,
	    .tw_ms = c->watchdog_s * 1000u,
	    .tc_ms = c->reconnect_s * 1000u,
	    .timeout_ms = c->diameter_timeout_ms,
	    .overload_ms = c->overload_ms,
	    .batch_us = c->batch_wait_us,
	    .slice_us = c->sched_slice_us,
	    .max_avp_nest = c->max_avp_nest,
	    .nshards = p->nshards,
	    .shard_loops = (struct io_loop *const *)p->loops,
	    /* shard 0's loop runs the pool: no thread hop for its MARs (bench/README.md) */
	    .host = c->pool_thread ? 0 : 1,
	};
	/* the shards' loops must exist before the pool keeps pointers to them */
	for (unsigned i = 0; i < p->nshards; i++) {
		p->scfg.pool = NULL;
		ret = sip_shard_init(&p->shards[i], i, &p->scfg);
		if (ret)
			return ret;
	}
	ret = dia_pool_create(&p->pcfg, &p->pool);
	if (ret)
		return ret;
	p->scfg.pool = p->pool;
	ret = dia_pool_start(p->pool);
	if (ret)
		return ret;
	for (unsigned i = 0; i < p->nshards; i++) {
		ret = sip_shard_start(&p->shards[i]);
		if (ret)
			return ret;
	}
	stats_start(p);
	if (p->sip_tls)
		mr_info("msg=\"SIP over TLS\" listen=%s:%u min_version=%s", c->tls_listen_addr,
		        c->tls_listen_port, c->tls.min_version);
	mr_info("msg=\"mara-proxy ready\" sip=%s:%u tcp=%s shards=%u realm=%s aaa_peers=%u "
	        "record_route=%s",
	        c->listen_addr, c->listen_port, c->tcp ? "yes" : "no", p->nshards, c->realm,
	        c->npeers, c->record_route ? "yes" : "no");
	snprintf(sd_status, sizeof(sd_status), "SIP on %s:%u, realm %s, %u shards", c->listen_addr,
	         c->listen_port, c->realm, p->nshards);
	mr_sd_ready(sd_status);
	return 0;
}

static void log_totals(const struct proxy *p)
{
	struct sip_shard_stats t = {0};
	struct dia_pool_stats ps;

	for (unsigned i = 0; i < p->nshards; i++) {
		const struct sip_shard_stats *s = &p->shards[i].st;

		t.rx_requests += s->rx_requests;
		t.rx_responses += s->rx_responses;
		t.challenges += s->challenges;
		t.authorized += s->authorized;
		t.refused += s->refused;
		t.fwd_requests += s->fwd_requests;
		t.fwd_responses += s->fwd_responses;
		t.retrans_absorbed += s->retrans_absorbed;
		t.acks_absorbed += s->acks_absorbed;
		t.parse_errors += s->parse_errors;
		t.no_peer_503 += s->no_peer_503;
		t.err_500 += s->err_500;
		t.mar_submitted += s->mar_submitted;
		t.not_allowed += s->not_allowed;
		t.pending_gauge += s->pending_gauge;
		t.req_answered += s->req_answered;
		t.req_dropped += s->req_dropped;
	}
	dia_pool_stats_get(p->pool, &ps);
	mr_info("msg=\"totals\" requests=%lu responses=%lu challenges=%lu authorized=%lu "
	        "refused=%lu fwd_requests=%lu fwd_responses=%lu retrans_absorbed=%lu "
	        "acks_absorbed=%lu parse_errors=%lu no_peer_503=%lu err_500=%lu mar=%lu "
	        "not_allowed=%lu left_pending=%lu pool_timeouts=%lu failovers=%lu answered=%lu "
	        "dropped=%lu",
	        t.rx_requests, t.rx_responses, t.challenges, t.authorized, t.refused,
	        t.fwd_requests, t.fwd_responses, t.retrans_absorbed, t.acks_absorbed,
	        t.parse_errors, t.no_peer_503, t.err_500, t.mar_submitted, t.not_allowed,
	        t.pending_gauge, ps.timeouts, ps.failovers, t.req_answered, t.req_dropped);
}

int main(int argc, char **argv)
{
	static struct proxy p; /* main's state, handed to threads by pointer */
	struct conf_cmdline cl;
	bool check;
	struct timespec wd;
	uint64_t wd_ms;
	sigset_t set;
	int ret, sig;

	ret = conf_start(argc, argv, "mara-proxy", usage, &p.conf, &cl);
	if (ret)
		return ret;
	p.conf_path = cl.path;
	check = cl.check;
	if (check) {
		struct sip_proxy_cfg *px = NULL;

		ret = build_rules(&p.conf.proxy, NULL, &px);
		free(px);
		if (!ret && cmd_tls_check(&p.conf.proxy.tls, "mara-proxy",
		                          p.conf_path ? p.conf_path : "<embedded>"))
			return 1;
		if (ret) {
			fprintf(stderr, "mara-proxy: %s: configuration refused\n",
			        p.conf_path ? p.conf_path : "<embedded>");
			return 1;
		}
		printf("mara-proxy: %s: configuration OK\n",
		       p.conf_path ? p.conf_path : "<embedded>");
		return 0;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	ret = start(&p);
	if (ret) {
		mr_err("msg=\"start-up failed\" err=%d (%s)", ret, strerror(-ret));
		return 1;
	}
	/* under a systemd watchdog (WatchdogSec=) the wait wakes every half interval to ping it */
	wd_ms = mr_sd_watchdog_interval_ms() / 2;
	wd = (struct timespec){(time_t)(wd_ms / 1000), (long)(wd_ms % 1000) * 1000000L};
	for (;;) {
		sig = sigtimedwait(&set, NULL, wd_ms ? &wd : NULL);
		if (wd_ms)
			mr_sd_watchdog_ping();
		if (sig < 0) /* EAGAIN (the watchdog's timeout) or EINTR */
			continue;
		if (sig == SIGHUP) {
			mr_sd_reloading();
			reload(&p);
			mr_sd_ready(NULL);
			continue;
		}
		break;
	}
	mr_info("msg=\"stopping\" signal=%d", sig);
	mr_sd_stopping();
	/* 1. shards stop reading; 2. the pool fails what is still out (-ECANCELED -> 503) and
	 * says DPR; 3. shards answer everything parked, then exit */
	for (unsigned i = 0; i < p.nshards; i++)
		sip_shard_stop(&p.shards[i]);
	dia_pool_stop(p.pool);
	for (unsigned i = 0; i < p.nshards; i++)
		sip_shard_join(&p.shards[i]);
	log_totals(&p);
	stats_stop(&p); /* before the shards and the pool it reads go */
	for (unsigned i = 0; i < p.nshards; i++)
		sip_shard_fini(&p.shards[i]);
	dia_pool_destroy(p.pool);
	sip_guard_free(p.guard);
	free(p.shards);
	free(p.loops);
	free(p.px);
	io_tls_ctx_free(p.dia_tls);
	io_tls_ctx_free(p.sip_tls);
	mr_info("msg=\"stopped\"");
	return 0;
}

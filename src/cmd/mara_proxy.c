/* SPDX-License-Identifier: MIT
 * mara_proxy.c - mara-proxy: the SIP proxy of RFC 4740 §6.4 Figure 4.
 * Owns: main() only: flags -> config -> Diameter pool (its own thread) -> one shard per core
 * (io_uring loop, UDP socket and TCP listener on the SIP port each) -> signals.
 * Thread: main handles signals (SIGTERM/SIGINT: stop reading, answer what is parked, DPR to the
 * Diameter peers, exit 0). */
#include "conf.h"
#include "dia_pool.h"
#include "mara_build.h"
#include "mr_log.h"
#include "sip_proxy.h"
#include "sip_shard.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

struct proxy {
	struct conf conf;
	const char *conf_path;
	struct sip_proxy_cfg px;
	struct sip_shard_cfg scfg;
	struct dia_pool_cfg pcfg;
	struct dia_pool_peer peers[CONF_MAX_PEERS];
	char peer_addr[CONF_MAX_PEERS][80];
	struct dia_pool *pool;
	struct sip_shard *shards;
	struct io_loop **loops;
	unsigned nshards;
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: mara-proxy [-c FILE] [--check-config] [--help] [--version]\n"
	        "  SIP proxy that authenticates every request through Diameter (RFC 4740 §6.4).\n"
	        "  -c FILE          libconfig file (default: the embedded default: SIP on\n"
	        "                   127.0.0.1:5060 UDP+TCP, realm example.com, mara-aaa at\n"
	        "                   127.0.0.1:3868, destinations limited to loopback)\n"
	        "  --check-config   load and check the config, then exit\n"
	        "  signals: TERM/INT stop (parked requests answered, DPR to the Diameter peers)\n");
}

static int parse_args(int argc, char **argv, const char **path, bool *check)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"check-config", no_argument, NULL, 'C'},
	    {"config", required_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0},
	};
	int o;

	while ((o = getopt_long(argc, argv, "hVc:", opts, NULL)) != -1) {
		switch (o) {
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("mara-proxy %s\n", MARA_VERSION);
			exit(0);
		case 'C':
			*check = true;
			break;
		case 'c':
			*path = optarg;
			break;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* The proxy rules' view of the config: numeric addresses, parsed CIDRs. */
static int build_rules(struct proxy *p)
{
	const struct conf_proxy *c = &p->conf.proxy;
	struct sip_proxy_cfg *px = &p->px;

	memset(px, 0, sizeof(*px));
	snprintf(px->host, sizeof(px->host), "%s", c->advertise[0] ? c->advertise : c->listen_addr);
	px->port = c->listen_port;
	snprintf(px->realm, sizeof(px->realm), "%s", c->realm);
	px->auth_methods = c->auth_methods;
	px->auth_in_dialog = c->auth_in_dialog;
	px->record_route = c->record_route;
	if (getrandom(px->secret, sizeof(px->secret), 0) != sizeof(px->secret))
		return -EIO;
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
			return -EINVAL;
	px->nallow = c->nallow;
	return 0;
}

static int start(struct proxy *p)
{
	const struct conf_proxy *c = &p->conf.proxy;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int ret;

	p->nshards = c->threads ? c->threads : (unsigned)(cpus > 0 ? cpus : 1);
	p->shards = calloc(p->nshards, sizeof(*p->shards));
	p->loops = calloc(p->nshards, sizeof(*p->loops));
	if (!p->shards || !p->loops)
		return -ENOMEM;
	ret = build_rules(p);
	if (ret)
		return ret;
	p->scfg = (struct sip_shard_cfg){
	    .px = &p->px,
	    .origin_host = c->origin_host,
	    .listen_addr = c->listen_addr,
	    .listen_port = c->listen_port,
	    .tcp = c->tcp,
	    .max_pending = c->max_pending,
	    .retry_after_s = c->retry_after_s,
	};
	for (unsigned i = 0; i < c->npeers; i++) {
		const struct conf_peer *cp = &c->peers[i];
		bool v6 = strchr(cp->addr, ':') != NULL;

		snprintf(p->peer_addr[i], sizeof(p->peer_addr[i]), v6 ? "[%s]:%u" : "%s:%u",
		         cp->addr, cp->port);
		p->peers[i] = (struct dia_pool_peer){cp->host, p->peer_addr[i]};
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
	    .nshards = p->nshards,
	    .shard_loops = (struct io_loop *const *)p->loops,
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
	mr_info("msg=\"mara-proxy ready\" sip=%s:%u tcp=%s shards=%u realm=%s aaa_peers=%u "
	        "record_route=%s",
	        c->listen_addr, c->listen_port, c->tcp ? "yes" : "no", p->nshards, c->realm,
	        c->npeers, c->record_route ? "yes" : "no");
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
	}
	dia_pool_stats_get(p->pool, &ps);
	mr_info("msg=\"totals\" requests=%lu responses=%lu challenges=%lu authorized=%lu "
	        "refused=%lu fwd_requests=%lu fwd_responses=%lu retrans_absorbed=%lu "
	        "acks_absorbed=%lu parse_errors=%lu no_peer_503=%lu err_500=%lu mar=%lu "
	        "not_allowed=%lu left_pending=%lu pool_timeouts=%lu failovers=%lu",
	        t.rx_requests, t.rx_responses, t.challenges, t.authorized, t.refused,
	        t.fwd_requests, t.fwd_responses, t.retrans_absorbed, t.acks_absorbed,
	        t.parse_errors, t.no_peer_503, t.err_500, t.mar_submitted, t.not_allowed,
	        t.pending_gauge, ps.timeouts, ps.failovers);
}

int main(int argc, char **argv)
{
	static struct proxy p; /* main's state, handed to threads by pointer */
	bool check = false;
	sigset_t set;
	int ret, sig;

	if (parse_args(argc, argv, &p.conf_path, &check))
		return 2;
	ret = conf_load(&p.conf, p.conf_path);
	if (ret) {
		fprintf(stderr, "mara-proxy: %s: configuration refused (see the error above)\n",
		        p.conf_path ? p.conf_path : "<embedded>");
		return 1;
	}
	mr_log_set_level((enum mr_log_level)p.conf.log_level);
	if (check) {
		ret = build_rules(&p);
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
	for (;;) {
		if (sigwait(&set, &sig))
			continue;
		if (sig == SIGHUP) {
			mr_info("msg=\"SIGHUP: nothing to reload yet in mara-proxy\"");
			continue;
		}
		break;
	}
	mr_info("msg=\"stopping\" signal=%d", sig);
	/* 1. shards stop reading; 2. the pool fails what is still out (-ECANCELED -> 503) and
	 * says DPR; 3. shards answer everything parked, then exit */
	for (unsigned i = 0; i < p.nshards; i++)
		sip_shard_stop(&p.shards[i]);
	dia_pool_stop(p.pool);
	for (unsigned i = 0; i < p.nshards; i++)
		sip_shard_join(&p.shards[i]);
	log_totals(&p);
	for (unsigned i = 0; i < p.nshards; i++)
		sip_shard_fini(&p.shards[i]);
	dia_pool_destroy(p.pool);
	free(p.shards);
	free(p.loops);
	mr_info("msg=\"stopped\"");
	return 0;
}

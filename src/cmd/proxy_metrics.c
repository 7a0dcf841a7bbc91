/* SPDX-License-Identifier: MIT
 * proxy_metrics.c - mara-proxy's metric families and the collector that fills them at scrape
 * time from the shards' counters and the Diameter pool's (see stats.h).
 * Owns: the family handles (immutable after start). Thread: init on the main thread before the
 * endpoint starts; the collector on the stats thread, reading with relaxed loads only. */
#include "proxy_metrics.h"

#include "cmd_tls.h"

#include "stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const method_names[SIP_SHARD_METHODS] = {
    "OTHER",     "INVITE", "ACK",   "CANCEL", "BYE",  "REGISTER", "OPTIONS", "MESSAGE",
    "SUBSCRIBE", "NOTIFY", "PRACK", "UPDATE", "INFO", "REFER",    "PUBLISH",
};

static const char *const limit_names[SIP_SHARD_LIMITS] = {
    [SIP_LIM_MESSAGE_SIZE] = "message_size",
    [SIP_LIM_HEADERS] = "header_count",
    [SIP_LIM_VIA] = "via_depth",
    [SIP_LIM_TCP_PER_SOURCE] = "tcp_connections_per_source",
    [SIP_LIM_TCP_SLOW] = "tcp_message_timeout",
    [SIP_LIM_CHALLENGE_SOURCE] = "challenges_per_source",
    [SIP_LIM_CHALLENGE_TOTAL] = "challenges_total",
    [SIP_LIM_AAA_OVERLOAD] = "aaa_overload",
};

enum fam {
	F_REQ,        /* requests received by method */
	F_RESP_IN,    /* responses received */
	F_SENT,       /* local responses by code */
	F_FWD_REQ,    /* forwarded requests */
	F_FWD_RESP,   /* forwarded responses by class */
	F_CHAL,       /* 407 */
	F_AUTH,       /* by result */
	F_DROP,       /* by reason */
	F_ABSORB,     /* retransmissions, ACKs of our 407 */
	F_PENDING,    /* gauge */
	F_TCP,        /* connections accepted */
	F_MAR,        /* MAR sent */
	F_MAA,        /* by class */
	F_MAA_RC,     /* by Result-Code, as judged by the shards */
	F_PEER_WD,    /* watchdog state per peer */
	F_MAR_TO,     /* timeouts */
	F_INFLIGHT,   /* gauge */
	F_OVERLOADED, /* gauge */
	F_OVERLOAD_ON,
	F_RTT, /* histogram */
	F_FAILOVER,
	F_PEER_UP,   /* gauge per peer */
	F_PEER_EV,   /* per peer: opens, connects */
	F_LOCAL,     /* requests validated by the ha1_cache, no MAR */
	F_AC_FB,     /* requests with credentials the ha1_cache left to the MAR, by reason */
	F_AC_EV,     /* ha1_cache entries learned / evicted */
	F_AC_SIZE,   /* gauge */
	F_LIMIT,     /* hostile input refused, by limit */
	F_DIA_LIMIT, /* Diameter messages refused by a limit */
	F_OUTCOME,   /* what became of received requests: the balance */
	F_COUNT,
};

struct proxy_metrics {
	struct stats_family *f[F_COUNT];
	const struct sip_shard *shards;
	unsigned nshards;
	struct dia_pool *pool;
	const char *const *peer_names;
	unsigned npeers;
	struct cmd_tls_families tls;
	const struct io_tls_ctx *dia_tls, *sip_tls;
};

static uint64_t sum(const struct proxy_metrics *pm, size_t off)
{
	uint64_t t = 0;

	for (unsigned i = 0; i < pm->nshards; i++)
		t += stats_read(
		    (const uint64_t *)(const void *)((const char *)&pm->shards[i].st + off));
	return t;
}

#define SUM(pm, field) sum((pm), offsetof(struct sip_shard_stats, field))

static void collect_sip(struct proxy_metrics *pm, struct stats_emit *e)
{
	char code[8];

	for (unsigned k = 0; k < SIP_SHARD_METHODS; k++)
		stats_emit_counter(
		    e, pm->f[F_REQ], (const char *[]){method_names[k]},
		    sum(pm, offsetof(struct sip_shard_stats, rx_by_method) + k * sizeof(uint64_t)));
	stats_emit_counter(e, pm->f[F_RESP_IN], NULL, SUM(pm, rx_responses));
	for (unsigned k = 0; k < SIP_SHARD_CODES; k++) {
		unsigned c = sip_shard_code_of_slot(k);

		snprintf(code, sizeof(code), "%u", c);
		stats_emit_counter(
		    e, pm->f[F_SENT], (const char *[]){c ? code : "other"},
		    sum(pm, offsetof(struct sip_shard_stats, sent_by_code) + k * sizeof(uint64_t)));
	}
	stats_emit_counter(e, pm->f[F_FWD_REQ], NULL, SUM(pm, fwd_requests));
	for (unsigned k = 0; k < 7; k++) {
		static const char *const cls[7] = {"other", "1xx", "2xx", "3xx",
		                                   "4xx",   "5xx", "6xx"};

		stats_emit_counter(
		    e, pm->f[F_FWD_RESP], (const char *[]){cls[k]},
		    sum(pm, offsetof(struct sip_shard_stats, fwd_by_class) + k * sizeof(uint64_t)));
	}
	stats_emit_counter(e, pm->f[F_CHAL], (const char *[]){"fresh"},
	                   SUM(pm, challenges) - SUM(pm, stale_challenges));
	stats_emit_counter(e, pm->f[F_CHAL], (const char *[]){"stale"}, SUM(pm, stale_challenges));
	stats_emit_counter(e, pm->f[F_AUTH], (const char *[]){"authorized"}, SUM(pm, authorized));
	stats_emit_counter(e, pm->f[F_AUTH], (const char *[]){"refused"}, SUM(pm, refused));
	stats_emit_counter(e, pm->f[F_AUTH], (const char *[]){"no_diameter_peer"},
	                   SUM(pm, no_peer_503));
	stats_emit_counter(e, pm->f[F_AUTH], (const char *[]){"diameter_error"}, SUM(pm, err_500));
	stats_emit_counter(e, pm->f[F_AUTH], (const char *[]){"rechallenged_minting_server_gone"},
	                   SUM(pm, minter_gone));
	stats_emit_counter(e, pm->f[F_AUTH], (const char *[]){"mar_not_sent"}, SUM(pm, mar_errors));
	stats_emit_counter(e, pm->f[F_DROP], (const char *[]){"parse_error"},
	                   SUM(pm, parse_errors));
	stats_emit_counter(e, pm->f[F_DROP], (const char *[]){"destination_not_allowed"},
	                   SUM(pm, not_allowed));
	stats_emit_counter(e, pm->f[F_DROP], (const char *[]){"response_not_routable"},
	                   SUM(pm, responses_dropped));
	stats_emit_counter(e, pm->f[F_DROP], (const char *[]){"send_queue_full"},
	                   SUM(pm, send_drops));
	stats_emit_counter(e, pm->f[F_DROP], (const char *[]){"next_hop_tcp_failed"},
	                   SUM(pm, next_hop_tcp_failed));
	stats_emit_counter(e, pm->f[F_DROP], (const char *[]){"pending_table_full"},
	                   SUM(pm, pending_full));
	stats_emit_counter(e, pm->f[F_ABSORB], (const char *[]){"retransmission"},
	                   SUM(pm, retrans_absorbed));
	stats_emit_counter(e, pm->f[F_ABSORB], (const char *[]){"ack_of_local_response"},
	                   SUM(pm, acks_absorbed));
	stats_emit_gauge(e, pm->f[F_PENDING], NULL, (double)SUM(pm, pending_gauge));
	for (unsigned k = 0; k < SIP_SHARD_LIMITS; k++)
		stats_emit_counter(
		    e, pm->f[F_LIMIT], (const char *[]){limit_names[k]},
		    sum(pm, offsetof(struct sip_shard_stats, limit) + k * sizeof(uint64_t)));
	stats_emit_counter(e, pm->f[F_OUTCOME], (const char *[]){"forwarded"},
	                   SUM(pm, fwd_requests));
	stats_emit_counter(e, pm->f[F_OUTCOME], (const char *[]){"answered"},
	                   SUM(pm, req_answered));
	stats_emit_counter(e, pm->f[F_OUTCOME], (const char *[]){"absorbed"},
	                   SUM(pm, retrans_absorbed) + SUM(pm, acks_absorbed));
	stats_emit_counter(e, pm->f[F_OUTCOME], (const char *[]){"dropped"}, SUM(pm, req_dropped));
	stats_emit_counter(e, pm->f[F_TCP], NULL, SUM(pm, tcp_accepted));
	for (unsigned k = 0; k < SIP_SHARD_RESULTS; k++) {
		uint32_t rc = sip_shard_result_of_slot(k);

		snprintf(code, sizeof(code), "%u", rc);
		stats_emit_counter(
		    e, pm->f[F_MAA_RC], (const char *[]){rc ? code : "other"},
		    sum(pm, offsetof(struct sip_shard_stats, maa_by_code) + k * sizeof(uint64_t)));
	}
}

static void collect_diameter(struct proxy_metrics *pm, struct stats_emit *e)
{
	static const char *const cls[6] = {"other", "1xxx", "2xxx", "3xxx", "4xxx", "5xxx"};
	struct dia_pool_stats ps;
	double sum_s;

	dia_pool_stats_get(pm->pool, &ps);
	stats_emit_counter(e, pm->f[F_MAR], NULL, ps.mar_sent);
	for (unsigned k = 0; k < 6; k++)
		stats_emit_counter(e, pm->f[F_MAA], (const char *[]){cls[k]}, ps.maa_by_class[k]);
	stats_emit_counter(e, pm->f[F_MAR_TO], NULL, ps.timeouts);
	stats_emit_gauge(e, pm->f[F_INFLIGHT], NULL, (double)ps.inflight);
	stats_emit_gauge(e, pm->f[F_OVERLOADED], NULL, (double)ps.overloaded);
	stats_emit_counter(e, pm->f[F_OVERLOAD_ON], NULL, ps.overload_on);
	sum_s = (double)ps.rtt_sum_ns / 1e9;
	stats_emit_histogram(e, pm->f[F_RTT], NULL, ps.lat_hist, DIA_POOL_LAT_BUCKETS, sum_s);
	stats_emit_counter(e, pm->f[F_FAILOVER], NULL, ps.failovers);
	stats_emit_counter(e, pm->f[F_DIA_LIMIT], (const char *[]){"avp_nesting_too_deep"},
	                   ps.too_deep);
	for (unsigned i = 0; i < pm->npeers; i++) {
		struct dia_pool_peer_stats p;

		if (dia_pool_peer_stats(pm->pool, i, &p))
			continue;
		stats_emit_gauge(e, pm->f[F_PEER_UP], (const char *[]){pm->peer_names[i]},
		                 p.usable ? 1 : 0);
		/* RFC 3539 state: 0 okay, 1 suspect, 2 reopen; -1 when not open */
		stats_emit_gauge(e, pm->f[F_PEER_WD], (const char *[]){pm->peer_names[i]},
		                 p.state == DIA_PS_OPEN ? (double)p.wd : -1);
		stats_emit_counter(e, pm->f[F_PEER_EV],
		                   (const char *[]){pm->peer_names[i], "connect"}, p.connects);
		stats_emit_counter(e, pm->f[F_PEER_EV], (const char *[]){pm->peer_names[i], "open"},
		                   p.opens);
		stats_emit_counter(e, pm->f[F_PEER_EV],
		                   (const char *[]){pm->peer_names[i], "failed_over"},
		                   p.failed_over);
		stats_emit_counter(e, pm->f[F_PEER_EV],
		                   (const char *[]){pm->peer_names[i], "timeout"}, p.timeouts);
	}
}

/* RFC 4740 §6.3 at the proxy (sip_authcache.h): its counters live in each shard's table. */
static void collect_authcache(struct proxy_metrics *pm, struct stats_emit *e)
{
	static const struct {
		const char *reason;
		size_t off;
	} fb[] = {
	    {"unknown_nonce", offsetof(struct sip_authcache_stats, miss)},
	    {"nc_not_higher", offsetof(struct sip_authcache_stats, nc_not_higher)},
	    {"expired", offsetof(struct sip_authcache_stats, expired)},
	    {"max_uses", offsetof(struct sip_authcache_stats, used_up)},
	    {"mismatch", offsetof(struct sip_authcache_stats, mismatch)},
	    {"wrong_response", offsetof(struct sip_authcache_stats, wrong_response)},
	    {"method", offsetof(struct sip_authcache_stats, method)},
	};
	uint64_t v[7] = {0}, ok = 0, re = 0, learned = 0, evicted = 0, size = 0;

	for (unsigned i = 0; i < pm->nshards; i++) {
		const struct sip_authcache_stats *st;

		if (!pm->shards[i].ac)
			continue;
		st = sip_authcache_stats(pm->shards[i].ac);
		for (unsigned k = 0; k < MR_ARRAY_SIZE(fb); k++)
			v[k] += stats_read(
			    (const uint64_t *)(const void *)((const char *)st + fb[k].off));
		ok += stats_read(&st->validated);
		re += stats_read(&st->retransmission);
		learned += stats_read(&st->learned);
		evicted += stats_read(&st->evicted);
		size += stats_read(&st->entries);
	}
	stats_emit_counter(e, pm->f[F_LOCAL], (const char *[]){"validated"}, ok - re);
	stats_emit_counter(e, pm->f[F_LOCAL], (const char *[]){"retransmission"}, re);
	for (unsigned k = 0; k < MR_ARRAY_SIZE(fb); k++)
		stats_emit_counter(e, pm->f[F_AC_FB], (const char *[]){fb[k].reason}, v[k]);
	stats_emit_counter(e, pm->f[F_AC_EV], (const char *[]){"learned"}, learned);
	stats_emit_counter(e, pm->f[F_AC_EV], (const char *[]){"evicted"}, evicted);
	stats_emit_gauge(e, pm->f[F_AC_SIZE], NULL, (double)size);
}

static void collect(void *arg, struct stats_emit *e)
{
	struct proxy_metrics *pm = arg;

	collect_sip(pm, e);
	collect_authcache(pm, e);
	collect_diameter(pm, e);
	cmd_tls_metrics_emit(e, &pm->tls, "diameter", pm->dia_tls);
	cmd_tls_metrics_emit(e, &pm->tls, "sip", pm->sip_tls);
}

void proxy_metrics_tls(struct proxy_metrics *pm, const struct io_tls_ctx *dia,
                       const struct io_tls_ctx *sip)
{
	pm->dia_tls = dia;
	pm->sip_tls = sip;
}

struct def {
	enum fam id;
	enum stats_type type;
	const char *name;
	const char *help;
	const char *labels[2];
	unsigned nlabels;
};

static const struct def defs[] = {
    {F_REQ,
     STATS_COUNTER,
     "mara_sip_requests_received_total",
     "SIP requests received",
     {"method"},
     1},
    {F_RESP_IN,
     STATS_COUNTER,
     "mara_sip_responses_received_total",
     "SIP responses received",
     {0},
     0},
    {F_SENT,
     STATS_COUNTER,
     "mara_sip_local_responses_sent_total",
     "SIP responses the proxy answered itself, by code",
     {"code"},
     1},
    {F_FWD_REQ,
     STATS_COUNTER,
     "mara_sip_requests_forwarded_total",
     "SIP requests forwarded",
     {0},
     0},
    {F_FWD_RESP,
     STATS_COUNTER,
     "mara_sip_responses_forwarded_total",
     "SIP responses forwarded, by class",
     {"class"},
     1},
    {F_CHAL, STATS_COUNTER, "mara_sip_challenges_total", "407 challenges sent", {"kind"}, 1},
    {F_AUTH,
     STATS_COUNTER,
     "mara_auth_results_total",
     "Outcomes of requests that needed Diameter authentication",
     {"result"},
     1},
    {F_DROP,
     STATS_COUNTER,
     "mara_sip_dropped_total",
     "Messages dropped or refused, by reason",
     {"reason"},
     1},
    {F_ABSORB,
     STATS_COUNTER,
     "mara_sip_absorbed_total",
     "Requests absorbed without forwarding",
     {"kind"},
     1},
    {F_PENDING,
     STATS_GAUGE,
     "mara_sip_pending_requests",
     "Requests parked waiting for their MAA",
     {0},
     0},
    {F_TCP,
     STATS_COUNTER,
     "mara_sip_tcp_connections_accepted_total",
     "SIP TCP connections accepted",
     {0},
     0},
    {F_MAR,
     STATS_COUNTER,
     "mara_diameter_mar_sent_total",
     "Multimedia-Auth-Requests sent (failover re-sends included)",
     {0},
     0},
    {F_MAA,
     STATS_COUNTER,
     "mara_diameter_maa_received_total",
     "Multimedia-Auth-Answers by Result-Code class",
     {"class"},
     1},
    {F_MAA_RC,
     STATS_COUNTER,
     "mara_diameter_maa_results_total",
     "Multimedia-Auth-Answers by Result-Code (the codes RFC 4740 uses; other)",
     {"code"},
     1},
    {F_PEER_WD,
     STATS_GAUGE,
     "mara_diameter_peer_watchdog_state",
     "RFC 3539 watchdog: 0 okay, 1 suspect, 2 reopen, -1 not open",
     {"peer"},
     1},
    {F_MAR_TO,
     STATS_COUNTER,
     "mara_diameter_mar_timeouts_total",
     "MARs without an answer in time",
     {0},
     0},
    {F_INFLIGHT,
     STATS_GAUGE,
     "mara_diameter_mar_inflight",
     "MARs sent and not yet answered",
     {0},
     0},
    {F_OVERLOADED,
     STATS_GAUGE,
     "mara_diameter_aaa_overloaded",
     "1 while the fastest MAA of each 100 ms takes longer than overload_ms: new calls get 503",
     {0},
     0},
    {F_OVERLOAD_ON,
     STATS_COUNTER,
     "mara_diameter_aaa_overload_episodes_total",
     "Times the AAA was found overloaded (a standing queue of MARs)",
     {0},
     0},
    {F_FAILOVER,
     STATS_COUNTER,
     "mara_diameter_failovers_total",
     "MARs re-sent to another peer with the T flag",
     {0},
     0},
    {F_PEER_UP,
     STATS_GAUGE,
     "mara_diameter_peer_up",
     "1 when the peer is open with watchdog OKAY",
     {"peer"},
     1},
    {F_LIMIT,
     STATS_COUNTER,
     "mara_sip_limit_total",
     "Messages and connections refused by a limit on hostile input or an admission cap",
     {"limit"},
     1},
    {F_DIA_LIMIT,
     STATS_COUNTER,
     "mara_diameter_limit_total",
     "Diameter messages from the AAA peers refused by a limit",
     {"limit"},
     1},
    {F_OUTCOME,
     STATS_COUNTER,
     "mara_sip_request_outcomes_total",
     "What became of the requests counted in mara_sip_requests_received_total (those still "
     "parked are mara_sip_pending_requests)",
     {"outcome"},
     1},
    {F_PEER_EV,
     STATS_COUNTER,
     "mara_diameter_peer_events_total",
     "Peer connection and watchdog events",
     {"peer", "event"},
     2},
    {F_LOCAL,
     STATS_COUNTER,
     "mara_auth_local_total",
     "Requests validated by the proxy on a nonce mara-aaa handed over (no MAR)",
     {"result"},
     1},
    {F_AC_FB,
     STATS_COUNTER,
     "mara_auth_cache_fallbacks_total",
     "Requests with credentials the HA1 cache left to a MAR, by reason",
     {"reason"},
     1},
    {F_AC_EV,
     STATS_COUNTER,
     "mara_auth_cache_entries_total",
     "HA1 cache entries learned from authorized MAAs, and live ones evicted",
     {"event"},
     1},
    {F_AC_SIZE, STATS_GAUGE, "mara_auth_cache_entries", "Nonces held in the HA1 caches", {0}, 0},
};

void proxy_metrics_free(struct proxy_metrics *pm)
{
	free(pm);
}

int proxy_metrics_init(struct stats_registry *r, const struct sip_shard *shards, unsigned n,
                       struct dia_pool *pool, const char *const *peer_names, unsigned npeers,
                       struct proxy_metrics **out)
{
	static const double rtt_bounds[DIA_POOL_LAT_BUCKETS - 1] = {
	    50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3,
	    10e-3, 20e-3,  50e-3,  0.1,    0.2,  0.5,  1.0};
	struct proxy_metrics *pm = calloc(1, sizeof(*pm));
	int ret = -EINVAL;

	if (!pm)
		return -ENOMEM;
	*out = pm; /* the caller frees it, after the endpoint stopped */
	pm->shards = shards;
	pm->nshards = n;
	pm->pool = pool;
	pm->peer_names = peer_names;
	pm->npeers = npeers;
	ret = cmd_tls_metrics_add(r, &pm->tls);
	if (ret)
		return ret;
	for (size_t i = 0; i < MR_ARRAY_SIZE(defs); i++) {
		ret = stats_family_add(r, defs[i].type, defs[i].name, defs[i].help, defs[i].labels,
		                       defs[i].nlabels, &pm->f[defs[i].id]);
		if (ret)
			return ret;
	}
	ret = -EINVAL;
	/* the pool's buckets: 50 µs .. 1 s, then +Inf (dia_pool_lat_bound_us) */
	for (unsigned i = 0; i < DIA_POOL_LAT_BUCKETS - 1; i++)
		if ((uint64_t)(rtt_bounds[i] * 1e6 + 0.5) != dia_pool_lat_bound_us(i))
			return -EINVAL;
	ret = stats_histogram_add(r, "mara_diameter_mar_rtt_seconds",
	                          "Round-trip time of answered MARs", NULL, 0, rtt_bounds,
	                          DIA_POOL_LAT_BUCKETS - 1, &pm->f[F_RTT]);
	if (ret)
		return ret;
	return stats_collector_add(r, collect, pm);
}

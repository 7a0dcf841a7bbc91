/* SPDX-License-Identifier: MIT
 * aaa_metrics.c - mara-aaa's metric families and the collector that fills them at scrape time
 * from each loop's MAR outcome counters and peer counters, and from the peer table.
 * Owns: struct aaa_metrics (family handles; borrowed views of the loops' counters).
 * Thread: init on the main thread before the endpoint starts; the collector runs on the stats
 * thread and only reads (relaxed loads; the peer table under its own mutex, briefly). */
#include "aaa_metrics.h"

#include "cmd_tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

enum fam {
	F_MAR,      /* MARs received */
	F_MAA,      /* answers by outcome */
	F_PEER_MSG, /* Diameter messages by direction */
	F_BAD,      /* invalid input by kind */
	F_PEER_EV,  /* capability exchange, watchdog and disconnect events */
	F_PEER_UP,  /* gauge per connected peer */
	F_REFUSED,  /* credentials not accepted, by reason */
	F_COUNT,
};

struct aaa_metrics {
	struct stats_family *f[F_COUNT];
	struct cmd_tls_families tls;
	const struct aaa_metrics_src *src;
};

static uint64_t sum_srv(const struct aaa_metrics_src *src, size_t off)
{
	uint64_t t = 0;

	for (unsigned i = 0; i < src->n; i++)
		t += mr_count_read(
		    (const uint64_t *)(const void *)((const char *)src->srv[i] + off));
	return t;
}

static uint64_t sum_peer(const struct aaa_metrics_src *src, size_t off)
{
	uint64_t t = 0;

	for (unsigned i = 0; i < src->n; i++)
		t += mr_count_read(
		    (const uint64_t *)(const void *)((const char *)src->peer[i] + off));
	return t;
}

#define SRV(src, f)  sum_srv((src), offsetof(struct dia_sipsrv_stats, f))
#define PEER(src, f) sum_peer((src), offsetof(struct dia_peer_stats, f))

static void collect(void *arg, struct stats_emit *e)
{
	static const struct {
		const char *result;
		size_t off;
	} maa[] = {
	    {"challenge", offsetof(struct dia_sipsrv_stats, challenges)},
	    {"authorized", offsetof(struct dia_sipsrv_stats, authorized)},
	    {"wrong_response", offsetof(struct dia_sipsrv_stats, bad_response)},
	    {"forged_nonce", offsetof(struct dia_sipsrv_stats, forged_nonce)},
	    {"replayed_nonce_count", offsetof(struct dia_sipsrv_stats, replayed)},
	    {"unknown_user", offsetof(struct dia_sipsrv_stats, unknown_user)},
	    {"unsupported_scheme", offsetof(struct dia_sipsrv_stats, bad_scheme)},
	    {"aor_mismatch", offsetof(struct dia_sipsrv_stats, aor_mismatch)},
	    {"bad_credentials", offsetof(struct dia_sipsrv_stats, bad_request)},
	};
	static const struct {
		const char *event;
		size_t off;
	} ev[] = {
	    {"cer_rejected", offsetof(struct dia_peer_stats, cer_rejected)},
	    {"capabilities_timeout", offsetof(struct dia_peer_stats, ce_timeouts)},
	    {"election_won", offsetof(struct dia_peer_stats, elections_won)},
	    {"election_lost", offsetof(struct dia_peer_stats, elections_lost)},
	    {"duplicate_connection", offsetof(struct dia_peer_stats, duplicates)},
	    {"dwr_sent", offsetof(struct dia_peer_stats, dwr_sent)},
	    {"dwr_received", offsetof(struct dia_peer_stats, dwr_rx)},
	    {"dwa_received", offsetof(struct dia_peer_stats, dwa_rx)},
	    {"watchdog_suspect", offsetof(struct dia_peer_stats, wd_suspect)},
	    {"watchdog_down", offsetof(struct dia_peer_stats, wd_down)},
	    {"dpr_sent", offsetof(struct dia_peer_stats, dpr_sent)},
	    {"dpr_received", offsetof(struct dia_peer_stats, dpr_rx)},
	    {"dpa_received", offsetof(struct dia_peer_stats, dpa_rx)},
	};
	struct aaa_metrics *am = arg;
	const struct aaa_metrics_src *src = am->src;
	struct dia_peer_table *t = src->table;

	stats_emit_counter(e, am->f[F_MAR], NULL, SRV(src, mar));
	for (size_t i = 0; i < MR_ARRAY_SIZE(maa); i++)
		stats_emit_counter(e, am->f[F_MAA], (const char *[]){maa[i].result},
		                   sum_srv(src, maa[i].off));
	stats_emit_counter(e, am->f[F_MAA], (const char *[]){"stale_challenge"}, SRV(src, stale));
	for (unsigned r = 0; r < DIA_SIPSRV_R_COUNT; r++)
		stats_emit_counter(
		    e, am->f[F_REFUSED],
		    (const char *[]){dia_sipsrv_reason_name((enum dia_sipsrv_reason)r)},
		    sum_srv(src,
		            offsetof(struct dia_sipsrv_stats, refused) + r * sizeof(uint64_t)));
	stats_emit_counter(e, am->f[F_PEER_MSG], (const char *[]){"received"}, PEER(src, rx_msgs));
	stats_emit_counter(e, am->f[F_PEER_MSG], (const char *[]){"sent"}, PEER(src, tx_msgs));
	stats_emit_counter(e, am->f[F_BAD], (const char *[]){"framing_lost"},
	                   PEER(src, framing_errors));
	stats_emit_counter(e, am->f[F_BAD], (const char *[]){"error_answered"},
	                   PEER(src, invalid_msgs));
	stats_emit_counter(e, am->f[F_BAD], (const char *[]){"avp_nesting_too_deep"},
	                   PEER(src, too_deep));
	stats_emit_counter(e, am->f[F_BAD], (const char *[]){"unknown_answer"},
	                   PEER(src, unknown_hbh));
	for (size_t i = 0; i < MR_ARRAY_SIZE(ev); i++)
		stats_emit_counter(e, am->f[F_PEER_EV], (const char *[]){ev[i].event},
		                   sum_peer(src, ev[i].off));
	/* peers now connected: the table is shared with the loops, hold its lock briefly */
	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < DIA_TABLE_MAX; i++)
		if (t->ent[i].conn && t->ent[i].open)
			stats_emit_gauge(e, am->f[F_PEER_UP], (const char *[]){t->ent[i].host}, 1);
	pthread_mutex_unlock(&t->lock);
	cmd_tls_metrics_emit(e, &am->tls, "diameter", src->tls);
}

int aaa_metrics_init(struct stats_registry *r, const struct aaa_metrics_src *src,
                     struct aaa_metrics **out)
{
	static const struct {
		enum fam id;
		enum stats_type type;
		const char *name;
		const char *help;
		const char *label;
	} defs[] = {
	    {F_MAR, STATS_COUNTER, "mara_aaa_mar_received_total", "Multimedia-Auth-Requests", NULL},
	    {F_MAA, STATS_COUNTER, "mara_aaa_maa_sent_total", "Multimedia-Auth-Answers by outcome",
	     "result"},
	    {F_PEER_MSG, STATS_COUNTER, "mara_diameter_messages_total",
	     "Diameter messages on peer connections", "direction"},
	    {F_BAD, STATS_COUNTER, "mara_diameter_invalid_total",
	     "Malformed or unexpected Diameter input, by outcome", "kind"},
	    {F_PEER_EV, STATS_COUNTER, "mara_diameter_peer_events_total",
	     "Capability exchange, election, watchdog and disconnect events", "event"},
	    {F_REFUSED, STATS_COUNTER, "mara_aaa_digest_refused_total",
	     "Digest credentials not accepted (refused, or re-challenged when stale or minted by "
	     "another instance), by reason",
	     "reason"},
	    {F_PEER_UP, STATS_GAUGE, "mara_diameter_peer_up", "1 for each peer connected now",
	     "peer"},
	};
	struct aaa_metrics *am = calloc(1, sizeof(*am));
	int ret;

	if (!am)
		return -ENOMEM;
	*out = am; /* the caller frees it, after the endpoint stopped */
	am->src = src;
	for (size_t i = 0; i < MR_ARRAY_SIZE(defs); i++) {
		const char *labels[1] = {defs[i].label};

		ret = stats_family_add(r, defs[i].type, defs[i].name, defs[i].help, labels,
		                       defs[i].label ? 1 : 0, &am->f[defs[i].id]);
		if (ret)
			return ret;
	}
	ret = cmd_tls_metrics_add(r, &am->tls);
	if (ret)
		return ret;
	return stats_collector_add(r, collect, am);
}

void aaa_metrics_free(struct aaa_metrics *am)
{
	free(am);
}

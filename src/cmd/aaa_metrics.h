/* SPDX-License-Identifier: MIT
 * aaa_metrics.h - mara-aaa's metrics: MAR outcomes and Diameter peer counters summed over the
 * event loops, and the peers connected now, for the /metrics endpoint.
 * Owns: struct aaa_metrics (family handles). Borrows @src and everything it points to, which
 * must outlive the endpoint. Thread: init on the main thread; collected on the stats thread. */
#ifndef AAA_METRICS_H
#define AAA_METRICS_H

#include "dia_peer.h"
#include "dia_sipsrv.h"
#include "io_tls.h"
#include "stats.h"

/* Where the counters are: one entry per loop. */
struct aaa_metrics_src {
	const struct dia_sipsrv_stats *const *srv;
	const struct dia_peer_stats *const *peer;
	unsigned n;
	struct dia_peer_table *table;
	const struct io_tls_ctx *tls; /* NULL: no TLS configured */
};

struct aaa_metrics;

/* Registers mara-aaa's families and collector in @r; *@out is set even on failure (free it
 * with aaa_metrics_free). Negative errno from the registry. */
int aaa_metrics_init(struct stats_registry *r, const struct aaa_metrics_src *src,
                     struct aaa_metrics **out);
void aaa_metrics_free(struct aaa_metrics *am);

#endif

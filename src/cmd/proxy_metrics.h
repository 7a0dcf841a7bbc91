/* SPDX-License-Identifier: MIT
 * proxy_metrics.h - mara-proxy's metrics: SIP counters summed over the shards, the Diameter
 * pool's counters, MAR round-trip histogram and peer gauges, for the /metrics endpoint.
 * Owns: struct proxy_metrics (family handles; borrowed pointers to shards, pool, peer names).
 * Thread: init on the main thread before stats_http_start(); collected on the stats thread. */
#ifndef PROXY_METRICS_H
#define PROXY_METRICS_H

#include "dia_pool.h"
#include "io_tls.h"
#include "sip_shard.h"
#include "stats.h"

struct proxy_metrics;

/* Registers mara-proxy's families and collector in @r. *@out is set even on failure (free it
 * with proxy_metrics_free). -EINVAL, -EEXIST, -ENOMEM from the registry. */
int proxy_metrics_init(struct stats_registry *r, const struct sip_shard *shards, unsigned n,
                       struct dia_pool *pool, const char *const *peer_names, unsigned npeers,
                       struct proxy_metrics **out);
/* The TLS contexts whose counters go out with the next scrapes (NULL: not configured): Diameter
 * towards the AAA peers, SIP from the UAs. Call after init, before the endpoint starts. */
void proxy_metrics_tls(struct proxy_metrics *pm, const struct io_tls_ctx *dia,
                       const struct io_tls_ctx *sip);
void proxy_metrics_free(struct proxy_metrics *pm);

#endif

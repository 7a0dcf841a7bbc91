/* SPDX-License-Identifier: MIT
 * stats.h - metrics for /metrics: a registry of metric families built at start-up, filled at
 * scrape time by collector callbacks that read their owners' plain per-shard counters, rendered
 * as Prometheus text format 0.0.4 and served over HTTP by libmicrohttpd (stats_http.c).
 * Owns: the registry owns its families, their names, help texts, label names and bucket bounds;
 * the owners of counters keep them (plain uint64_t fields, one writer each).
 * Thread: build the registry on one thread before stats_http_start(); after that it is
 * immutable and stats_render() may run on any thread, concurrently with everything.
 *
 * Shape of a wiring (per-shard counters, summed on scrape):
 *
 *	struct px_stats { uint64_t req[PX_NMETHODS]; uint64_t lat[NB + 1]; uint64_t lat_ns; }
 *		__attribute__((aligned(STATS_CACHELINE)));      // one per shard, shard writes it
 *	stats_add(&sh->st.req[m], 1);                           // hot path: no lock, no RMW
 *
 *	static void px_collect(void *arg, struct stats_emit *e)  // MHD thread, at scrape
 *	{
 *		sum every shard's counters with stats_read();
 *		stats_emit_counter(e, px->fam_req, (const char *[]){ "INVITE" }, total);
 *	}
 *	stats_collector_add(reg, px_collect, px);               // start-up
 */
#ifndef STATS_H
#define STATS_H

#include <stddef.h>
#include <stdint.h>

/* Per-shard counter blocks are aligned to this, so two shards never share a cache line. */
#define STATS_CACHELINE 64

/* Limits, checked at registration (-EINVAL beyond them). */
#define STATS_MAX_LABELS  8  /* label names per family ("le" of histograms not counted) */
#define STATS_MAX_BUCKETS 64 /* finite bucket bounds per histogram (+Inf is implicit) */

enum stats_type {
	STATS_COUNTER,   /* monotonic uint64; name must end in "_total" (promtool's rule) */
	STATS_GAUGE,     /* double, goes up and down */
	STATS_HISTOGRAM, /* cumulative _bucket{le=...}, _sum, _count */
};

struct stats_registry; /* opaque: families + collectors, immutable once frozen */
struct stats_family;   /* opaque: owned by its registry, valid until stats_registry_destroy() */
struct stats_emit;     /* opaque: one scrape in progress, valid only inside a collector call */

/* A collector: sums its owner's counters (stats_read()) and emits one sample per label set
 * with stats_emit_*(). Called on the scraping thread, possibly on two scrapes at once, while
 * the counters' owners keep writing: it must only read. Must not call stats_registry_*. */
typedef void stats_collect_fn(void *arg, struct stats_emit *e);

/* A growable text buffer. All-zero is the empty buffer; stats_buf_free() releases it. @p is
 * NUL-terminated whenever @len > 0. */
struct stats_buf {
	char *p;
	size_t len, cap;
};

void stats_buf_free(struct stats_buf *b);

/* ---- per-shard counters: one writer, relaxed readers ---------------------------------------- */

/* stats_read() : the value of a counter written by another thread; relaxed, never torn. */
static inline uint64_t stats_read(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* stats_add() : hot: adds @v to a counter only the calling thread writes. A relaxed load and
 * a relaxed store, no locked RMW: the single writer makes it exact, the atomic store keeps a
 * concurrent stats_read() from seeing a torn value. */
static inline void stats_add(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

/* stats_set() : stores a gauge-like value (queue depth, in flight) that one thread owns. */
static inline void stats_set(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/* stats_bucket() : index of the bucket for @v in @bounds (strictly increasing, @n of them):
 * the first i with v <= bounds[i], or @n (the +Inf bucket). Owners keep per-bucket counts
 * (not cumulative) in an array of n + 1 and pass it to stats_emit_histogram(). Linear: the
 * few buckets a latency histogram has fit in one or two cache lines. */
static inline unsigned stats_bucket(const double *bounds, unsigned n, double v)
{
	unsigned i = 0;

	while (i < n && v > bounds[i])
		i++;
	return i;
}

/* A block of @ncounters counters for each of @nshards shards, each shard's row starting on
 * its own cache line: for owners that index counters by an enum instead of a struct. */
struct stats_shards {
	unsigned nshards, ncounters;
	size_t stride; /* uint64_t per row, a multiple of STATS_CACHELINE / 8 */
	uint64_t *rows;
};

/* stats_shards_init() : allocates zeroed rows. Returns 0, -EINVAL (0 shards or counters), or
 * -ENOMEM. stats_shards_fini() frees them (all-zero and finalized structs are fine). */
int stats_shards_init(struct stats_shards *s, unsigned nshards, unsigned ncounters);
void stats_shards_fini(struct stats_shards *s);

/* stats_shards_row() : the counters of @shard, for its owner thread (stats_add()). */
static inline uint64_t *stats_shards_row(const struct stats_shards *s, unsigned shard)
{
	return s->rows + (size_t)shard * s->stride;
}

/* stats_shards_sum() : counters [@first, @first + @n) summed over all shards into @out[0..n).
 * Thread: any (relaxed reads). */
void stats_shards_sum(const struct stats_shards *s, unsigned first, unsigned n, uint64_t *out);

/* ---- registry (start-up, one thread) --------------------------------------------------------- */

/* stats_registry_create() : a registry that already holds the built-in families, rendered after
 * the owners' ones: process_resident_memory_bytes, process_open_fds, process_start_time_seconds,
 * mara_uptime_seconds and mara_build_info{version=MARA_VERSION, binary=@binary} 1.
 * @binary: e.g. "mara-proxy" (copied). Returns 0, -EINVAL (@binary NULL or empty), -ENOMEM. */
int stats_registry_create(const char *binary, struct stats_registry **out);

/* stats_registry_destroy() : frees the registry and its families. Every endpoint serving it
 * must have been stopped (stats_http_stop()). NULL is fine. */
void stats_registry_destroy(struct stats_registry *r);

/* stats_family_add() : registers a counter or gauge family (copied strings).
 * @name: [a-zA-Z_:][a-zA-Z0-9_:]*, counters end in "_total", other types do not, and no type
 * other than histogram ends in "_bucket", "_sum" or "_count" (promtool check metrics rules).
 * @help: non-empty, one line of text (escaped on output). @label_names: @nlabels names, each
 * [a-zA-Z_][a-zA-Z0-9_]*, not starting "__", all different; NULL when @nlabels is 0.
 * Returns 0 and the family in @out (owned by @r), -EINVAL (bad name, help, labels, type),
 * -EEXIST (name taken), -EBUSY (registry frozen: an endpoint was started), -ENOMEM. */
int stats_family_add(struct stats_registry *r, enum stats_type type, const char *name,
                     const char *help, const char *const *label_names, unsigned nlabels,
                     struct stats_family **out);

/* stats_histogram_add() : registers a histogram family; as stats_family_add(), plus @bounds:
 * @nbounds finite upper bounds, strictly increasing (copied; +Inf is added on output). No
 * label may be "le". Returns as stats_family_add(); -EINVAL for bad bounds too. */
int stats_histogram_add(struct stats_registry *r, const char *name, const char *help,
                        const char *const *label_names, unsigned nlabels, const double *bounds,
                        unsigned nbounds, struct stats_family **out);

/* stats_collector_add() : @fn(@arg, e) is called on every scrape, in registration order.
 * @arg is borrowed and must outlive the registry's endpoints. Returns 0, -EINVAL (@fn NULL),
 * -EBUSY (frozen), -ENOMEM. */
int stats_collector_add(struct stats_registry *r, stats_collect_fn *fn, void *arg);

/* stats_registry_freeze() : no family or collector may be added from now on (-EBUSY). Called by
 * stats_http_start(); idempotent. Single start-up thread only. */
void stats_registry_freeze(struct stats_registry *r);

/* ---- scrape ------------------------------------------------------------------------------------
 */

/* stats_emit_counter() / stats_emit_gauge() : one sample of @f in the scrape @e. @label_values:
 * as many strings as @f has label names, in the same order (NULL when it has none); escaped on
 * output, invalid UTF-8 replaced by U+FFFD. Each label set should be emitted once per scrape.
 * Returns 0, or -EINVAL (@f of another type or registry, NULL value) / -ENOMEM; either makes
 * the whole scrape fail with that error (a bug shows as HTTP 500, not as a silent gap). */
int stats_emit_counter(struct stats_emit *e, const struct stats_family *f,
                       const char *const *label_values, uint64_t value);
int stats_emit_gauge(struct stats_emit *e, const struct stats_family *f,
                     const char *const *label_values, double value);

/* stats_emit_histogram() : one labelled histogram of @f. @bucket_counts: @n per-bucket (not
 * cumulative) counts, @n == nbounds + 1, [i] counting observations in (bounds[i-1], bounds[i]]
 * and [nbounds] those above the last bound: the module makes them cumulative, adds le="+Inf"
 * and _count (their total). @sum: the sum of the observed values (seconds for latencies).
 * Returns as stats_emit_counter(); -EINVAL also when @n is not nbounds + 1. */
int stats_emit_histogram(struct stats_emit *e, const struct stats_family *f,
                         const char *const *label_values, const uint64_t *bucket_counts, unsigned n,
                         double sum);

/* stats_render() : runs every collector and appends the exposition (text format 0.0.4: # HELP
 * and # TYPE once per family, its samples under it, families in registration order, then the
 * built-in ones) to @out. Thread: any, concurrently with other renders and with the counters'
 * writers. Returns 0, -ENOMEM, or the first error a collector's emit returned; on error @out
 * keeps its previous length. A family nobody emitted for still gets its HELP and TYPE lines. */
int stats_render(struct stats_registry *r, struct stats_buf *out);

/* ---- HTTP endpoint (stats_http.c) ------------------------------------------------------------ */

struct stats_http; /* opaque: one libmicrohttpd daemon and its listening socket */

/* stats_http_start() : freezes @r and serves it on @addr:@port from libmicrohttpd's own internal
 * thread: GET or HEAD /metrics -> 200 "text/plain; version=0.0.4; charset=utf-8" (500 if the
 * render fails), any other path -> 404, another method on /metrics -> 405 with Allow.
 * @addr: an IPv4 or IPv6 literal ("[::1]" accepted), NULL for 127.0.0.1. @port: 0 picks a free
 * one (see stats_http_port()). @r is borrowed until stats_http_stop().
 * Returns 0, -EINVAL (bad address), the -errno of socket/bind/listen (-EADDRINUSE...), or -EIO
 * when libmicrohttpd refuses to start. */
int stats_http_start(struct stats_registry *r, const char *addr, uint16_t port,
                     struct stats_http **out);

/* stats_http_port() : the port actually bound (useful after port 0). */
uint16_t stats_http_port(const struct stats_http *h);

/* stats_http_stop() : stops the daemon, waiting for a scrape in progress; closes the socket and
 * frees @h. NULL is fine. */
void stats_http_stop(struct stats_http *h);

/* A daemon's whole /metrics: registry + endpoint. All-zero = not serving. */
struct stats_server {
	struct stats_registry *reg;
	struct stats_http *http;
};

/* stats_serve() : creates the registry of @binary, lets @setup register the daemon's families and
 * collectors in it (@arg passed through), and starts the endpoint on @addr:@port. Any failure is
 * logged and undone: the daemon runs on without /metrics. Returns 0 or the negative errno. */
int stats_serve(struct stats_server *s, const char *binary, const char *addr, uint16_t port,
                int (*setup)(struct stats_registry *r, void *arg), void *arg);
/* Stops the endpoint and frees the registry (no scrape runs after it returns). */
void stats_serve_stop(struct stats_server *s);

#endif

/* SPDX-License-Identifier: MIT
 * bench_report.c - mara-bench's statistics: the log-linear latency histogram (HDR-like, no
 * per-sample storage) and the final report, as a table or as one JSON object (keys in
 * bench/README.md).
 * Owns: nothing. Thread: histograms are per generator thread; the report runs on the main
 * thread after the generator threads are joined. */
#include "bench.h"

#include <stdio.h>

const char *const bench_fail_names[BENCH_F_COUNT] = {
    [BENCH_F_TIMEOUT] = "timeout",     [BENCH_F_403] = "status_403",
    [BENCH_F_500] = "status_500",      [BENCH_F_503] = "status_503",
    [BENCH_F_STATUS] = "status_other", [BENCH_F_PARSE] = "parse_error",
    [BENCH_F_DIA] = "diameter_error",  [BENCH_F_CONN] = "conn_lost",
    [BENCH_F_INTERNAL] = "internal",   [BENCH_F_STALE] = "stale",
};

const char *const bench_lat_names[BENCH_L_COUNT] = {
    [BENCH_L_CHALLENGE] = "challenge",
    [BENCH_L_AUTH] = "auth",
    [BENCH_L_FLOW] = "flow",
};

/* ---- histogram: values below 64 us exact, then 32 linear buckets per power of two ------------ */

static unsigned hist_idx(uint64_t v)
{
	unsigned e;

	if (v < 64)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	return 64 + (e - 6) * 32 + (unsigned)((v >> (e - BENCH_HIST_SUB)) - 32);
}

/* The midpoint of bucket @i. */
static uint64_t hist_value(unsigned i)
{
	unsigned k, e;
	uint64_t top;

	if (i < 64)
		return i;
	k = i - 64;
	e = k / 32 + 6;
	top = k % 32 + 32;
	return (top << (e - BENCH_HIST_SUB)) + ((1ull << (e - BENCH_HIST_SUB)) >> 1);
}

void bench_hist_add(struct bench_hist *h, uint64_t us)
{
	if (h->count == 0 || us < h->min)
		h->min = us;
	if (us > h->max)
		h->max = us;
	h->count++;
	h->sum += us;
	h->b[hist_idx(us)]++;
}

void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
	if (!src->count)
		return;
	if (dst->count == 0 || src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->count += src->count;
	dst->sum += src->sum;
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
}

uint64_t bench_hist_pct(const struct bench_hist *h, double p)
{
	double exact = p / 100.0 * (double)h->count;
	uint64_t want = (uint64_t)exact, seen = 0, v;

	if (!h->count)
		return 0;
	if ((double)want < exact)
		want++;
	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			v = hist_value(i);
			return v < h->min ? h->min : v > h->max ? h->max : v;
		}
	}
	return h->max;
}

/* ---- report ------------------------------------------------------------------------------- */

static const double pcts[] = {50, 90, 99, 99.9};
static const char *const pct_keys[] = {"p50", "p90", "p99", "p99.9"};

static double ms(uint64_t us)
{
	return (double)us / 1000.0;
}

static double per_s(uint64_t n, double s)
{
	return s > 0 ? (double)n / s : 0;
}

static void json_hist(FILE *out, const struct bench_hist *h)
{
	fprintf(out, "{\"count\":%llu,\"mean\":%.3f,\"min\":%.3f", (unsigned long long)h->count,
	        h->count ? ms(h->sum) / (double)h->count : 0.0, ms(h->min));
	for (size_t i = 0; i < MR_ARRAY_SIZE(pcts); i++)
		fprintf(out, ",\"%s\":%.3f", pct_keys[i], ms(bench_hist_pct(h, pcts[i])));
	fprintf(out, ",\"max\":%.3f}", ms(h->max));
}

static void report_json(const struct bench_cfg *cfg, const struct bench_stats *st, double el,
                        uint64_t failed, bool over, FILE *out)
{
	bool mar = cfg->flow == BENCH_FLOW_MAR;
	bool first = true;

	fprintf(out,
	        "{\"tool\":\"mara-bench\",\"version\":\"%s\",\"flow\":\"%s\",\"target\":\"%s:%u\","
	        "\"threads\":%u,\"sockets\":%u,\"conns\":%u,\"rate\":%.3f,\"concurrency\":%u,"
	        "\"calls\":%llu,\"duration_s\":%.3f,\"warmup_s\":%.3f,\"elapsed_s\":%.6f,",
	        MR_VERSION_STRING, cfg->flow_name, cfg->target_host, cfg->target_port, cfg->threads,
	        mar ? 0 : cfg->sockets, mar ? cfg->conns : 0, cfg->rate, cfg->concurrency,
	        (unsigned long long)cfg->calls, cfg->duration_s, cfg->warmup_s, el);
	fprintf(out,
	        "\"started\":%llu,\"completed\":%llu,\"failed\":%llu,\"flows_per_s\":%.3f,"
	        "\"msgs_sent\":%llu,\"msgs_received\":%llu,\"sip_msgs_per_s\":%.3f,\"mars\":%llu,"
	        "\"mar_per_s\":%.3f,\"retransmissions\":%llu,\"stale_challenges\":%llu,"
	        "\"tx_drops\":%llu,\"stray\":%llu,",
	        (unsigned long long)st->started, (unsigned long long)st->completed,
	        (unsigned long long)failed, per_s(st->completed, el), (unsigned long long)st->sent,
	        (unsigned long long)st->received, mar ? 0.0 : per_s(st->sent + st->received, el),
	        (unsigned long long)st->mars, mar ? per_s(st->mars, el) : 0.0,
	        (unsigned long long)st->retrans, (unsigned long long)st->stale,
	        (unsigned long long)st->tx_drops, (unsigned long long)st->stray);
	if (mar) {
		fprintf(out,
		        "\"method\":\"%s\",\"mars_ok\":%llu,\"mar_ok_per_s\":%.3f,\"mar_codes\":{",
		        cfg->method, (unsigned long long)st->mars_ok, per_s(st->mars_ok, el));
		for (unsigned i = 0; i < BENCH_STATUS_MAX; i++) {
			if (!st->mar_rc[i])
				continue;
			fprintf(out, "%s\"%u\":%llu", first ? "" : ",", i,
			        (unsigned long long)st->mar_rc[i]);
			first = false;
		}
		fprintf(out, "},");
		first = true;
	}
	fprintf(out, "\"failures\":{");
	for (unsigned i = 0; i < BENCH_F_COUNT; i++)
		fprintf(out, "%s\"%s\":%llu", i ? "," : "", bench_fail_names[i],
		        (unsigned long long)st->fail[i]);
	fprintf(out, "},\"statuses\":{");
	for (unsigned i = 0; i < BENCH_STATUS_MAX; i++) {
		if (!st->status[i])
			continue;
		fprintf(out, "%s\"%u\":%llu", first ? "" : ",", i,
		        (unsigned long long)st->status[i]);
		first = false;
	}
	fprintf(out, "},\"latency_ms\":{");
	for (unsigned i = 0; i < BENCH_L_COUNT; i++) {
		fprintf(out, "%s\"%s\":", i ? "," : "", bench_lat_names[i]);
		json_hist(out, &st->lat[i]);
	}
	fprintf(out, "},\"max_fail\":%g,\"max_fail_percent\":%s,\"pass\":%s}\n", cfg->max_fail,
	        cfg->max_fail_pct ? "true" : "false", over ? "false" : "true");
}

static void report_table(const struct bench_cfg *cfg, const struct bench_stats *st, double el,
                         uint64_t failed, bool over, FILE *out)
{
	static const char *const lat_label[BENCH_L_COUNT] = {"request -> 407", "auth -> 2xx",
	                                                     "whole flow"};
	static const char *const mar_label[BENCH_L_COUNT] = {"MAR #1 -> MAA", "MAR #2 -> MAA",
	                                                     "whole flow"};
	bool mar = cfg->flow == BENCH_FLOW_MAR;

	fprintf(out, "mara-bench %s: flow %s -> %s:%u, %u thread(s), ", MR_VERSION_STRING,
	        cfg->flow_name, cfg->target_host, cfg->target_port, cfg->threads);
	if (cfg->rate > 0)
		fprintf(out, "open loop %.1f/s", cfg->rate);
	else
		fprintf(out, "closed loop");
	if (cfg->concurrency)
		fprintf(out, ", concurrency %u", cfg->concurrency);
	fprintf(out, "\n  %-20s %.3f s\n", "measured", el);
	fprintf(out, "  %-20s %llu started, %llu completed, %llu failed\n", "flows",
	        (unsigned long long)st->started, (unsigned long long)st->completed,
	        (unsigned long long)failed);
	fprintf(out, "  %-20s %.1f\n", "flows/s", per_s(st->completed, el));
	if (mar) {
		fprintf(out, "  %-20s %.1f (%llu answered)\n", "MAR/s", per_s(st->mars, el),
		        (unsigned long long)st->mars);
		fprintf(out, "  %-20s %.1f (%llu as expected; Result-Codes", "MAR/s expected",
		        per_s(st->mars_ok, el), (unsigned long long)st->mars_ok);
		for (unsigned i = 0; i < BENCH_STATUS_MAX; i++)
			if (st->mar_rc[i])
				fprintf(out, " %u=%llu", i, (unsigned long long)st->mar_rc[i]);
		fprintf(out, ")\n");
	}
	fprintf(out, "  %-20s %.1f (sent %llu, received %llu)\n",
	        mar ? "Diameter msgs/s" : "SIP messages/s", per_s(st->sent + st->received, el),
	        (unsigned long long)st->sent, (unsigned long long)st->received);
	if (!mar)
		fprintf(out, "  %-20s %llu (send drops %llu, stray %llu)\n", "retransmissions",
		        (unsigned long long)st->retrans, (unsigned long long)st->tx_drops,
		        (unsigned long long)st->stray);
	fprintf(out, "  %-20s %llu (answered again with the fresh nonce)\n", "stale challenges",
	        (unsigned long long)st->stale);
	fprintf(out, "  %-20s", "failures");
	for (unsigned i = 0; i < BENCH_F_COUNT; i++)
		if (st->fail[i])
			fprintf(out, " %s=%llu", bench_fail_names[i],
			        (unsigned long long)st->fail[i]);
	for (unsigned i = 0; i < BENCH_STATUS_MAX; i++)
		if (st->status[i])
			fprintf(out, " [%u]=%llu", i, (unsigned long long)st->status[i]);
	fprintf(out, "%s\n", failed || st->fail[BENCH_F_PARSE] ? "" : " none");
	fprintf(out, "  %-20s %9s %9s %9s %9s %9s %9s\n", "latency (ms)", "count", "p50", "p90",
	        "p99", "p99.9", "max");
	for (unsigned i = 0; i < BENCH_L_COUNT; i++) {
		const struct bench_hist *h = &st->lat[i];

		fprintf(out, "  %-20s %9llu", mar ? mar_label[i] : lat_label[i],
		        (unsigned long long)h->count);
		for (size_t k = 0; k < MR_ARRAY_SIZE(pcts); k++)
			fprintf(out, " %9.3f", ms(bench_hist_pct(h, pcts[k])));
		fprintf(out, " %9.3f\n", ms(h->max));
	}
	fprintf(out, "  %-20s %s (%llu failed, --max-fail %g%s)\n", "result",
	        over ? "FAIL" : "PASS", (unsigned long long)failed, cfg->max_fail,
	        cfg->max_fail_pct ? "%" : "");
}

void bench_report(const struct bench_cfg *cfg, const struct bench_stats *st, double elapsed_s,
                  uint64_t failed_total, bool over_limit, FILE *out, bool json)
{
	if (json)
		report_json(cfg, st, elapsed_s, failed_total, over_limit, out);
	else
		report_table(cfg, st, elapsed_s, failed_total, over_limit, out);
	fflush(out);
}

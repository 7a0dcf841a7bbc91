/* SPDX-License-Identifier: MIT
 * test_stats.c - the stats module: exposition golden text (labels, escaping, histograms), name
 * and label validation, emit errors, per-shard rows, concurrent scrapes, a real HTTP round trip
 * to the /metrics endpoint on loopback (200/404/405), and promtool check metrics on the output
 * when /usr/bin/promtool is installed. */
#include "stats.h"

#include "mara_build.h"
#include "mr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define PROMTOOL "/usr/bin/promtool"

/* ---- a registry like the proxy's, with fixed values ---------------------------------------- */

static const double lat_bounds[] = {50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 1};

struct fixture {
	struct stats_registry *r;
	struct stats_family *req, *rej, *inflight, *peers, *lat, *special;
	uint64_t lat_buckets[2][MR_ARRAY_SIZE(lat_bounds) + 1];
};

static void fx_collect(void *arg, struct stats_emit *e)
{
	struct fixture *fx = arg;

	stats_emit_counter(e, fx->req, (const char *[]){"INVITE", "407"}, 12);
	stats_emit_counter(e, fx->req, (const char *[]){"REGISTER", "200"}, 3);
	stats_emit_gauge(e, fx->inflight, NULL, 2.5);
	stats_emit_gauge(e, fx->special, (const char *[]){"nan"}, 0.0 / 0.0);
	stats_emit_gauge(e, fx->special, (const char *[]){"inf"}, 1.0 / 0.0);
	stats_emit_gauge(e, fx->special, (const char *[]){"-inf"}, -1.0 / 0.0);
	stats_emit_gauge(e, fx->special, (const char *[]){"int"}, 1601536);
	stats_emit_gauge(e, fx->special, (const char *[]){"big"}, 1e20);
	stats_emit_gauge(e, fx->special, (const char *[]){"small"}, -0.1);
	stats_emit_counter(e, fx->rej, (const char *[]){"wrong_password"}, 7);
	stats_emit_counter(e, fx->rej, (const char *[]){"a\\b\"c\nd"}, 1);
	stats_emit_gauge(e, fx->peers, (const char *[]){"aaa.test"}, 1);
	stats_emit_gauge(e, fx->peers, (const char *[]){"bad\xff\xc0.test"}, 0);
	stats_emit_histogram(e, fx->lat, (const char *[]){"aaa.test"}, fx->lat_buckets[0],
	                     MR_ARRAY_SIZE(fx->lat_buckets[0]), 0.0123);
	stats_emit_histogram(e, fx->lat, (const char *[]){"aaa2.test"}, fx->lat_buckets[1],
	                     MR_ARRAY_SIZE(fx->lat_buckets[1]), 0);
}

static int fx_setup(void **state)
{
	static const char *const req_l[] = {"method", "code"};
	static const char *const rej_l[] = {"reason"};
	static const char *const peer_l[] = {"peer"};
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(stats_registry_create("mara-test", &fx->r), 0);
	assert_int_equal(stats_family_add(fx->r, STATS_COUNTER, "mara_sip_requests_total",
	                                  "SIP requests received, by method and final answer.",
	                                  req_l, 2, &fx->req),
	                 0);
	assert_int_equal(stats_family_add(fx->r, STATS_COUNTER, "mara_auth_rejected_total",
	                                  "Rejected credentials \\ by \"reason\".", rej_l, 1,
	                                  &fx->rej),
	                 0);
	assert_int_equal(stats_family_add(fx->r, STATS_GAUGE, "mara_diameter_inflight",
	                                  "MARs sent and not answered.", NULL, 0, &fx->inflight),
	                 0);
	assert_int_equal(stats_family_add(fx->r, STATS_GAUGE, "mara_diameter_peer_up",
	                                  "1 when the peer is usable.", peer_l, 1, &fx->peers),
	                 0);
	assert_int_equal(stats_family_add(fx->r, STATS_GAUGE, "mara_test_values", "Formatting.",
	                                  (const char *[]){"kind"}, 1, &fx->special),
	                 0);
	assert_int_equal(stats_histogram_add(fx->r, "mara_diameter_rtt_seconds",
	                                     "MAR to MAA round trip.", peer_l, 1, lat_bounds,
	                                     MR_ARRAY_SIZE(lat_bounds), &fx->lat),
	                 0);
	/* per-bucket: 1 <= 50us, 0, 2 in (100us, 200us], 0, 0, 4 in (1ms, 1s], 3 above 1 s */
	memcpy(fx->lat_buckets[0], (uint64_t[]){1, 0, 2, 0, 0, 4, 3}, sizeof(fx->lat_buckets[0]));
	assert_int_equal(stats_collector_add(fx->r, fx_collect, fx), 0);
	*state = fx;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fixture *fx = *state;

	stats_registry_destroy(fx->r);
	free(fx);
	return 0;
}

/* What fx_collect renders, before the built-in families. */
static const char golden[] =
    "# HELP mara_sip_requests_total SIP requests received, by method and final answer.\n"
    "# TYPE mara_sip_requests_total counter\n"
    "mara_sip_requests_total{method=\"INVITE\",code=\"407\"} 12\n"
    "mara_sip_requests_total{method=\"REGISTER\",code=\"200\"} 3\n"
    "# HELP mara_auth_rejected_total Rejected credentials \\\\ by \"reason\".\n"
    "# TYPE mara_auth_rejected_total counter\n"
    "mara_auth_rejected_total{reason=\"wrong_password\"} 7\n"
    "mara_auth_rejected_total{reason=\"a\\\\b\\\"c\\nd\"} 1\n"
    "# HELP mara_diameter_inflight MARs sent and not answered.\n"
    "# TYPE mara_diameter_inflight gauge\n"
    "mara_diameter_inflight 2.5\n"
    "# HELP mara_diameter_peer_up 1 when the peer is usable.\n"
    "# TYPE mara_diameter_peer_up gauge\n"
    "mara_diameter_peer_up{peer=\"aaa.test\"} 1\n"
    "mara_diameter_peer_up{peer=\"bad\xef\xbf\xbd\xef\xbf\xbd.test\"} 0\n"
    "# HELP mara_test_values Formatting.\n"
    "# TYPE mara_test_values gauge\n"
    "mara_test_values{kind=\"nan\"} NaN\n"
    "mara_test_values{kind=\"inf\"} +Inf\n"
    "mara_test_values{kind=\"-inf\"} -Inf\n"
    "mara_test_values{kind=\"int\"} 1601536\n"
    "mara_test_values{kind=\"big\"} 1e+20\n"
    "mara_test_values{kind=\"small\"} -0.1\n"
    "# HELP mara_diameter_rtt_seconds MAR to MAA round trip.\n"
    "# TYPE mara_diameter_rtt_seconds histogram\n"
    "mara_diameter_rtt_seconds_bucket{peer=\"aaa.test\",le=\"5e-05\"} 1\n"
    "mara_diameter_rtt_seconds_bucket{peer=\"aaa.test\",le=\"0.0001\"} 1\n"
    "mara_diameter_rtt_seconds_bucket{peer=\"aaa.test\",le=\"0.0002\"} 3\n"
    "mara_diameter_rtt_seconds_bucket{peer=\"aaa.test\",le=\"0.0005\"} 3\n"
    "mara_diameter_rtt_seconds_bucket{peer=\"aaa.test\",le=\"0.001\"} 3\n"
    "mara_diameter_rtt_seconds_bucket{peer=\"aaa.test\",le=\"1\"} 7\n"
    "mara_diameter_rtt_seconds_bucket{peer=\"aaa.test\",le=\"+Inf\"} 10\n"
    "mara_diameter_rtt_seconds_sum{peer=\"aaa.test\"} 0.0123\n"
    "mara_diameter_rtt_seconds_count{peer=\"aaa.test\"} 10\n"
    "mara_diameter_rtt_seconds_bucket{peer=\"aaa2.test\",le=\"5e-05\"} 0\n"
    "mara_diameter_rtt_seconds_bucket{peer=\"aaa2.test\",le=\"0.0001\"} 0\n"
    "mara_diameter_rtt_seconds_bucket{peer=\"aaa2.test\",le=\"0.0002\"} 0\n"
    "mara_diameter_rtt_seconds_bucket{peer=\"aaa2.test\",le=\"0.0005\"} 0\n"
    "mara_diameter_rtt_seconds_bucket{peer=\"aaa2.test\",le=\"0.001\"} 0\n"
    "mara_diameter_rtt_seconds_bucket{peer=\"aaa2.test\",le=\"1\"} 0\n"
    "mara_diameter_rtt_seconds_bucket{peer=\"aaa2.test\",le=\"+Inf\"} 0\n"
    "mara_diameter_rtt_seconds_sum{peer=\"aaa2.test\"} 0\n"
    "mara_diameter_rtt_seconds_count{peer=\"aaa2.test\"} 0\n";

/* Checks the built-in families after the golden part. */
static void check_builtins(const char *text)
{
	static const char *const want[] = {
	    "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ",
	    "# TYPE process_open_fds gauge\nprocess_open_fds ",
	    "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds ",
	    "# TYPE mara_uptime_seconds gauge\nmara_uptime_seconds ",
	    "# TYPE mara_build_info gauge\nmara_build_info{version=\"" MARA_VERSION
	    "\",binary=\"mara-test\"} 1\n",
	};
	const char *p;

	for (size_t i = 0; i < MR_ARRAY_SIZE(want); i++)
		if (!strstr(text, want[i]))
			fail_msg("built-in %zu missing:\n%s", i, text);
	p = strstr(text, "\nprocess_open_fds ");
	assert_non_null(p);
	assert_true(strtol(p + 18, NULL, 10) >= 3);
	p = strstr(text, "\nprocess_start_time_seconds ");
	assert_true(strtod(p + 28, NULL) > 1.6e9);
	p = strstr(text, "\nprocess_resident_memory_bytes ");
	assert_true(strtod(p + 31, NULL) > 4096);
}

static void test_golden(void **state)
{
	struct fixture *fx = *state;
	struct stats_buf b = {0};

	assert_int_equal(stats_render(fx->r, &b), 0);
	if (b.len < sizeof(golden) - 1 || memcmp(b.p, golden, sizeof(golden) - 1) != 0)
		fail_msg("rendered:\n%s\nwanted:\n%s", b.p, golden);
	check_builtins(b.p + sizeof(golden) - 1);
	/* Rendering appends. */
	assert_int_equal(stats_render(fx->r, &b), 0);
	assert_memory_equal(strstr(b.p + 1, golden), golden, sizeof(golden) - 1);
	stats_buf_free(&b);
	assert_null(b.p);
}

/* Runs promtool check metrics on @text; returns its wait status, its output in @out. */
static int promtool_check(const char *text, char *out, size_t cap)
{
	char path[] = "/tmp/test_stats_promtool.XXXXXX", cmd[128];
	FILE *p;
	int fd, st;
	ssize_t n;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	snprintf(cmd, sizeof(cmd), PROMTOOL " check metrics >%s 2>&1", path);
	p = popen(cmd, "w");
	assert_non_null(p);
	assert_int_equal(fwrite(text, 1, strlen(text), p), strlen(text));
	st = pclose(p);
	n = read(fd, out, cap - 1);
	close(fd);
	unlink(path);
	assert_true(n >= 0);
	out[n] = '\0';
	return st;
}

/* Prometheus' own linter on the same text: no problems at all (exit 0, no output). */
static void test_promtool(void **state)
{
	struct fixture *fx = *state;
	struct stats_buf b = {0};
	char out[4096];
	int st;

	if (access(PROMTOOL, X_OK) != 0) {
		print_message("promtool not installed: lint skipped\n");
		skip();
	}
	/* the check can fail: a counter without _total and HELP is reported */
	st = promtool_check("# TYPE foo counter\nfoo 1\n", out, sizeof(out));
	assert_true(!WIFEXITED(st) || WEXITSTATUS(st) != 0);
	assert_non_null(strstr(out, "foo"));

	assert_int_equal(stats_render(fx->r, &b), 0);
	st = promtool_check(b.p, out, sizeof(out));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || out[0])
		fail_msg("promtool status %d says:\n%s\non:\n%s", st, out, b.p);
	stats_buf_free(&b);
}

/* ---- validation ------------------------------------------------------------------------------ */

static void test_names(void **state)
{
	static const struct {
		enum stats_type type;
		const char *name;
		int ret;
	} cases[] = {
	    {STATS_COUNTER, "a_total", 0},
	    {STATS_COUNTER, "_x:y_total", 0},
	    {STATS_COUNTER, "Ab9_total", 0},
	    {STATS_GAUGE, "abc", 0},
	    {STATS_GAUGE, "ns:abc", 0},
	    {STATS_COUNTER, "a", -EINVAL},     /* counters end in _total */
	    {STATS_GAUGE, "a_total", -EINVAL}, /* others do not */
	    {STATS_GAUGE, "a_count", -EINVAL}, /* histogram suffixes */
	    {STATS_GAUGE, "a_sum", -EINVAL},
	    {STATS_GAUGE, "a_bucket", -EINVAL},
	    {STATS_GAUGE, "9abc", -EINVAL},
	    {STATS_GAUGE, "", -EINVAL},
	    {STATS_GAUGE, NULL, -EINVAL},
	    {STATS_GAUGE, "a-b", -EINVAL},
	    {STATS_GAUGE, "a b", -EINVAL},
	    {STATS_GAUGE, "a{b}", -EINVAL},
	    {STATS_GAUGE, "caf\xc3\xa9", -EINVAL},
	    {STATS_HISTOGRAM, "h", -EINVAL}, /* histograms: stats_histogram_add() */
	    {STATS_GAUGE, "abc", -EEXIST},
	};
	struct stats_registry *r;

	(void)state;
	assert_int_equal(stats_registry_create("t", &r), 0);
	for (size_t i = 0; i < MR_ARRAY_SIZE(cases); i++) {
		int ret = stats_family_add(r, cases[i].type, cases[i].name, "help", NULL, 0, NULL);

		if (ret != cases[i].ret)
			fail_msg("case %zu (%s): %d, wanted %d", i, cases[i].name, ret,
			         cases[i].ret);
	}
	/* built-in names are taken */
	assert_int_equal(stats_family_add(r, STATS_GAUGE, "process_open_fds", "h", NULL, 0, NULL),
	                 -EEXIST);
	stats_registry_destroy(r);
	assert_int_equal(stats_registry_create("", &r), -EINVAL);
	assert_int_equal(stats_registry_create(NULL, &r), -EINVAL);
}

static void test_labels_help_bounds(void **state)
{
	static const double ok[] = {0.1, 0.2}, unsorted[] = {0.2, 0.1}, dup[] = {0.1, 0.1},
	                    inf[] = {0.1, 1.0 / 0.0};
	static const struct {
		const char *labels[3];
		unsigned n;
		const char *help;
		int ret;
	} cases[] = {
	    {{"method", "code"}, 2, "h", 0},
	    {{"_x", "Y9"}, 2, "h", 0},
	    {{"__name"}, 1, "h", -EINVAL}, /* reserved */
	    {{"9a"}, 1, "h", -EINVAL},
	    {{"a:b"}, 1, "h", -EINVAL}, /* no colon in label names */
	    {{"a", "a"}, 2, "h", -EINVAL},
	    {{""}, 1, "h", -EINVAL},
	    {{NULL}, 1, "h", -EINVAL},
	    {{"a"}, 1, "", -EINVAL}, /* promtool wants HELP */
	    {{"a"}, 1, NULL, -EINVAL},
	    {{"a"}, 1, "two\nlines", -EINVAL},
	};
	const char *many[STATS_MAX_LABELS + 1] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
	const char *le[] = {"le"};
	struct stats_registry *r;
	char name[32];

	(void)state;
	assert_int_equal(stats_registry_create("t", &r), 0);
	for (size_t i = 0; i < MR_ARRAY_SIZE(cases); i++) {
		int ret;

		snprintf(name, sizeof(name), "g%zu", i);
		ret = stats_family_add(r, STATS_GAUGE, name, cases[i].help, cases[i].labels,
		                       cases[i].n, NULL);
		if (ret != cases[i].ret)
			fail_msg("case %zu: %d, wanted %d", i, ret, cases[i].ret);
	}
	assert_int_equal(
	    stats_family_add(r, STATS_GAUGE, "m", "h", many, STATS_MAX_LABELS + 1, NULL), -EINVAL);
	assert_int_equal(stats_family_add(r, STATS_GAUGE, "m", "h", many, STATS_MAX_LABELS, NULL),
	                 0);
	assert_int_equal(stats_family_add(r, STATS_GAUGE, "n", "h", NULL, 1, NULL), -EINVAL);
	/* "le" is fine on a gauge, reserved on a histogram */
	assert_int_equal(stats_family_add(r, STATS_GAUGE, "le_gauge", "h", le, 1, NULL), 0);
	assert_int_equal(stats_histogram_add(r, "h1", "h", le, 1, ok, 2, NULL), -EINVAL);
	assert_int_equal(stats_histogram_add(r, "h2", "h", NULL, 0, unsorted, 2, NULL), -EINVAL);
	assert_int_equal(stats_histogram_add(r, "h3", "h", NULL, 0, dup, 2, NULL), -EINVAL);
	assert_int_equal(stats_histogram_add(r, "h4", "h", NULL, 0, inf, 2, NULL), -EINVAL);
	assert_int_equal(stats_histogram_add(r, "h5_total", "h", NULL, 0, ok, 2, NULL), -EINVAL);
	assert_int_equal(
	    stats_histogram_add(r, "h6", "h", NULL, 0, ok, STATS_MAX_BUCKETS + 1, NULL), -EINVAL);
	assert_int_equal(stats_histogram_add(r, "h7", "h", NULL, 0, NULL, 0, NULL), 0);
	assert_int_equal(stats_collector_add(r, NULL, NULL), -EINVAL);
	stats_registry_destroy(r);
}

/* ---- histograms ------------------------------------------------------------------------------ */

struct hist_case {
	struct stats_family *h, *h0;
	const uint64_t *counts;
	double sum;
};

static void hist_collect(void *arg, struct stats_emit *e)
{
	const struct hist_case *hc = arg;

	assert_int_equal(stats_emit_histogram(e, hc->h, NULL, hc->counts, 4, hc->sum), 0);
	assert_int_equal(stats_emit_histogram(e, hc->h0, NULL, (const uint64_t[]){5}, 1, 0.5), 0);
}

static void test_histogram(void **state)
{
	static const double bounds[] = {0.005, 0.25, 1e6};
	static const double values[] = {0.001, 0.005, 0.0051, 0.25, 0.3, 2e6, 7};
	static const char want[] = "# HELP lat_seconds Latency.\n"
	                           "# TYPE lat_seconds histogram\n"
	                           "lat_seconds_bucket{le=\"0.005\"} 2\n"
	                           "lat_seconds_bucket{le=\"0.25\"} 4\n"
	                           "lat_seconds_bucket{le=\"1e+06\"} 6\n"
	                           "lat_seconds_bucket{le=\"+Inf\"} 7\n"
	                           "lat_seconds_sum 2000007.5611\n"
	                           "lat_seconds_count 7\n"
	                           "# HELP only_inf_seconds No bounds.\n"
	                           "# TYPE only_inf_seconds histogram\n"
	                           "only_inf_seconds_bucket{le=\"+Inf\"} 5\n"
	                           "only_inf_seconds_sum 0.5\n"
	                           "only_inf_seconds_count 5\n";
	struct stats_registry *r;
	struct stats_buf b = {0};
	uint64_t counts[4] = {0};
	struct hist_case hc = {.counts = counts};

	(void)state;
	/* stats_bucket(): le semantics, a value equal to a bound is in that bound's bucket */
	for (size_t i = 0; i < MR_ARRAY_SIZE(values); i++) {
		counts[stats_bucket(bounds, 3, values[i])]++;
		hc.sum += values[i];
	}
	assert_int_equal(counts[0], 2);
	assert_int_equal(counts[1], 2);
	assert_int_equal(counts[2], 2);
	assert_int_equal(counts[3], 1);

	assert_int_equal(stats_registry_create("t", &r), 0);
	assert_int_equal(
	    stats_histogram_add(r, "lat_seconds", "Latency.", NULL, 0, bounds, 3, &hc.h), 0);
	assert_int_equal(
	    stats_histogram_add(r, "only_inf_seconds", "No bounds.", NULL, 0, NULL, 0, &hc.h0), 0);
	assert_int_equal(stats_collector_add(r, hist_collect, &hc), 0);
	assert_int_equal(stats_render(r, &b), 0);
	if (strncmp(b.p, want, sizeof(want) - 1) != 0)
		fail_msg("rendered:\n%s\nwanted:\n%s", b.p, want);
	stats_buf_free(&b);
	stats_registry_destroy(r);
}

/* ---- emit errors fail the scrape ---------------------------------------------------------- */

struct bad_case {
	struct stats_family *c, *g, *h, *other;
	int which;
	int ret;
};

static void bad_collect(void *arg, struct stats_emit *e)
{
	struct bad_case *bc = arg;
	const uint64_t counts[3] = {0};

	switch (bc->which) {
	case 0: /* gauge emitted as a counter */
		bc->ret = stats_emit_counter(e, bc->g, NULL, 1);
		break;
	case 1: /* labels missing */
		bc->ret = stats_emit_counter(e, bc->c, NULL, 1);
		break;
	case 2: /* a NULL label value */
		bc->ret = stats_emit_counter(e, bc->c, (const char *[]){NULL}, 1);
		break;
	case 3: /* bucket count is not nbounds + 1 */
		bc->ret = stats_emit_histogram(e, bc->h, NULL, counts, 2, 0);
		break;
	case 4: /* family of another registry */
		bc->ret = stats_emit_gauge(e, bc->other, NULL, 1);
		break;
	case 5: /* NULL family */
		bc->ret = stats_emit_gauge(e, NULL, NULL, 1);
		break;
	default: /* fine */
		bc->ret = stats_emit_counter(e, bc->c, (const char *[]){"x"}, 1);
		break;
	}
}

static void test_emit_errors(void **state)
{
	static const double bounds[] = {1, 2};
	const char *lbl[] = {"l"};
	struct stats_registry *r, *r2;
	struct stats_buf b = {0};
	struct bad_case bc = {0};

	(void)state;
	assert_int_equal(stats_registry_create("t", &r), 0);
	assert_int_equal(stats_registry_create("t", &r2), 0);
	assert_int_equal(stats_family_add(r, STATS_COUNTER, "c_total", "h", lbl, 1, &bc.c), 0);
	assert_int_equal(stats_family_add(r, STATS_GAUGE, "g", "h", NULL, 0, &bc.g), 0);
	assert_int_equal(stats_histogram_add(r, "hist", "h", NULL, 0, bounds, 2, &bc.h), 0);
	assert_int_equal(stats_family_add(r2, STATS_GAUGE, "g", "h", NULL, 0, &bc.other), 0);
	assert_int_equal(stats_collector_add(r, bad_collect, &bc), 0);
	bc.which = 6;
	assert_int_equal(stats_render(r, &b), 0);
	for (bc.which = 0; bc.which < 6; bc.which++) {
		size_t len = b.len;

		assert_int_equal(stats_render(r, &b), -EINVAL);
		assert_int_equal(bc.ret, -EINVAL);
		assert_int_equal(b.len, len); /* untouched on error */
	}
	bc.which = 6;
	assert_int_equal(stats_render(r, &b), 0);
	assert_int_equal(bc.ret, 0);
	stats_buf_free(&b);
	stats_registry_destroy(r2);
	stats_registry_destroy(r);
}

/* ---- per-shard rows, concurrent scrapes ------------------------------------------------------ */

static void test_shards(void **state)
{
	struct stats_shards s = {0};
	uint64_t sum[3];

	(void)state;
	assert_int_equal(stats_shards_init(&s, 3, 0), -EINVAL);
	assert_int_equal(stats_shards_init(&s, 3, 9), 0);
	assert_int_equal(s.stride, 16); /* 9 counters -> two cache lines per shard */
	for (unsigned sh = 0; sh < 3; sh++) {
		uint64_t *row = stats_shards_row(&s, sh);

		assert_int_equal((uintptr_t)row % STATS_CACHELINE, 0);
		stats_add(&row[0], 1);
		stats_add(&row[7], sh);
		stats_add(&row[8], 10);
		stats_add(&row[8], 5);
	}
	stats_shards_sum(&s, 6, 3, sum);
	assert_int_equal(sum[0], 0);
	assert_int_equal(sum[1], 3);
	assert_int_equal(sum[2], 45);
	stats_shards_sum(&s, 0, 1, sum);
	assert_int_equal(sum[0], 3);
	stats_set(stats_shards_row(&s, 1), 100);
	assert_int_equal(stats_read(stats_shards_row(&s, 1)), 100);
	stats_shards_fini(&s);
	stats_shards_fini(&s);
}

struct conc {
	struct stats_registry *r;
	struct stats_family *f;
	struct stats_shards s;
	int stop;
	int errors;
};

static void conc_collect(void *arg, struct stats_emit *e)
{
	struct conc *c = arg;
	uint64_t v;

	stats_shards_sum(&c->s, 0, 1, &v);
	stats_emit_counter(e, c->f, NULL, v);
}

static void *conc_writer(void *arg)
{
	struct conc *c = arg;
	uint64_t *row = stats_shards_row(&c->s, 0);

	for (unsigned i = 0; i < 200000; i++)
		stats_add(row, 1);
	__atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *conc_scraper(void *arg)
{
	struct conc *c = arg;
	uint64_t last = 0;

	do {
		struct stats_buf b = {0};
		const char *p;
		uint64_t v;

		if (stats_render(c->r, &b) < 0 || !(p = strstr(b.p, "\nwrites_total "))) {
			__atomic_add_fetch(&c->errors, 1, __ATOMIC_RELAXED);
		} else {
			v = strtoull(p + 14, NULL, 10);
			if (v < last) /* one writer: never goes back */
				__atomic_add_fetch(&c->errors, 1, __ATOMIC_RELAXED);
			last = v;
		}
		stats_buf_free(&b);
	} while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE));
	return NULL;
}

static void test_concurrent(void **state)
{
	struct conc c = {0};
	pthread_t w, s1, s2;
	struct stats_buf b = {0};

	(void)state;
	assert_int_equal(stats_registry_create("t", &c.r), 0);
	assert_int_equal(stats_shards_init(&c.s, 1, 1), 0);
	assert_int_equal(
	    stats_family_add(c.r, STATS_COUNTER, "writes_total", "Writes.", NULL, 0, &c.f), 0);
	assert_int_equal(stats_collector_add(c.r, conc_collect, &c), 0);
	stats_registry_freeze(c.r);
	assert_int_equal(stats_collector_add(c.r, conc_collect, &c), -EBUSY);
	assert_int_equal(pthread_create(&s1, NULL, conc_scraper, &c), 0);
	assert_int_equal(pthread_create(&s2, NULL, conc_scraper, &c), 0);
	assert_int_equal(pthread_create(&w, NULL, conc_writer, &c), 0);
	pthread_join(w, NULL);
	pthread_join(s1, NULL);
	pthread_join(s2, NULL);
	assert_int_equal(c.errors, 0);
	assert_int_equal(stats_render(c.r, &b), 0);
	assert_non_null(strstr(b.p, "\nwrites_total 200000\n"));
	stats_buf_free(&b);
	stats_shards_fini(&c.s);
	stats_registry_destroy(c.r);
}

/* ---- HTTP ----------------------------------------------------------------------------------- */

/* Sends @req to @addr:@port over a plain TCP socket and reads the whole answer (the server
 * closes or we half-close: Connection: close is in every request). */
static int http_raw(int family, uint16_t port, const char *req, char *out, size_t cap)
{
	struct sockaddr_storage ss = {0};
	socklen_t sslen;
	size_t len = 0;
	ssize_t n;
	int fd;

	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sslen = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		in6->sin6_addr = in6addr_loopback;
		sslen = sizeof(*in6);
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, sslen) < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return -EIO;
	}
	while (len + 1 < cap && (n = read(fd, out + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(fd);
	return (int)len;
}

static int http_status(const char *rsp)
{
	int code = 0;

	if (sscanf(rsp, "HTTP/1.%*d %d", &code) != 1)
		return -1;
	return code;
}

static char *http_body(char *rsp)
{
	char *p = strstr(rsp, "\r\n\r\n");

	return p ? p + 4 : NULL;
}

static int count_fds(void)
{
	char path[64];
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n += access(path, F_OK) == 0;
	}
	return n;
}

static void test_http(void **state)
{
	struct fixture *fx = *state;
	struct stats_http *h, *h2;
	size_t cap = 1 << 16;
	char *rsp = malloc(cap);
	int fds = count_fds();
	uint16_t port;
	char *body;

	assert_non_null(rsp);
	assert_int_equal(stats_http_start(fx->r, "localhost", 0, &h), -EINVAL);
	assert_int_equal(stats_http_start(fx->r, "1.2.3", 0, &h), -EINVAL);
	assert_int_equal(stats_http_start(fx->r, "127.0.0.1", 0, &h), 0);
	port = stats_http_port(h);
	assert_true(port != 0);
	/* started: the registry is frozen */
	assert_int_equal(stats_family_add(fx->r, STATS_GAUGE, "late", "h", NULL, 0, NULL), -EBUSY);
	assert_int_equal(stats_collector_add(fx->r, fx_collect, fx), -EBUSY);
	/* the same port again: the bind error comes back as it is */
	assert_int_equal(stats_http_start(fx->r, "127.0.0.1", port, &h2), -EADDRINUSE);

	assert_true(http_raw(AF_INET, port,
	                     "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", rsp,
	                     cap) > 0);
	assert_int_equal(http_status(rsp), 200);
	if (!strcasestr(rsp, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
		fail_msg("no content type:\n%s", rsp);
	body = http_body(rsp);
	assert_non_null(body);
	assert_memory_equal(body, golden, sizeof(golden) - 1);
	check_builtins(body);

	assert_true(http_raw(AF_INET, port, "GET /metrics HTTP/1.0\r\n\r\n", rsp, cap) > 0);
	assert_int_equal(http_status(rsp), 200);

	assert_true(http_raw(AF_INET, port,
	                     "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", rsp,
	                     cap) > 0);
	assert_int_equal(http_status(rsp), 200);
	assert_string_equal(http_body(rsp), "");

	assert_true(http_raw(AF_INET, port,
	                     "GET /metricsx HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", rsp,
	                     cap) > 0);
	assert_int_equal(http_status(rsp), 404);
	assert_true(http_raw(AF_INET, port,
	                     "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", rsp,
	                     cap) > 0);
	assert_int_equal(http_status(rsp), 404);

	assert_true(http_raw(AF_INET, port,
	                     "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	                     "Content-Length: 3\r\n\r\nabc",
	                     rsp, cap) > 0);
	assert_int_equal(http_status(rsp), 405);
	if (!strcasestr(rsp, "\r\nAllow: GET, HEAD\r\n"))
		fail_msg("no Allow:\n%s", rsp);
	assert_true(http_raw(AF_INET, port,
	                     "DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	                     rsp, cap) > 0);
	assert_int_equal(http_status(rsp), 405);

	/* IPv6 loopback, when the host has it */
	if (stats_http_start(fx->r, "[::1]", 0, &h2) == 0) {
		assert_true(
		    http_raw(AF_INET6, stats_http_port(h2),
		             "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", rsp,
		             cap) > 0);
		assert_int_equal(http_status(rsp), 200);
		stats_http_stop(h2);
	}

	stats_http_stop(h);
	stats_http_stop(NULL);
	/* stopped: the port is closed and no descriptor is left behind */
	assert_int_equal(http_raw(AF_INET, port, "GET /metrics HTTP/1.0\r\n\r\n", rsp, cap),
	                 -ECONNREFUSED);
	assert_int_equal(count_fds(), fds);
	free(rsp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_golden, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_promtool, fx_setup, fx_teardown),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_labels_help_bounds),
	    cmocka_unit_test(test_histogram),
	    cmocka_unit_test(test_emit_errors),
	    cmocka_unit_test(test_shards),
	    cmocka_unit_test(test_concurrent),
	    cmocka_unit_test_setup_teardown(test_http, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT
 * stats.c - the metric registry, the scrape (collectors -> per-family sample buffers) and the
 * Prometheus text format 0.0.4 exposition, plus the built-in process metrics.
 * Owns: the registry, its families and collectors list; each scrape's own buffers.
 * Thread: registration on the start-up thread; stats_render() on any thread once frozen. */
#include "stats.h"

#include "mara_build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct stats_family {
	const struct stats_registry *reg; /* scrapes check that a family is theirs */
	enum stats_type type;
	unsigned idx; /* in reg->fams, and in a scrape's per-family buffers */
	unsigned nlabels;
	unsigned nbounds;
	char *name;
	char *help;
	char *labels[STATS_MAX_LABELS];
	double *bounds;
	char **le; /* bounds[i] formatted once, as the le label value */
};

struct stats_collector {
	stats_collect_fn *fn;
	void *arg;
};

/* Built-in families come first in fams[] (created with the registry) but are rendered last,
 * after the owners' families. */
enum { B_RSS, B_FDS, B_START, B_UPTIME, B_BUILD, B_COUNT };

struct stats_registry {
	struct stats_family **fams;
	unsigned nfams, cap_fams;
	struct stats_collector *colls;
	unsigned ncolls, cap_colls;
	bool frozen;
	char *binary;
	double start_time_s; /* process start, seconds since the epoch */
	double start_boot_s; /* process start, seconds since boot (CLOCK_BOOTTIME) */
};

/* One scrape: a sample buffer per family (so samples end up grouped whoever emits them), a
 * scratch buffer for label sets, the first error. */
struct stats_emit {
	const struct stats_registry *reg;
	struct stats_buf *fam;
	struct stats_buf lbl;
	int err;
};

/* ---- buffer -------------------------------------------------------------------------------- */

void stats_buf_free(struct stats_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

static int buf_reserve(struct stats_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->len + n + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 1024;
	while (cap < b->len + n + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int buf_put(struct stats_buf *b, const char *s, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -ENOMEM;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int buf_puts(struct stats_buf *b, const char *s)
{
	return buf_put(b, s, strlen(s));
}

static int __attribute__((format(printf, 2, 3)))
buf_printf(struct stats_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if (buf_reserve(b, (size_t)n) < 0)
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

/* Length of the valid UTF-8 sequence at @s (at most @n bytes), 0 if it is not one: no overlong
 * forms, no surrogates, nothing above U+10FFFF (RFC 3629 §4). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Appends @s escaped as the text format wants: \ and newline always, " too in label values
 * (@quote). Invalid UTF-8 becomes U+FFFD: label values may come from the network (a peer's
 * Origin-Host) and Prometheus rejects a whole scrape over one bad byte. */
static int put_escaped(struct stats_buf *b, const char *s, bool quote)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, run = 0;

	while (i < n) {
		const char *esc = NULL;
		size_t k = utf8_seq(u + i, n - i);

		if (k == 1 && u[i] == '\\')
			esc = "\\\\";
		else if (k == 1 && u[i] == '\n')
			esc = "\\n";
		else if (k == 1 && u[i] == '"' && quote)
			esc = "\\\"";
		else if (k == 0)
			esc = "\xef\xbf\xbd";
		if (!esc) {
			i += k;
			continue;
		}
		if (buf_put(b, s + run, i - run) < 0 || buf_puts(b, esc) < 0)
			return -ENOMEM;
		i += k ? k : 1;
		run = i;
	}
	return buf_put(b, s + run, i - run);
}

/* Shortest text that reads back as @v (what Go's FormatFloat(v, 'g', -1, 64) prints, so the
 * le values match the official clients'); NaN and the infinities as the format spells them.
 * Sample values (@plain_int) print whole numbers in full: 1576960, not 1.57696e+06. */
static void fmt_double(char *out, size_t cap, double v, bool plain_int)
{
	if (isnan(v)) {
		snprintf(out, cap, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (plain_int && v == trunc(v) && fabs(v) < 1e15) {
		snprintf(out, cap, "%.0f", v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, cap, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

/* ---- registry ------------------------------------------------------------------------------- */

static bool valid_name(const char *s, bool colon)
{
	if (!s || !*s)
		return false;
	for (const char *p = s; *p; p++) {
		bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
		             (colon && *p == ':');

		if (!alpha && (p == s || *p < '0' || *p > '9'))
			return false;
	}
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool valid_family_name(const char *name, enum stats_type type)
{
	if (!valid_name(name, true))
		return false;
	if ((type == STATS_COUNTER) != ends_with(name, "_total"))
		return false;
	return !ends_with(name, "_bucket") && !ends_with(name, "_sum") &&
	       !ends_with(name, "_count");
}

static bool valid_help(const char *help)
{
	return help && *help && !strchr(help, '\n');
}

static void family_free(struct stats_family *f)
{
	if (!f)
		return;
	free(f->name);
	free(f->help);
	for (unsigned i = 0; i < f->nlabels; i++)
		free(f->labels[i]);
	if (f->le)
		for (unsigned i = 0; i < f->nbounds; i++)
			free(f->le[i]);
	free(f->le);
	free(f->bounds);
	free(f);
}

static int check_labels(enum stats_type type, const char *const *names, unsigned n)
{
	if (n > STATS_MAX_LABELS || (n && !names))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (!valid_name(names[i], false) || strncmp(names[i], "__", 2) == 0)
			return -EINVAL;
		if (type == STATS_HISTOGRAM && strcmp(names[i], "le") == 0)
			return -EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0)
				return -EINVAL;
	}
	return 0;
}

static int check_bounds(const double *bounds, unsigned n)
{
	if (n > STATS_MAX_BUCKETS || (n && !bounds))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
			return -EINVAL;
	}
	return 0;
}

static int family_new(struct stats_registry *r, enum stats_type type, const char *name,
                      const char *help, const char *const *label_names, unsigned nlabels,
                      const double *bounds, unsigned nbounds, struct stats_family **out)
{
	struct stats_family *f;
	char tmp[32];
	int ret;

	if (r->frozen)
		return -EBUSY;
	if (!valid_family_name(name, type) || !valid_help(help))
		return -EINVAL;
	ret = check_labels(type, label_names, nlabels);
	if (ret < 0)
		return ret;
	ret = check_bounds(bounds, nbounds);
	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < r->nfams; i++)
		if (strcmp(r->fams[i]->name, name) == 0)
			return -EEXIST;
	if (r->nfams == r->cap_fams) {
		unsigned cap = r->cap_fams ? 2 * r->cap_fams : 16;
		struct stats_family **fams = realloc(r->fams, cap * sizeof(*fams));

		if (!fams)
			return -ENOMEM;
		r->fams = fams;
		r->cap_fams = cap;
	}

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->reg = r;
	f->type = type;
	f->name = strdup(name);
	f->help = strdup(help);
	if (!f->name || !f->help)
		goto nomem;
	for (unsigned i = 0; i < nlabels; i++) {
		f->labels[i] = strdup(label_names[i]);
		if (!f->labels[i])
			goto nomem;
		f->nlabels = i + 1;
	}
	if (type == STATS_HISTOGRAM && nbounds) {
		f->bounds = malloc(nbounds * sizeof(*bounds));
		f->le = calloc(nbounds, sizeof(*f->le));
		if (!f->bounds || !f->le)
			goto nomem;
		memcpy(f->bounds, bounds, nbounds * sizeof(*bounds));
		f->nbounds = nbounds;
		for (unsigned i = 0; i < nbounds; i++) {
			fmt_double(tmp, sizeof(tmp), bounds[i], false);
			f->le[i] = strdup(tmp);
			if (!f->le[i])
				goto nomem;
		}
	}
	f->idx = r->nfams;
	r->fams[r->nfams++] = f;
	if (out)
		*out = f;
	return 0;

nomem:
	family_free(f);
	return -ENOMEM;
}

int stats_family_add(struct stats_registry *r, enum stats_type type, const char *name,
                     const char *help, const char *const *label_names, unsigned nlabels,
                     struct stats_family **out)
{
	if (type != STATS_COUNTER && type != STATS_GAUGE)
		return -EINVAL;
	return family_new(r, type, name, help, label_names, nlabels, NULL, 0, out);
}

int stats_histogram_add(struct stats_registry *r, const char *name, const char *help,
                        const char *const *label_names, unsigned nlabels, const double *bounds,
                        unsigned nbounds, struct stats_family **out)
{
	return family_new(r, STATS_HISTOGRAM, name, help, label_names, nlabels, bounds, nbounds,
	                  out);
}

int stats_collector_add(struct stats_registry *r, stats_collect_fn *fn, void *arg)
{
	if (!fn)
		return -EINVAL;
	if (r->frozen)
		return -EBUSY;
	if (r->ncolls == r->cap_colls) {
		unsigned cap = r->cap_colls ? 2 * r->cap_colls : 8;
		struct stats_collector *c = realloc(r->colls, cap * sizeof(*c));

		if (!c)
			return -ENOMEM;
		r->colls = c;
		r->cap_colls = cap;
	}
	r->colls[r->ncolls++] = (struct stats_collector){fn, arg};
	return 0;
}

void stats_registry_freeze(struct stats_registry *r)
{
	r->frozen = true;
}

/* ---- built-in process metrics --------------------------------------------------------------- */

/* Reads a small /proc file into @buf (NUL-terminated). Returns its length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (len + 1 < cap) {
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Process start from /proc/self/stat (field 22, clock ticks since boot) and /proc/stat btime;
 * falls back to now when /proc is not there. */
static void find_start(struct stats_registry *r)
{
	char buf[1024];
	unsigned long long ticks = 0, btime = 0;
	long hz = sysconf(_SC_CLK_TCK);
	const char *p;
	char *line = NULL;
	size_t cap = 0;
	FILE *f;

	r->start_boot_s = clock_s(CLOCK_BOOTTIME);
	r->start_time_s = clock_s(CLOCK_REALTIME);
	if (hz <= 0 || read_small("/proc/self/stat", buf, sizeof(buf)) <= 0)
		return;
	/* comm (field 2) may hold spaces and parentheses: count from the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return;
	for (int field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &ticks) != 1)
		return;
	/* btime sits after the per-CPU and interrupt lines, which can be long: scan by line. */
	f = fopen("/proc/stat", "re");
	if (!f)
		return;
	while (getline(&line, &cap, f) > 0)
		if (sscanf(line, "btime %llu", &btime) == 1)
			break;
	free(line);
	fclose(f);
	if (!btime)
		return;
	r->start_boot_s = (double)ticks / (double)hz;
	r->start_time_s = (double)btime + (double)ticks / (double)hz;
}

static long count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	long n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n > 0 ? n - 1 : 0; /* not the directory's own fd */
}

static void builtin_collect(void *arg, struct stats_emit *e)
{
	const struct stats_registry *r = arg;
	const char *build[] = {MARA_VERSION, r->binary};
	unsigned long long size, resident;
	char buf[128];
	long fds;
	double up;

	if (read_small("/proc/self/statm", buf, sizeof(buf)) > 0 &&
	    sscanf(buf, "%llu %llu", &size, &resident) == 2)
		stats_emit_gauge(e, r->fams[B_RSS], NULL,
		                 (double)resident * (double)sysconf(_SC_PAGESIZE));
	fds = count_fds();
	if (fds >= 0)
		stats_emit_gauge(e, r->fams[B_FDS], NULL, (double)fds);
	stats_emit_gauge(e, r->fams[B_START], NULL, r->start_time_s);
	up = clock_s(CLOCK_BOOTTIME) - r->start_boot_s;
	stats_emit_gauge(e, r->fams[B_UPTIME], NULL, up > 0 ? up : 0);
	stats_emit_gauge(e, r->fams[B_BUILD], build, 1);
}

int stats_registry_create(const char *binary, struct stats_registry **out)
{
	static const char *const build_labels[] = {"version", "binary"};
	struct stats_registry *r;
	int ret;

	if (!binary || !*binary)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->binary = strdup(binary);
	if (!r->binary) {
		ret = -ENOMEM;
		goto err;
	}
	find_start(r);
	/* Same order as enum B_*. */
	ret = stats_family_add(r, STATS_GAUGE, "process_resident_memory_bytes",
	                       "Resident memory size in bytes.", NULL, 0, NULL);
	if (!ret)
		ret = stats_family_add(r, STATS_GAUGE, "process_open_fds",
		                       "Number of open file descriptors.", NULL, 0, NULL);
	if (!ret)
		ret = stats_family_add(r, STATS_GAUGE, "process_start_time_seconds",
		                       "Start time of the process since unix epoch in seconds.",
		                       NULL, 0, NULL);
	if (!ret)
		ret = stats_family_add(r, STATS_GAUGE, "mara_uptime_seconds",
		                       "Seconds since the process started.", NULL, 0, NULL);
	if (!ret)
		ret = stats_family_add(r, STATS_GAUGE, "mara_build_info",
		                       "Build of this binary; the value is always 1.", build_labels,
		                       2, NULL);
	if (!ret)
		ret = stats_collector_add(r, builtin_collect, r);
	if (ret < 0)
		goto err;
	*out = r;
	return 0;

err:
	stats_registry_destroy(r);
	return ret;
}

void stats_registry_destroy(struct stats_registry *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->nfams; i++)
		family_free(r->fams[i]);
	free(r->fams);
	free(r->colls);
	free(r->binary);
	free(r);
}

/* ---- scrape ---------------------------------------------------------------------------------- */

static int emit_fail(struct stats_emit *e, int err)
{
	if (!e->err)
		e->err = err;
	return err;
}

/* Builds 'a="x",b="y"' for @f's labels into e->lbl (empty when it has none). */
static int build_labels(struct stats_emit *e, const struct stats_family *f,
                        const char *const *values)
{
	e->lbl.len = 0;
	if (e->lbl.p)
		e->lbl.p[0] = '\0';
	if (f->nlabels && !values)
		return -EINVAL;
	for (unsigned i = 0; i < f->nlabels; i++) {
		if (!values[i])
			return -EINVAL;
		if ((i && buf_put(&e->lbl, ",", 1) < 0) || buf_puts(&e->lbl, f->labels[i]) < 0 ||
		    buf_put(&e->lbl, "=\"", 2) < 0 || put_escaped(&e->lbl, values[i], true) < 0 ||
		    buf_put(&e->lbl, "\"", 1) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Appends 'name[suffix]{labels[,extra]} value\n' to the family's buffer. */
static int put_sample(struct stats_emit *e, const struct stats_family *f, const char *suffix,
                      const char *extra, const char *value)
{
	struct stats_buf *b = &e->fam[f->idx];
	bool lbl = e->lbl.len > 0;

	if (buf_puts(b, f->name) < 0 || buf_puts(b, suffix) < 0)
		return -ENOMEM;
	if (lbl || extra) {
		if (buf_put(b, "{", 1) < 0 || (lbl && buf_put(b, e->lbl.p, e->lbl.len) < 0) ||
		    (lbl && extra && buf_put(b, ",", 1) < 0) || (extra && buf_puts(b, extra) < 0) ||
		    buf_put(b, "}", 1) < 0)
			return -ENOMEM;
	}
	if (buf_put(b, " ", 1) < 0 || buf_puts(b, value) < 0 || buf_put(b, "\n", 1) < 0)
		return -ENOMEM;
	return 0;
}

static int emit_check(struct stats_emit *e, const struct stats_family *f, enum stats_type type,
                      const char *const *label_values)
{
	int ret;

	if (e->err)
		return e->err;
	if (!f || f->reg != e->reg || f->type != type)
		return emit_fail(e, -EINVAL);
	ret = build_labels(e, f, label_values);
	return ret < 0 ? emit_fail(e, ret) : 0;
}

int stats_emit_counter(struct stats_emit *e, const struct stats_family *f,
                       const char *const *label_values, uint64_t value)
{
	char v[24];
	int ret = emit_check(e, f, STATS_COUNTER, label_values);

	if (ret < 0)
		return ret;
	snprintf(v, sizeof(v), "%" PRIu64, value);
	return put_sample(e, f, "", NULL, v) < 0 ? emit_fail(e, -ENOMEM) : 0;
}

int stats_emit_gauge(struct stats_emit *e, const struct stats_family *f,
                     const char *const *label_values, double value)
{
	char v[32];
	int ret = emit_check(e, f, STATS_GAUGE, label_values);

	if (ret < 0)
		return ret;
	fmt_double(v, sizeof(v), value, true);
	return put_sample(e, f, "", NULL, v) < 0 ? emit_fail(e, -ENOMEM) : 0;
}

int stats_emit_histogram(struct stats_emit *e, const struct stats_family *f,
                         const char *const *label_values, const uint64_t *bucket_counts, unsigned n,
                         double sum)
{
	char v[32], le[48];
	uint64_t cum = 0;
	int ret = emit_check(e, f, STATS_HISTOGRAM, label_values);

	if (ret < 0)
		return ret;
	if (n != f->nbounds + 1 || !bucket_counts)
		return emit_fail(e, -EINVAL);
	for (unsigned i = 0; i <= f->nbounds; i++) {
		cum += bucket_counts[i];
		snprintf(le, sizeof(le), "le=\"%s\"", i < f->nbounds ? f->le[i] : "+Inf");
		snprintf(v, sizeof(v), "%" PRIu64, cum);
		if (put_sample(e, f, "_bucket", le, v) < 0)
			return emit_fail(e, -ENOMEM);
	}
	fmt_double(v, sizeof(v), sum, true);
	if (put_sample(e, f, "_sum", NULL, v) < 0)
		return emit_fail(e, -ENOMEM);
	snprintf(v, sizeof(v), "%" PRIu64, cum);
	if (put_sample(e, f, "_count", NULL, v) < 0)
		return emit_fail(e, -ENOMEM);
	return 0;
}

static const char *type_name(enum stats_type t)
{
	switch (t) {
	case STATS_COUNTER:
		return "counter";
	case STATS_GAUGE:
		return "gauge";
	case STATS_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

static int put_family(struct stats_buf *out, const struct stats_family *f,
                      const struct stats_buf *samples)
{
	if (buf_printf(out, "# HELP %s ", f->name) < 0 || put_escaped(out, f->help, false) < 0 ||
	    buf_printf(out, "\n# TYPE %s %s\n", f->name, type_name(f->type)) < 0)
		return -ENOMEM;
	return samples->len ? buf_put(out, samples->p, samples->len) : 0;
}

int stats_render(struct stats_registry *r, struct stats_buf *out)
{
	struct stats_emit e = {.reg = r};
	size_t old = out->len;
	int ret = 0;

	e.fam = calloc(r->nfams ? r->nfams : 1, sizeof(*e.fam));
	if (!e.fam)
		return -ENOMEM;
	for (unsigned i = 0; i < r->ncolls && !e.err; i++)
		r->colls[i].fn(r->colls[i].arg, &e);
	ret = e.err;
	/* The owners' families first, then the built-ins (fams[0..B_COUNT)). */
	for (unsigned k = 0; k < r->nfams && !ret; k++) {
		unsigned i = (k + B_COUNT) % r->nfams;

		ret = put_family(out, r->fams[i], &e.fam[i]);
	}
	if (ret < 0) {
		out->len = old;
		if (out->p)
			out->p[old] = '\0';
	}
	for (unsigned i = 0; i < r->nfams; i++)
		stats_buf_free(&e.fam[i]);
	free(e.fam);
	stats_buf_free(&e.lbl);
	return ret;
}

/* ---- per-shard rows ----------------------------------------------------------------------------
 */

int stats_shards_init(struct stats_shards *s, unsigned nshards, unsigned ncounters)
{
	const size_t line = STATS_CACHELINE / sizeof(uint64_t);
	size_t stride, bytes;
	void *p;

	memset(s, 0, sizeof(*s));
	if (!nshards || !ncounters)
		return -EINVAL;
	stride = (ncounters + line - 1) / line * line;
	bytes = stride * nshards * sizeof(uint64_t);
	p = aligned_alloc(STATS_CACHELINE, bytes);
	if (!p)
		return -ENOMEM;
	memset(p, 0, bytes);
	s->rows = p;
	s->nshards = nshards;
	s->ncounters = ncounters;
	s->stride = stride;
	return 0;
}

void stats_shards_fini(struct stats_shards *s)
{
	free(s->rows);
	memset(s, 0, sizeof(*s));
}

void stats_shards_sum(const struct stats_shards *s, unsigned first, unsigned n, uint64_t *out)
{
	memset(out, 0, n * sizeof(*out));
	for (unsigned sh = 0; sh < s->nshards; sh++) {
		const uint64_t *row = stats_shards_row(s, sh);

		for (unsigned i = 0; i < n && first + i < s->ncounters; i++)
			out[i] += stats_read(&row[first + i]);
	}
}

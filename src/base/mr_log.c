/* SPDX-License-Identifier: MIT
 * mr_log.c - see mr_log.h.
 * Owns: the atomic log level. Thread: any. */
#include "mr_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = MR_LOG_INFO;
static _Atomic bool log_syslog;

void mr_log_set_level(enum mr_log_level lvl)
{
	atomic_store_explicit(&log_level, (int)lvl, memory_order_relaxed);
}

enum mr_log_level mr_log_get_level(void)
{
	return (enum mr_log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

int mr_log_level_parse(const char *s)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};

	for (size_t i = 0; i < MR_ARRAY_SIZE(names); i++)
		if (strcasecmp(s, names[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "warn") == 0)
		return MR_LOG_WARN;
	return -EINVAL;
}

void mr_log_use_syslog(bool on, const char *ident)
{
	if (on)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	atomic_store(&log_syslog, on);
	if (!on)
		closelog();
}

bool mr_ratelimit_ok(struct mr_ratelimit *rl, uint64_t *suppressed)
{
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	if (now - rl->window_start_ms >= rl->interval_ms) {
		rl->window_start_ms = now;
		rl->used = 0;
	}
	if (rl->used >= rl->burst) {
		rl->suppressed++;
		return false;
	}
	rl->used++;
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return true;
}

void mr_log(enum mr_log_level lvl, const char *fmt, ...)
{
	static const char *const tag[] = {"error", "warning", "info", "debug"};
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m, prefix;

	if ((int)lvl > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s ",
	             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	             ts.tv_nsec / 1000000, tag[lvl]);
	prefix = n;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	if (atomic_load_explicit(&log_syslog, memory_order_relaxed)) {
		static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

		/* syslog stamps time and level itself: the key=value part only */
		line[n] = '\0';
		syslog(prio[lvl], "%s", line + prefix);
		return;
	}
	line[n++] = '\n';
	/* One write per line keeps lines whole across threads; a short write to stderr is not
	 * worth a retry loop in a logger. */
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

/* SPDX-License-Identifier: MIT
 * mr_log.h - one-line key=value logging to stderr (journald picks it up) or syslog.
 * Owns: the process-wide log level and sink (atomics set from config: the shared knobs).
 * Thread: any; each call writes one line with a single write(2), so lines never interleave.
 * Not for per-packet use on hot paths: callers count bad input and log rate-limited summaries. */
#ifndef MR_LOG_H
#define MR_LOG_H

#include "mr.h"

enum mr_log_level { MR_LOG_ERR = 0, MR_LOG_WARN, MR_LOG_INFO, MR_LOG_DEBUG };

void mr_log_set_level(enum mr_log_level lvl);
enum mr_log_level mr_log_get_level(void);
/* Parses "error", "warning", "info", "debug"; -EINVAL otherwise. */
int mr_log_level_parse(const char *s);
void mr_log(enum mr_log_level lvl, const char *fmt, ...) MR_PRINTF(2, 3);
/* Sends lines to syslog(3) (facility daemon, tagged @ident) instead of stderr, or back. */
void mr_log_use_syslog(bool on, const char *ident);

/* A rate limit for floods (bad input from a peer, a full queue...): at most @burst lines per
 * @interval_ms; the lines it suppressed are counted and reported by the next line let through
 * ("suppressed=N"). One per call site; all-zero plus burst/interval is a valid start. Not
 * thread-safe: one per thread, or guarded by the caller. */
struct mr_ratelimit {
	uint64_t window_start_ms;
	uint32_t interval_ms;
	uint32_t burst;
	uint32_t used;
	uint64_t suppressed;
};

/* Returns true when a line may be logged now; *@suppressed gets the count to report (and is
 * reset). */
bool mr_ratelimit_ok(struct mr_ratelimit *rl, uint64_t *suppressed);

#define mr_err(...)   mr_log(MR_LOG_ERR, __VA_ARGS__)
#define mr_warn(...)  mr_log(MR_LOG_WARN, __VA_ARGS__)
#define mr_info(...)  mr_log(MR_LOG_INFO, __VA_ARGS__)
#define mr_debug(...) mr_log(MR_LOG_DEBUG, __VA_ARGS__)

#endif

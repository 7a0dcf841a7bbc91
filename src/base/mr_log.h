/* SPDX-License-Identifier: MIT
 * mr_log.h - one-line key=value logging to stderr (journald picks it up).
 * Owns: the process-wide log level (an atomic set from config; the one shared knob).
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

#define mr_err(...)   mr_log(MR_LOG_ERR, __VA_ARGS__)
#define mr_warn(...)  mr_log(MR_LOG_WARN, __VA_ARGS__)
#define mr_info(...)  mr_log(MR_LOG_INFO, __VA_ARGS__)
#define mr_debug(...) mr_log(MR_LOG_DEBUG, __VA_ARGS__)

#endif

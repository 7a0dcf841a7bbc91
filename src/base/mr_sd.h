/* SPDX-License-Identifier: MIT
 * mr_sd.h - the few systemd notifications the binaries send (sd_notify(3), Type=notify units).
 * Owns: nothing; each call is one datagram to $NOTIFY_SOCKET (deploy/systemd/ units).
 * Thread: main thread only (the units say NotifyAccess=main; the mains call these from their
 * signal loop). Outside systemd ($NOTIFY_SOCKET unset) every call is a no-op returning 0. */
#ifndef MR_SD_H
#define MR_SD_H

#include <stdint.h>

/* mr_sd_ready() : READY=1, plus STATUS=<status> when @status is not NULL (shown by
 * `systemctl status`). Also ends a reload started by mr_sd_reloading(). Returns 0 (sent, or
 * not under systemd) or -errno; callers may ignore it: a lost notification only delays
 * systemd's view, the service itself is unaffected. */
int mr_sd_ready(const char *status);

/* mr_sd_stopping() : STOPPING=1, sent when a stop signal arrives. Returns as mr_sd_ready(). */
int mr_sd_stopping(void);

/* mr_sd_reloading() : RELOADING=1 with MONOTONIC_USEC (which systemd >= 253 wants for
 * reloads); follow it with mr_sd_ready() once the reload is done or refused. */
int mr_sd_reloading(void);

/* mr_sd_watchdog_interval_ms() : WatchdogSec= of the unit in milliseconds (rounded up), or 0
 * when the watchdog is off or we are not its main process. Ping at least twice per interval. */
uint64_t mr_sd_watchdog_interval_ms(void);

/* mr_sd_watchdog_ping() : WATCHDOG=1. Returns as mr_sd_ready(). */
int mr_sd_watchdog_ping(void);

#endif

/* SPDX-License-Identifier: MIT
 * mr_sd.c - see mr_sd.h: a thin layer over libsystemd's sd_notify(3).
 * Owns: nothing. Thread: main thread (NotifyAccess=main). */
#include "mr_sd.h"

#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

/* sd_notify() returns > 0 when sent, 0 when $NOTIFY_SOCKET is unset, -errno on failure. */
static int sd_ret(int ret)
{
	return ret < 0 ? ret : 0;
}

int mr_sd_ready(const char *status)
{
	if (!status)
		return sd_ret(sd_notify(0, "READY=1"));
	return sd_ret(sd_notifyf(0, "READY=1\nSTATUS=%s", status));
}

int mr_sd_stopping(void)
{
	return sd_ret(sd_notify(0, "STOPPING=1"));
}

int mr_sd_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return sd_ret(sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	                         (unsigned long long)ts.tv_sec * 1000000ull +
	                             (unsigned long long)ts.tv_nsec / 1000ull));
}

uint64_t mr_sd_watchdog_interval_ms(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return (usec + 999) / 1000;
}

int mr_sd_watchdog_ping(void)
{
	return sd_ret(sd_notify(0, "WATCHDOG=1"));
}

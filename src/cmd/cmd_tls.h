/* SPDX-License-Identifier: MIT
 * cmd_tls.h - what both daemons do with TLS: a context from the configuration's tls group, and
 * its counters on /metrics (mara_tls_handshakes_total{use,result},
 * mara_tls_peer_identity_mismatch_total{use}).
 * Owns: nothing (the caller owns the context and the families' registry).
 * Thread: ctx at start-up on the main thread; emit on the stats thread (atomics only). */
#ifndef CMD_TLS_H
#define CMD_TLS_H

#include "conf.h"
#include "io_tls.h"
#include "stats.h"

/* cmd_tls_ctx() : the context for @t; @mutual: peers must present a certificate from t->ca
 * (Diameter), else none is asked for (SIP UAs). Errors are logged. 0 or -EINVAL/-ENOMEM. */
int cmd_tls_ctx(const struct conf_tls *t, bool mutual, struct io_tls_ctx **out);

/* --check-config: loads @t's certificate, key (matching it), CA and cipher lists when the group
 * is configured, and prints "BINARY: FILE: tls refused" to stderr when they do not load. 0 or
 * -EINVAL. */
int cmd_tls_check(const struct conf_tls *t, const char *binary, const char *path);

struct cmd_tls_families {
	struct stats_family *handshakes, *mismatch;
};

int cmd_tls_metrics_add(struct stats_registry *r, struct cmd_tls_families *f);
/* Emits @ctx's counters labelled use=@use; nothing when @ctx is NULL (TLS not configured). */
void cmd_tls_metrics_emit(struct stats_emit *e, const struct cmd_tls_families *f, const char *use,
                          const struct io_tls_ctx *ctx);

#endif

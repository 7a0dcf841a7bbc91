/* SPDX-License-Identifier: MIT
 * cmd_tls.c - TLS context from the configuration and its /metrics families (cmd_tls.h).
 * Owns: nothing. Thread: see cmd_tls.h. */
#include "cmd_tls.h"

#include "mr_log.h"

#include <errno.h>
#include <stdio.h>

int cmd_tls_ctx(const struct conf_tls *t, bool mutual, struct io_tls_ctx **out)
{
	struct io_tls_cfg cfg = {
	    .cert = t->cert,
	    .key = t->key,
	    .ca = t->ca,
	    .ciphers = t->ciphers,
	    .ciphersuites = t->ciphersuites,
	    .min_version = io_tls_version_parse(t->min_version[0] ? t->min_version : "TLSv1.2"),
	    .require_peer_cert = mutual,
	};

	if (cfg.min_version < 0)
		return -EINVAL;
	return io_tls_ctx_new(out, &cfg);
}

int cmd_tls_check(const struct conf_tls *t, const char *binary, const char *path)
{
	struct io_tls_ctx *ctx = NULL;
	int ret;

	if (!t->cert[0])
		return 0;
	ret = cmd_tls_ctx(t, false, &ctx);
	io_tls_ctx_free(ctx);
	if (ret)
		fprintf(stderr, "%s: %s: tls refused (cert %s, key %s: see the error above)\n",
		        binary, path, t->cert, t->key);
	return ret;
}

int cmd_tls_metrics_add(struct stats_registry *r, struct cmd_tls_families *f)
{
	const char *hs[2] = {"use", "result"};
	const char *mm[1] = {"use"};
	int ret;

	ret = stats_family_add(r, STATS_COUNTER, "mara_tls_handshakes_total",
	                       "TLS handshakes by outcome (failed: bad or missing certificate, "
	                       "wrong CA, protocol version, cipher)",
	                       hs, 2, &f->handshakes);
	if (ret)
		return ret;
	return stats_family_add(r, STATS_COUNTER, "mara_tls_peer_identity_mismatch_total",
	                        "Diameter peers whose Origin-Host is not named by their "
	                        "certificate (connection refused)",
	                        mm, 1, &f->mismatch);
}

void cmd_tls_metrics_emit(struct stats_emit *e, const struct cmd_tls_families *f, const char *use,
                          const struct io_tls_ctx *ctx)
{
	struct io_tls_stats s;

	if (!ctx || !f->handshakes)
		return;
	io_tls_stats_get(ctx, &s);
	stats_emit_counter(e, f->handshakes, (const char *[]){use, "ok"}, s.handshakes_ok);
	stats_emit_counter(e, f->handshakes, (const char *[]){use, "failed"}, s.handshakes_failed);
	stats_emit_counter(e, f->mismatch, (const char *[]){use}, s.identity_mismatch);
}

/* SPDX-License-Identifier: MIT
 * io_tls.c - OpenSSL over memory BIOs for io_conn (see io_tls.h for the data path).
 * Owns: see io_tls.h. Thread: a context is shared read-only; a connection's state is its loop's. */
#include "io_tls.h"

#include "mr_log.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#define CIN_CAP (16384 + 512) /* one full TLS record and its overhead per RECV */

static void count(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* The first error on OpenSSL's per-thread queue as text; empties the queue. */
static const char *ssl_reason(char *buf, size_t cap)
{
	unsigned long e = ERR_get_error();

	if (!e)
		snprintf(buf, cap, "unknown");
	else
		ERR_error_string_n(e, buf, cap);
	ERR_clear_error();
	return buf;
}

static MR_COLD int ctx_fail(SSL_CTX *c, const char *what, const char *file)
{
	char why[256];

	mr_err("msg=\"TLS setup failed\" what=\"%s\" file=%s reason=\"%s\"", what,
	       file ? file : "-", ssl_reason(why, sizeof(why)));
	SSL_CTX_free(c);
	return -EINVAL;
}

int io_tls_version_parse(const char *s)
{
	if (strcmp(s, "TLSv1.2") == 0)
		return TLS1_2_VERSION;
	if (strcmp(s, "TLSv1.3") == 0)
		return TLS1_3_VERSION;
	return -EINVAL;
}

int io_tls_ctx_new(struct io_tls_ctx **out, const struct io_tls_cfg *cfg)
{
	struct io_tls_ctx *t;
	SSL_CTX *c = SSL_CTX_new(TLS_method());

	if (!c)
		return -ENOMEM;
	if (!SSL_CTX_set_min_proto_version(c, cfg->min_version ? cfg->min_version : TLS1_2_VERSION))
		return ctx_fail(c, "min_version", NULL);
	if (SSL_CTX_use_certificate_chain_file(c, cfg->cert) != 1)
		return ctx_fail(c, "cert", cfg->cert);
	if (SSL_CTX_use_PrivateKey_file(c, cfg->key, SSL_FILETYPE_PEM) != 1)
		return ctx_fail(c, "key", cfg->key);
	if (SSL_CTX_check_private_key(c) != 1)
		return ctx_fail(c, "key does not match cert", cfg->key);
	if (cfg->ca && *cfg->ca && SSL_CTX_load_verify_locations(c, cfg->ca, NULL) != 1)
		return ctx_fail(c, "ca", cfg->ca);
	if (cfg->ciphers && *cfg->ciphers && SSL_CTX_set_cipher_list(c, cfg->ciphers) != 1)
		return ctx_fail(c, "ciphers", cfg->ciphers);
	if (cfg->ciphersuites && *cfg->ciphersuites &&
	    SSL_CTX_set_ciphersuites(c, cfg->ciphersuites) != 1)
		return ctx_fail(c, "ciphersuites", cfg->ciphersuites);
	/* A client always checks the server's chain; a server asks for the client's one and, for
	 * mutual authentication, refuses a client without one. */
	SSL_CTX_set_verify(c,
	                   cfg->require_peer_cert
	                       ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
	                       : SSL_VERIFY_NONE,
	                   NULL);
	/* no renegotiation (TLS <= 1.2): a peer cannot make us redo handshakes */
	SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
	t = calloc(1, sizeof(*t));
	if (!t) {
		SSL_CTX_free(c);
		return -ENOMEM;
	}
	t->ssl_ctx = c;
	*out = t;
	return 0;
}

void io_tls_ctx_free(struct io_tls_ctx *ctx)
{
	if (!ctx)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	free(ctx);
}

void io_tls_stats_get(const struct io_tls_ctx *ctx, struct io_tls_stats *out)
{
	atomic_store(&out->handshakes_ok, atomic_load(&ctx->st.handshakes_ok));
	atomic_store(&out->handshakes_failed, atomic_load(&ctx->st.handshakes_failed));
	atomic_store(&out->identity_mismatch, atomic_load(&ctx->st.identity_mismatch));
}

int io_tls_init(struct io_tls *t, struct io_tls_ctx *ctx, bool server, const char *sni)
{
	SSL *s;
	BIO *r, *w;

	memset(t, 0, sizeof(*t));
	t->ctx = ctx;
	t->server = server;
	t->cin_cap = CIN_CAP;
	t->cin = malloc(CIN_CAP);
	s = SSL_new(ctx->ssl_ctx);
	r = BIO_new(BIO_s_mem());
	w = BIO_new(BIO_s_mem());
	if (!t->cin || !s || !r || !w) {
		free(t->cin);
		SSL_free(s);
		BIO_free(r);
		BIO_free(w);
		t->cin = NULL;
		return -ENOMEM;
	}
	/* an empty memory BIO reads as "retry", not end of file */
	BIO_set_mem_eof_return(r, -1);
	BIO_set_mem_eof_return(w, -1);
	SSL_set_bio(s, r, w); /* @s owns both BIOs now */
	if (server) {
		SSL_set_accept_state(s);
	} else {
		SSL_set_connect_state(s);
		/* the client always verifies the server (the CA is mandatory in the config) */
		SSL_set_verify(s, SSL_VERIFY_PEER, NULL);
		if (sni && *sni)
			SSL_set_tlsext_host_name(s, sni);
	}
	t->ssl = s;
	t->rbio = r;
	t->wbio = w;
	return 0;
}

void io_tls_fini(struct io_tls *t)
{
	SSL_free(t->ssl); /* frees the BIOs */
	free(t->cin);
	t->ssl = t->rbio = t->wbio = NULL;
	t->cin = NULL;
}

static int handshake(struct io_tls *t, const char *peer)
{
	char why[256];
	int r, e;

	if (t->done || t->failed)
		return t->failed ? -EPROTO : 0;
	ERR_clear_error();
	r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		t->done = true;
		count(&t->ctx->st.handshakes_ok);
		mr_debug("msg=\"TLS handshake done\" peer=%s version=%s cipher=%s", peer,
		         SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl));
		return 0;
	}
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	t->failed = true;
	count(&t->ctx->st.handshakes_failed);
	{
		long v = SSL_get_verify_result(t->ssl);

		mr_warn("msg=\"TLS handshake failed\" peer=%s role=%s reason=\"%s\" verify=\"%s\"",
		        peer, t->server ? "server" : "client", ssl_reason(why, sizeof(why)),
		        v == X509_V_OK ? "ok" : X509_verify_cert_error_string(v));
	}
	return -EPROTO;
}

int io_tls_start(struct io_tls *t, const char *peer)
{
	return handshake(t, peer);
}

int io_tls_feed(struct io_tls *t, uint32_t len, const char *peer)
{
	if (BIO_write(t->rbio, t->cin, (int)len) != (int)len)
		return -ENOMEM;
	return handshake(t, peer);
}

int io_tls_read(struct io_tls *t, uint8_t *buf, uint32_t cap)
{
	int r, e;

	if (!t->done || cap == 0)
		return 0;
	ERR_clear_error();
	r = SSL_read(t->ssl, buf, (int)(cap > INT32_MAX ? INT32_MAX : cap));
	if (r > 0)
		return r;
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	if (e == SSL_ERROR_ZERO_RETURN)
		return -ECONNRESET;
	{
		char why[256];

		/* e.g. a TLS 1.3 server refusing our certificate after our handshake ended */
		mr_warn("msg=\"TLS error, closing\" role=%s reason=\"%s\"",
		        t->server ? "server" : "client", ssl_reason(why, sizeof(why)));
	}
	return -EPROTO;
}

int io_tls_write(struct io_tls *t, const uint8_t *buf, uint32_t len)
{
	ERR_clear_error();
	if (len && SSL_write(t->ssl, buf, (int)len) != (int)len) {
		ERR_clear_error();
		return -EPROTO;
	}
	return 0;
}

void io_tls_shutdown(struct io_tls *t)
{
	ERR_clear_error();
	SSL_shutdown(t->ssl); /* 0: close_notify written, theirs not read yet: we do not wait */
	ERR_clear_error();
}

uint32_t io_tls_pending(const struct io_tls *t)
{
	return t->wbio ? (uint32_t)BIO_ctrl_pending(t->wbio) : 0;
}

uint32_t io_tls_drain(struct io_tls *t, uint8_t *buf, uint32_t cap)
{
	int r = BIO_read(t->wbio, buf, (int)(cap > INT32_MAX ? INT32_MAX : cap));

	return r > 0 ? (uint32_t)r : 0;
}

bool io_tls_peer_is(struct io_tls *t, const char *host)
{
	X509 *c = t->done ? SSL_get0_peer_certificate(t->ssl) : NULL;
	bool ok = c && SSL_get_verify_result(t->ssl) == X509_V_OK &&
	          X509_check_host(c, host, strlen(host), 0, NULL) == 1;

	if (!ok)
		count(&t->ctx->st.identity_mismatch);
	return ok;
}

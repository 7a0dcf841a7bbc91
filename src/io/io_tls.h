/* SPDX-License-Identifier: MIT
 * io_tls.h - TLS for io_conn stream connections (Diameter over TLS/TCP, RFC 6733 §13; SIP over
 * TLS, RFC 3261 §26.2): OpenSSL driven through a pair of memory BIOs so that io_conn keeps its
 * io_uring receive and batched send. Ciphertext received is written into the read BIO; plaintext
 * for the application comes out of SSL_read; plaintext queued by the application goes through
 * SSL_write; the write BIO is drained into the buffer the next SEND carries.
 * Owns: struct io_tls_ctx owns its SSL_CTX (built at start-up, immutable after, shared by every
 * loop); struct io_tls owns one SSL and its BIOs and belongs to one io_conn.
 * Thread: a ctx may be used by many loops at once (OpenSSL's SSL_CTX is thread-safe once set up;
 * the counters are atomics); an io_tls lives on its connection's loop thread. */
#ifndef IO_TLS_H
#define IO_TLS_H

#include "mr.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* What a daemon's configuration gives. Strings are read by io_tls_ctx_new() only. */
struct io_tls_cfg {
	const char *cert;    /* PEM certificate (chain) presented to the peer */
	const char *key;     /* PEM private key of @cert */
	const char *ca;      /* PEM CA bundle the peer's certificate must chain to; "" = none */
	const char *ciphers; /* TLS <= 1.2 cipher list (OpenSSL syntax); "" = OpenSSL's */
	const char *ciphersuites; /* TLS 1.3 suites; "" = OpenSSL's */
	int min_version;          /* TLS1_2_VERSION (default when 0) or TLS1_3_VERSION */
	bool require_peer_cert;   /* mutual authentication: no or bad peer certificate = refused */
};

/* Counters of one context, summed over every connection and loop that use it. */
struct io_tls_stats {
	_Atomic uint64_t handshakes_ok;
	_Atomic uint64_t handshakes_failed; /* bad certificate, wrong CA, protocol or version */
	_Atomic uint64_t identity_mismatch; /* the peer's claimed identity is not in its cert */
};

struct io_tls_ctx {
	void *ssl_ctx; /* SSL_CTX *, kept opaque so that io.h users need no OpenSSL headers */
	struct io_tls_stats st;
};

/* One connection's TLS state. Handshake: !done until SSL_do_handshake() succeeds; application
 * data is neither read nor written before. */
struct io_tls {
	struct io_tls_ctx *ctx;
	void *ssl;         /* SSL * */
	void *rbio, *wbio; /* BIO *: network -> SSL, SSL -> network */
	uint8_t *cin;      /* ciphertext receive buffer (the RECV lands here) */
	uint32_t cin_cap;
	bool server;
	bool done;   /* handshake complete */
	bool failed; /* handshake failed (counted once) */
};

/* io_tls_ctx_new() : loads @cfg's certificate, key and CA into a new context. Errors are logged
 * with the file and OpenSSL's reason. Returns 0, -EINVAL (unreadable file, key not matching the
 * certificate, bad cipher list) or -ENOMEM. */
int io_tls_ctx_new(struct io_tls_ctx **out, const struct io_tls_cfg *cfg);
void io_tls_ctx_free(struct io_tls_ctx *ctx);
/* Snapshot of the counters (any thread). */
void io_tls_stats_get(const struct io_tls_ctx *ctx, struct io_tls_stats *out);
/* Parses "TLSv1.2" / "TLSv1.3" into the OpenSSL constant; -EINVAL. */
int io_tls_version_parse(const char *s);

/* io_tls_init() : a connection's TLS state; @sni (client only, may be NULL) names the server.
 * -ENOMEM. */
int io_tls_init(struct io_tls *t, struct io_tls_ctx *ctx, bool server, const char *sni);
void io_tls_fini(struct io_tls *t);
/* io_tls_feed() : ciphertext @len bytes (in t->cin) arrived: drives the handshake. Returns 0 or
 * -EPROTO when the handshake failed (logged and counted; the caller closes). */
int io_tls_feed(struct io_tls *t, uint32_t len, const char *peer);
/* Starts the client's handshake (ClientHello into the write BIO). -EPROTO. */
int io_tls_start(struct io_tls *t, const char *peer);
/* io_tls_read() : decrypted bytes into @buf (at most @cap). Returns > 0, 0 when nothing is
 * buffered, -ECONNRESET when the peer sent close_notify, -EPROTO on a TLS error. */
int io_tls_read(struct io_tls *t, uint8_t *buf, uint32_t cap);
/* Encrypts @len plaintext bytes into the write BIO (all of them: memory BIOs never block).
 * -EPROTO. Only once t->done. */
int io_tls_write(struct io_tls *t, const uint8_t *buf, uint32_t len);
/* Queues close_notify in the write BIO (nothing can be written after). */
void io_tls_shutdown(struct io_tls *t);
/* Ciphertext waiting in the write BIO. */
uint32_t io_tls_pending(const struct io_tls *t);
/* Moves up to @cap bytes of ciphertext out of the write BIO; returns how many. */
uint32_t io_tls_drain(struct io_tls *t, uint8_t *buf, uint32_t cap);
/* io_tls_peer_is() : whether the peer's verified certificate names @host (subjectAltName DNS,
 * or the CN when the certificate has no DNS names; RFC 6125 via X509_check_host). A mismatch is
 * counted. False without a peer certificate. */
bool io_tls_peer_is(struct io_tls *t, const char *host);

#endif

/* SPDX-License-Identifier: MIT
 * conf.h - mara's configuration: libconfig files (or the embedded default) checked against a
 * schema into plain, immutable structs.
 * Owns: struct conf_aaa is filled by value (fixed-size strings); nothing to free.
 * Thread: load once at start-up or on reload (SIGHUP) in the main thread; the result is
 * read-only afterwards. Every error is logged as "file:line: problem" and returns -EINVAL. */
#ifndef CONF_H
#define CONF_H

#include "mr.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#define CONF_MAX_PEERS 16
#define CONF_MAX_ALGS  6
#define CONF_NAME_MAX  256
#define CONF_PATH_MAX  1024

struct conf_peer {
	char host[CONF_NAME_MAX]; /* Diameter identity expected in its CER/CEA */
	char addr[64];            /* numeric IPv4/IPv6 address */
	uint16_t port;
	bool connect; /* we initiate (and re-initiate every tc_s) */
	bool tls;     /* TLS from the first byte (RFC 6733 §2.1: port 5658 by convention) */
};

/* tls = { cert; key; ca; ciphers; ciphersuites; min_version; }: credentials of a daemon. */
struct conf_tls {
	char cert[CONF_PATH_MAX]; /* PEM certificate (chain); "" = the group was not given */
	char key[CONF_PATH_MAX];
	char ca[CONF_PATH_MAX]; /* peers' certificates must chain to it (mandatory for Diameter) */
	char ciphers[256];      /* TLS 1.2 cipher list; "" = OpenSSL's default */
	char ciphersuites[256]; /* TLS 1.3 suites; "" = OpenSSL's default */
	char min_version[16];   /* "TLSv1.2" (default) or "TLSv1.3" */
};

/* [aaa] section: mara-aaa, the RFC 4740 Diameter server. */
struct conf_aaa {
	char listen_addr[64];
	uint16_t listen_port;
	char origin_host[CONF_NAME_MAX];
	char origin_realm[CONF_NAME_MAX];
	unsigned threads;      /* event loops; 0 = one per online CPU */
	unsigned watchdog_s;   /* Tw, RFC 3539; >= 6 */
	unsigned reconnect_s;  /* Tc */
	unsigned max_message;  /* largest Diameter message accepted, bytes */
	unsigned max_avp_nest; /* grouped AVP nesting accepted (<= DIA_MAX_NEST); deeper: 5014 */
	bool accept_unknown_peers; /* CER from a host not in peers[] */
	char tls_listen_addr[64];  /* Diameter over TLS listener; "" = off */
	uint16_t tls_listen_port;
	struct conf_tls tls;
	struct conf_peer peers[CONF_MAX_PEERS];
	unsigned npeers;

	char users[CONF_PATH_MAX]; /* htdigest file */
	char realm[CONF_NAME_MAX]; /* digest realm */
	char nonce_secret[65];     /* 64 hex digits; empty = random at start-up */
	unsigned nonce_lifetime_s;
	unsigned replay_entries;
	unsigned batch_wait_us;        /* io_loop_set_batch(): fewer wake-ups for bounded latency */
	unsigned sched_slice_us;       /* io_loop_set_slice(): 0 = the kernel's */
	int algorithms[CONF_MAX_ALGS]; /* enum auth_alg, most preferred first */
	unsigned nalgorithms;
	bool allow_no_qop;   /* accept RFC 2069 responses (no qop) from old UAs */
	bool return_ha1;     /* RFC 4740 §6.3: send Digest-HA1, the SIP server validates */
	char stats_addr[64]; /* Prometheus /metrics; empty = off */
	uint16_t stats_port;
};

#define CONF_MAX_ROUTES 32
#define CONF_MAX_ALLOW  16

struct conf_route {
	char domain[128]; /* Request-URI host, or "*" for any */
	char addr[64];
	uint16_t port;
	bool tcp;
};

/* [proxy] section: mara-proxy, the SIP proxy of RFC 4740 §6.4 Figure 4. */
struct conf_proxy {
	char listen_addr[64]; /* UDP and TCP */
	uint16_t listen_port;
	char advertise[64]; /* host in our Via and Record-Route; empty = listen_addr */
	unsigned threads;   /* shards; 0 = one per online CPU */
	char realm[CONF_NAME_MAX];
	uint32_t auth_methods; /* bitmap of enum sip_method */
	bool auth_in_dialog;
	bool record_route;
	bool tcp;
	struct conf_route routes[CONF_MAX_ROUTES];
	unsigned nroutes;
	char allow[CONF_MAX_ALLOW][64]; /* destination allow-list (CIDRs) */
	unsigned nallow;
	unsigned max_pending; /* requests waiting for their MAA, per shard */
	/* hostile input (issue 6): each refusal is counted on /metrics (mara_sip_limit_total) */
	unsigned max_message;        /* largest SIP message, bytes (<= 65535): larger gets 513 */
	unsigned max_headers;        /* header fields per message (<= 96): more gets 400 */
	unsigned max_via;            /* Via values per message (<= 70): more gets 400 */
	unsigned max_avp_nest;       /* grouped AVP nesting accepted from peers (<= 8) */
	unsigned tcp_max_per_source; /* SIP TCP connections from one IP address, all shards */
	unsigned tcp_message_timeout_ms; /* a TCP connection must complete a message within it */
	/* unauthenticated flood (requests without credentials): challenge MARs in flight */
	unsigned max_challenges_per_source; /* from one IP address, all shards */
	unsigned max_challenges;            /* in total */
	/* Diameter client */
	char origin_host[CONF_NAME_MAX];
	char origin_realm[CONF_NAME_MAX];
	char destination_realm[CONF_NAME_MAX];
	struct conf_peer peers[CONF_MAX_PEERS];
	unsigned npeers;
	char tls_listen_addr[64]; /* SIP over TLS listener (RFC 3261 §26.2, 5061); "" = off */
	uint16_t tls_listen_port;
	struct conf_tls tls; /* SIP TLS listener and aaa_peers with tls = true */
	unsigned watchdog_s;
	unsigned reconnect_s;
	unsigned diameter_timeout_ms;
	unsigned retry_after_s;
	unsigned overload_ms;    /* dia_pool_cfg.overload_ms: 0 = diameter_timeout_ms / 4 */
	unsigned batch_wait_us;  /* shards' and pool's io_loop_set_batch() */
	unsigned sched_slice_us; /* shards' and pool's io_loop_set_slice() */
	bool pool_thread;        /* the Diameter pool on its own thread, not on shard 0's loop */
	char stats_addr[64];     /* Prometheus /metrics; empty = off */
	uint16_t stats_port;
	/* ha1_cache = { ... }: RFC 4740 §6.3 local re-authentication (sip_authcache.h) */
	struct {
		bool enabled;
		unsigned max_uses;  /* local validations per nonce */
		unsigned max_age_s; /* entry life; <= mara-aaa nonce_lifetime_s */
		uint32_t methods;   /* bitmap of enum sip_method */
		unsigned entries;   /* per shard */
	} ha1_cache;
};

struct conf {
	int log_level;   /* enum mr_log_level */
	bool log_syslog; /* lines to syslog (daemon facility) instead of stderr */
	struct conf_aaa aaa;
	struct conf_proxy proxy;
};

/* Sets every field to its documented default (the embedded default of `make run`). */
void conf_defaults(struct conf *c);

/* conf_load() : loads @path over the defaults (or the embedded default when @path is NULL).
 * Unknown keys, wrong types and out-of-range values are errors naming file and line. Returns 0
 * or -EINVAL (logged), -ENOENT when the file cannot be read. */
int conf_load(struct conf *c, const char *path);

/* Same from a string (tests, embedded default); @name labels errors. */
int conf_load_string(struct conf *c, const char *text, const char *name);

/* What the shared command line asked for. */
struct conf_cmdline {
	const char *path; /* -c FILE; NULL = the embedded default */
	bool check;       /* --check-config */
};

/* conf_cmdline() : parses -c FILE / --config FILE, --check-config, and answers --help (@usage to
 * stdout), --version and --print-default itself (exit 0). Returns 0, or -EINVAL after printing
 * @usage to stderr for an unknown flag or a stray argument. */
int conf_cmdline(int argc, char **argv, const char *binary, void (*usage)(FILE *f),
                 struct conf_cmdline *out);

/* conf_start() : what every daemon does first: conf_cmdline(), conf_load() of the file it names
 * (or the embedded default), then the log level and sink from it. Returns 0, or the exit status
 * for main(): 2 for a usage error, 1 for a refused configuration (already reported). */
int conf_start(int argc, char **argv, const char *binary, void (*usage)(FILE *f), struct conf *c,
               struct conf_cmdline *cl);

/* The embedded default as libconfig text (printed by --print-default). */
const char *conf_embedded_default(void);

#endif

/* SPDX-License-Identifier: MIT
 * conf.c - libconfig files checked against a table-driven schema (see conf.h).
 * Owns: the config_t while loading; the result is copied into struct conf by value.
 * Thread: main thread only (libconfig is not used elsewhere). */
#include "conf.h"

#include "auth.h"
#include "mara_build.h"
#include "mr_log.h"
#include "sip_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

static const char embedded_default[] =
    "# mara embedded default: mara-aaa and mara-proxy on loopback, realm example.com,\n"
    "# demo users.\n"
    "log = { level = \"info\"; };\n"
    "aaa = {\n"
    "  listen = \"127.0.0.1:3868\";\n"
    "  origin_host = \"aaa.example.com\";\n"
    "  origin_realm = \"example.com\";\n"
    "  realm = \"example.com\";\n"
    "  users = \"" MARA_SRCDIR "/deploy/demo/users\";\n"
    "  watchdog_s = 30;\n"
    "  nonce_lifetime_s = 300;\n"
    "  algorithms = [ \"MD5\", \"SHA-256\", \"SHA-512-256\" ];\n"
    "};\n"
    "proxy = {\n"
    "  listen = \"127.0.0.1:5060\";\n"
    "  realm = \"example.com\";\n"
    "  # every request goes to a UA on 127.0.0.1:5090 (e.g. a SIPp UAS)\n"
    "  routes = ( { domain = \"*\"; address = \"127.0.0.1:5090\"; } );\n"
    "  allow = [ \"127.0.0.0/8\", \"::1\" ];\n"
    "  origin_host = \"proxy.example.com\";\n"
    "  origin_realm = \"example.com\";\n"
    "  destination_realm = \"example.com\";\n"
    "  aaa_peers = ( { host = \"aaa.example.com\"; address = \"127.0.0.1:3868\"; } );\n"
    "};\n";

enum field_kind {
	F_STR,
	F_UINT,
	F_BOOL,
	F_HOSTPORT,
	F_ALGS,
	F_PEERS,
	F_LEVEL,
	F_HEX64,
	F_METHODS,
	F_ROUTES,
	F_CIDRS,
	F_HOSTPORT_OPT, /* like F_HOSTPORT; "" = off */
	F_HA1CACHE,     /* the proxy.ha1_cache group: ha1_cache_fields */
	F_TLS,
};

struct field {
	const char *name;
	enum field_kind kind;
	size_t off;
	size_t size;   /* F_STR: buffer size; F_UINT: sizeof the integer */
	long long min; /* F_UINT range */
	long long max;
	size_t aux; /* F_HOSTPORT: offset of the port; F_PEERS, F_ROUTES, F_CIDRS: of the count */
};

#define AAA(f) offsetof(struct conf, aaa.f)

static const struct field aaa_fields[] = {
    {"listen", F_HOSTPORT, AAA(listen_addr), 64, 0, 0, AAA(listen_port)},
    {"origin_host", F_STR, AAA(origin_host), CONF_NAME_MAX, 1, 0},
    {"origin_realm", F_STR, AAA(origin_realm), CONF_NAME_MAX, 1, 0},
    {"threads", F_UINT, AAA(threads), sizeof(unsigned), 0, 256},
    {"watchdog_s", F_UINT, AAA(watchdog_s), sizeof(unsigned), 6, 3600},
    {"reconnect_s", F_UINT, AAA(reconnect_s), sizeof(unsigned), 1, 3600},
    {"max_message", F_UINT, AAA(max_message), sizeof(unsigned), 4096, 1 << 24},
    {"max_avp_nest", F_UINT, AAA(max_avp_nest), sizeof(unsigned), 1, 8},
    {"accept_unknown_peers", F_BOOL, AAA(accept_unknown_peers), 0, 0, 0},
    {"tls_listen", F_HOSTPORT_OPT, AAA(tls_listen_addr), 64, 0, 0, AAA(tls_listen_port)},
    {"tls", F_TLS, AAA(tls), 0, 0, 0},
    {"peers", F_PEERS, AAA(peers), 0, 0, 0, AAA(npeers)},
    {"users", F_STR, AAA(users), CONF_PATH_MAX, 1, 0},
    {"realm", F_STR, AAA(realm), CONF_NAME_MAX, 1, 0},
    {"nonce_secret", F_HEX64, AAA(nonce_secret), 65, 0, 0},
    {"nonce_lifetime_s", F_UINT, AAA(nonce_lifetime_s), sizeof(unsigned), 5, 86400},
    {"replay_entries", F_UINT, AAA(replay_entries), sizeof(unsigned), 64, 1 << 26},
    {"batch_wait_us", F_UINT, AAA(batch_wait_us), sizeof(unsigned), 0, 1000},
    {"sched_slice_us", F_UINT, AAA(sched_slice_us), sizeof(unsigned), 0, 100000},
    {"algorithms", F_ALGS, AAA(algorithms), 0, 0, 0},
    {"allow_no_qop", F_BOOL, AAA(allow_no_qop), 0, 0, 0},
    {"return_ha1", F_BOOL, AAA(return_ha1), 0, 0, 0},
    {"stats_listen", F_HOSTPORT_OPT, AAA(stats_addr), 64, 0, 0, AAA(stats_port)},
};

#define PRX(f) offsetof(struct conf, proxy.f)

static const struct field proxy_fields[] = {
    {"listen", F_HOSTPORT, PRX(listen_addr), 64, 0, 0, PRX(listen_port)},
    {"advertise", F_STR, PRX(advertise), 64, 1, 0},
    {"threads", F_UINT, PRX(threads), sizeof(unsigned), 0, 256},
    {"realm", F_STR, PRX(realm), CONF_NAME_MAX, 1, 0},
    {"auth_methods", F_METHODS, PRX(auth_methods), 0, 0, 0},
    {"auth_in_dialog", F_BOOL, PRX(auth_in_dialog), 0, 0, 0},
    {"record_route", F_BOOL, PRX(record_route), 0, 0, 0},
    {"tcp", F_BOOL, PRX(tcp), 0, 0, 0},
    {"routes", F_ROUTES, PRX(routes), 0, 0, 0, PRX(nroutes)},
    {"allow", F_CIDRS, PRX(allow), 0, 0, 0, PRX(nallow)},
    {"max_pending", F_UINT, PRX(max_pending), sizeof(unsigned), 16, 1 << 22},
    {"max_message", F_UINT, PRX(max_message), sizeof(unsigned), 1024, 65535},
    {"max_headers", F_UINT, PRX(max_headers), sizeof(unsigned), 8, 96},
    {"max_via", F_UINT, PRX(max_via), sizeof(unsigned), 2, 70},
    {"max_avp_nest", F_UINT, PRX(max_avp_nest), sizeof(unsigned), 1, 8},
    {"tcp_max_per_source", F_UINT, PRX(tcp_max_per_source), sizeof(unsigned), 1, 1 << 20},
    {"tcp_message_timeout_ms", F_UINT, PRX(tcp_message_timeout_ms), sizeof(unsigned), 100, 600000},
    {"max_challenges_per_source", F_UINT, PRX(max_challenges_per_source), sizeof(unsigned), 1,
     1 << 22},
    {"max_challenges", F_UINT, PRX(max_challenges), sizeof(unsigned), 1, 1 << 24},
    {"origin_host", F_STR, PRX(origin_host), CONF_NAME_MAX, 1, 0},
    {"origin_realm", F_STR, PRX(origin_realm), CONF_NAME_MAX, 1, 0},
    {"destination_realm", F_STR, PRX(destination_realm), CONF_NAME_MAX, 1, 0},
    {"aaa_peers", F_PEERS, PRX(peers), 0, 0, 0, PRX(npeers)},
    {"tls_listen", F_HOSTPORT_OPT, PRX(tls_listen_addr), 64, 0, 0, PRX(tls_listen_port)},
    {"tls", F_TLS, PRX(tls), 0, 0, 0},
    {"watchdog_s", F_UINT, PRX(watchdog_s), sizeof(unsigned), 6, 3600},
    {"reconnect_s", F_UINT, PRX(reconnect_s), sizeof(unsigned), 1, 3600},
    {"diameter_timeout_ms", F_UINT, PRX(diameter_timeout_ms), sizeof(unsigned), 10, 60000},
    {"retry_after_s", F_UINT, PRX(retry_after_s), sizeof(unsigned), 0, 3600},
    {"batch_wait_us", F_UINT, PRX(batch_wait_us), sizeof(unsigned), 0, 1000},
    {"sched_slice_us", F_UINT, PRX(sched_slice_us), sizeof(unsigned), 0, 100000},
    {"pool_thread", F_BOOL, PRX(pool_thread), 0, 0, 0},
    {"overload_ms", F_UINT, PRX(overload_ms), sizeof(unsigned), 0, 60000},
    {"stats_listen", F_HOSTPORT_OPT, PRX(stats_addr), 64, 0, 0, PRX(stats_port)},
    {"ha1_cache", F_HA1CACHE, 0, 0, 0, 0},
};

static const struct field ha1_cache_fields[] = {
    {"enabled", F_BOOL, PRX(ha1_cache.enabled), 0, 0, 0},
    {"max_uses", F_UINT, PRX(ha1_cache.max_uses), sizeof(unsigned), 1, 1000000},
    /* the bound on how long a user removed from mara-aaa is still served: keep it within
     * mara-aaa's nonce_lifetime_s (an hour at most here) */
    {"max_age_s", F_UINT, PRX(ha1_cache.max_age_s), sizeof(unsigned), 1, 3600},
    {"methods", F_METHODS, PRX(ha1_cache.methods), 0, 0, 0},
    {"entries", F_UINT, PRX(ha1_cache.entries), sizeof(unsigned), 64, 1 << 24},
};

static int walk_section(const config_setting_t *sec, const struct field *fields, size_t nf,
                        struct conf *c);

static const struct field log_fields[] = {
    {"level", F_LEVEL, offsetof(struct conf, log_level), 0, 0, 0},
    {"syslog", F_BOOL, offsetof(struct conf, log_syslog), 0, 0, 0},
};

static const struct {
	const char *name;
	const struct field *fields;
	size_t n;
} sections[] = {
    {"log", log_fields, MR_ARRAY_SIZE(log_fields)},
    {"aaa", aaa_fields, MR_ARRAY_SIZE(aaa_fields)},
    {"proxy", proxy_fields, MR_ARRAY_SIZE(proxy_fields)},
};

static void proxy_defaults(struct conf_proxy *p)
{
	snprintf(p->listen_addr, sizeof(p->listen_addr), "127.0.0.1");
	p->listen_port = 5060;
	snprintf(p->realm, sizeof(p->realm), "example.com");
	/* every method but ACK and CANCEL, which cannot be challenged */
	p->auth_methods = ~(uint32_t)(SIP_M_ACK | SIP_M_CANCEL);
	p->record_route = true;
	p->tcp = true;
	/* the demo can never send traffic off the machine, whatever host a request names */
	snprintf(p->allow[0], sizeof(p->allow[0]), "127.0.0.0/8");
	snprintf(p->allow[1], sizeof(p->allow[1]), "::1");
	p->nallow = 2;
	p->max_pending = 65536;
	p->max_message = 65535;
	p->max_headers = 96;
	p->max_via = 70;
	p->max_avp_nest = 8;
	p->tcp_max_per_source = 64;
	p->tcp_message_timeout_ms = 10000;
	p->max_challenges_per_source = 1024;
	p->max_challenges = 16384;
	snprintf(p->origin_host, sizeof(p->origin_host), "proxy.example.com");
	snprintf(p->origin_realm, sizeof(p->origin_realm), "example.com");
	snprintf(p->destination_realm, sizeof(p->destination_realm), "example.com");
	snprintf(p->peers[0].host, sizeof(p->peers[0].host), "aaa.example.com");
	snprintf(p->peers[0].addr, sizeof(p->peers[0].addr), "127.0.0.1");
	p->peers[0].port = 3868;
	p->peers[0].connect = true;
	p->npeers = 1;
	p->watchdog_s = 30;
	p->reconnect_s = 5;
	p->diameter_timeout_ms = 2000;
	p->retry_after_s = 5;
	snprintf(p->stats_addr, sizeof(p->stats_addr), "127.0.0.1");
	p->stats_port = 9464;
	p->ha1_cache.enabled = false;
	p->ha1_cache.max_uses = 1000;
	p->ha1_cache.max_age_s = 60;
	p->ha1_cache.methods = ~(uint32_t)(SIP_M_ACK | SIP_M_CANCEL);
	p->ha1_cache.entries = 16384; /* 256 bytes each: 4 MiB per shard */
}

void conf_defaults(struct conf *c)
{
	struct conf_aaa *a = &c->aaa;

	memset(c, 0, sizeof(*c));
	c->log_level = MR_LOG_INFO;
	snprintf(a->listen_addr, sizeof(a->listen_addr), "127.0.0.1");
	a->listen_port = 3868;
	snprintf(a->origin_host, sizeof(a->origin_host), "aaa.example.com");
	snprintf(a->origin_realm, sizeof(a->origin_realm), "example.com");
	snprintf(a->realm, sizeof(a->realm), "example.com");
	snprintf(a->users, sizeof(a->users), "%s/deploy/demo/users", MARA_SRCDIR);
	a->watchdog_s = 30;
	a->reconnect_s = 30;
	a->max_message = 65536;
	a->max_avp_nest = 8;
	a->accept_unknown_peers = true;
	a->nonce_lifetime_s = 300;
	a->replay_entries = 1u << 20; /* 48 MiB: 3,500 new nonces a second over a 300 s lifetime */
	a->algorithms[0] = AUTH_ALG_MD5;
	a->nalgorithms = 1;
	snprintf(a->stats_addr, sizeof(a->stats_addr), "127.0.0.1");
	a->stats_port = 9465;
	proxy_defaults(&c->proxy);
}

static MR_COLD int bad(const config_setting_t *s, const char *problem, const char *detail)
{
	const char *file = config_setting_source_file(s);

	mr_err("msg=\"config error\" file=%s line=%d key=%s problem=\"%s%s%s\"",
	       file ? file : "<embedded>", config_setting_source_line(s),
	       config_setting_name(s) ? config_setting_name(s) : "?", problem, detail ? ": " : "",
	       detail ? detail : "");
	return -EINVAL;
}

static int parse_hostport(const config_setting_t *s, const char *v, char *addr, size_t addr_cap,
                          uint16_t *port)
{
	const char *colon = strrchr(v, ':');
	unsigned char tmp[16];
	char host[64];
	size_t hl;
	char *end;
	long p;

	if (!colon)
		return bad(s, "expected address:port", v);
	hl = (size_t)(colon - v);
	if (hl >= 2 && v[0] == '[' && v[hl - 1] == ']') { /* [::1]:3868 */
		v++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host) || hl >= addr_cap)
		return bad(s, "bad address", v);
	memcpy(host, v, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, tmp) != 1 && inet_pton(AF_INET6, host, tmp) != 1)
		return bad(s, "not a numeric IPv4/IPv6 address", host);
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || *end || p < 1 || p > 65535)
		return bad(s, "port must be 1..65535", colon + 1);
	memcpy(addr, host, hl + 1);
	*port = (uint16_t)p;
	return 0;
}

static int copy_str(const config_setting_t *s, char *dst, size_t cap, bool nonempty)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return bad(s, "expected a string", NULL);
	v = config_setting_get_string(s);
	if (nonempty && !*v)
		return bad(s, "must not be empty", NULL);
	if (strlen(v) >= cap)
		return bad(s, "too long", NULL);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int parse_peer(const config_setting_t *g, struct conf_peer *p)
{
	bool have_host = false, have_addr = false;
	int n = config_setting_length(g);

	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return bad(g, "each peer is a group { host = ...; address = ...; }", NULL);
	memset(p, 0, sizeof(*p));
	p->port = 3868;
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		int ret;

		if (strcmp(name, "host") == 0) {
			ret = copy_str(s, p->host, sizeof(p->host), true);
			have_host = true;
		} else if (strcmp(name, "address") == 0) {
			if (config_setting_type(s) != CONFIG_TYPE_STRING)
				return bad(s, "expected a string", NULL);
			ret = parse_hostport(s, config_setting_get_string(s), p->addr,
			                     sizeof(p->addr), &p->port);
			have_addr = true;
		} else if (strcmp(name, "connect") == 0 || strcmp(name, "tls") == 0) {
			if (config_setting_type(s) != CONFIG_TYPE_BOOL)
				return bad(s, "expected true or false", NULL);
			*(name[0] == 'c' ? &p->connect : &p->tls) = config_setting_get_bool(s);
			ret = 0;
		} else {
			return bad(s, "unknown key in peer", name);
		}
		if (ret)
			return ret;
	}
	if (!have_host)
		return bad(g, "peer needs host", NULL);
	if (p->connect && !have_addr)
		return bad(g, "a peer to connect to needs address = \"ip:port\"", NULL);
	return 0;
}

/* tls = { cert = ...; key = ...; ca = ...; ciphers = ...; ciphersuites = ...; min_version = ...; }
 * The files must be readable now, so that --check-config catches a wrong path. */
static int parse_tls(const config_setting_t *g, struct conf_tls *t)
{
	static const struct {
		const char *name;
		size_t off, size;
		bool file;
	} keys[] = {
	    {"cert", offsetof(struct conf_tls, cert), CONF_PATH_MAX, true},
	    {"key", offsetof(struct conf_tls, key), CONF_PATH_MAX, true},
	    {"ca", offsetof(struct conf_tls, ca), CONF_PATH_MAX, true},
	    {"ciphers", offsetof(struct conf_tls, ciphers), 256, false},
	    {"ciphersuites", offsetof(struct conf_tls, ciphersuites), 256, false},
	    {"min_version", offsetof(struct conf_tls, min_version), 16, false},
	};
	int n = config_setting_length(g);

	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return bad(g, "tls is a group { cert = ...; key = ...; ca = ...; }", NULL);
	memset(t, 0, sizeof(*t));
	snprintf(t->min_version, sizeof(t->min_version), "TLSv1.2");
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		size_t k;
		char *dst;
		int ret;

		for (k = 0; k < MR_ARRAY_SIZE(keys); k++)
			if (strcmp(keys[k].name, name) == 0)
				break;
		if (k == MR_ARRAY_SIZE(keys))
			return bad(s, "unknown key in tls", name);
		dst = (char *)t + keys[k].off;
		ret = copy_str(s, dst, keys[k].size, true);
		if (ret)
			return ret;
		if (keys[k].file && access(dst, R_OK) != 0)
			return bad(s, "cannot read", dst);
		if (strcmp(name, "min_version") == 0 && strcmp(dst, "TLSv1.2") != 0 &&
		    strcmp(dst, "TLSv1.3") != 0)
			return bad(s, "min_version is TLSv1.2 or TLSv1.3", dst);
	}
	if (!t->cert[0] || !t->key[0])
		return bad(g, "tls needs cert and key", NULL);
	return 0;
}

static int parse_methods(const config_setting_t *s, uint32_t *out)
{
	int n = config_setting_length(s);

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return bad(s, "expected a list of SIP methods, e.g. [ \"INVITE\", \"REGISTER\" ]",
		           NULL);
	*out = 0;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_type(e) == CONFIG_TYPE_STRING
		                    ? config_setting_get_string(e)
		                    : NULL;
		enum sip_method m;

		if (!v)
			return bad(s, "method names are strings", NULL);
		if (strcmp(v, "*") == 0) { /* all methods that can be challenged */
			*out |= ~(uint32_t)(SIP_M_ACK | SIP_M_CANCEL);
			continue;
		}
		m = sip_method_parse(mr_str_c(v));
		if (m == SIP_M_OTHER)
			return bad(s, "unknown SIP method (or \"*\")", v);
		if (m == SIP_M_ACK || m == SIP_M_CANCEL)
			return bad(s, "ACK and CANCEL cannot be challenged", v);
		*out |= (uint32_t)m;
	}
	return 0;
}

static int parse_routes(const config_setting_t *s, struct conf_route *r, unsigned *count)
{
	int n = config_setting_length(s);

	if (config_setting_type(s) != CONFIG_TYPE_LIST)
		return bad(s, "routes is a list: ( { domain = ...; address = \"ip:port\"; } )",
		           NULL);
	if (n > CONF_MAX_ROUTES)
		return bad(s, "too many routes", NULL);
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
		bool have_domain = false, have_addr = false;

		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			return bad(g, "each route is a group { domain = ...; address = ...; }",
			           NULL);
		memset(&r[i], 0, sizeof(r[i]));
		for (int k = 0; k < config_setting_length(g); k++) {
			const config_setting_t *e = config_setting_get_elem(g, (unsigned)k);
			const char *name = config_setting_name(e);
			int ret;

			if (strcmp(name, "domain") == 0) {
				ret = copy_str(e, r[i].domain, sizeof(r[i].domain), true);
				have_domain = true;
			} else if (strcmp(name, "address") == 0) {
				if (config_setting_type(e) != CONFIG_TYPE_STRING)
					return bad(e, "expected \"ip:port\"", NULL);
				ret = parse_hostport(e, config_setting_get_string(e), r[i].addr,
				                     sizeof(r[i].addr), &r[i].port);
				have_addr = true;
			} else if (strcmp(name, "transport") == 0) {
				const char *t = config_setting_type(e) == CONFIG_TYPE_STRING
				                    ? config_setting_get_string(e)
				                    : "";

				if (strcmp(t, "udp") && strcmp(t, "tcp"))
					return bad(e, "transport is \"udp\" or \"tcp\"", t);
				r[i].tcp = strcmp(t, "tcp") == 0;
				ret = 0;
			} else {
				return bad(e, "unknown key in route", name);
			}
			if (ret)
				return ret;
		}
		if (!have_domain || !have_addr)
			return bad(g, "a route needs domain and address", NULL);
	}
	*count = (unsigned)n;
	return 0;
}

static int parse_cidrs(const config_setting_t *s, char (*out)[64], unsigned *count)
{
	int n = config_setting_length(s);

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return bad(s, "expected a list of CIDRs, e.g. [ \"127.0.0.0/8\", \"::1\" ]", NULL);
	if (n > CONF_MAX_ALLOW)
		return bad(s, "too many allow entries", NULL);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct sip_cidr c;
		const char *v = config_setting_type(e) == CONFIG_TYPE_STRING
		                    ? config_setting_get_string(e)
		                    : NULL;

		if (!v || strlen(v) >= 64 || sip_cidr_parse(v, &c))
			return bad(s, "not a CIDR (address[/bits])", v ? v : "?");
		snprintf(out[i], 64, "%s", v);
	}
	*count = (unsigned)n;
	return 0;
}

/* A 64-hex secret with fewer than 8 distinct byte values cannot have come from a random source
 * (the all-zero placeholder, a repeated pattern): nonces keyed with it could be forged. */
static bool hex_weak(const char *hex)
{
	bool seen[256] = {false};
	unsigned distinct = 0;

	for (unsigned i = 0; i < 64; i += 2) {
		char b[3] = {hex[i], hex[i + 1], '\0'};
		unsigned v = (unsigned)strtoul(b, NULL, 16);

		if (!seen[v]) {
			seen[v] = true;
			distinct++;
		}
	}
	return distinct < 8;
}

static int parse_field(const struct field *f, const config_setting_t *s, struct conf *c)
{
	char *base = (char *)c + f->off;
	struct conf_aaa *a = &c->aaa;
	int n, ret;

	switch (f->kind) {
	case F_STR:
		return copy_str(s, base, f->size, f->min > 0);
	case F_HEX64:
		ret = copy_str(s, base, f->size, false);
		if (ret)
			return ret;
		if (*base && (strlen(base) != 64 || strspn(base, "0123456789abcdefABCDEF") != 64))
			return bad(s, "must be 64 hex digits (32 bytes)", NULL);
		if (*base && hex_weak(base))
			return bad(s, "a placeholder, not a secret (fewer than 8 distinct bytes)",
			           "generate one with `openssl rand -hex 32`");
		return 0;
	case F_UINT: {
		long long v;

		if (config_setting_type(s) != CONFIG_TYPE_INT &&
		    config_setting_type(s) != CONFIG_TYPE_INT64)
			return bad(s, "expected an integer", NULL);
		v = config_setting_get_int64(s);
		if (v < f->min || v > f->max) {
			char range[64];

			snprintf(range, sizeof(range), "%lld..%lld", f->min, f->max);
			return bad(s, "out of range", range);
		}
		*(unsigned *)(void *)base = (unsigned)v;
		return 0;
	}
	case F_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return bad(s, "expected true or false", NULL);
		*(bool *)(void *)base = config_setting_get_bool(s);
		return 0;
	case F_HOSTPORT_OPT:
		if (config_setting_type(s) == CONFIG_TYPE_STRING &&
		    !*config_setting_get_string(s)) {
			*base = '\0';
			*(uint16_t *)(void *)((char *)c + f->aux) = 0;
			return 0;
		}
		/* fall through */
	case F_HOSTPORT:
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return bad(s, "expected \"address:port\"", NULL);
		return parse_hostport(s, config_setting_get_string(s), base, f->size,
		                      (uint16_t *)(void *)((char *)c + f->aux));
	case F_LEVEL:
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return bad(s, "expected a string", NULL);
		ret = mr_log_level_parse(config_setting_get_string(s));
		if (ret < 0)
			return bad(s, "level is error, warning, info or debug",
			           config_setting_get_string(s));
		c->log_level = ret;
		return 0;
	case F_ALGS:
		if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
		    config_setting_type(s) != CONFIG_TYPE_LIST)
			return bad(s, "expected a list of algorithm names", NULL);
		n = config_setting_length(s);
		if (n < 1 || n > CONF_MAX_ALGS)
			return bad(s, "give 1 to 6 algorithms", NULL);
		for (int i = 0; i < n; i++) {
			const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			const char *v;

			if (config_setting_type(e) != CONFIG_TYPE_STRING)
				return bad(s, "algorithm names are strings", NULL);
			v = config_setting_get_string(e);
			ret = auth_alg_parse(mr_str_c(v));
			if (ret < 0 || !*v)
				return bad(s, "unknown algorithm", v);
			a->algorithms[i] = ret;
		}
		a->nalgorithms = (unsigned)n;
		return 0;
	case F_PEERS:
		if (config_setting_type(s) != CONFIG_TYPE_LIST)
			return bad(s, "peers is a list: ( { host = ...; }, ... )", NULL);
		n = config_setting_length(s);
		if (n > CONF_MAX_PEERS)
			return bad(s, "too many peers", NULL);
		if (n == 0 && f->off == PRX(peers)) /* the proxy cannot work without one */
			return bad(s, "at least one Diameter peer is needed", NULL);
		for (int i = 0; i < n; i++) {
			ret = parse_peer(config_setting_get_elem(s, (unsigned)i),
			                 (struct conf_peer *)(void *)base + i);
			if (ret)
				return ret;
		}
		*(unsigned *)(void *)((char *)c + f->aux) = (unsigned)n;
		return 0;
	case F_METHODS:
		return parse_methods(s, (uint32_t *)(void *)base);
	case F_ROUTES:
		return parse_routes(s, (struct conf_route *)(void *)base,
		                    (unsigned *)(void *)((char *)c + f->aux));
	case F_CIDRS:
		return parse_cidrs(s, (char(*)[64])(void *)base,
		                   (unsigned *)(void *)((char *)c + f->aux));
	case F_HA1CACHE:
		return walk_section(s, ha1_cache_fields, MR_ARRAY_SIZE(ha1_cache_fields), c);
	case F_TLS:
		return parse_tls(s, (struct conf_tls *)(void *)base);
	}
	return -EINVAL;
}

static int walk_section(const config_setting_t *sec, const struct field *fields, size_t nf,
                        struct conf *c)
{
	int n = config_setting_length(sec);

	if (config_setting_type(sec) != CONFIG_TYPE_GROUP)
		return bad(sec, "section must be a group { ... }", NULL);
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(sec, (unsigned)i);
		const char *name = config_setting_name(s);
		size_t j;
		int ret;

		for (j = 0; j < nf; j++)
			if (strcmp(fields[j].name, name) == 0)
				break;
		if (j == nf)
			return bad(s, "unknown key", name);
		ret = parse_field(&fields[j], s, c);
		if (ret)
			return ret;
	}
	return 0;
}

/* What uses TLS has credentials: a tls group, and a CA for Diameter (mutual authentication). */
static int check_tls(const char *name, const char *sec, const struct conf_tls *t, bool sip,
                     const struct conf_peer *peers, unsigned npeers, bool listen)
{
	bool dia = listen && !sip;

	for (unsigned i = 0; i < npeers; i++)
		dia |= peers[i].tls;
	if (!(dia || (sip && listen)))
		return 0;
	if (!t->cert[0] || (dia && !t->ca[0])) {
		mr_err(
		    "msg=\"config error\" file=%s problem=\"%s: TLS is used (tls_listen or a peer "
		    "with tls = true) but %s.tls lacks %s\"",
		    name, sec, sec,
		    !t->cert[0] ? "cert and key" : "ca (Diameter peers are authenticated)");
		return -EINVAL;
	}
	return 0;
}

static int check_whole(const struct conf *c, const char *name)
{
	const struct conf_aaa *a = &c->aaa;

	if (check_tls(name, "aaa", &a->tls, false, a->peers, a->npeers, a->tls_listen_addr[0]) ||
	    check_tls(name, "proxy", &c->proxy.tls, true, c->proxy.peers, c->proxy.npeers,
	              c->proxy.tls_listen_addr[0]))
		return -EINVAL;

	for (unsigned i = 0; i < c->proxy.npeers; i++)
		if (!c->proxy.peers[i].addr[0]) {
			mr_err("msg=\"config error\" file=%s problem=\"proxy.aaa_peers: %s needs "
			       "address\"",
			       name, c->proxy.peers[i].host);
			return -EINVAL;
		}

	for (unsigned i = 0; i < a->npeers; i++)
		if (strcmp(a->peers[i].host, a->origin_host) == 0) {
			mr_err("msg=\"config error\" file=%s problem=\"peer %s is our own "
			       "origin_host\"",
			       name, a->peers[i].host);
			return -EINVAL;
		}
	return 0;
}

static int load(struct conf *c, config_t *cfg, const char *name)
{
	const config_setting_t *root = config_root_setting(cfg);
	struct conf tmp;
	int n = config_setting_length(root);
	int ret;

	conf_defaults(&tmp);
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		size_t j;

		for (j = 0; j < MR_ARRAY_SIZE(sections); j++)
			if (strcmp(sections[j].name, config_setting_name(s)) == 0)
				break;
		if (j == MR_ARRAY_SIZE(sections))
			return bad(s, "unknown section", config_setting_name(s));
		ret = walk_section(s, sections[j].fields, sections[j].n, &tmp);
		if (ret)
			return ret;
	}
	ret = check_whole(&tmp, name);
	if (ret)
		return ret;
	*c = tmp; /* all or nothing: a bad file leaves @c untouched */
	return 0;
}

static MR_COLD int parse_error(const config_t *cfg, const char *name)
{
	const char *file = config_error_file(cfg);

	if (config_error_type(cfg) == CONFIG_ERR_FILE_IO) {
		mr_err("msg=\"cannot read config\" file=%s", name);
		return -ENOENT;
	}
	mr_err("msg=\"config syntax error\" file=%s line=%d problem=\"%s\"", file ? file : name,
	       config_error_line(cfg), config_error_text(cfg));
	return -EINVAL;
}

int conf_load(struct conf *c, const char *path)
{
	config_t cfg;
	int ret;

	if (!path)
		return conf_load_string(c, embedded_default, "<embedded>");
	config_init(&cfg);
	if (config_read_file(&cfg, path) != CONFIG_TRUE)
		ret = parse_error(&cfg, path);
	else
		ret = load(c, &cfg, path);
	config_destroy(&cfg);
	return ret;
}

int conf_load_string(struct conf *c, const char *text, const char *name)
{
	config_t cfg;
	int ret;

	config_init(&cfg);
	if (config_read_string(&cfg, text) != CONFIG_TRUE)
		ret = parse_error(&cfg, name);
	else
		ret = load(c, &cfg, name);
	config_destroy(&cfg);
	return ret;
}

const char *conf_embedded_default(void)
{
	return embedded_default;
}

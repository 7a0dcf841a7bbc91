/* SPDX-License-Identifier: MIT
 * fuzz_sip.c - libFuzzer target: a datagram (or a TCP stream) through what mara-proxy does with
 * it: sip_parse(), the URI / name-addr / value accessors, the §16 rules (sip_proxy_route), the
 * builders (forward, local response, response relay) and the credentials parser.
 * Owns: nothing between inputs; the proxy config is built once. */
#include "auth.h"
#include "sip.h"
#include "sip_proxy.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct sip_proxy_cfg cfg;
static struct sip_rcv rcv;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&rcv.src;

	(void)argc;
	(void)argv;
	strcpy(cfg.host, "127.0.0.1");
	cfg.port = 5060;
	strcpy(cfg.realm, "example.com");
	cfg.auth_methods = ~0u;
	cfg.record_route = true;
	strcpy(cfg.routes[0].domain, "*");
	strcpy(cfg.routes[0].addr, "127.0.0.1");
	cfg.routes[0].port = 5090;
	cfg.nroutes = 1;
	sin = (struct sockaddr_in *)&cfg.allow[0].net;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0x7f000000);
	cfg.allow[0].bits = 8;
	cfg.nallow = 1;
	sin = (struct sockaddr_in *)&rcv.src;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(40000);
	sin->sin_addr.s_addr = htonl(0x7f000001);
	strcpy(rcv.src_ip, "127.0.0.1");
	rcv.src_port = 40000;
	return 0;
}

static void values(const struct sip_msg *m)
{
	for (unsigned i = 0; i < m->nhdrs; i++) {
		struct mr_str cur = m->hdrs[i].value, v;
		struct sip_nameaddr na;
		int n = 0;

		while (n++ < 64 && sip_value_next(&cur, &v) > 0)
			(void)sip_nameaddr_parse(v, &na);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sip_msg m;
	static char out[65536];
	struct sip_decision d;
	struct sip_buf b;
	struct sip_uri u;
	char branch[SIP_BRANCH_LEN + 1];
	int ret;

	if (size > 65535)
		return 0;
	(void)sip_parse(&m, (const char *)data, (uint32_t)size, true); /* a TCP stream */
	memset(&m, 0, sizeof(m));
	ret = sip_parse(&m, (const char *)data, (uint32_t)size, false);
	sip_buf_init(&b, out, sizeof(out));
	if (ret <= 0) {
		if (m.request && m.nvia && m.call_id.len) /* what the shard answers with 400 */
			sip_build_response(&b, &m, &rcv, 400, NULL, (struct mr_str){0},
			                   (struct mr_str){0});
		return 0;
	}
	values(&m);
	if (!m.request) {
		struct sockaddr_storage next;
		socklen_t next_len;
		enum sip_transport tp;

		(void)sip_proxy_response(&b, &cfg, &m, &next, &next_len, &tp);
		return 0;
	}
	(void)sip_uri_parse(m.ruri, &u);
	memset(&d, 0, sizeof(d));
	if (sip_proxy_route(&cfg, &m, &rcv, &d))
		return 0;
	switch (d.verdict) {
	case SIP_V_REPLY:
		sip_build_response(&b, &m, &rcv, d.code, NULL, (struct mr_str){0},
		                   (struct mr_str){0});
		break;
	case SIP_V_AUTH:
		if (d.authz_hdr >= 0) {
			struct auth_digest cred = {0};
			char scratch[1024];

			(void)auth_digest_parse(d.authz_value, &cred, scratch, sizeof(scratch));
		}
		/* fall through: after the MAA the request is forwarded */
	case SIP_V_FORWARD:
		sip_proxy_branch(&m, branch);
		sip_build_forward(&b, &cfg, &m, &rcv, &d, branch);
		break;
	default:
		break;
	}
	return 0;
}

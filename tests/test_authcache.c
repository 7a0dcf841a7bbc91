/* SPDX-License-Identifier: MIT
 * test_authcache.c - sip_authcache: local re-authentication on nonces handed over with their
 * HA1 (higher nc only, retransmissions, expiry, max_uses, other user/realm, wrong response,
 * bounded size) and Proxy-Authentication-Info carried through our Via. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sip_authcache.h"

#define REALM "example.com"
#define URI   "sip:bob@example.com"

struct req {
	char buf[2048];
	struct sip_msg m;
	struct mr_str authz;
};

static struct auth_hash hash;

static void ha1_of(const char *user, const char *pass, char *out)
{
	assert_true(auth_digest_ha1(&hash, AUTH_ALG_MD5, mr_str_c(user), MR_STR_LIT(REALM),
	                            mr_str_c(pass), out) == 32);
}

/* A MESSAGE from @user on @nonce with count @nc, its response computed with @pass (a wrong
 * password gives a wrong response), branch @branch. */
static void make_req(struct req *r, const char *user, const char *pass, const char *realm,
                     const char *nonce, uint32_t nc, const char *branch)
{
	char ha1[AUTH_HEX_MAX + 1], resp[AUTH_HEX_MAX + 1], ncs[9];
	struct auth_digest d = {0};
	const char *p;
	int n;

	snprintf(ncs, sizeof(ncs), "%08x", nc);
	assert_true(auth_digest_ha1(&hash, AUTH_ALG_MD5, mr_str_c(user), mr_str_c(realm),
	                            mr_str_c(pass), ha1) == 32);
	d.username = mr_str_c(user);
	d.realm = mr_str_c(realm);
	d.nonce = mr_str_c(nonce);
	d.uri = MR_STR_LIT(URI);
	d.cnonce = MR_STR_LIT("c0ffee");
	d.nc = mr_str_make(ncs, 8);
	d.qop = MR_STR_LIT("auth");
	d.method = MR_STR_LIT("MESSAGE");
	assert_true(auth_digest_response(&hash, &d, mr_str_c(ha1), false, resp) == 32);
	n = snprintf(r->buf, sizeof(r->buf),
	             "MESSAGE " URI " SIP/2.0\r\n"
	             "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK%s\r\n"
	             "Max-Forwards: 70\r\nFrom: <sip:%s@" REALM ">;tag=1\r\nTo: <" URI ">\r\n"
	             "Call-ID: c1\r\nCSeq: %u MESSAGE\r\n"
	             "Proxy-Authorization: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", "
	             "uri=\"" URI "\", response=\"%s\", algorithm=MD5, cnonce=\"c0ffee\", "
	             "qop=auth, nc=%s\r\nContent-Length: 0\r\n\r\n",
	             branch, user, nc, user, realm, nonce, resp, ncs);
	assert_true(n > 0 && n < (int)sizeof(r->buf));
	assert_true(sip_parse(&r->m, r->buf, (uint32_t)n, false) > 0);
	p = strstr(r->buf, "Proxy-Authorization: ") + strlen("Proxy-Authorization: ");
	r->authz = mr_str_make(p, (size_t)(strstr(p, "\r\n") - p));
}

static struct sip_authcache *mk(uint32_t entries, uint32_t max_uses, uint32_t max_age_s)
{
	struct sip_authcache_policy pol = {.enabled = true,
	                                   .entries = entries,
	                                   .max_uses = max_uses,
	                                   .max_age_s = max_age_s,
	                                   .methods = SIP_M_MESSAGE | SIP_M_INVITE};
	struct sip_authcache *c;

	assert_int_equal(sip_authcache_create(&pol, &c), 0);
	return c;
}

static int setup(void **state)
{
	(void)state;
	return auth_hash_init(&hash);
}

static int teardown(void **state)
{
	(void)state;
	auth_hash_fini(&hash);
	return 0;
}

/* Higher counts pass, lower and repeated ones do not; the same request again does. */
static void test_counts(void **state)
{
	struct sip_authcache *c = mk(1024, 100, 60);
	struct sip_authcache_info ai;
	char ha1[AUTH_HEX_MAX + 1], rsp[AUTH_HEX_MAX + 1];
	struct req r;

	(void)state;
	ha1_of("alice", "alice-secret", ha1);
	make_req(&r, "alice", "alice-secret", REALM, "N1", 1, "a1");
	assert_int_equal(sip_authcache_check(c, &r.m, r.authz, 11, 100, &ai), -ENOENT);
	assert_int_equal(sip_authcache_learn(c, &r.m, r.authz, mr_str_c(ha1), 11, 100), 0);
	assert_int_equal(sip_authcache_stats(c)->entries, 1);
	/* nc 1 again from another transaction: the server already saw it */
	make_req(&r, "alice", "alice-secret", REALM, "N1", 1, "a2");
	assert_int_equal(sip_authcache_check(c, &r.m, r.authz, 12, 100, &ai), -EALREADY);
	make_req(&r, "alice", "alice-secret", REALM, "N1", 2, "a3");
	assert_int_equal(sip_authcache_check(c, &r.m, r.authz, 13, 101, &ai), 0);
	/* rspauth = KD(HA1, nonce:nc:cnonce:qop:H(":" uri)) */
	{
		struct auth_digest d = {.nonce = MR_STR_LIT("N1"),
		                        .uri = MR_STR_LIT(URI),
		                        .cnonce = MR_STR_LIT("c0ffee"),
		                        .nc = MR_STR_LIT("00000002"),
		                        .qop = MR_STR_LIT("auth")};

		assert_int_equal(auth_digest_response(&hash, &d, mr_str_c(ha1), true, rsp), 32);
		assert_string_equal(ai.rspauth, rsp);
		assert_true(mr_str_eq(ai.nc, MR_STR_LIT("00000002")));
		assert_true(mr_str_eq(ai.cnonce, MR_STR_LIT("c0ffee")));
	}
	/* the same request again within a transaction's life: a retransmission */
	assert_int_equal(sip_authcache_check(c, &r.m, r.authz, 13, 102, &ai), 1);
	/* ... but not from another transaction, and not once the transaction is over */
	assert_int_equal(sip_authcache_check(c, &r.m, r.authz, 14, 102, &ai), -EALREADY);
	assert_int_equal(
	    sip_authcache_check(c, &r.m, r.authz, 13, 101 + AUTH_REPLAY_RETRANS_S + 1, &ai),
	    -EALREADY);
	make_req(&r, "alice", "alice-secret", REALM, "N1", 1, "a4");
	assert_int_equal(sip_authcache_check(c, &r.m, r.authz, 15, 102, &ai), -EALREADY);
	/* a wrong response does not burn nc 3 */
	make_req(&r, "alice", "guess", REALM, "N1", 3, "a5");
	assert_int_equal(sip_authcache_check(c, &r.m, r.authz, 16, 102, &ai), -EACCES);
	make_req(&r, "alice", "alice-secret", REALM, "N1", 3, "a6");
	assert_int_equal(sip_authcache_check(c, &r.m, r.authz, 17, 102, &ai), 0);
	make_req(&r, "alice", "alice-secret", REALM, "N1", 100, "a7");
	assert_int_equal(sip_authcache_check(c, &r.m, r.authz, 18, 102, &ai), 0);
	assert_int_equal(sip_authcache_stats(c)->validated, 4);
	assert_int_equal(sip_authcache_stats(c)->retransmission, 1);
	assert_int_equal(sip_authcache_stats(c)->nc_not_higher, 4);
	assert_int_equal(sip_authcache_stats(c)->wrong_response, 1);
	sip_authcache_destroy(c);
}

/* An entry lives max_age_s, then the MAR decides (and the entry is gone). */
static void test_expiry_and_uses(void **state)
{
	struct sip_authcache *c = mk(1024, 2, 10);
	char ha1[AUTH_HEX_MAX + 1];
	struct req r;

	(void)state;
	ha1_of("alice", "alice-secret", ha1);
	make_req(&r, "alice", "alice-secret", REALM, "N2", 1, "b1");
	assert_int_equal(sip_authcache_learn(c, &r.m, r.authz, mr_str_c(ha1), 1, 100), 0);
	make_req(&r, "alice", "alice-secret", REALM, "N2", 2, "b2");
	assert_int_equal(sip_authcache_check(c, &r.m, r.authz, 2, 109, NULL), 0);
	make_req(&r, "alice", "alice-secret", REALM, "N2", 3, "b3");
	assert_int_equal(sip_authcache_check(c, &r.m, r.authz, 3, 110, NULL), -ESTALE);
	assert_int_equal(sip_authcache_check(c, &r.m, r.authz, 3, 110, NULL), -ENOENT);
	assert_int_equal(sip_authcache_stats(c)->entries, 0);

	/* max_uses 2: the third local use goes to the MAR */
	make_req(&r, "alice", "alice-secret", REALM, "N3", 1, "c1");
	assert_int_equal(sip_authcache_learn(c, &r.m, r.authz, mr_str_c(ha1), 1, 200), 0);
	for (uint32_t nc = 2; nc <= 3; nc++) {
		make_req(&r, "alice", "alice-secret", REALM, "N3", nc, nc == 2 ? "c2" : "c3");
		assert_int_equal(sip_authcache_check(c, &r.m, r.authz, nc, 200, NULL), 0);
	}
	make_req(&r, "alice", "alice-secret", REALM, "N3", 4, "c4");
	assert_int_equal(sip_authcache_check(c, &r.m, r.authz, 4, 200, NULL), -EDQUOT);
	assert_int_equal(sip_authcache_check(c, &r.m, r.authz, 4, 200, NULL), -ENOENT);
	assert_int_equal(sip_authcache_stats(c)->used_up, 1);
	assert_int_equal(sip_authcache_stats(c)->expired, 1);
	sip_authcache_destroy(c);
}

/* Another user or realm on the nonce, a method left to the server, -sess: not here. */
static void test_mismatch(void **state)
{
	struct sip_authcache *c = mk(1024, 100, 60);
	char ha1[AUTH_HEX_MAX + 1];
	struct req r;

	(void)state;
	ha1_of("alice", "alice-secret", ha1);
	make_req(&r, "alice", "alice-secret", REALM, "N4", 1, "d1");
	assert_int_equal(sip_authcache_learn(c, &r.m, r.authz, mr_str_c(ha1), 1, 100), 0);
	/* bob on alice's nonce, even with alice's HA1-correct response */
	make_req(&r, "bob", "bob-secret", REALM, "N4", 2, "d2");
	assert_int_equal(sip_authcache_check(c, &r.m, r.authz, 2, 100, NULL), -EPERM);
	make_req(&r, "alice", "alice-secret", "other.org", "N4", 2, "d3");
	assert_int_equal(sip_authcache_check(c, &r.m, r.authz, 3, 100, NULL), -EPERM);
	assert_int_equal(sip_authcache_stats(c)->mismatch, 2);
	/* REGISTER is not in this policy */
	make_req(&r, "alice", "alice-secret", REALM, "N4", 2, "d4");
	r.m.method = SIP_M_REGISTER;
	assert_int_equal(sip_authcache_check(c, &r.m, r.authz, 4, 100, NULL), -ENOTSUP);
	assert_int_equal(sip_authcache_learn(c, &r.m, r.authz, mr_str_c(ha1), 4, 100), -ENOTSUP);
	r.m.method = SIP_M_MESSAGE;
	/* what could not be cached is not asked for: -sess, auth-int, another method */
	{
		struct auth_digest d = {.username = MR_STR_LIT("alice"),
		                        .realm = MR_STR_LIT(REALM),
		                        .algorithm = MR_STR_LIT("SHA-256"),
		                        .qop = MR_STR_LIT("auth"),
		                        .nc = MR_STR_LIT("00000001")};

		assert_true(sip_authcache_wants(c, SIP_M_MESSAGE, &d));
		assert_false(sip_authcache_wants(NULL, SIP_M_MESSAGE, &d));
		assert_false(sip_authcache_wants(c, SIP_M_REGISTER, &d));
		d.algorithm = MR_STR_LIT("MD5-sess");
		assert_false(sip_authcache_wants(c, SIP_M_MESSAGE, &d));
		d.algorithm = MR_STR_LIT("MD5");
		d.qop = MR_STR_LIT("auth-int");
		assert_false(sip_authcache_wants(c, SIP_M_MESSAGE, &d));
	}
	/* an HA1 of the wrong length is not cached */
	make_req(&r, "alice", "alice-secret", REALM, "N5", 1, "d5");
	assert_int_equal(sip_authcache_learn(c, &r.m, r.authz, MR_STR_LIT("abcd"), 5, 100),
	                 -EINVAL);
	/* alice's own next count still passes */
	make_req(&r, "alice", "alice-secret", REALM, "N4", 2, "d6");
	assert_int_equal(sip_authcache_check(c, &r.m, r.authz, 6, 100, NULL), 0);
	sip_authcache_destroy(c);
}

/* The table is bounded: 64 entries however many nonces are learned. */
static void test_bounded(void **state)
{
	struct sip_authcache *c = mk(64, 100, 60);
	char ha1[AUTH_HEX_MAX + 1], nonce[32];
	struct req r;

	(void)state;
	ha1_of("alice", "alice-secret", ha1);
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(nonce, sizeof(nonce), "nonce%u", i);
		make_req(&r, "alice", "alice-secret", REALM, nonce, 1, "e");
		assert_int_equal(sip_authcache_learn(c, &r.m, r.authz, mr_str_c(ha1), i + 1, 100),
		                 0);
	}
	assert_true(sip_authcache_stats(c)->entries <= 64);
	assert_true(sip_authcache_stats(c)->evicted >= 1000 - 64);
	/* the newest is there */
	make_req(&r, "alice", "alice-secret", REALM, "nonce999", 2, "f");
	assert_int_equal(sip_authcache_check(c, &r.m, r.authz, 5000, 100, NULL), 0);
	sip_authcache_destroy(c);
}

/* rspauth and nextnonce ride in our Via and come back as Proxy-Authentication-Info. */
static void test_response_info(void **state)
{
	struct sip_authcache_info ai = {.qop = MR_STR_LIT("auth"),
	                                .nc = MR_STR_LIT("00000002"),
	                                .cnonce = MR_STR_LIT("c0ffee"),
	                                .nextnonce = MR_STR_LIT("abcdef")};
	char vx[SIP_AUTHCACHE_VIA_MAX], resp[1024], out[1200];
	struct sip_msg m;
	struct sip_buf b;
	const char *body;
	int n;

	(void)state;
	snprintf(ai.rspauth, sizeof(ai.rspauth), "0123456789abcdef0123456789abcdef");
	n = sip_authcache_via_params(&ai, vx, sizeof(vx));
	assert_true(n > 0);
	assert_non_null(strstr(vx, ";air=0123456789abcdef0123456789abcdef"));
	/* SHA-256 sizes (64-hex rspauth, 64-char nextnonce, a 40-char cnonce) still fit */
	{
		struct sip_authcache_info big = ai;

		memset(big.rspauth, 'a', 64);
		big.rspauth[64] = '\0';
		big.nextnonce =
		    MR_STR_LIT("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
		big.cnonce = MR_STR_LIT("0123456789012345678901234567890123456789");
		n = sip_authcache_via_params(&big, vx, sizeof(vx));
		assert_true(n > 0 && n < SIP_AUTHCACHE_VIA_MAX);
		assert_int_equal((size_t)n, strlen(vx));
		assert_non_null(strstr(vx, ";aix=0123456789abcdef"));
	}
	/* a cnonce that is not a token is left out, the rest stays */
	ai.cnonce = MR_STR_LIT("a b");
	assert_true(sip_authcache_via_params(&ai, vx, sizeof(vx)) > 0);
	assert_null(strstr(vx, ";aic="));
	n = snprintf(resp, sizeof(resp),
	             "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx%s\r\n"
	             "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa\r\nFrom: <sip:a@b>;tag=1\r\n"
	             "To: <sip:b@b>;tag=2\r\nCall-ID: c1\r\nCSeq: 2 MESSAGE\r\n"
	             "Content-Length: 4\r\n\r\nbody",
	             vx);
	assert_true(sip_parse(&m, resp, (uint32_t)n, false) > 0);
	/* as sip_proxy_response() leaves it: our Via gone */
	sip_buf_init(&b, out, sizeof(out));
	sip_buf_cstr(&b, "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa\r\n"
	                 "CSeq: 2 MESSAGE\r\nContent-Length: 4\r\n\r\nbody");
	assert_int_equal(sip_authcache_response_info(&b, &m), 1);
	out[b.len] = '\0';
	assert_non_null(strstr(out, "\r\nProxy-Authentication-Info: qop=auth, "
	                            "rspauth=\"0123456789abcdef0123456789abcdef\", nc=00000002, "
	                            "nextnonce=\"abcdef\"\r\n\r\nbody"));
	body = strstr(out, "\r\n\r\n");
	assert_string_equal(body, "\r\n\r\nbody");
	/* no room: left as it was */
	sip_buf_init(&b, out, 120);
	sip_buf_cstr(&b, "SIP/2.0 200 OK\r\nCSeq: 2 MESSAGE\r\nContent-Length: 0\r\n\r\n");
	n = (int)b.len;
	assert_int_equal(sip_authcache_response_info(&b, &m), -ENOBUFS);
	assert_int_equal((int)b.len, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_counts),        cmocka_unit_test(test_expiry_and_uses),
	    cmocka_unit_test(test_mismatch),      cmocka_unit_test(test_bounded),
	    cmocka_unit_test(test_response_info),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/* SPDX-License-Identifier: MIT
 * test_sipcli.c - cmocka tests of the RFC 4740 client side: MAR encoding checked with the
 * project's codec and validator, MAA judgement on hand-built answers for every outcome, and
 * the stateless Session-Id.
 * Owns: nothing beyond its stack. Thread: single. */
#include "dia_sipcli.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const struct dia_ident ident = {MR_STR_LIT("proxy1.example.net"), MR_STR_LIT("example.net"),
                                       1700000000u};

static const struct auth_digest cred = {
    .username = MR_STR_LIT("alice"),
    .realm = MR_STR_LIT("example.com"),
    .nonce = MR_STR_LIT("6564a7b1.00000001.9c2b7e1d4f3a8b60"),
    .uri = MR_STR_LIT("sip:bob@example.com"),
    .response = MR_STR_LIT("180049571710d3c614afbdfe52def1a4"),
    .algorithm = MR_STR_LIT("MD5"),
    .cnonce = MR_STR_LIT("0a4f113b"),
    .nc = MR_STR_LIT("00000001"),
    .qop = MR_STR_LIT("auth"),
    .method = MR_STR_LIT("IGNORED"),
};

static void assert_slice(struct mr_str s, const char *want)
{
	if (!want) {
		assert_int_equal(s.len, 0);
		return;
	}
	assert_int_equal(s.len, strlen(want));
	assert_memory_equal(s.p, want, s.len);
}

static struct mr_str avp_str(const struct dia_msg *m, uint32_t code)
{
	struct dia_avp a;

	if (dia_msg_find(m, code, 0, &a) <= 0)
		return (struct mr_str){0};
	return a.data;
}

static int encode(uint8_t *buf, uint32_t cap, const struct dia_sipcli_mar *mar, struct dia_msg *m)
{
	struct dia_enc e;
	int len;

	dia_enc_init(&e, buf, cap);
	len = dia_sipcli_encode_mar(&e, &ident, MR_STR_LIT("example.com"), mar);
	if (len > 0)
		assert_int_equal(dia_msg_init(m, buf, (uint32_t)len), 0);
	return len;
}

/* ---- MAR ------------------------------------------------------------------------------------- */

static void test_mar1_valid(void **state)
{
	struct dia_sipcli_mar mar = {MR_STR_LIT("proxy1.example.net;1;2;mara"),
	                             MR_STR_LIT("sip:bob@example.com"), MR_STR_LIT("INVITE")};
	uint8_t buf[1024];
	struct dia_msg m;
	struct dia_error err;
	struct dia_avp item, a;
	uint32_t v;

	(void)state;
	assert_true(encode(buf, sizeof(buf), &mar, &m) > 0);
	assert_int_equal(dia_msg_validate(&m, &err), 0);
	assert_int_equal(err.rc, 0);
	assert_int_equal(m.hdr.flags, DIA_FLAG_R | DIA_FLAG_P);
	assert_int_equal(m.hdr.code, DIA_CMD_MA);
	assert_int_equal(m.hdr.app_id, DIA_APP_SIP);
	assert_int_equal(m.hdr.hbh, 0);
	assert_int_equal(m.hdr.e2e, 0);
	assert_slice(avp_str(&m, DIA_AVP_SESSION_ID), "proxy1.example.net;1;2;mara");
	assert_slice(avp_str(&m, DIA_AVP_ORIGIN_HOST), "proxy1.example.net");
	assert_slice(avp_str(&m, DIA_AVP_ORIGIN_REALM), "example.net");
	assert_slice(avp_str(&m, DIA_AVP_DESTINATION_REALM), "example.com");
	assert_slice(avp_str(&m, DIA_AVP_SIP_AOR), "sip:bob@example.com");
	assert_slice(avp_str(&m, DIA_AVP_SIP_METHOD), "INVITE");
	assert_int_equal(dia_msg_find(&m, DIA_AVP_USER_NAME, 0, &a), 0);
	assert_int_equal(dia_msg_find(&m, DIA_AVP_SIP_SERVER_URI, 0, &a), 0); /* §6.4 */
	assert_int_equal(dia_msg_find(&m, DIA_AVP_AUTH_SESSION_STATE, 0, &a), 1);
	assert_int_equal(dia_avp_u32(&a, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(dia_msg_find(&m, DIA_AVP_SIP_NUMBER_AUTH_ITEMS, 0, &a), 1);
	assert_int_equal(dia_avp_u32(&a, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(dia_msg_find(&m, DIA_AVP_SIP_AUTH_DATA_ITEM, 0, &item), 1);
	assert_int_equal(dia_group_find(&item, DIA_AVP_SIP_AUTHENTICATION_SCHEME, 0, &a), 1);
	assert_int_equal(dia_avp_u32(&a, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(dia_group_find(&item, DIA_AVP_SIP_AUTHORIZATION, 0, &a), 0);
}

static void test_mar2_valid(void **state)
{
	struct dia_sipcli_mar mar = {MR_STR_LIT("s;1;2;mara"),
	                             MR_STR_LIT("sip:bob@example.com"),
	                             MR_STR_LIT("INVITE"),
	                             {0},
	                             &cred};
	static const struct {
		uint32_t code;
		const char *want;
	} digest[] = {
	    {DIA_AVP_DIGEST_USERNAME, "alice"},
	    {DIA_AVP_DIGEST_REALM, "example.com"},
	    {DIA_AVP_DIGEST_NONCE, "6564a7b1.00000001.9c2b7e1d4f3a8b60"},
	    {DIA_AVP_DIGEST_URI, "sip:bob@example.com"},
	    {DIA_AVP_DIGEST_RESPONSE, "180049571710d3c614afbdfe52def1a4"},
	    {DIA_AVP_DIGEST_ALGORITHM, "MD5"},
	    {DIA_AVP_DIGEST_CNONCE, "0a4f113b"},
	    {DIA_AVP_DIGEST_QOP, "auth"},
	    {DIA_AVP_DIGEST_NONCE_COUNT, "00000001"},
	    {DIA_AVP_DIGEST_METHOD, "INVITE"}, /* the SIP method, not cred.method */
	    {DIA_AVP_DIGEST_OPAQUE, NULL},     /* empty: absent */
	    {DIA_AVP_DIGEST_ENTITY_BODY_HASH, NULL},
	};
	uint8_t buf[2048];
	struct dia_msg m;
	struct dia_error err;
	struct dia_avp item, authz, a;

	(void)state;
	assert_true(encode(buf, sizeof(buf), &mar, &m) > 0);
	assert_int_equal(dia_msg_validate(&m, &err), 0);
	assert_int_equal(err.rc, 0);
	assert_slice(avp_str(&m, DIA_AVP_USER_NAME), "alice"); /* §8.7: from the credentials */
	assert_int_equal(dia_msg_find(&m, DIA_AVP_SIP_AUTH_DATA_ITEM, 0, &item), 1);
	assert_int_equal(dia_group_find(&item, DIA_AVP_SIP_AUTHORIZATION, 0, &authz), 1);
	for (size_t i = 0; i < MR_ARRAY_SIZE(digest); i++) {
		int found = dia_group_find(&authz, digest[i].code, 0, &a);

		if (!digest[i].want) {
			assert_int_equal(found, 0);
			continue;
		}
		if (found != 1)
			fail_msg("row %zu: AVP %u missing", i, digest[i].code);
		assert_slice(a.data, digest[i].want);
	}
	assert_int_equal(dia_group_find(&authz, DIA_AVP_DIGEST_HA1, 0, &a), 0);
	/* an explicit User-Name wins */
	mar.user_name = MR_STR_LIT("alice@example.com");
	assert_true(encode(buf, sizeof(buf), &mar, &m) > 0);
	assert_slice(avp_str(&m, DIA_AVP_USER_NAME), "alice@example.com");
	/* the HA1 cache asks for the nonce: an empty Digest-HA1 in SIP-Authorization, valid */
	mar.want_ha1 = true;
	assert_true(encode(buf, sizeof(buf), &mar, &m) > 0);
	assert_int_equal(dia_msg_validate(&m, &err), 0);
	assert_int_equal(dia_msg_find(&m, DIA_AVP_SIP_AUTH_DATA_ITEM, 0, &item), 1);
	assert_int_equal(dia_group_find(&item, DIA_AVP_SIP_AUTHORIZATION, 0, &authz), 1);
	assert_int_equal(dia_group_find(&authz, DIA_AVP_DIGEST_HA1, 0, &a), 1);
	assert_int_equal(a.data.len, 0);
}

/* Credentials go back to the server that minted the nonce: Destination-Host from the opaque. */
static void test_mar_dest_host(void **state)
{
	struct dia_sipcli_mar mar = {MR_STR_LIT("s;1;2;mara"),
	                             MR_STR_LIT("sip:bob@example.com"),
	                             MR_STR_LIT("INVITE"),
	                             {0},
	                             &cred};
	uint8_t buf[2048];
	struct dia_msg m;
	struct dia_error err;
	char longhost[300];

	(void)state;
	assert_slice(dia_sipcli_opaque_host(MR_STR_LIT("dh:aaa1.example.com")), "aaa1.example.com");
	assert_slice(dia_sipcli_opaque_host(MR_STR_LIT("dh:aaa_2-x.test")), "aaa_2-x.test");
	assert_slice(dia_sipcli_opaque_host(MR_STR_LIT("dh:")), NULL);
	assert_slice(dia_sipcli_opaque_host(MR_STR_LIT("5ccc069c403ebaf9f0171e9517f40e41")), NULL);
	assert_slice(dia_sipcli_opaque_host(MR_STR_LIT("DH:aaa1.test")), NULL);
	assert_slice(dia_sipcli_opaque_host(MR_STR_LIT("dh:aaa1.test\r\nX: y")), NULL);
	assert_slice(dia_sipcli_opaque_host(MR_STR_LIT("dh:aaa 1")), NULL);
	assert_slice(dia_sipcli_opaque_host(MR_STR_LIT("dh:aaa\"1")), NULL);
	memcpy(longhost, "dh:", 3);
	memset(longhost + 3, 'a', 256);
	assert_int_equal(dia_sipcli_opaque_host(mr_str_make(longhost, 3 + 255)).len, 255);
	assert_int_equal(dia_sipcli_opaque_host(mr_str_make(longhost, 3 + 256)).len, 0);
	/* absent without a host, present and valid with one */
	assert_true(encode(buf, sizeof(buf), &mar, &m) > 0);
	assert_slice(avp_str(&m, DIA_AVP_DESTINATION_HOST), NULL);
	mar.dest_host = MR_STR_LIT("aaa1.example.com");
	assert_true(encode(buf, sizeof(buf), &mar, &m) > 0);
	assert_int_equal(dia_msg_validate(&m, &err), 0);
	assert_slice(avp_str(&m, DIA_AVP_DESTINATION_HOST), "aaa1.example.com");
	assert_slice(avp_str(&m, DIA_AVP_DESTINATION_REALM), "example.com");
}

static void test_mar_errors(void **state)
{
	struct dia_sipcli_mar mar = {MR_STR_LIT("s;1;2;mara"),
	                             MR_STR_LIT("sip:bob@example.com"),
	                             MR_STR_LIT("INVITE"),
	                             {0},
	                             &cred};
	uint8_t buf[2048];
	struct dia_msg m;
	int full;

	(void)state;
	full = encode(buf, sizeof(buf), &mar, &m);
	assert_true(full > 0);
	for (int cap = 0; cap < full; cap++) /* every short buffer: -ENOBUFS, no overrun */
		if (encode(buf, (uint32_t)cap, &mar, &m) != -ENOBUFS)
			fail_msg("cap %d did not give -ENOBUFS", cap);
	assert_int_equal(encode(buf, (uint32_t)full, &mar, &m), full);
	mar.aor = (struct mr_str){0};
	assert_int_equal(encode(buf, sizeof(buf), &mar, &m), -EINVAL);
	mar.aor = MR_STR_LIT("sip:bob@example.com");
	mar.session_id = (struct mr_str){0};
	assert_int_equal(encode(buf, sizeof(buf), &mar, &m), -EINVAL);
	mar.session_id = MR_STR_LIT("s");
	mar.method = (struct mr_str){0};
	assert_int_equal(encode(buf, sizeof(buf), &mar, &m), -EINVAL);
}

/* ---- MAA ------------------------------------------------------------------------------------- */

struct maa_case {
	uint32_t rc;
	bool experimental;
	bool error_bit;
	bool challenge;     /* SIP-Authenticate with realm and nonce */
	bool chal_no_nonce; /* SIP-Authenticate with a realm only */
	bool info;          /* SIP-Authentication-Info */
	enum dia_sipcli_outcome want;
};

static const struct maa_case maa_cases[] = {
    {2008, false, false, true, false, false, DIA_SIPCLI_CHALLENGE},
    {1001, false, false, true, false, false, DIA_SIPCLI_CHALLENGE},
    {4013, false, false, true, false, false, DIA_SIPCLI_CHALLENGE},
    {2001, false, false, true, false, false, DIA_SIPCLI_CHALLENGE},
    {2006, false, false, true, false, false, DIA_SIPCLI_CHALLENGE},
    {2006, false, false, false, false, true, DIA_SIPCLI_AUTHORIZED},
    {2001, false, false, false, false, false, DIA_SIPCLI_AUTHORIZED},
    {2008, false, false, false, false, false, DIA_SIPCLI_ERROR},
    {1001, false, false, false, false, false, DIA_SIPCLI_ERROR},
    {2008, false, false, false, true, false, DIA_SIPCLI_ERROR}, /* no nonce: no challenge */
    {4013, false, false, false, false, false, DIA_SIPCLI_REFUSED},
    {4001, false, false, false, false, false, DIA_SIPCLI_REFUSED},
    {4001, false, false, true, false, false, DIA_SIPCLI_REFUSED}, /* the code decides */
    {5032, false, false, false, false, false, DIA_SIPCLI_REFUSED},
    {5033, false, false, false, false, false, DIA_SIPCLI_REFUSED},
    {5012, false, false, false, false, false, DIA_SIPCLI_REFUSED},
    {5003, false, false, false, false, false, DIA_SIPCLI_REFUSED},
    {5037, false, false, false, false, false, DIA_SIPCLI_UNSUPPORTED},
    {3002, false, true, false, false, false, DIA_SIPCLI_ERROR},
    {3004, false, true, false, false, false, DIA_SIPCLI_ERROR},
    {5001, false, false, false, false, false, DIA_SIPCLI_ERROR},
    {5032, true, false, false, false, false, DIA_SIPCLI_REFUSED},
    {2001, true, false, false, false, false, DIA_SIPCLI_AUTHORIZED},
};

static int build_maa(uint8_t *buf, uint32_t cap, const struct maa_case *c)
{
	struct dia_enc e;

	dia_enc_init(&e, buf, cap);
	dia_enc_hdr(&e, DIA_FLAG_P | (c->error_bit ? DIA_FLAG_E : 0), DIA_CMD_MA, DIA_APP_SIP, 0x11,
	            0x22);
	dia_enc_avp_str(&e, DIA_AVP_SESSION_ID, DIA_AVP_F_M, MR_STR_LIT("s;1;2;mara"));
	dia_enc_avp_u32(&e, DIA_AVP_AUTH_APPLICATION_ID, DIA_AVP_F_M, DIA_APP_SIP);
	if (c->experimental) {
		dia_enc_group_begin(&e, DIA_AVP_EXPERIMENTAL_RESULT, DIA_AVP_F_M, 0);
		dia_enc_avp_u32(&e, DIA_AVP_VENDOR_ID, DIA_AVP_F_M, 10415);
		dia_enc_avp_u32(&e, 298, DIA_AVP_F_M, c->rc);
		dia_enc_group_end(&e);
	} else {
		dia_enc_avp_u32(&e, DIA_AVP_RESULT_CODE, DIA_AVP_F_M, c->rc);
	}
	dia_enc_avp_u32(&e, DIA_AVP_AUTH_SESSION_STATE, DIA_AVP_F_M, 1);
	dia_enc_avp_str(&e, DIA_AVP_ORIGIN_HOST, DIA_AVP_F_M, MR_STR_LIT("aaa.example.com"));
	dia_enc_avp_str(&e, DIA_AVP_ORIGIN_REALM, DIA_AVP_F_M, MR_STR_LIT("example.com"));
	if (c->challenge || c->chal_no_nonce || c->info) {
		dia_enc_avp_u32(&e, DIA_AVP_SIP_NUMBER_AUTH_ITEMS, DIA_AVP_F_M, 1);
		dia_enc_group_begin(&e, DIA_AVP_SIP_AUTH_DATA_ITEM, DIA_AVP_F_M, 0);
		dia_enc_avp_u32(&e, DIA_AVP_SIP_AUTHENTICATION_SCHEME, DIA_AVP_F_M, 0);
		if (c->challenge || c->chal_no_nonce) {
			dia_enc_group_begin(&e, DIA_AVP_SIP_AUTHENTICATE, DIA_AVP_F_M, 0);
			dia_enc_avp_str(&e, DIA_AVP_DIGEST_REALM, DIA_AVP_F_M,
			                MR_STR_LIT("example.com"));
			if (c->challenge)
				dia_enc_avp_str(&e, DIA_AVP_DIGEST_NONCE, DIA_AVP_F_M,
				                MR_STR_LIT("n0nce"));
			dia_enc_avp_str(&e, DIA_AVP_DIGEST_ALGORITHM, DIA_AVP_F_M,
			                MR_STR_LIT("MD5"));
			dia_enc_avp_str(&e, DIA_AVP_DIGEST_QOP, DIA_AVP_F_M, MR_STR_LIT("auth"));
			dia_enc_group_end(&e);
		}
		if (c->info) {
			dia_enc_group_begin(&e, DIA_AVP_SIP_AUTHENTICATION_INFO, DIA_AVP_F_M, 0);
			dia_enc_avp_str(&e, DIA_AVP_DIGEST_RESPONSE_AUTH, DIA_AVP_F_M,
			                MR_STR_LIT("rsp"));
			dia_enc_avp_str(&e, DIA_AVP_DIGEST_NEXTNONCE, DIA_AVP_F_M,
			                MR_STR_LIT("nn"));
			dia_enc_avp_str(&e, DIA_AVP_DIGEST_QOP, DIA_AVP_F_M, MR_STR_LIT("auth"));
			dia_enc_avp_str(&e, DIA_AVP_DIGEST_CNONCE, DIA_AVP_F_M, MR_STR_LIT("cn"));
			dia_enc_avp_str(&e, DIA_AVP_DIGEST_NONCE_COUNT, DIA_AVP_F_M,
			                MR_STR_LIT("00000001"));
			/* mara-aaa handing the nonce over (§6.3, sip_authcache.h) */
			dia_enc_avp_str(&e, DIA_AVP_DIGEST_HA1, DIA_AVP_F_M,
			                MR_STR_LIT("ae7914636bb60b37a9441871cf572389"));
			dia_enc_group_end(&e);
		}
		dia_enc_group_end(&e);
	}
	return dia_enc_finish(&e);
}

static void test_maa_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < MR_ARRAY_SIZE(maa_cases); i++) {
		const struct maa_case *c = &maa_cases[i];
		struct dia_sipcli_result r;
		uint8_t buf[1024];
		struct dia_msg m;
		int len = build_maa(buf, sizeof(buf), c);

		assert_true(len > 0);
		assert_int_equal(dia_msg_init(&m, buf, (uint32_t)len), 0);
		if (dia_sipcli_decode_maa(&m, &r) != 0)
			fail_msg("row %zu: decode failed", i);
		if (r.outcome != c->want || r.result_code != c->rc)
			fail_msg("row %zu: rc %u outcome %s, want %s", i, r.result_code,
			         dia_sipcli_outcome_name(r.outcome),
			         dia_sipcli_outcome_name(c->want));
		assert_int_equal(r.experimental, c->experimental);
		assert_int_equal(r.exp_vendor, c->experimental ? 10415 : 0);
		assert_int_equal(r.error_bit, c->error_bit);
		assert_int_equal(r.has_challenge, c->challenge);
		assert_int_equal(r.has_info, c->info);
		assert_slice(r.session_id, "s;1;2;mara");
		assert_slice(r.origin_host, "aaa.example.com");
		if (c->challenge) {
			assert_slice(r.chal.realm, "example.com");
			assert_slice(r.chal.nonce, "n0nce");
			assert_slice(r.chal.algorithm, "MD5");
			assert_slice(r.chal.qop, "auth");
			assert_false(r.chal.stale);
			assert_slice(r.chal.ha1, NULL);
		}
		if (c->info) {
			assert_slice(r.info.rspauth, "rsp");
			assert_slice(r.info.nextnonce, "nn");
			assert_slice(r.info.qop, "auth");
			assert_slice(r.info.cnonce, "cn");
			assert_slice(r.info.nc, "00000001");
			assert_slice(r.info.ha1, "ae7914636bb60b37a9441871cf572389");
		}
	}
}

/* Every optional challenge field, §6.3 HA1, two items (the first with a challenge wins). */
static void test_maa_full_challenge(void **state)
{
	uint8_t buf[1024];
	struct dia_enc e;
	struct dia_msg m;
	struct dia_sipcli_result r;
	int len;

	(void)state;
	dia_enc_init(&e, buf, sizeof(buf));
	dia_enc_hdr(&e, DIA_FLAG_P, DIA_CMD_MA, DIA_APP_SIP, 1, 2);
	dia_enc_avp_str(&e, DIA_AVP_SESSION_ID, DIA_AVP_F_M, MR_STR_LIT("sid"));
	dia_enc_avp_u32(&e, DIA_AVP_RESULT_CODE, DIA_AVP_F_M, 2008);
	dia_enc_avp_str(&e, DIA_AVP_USER_NAME, DIA_AVP_F_M, MR_STR_LIT("alice"));
	dia_enc_group_begin(&e, DIA_AVP_SIP_AUTH_DATA_ITEM, DIA_AVP_F_M, 0);
	dia_enc_avp_u32(&e, DIA_AVP_SIP_AUTHENTICATION_SCHEME, DIA_AVP_F_M, 0);
	dia_enc_group_end(&e);
	dia_enc_group_begin(&e, DIA_AVP_SIP_AUTH_DATA_ITEM, DIA_AVP_F_M, 0);
	dia_enc_avp_u32(&e, DIA_AVP_SIP_AUTHENTICATION_SCHEME, DIA_AVP_F_M, 0);
	dia_enc_group_begin(&e, DIA_AVP_SIP_AUTHENTICATE, DIA_AVP_F_M, 0);
	dia_enc_avp_str(&e, DIA_AVP_DIGEST_REALM, DIA_AVP_F_M, MR_STR_LIT("example.com"));
	dia_enc_avp_str(&e, DIA_AVP_DIGEST_NONCE, DIA_AVP_F_M, MR_STR_LIT("abc"));
	dia_enc_avp_str(&e, DIA_AVP_DIGEST_DOMAIN, DIA_AVP_F_M, MR_STR_LIT("sip:example.com"));
	dia_enc_avp_str(&e, DIA_AVP_DIGEST_OPAQUE, DIA_AVP_F_M, MR_STR_LIT("op"));
	dia_enc_avp_str(&e, DIA_AVP_DIGEST_STALE, DIA_AVP_F_M, MR_STR_LIT("TRUE"));
	dia_enc_avp_str(&e, DIA_AVP_DIGEST_ALGORITHM, DIA_AVP_F_M, MR_STR_LIT("SHA-256"));
	dia_enc_avp_str(&e, DIA_AVP_DIGEST_QOP, DIA_AVP_F_M, MR_STR_LIT("auth,auth-int"));
	dia_enc_avp_str(&e, DIA_AVP_DIGEST_HA1, DIA_AVP_F_M,
	                MR_STR_LIT("ae7914636bb60b37a9441871cf572389"));
	dia_enc_group_end(&e);
	dia_enc_group_end(&e);
	dia_enc_group_begin(&e, DIA_AVP_SIP_AUTH_DATA_ITEM, DIA_AVP_F_M, 0);
	dia_enc_avp_u32(&e, DIA_AVP_SIP_AUTHENTICATION_SCHEME, DIA_AVP_F_M, 0);
	dia_enc_group_begin(&e, DIA_AVP_SIP_AUTHENTICATE, DIA_AVP_F_M, 0);
	dia_enc_avp_str(&e, DIA_AVP_DIGEST_REALM, DIA_AVP_F_M, MR_STR_LIT("other"));
	dia_enc_avp_str(&e, DIA_AVP_DIGEST_NONCE, DIA_AVP_F_M, MR_STR_LIT("second"));
	dia_enc_group_end(&e);
	dia_enc_group_end(&e);
	len = dia_enc_finish(&e);
	assert_true(len > 0);
	assert_int_equal(dia_msg_init(&m, buf, (uint32_t)len), 0);
	assert_int_equal(dia_sipcli_decode_maa(&m, &r), 0);
	assert_int_equal(r.outcome, DIA_SIPCLI_CHALLENGE);
	assert_slice(r.user_name, "alice");
	assert_slice(r.chal.realm, "example.com");
	assert_slice(r.chal.nonce, "abc");
	assert_slice(r.chal.domain, "sip:example.com");
	assert_slice(r.chal.opaque, "op");
	assert_slice(r.chal.stale_text, "TRUE");
	assert_true(r.chal.stale);
	assert_slice(r.chal.algorithm, "SHA-256");
	assert_slice(r.chal.qop, "auth,auth-int");
	assert_slice(r.chal.ha1, "ae7914636bb60b37a9441871cf572389");
}

/* A SIP-Authenticate without realm is no challenge (§9.5.2) and leaves nothing behind: the
 * challenge is read in place, so the fields it did carry must not leak into the next one. */
static void test_maa_incomplete_challenge(void **state)
{
	uint8_t buf[1024];
	struct dia_enc e;
	struct dia_msg m;
	struct dia_sipcli_result r;
	int len;

	(void)state;
	/* alone, then followed by a complete one: only the second's fields */
	for (int second = 0; second < 2; second++) {
		dia_enc_init(&e, buf, sizeof(buf));
		dia_enc_hdr(&e, DIA_FLAG_P, DIA_CMD_MA, DIA_APP_SIP, 1, 2);
		dia_enc_avp_u32(&e, DIA_AVP_RESULT_CODE, DIA_AVP_F_M, 2008);
		dia_enc_group_begin(&e, DIA_AVP_SIP_AUTH_DATA_ITEM, DIA_AVP_F_M, 0);
		dia_enc_group_begin(&e, DIA_AVP_SIP_AUTHENTICATE, DIA_AVP_F_M, 0);
		dia_enc_avp_str(&e, DIA_AVP_DIGEST_NONCE, DIA_AVP_F_M, MR_STR_LIT("first"));
		dia_enc_avp_str(&e, DIA_AVP_DIGEST_OPAQUE, DIA_AVP_F_M, MR_STR_LIT("op"));
		dia_enc_avp_str(&e, DIA_AVP_DIGEST_STALE, DIA_AVP_F_M, MR_STR_LIT("true"));
		dia_enc_group_end(&e);
		dia_enc_group_end(&e);
		if (second) {
			dia_enc_group_begin(&e, DIA_AVP_SIP_AUTH_DATA_ITEM, DIA_AVP_F_M, 0);
			dia_enc_group_begin(&e, DIA_AVP_SIP_AUTHENTICATE, DIA_AVP_F_M, 0);
			dia_enc_avp_str(&e, DIA_AVP_DIGEST_REALM, DIA_AVP_F_M,
			                MR_STR_LIT("example.com"));
			dia_enc_avp_str(&e, DIA_AVP_DIGEST_NONCE, DIA_AVP_F_M,
			                MR_STR_LIT("second"));
			dia_enc_group_end(&e);
			dia_enc_group_end(&e);
		}
		len = dia_enc_finish(&e);
		assert_true(len > 0);
		assert_int_equal(dia_msg_init(&m, buf, (uint32_t)len), 0);
		assert_int_equal(dia_sipcli_decode_maa(&m, &r), 0);
		assert_int_equal(r.has_challenge, second);
		assert_int_equal(r.outcome, second ? DIA_SIPCLI_CHALLENGE : DIA_SIPCLI_ERROR);
		if (second) {
			assert_slice(r.chal.realm, "example.com");
			assert_slice(r.chal.nonce, "second");
		} else {
			assert_null(r.chal.nonce.p);
		}
		assert_null(r.chal.opaque.p);
		assert_null(r.chal.stale_text.p);
		assert_false(r.chal.stale);
	}
}

static void test_maa_malformed(void **state)
{
	struct maa_case ok = {2008, false, false, true, false, false, DIA_SIPCLI_CHALLENGE};
	struct dia_sipcli_result r;
	uint8_t buf[1024];
	struct dia_msg m;
	struct dia_enc e;
	int len = build_maa(buf, sizeof(buf), &ok);

	(void)state;
	assert_int_equal(dia_msg_init(&m, buf, (uint32_t)len), 0);
	m.hdr.flags |= DIA_FLAG_R; /* a request is no answer */
	assert_int_equal(dia_sipcli_decode_maa(&m, &r), -EBADMSG);
	m.hdr.flags &= (uint8_t)~DIA_FLAG_R;
	m.hdr.code = DIA_CMD_UA;
	assert_int_equal(dia_sipcli_decode_maa(&m, &r), -EBADMSG);
	m.hdr.code = DIA_CMD_MA;
	m.hdr.app_id = 0;
	assert_int_equal(dia_sipcli_decode_maa(&m, &r), -EBADMSG);

	/* the last AVP's length runs past the message */
	assert_int_equal(dia_msg_init(&m, buf, (uint32_t)len), 0);
	for (int off = DIA_HDR_LEN; off + 8 <= len;) {
		uint32_t alen =
		    (uint32_t)buf[off + 5] << 16 | (uint32_t)buf[off + 6] << 8 | buf[off + 7];
		int next = off + (int)((alen + 3) & ~3u);

		if (next >= len) {
			buf[off + 6] = (uint8_t)(buf[off + 6] + 1); /* + 256 */
			break;
		}
		off = next;
	}
	assert_int_equal(dia_sipcli_decode_maa(&m, &r), -EBADMSG);

	/* no Result-Code, no Experimental-Result */
	dia_enc_init(&e, buf, sizeof(buf));
	dia_enc_hdr(&e, DIA_FLAG_P, DIA_CMD_MA, DIA_APP_SIP, 1, 2);
	dia_enc_avp_str(&e, DIA_AVP_SESSION_ID, DIA_AVP_F_M, MR_STR_LIT("sid"));
	len = dia_enc_finish(&e);
	assert_int_equal(dia_msg_init(&m, buf, (uint32_t)len), 0);
	assert_int_equal(dia_sipcli_decode_maa(&m, &r), -EBADMSG);
	assert_int_equal(r.outcome, DIA_SIPCLI_ERROR);
}

/* ---- Session-Id ------------------------------------------------------------------------------ */

static void test_session_id(void **state)
{
	struct mr_str host = MR_STR_LIT("proxy1.example.net");
	char a[128], b[128], c[128], d[128];
	unsigned hi, lo;
	int n, used = 0;

	(void)state;
	n = dia_sipcli_session_id(a, sizeof(a), host, MR_STR_LIT("a84b4c76e66710@pc33"),
	                          MR_STR_LIT("1928301774"));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(a));
	/* the same dialog (the retried INVITE) gives the same Session-Id */
	assert_int_equal(dia_sipcli_session_id(b, sizeof(b), host,
	                                       MR_STR_LIT("a84b4c76e66710@pc33"),
	                                       MR_STR_LIT("1928301774")),
	                 n);
	assert_string_equal(a, b);
	assert_int_equal(sscanf(a, "proxy1.example.net;%u;%u;mara%n", &hi, &lo, &used), 2);
	assert_int_equal(used, n);
	/* another call or another From tag: another session */
	dia_sipcli_session_id(c, sizeof(c), host, MR_STR_LIT("a84b4c76e66710@pc34"),
	                      MR_STR_LIT("1928301774"));
	assert_string_not_equal(a, c);
	dia_sipcli_session_id(c, sizeof(c), host, MR_STR_LIT("a84b4c76e66710@pc33"),
	                      MR_STR_LIT("1928301775"));
	assert_string_not_equal(a, c);
	/* no ambiguity in where Call-ID ends and the tag begins */
	dia_sipcli_session_id(c, sizeof(c), host, MR_STR_LIT("ab"), MR_STR_LIT("c"));
	dia_sipcli_session_id(d, sizeof(d), host, MR_STR_LIT("a"), MR_STR_LIT("bc"));
	assert_string_not_equal(c, d);
	/* empty inputs are fine; short buffers are refused with an empty string */
	assert_true(
	    dia_sipcli_session_id(c, sizeof(c), host, (struct mr_str){0}, (struct mr_str){0}) > 0);
	assert_int_equal(dia_sipcli_session_id(c, (size_t)n, host,
	                                       MR_STR_LIT("a84b4c76e66710@pc33"),
	                                       MR_STR_LIT("1928301774")),
	                 -ENOBUFS);
	assert_string_equal(c, "");
	assert_int_equal(dia_sipcli_session_id(c, 0, host, MR_STR_LIT("x"), MR_STR_LIT("y")),
	                 -ENOBUFS);
	assert_true(n <= (int)host.len + DIA_SIPCLI_SID_EXTRA);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mar1_valid),
	    cmocka_unit_test(test_mar2_valid),
	    cmocka_unit_test(test_mar_errors),
	    cmocka_unit_test(test_maa_table),
	    cmocka_unit_test(test_maa_full_challenge),
	    cmocka_unit_test(test_maa_malformed),
	    cmocka_unit_test(test_maa_incomplete_challenge),
	    cmocka_unit_test(test_session_id),
	    cmocka_unit_test(test_mar_dest_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

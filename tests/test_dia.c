/* SPDX-License-Identifier: MIT
 * test_dia.c - cmocka tests of the Diameter codec, dictionary, validator and dumper.
 * Owns: nothing beyond its stack and a few short-lived heap copies (exact-size, so the
 * sanitizer build catches any read past a message).
 * Thread: single. The reference vector is the MAR of diameter-sip.md §7 (tests/vectors/dia). */
#include "dia.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAR_LEN 228

/* diameter-sip.md §7, MAR #1 (also tests/vectors/dia/mar1.bin). */
static const uint8_t mar1[MAR_LEN] = {
    0x01, 0x00, 0x00, 0xe4, 0xc0, 0x00, 0x01, 0x1e, 0x00, 0x00, 0x00, 0x06, 0x2a, 0x00, 0x00, 0x01,
    0x5f, 0x3e, 0x00, 0x01, 0x00, 0x00, 0x01, 0x07, 0x40, 0x00, 0x00, 0x27, 0x70, 0x72, 0x6f, 0x78,
    0x79, 0x31, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6e, 0x65, 0x74, 0x3b, 0x31,
    0x37, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x3b, 0x31, 0x00, 0x00, 0x00, 0x01, 0x02,
    0x40, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x01, 0x15, 0x40, 0x00, 0x00, 0x0c,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x08, 0x40, 0x00, 0x00, 0x1a, 0x70, 0x72, 0x6f, 0x78,
    0x79, 0x31, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6e, 0x65, 0x74, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x28, 0x40, 0x00, 0x00, 0x13, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e,
    0x6e, 0x65, 0x74, 0x00, 0x00, 0x00, 0x01, 0x1b, 0x40, 0x00, 0x00, 0x13, 0x65, 0x78, 0x61, 0x6d,
    0x70, 0x6c, 0x65, 0x2e, 0x6e, 0x65, 0x74, 0x00, 0x00, 0x00, 0x00, 0x7a, 0x40, 0x00, 0x00, 0x1b,
    0x73, 0x69, 0x70, 0x3a, 0x62, 0x6f, 0x62, 0x40, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e,
    0x63, 0x6f, 0x6d, 0x00, 0x00, 0x00, 0x01, 0x89, 0x40, 0x00, 0x00, 0x0e, 0x49, 0x4e, 0x56, 0x49,
    0x54, 0x45, 0x00, 0x00, 0x00, 0x00, 0x01, 0x7e, 0x40, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x01, 0x78, 0x40, 0x00, 0x00, 0x14, 0x00, 0x00, 0x01, 0x79, 0x40, 0x00, 0x00, 0x0c,
    0x00, 0x00, 0x00, 0x00,
};

#define SID "proxy1.example.net;1700000000;1"
#define M   DIA_AVP_F_M

static const struct dia_ident ident = {
    .host = MR_STR_LIT("aaa1.example.net"),
    .realm = MR_STR_LIT("example.net"),
    .state_id = 1700000001,
};

/* ---- builders ------------------------------------------------------------------------ */

/* Variants of the MAR used by the validation and error-answer tables. */
enum mar_variant {
	V_PLAIN,
	V_NO_METHOD,       /* SIP-Method left out */
	V_NO_STATE,        /* Auth-Session-State left out */
	V_U32_3,           /* Auth-Session-State with 3 data bytes */
	V_UNKNOWN_M,       /* unknown AVP 9999 with M */
	V_UNKNOWN_NOM,     /* unknown AVP 9999 without M */
	V_VENDOR_M,        /* unknown vendor AVP with M */
	V_CHILD_SHORT,     /* SIP-Authentication-Scheme with 2 bytes inside the item */
	V_UNKNOWN_M_CHILD, /* unknown M AVP inside SIP-Auth-Data-Item */
	V_NO_M_FLAG,       /* Session-Id without M: 3009 */
	V_V_FLAG_V0,       /* Origin-Realm with V set and vendor 0: 3009 */
	V_ERRMSG_M,        /* Error-Message with M: 3009 */
	V_PROXY_INFO,      /* a Proxy-Info to be echoed */
};

static void enc_mar_avps(struct dia_enc *e, enum mar_variant v)
{
	dia_enc_avp_str(e, DIA_AVP_SESSION_ID, v == V_NO_M_FLAG ? 0 : M, MR_STR_LIT(SID));
	dia_enc_avp_u32(e, DIA_AVP_AUTH_APPLICATION_ID, M, DIA_APP_SIP);
	if (v == V_U32_3)
		dia_enc_avp_raw(e, DIA_AVP_AUTH_SESSION_STATE, M, 0, "\0\0\1", 3);
	else if (v != V_NO_STATE)
		dia_enc_avp_u32(e, DIA_AVP_AUTH_SESSION_STATE, M, 1);
	dia_enc_avp_str(e, DIA_AVP_ORIGIN_HOST, M, MR_STR_LIT("proxy1.example.net"));
	if (v == V_V_FLAG_V0)
		dia_enc_avp_raw(e, DIA_AVP_ORIGIN_REALM, M | DIA_AVP_F_V, 0, "example.net", 11);
	else
		dia_enc_avp_str(e, DIA_AVP_ORIGIN_REALM, M, MR_STR_LIT("example.net"));
	dia_enc_avp_str(e, DIA_AVP_DESTINATION_REALM, M, MR_STR_LIT("example.net"));
	dia_enc_avp_str(e, DIA_AVP_SIP_AOR, M, MR_STR_LIT("sip:bob@example.com"));
	if (v != V_NO_METHOD)
		dia_enc_avp_str(e, DIA_AVP_SIP_METHOD, M, MR_STR_LIT("INVITE"));
	dia_enc_avp_u32(e, DIA_AVP_SIP_NUMBER_AUTH_ITEMS, M, 1);
	dia_enc_group_begin(e, DIA_AVP_SIP_AUTH_DATA_ITEM, M, 0);
	if (v == V_CHILD_SHORT)
		dia_enc_avp_raw(e, DIA_AVP_SIP_AUTHENTICATION_SCHEME, M, 0, "\0\0", 2);
	else
		dia_enc_avp_u32(e, DIA_AVP_SIP_AUTHENTICATION_SCHEME, M, 0);
	if (v == V_UNKNOWN_M_CHILD)
		dia_enc_avp_raw(e, 7777, M, 0, "abc", 3);
	dia_enc_group_end(e);
	if (v == V_UNKNOWN_M || v == V_UNKNOWN_NOM)
		dia_enc_avp_raw(e, 9999, v == V_UNKNOWN_M ? M : 0, 0, "xy", 2);
	if (v == V_VENDOR_M)
		dia_enc_avp_raw(e, 1, M | DIA_AVP_F_V, 10415, "abcde", 5);
	if (v == V_ERRMSG_M)
		dia_enc_avp_str(e, DIA_AVP_ERROR_MESSAGE, M, MR_STR_LIT("oops"));
	if (v == V_PROXY_INFO) {
		dia_enc_group_begin(e, DIA_AVP_PROXY_INFO, M, 0);
		dia_enc_avp_str(e, DIA_AVP_PROXY_HOST, M, MR_STR_LIT("dra.example.net"));
		dia_enc_avp_str(e, DIA_AVP_PROXY_STATE, M, MR_STR_LIT("\x01\x02state"));
		dia_enc_group_end(e);
	}
}

static int build_mar(uint8_t *buf, uint32_t cap, enum mar_variant v)
{
	struct dia_enc e;

	dia_enc_init(&e, buf, cap);
	dia_enc_hdr(&e, DIA_FLAG_R | DIA_FLAG_P, DIA_CMD_MA, DIA_APP_SIP, 0x2a000001, 0x5f3e0001);
	enc_mar_avps(&e, v);
	return dia_enc_finish(&e);
}

static uint32_t be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static void set_be24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

/* Appends raw bytes after a finished message and fixes the header length. */
static uint32_t append_raw(uint8_t *buf, uint32_t len, const void *b, uint32_t n)
{
	memcpy(buf + len, b, n);
	set_be24(buf + 1, len + n);
	return len + n;
}

/* @n nested Proxy-Info AVPs around one Proxy-State, as a MAR AVP. The encoder stops at
 * DIA_MAX_NEST open groups, so the inner levels are built by hand. */
static int build_nested(uint8_t *buf, uint32_t cap, int n)
{
	uint8_t blob[256] = {0, 0, 0, 33, M, 0, 0, 9, 'x', 0, 0, 0};
	uint32_t blen = 12;
	struct dia_enc e;

	for (int i = 1; i < n; i++) {
		memmove(blob + 8, blob, blen);
		blen += 8;
		memcpy(blob, "\0\0\x01\x1c", 4); /* 284 */
		blob[4] = M;
		set_be24(blob + 5, blen);
	}
	dia_enc_init(&e, buf, cap);
	dia_enc_hdr(&e, DIA_FLAG_R | DIA_FLAG_P, DIA_CMD_MA, DIA_APP_SIP, 1, 2);
	enc_mar_avps(&e, V_PLAIN);
	dia_enc_avp_raw(&e, DIA_AVP_PROXY_INFO, M, 0, blob, blen);
	return dia_enc_finish(&e);
}

static void msg_from(struct dia_msg *m, const uint8_t *buf, int len)
{
	assert_true(len >= DIA_HDR_LEN);
	assert_int_equal(dia_msg_init(m, buf, (uint32_t)len), 0);
}

static uint32_t avp_u32(const struct dia_avp *a)
{
	uint32_t v = 0;

	assert_int_equal(dia_avp_u32(a, &v), 0);
	return v;
}

static bool str_is(struct mr_str s, const char *c)
{
	return mr_str_eq(s, mr_str_c(c));
}

/* ---- encoding ------------------------------------------------------------------------ */

static void test_mar_encode(void **state)
{
	uint8_t buf[512], file[512];
	size_t n;
	FILE *f;
	int len;

	(void)state;
	len = build_mar(buf, sizeof(buf), V_PLAIN);
	assert_int_equal(len, MAR_LEN);
	assert_memory_equal(buf, mar1, MAR_LEN);

	f = fopen(MR_TEST_VECTORS "/dia/mar1.bin", "rb");
	assert_non_null(f);
	n = fread(file, 1, sizeof(file), f);
	fclose(f);
	assert_int_equal(n, MAR_LEN);
	assert_memory_equal(file, buf, MAR_LEN);
}

static void test_enc_overflow(void **state)
{
	uint8_t buf[MAR_LEN + 32];

	(void)state;
	for (uint32_t cap = 0; cap <= MAR_LEN; cap++) {
		int rc;

		memset(buf, 0xa5, sizeof(buf));
		rc = build_mar(buf, cap, V_PLAIN);
		if (cap < MAR_LEN && rc != -ENOBUFS)
			fail_msg("cap %u: rc %d", cap, rc);
		if (cap == MAR_LEN && rc != MAR_LEN)
			fail_msg("cap %u: rc %d", cap, rc);
		for (size_t i = cap; i < sizeof(buf); i++)
			if (buf[i] != 0xa5)
				fail_msg("cap %u: byte %zu written", cap, i);
	}
	assert_memory_equal(buf, mar1, MAR_LEN);
}

static void test_enc_misuse(void **state)
{
	uint8_t buf[256];
	struct dia_enc e;

	(void)state;
	/* No header. */
	dia_enc_init(&e, buf, sizeof(buf));
	assert_int_equal(dia_enc_finish(&e), -EINVAL);
	dia_enc_avp_u32(&e, 1, M, 1);
	assert_int_equal(dia_enc_finish(&e), -EINVAL);
	/* Header twice. */
	dia_enc_init(&e, buf, sizeof(buf));
	dia_enc_hdr(&e, 0, 280, 0, 1, 2);
	dia_enc_hdr(&e, 0, 280, 0, 1, 2);
	assert_int_equal(dia_enc_finish(&e), -EINVAL);
	/* Unbalanced groups. */
	dia_enc_init(&e, buf, sizeof(buf));
	dia_enc_hdr(&e, 0, 280, 0, 1, 2);
	dia_enc_group_begin(&e, DIA_AVP_PROXY_INFO, M, 0);
	assert_int_equal(dia_enc_finish(&e), -EINVAL);
	dia_enc_init(&e, buf, sizeof(buf));
	dia_enc_hdr(&e, 0, 280, 0, 1, 2);
	dia_enc_group_end(&e);
	assert_int_equal(dia_enc_finish(&e), -EINVAL);
	/* One group too many. */
	dia_enc_init(&e, buf, sizeof(buf));
	dia_enc_hdr(&e, 0, 280, 0, 1, 2);
	for (int i = 0; i <= DIA_MAX_NEST; i++)
		dia_enc_group_begin(&e, DIA_AVP_PROXY_INFO, M, 0);
	assert_int_equal(dia_enc_finish(&e), -EINVAL);
	/* Bad address family. */
	dia_enc_init(&e, buf, sizeof(buf));
	dia_enc_hdr(&e, 0, 280, 0, 1, 2);
	dia_enc_avp_addr(&e, DIA_AVP_HOST_IP_ADDRESS, M, &(struct sockaddr){.sa_family = AF_UNIX});
	assert_int_equal(dia_enc_finish(&e), -EINVAL);
}

/* ---- decoding ------------------------------------------------------------------------ */

static void test_mar_decode(void **state)
{
	static const uint32_t codes[] = {263, 258, 277, 264, 296, 283, 122, 393, 382, 376};
	struct dia_avp_iter it;
	struct dia_avp a, item, scheme;
	struct dia_error err;
	struct dia_msg m;
	size_t i = 0;
	int rc;

	(void)state;
	assert_int_equal(dia_frame(mar1, MAR_LEN, 4096), MAR_LEN);
	msg_from(&m, mar1, MAR_LEN);
	assert_int_equal(m.hdr.version, 1);
	assert_int_equal(m.hdr.flags, DIA_FLAG_R | DIA_FLAG_P);
	assert_int_equal(m.hdr.code, DIA_CMD_MA);
	assert_int_equal(m.hdr.app_id, DIA_APP_SIP);
	assert_int_equal(m.hdr.hbh, 0x2a000001);
	assert_int_equal(m.hdr.e2e, 0x5f3e0001);
	assert_int_equal(m.hdr.length, MAR_LEN);

	dia_avp_iter_init(&it, &m);
	while ((rc = dia_avp_next(&it, &a)) > 0) {
		assert_true(i < MR_ARRAY_SIZE(codes));
		assert_int_equal(a.code, codes[i]);
		assert_int_equal(a.flags, M);
		assert_int_equal(a.vendor, 0);
		assert_ptr_equal(a.data.p, (const char *)a.raw + 8);
		assert_int_equal(a.raw_len, a.data.len + 8);
		i++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(i, MR_ARRAY_SIZE(codes));

	assert_int_equal(dia_msg_find(&m, DIA_AVP_SESSION_ID, 0, &a), 1);
	assert_true(str_is(a.data, SID));
	assert_int_equal(a.raw_len, 39);
	assert_int_equal(dia_msg_find(&m, DIA_AVP_AUTH_SESSION_STATE, 0, &a), 1);
	assert_int_equal(avp_u32(&a), 1);
	assert_int_equal(dia_msg_find(&m, DIA_AVP_SIP_METHOD, 0, &a), 1);
	assert_true(str_is(a.data, "INVITE"));
	assert_int_equal(dia_msg_find(&m, DIA_AVP_SIP_AOR, 0, &a), 1);
	assert_true(str_is(a.data, "sip:bob@example.com"));
	assert_int_equal(dia_msg_find(&m, DIA_AVP_USER_NAME, 0, &a), 0);
	assert_int_equal(dia_msg_find(&m, DIA_AVP_SESSION_ID, 10415, &a), 0);

	assert_int_equal(dia_msg_find(&m, DIA_AVP_SIP_AUTH_DATA_ITEM, 0, &item), 1);
	assert_int_equal(item.data.len, 12);
	assert_int_equal(dia_group_find(&item, DIA_AVP_SIP_AUTHENTICATION_SCHEME, 0, &scheme), 1);
	assert_int_equal(avp_u32(&scheme), 0);
	assert_int_equal(dia_group_find(&item, DIA_AVP_SIP_AUTHORIZATION, 0, &scheme), 0);

	assert_int_equal(dia_msg_validate(&m, &err), 0);
	assert_int_equal(err.rc, 0);
}

static void test_group_roundtrip(void **state)
{
	uint8_t buf[512];
	struct dia_avp_iter it;
	struct dia_avp g, leaf;
	struct dia_error err;
	struct dia_msg m;
	struct dia_enc e;
	int len;

	(void)state;
	dia_enc_init(&e, buf, sizeof(buf));
	dia_enc_hdr(&e, DIA_FLAG_R, DIA_CMD_DW, 0, 7, 8);
	dia_enc_avp_str(&e, DIA_AVP_ORIGIN_HOST, M, MR_STR_LIT("a.example.net"));
	dia_enc_avp_str(&e, DIA_AVP_ORIGIN_REALM, M, MR_STR_LIT("example.net"));
	for (int i = 0; i < DIA_MAX_NEST; i++) {
		dia_enc_group_begin(&e, DIA_AVP_PROXY_INFO, M, 0);
		dia_enc_avp_str(&e, DIA_AVP_PROXY_HOST, M, MR_STR_LIT("h"));
	}
	dia_enc_avp_str(&e, DIA_AVP_PROXY_STATE, M, MR_STR_LIT("state"));
	for (int i = 0; i < DIA_MAX_NEST; i++)
		dia_enc_group_end(&e);
	len = dia_enc_finish(&e);
	assert_true(len > 0);
	msg_from(&m, buf, len);
	assert_int_equal(dia_msg_validate(&m, &err), 0);
	assert_int_equal(err.rc, 0);

	/* Each level: Proxy-Host "h" (12 bytes padded) then the next group; lengths add up. */
	assert_int_equal(dia_msg_find(&m, DIA_AVP_PROXY_INFO, 0, &g), 1);
	for (int i = 1; i < DIA_MAX_NEST; i++) {
		uint32_t outer = g.raw_len;

		assert_int_equal(dia_group_find(&g, DIA_AVP_PROXY_HOST, 0, &leaf), 1);
		assert_true(str_is(leaf.data, "h"));
		assert_int_equal(dia_group_find(&g, DIA_AVP_PROXY_INFO, 0, &g), 1);
		assert_int_equal(outer, 8 + 12 + g.raw_len);
	}
	dia_avp_iter_init_group(&it, &g);
	assert_int_equal(dia_avp_next(&it, &leaf), 1);
	assert_int_equal(leaf.code, DIA_AVP_PROXY_HOST);
	assert_int_equal(dia_avp_next(&it, &leaf), 1);
	assert_int_equal(leaf.code, DIA_AVP_PROXY_STATE);
	assert_true(str_is(leaf.data, "state"));
	assert_int_equal(leaf.raw_len, 13);
	assert_int_equal(g.raw_len, 8 + 12 + 16);
	assert_int_equal(dia_avp_next(&it, &leaf), 0);
}

static void test_vendor_roundtrip(void **state)
{
	uint8_t buf[256];
	struct dia_avp a;
	struct dia_msg m;
	struct dia_enc e;
	uint64_t u64;
	int len;

	(void)state;
	dia_enc_init(&e, buf, sizeof(buf));
	dia_enc_hdr(&e, DIA_FLAG_P, 303, 16777216, 1, 2);
	dia_enc_avp_raw(&e, 628, M, 10415, "abcde", 5); /* vendor id forces V */
	dia_enc_avp_raw(&e, 629, DIA_AVP_F_V, 0, NULL, 0);
	dia_enc_avp_u64(&e, 287, M, 0x0102030405060708ull);
	len = dia_enc_finish(&e);
	assert_int_equal(len, 20 + 20 + 12 + 16);
	/* Padding is zero-filled; AVP length excludes it. */
	assert_int_equal(be24(buf + 20 + 5), 17);
	assert_memory_equal(buf + 20 + 17, "\0\0\0", 3);

	msg_from(&m, buf, len);
	assert_int_equal(dia_msg_find(&m, 628, 10415, &a), 1);
	assert_int_equal(a.flags, DIA_AVP_F_V | M);
	assert_int_equal(a.vendor, 10415);
	assert_true(str_is(a.data, "abcde"));
	assert_int_equal(a.raw_len, 17);
	assert_ptr_equal(a.raw, buf + 20);
	assert_int_equal(dia_msg_find(&m, 628, 0, &a), 0);
	assert_int_equal(dia_msg_find(&m, 629, 0, &a), 1);
	assert_int_equal(a.flags, DIA_AVP_F_V);
	assert_int_equal(a.data.len, 0);
	assert_int_equal(dia_msg_find(&m, 287, 0, &a), 1);
	assert_int_equal(dia_avp_u64(&a, &u64), 0);
	assert_true(u64 == 0x0102030405060708ull);
}

static void test_typed_readers(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
	struct sockaddr_storage ss;
	uint8_t buf[256];
	struct dia_avp a;
	struct dia_msg m;
	struct dia_enc e;
	uint32_t u32;
	uint64_t u64;
	int len;

	(void)state;
	inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);
	inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr);
	dia_enc_init(&e, buf, sizeof(buf));
	dia_enc_hdr(&e, DIA_FLAG_R, DIA_CMD_CE, 0, 1, 2);
	dia_enc_avp_addr(&e, DIA_AVP_HOST_IP_ADDRESS, M, (struct sockaddr *)&sin);
	dia_enc_avp_addr(&e, DIA_AVP_HOST_IP_ADDRESS, M, (struct sockaddr *)&sin6);
	dia_enc_avp_raw(&e, DIA_AVP_HOST_IP_ADDRESS, M, 0, "\0\1\2\3\4", 5);
	len = dia_enc_finish(&e);
	assert_int_equal(len, 20 + 16 + 28 + 16);
	msg_from(&m, buf, len);

	struct dia_avp_iter it;

	dia_avp_iter_init(&it, &m);
	assert_int_equal(dia_avp_next(&it, &a), 1);
	assert_int_equal(a.raw_len, 14);
	assert_int_equal(dia_avp_addr(&a, &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_memory_equal(&((struct sockaddr_in *)&ss)->sin_addr, &sin.sin_addr, 4);
	assert_int_equal(dia_avp_u32(&a, &u32), -EBADMSG);
	assert_int_equal(dia_avp_u64(&a, &u64), -EBADMSG);
	assert_int_equal(dia_avp_next(&it, &a), 1);
	assert_int_equal(dia_avp_addr(&a, &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_memory_equal(&((struct sockaddr_in6 *)&ss)->sin6_addr, &sin6.sin6_addr, 16);
	assert_int_equal(dia_avp_next(&it, &a), 1);
	assert_int_equal(dia_avp_addr(&a, &ss), -EBADMSG);
	assert_int_equal(dia_avp_next(&it, &a), 0);
}

static void test_frame(void **state)
{
	static const struct {
		const char *name;
		uint8_t b0, b1, b2, b3; /* version + 24-bit length */
		uint32_t have, max;
		int rc;
	} cases[] = {
	    {"empty", 1, 0, 0, 0, 0, 4096, 0},
	    {"3 bytes", 1, 0, 0, 20, 3, 4096, 0},
	    {"partial header", 1, 0, 0, 20, 10, 4096, 0},
	    {"header only", 1, 0, 0, 20, 20, 4096, 20},
	    {"partial body", 1, 0, 0, 228, 100, 4096, 0},
	    {"full", 1, 0, 0, 228, 228, 4096, 228},
	    {"more than one", 1, 0, 0, 228, 300, 4096, 228},
	    {"len 16", 1, 0, 0, 16, 20, 4096, -EBADMSG},
	    {"len 0", 1, 0, 0, 0, 20, 4096, -EBADMSG},
	    {"len 230", 1, 0, 0, 230, 228, 4096, -EBADMSG},
	    {"len 0x10000 > max", 1, 1, 0, 0, 20, 4096, -EMSGSIZE},
	    {"len == max", 1, 0, 0x10, 0, 4, 4096, 0},
	    {"len 16M", 1, 0xff, 0xff, 0xfc, 4, 0x1000000, 0},
	    {"version 2 framed", 2, 0, 0, 20, 20, 4096, 20},
	};
	uint8_t buf[512] = {0};

	(void)state;
	for (size_t i = 0; i < MR_ARRAY_SIZE(cases); i++) {
		int rc;

		buf[0] = cases[i].b0;
		buf[1] = cases[i].b1;
		buf[2] = cases[i].b2;
		buf[3] = cases[i].b3;
		rc = dia_frame(buf, cases[i].have, cases[i].max);
		if (rc != cases[i].rc)
			fail_msg("row %zu (%s): rc %d, want %d", i, cases[i].name, rc, cases[i].rc);
	}
}

static void test_frame_stream(void **state)
{
	uint8_t stream[2 * MAR_LEN];
	struct dia_msg m;
	size_t off = 0;
	int n, count = 0;

	(void)state;
	memcpy(stream, mar1, MAR_LEN);
	memcpy(stream + MAR_LEN, mar1, MAR_LEN);
	stream[MAR_LEN + 19] = 0x02; /* second e2e differs */
	while ((n = dia_frame(stream + off, sizeof(stream) - off, 4096)) > 0) {
		assert_int_equal(dia_msg_init(&m, stream + off, (uint32_t)n), 0);
		assert_int_equal(m.hdr.e2e, count ? 0x5f3e0002 : 0x5f3e0001);
		off += (size_t)n;
		count++;
	}
	assert_int_equal(n, 0);
	assert_int_equal(count, 2);
	assert_int_equal(off, sizeof(stream));

	/* dia_msg_init() needs the exact framed length. */
	assert_int_equal(dia_msg_init(&m, mar1, MAR_LEN - 4), -EBADMSG);
	assert_int_equal(dia_msg_init(&m, mar1, 19), -EBADMSG);
	assert_null(m.buf);
}

/* ---- validation ---------------------------------------------------------------------- */

enum patch {
	P_NONE,
	P_VERSION2,
	P_E_ON_REQ,
	P_P_CLEAR,
	P_RESERVED_BIT,
	P_AVP_LEN_4,      /* append an AVP whose length field is 4 */
	P_AVP_LEN_PAST,   /* Session-Id length runs past the message */
	P_CHILD_LEN_PAST, /* child of SIP-Auth-Data-Item runs past its group */
	P_ANSWER_E,       /* an answer with E and P: fine */
	P_TRAILING_4,     /* four stray bytes after the last AVP */
};

static const struct vcase {
	const char *name;
	int variant; /* enum mar_variant, or -N: N nested Proxy-Info */
	enum patch patch;
	uint32_t rc;
	uint32_t failed_code; /* 0: no Failed-AVP */
	uint32_t missing;
} vcases[] = {
    {"plain", V_PLAIN, P_NONE, 0, 0, 0},
    {"version 2", V_PLAIN, P_VERSION2, 5011, 0, 0},
    {"E on request", V_PLAIN, P_E_ON_REQ, 3008, 0, 0},
    {"P clear on app request", V_PLAIN, P_P_CLEAR, 3008, 0, 0},
    {"reserved header bit", V_PLAIN, P_RESERVED_BIT, 3008, 0, 0},
    {"answer with E", V_PLAIN, P_ANSWER_E, 0, 0, 0},
    {"AVP length 4", V_PLAIN, P_AVP_LEN_4, 5014, 1, 0},
    {"AVP length past end", V_PLAIN, P_AVP_LEN_PAST, 5014, 263, 0},
    {"trailing bytes", V_PLAIN, P_TRAILING_4, 5014, 0, 0},
    {"Unsigned32 of 3 bytes", V_U32_3, P_NONE, 5014, 277, 0},
    {"grouped child short", V_CHILD_SHORT, P_NONE, 5014, 377, 0},
    {"grouped child length", V_PLAIN, P_CHILD_LEN_PAST, 5014, 377, 0},
    {"nesting 8", -8, P_NONE, 0, 0, 0},
    {"nesting 9", -9, P_NONE, 5014, 284, 0},
    {"unknown M AVP", V_UNKNOWN_M, P_NONE, 5001, 9999, 0},
    {"unknown M AVP in group", V_UNKNOWN_M_CHILD, P_NONE, 5001, 7777, 0},
    {"unknown non-M AVP", V_UNKNOWN_NOM, P_NONE, 0, 0, 0},
    {"unknown vendor M AVP", V_VENDOR_M, P_NONE, 5001, 1, 0},
    {"Session-Id without M", V_NO_M_FLAG, P_NONE, 3009, 263, 0},
    {"V flag with vendor 0", V_V_FLAG_V0, P_NONE, 3009, 296, 0},
    {"Error-Message with M", V_ERRMSG_M, P_NONE, 3009, 281, 0},
    {"missing SIP-Method", V_NO_METHOD, P_NONE, 5005, 0, 393},
    {"missing Auth-Session-State", V_NO_STATE, P_NONE, 5005, 0, 277},
    {"missing SIP-Method, answer", V_NO_METHOD, P_ANSWER_E, 0, 0, 0},
    {"version 2 beats bad AVP", V_U32_3, P_VERSION2, 5011, 0, 0},
    {"5014 beats 3009", V_NO_M_FLAG, P_AVP_LEN_4, 5014, 1, 0},
    {"with Proxy-Info", V_PROXY_INFO, P_NONE, 0, 0, 0},
};

/* Builds row @c into @buf (at least 1024 bytes); returns the message length. */
static uint32_t build_case(const struct vcase *c, uint8_t *buf)
{
	static const uint8_t short_avp[8] = {0, 0, 0, 1, M, 0, 0, 4};
	struct dia_avp item;
	struct dia_msg m;
	uint32_t len;
	int rc;

	rc = c->variant < 0 ? build_nested(buf, 1024, -c->variant)
	                    : build_mar(buf, 1024, (enum mar_variant)c->variant);
	assert_true(rc > 0);
	len = (uint32_t)rc;
	switch (c->patch) {
	case P_NONE:
		break;
	case P_VERSION2:
		buf[0] = 2;
		break;
	case P_E_ON_REQ:
		buf[4] |= DIA_FLAG_E;
		break;
	case P_P_CLEAR:
		buf[4] &= (uint8_t)~DIA_FLAG_P;
		break;
	case P_RESERVED_BIT:
		buf[4] |= 0x01;
		break;
	case P_ANSWER_E:
		buf[4] = DIA_FLAG_P | DIA_FLAG_E;
		break;
	case P_AVP_LEN_4:
		len = append_raw(buf, len, short_avp, sizeof(short_avp));
		break;
	case P_AVP_LEN_PAST:
		set_be24(buf + 20 + 5, 0x1000);
		break;
	case P_CHILD_LEN_PAST:
		msg_from(&m, buf, (int)len);
		assert_int_equal(dia_msg_find(&m, DIA_AVP_SIP_AUTH_DATA_ITEM, 0, &item), 1);
		set_be24(buf + (item.data.p - (const char *)buf) + 5, 16);
		break;
	case P_TRAILING_4:
		len = append_raw(buf, len, "\0\0\0\0", 4);
		break;
	}
	return len;
}

static void test_validate_table(void **state)
{
	uint8_t buf[1024];

	(void)state;
	for (size_t i = 0; i < MR_ARRAY_SIZE(vcases); i++) {
		const struct vcase *c = &vcases[i];
		struct dia_error err;
		struct dia_msg m;
		uint32_t len = build_case(c, buf);
		uint8_t *copy = malloc(len);

		assert_non_null(copy);
		memcpy(copy, buf, len);
		assert_int_equal(dia_frame(copy, len, 4096), (int)len);
		msg_from(&m, copy, (int)len);
		assert_int_equal(dia_msg_validate(&m, &err), 0);
		if (err.rc != c->rc)
			fail_msg("row %zu (%s): rc %u, want %u", i, c->name, err.rc, c->rc);
		if ((c->failed_code != 0) != (err.failed.raw_len > 0) ||
		    (c->failed_code && err.failed.code != c->failed_code))
			fail_msg("row %zu (%s): failed code %u (raw_len %u), want %u", i, c->name,
			         err.failed.code, err.failed.raw_len, c->failed_code);
		if (err.missing_code != c->missing)
			fail_msg("row %zu (%s): missing %u, want %u", i, c->name, err.missing_code,
			         c->missing);
		if (c->rc && !err.what)
			fail_msg("row %zu (%s): no text", i, c->name);
		free(copy);
	}
}

static void test_validate_args(void **state)
{
	struct dia_error err;
	struct dia_msg m = {0};

	(void)state;
	assert_int_equal(dia_msg_validate(&m, &err), -EINVAL);
	assert_int_equal(dia_msg_validate(NULL, &err), -EINVAL);
	msg_from(&m, mar1, MAR_LEN);
	assert_int_equal(dia_msg_validate(&m, NULL), -EINVAL);
}

static void test_validate_cer(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = {htonl(0xc0000201)}};
	static const struct {
		const char *name;
		int what; /* 0 ok, 1 no Product-Name, 2 short address, 3 Product-Name with M */
		uint32_t rc;
	} cases[] = {
	    {"ok", 0, 0},
	    {"no Product-Name", 1, 5005},
	    {"short Host-IP-Address", 2, 5014},
	    {"Product-Name with M", 3, 3009},
	};
	uint8_t buf[512];

	(void)state;
	for (size_t i = 0; i < MR_ARRAY_SIZE(cases); i++) {
		struct dia_error err;
		struct dia_msg m;
		struct dia_enc e;
		int len;

		dia_enc_init(&e, buf, sizeof(buf));
		dia_enc_hdr(&e, DIA_FLAG_R, DIA_CMD_CE, 0, 1, 2);
		dia_enc_avp_str(&e, DIA_AVP_ORIGIN_HOST, M, MR_STR_LIT("p.example.net"));
		dia_enc_avp_str(&e, DIA_AVP_ORIGIN_REALM, M, MR_STR_LIT("example.net"));
		if (cases[i].what == 2)
			dia_enc_avp_raw(&e, DIA_AVP_HOST_IP_ADDRESS, M, 0, "\0\1\2\3\4", 5);
		else
			dia_enc_avp_addr(&e, DIA_AVP_HOST_IP_ADDRESS, M, (struct sockaddr *)&sin);
		dia_enc_avp_u32(&e, DIA_AVP_VENDOR_ID, M, 0);
		if (cases[i].what != 1)
			dia_enc_avp_str(&e, DIA_AVP_PRODUCT_NAME, cases[i].what == 3 ? M : 0,
			                MR_STR_LIT("mara"));
		dia_enc_avp_u32(&e, DIA_AVP_AUTH_APPLICATION_ID, M, DIA_APP_SIP);
		len = dia_enc_finish(&e);
		msg_from(&m, buf, len);
		assert_int_equal(dia_msg_validate(&m, &err), 0);
		if (err.rc != cases[i].rc)
			fail_msg("row %zu (%s): rc %u, want %u", i, cases[i].name, err.rc,
			         cases[i].rc);
		if (cases[i].what == 1)
			assert_int_equal(err.missing_code, DIA_AVP_PRODUCT_NAME);
	}
}

/* ---- answers ------------------------------------------------------------------------- */

static void check_error_answer(const struct vcase *c, const struct dia_msg *req,
                               const struct dia_error *err)
{
	uint8_t out[1024];
	struct dia_avp a, fa, sid, child = {0}; /* read by asserts the compiler cannot follow */
	struct dia_avp_iter it;
	struct dia_error aerr;
	struct dia_msg ans;
	struct dia_enc e;
	int len;

	dia_enc_init(&e, out, sizeof(out));
	len = dia_enc_error_answer(&e, req, &ident, err);
	if (len <= 0)
		fail_msg("%s: answer rc %d", c->name, len);
	msg_from(&ans, out, len);
	assert_int_equal(ans.hdr.version, 1);
	assert_int_equal(ans.hdr.code, req->hdr.code);
	assert_int_equal(ans.hdr.app_id, req->hdr.app_id);
	assert_int_equal(ans.hdr.hbh, req->hdr.hbh);
	assert_int_equal(ans.hdr.e2e, req->hdr.e2e);
	assert_int_equal(ans.hdr.flags & DIA_FLAG_R, 0);
	assert_int_equal(ans.hdr.flags & DIA_FLAG_P, req->hdr.flags & DIA_FLAG_P);
	if (!!(ans.hdr.flags & DIA_FLAG_E) != (err->rc >= 3000 && err->rc < 4000))
		fail_msg("%s: flags 0x%02x for %u", c->name, ans.hdr.flags, err->rc);

	assert_int_equal(dia_msg_find(&ans, DIA_AVP_RESULT_CODE, 0, &a), 1);
	assert_int_equal(avp_u32(&a), err->rc);
	assert_int_equal(dia_msg_find(&ans, DIA_AVP_ORIGIN_HOST, 0, &a), 1);
	assert_true(mr_str_eq(a.data, ident.host));
	assert_int_equal(dia_msg_find(&ans, DIA_AVP_ORIGIN_REALM, 0, &a), 1);
	assert_true(mr_str_eq(a.data, ident.realm));
	assert_int_equal(dia_msg_find(&ans, DIA_AVP_ORIGIN_STATE_ID, 0, &a), 1);
	assert_int_equal(avp_u32(&a), ident.state_id);
	assert_int_equal(dia_msg_find(&ans, DIA_AVP_ERROR_MESSAGE, 0, &a), 1);
	assert_true(str_is(a.data, err->what));
	assert_int_equal(a.flags, 0);
	/* Session-Id first, same value, when the request had a readable one. */
	if (dia_msg_find(req, DIA_AVP_SESSION_ID, 0, &sid) > 0) {
		dia_avp_iter_init(&it, &ans);
		assert_int_equal(dia_avp_next(&it, &a), 1);
		assert_int_equal(a.code, DIA_AVP_SESSION_ID);
		assert_int_equal(a.flags, M);
		assert_true(mr_str_eq(a.data, sid.data));
	}

	if (err->rc == DIA_RC_MISSING_AVP) {
		const struct dia_avp_def *def = dia_dict_avp(err->missing_code, 0);

		assert_int_equal(dia_msg_find(&ans, DIA_AVP_FAILED_AVP, 0, &fa), 1);
		dia_avp_iter_init_group(&it, &fa);
		assert_int_equal(dia_avp_next(&it, &child), 1);
		assert_int_equal(child.code, err->missing_code);
		assert_int_equal(child.flags, M);
		assert_int_equal(child.data.len, dia_type_size(def->type));
		for (uint32_t i = 0; i < child.data.len; i++)
			assert_int_equal(child.data.p[i], 0);
		assert_int_equal(dia_avp_next(&it, &child), 0);
	} else if (err->failed.raw_len > 0) {
		assert_int_equal(dia_msg_find(&ans, DIA_AVP_FAILED_AVP, 0, &fa), 1);
		assert_int_equal(fa.flags, M);
		dia_avp_iter_init_group(&it, &fa);
		assert_int_equal(dia_avp_next(&it, &child), 1);
		assert_int_equal(child.code, err->failed.code);
		assert_int_equal(child.vendor, err->failed.vendor);
		if (be24(err->failed.raw + 5) != err->failed.raw_len) {
			/* Unusable length or too deep: header with a zero payload of the minimum
			 * size of its type (RFC 6733 §7.1.5). */
			assert_int_equal(child.flags, err->failed.flags);
			assert_int_equal(child.data.len, err->failed.data.len);
			assert_int_equal(child.raw_len, 8 + child.data.len);
		} else {
			assert_int_equal(child.raw_len, err->failed.raw_len);
			assert_memory_equal(child.raw, err->failed.raw, child.raw_len);
		}
		assert_int_equal(dia_avp_next(&it, &child), 0);
	} else {
		assert_int_equal(dia_msg_find(&ans, DIA_AVP_FAILED_AVP, 0, &fa), 0);
	}

	/* Proxy-Info echoed verbatim. */
	if (dia_msg_find(req, DIA_AVP_PROXY_INFO, 0, &sid) > 0 && c->variant >= 0) {
		assert_int_equal(dia_msg_find(&ans, DIA_AVP_PROXY_INFO, 0, &a), 1);
		assert_int_equal(a.raw_len, sid.raw_len);
		assert_memory_equal(a.raw, sid.raw, sid.raw_len);
	}

	/* The answer itself is valid, unless it had to echo an over-deep Proxy-Info. */
	if (c->variant < 0)
		return;
	assert_int_equal(dia_msg_validate(&ans, &aerr), 0);
	if (aerr.rc)
		fail_msg("%s: answer invalid: %u (%s)", c->name, aerr.rc, aerr.what);
}

static void test_error_answers(void **state)
{
	uint8_t buf[1024];
	int answered = 0;

	(void)state;
	for (size_t i = 0; i < MR_ARRAY_SIZE(vcases); i++) {
		const struct vcase *c = &vcases[i];
		struct dia_error err;
		struct dia_msg m;
		uint32_t len = build_case(c, buf);

		msg_from(&m, buf, (int)len);
		assert_int_equal(dia_msg_validate(&m, &err), 0);
		if (!err.rc)
			continue;
		check_error_answer(c, &m, &err);
		answered++;
	}
	assert_true(answered >= 15);
}

static void test_error_answer_proxy_info(void **state)
{
	uint8_t buf[1024];
	struct dia_error err = {.rc = DIA_RC_UNABLE_TO_COMPLY, .what = "no"};
	const struct vcase c = {"proxy-info echo", V_PROXY_INFO, P_NONE, 0, 0, 0};
	struct dia_msg m;
	int len;

	(void)state;
	len = build_mar(buf, sizeof(buf), V_PROXY_INFO);
	msg_from(&m, buf, len);
	check_error_answer(&c, &m, &err);
}

static void test_answer_hdr(void **state)
{
	uint8_t out[512];
	char text[1024];
	struct dia_msg req, ans;
	struct dia_avp a;
	struct dia_enc e;
	int len;

	(void)state;
	msg_from(&req, mar1, MAR_LEN);
	dia_enc_init(&e, out, sizeof(out));
	dia_enc_answer_hdr(&e, &req, &ident, DIA_RC_SUCCESS);
	dia_enc_avp_u32(&e, DIA_AVP_AUTH_APPLICATION_ID, M, DIA_APP_SIP);
	len = dia_enc_finish(&e);
	assert_true(len > 0);
	msg_from(&ans, out, len);
	assert_int_equal(ans.hdr.flags, DIA_FLAG_P);
	assert_int_equal(ans.hdr.hbh, 0x2a000001);
	assert_int_equal(dia_msg_find(&ans, DIA_AVP_SESSION_ID, 0, &a), 1);
	assert_true(str_is(a.data, SID));
	assert_int_equal(dia_msg_find(&ans, DIA_AVP_RESULT_CODE, 0, &a), 1);
	assert_int_equal(avp_u32(&a), 2001);

	assert_true(dia_msg_dump(&ans, text, sizeof(text)) > 0);
	assert_non_null(strstr(text, "Multimedia-Auth-Answer(286) app=6 flags=P hbh=0x2a000001"));
	assert_non_null(strstr(text, "\n  Result-Code(268) M 2001 (DIAMETER_SUCCESS)\n"));

	/* 3xxx: E set. */
	dia_enc_init(&e, out, sizeof(out));
	dia_enc_answer_hdr(&e, &req, &ident, DIA_RC_UNABLE_TO_DELIVER);
	len = dia_enc_finish(&e);
	msg_from(&ans, out, len);
	assert_int_equal(ans.hdr.flags, DIA_FLAG_P | DIA_FLAG_E);
}

/* ---- dictionary ---------------------------------------------------------------------- */

static void test_dict(void **state)
{
	const struct dia_avp_def *d;
	const struct dia_cmd_def *c;
	int found = 0;
	bool has393 = false;

	(void)state;
	d = dia_dict_avp(DIA_AVP_SESSION_ID, 0);
	assert_non_null(d);
	assert_string_equal(d->name, "Session-Id");
	assert_int_equal(d->type, DIA_T_UTF8);
	assert_int_equal(d->must, M);
	assert_int_equal(d->must_not, DIA_AVP_F_V);
	d = dia_dict_avp(DIA_AVP_PRODUCT_NAME, 0);
	assert_int_equal(d->must, 0);
	assert_int_equal(d->must_not, M | DIA_AVP_F_V);
	assert_string_equal(dia_dict_avp(DIA_AVP_SIP_AOR, 0)->name, "SIP-AOR");
	assert_string_equal(dia_dict_avp(DIA_AVP_DIGEST_HA1, 0)->name, "Digest-HA1");
	assert_int_equal(dia_dict_avp(DIA_AVP_HOST_IP_ADDRESS, 0)->type, DIA_T_ADDRESS);
	assert_int_equal(dia_dict_avp(DIA_AVP_SIP_AUTH_DATA_ITEM, 0)->type, DIA_T_GROUPED);
	assert_int_equal(dia_dict_avp(300, 0)->type, DIA_T_GROUPED);
	assert_int_equal(dia_dict_avp(DIA_AVP_ERROR_REPORTING_HOST, 0)->must, 0);
	assert_null(dia_dict_avp(9999, 0));
	assert_null(dia_dict_avp(DIA_AVP_SESSION_ID, 10415));
	assert_null(dia_dict_avp(0, 0));

	/* Every entry is reachable through the code index and names itself; nothing else is
	 * (the whole 16-bit range, and no vendor-specific AVP: the dictionary has none). */
	for (uint32_t code = 0; code < 65536; code++) {
		assert_null(dia_dict_avp(code, 10415));
		assert_null(dia_dict_avp(code, 1));
		d = dia_dict_avp(code, 0);
		if (!d)
			continue;
		assert_int_equal(d->code, code);
		assert_int_equal(d->vendor, 0);
		assert_true(d->must_not & DIA_AVP_F_V);
		found++;
	}
	assert_int_equal(found, 96); /* rows in avp_defs[] */
	for (uint32_t code = 103; code <= 122; code++)
		assert_non_null(dia_dict_avp(code, 0));
	for (uint32_t code = 368; code <= 393; code++)
		assert_non_null(dia_dict_avp(code, 0));

	c = dia_dict_cmd(DIA_CMD_MA, DIA_APP_SIP);
	assert_non_null(c);
	assert_string_equal(c->req_name, "Multimedia-Auth-Request");
	assert_string_equal(c->ans_name, "Multimedia-Auth-Answer");
	for (const uint32_t *p = c->req_required; *p; p++)
		has393 |= *p == DIA_AVP_SIP_METHOD;
	assert_true(has393);
	assert_null(dia_dict_cmd(DIA_CMD_MA, 0));
	assert_non_null(dia_dict_cmd(DIA_CMD_MA, DIA_APP_RELAY));
	assert_string_equal(dia_dict_cmd(DIA_CMD_DW, DIA_APP_SIP)->req_name,
	                    "Device-Watchdog-Request");
	assert_string_equal(dia_dict_cmd(DIA_CMD_CE, 0)->ans_name, "Capabilities-Exchange-Answer");
	assert_string_equal(dia_dict_cmd(DIA_CMD_PP, DIA_APP_SIP)->req_name,
	                    "Push-Profile-Request");
	assert_null(dia_dict_cmd(303, 16777216));
	for (uint32_t code = 0; code < 1024; code++) {
		c = dia_dict_cmd(code, DIA_APP_RELAY);
		if (c)
			assert_int_equal(c->code, code);
	}

	assert_string_equal(dia_dict_result_name(2001), "DIAMETER_SUCCESS");
	assert_string_equal(dia_dict_result_name(1001), "DIAMETER_MULTI_ROUND_AUTH");
	assert_string_equal(dia_dict_result_name(4003), "ELECTION_LOST");
	assert_string_equal(dia_dict_result_name(5037), "DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED");
	assert_string_equal(dia_dict_result_name(5040), "DIAMETER_ERROR_NOT_SUPPORTED_USER_DATA");
	assert_null(dia_dict_result_name(2000));
	assert_null(dia_dict_result_name(0));

	assert_string_equal(dia_dict_enum_name(377, 0, 0), "DIGEST");
	assert_null(dia_dict_enum_name(377, 0, 1));
	assert_string_equal(dia_dict_enum_name(277, 0, 1), "NO_STATE_MAINTAINED");
	assert_string_equal(dia_dict_enum_name(273, 0, 2), "DO_NOT_WANT_TO_TALK_TO_YOU");
	assert_string_equal(dia_dict_enum_name(299, 0, 1), "TLS");
	assert_string_equal(dia_dict_enum_name(261, 0, 6), "ALL_USER");
	assert_string_equal(dia_dict_enum_name(268, 0, 5012), "DIAMETER_UNABLE_TO_COMPLY");
	assert_null(dia_dict_enum_name(277, 10415, 1));
	assert_null(dia_dict_enum_name(263, 0, 0));

	assert_int_equal(dia_type_size(DIA_T_U32), 4);
	assert_int_equal(dia_type_size(DIA_T_ENUM), 4);
	assert_int_equal(dia_type_size(DIA_T_TIME), 4);
	assert_int_equal(dia_type_size(DIA_T_U64), 8);
	assert_int_equal(dia_type_size(DIA_T_F64), 8);
	assert_int_equal(dia_type_size(DIA_T_UTF8), 0);
	assert_int_equal(dia_type_size(DIA_T_GROUPED), 0);
	assert_int_equal(dia_type_size(DIA_T_ADDRESS), 0);
}

/* ---- dump ---------------------------------------------------------------------------- */

static void test_dump_mar(void **state)
{
	char text[2048];
	struct dia_msg m;
	int n;

	(void)state;
	msg_from(&m, mar1, MAR_LEN);
	n = dia_msg_dump(&m, text, sizeof(text));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(text));
	assert_string_equal(
	    text, "Multimedia-Auth-Request(286) app=6 flags=RP hbh=0x2a000001 e2e=0x5f3e0001 "
	          "len=228\n"
	          "  Session-Id(263) M \"proxy1.example.net;1700000000;1\"\n"
	          "  Auth-Application-Id(258) M 6\n"
	          "  Auth-Session-State(277) M 1 (NO_STATE_MAINTAINED)\n"
	          "  Origin-Host(264) M \"proxy1.example.net\"\n"
	          "  Origin-Realm(296) M \"example.net\"\n"
	          "  Destination-Realm(283) M \"example.net\"\n"
	          "  SIP-AOR(122) M \"sip:bob@example.com\"\n"
	          "  SIP-Method(393) M \"INVITE\"\n"
	          "  SIP-Number-Auth-Items(382) M 1\n"
	          "  SIP-Auth-Data-Item(376) M\n"
	          "    SIP-Authentication-Scheme(377) M 0 (DIGEST)\n");
	assert_non_null(strstr(text, "Multimedia-Auth-Request(286)"));
	assert_non_null(strstr(text, "SIP-Auth-Data-Item(376)"));
	assert_non_null(strstr(text, "SIP-Authentication-Scheme(377) M 0 (DIGEST)"));

	/* Truncation at every size: -ENOBUFS, NUL-terminated, marked, within cap. */
	for (size_t cap = 0; cap < (size_t)n + 1; cap++) {
		char *small = malloc(cap ? cap : 1);
		int rc;

		assert_non_null(small);
		rc = dia_msg_dump(&m, cap ? small : NULL, cap);
		if (rc != -ENOBUFS)
			fail_msg("cap %zu: rc %d", cap, rc);
		if (cap) {
			size_t l = strlen(small);

			assert_true(l < cap);
			if (cap >= 5 && (l < 4 || strcmp(small + l - 4, "...\n") != 0))
				fail_msg("cap %zu: not marked: %s", cap, small);
			if (l > 4 && strncmp(small, text, l - 4) != 0)
				fail_msg("cap %zu: prefix differs", cap);
		}
		free(small);
	}
	assert_int_equal(dia_msg_dump(&m, text, (size_t)n + 1), n);
}

static void test_dump_kinds(void **state)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
	uint8_t buf[512];
	char text[2048];
	struct dia_msg m;
	struct dia_enc e;
	int len;

	(void)state;
	inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr);
	dia_enc_init(&e, buf, sizeof(buf));
	dia_enc_hdr(&e, 0, 4242, 77, 1, 2);
	dia_enc_avp_str(&e, DIA_AVP_ERROR_MESSAGE, 0, MR_STR_LIT("a\"b\\c\x01\xff"));
	dia_enc_avp_addr(&e, DIA_AVP_HOST_IP_ADDRESS, M, (struct sockaddr *)&sin6);
	dia_enc_avp_raw(&e, DIA_AVP_HOST_IP_ADDRESS, M, 0, "\0\x08\x12\x34", 4);
	dia_enc_avp_raw(&e, DIA_AVP_HOST_IP_ADDRESS, M, 0, "\0\x01\x12", 3);
	dia_enc_avp_raw(&e, DIA_AVP_RESULT_CODE, M, 0, "\0\0\x07", 3);
	dia_enc_avp_raw(&e, 4444, DIA_AVP_F_P, 10415, "\xde\xad", 2);
	dia_enc_avp_u64(&e, 287, M, 42);
	dia_enc_avp_u32(&e, 55, M, 3900000000u);
	dia_enc_avp_u32(&e, DIA_AVP_DISCONNECT_CAUSE, M, 7);
	len = dia_enc_finish(&e);
	msg_from(&m, buf, len);
	assert_true(dia_msg_dump(&m, text, sizeof(text)) > 0);
	assert_non_null(strstr(text, "Command(4242) app=77 flags=- hbh=0x00000001"));
	assert_non_null(strstr(text, "  Error-Message(281) \"a\\\"b\\\\c\\x01\\xff\"\n"));
	assert_non_null(strstr(text, "  Host-IP-Address(257) M 2001:db8::1\n"));
	assert_non_null(strstr(text, "  Host-IP-Address(257) M family=8 0x1234\n"));
	assert_non_null(strstr(text, "  Host-IP-Address(257) M <malformed>\n"));
	assert_non_null(strstr(text, "  Result-Code(268) M <malformed>\n"));
	assert_non_null(strstr(text, "  AVP(4444/10415) VP 0xdead\n"));
	assert_non_null(strstr(text, "  Accounting-Sub-Session-Id(287) M 42\n"));
	assert_non_null(strstr(text, "  Event-Timestamp(55) M 3900000000\n"));
	assert_non_null(strstr(text, "  Disconnect-Cause(273) M 7\n"));

	/* Broken AVP framing and deep nesting print, not crash. */
	set_be24(buf + 20 + 5, 0x400);
	msg_from(&m, buf, len);
	assert_true(dia_msg_dump(&m, text, sizeof(text)) > 0);
	assert_non_null(strstr(text, "  <malformed AVP>\n"));
	len = build_nested(buf, sizeof(buf), 9);
	msg_from(&m, buf, len);
	assert_true(dia_msg_dump(&m, text, sizeof(text)) > 0);
	assert_non_null(strstr(text, "Proxy-Info(284) M <nested too deep>\n"));
}

/* ---- robustness ---------------------------------------------------------------------- */

static uint32_t xorshift32(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

static void test_random_flips(void **state)
{
	uint32_t seed = 0x6d617261; /* "mara" */
	uint8_t base[1024], out[2048];
	char text[4096];
	uint32_t base_len;
	int frames = 0, valid = 0;

	(void)state;
	for (int iter = 0; iter < 20000; iter++) {
		const struct vcase *c = &vcases[xorshift32(&seed) % MR_ARRAY_SIZE(vcases)];
		uint32_t len, flips = 1 + xorshift32(&seed) % 6;
		struct dia_error err;
		struct dia_msg m;
		struct dia_enc e;
		uint8_t *copy;
		int n;

		base_len = build_case(c, base);
		len = base_len;
		if (xorshift32(&seed) % 8 == 0)
			len = xorshift32(&seed) % (base_len + 1);
		copy = malloc(len ? len : 1);
		assert_non_null(copy);
		memcpy(copy, base, len);
		for (uint32_t f = 0; f < flips && len; f++) {
			uint32_t pos = xorshift32(&seed) % len;

			/* Bias towards the header and AVP length bytes. */
			if (xorshift32(&seed) % 2)
				copy[pos] ^= (uint8_t)(1u << (xorshift32(&seed) % 8));
			else
				copy[pos] = (uint8_t)xorshift32(&seed);
		}
		if (len >= 4 && xorshift32(&seed) % 4 == 0)
			set_be24(copy + 1, len); /* keep framing so the body gets exercised */

		n = dia_frame(copy, len, 4096);
		if (n > 0) {
			frames++;
			assert_true((uint32_t)n <= len);
			assert_int_equal(dia_msg_init(&m, copy, (uint32_t)n), 0);
			assert_int_equal(dia_msg_validate(&m, &err), 0);
			if (err.rc == 0)
				valid++;
			n = dia_msg_dump(&m, text, xorshift32(&seed) % 2 ? sizeof(text) : 200);
			assert_true(n > 0 || n == -ENOBUFS);
			dia_enc_init(&e, out, (uint32_t)(xorshift32(&seed) % sizeof(out)));
			if (!err.rc)
				err.rc = DIA_RC_UNABLE_TO_COMPLY;
			n = dia_enc_error_answer(&e, &m, &ident, &err);
			assert_true(n > 0 || n == -ENOBUFS);
		}
		free(copy);
	}
	print_message("random flips: %d framed, %d valid of 20000\n", frames, valid);
	assert_true(frames > 1000);
}

/* A configured nesting limit below DIA_MAX_NEST: 5014 with too_deep, the default still takes it. */
static void test_validate_nest_limit(void **state)
{
	uint8_t buf[1024];
	struct dia_error err;
	struct dia_msg m;
	int len = build_nested(buf, sizeof(buf), 3);

	(void)state;
	msg_from(&m, buf, len);
	assert_int_equal(dia_msg_validate_nest(&m, 3, &err), 0);
	assert_int_equal(err.rc, 0);
	assert_false(err.too_deep);
	assert_int_equal(dia_msg_validate_nest(&m, 2, &err), 0);
	assert_int_equal(err.rc, DIA_RC_INVALID_AVP_LENGTH);
	assert_true(err.too_deep);
	assert_int_equal(dia_msg_validate(&m, &err), 0);
	assert_int_equal(err.rc, 0);
	len = build_nested(buf, sizeof(buf), DIA_MAX_NEST + 1);
	msg_from(&m, buf, len);
	assert_int_equal(dia_msg_validate_nest(&m, 0, &err), 0); /* 0: DIA_MAX_NEST */
	assert_true(err.too_deep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_validate_nest_limit),
	    cmocka_unit_test(test_mar_encode),
	    cmocka_unit_test(test_enc_overflow),
	    cmocka_unit_test(test_enc_misuse),
	    cmocka_unit_test(test_mar_decode),
	    cmocka_unit_test(test_group_roundtrip),
	    cmocka_unit_test(test_vendor_roundtrip),
	    cmocka_unit_test(test_typed_readers),
	    cmocka_unit_test(test_frame),
	    cmocka_unit_test(test_frame_stream),
	    cmocka_unit_test(test_validate_table),
	    cmocka_unit_test(test_validate_args),
	    cmocka_unit_test(test_validate_cer),
	    cmocka_unit_test(test_error_answers),
	    cmocka_unit_test(test_error_answer_proxy_info),
	    cmocka_unit_test(test_answer_hdr),
	    cmocka_unit_test(test_dict),
	    cmocka_unit_test(test_dump_mar),
	    cmocka_unit_test(test_dump_kinds),
	    cmocka_unit_test(test_random_flips),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

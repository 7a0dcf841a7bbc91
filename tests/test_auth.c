/* SPDX-License-Identifier: MIT
 * test_auth.c - unit tests for src/auth: digest vectors, credentials parser, nonces, replay
 * table (pressure and threads), htdigest user store.
 * Owns: temp files under a mkdtemp() directory, removed by each test.
 * Thread: the replay tests start pthreads; everything else runs on the cmocka thread. */
#include "auth.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define S(x) mr_str_c(x)

static const char *const sip_nonce = "6564a7b1.00000001.9c2b7e1d4f3a8b60";

static void assert_str_eq(struct mr_str got, const char *want)
{
	if (!mr_str_eq(got, S(want)))
		fail_msg("got '%.*s' want '%s'", (int)got.len, got.p ? got.p : "", want);
}

/* ---- algorithms ---------------------------------------------------------------------------- */

static void test_alg_table(void **state)
{
	static const struct {
		const char *tok;
		int alg;
		const char *name;
		unsigned hexlen;
		bool sess;
	} cases[] = {
	    {"", AUTH_ALG_MD5, "MD5", 32, false},
	    {"md5", AUTH_ALG_MD5, "MD5", 32, false},
	    {"MD5-SESS", AUTH_ALG_MD5_SESS, "MD5-sess", 32, true},
	    {"SHA-256", AUTH_ALG_SHA256, "SHA-256", 64, false},
	    {"sha-256-sess", AUTH_ALG_SHA256_SESS, "SHA-256-sess", 64, true},
	    {"SHA-512-256", AUTH_ALG_SHA512_256, "SHA-512-256", 64, false},
	    {"Sha-512-256-Sess", AUTH_ALG_SHA512_256_SESS, "SHA-512-256-sess", 64, true},
	    {"SHA-512", -EINVAL, NULL, 0, false},
	    {"SHA256", -EINVAL, NULL, 0, false},
	    {"MD5 ", -EINVAL, NULL, 0, false},
	};

	(void)state;
	for (size_t i = 0; i < MR_ARRAY_SIZE(cases); i++) {
		int a = auth_alg_parse(S(cases[i].tok));

		if (a != cases[i].alg)
			fail_msg("row %zu: parse %d want %d", i, a, cases[i].alg);
		if (a < 0)
			continue;
		assert_string_equal(auth_alg_name((enum auth_alg)a), cases[i].name);
		assert_int_equal(auth_alg_hexlen((enum auth_alg)a), cases[i].hexlen);
		assert_int_equal(auth_alg_is_sess((enum auth_alg)a), cases[i].sess);
		assert_false(auth_alg_is_sess(auth_alg_base((enum auth_alg)a)));
		assert_int_equal(auth_alg_hexlen(auth_alg_base((enum auth_alg)a)), cases[i].hexlen);
	}
}

static void test_ct_eq(void **state)
{
	(void)state;
	assert_true(auth_ct_eq("abcdef", 6, "abcdef", 6));
	assert_false(auth_ct_eq("abcdef", 6, "abcdeg", 6));
	assert_false(auth_ct_eq("Abcdef", 6, "abcdef", 6));
	assert_false(auth_ct_eq("abcdef", 6, "abcde", 5));
	assert_true(auth_ct_eq("", 0, "", 0));
}

static void test_hash_ha1(void **state)
{
	struct auth_hash h;
	char out[AUTH_HEX_MAX + 1];
	struct mr_str parts[] = {S("a"), S("b"), S("c")};

	(void)state;
	assert_int_equal(auth_hash_init(&h), 0);
	/* RFC 2617 §3.5 HA1 */
	assert_int_equal(auth_digest_ha1(&h, AUTH_ALG_MD5, S("Mufasa"), S("testrealm@host.com"),
	                                 S("Circle Of Life"), out),
	                 32);
	assert_string_equal(out, "939e7578ed9e3c518a452acee763bce9");
	/* sha512_256("alice:example.net:secret"), from python3 hashlib.new('sha512_256') and
	 * cross-checked with `openssl dgst -sha512-256`. */
	assert_int_equal(auth_digest_ha1(&h, AUTH_ALG_SHA512_256_SESS, S("alice"), S("example.net"),
	                                 S("secret"), out),
	                 64);
	assert_string_equal(out,
	                    "74466f767af8885608d6776cc9f100b553e8591048bdb741be3627ec8bde5576");
	/* parts are concatenated: sha256("abc") (FIPS 180-2 example) */
	assert_int_equal(auth_hash_hex(&h, AUTH_ALG_SHA256, parts, 3, out), 64);
	assert_string_equal(out,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(auth_hash_hex(&h, AUTH_ALG_MD5, NULL, 0, out), 32);
	assert_string_equal(out, "d41d8cd98f00b204e9800998ecf8427e");
	auth_hash_fini(&h);
	auth_hash_fini(&h); /* idempotent */
}

/* ---- digest responses ----------------------------------------------------------------------- */

/* Expected values not printed in an RFC were computed independently with python3 hashlib
 * (hashlib.new('md5'|'sha256'|'sha512_256')) following the RFC 2617 / RFC 7616 formulas, e.g.
 * H = lambda s: hashlib.new('sha512_256', s.encode()).hexdigest(); ha1 = H('alice:example.net:
 * secret'); ha2 = H('INVITE:sip:bob@example.com'); H(f'{ha1}:{nonce}:00000001:0a4f113b:auth:
 * {ha2}'). */
static const struct resp_case {
	const char *what, *alg, *user, *realm, *pass, *method, *uri, *nonce, *nc, *cnonce, *qop;
	const char *body; /* entity body for auth-int (hashed with the algorithm), or NULL */
	bool rspauth;
	const char *expect;
} resp_cases[] = {
    {"RFC 2617 3.5", "", "Mufasa", "testrealm@host.com", "Circle Of Life", "GET", "/dir/index.html",
     "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b", "auth", NULL, false,
     "6629fae49393a05397450978507c4ef1"},
    {"RFC 7616 3.9.1 MD5", "MD5", "Mufasa", "http-auth@example.org", "Circle of Life", "GET",
     "/dir/index.html", "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001",
     "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "auth", NULL, false,
     "8ca523f5e9506fed4657c9700eebdbec"},
    {"RFC 7616 3.9.1 SHA-256", "SHA-256", "Mufasa", "http-auth@example.org", "Circle of Life",
     "GET", "/dir/index.html", "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001",
     "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "auth", NULL, false,
     "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
    {"RFC 7616 inputs, SHA-512-256 (hashlib)", "SHA-512-256", "Mufasa", "http-auth@example.org",
     "Circle of Life", "GET", "/dir/index.html", "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
     "00000001", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "auth", NULL, false,
     "430d05014cecc49cab6fbe03176d41a1da86cbfe24a16580e22aaad928d960d0"},
    {"SIP example", "MD5", "alice", "example.net", "secret", "INVITE", "sip:bob@example.com",
     "6564a7b1.00000001.9c2b7e1d4f3a8b60", "00000001", "0a4f113b", "auth", NULL, false,
     "180049571710d3c614afbdfe52def1a4"},
    {"SIP SHA-512-256 (hashlib)", "SHA-512-256", "alice", "example.net", "secret", "INVITE",
     "sip:bob@example.com", "6564a7b1.00000001.9c2b7e1d4f3a8b60", "00000001", "0a4f113b", "auth",
     NULL, false, "62b667c4d9dfdb43a3de6fd2f7367dca7e6c27bc03af9dd65bb5de3824beeed5"},
    {"SIP MD5-sess (hashlib)", "MD5-sess", "alice", "example.net", "secret", "INVITE",
     "sip:bob@example.com", "6564a7b1.00000001.9c2b7e1d4f3a8b60", "00000001", "0a4f113b", "auth",
     NULL, false, "74305ca69a0585be73751e1aa01e2440"},
    {"SIP SHA-256-sess (hashlib)", "sha-256-sess", "alice", "example.net", "secret", "INVITE",
     "sip:bob@example.com", "6564a7b1.00000001.9c2b7e1d4f3a8b60", "00000001", "0a4f113b", "auth",
     NULL, false, "7abb1314916f93c9331da60852d5209fce253fa38e540e931972b8fa27d6a6a7"},
    {"SIP RFC 2069 no qop (hashlib)", "", "alice", "example.net", "secret", "INVITE",
     "sip:bob@example.com", "6564a7b1.00000001.9c2b7e1d4f3a8b60", "", "", "", NULL, false,
     "319c9779967b821731a57feb199ad3ee"},
    {"SIP auth-int empty body (hashlib)", "MD5", "alice", "example.net", "secret", "INVITE",
     "sip:bob@example.com", "6564a7b1.00000001.9c2b7e1d4f3a8b60", "00000001", "0a4f113b",
     "auth-int", "", false, "499de7f2e39f617c6643582fd22ab83c"},
    {"SIP auth-int body (hashlib)", "MD5", "alice", "example.net", "secret", "INVITE",
     "sip:bob@example.com", "6564a7b1.00000001.9c2b7e1d4f3a8b60", "00000001", "0a4f113b",
     "auth-int", "v=0\r\n", false, "be57b52f6c5f06740ad6f5d625478473"},
    {"SIP rspauth MD5 (hashlib)", "MD5", "alice", "example.net", "secret", "INVITE",
     "sip:bob@example.com", "6564a7b1.00000001.9c2b7e1d4f3a8b60", "00000001", "0a4f113b", "auth",
     NULL, true, "55b194c47397a72d96731c9a0d3cd2e7"},
    {"SIP rspauth SHA-256 (hashlib)", "SHA-256", "alice", "example.net", "secret", "INVITE",
     "sip:bob@example.com", "6564a7b1.00000001.9c2b7e1d4f3a8b60", "00000001", "0a4f113b", "auth",
     NULL, true, "457a272b0863429884c75c98c81083f4b165a1c13db808cde878030652cacba0"},
};

static void fill_digest(const struct resp_case *c, struct auth_digest *d)
{
	*d = (struct auth_digest){
	    .username = S(c->user),
	    .realm = S(c->realm),
	    .nonce = S(c->nonce),
	    .uri = S(c->uri),
	    .algorithm = S(c->alg),
	    .cnonce = S(c->cnonce),
	    .nc = S(c->nc),
	    .qop = S(c->qop),
	    .method = S(c->method),
	};
}

static void test_digest_vectors(void **state)
{
	char ha1[AUTH_HEX_MAX + 1], body[AUTH_HEX_MAX + 1], out[AUTH_HEX_MAX + 1];
	struct auth_hash h;

	(void)state;
	assert_int_equal(auth_hash_init(&h), 0);
	for (size_t i = 0; i < MR_ARRAY_SIZE(resp_cases); i++) {
		const struct resp_case *c = &resp_cases[i];
		enum auth_alg a = (enum auth_alg)auth_alg_parse(S(c->alg));
		struct auth_digest d;
		int n;

		fill_digest(c, &d);
		n = auth_digest_ha1(&h, auth_alg_base(a), S(c->user), S(c->realm), S(c->pass), ha1);
		assert_int_equal(n, (int)auth_alg_hexlen(a));
		if (c->body) {
			struct mr_str b = S(c->body);

			assert_int_equal(auth_hash_hex(&h, a, &b, 1, body), n);
			d.body_hash = mr_str_make(body, (size_t)n);
		}
		n = auth_digest_response(&h, &d, mr_str_make(ha1, (size_t)n), c->rspauth, out);
		if (n < 0 || strcmp(out, c->expect) != 0)
			fail_msg("row %zu (%s): ret %d got %s want %s", i, c->what, n, out,
			         c->expect);
		if (!c->rspauth) {
			d.response = S(c->expect);
			assert_int_equal(auth_digest_verify(&h, &d, S(ha1)), 0);
		}
	}
	auth_hash_fini(&h);
}

static void test_digest_verify_mismatch(void **state)
{
	const struct resp_case *c = &resp_cases[4]; /* SIP example */
	char ha1[AUTH_HEX_MAX + 1], bad[AUTH_HEX_MAX + 1];
	struct auth_digest d;
	struct auth_hash h;

	(void)state;
	assert_int_equal(auth_hash_init(&h), 0);
	fill_digest(c, &d);
	assert_int_equal(auth_digest_ha1(&h, AUTH_ALG_MD5, d.username, d.realm, S(c->pass), ha1),
	                 32);
	d.response = S(c->expect);
	assert_int_equal(auth_digest_verify(&h, &d, S(ha1)), 0);

	strcpy(bad, c->expect);
	bad[31] = bad[31] == '1' ? '2' : '1'; /* last digit */
	d.response = S(bad);
	assert_int_equal(auth_digest_verify(&h, &d, S(ha1)), -EACCES);
	bad[0] = 'X';
	assert_int_equal(auth_digest_verify(&h, &d, S(ha1)), -EACCES);
	d.response = mr_str_make(c->expect, 31); /* truncated */
	assert_int_equal(auth_digest_verify(&h, &d, S(ha1)), -EACCES);
	d.response = (struct mr_str){0};
	assert_int_equal(auth_digest_verify(&h, &d, S(ha1)), -EACCES);
	/* responses are LHEX: upper case is a mismatch */
	d.response = S("180049571710D3C614AFBDFE52DEF1A4");
	assert_int_equal(auth_digest_verify(&h, &d, S(ha1)), -EACCES);
	/* a different method or uri changes the response */
	d.response = S(c->expect);
	d.method = S("REGISTER");
	assert_int_equal(auth_digest_verify(&h, &d, S(ha1)), -EACCES);
	/* an HA1 in upper case is the same HA1 */
	d.method = S("INVITE");
	for (char *p = ha1; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 32);
	assert_int_equal(auth_digest_verify(&h, &d, S(ha1)), 0);
	auth_hash_fini(&h);
}

static void test_digest_inconsistent(void **state)
{
	static const char *const md5_ha1 = "e0957e77e26b856e2ba625792a2b87e0";
	static const struct {
		const char *alg, *qop, *nc, *cnonce, *body_hash, *ha1;
	} cases[] = {
	    {"MD5", "auth", "00000001", "", NULL, NULL},           /* qop without cnonce */
	    {"MD5", "auth", "", "0a4f113b", NULL, NULL},           /* qop without nc */
	    {"MD5", "auth", "0000001", "0a4f113b", NULL, NULL},    /* short nc */
	    {"MD5", "auth", "0000000g", "0a4f113b", NULL, NULL},   /* non-hex nc */
	    {"MD5", "auth-int", "00000001", "0a4f113b", "", NULL}, /* no body hash */
	    {"MD5", "auth-int", "00000001", "0a4f113b", "d41d8cd98f00b204e9800998ecf8427", NULL},
	    {"MD5", "auth-conf", "00000001", "0a4f113b", NULL, NULL}, /* unknown qop */
	    {"SHA-1", "auth", "00000001", "0a4f113b", NULL, NULL},    /* unknown algorithm */
	    {"SHA-256", "auth", "00000001", "0a4f113b", NULL, NULL},  /* 32-hex HA1 for SHA */
	    {"MD5", "auth", "00000001", "0a4f113b", NULL, "e0957e77e26b856e2ba625792a2b87e"},
	    {"MD5", "auth", "00000001", "0a4f113b", NULL, "z0957e77e26b856e2ba625792a2b87e0"},
	    {"MD5-sess", "", "", "", NULL, NULL}, /* -sess needs a cnonce */
	};
	char out[AUTH_HEX_MAX + 1];
	struct auth_hash h;

	(void)state;
	assert_int_equal(auth_hash_init(&h), 0);
	for (size_t i = 0; i < MR_ARRAY_SIZE(cases); i++) {
		struct auth_digest d = {
		    .nonce = S(sip_nonce),
		    .uri = S("sip:bob@example.com"),
		    .method = S("INVITE"),
		    .response = S("180049571710d3c614afbdfe52def1a4"),
		    .algorithm = S(cases[i].alg),
		    .qop = S(cases[i].qop),
		    .nc = S(cases[i].nc),
		    .cnonce = S(cases[i].cnonce),
		    .body_hash = S(cases[i].body_hash),
		};
		struct mr_str ha1 = S(cases[i].ha1 ? cases[i].ha1 : md5_ha1);
		int ret = auth_digest_response(&h, &d, ha1, false, out);

		if (ret != -EINVAL)
			fail_msg("row %zu: ret %d want -EINVAL", i, ret);
		assert_int_equal(auth_digest_verify(&h, &d, ha1), -EINVAL);
	}
	auth_hash_fini(&h);
}

/* ---- credentials parser --------------------------------------------------------------------- */

static const struct parse_case {
	const char *in;
	int ret;
	const char *username, *realm, *nonce, *uri, *response, *qop, *nc, *cnonce, *alg, *opaque;
} parse_cases[] = {
    {"Digest username=\"alice\", realm=\"example.net\", nonce=\"6564a7b1.00000001.9c2b7e1d4f3a8b60"
     "\", uri=\"sip:bob@example.com\", response=\"180049571710d3c614afbdfe52def1a4\", "
     "algorithm=MD5, cnonce=\"0a4f113b\", qop=auth, nc=00000001",
     0, "alice", "example.net", "6564a7b1.00000001.9c2b7e1d4f3a8b60", "sip:bob@example.com",
     "180049571710d3c614afbdfe52def1a4", "auth", "00000001", "0a4f113b", "MD5", ""},
    /* case-insensitive scheme and names, tokens, no spaces, opaque, unknown params skipped */
    {"dIgEsT USERNAME=bob,Realm=\"r\",NONCE=abc,x-unknown=\"q,\\\"x\",Opaque=\"o1\",foo=bar", 0,
     "bob", "r", "abc", "", "", "", "", "", "", "o1"},
    /* backslash escapes are unescaped */
    {"Digest username=\"a\\\"l\\\\i\\ce\", realm=\"x\"", 0, "a\"l\\ice", "x", "", "", "", "", "",
     "", "", ""},
    /* LWS and CRLF folding around '=' and ',' */
    {"Digest\r\n username\t=\r\n \"alice\"\r\n\t,\r\n realm = \"example.net\" ,nc=00000001", 0,
     "alice", "example.net", "", "", "", "", "00000001", "", "", ""},
    /* empty list elements and a trailing comma (#rule) */
    {"  Digest ,username=\"u\",, realm=\"\" ,", 0, "u", "", "", "", "", "", "", "", "", ""},
    /* duplicates of a known parameter, in any case */
    {"Digest username=\"a\", USERNAME=\"b\"", -EBADMSG},
    {"Digest realm=a, nonce=b, Realm=\"a\"", -EBADMSG},
    /* duplicate unknown parameters are harmless */
    {"Digest foo=1, foo=2, username=x", 0, "x", "", "", "", "", "", "", "", "", ""},
    /* other schemes */
    {"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", -EPROTO},
    {"Digestive username=a", -EPROTO},
    {"NTLM", -EPROTO},
    /* garbage */
    {"", -EBADMSG},
    {"   ", -EBADMSG},
    {"Digest", -EBADMSG},
    {"Digest ", -EBADMSG},
    {"\"Digest\" username=a", -EBADMSG},
    {"Digest username", -EBADMSG},
    {"Digest username=", -EBADMSG},
    {"Digest username=,realm=a", -EBADMSG},
    {"Digest =a", -EBADMSG},
    {"Digest username=a realm=b", -EBADMSG},
    {"Digest username=a;realm=b", -EBADMSG},
    {"Digest username=\"a\"x, realm=b", -EBADMSG},
    {"Digest username=a@b", -EBADMSG},
    {"Digest\r\nusername=a", -EBADMSG}, /* CRLF without a fold */
    {"Digest username=a,\r\nrealm=b", -EBADMSG},
    {"Digest username=\"a\r\n b\"", -EBADMSG}, /* no folds inside quotes */
    {"Digest username=\"a\x01\"", -EBADMSG},
    {"Digest nc=1", -EBADMSG},
    {"Digest nc=0000000x", -EBADMSG},
    /* unterminated quoted strings */
    {"Digest username=\"alice", -EBADMSG},
    {"Digest username=\"alice\\\"", -EBADMSG},
    {"Digest username=\"alice\\", -EBADMSG},
};

static void check_field(size_t row, const char *name, struct mr_str got, const char *want)
{
	if (!mr_str_eq(got, S(want)))
		fail_msg("row %zu: %s '%.*s' want '%s'", row, name, (int)got.len,
		         got.p ? got.p : "", want);
}

static void test_parse_table(void **state)
{
	char scratch[256];

	(void)state;
	for (size_t i = 0; i < MR_ARRAY_SIZE(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct auth_digest d = {.method = S("INVITE"), .body_hash = S("kept")};
		int ret = auth_digest_parse(S(c->in), &d, scratch, sizeof(scratch));

		if (ret != c->ret)
			fail_msg("row %zu: ret %d want %d", i, ret, c->ret);
		/* never touches method/body_hash; on error nothing else either */
		check_field(i, "method", d.method, "INVITE");
		check_field(i, "body_hash", d.body_hash, "kept");
		if (ret < 0) {
			check_field(i, "username", d.username, "");
			continue;
		}
		check_field(i, "username", d.username, c->username);
		check_field(i, "realm", d.realm, c->realm);
		check_field(i, "nonce", d.nonce, c->nonce);
		check_field(i, "uri", d.uri, c->uri);
		check_field(i, "response", d.response, c->response);
		check_field(i, "qop", d.qop, c->qop);
		check_field(i, "nc", d.nc, c->nc);
		check_field(i, "cnonce", d.cnonce, c->cnonce);
		check_field(i, "algorithm", d.algorithm, c->alg);
		check_field(i, "opaque", d.opaque, c->opaque);
	}
}

static void test_parse_scratch(void **state)
{
	const char *in = "Digest username=\"a\\\"b\", realm=\"c\\\\d\", nonce=\"plain\"";
	struct auth_digest d = {0};
	char scratch[8];

	(void)state;
	/* unescaped values are 3 + 3 bytes; quoted values without escapes stay in @value */
	assert_int_equal(auth_digest_parse(S(in), &d, scratch, 6), 0);
	assert_str_eq(d.username, "a\"b");
	assert_str_eq(d.realm, "c\\d");
	assert_true(d.username.p == scratch && d.realm.p == scratch + 3);
	assert_true(d.nonce.p > in && d.nonce.p < in + strlen(in));
	memset(&d, 0, sizeof(d));
	assert_int_equal(auth_digest_parse(S(in), &d, scratch, 5), -ENOBUFS);
	assert_int_equal(d.username.len, 0);
	assert_int_equal(auth_digest_parse(S(in), &d, NULL, 0), -ENOBUFS);
}

/* Parse then verify: the whole path a proxy runs on a Proxy-Authorization value. */
static void test_parse_then_verify(void **state)
{
	const char *in = "Digest username=\"alice\",realm=\"example.net\",\r\n nonce=\"6564a7b1."
	                 "00000001.9c2b7e1d4f3a8b60\",uri=\"sip:bob@example.com\",\r\n "
	                 "response=\"180049571710d3c614afbdfe52def1a4\",cnonce=\"0a4f113b\","
	                 "qop=auth,nc=00000001";
	struct auth_digest d = {.method = S("INVITE")};
	char scratch[64], ha1[AUTH_HEX_MAX + 1];
	struct auth_hash h;

	(void)state;
	assert_int_equal(auth_hash_init(&h), 0);
	assert_int_equal(auth_digest_parse(S(in), &d, scratch, sizeof(scratch)), 0);
	assert_int_equal(auth_digest_ha1(&h, AUTH_ALG_MD5, d.username, d.realm, S("secret"), ha1),
	                 32);
	assert_int_equal(auth_digest_verify(&h, &d, S(ha1)), 0);
	assert_int_equal(auth_digest_ha1(&h, AUTH_ALG_MD5, d.username, d.realm, S("wrong"), ha1),
	                 32);
	assert_int_equal(auth_digest_verify(&h, &d, S(ha1)), -EACCES);
	auth_hash_fini(&h);
}

/* ---- nonces --------------------------------------------------------------------------------- */

#define NOW 1700000000ull

static void test_nonce_roundtrip(void **state)
{
	struct auth_nonce_key key = {.lifetime_s = 300};
	struct auth_nonce_ctx c;
	char n1[AUTH_NONCE_LEN + 1], n2[AUTH_NONCE_LEN + 1];
	uint64_t minted = 0;

	(void)state;
	assert_int_equal(auth_nonce_key_random(&key), 0);
	assert_int_equal(auth_nonce_ctx_init(&c, &key), 0);
	assert_int_equal(auth_nonce_mint(&c, S("example.com"), NOW, n1), 0);
	assert_int_equal(strlen(n1), AUTH_NONCE_LEN);
	assert_true(strncmp(n1, "000000006553f100", 16) == 0); /* 1700000000 in hex */
	for (const char *p = n1; *p; p++)
		assert_true((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
	assert_int_equal(auth_nonce_check(&c, S("example.com"), S(n1), NOW, &minted), 0);
	assert_int_equal(minted, NOW);
	/* again: the MAC context is re-initialised, not re-keyed */
	assert_int_equal(auth_nonce_check(&c, S("example.com"), S(n1), NOW + 300, &minted), 0);
	assert_int_equal(auth_nonce_check(&c, S("example.com"), S(n1), NOW - 30, NULL), 0);
	/* two mints differ (random part) */
	assert_int_equal(auth_nonce_mint(&c, S("example.com"), NOW, n2), 0);
	assert_string_not_equal(n1, n2);
	assert_int_equal(auth_nonce_check(&c, S("example.com"), S(n2), NOW + 1, NULL), 0);
	/* wrong realm */
	assert_int_equal(auth_nonce_check(&c, S("example.net"), S(n1), NOW, NULL), -EBADMSG);
	assert_int_equal(auth_nonce_check(&c, S(""), S(n1), NOW, NULL), -EBADMSG);
	auth_nonce_ctx_fini(&c);
}

static void test_nonce_tamper(void **state)
{
	struct auth_nonce_key key = {.lifetime_s = 300};
	struct auth_nonce_ctx c;
	char n[AUTH_NONCE_LEN + 1], bad[AUTH_NONCE_LEN + 2];

	(void)state;
	assert_int_equal(auth_nonce_key_random(&key), 0);
	assert_int_equal(auth_nonce_ctx_init(&c, &key), 0);
	assert_int_equal(auth_nonce_mint(&c, S("example.com"), NOW, n), 0);
	/* flipping any one character breaks it */
	for (size_t i = 0; i < AUTH_NONCE_LEN; i++) {
		int ret;

		strcpy(bad, n);
		bad[i] = bad[i] == '0' ? '1' : '0';
		ret = auth_nonce_check(&c, S("example.com"), S(bad), NOW, NULL);
		if (ret != -EBADMSG)
			fail_msg("flip at %zu: ret %d", i, ret);
	}
	/* upper case, non-hex, wrong lengths */
	strcpy(bad, n);
	for (char *p = bad; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 32);
	if (strcmp(bad, n) != 0)
		assert_int_equal(auth_nonce_check(&c, S("example.com"), S(bad), NOW, NULL),
		                 -EBADMSG);
	strcpy(bad, n);
	bad[40] = 'g';
	assert_int_equal(auth_nonce_check(&c, S("example.com"), S(bad), NOW, NULL), -EBADMSG);
	assert_int_equal(auth_nonce_check(&c, S("example.com"), mr_str_make(n, 63), NOW, NULL),
	                 -EBADMSG);
	strcpy(bad, n);
	strcat(bad, "0");
	assert_int_equal(auth_nonce_check(&c, S("example.com"), S(bad), NOW, NULL), -EBADMSG);
	assert_int_equal(auth_nonce_check(&c, S("example.com"), S(""), NOW, NULL), -EBADMSG);
	assert_int_equal(auth_nonce_check(&c, S("example.com"), S(sip_nonce), NOW, NULL), -EBADMSG);
	auth_nonce_ctx_fini(&c);
}

static void test_nonce_expiry(void **state)
{
	struct auth_nonce_key key = {.lifetime_s = 60};
	struct auth_nonce_ctx c;
	char n[AUTH_NONCE_LEN + 1];
	uint64_t minted = 0;

	(void)state;
	assert_int_equal(auth_nonce_key_random(&key), 0);
	assert_int_equal(auth_nonce_ctx_init(&c, &key), 0);
	assert_int_equal(auth_nonce_mint(&c, S("r"), NOW, n), 0);
	assert_int_equal(auth_nonce_check(&c, S("r"), S(n), NOW + 60, NULL), 0);
	assert_int_equal(auth_nonce_check(&c, S("r"), S(n), NOW + 61, &minted), -ESTALE);
	assert_int_equal(minted, NOW);
	/* from the future: 30 s of skew allowed */
	assert_int_equal(auth_nonce_check(&c, S("r"), S(n), NOW - 30, NULL), 0);
	assert_int_equal(auth_nonce_check(&c, S("r"), S(n), NOW - 31, NULL), -ESTALE);
	/* a forged nonce is -EBADMSG even when it would also be stale */
	n[63] = n[63] == 'a' ? 'b' : 'a';
	assert_int_equal(auth_nonce_check(&c, S("r"), S(n), NOW + 1000, NULL), -EBADMSG);
	auth_nonce_ctx_fini(&c);

	/* lifetime 0 means the default, 300 s */
	key.lifetime_s = 0;
	assert_int_equal(auth_nonce_ctx_init(&c, &key), 0);
	assert_int_equal(auth_nonce_mint(&c, S("r"), NOW, n), 0);
	assert_int_equal(auth_nonce_check(&c, S("r"), S(n), NOW + 300, NULL), 0);
	assert_int_equal(auth_nonce_check(&c, S("r"), S(n), NOW + 301, NULL), -ESTALE);
	auth_nonce_ctx_fini(&c);
}

static void test_nonce_shared_key(void **state)
{
	static const char *const hex =
	    "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
	struct auth_nonce_key key = {.lifetime_s = 300}, key2 = {.lifetime_s = 300};
	struct auth_nonce_ctx a, b, other;
	char n[AUTH_NONCE_LEN + 1];

	(void)state;
	assert_int_equal(auth_nonce_key_from_hex(&key, hex), 0);
	assert_int_equal(key.secret[0], 0x00);
	assert_int_equal(key.secret[31], 0xff);
	assert_int_equal(key.lifetime_s, 300);
	assert_int_equal(auth_nonce_key_from_hex(&key2, hex), 0);
	assert_memory_equal(key.secret, key2.secret, AUTH_SECRET_LEN);
	key2.secret[5] ^= 1;
	assert_int_equal(auth_nonce_ctx_init(&a, &key), 0);
	assert_int_equal(auth_nonce_ctx_init(&b, &key), 0);
	assert_int_equal(auth_nonce_ctx_init(&other, &key2), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(auth_nonce_mint(&a, S("example.com"), NOW + i, n), 0);
		assert_int_equal(auth_nonce_check(&b, S("example.com"), S(n), NOW + i, NULL), 0);
		assert_int_equal(auth_nonce_check(&a, S("example.com"), S(n), NOW + i, NULL), 0);
		assert_int_equal(auth_nonce_check(&other, S("example.com"), S(n), NOW + i, NULL),
		                 -EBADMSG);
		assert_int_equal(auth_nonce_mint(&b, S("example.com"), NOW + i, n), 0);
		assert_int_equal(auth_nonce_check(&a, S("example.com"), S(n), NOW + i, NULL), 0);
	}
	auth_nonce_ctx_fini(&a);
	auth_nonce_ctx_fini(&b);
	auth_nonce_ctx_fini(&other);

	/* bad hex keys leave the key untouched */
	memcpy(key2.secret, key.secret, AUTH_SECRET_LEN);
	assert_int_equal(auth_nonce_key_from_hex(&key2, "0011"), -EINVAL);
	assert_int_equal(auth_nonce_key_from_hex(&key2, ""), -EINVAL);
	assert_int_equal(
	    auth_nonce_key_from_hex(
	        &key2, "g0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"),
	    -EINVAL);
	assert_int_equal(
	    auth_nonce_key_from_hex(
	        &key2, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0"),
	    -EINVAL);
	assert_memory_equal(key.secret, key2.secret, AUTH_SECRET_LEN);
}

/* ---- replay table --------------------------------------------------------------------------- */

static void nonce_name(char *buf, unsigned i)
{
	snprintf(buf, 32, "nonce-%08x", i);
}

static void test_replay_basic(void **state)
{
	struct auth_replay *r;
	struct mr_str n = S("abc"), m = S("abd");

	(void)state;
	assert_int_equal(auth_replay_create(0, 300, &r), 0);
	assert_int_equal(auth_replay_check(r, n, NOW, 1, NOW), 0);
	assert_int_equal(auth_replay_check(r, n, NOW, 1, NOW), -EALREADY); /* same nc */
	assert_int_equal(auth_replay_check(r, n, NOW, 2, NOW), 0);
	assert_int_equal(auth_replay_check(r, n, NOW, 5, NOW + 1), 0);         /* gaps are fine */
	assert_int_equal(auth_replay_check(r, n, NOW, 3, NOW + 1), -EALREADY); /* lower nc */
	assert_int_equal(auth_replay_check(r, n, NOW, 5, NOW + 1), -EALREADY);
	assert_int_equal(auth_replay_check(r, n, NOW, 6, NOW + 300), 0);
	/* after the lifetime the nonce is stale, whatever its nc */
	assert_int_equal(auth_replay_check(r, n, NOW, 7, NOW + 301), -ESTALE);
	/* another nonce is independent; nc 0 is never above anything */
	assert_int_equal(auth_replay_check(r, m, NOW, 0, NOW), -EALREADY);
	assert_int_equal(auth_replay_check(r, m, NOW, 1, NOW), 0);
	/* RFC 2069 (no qop): nc 1 makes the nonce single-use */
	assert_int_equal(auth_replay_check(r, m, NOW, 1, NOW), -EALREADY);
	/* an unseen nonce that is already expired */
	assert_int_equal(auth_replay_check(r, S("old"), NOW - 400, 1, NOW), -ESTALE);
	auth_replay_destroy(r);
	auth_replay_destroy(NULL);
}

/* The same request again (same @txn) with the same nc is a retransmission (1), within
 * AUTH_REPLAY_RETRANS_S; another request, or later, or a lower nc, is a replay. */
static void test_replay_txn(void **state)
{
	struct auth_replay *r;
	struct mr_str n = S("nonce-txn");

	(void)state;
	assert_int_equal(auth_replay_create(0, 300, &r), 0);
	assert_int_equal(auth_replay_check_txn(r, n, NOW, 1, 0xa1, NOW), 0);
	assert_int_equal(auth_replay_check_txn(r, n, NOW, 1, 0xa1, NOW + 1), 1);
	assert_int_equal(auth_replay_check_txn(r, n, NOW, 1, 0xa1, NOW + AUTH_REPLAY_RETRANS_S), 1);
	assert_int_equal(auth_replay_check_txn(r, n, NOW, 1, 0xb2, NOW + 2), -EALREADY);
	assert_int_equal(auth_replay_check_txn(r, n, NOW, 1, 0, NOW + 2), -EALREADY);
	assert_int_equal(auth_replay_check(r, n, NOW, 1, NOW + 2), -EALREADY);
	assert_int_equal(auth_replay_check_txn(r, n, NOW, 1, 0xa1, NOW + AUTH_REPLAY_RETRANS_S + 1),
	                 -EALREADY);
	/* a higher nc moves on; the older request's retransmission is then a replay */
	assert_int_equal(auth_replay_check_txn(r, n, NOW, 2, 0xc3, NOW + 3), 0);
	assert_int_equal(auth_replay_check_txn(r, n, NOW, 1, 0xa1, NOW + 3), -EALREADY);
	assert_int_equal(auth_replay_check_txn(r, n, NOW, 2, 0xc3, NOW + 4), 1);
	auth_replay_destroy(r);
}

/* Tiny table, many nonces, random uses: whatever gets evicted, an nc at or below one already
 * accepted is never accepted again. */
static void test_replay_pressure(void **state)
{
	enum { NNONCE = 3000, OPS = 60000 };
	struct auth_replay *r;
	uint32_t *best = calloc(NNONCE, sizeof(*best));
	uint64_t rng = 0x243f6a8885a308d3ull;
	unsigned accepted = 0, stale = 0, already = 0;
	char name[32];

	(void)state;
	assert_non_null(best);
	assert_int_equal(auth_replay_create(1, 3600, &r), 0); /* rounds up to 64 */
	for (unsigned op = 0; op < OPS; op++) {
		unsigned i, nc;
		uint64_t minted, now;
		int ret;

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		/* mostly nonces near the current one, sometimes an old one */
		unsigned cur = op * NNONCE / OPS;

		i = (rng & 3) ? cur - (unsigned)((rng >> 8) % (cur < 40 ? cur + 1 : 40))
		              : (unsigned)((rng >> 8) % (cur + 1));
		nc = (unsigned)((rng >> 32) % 6) + (rng & 0x10 ? best[i] : 0);
		minted = NOW + i / 8; /* several nonces per second */
		now = NOW + cur / 8;
		nonce_name(name, i);
		ret = auth_replay_check(r, S(name), minted, nc, now);
		if (ret == 0) {
			if (nc <= best[i])
				fail_msg("op %u: nonce %u nc %u accepted after %u", op, i, nc,
				         best[i]);
			best[i] = nc;
			accepted++;
		} else if (ret == -ESTALE) {
			stale++;
		} else if (ret == -EALREADY) {
			/* only an nc at or below one accepted (or 0) is a replay */
			if (nc > best[i])
				fail_msg("op %u: nonce %u nc %u refused, best %u", op, i, nc,
				         best[i]);
			already++;
		} else {
			fail_msg("op %u: ret %d", op, ret);
		}
	}
	assert_true(accepted > 0 && stale > 0 && already > 0);
	/* every nonce ever accepted, replayed with its best nc: never 0 */
	for (unsigned i = 0; i < NNONCE; i++) {
		int ret;

		nonce_name(name, i);
		ret = auth_replay_check(r, S(name), NOW + i / 8, best[i], NOW + NNONCE / 8);
		if (best[i] && ret != -EALREADY && ret != -ESTALE)
			fail_msg("replay of nonce %u nc %u: ret %d", i, best[i], ret);
	}
	auth_replay_destroy(r);
	free(best);
}

struct hammer {
	struct auth_replay *r;
	_Atomic uint32_t *accepts; /* [nonce * MAXNC + nc] */
	unsigned id;
};

enum { H_THREADS = 8, H_NONCES = 200, H_MAXNC = 16 };

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	char name[32];

	for (unsigned k = 0; k < H_NONCES * H_MAXNC; k++) {
		/* each thread walks the pairs in a different order */
		unsigned pair = (k * 7919u + h->id * 104729u) % (H_NONCES * H_MAXNC);
		unsigned i = pair / H_MAXNC, nc = pair % H_MAXNC + 1;
		int ret;

		nonce_name(name, i);
		ret = auth_replay_check(h->r, S(name), NOW + i / 16, nc, NOW + H_NONCES / 16);
		if (ret == 0)
			atomic_fetch_add(&h->accepts[i * H_MAXNC + nc - 1], 1);
		else if (ret != -EALREADY && ret != -ESTALE)
			return (void *)1;
	}
	return NULL;
}

static void hammer(size_t entries, bool expect_no_stale)
{
	_Atomic uint32_t *acc = calloc(H_NONCES * H_MAXNC, sizeof(*acc));
	struct hammer hs[H_THREADS];
	pthread_t th[H_THREADS];
	struct auth_replay *r;
	unsigned total = 0;

	assert_non_null(acc);
	assert_int_equal(auth_replay_create(entries, 300, &r), 0);
	for (unsigned t = 0; t < H_THREADS; t++) {
		hs[t] = (struct hammer){.r = r, .accepts = acc, .id = t};
		assert_int_equal(pthread_create(&th[t], NULL, hammer_run, &hs[t]), 0);
	}
	for (unsigned t = 0; t < H_THREADS; t++) {
		void *res;

		assert_int_equal(pthread_join(th[t], &res), 0);
		assert_null(res);
	}
	for (unsigned p = 0; p < H_NONCES * H_MAXNC; p++) {
		uint32_t a = atomic_load(&acc[p]);

		if (a > 1)
			fail_msg("nonce %u nc %u accepted %u times", p / H_MAXNC, p % H_MAXNC + 1,
			         a);
		total += a;
	}
	/* with room for every nonce, each nonce was accepted at least once */
	if (expect_no_stale)
		assert_true(total >= H_NONCES);
	assert_true(total > 0);
	auth_replay_destroy(r);
	free(acc);
}

static void test_replay_threads(void **state)
{
	(void)state;
	hammer(4096, true);
	hammer(64, false); /* under eviction pressure */
}

/* Nonces carry the minting instance and the algorithm, both under the MAC. */
static void test_nonce_bindings(void **state)
{
	struct auth_nonce_key ka = {.lifetime_s = 300}, kb;
	struct auth_nonce_ctx a, b;
	struct auth_nonce_info info;
	char n[AUTH_NONCE_LEN + 1], bad[AUTH_NONCE_LEN + 1];

	(void)state;
	assert_int_equal(auth_nonce_key_random(&ka), 0);
	ka.instance = auth_nonce_instance_id(S("aaa1.test"));
	kb = ka;
	kb.instance = auth_nonce_instance_id(S("aaa2.test"));
	assert_int_not_equal(ka.instance, 0);
	assert_int_not_equal(ka.instance, kb.instance);
	assert_int_equal(auth_nonce_instance_id(S("aaa1.test")), ka.instance);
	assert_int_equal(auth_nonce_ctx_init(&a, &ka), 0);
	assert_int_equal(auth_nonce_ctx_init(&b, &kb), 0);
	assert_int_equal(auth_nonce_mint_alg(&a, S("example.com"), AUTH_ALG_SHA256, NOW, n), 0);
	/* B (same secret) checks the MAC and sees who minted it and for which algorithm */
	assert_int_equal(auth_nonce_inspect(&b, S("example.com"), S(n), NOW, &info), 0);
	assert_int_equal(info.instance, ka.instance);
	assert_int_equal(info.alg, AUTH_ALG_SHA256);
	assert_int_equal(info.minted, NOW);
	/* expired: the bindings are still reported */
	memset(&info, 0, sizeof(info));
	assert_int_equal(auth_nonce_inspect(&a, S("example.com"), S(n), NOW + 301, &info), -ESTALE);
	assert_int_equal(info.instance, ka.instance);
	/* rewriting the instance (digits 32..39) or the algorithm (40..41) breaks the MAC */
	for (size_t i = 32; i < 42; i++) {
		strcpy(bad, n);
		bad[i] = bad[i] == '0' ? '1' : '0';
		assert_int_equal(auth_nonce_inspect(&a, S("example.com"), S(bad), NOW, &info),
		                 -EBADMSG);
	}
	/* unbound mint */
	assert_int_equal(auth_nonce_mint(&a, S("example.com"), NOW, n), 0);
	assert_int_equal(auth_nonce_inspect(&a, S("example.com"), S(n), NOW, &info), 0);
	assert_int_equal(info.alg, AUTH_NONCE_ANY_ALG);
	auth_nonce_ctx_fini(&a);
	auth_nonce_ctx_fini(&b);
}

static void test_nonce_key_weak(void **state)
{
	struct auth_nonce_key k = {0};

	(void)state;
	assert_true(auth_nonce_key_weak(&k)); /* all zero */
	for (unsigned i = 0; i < AUTH_SECRET_LEN; i++)
		k.secret[i] = (uint8_t)(0xde + i % 4);
	assert_true(auth_nonce_key_weak(&k)); /* a 4-byte pattern */
	assert_int_equal(auth_nonce_key_random(&k), 0);
	assert_false(auth_nonce_key_weak(&k));
	assert_int_equal(auth_nonce_key_from_hex(&k,
	                                         "00112233445566778899aabbccddeeff00112233445566"
	                                         "778899aabbccddeeff"),
	                 0);
	assert_false(auth_nonce_key_weak(&k));
}

static void test_user_name_ok(void **state)
{
	char longname[AUTH_USER_NAME_MAX + 2];

	(void)state;
	assert_true(auth_user_name_ok(S("alice")));
	assert_true(auth_user_name_ok(S("alice@example.com")));
	assert_true(auth_user_name_ok(S("+14155550100")));
	assert_false(auth_user_name_ok(S("")));
	assert_false(auth_user_name_ok(S("al\"ice")));
	assert_false(auth_user_name_ok(S("al\\ice")));
	assert_false(auth_user_name_ok(mr_str_make("al\0ice", 6)));
	assert_false(auth_user_name_ok(S("al\r\nice")));
	assert_false(auth_user_name_ok(S("al\tice")));
	assert_false(auth_user_name_ok(S("al\x7f")));
	assert_false(auth_user_name_ok(S("al ice")));
	assert_false(auth_user_name_ok(S("al:ice")));
	assert_false(auth_user_name_ok(S("\xc3\xa9lise"))); /* UTF-8 */
	memset(longname, 'a', sizeof(longname));
	assert_true(auth_user_name_ok(mr_str_make(longname, AUTH_USER_NAME_MAX)));
	assert_false(auth_user_name_ok(mr_str_make(longname, AUTH_USER_NAME_MAX + 1)));
}

/* ---- user store ----------------------------------------------------------------------------- */

struct tmpdir {
	char dir[64];
	char path[96];
};

static void write_users(struct tmpdir *t, const char *content)
{
	FILE *f;
	int fd;

	snprintf(t->path, sizeof(t->path), "%s/users-XXXXXX", t->dir);
	fd = mkstemp(t->path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int users_setup(void **state)
{
	struct tmpdir *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	strcpy(t->dir, "/tmp/mara-test-auth-XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int users_teardown(void **state)
{
	struct tmpdir *t = *state;

	rmdir(t->dir);
	free(t);
	return 0;
}

#define HA1_ALICE_MD5    "ae7914636bb60b37a9441871cf572389"
#define HA1_ALICE_SHA256 "1c733d942b955c362d40a0aa27c63f0d5543d51e0a655f9b1c6fab041493ee5d"
#define HA1_ALICE_SHA512 "39656574432c78db37a65406a338a52943f3bd07f17a2d496879bf253074f6fb"
#define HA1_BOB_MD5      "ede4211a900d51d7799431a9b031f433"

static void test_users_load(void **state)
{
	struct tmpdir *t = *state;
	const struct auth_user *u;
	struct auth_users *us = NULL;
	char ha1[AUTH_HEX_MAX + 1];
	struct auth_hash h;

	/* alice: all three columns; bob: MD5 only, written by htdigest; carol: SHA-512-256 only
	 * beside MD5, upper-case MD5 (normalised); CRLF line ending; comments and blanks. */
	write_users(t, "# comment\n"
	               "\n"
	               "alice:example.com:" HA1_ALICE_MD5 ":" HA1_ALICE_SHA256 ":" HA1_ALICE_SHA512
	               "\n"
	               "   # indented comment\n"
	               "bob:example.com:" HA1_BOB_MD5 "\r\n"
	               "alice:other realm:AE7914636BB60B37A9441871CF572389\n"
	               "carol:example.com:" HA1_BOB_MD5 "::" HA1_ALICE_SHA512);
	assert_int_equal(auth_users_load(t->path, &us), 0);
	unlink(t->path);
	assert_int_equal(auth_users_count(us), 4);

	u = auth_users_find(us, S("alice"), S("example.com"));
	assert_non_null(u);
	assert_str_eq(u->name, "alice");
	assert_str_eq(u->realm, "example.com");
	assert_str_eq(auth_user_ha1(u, AUTH_ALG_MD5), HA1_ALICE_MD5);
	assert_str_eq(auth_user_ha1(u, AUTH_ALG_MD5_SESS), HA1_ALICE_MD5);
	assert_str_eq(auth_user_ha1(u, AUTH_ALG_SHA256), HA1_ALICE_SHA256);
	assert_str_eq(auth_user_ha1(u, AUTH_ALG_SHA512_256_SESS), HA1_ALICE_SHA512);

	/* the stored HA1 is htdigest's MD5("user:realm:password") */
	assert_int_equal(auth_hash_init(&h), 0);
	assert_int_equal(auth_digest_ha1(&h, AUTH_ALG_SHA512_256, S("alice"), S("example.com"),
	                                 S("alice-secret"), ha1),
	                 64);
	assert_string_equal(ha1, HA1_ALICE_SHA512);
	assert_int_equal(
	    auth_digest_ha1(&h, AUTH_ALG_MD5, S("bob"), S("example.com"), S("bob-secret"), ha1),
	    32);
	auth_hash_fini(&h);

	u = auth_users_find(us, S("bob"), S("example.com"));
	assert_non_null(u);
	assert_string_equal(u->ha1_md5, ha1);
	assert_int_equal(auth_user_ha1(u, AUTH_ALG_SHA256).len, 0);
	assert_int_equal(auth_user_ha1(u, AUTH_ALG_SHA512_256).len, 0);

	u = auth_users_find(us, S("alice"), S("other realm"));
	assert_non_null(u);
	assert_string_equal(u->ha1_md5, HA1_ALICE_MD5);

	u = auth_users_find(us, S("carol"), S("example.com"));
	assert_non_null(u);
	assert_int_equal(auth_user_ha1(u, AUTH_ALG_SHA256).len, 0);
	assert_str_eq(auth_user_ha1(u, AUTH_ALG_SHA512_256), HA1_ALICE_SHA512);

	/* unknown: other user, other realm, case matters, prefixes, empty */
	assert_null(auth_users_find(us, S("mallory"), S("example.com")));
	assert_null(auth_users_find(us, S("bob"), S("other realm")));
	assert_null(auth_users_find(us, S("Alice"), S("example.com")));
	assert_null(auth_users_find(us, S("alic"), S("example.com")));
	assert_null(auth_users_find(us, S(""), S("")));
	assert_null(auth_users_find(us, mr_str_make("alice\0example.com", 17), S("")));

	/* references: get/put pairs keep it alive */
	auth_users_get(us);
	auth_users_put(us);
	assert_non_null(auth_users_find(us, S("bob"), S("example.com")));
	auth_users_put(us);
}

static void test_users_bad(void **state)
{
	static const struct {
		const char *content;
		int ret;
	} cases[] = {
	    {"alice:example.com\n", -EINVAL},                                   /* missing field */
	    {"alice\n", -EINVAL},                                               /* missing fields */
	    {"alice:example.com:\n", -EINVAL},                                  /* empty HA1 */
	    {":example.com:" HA1_BOB_MD5 "\n", -EINVAL},                        /* empty user */
	    {"alice::" HA1_BOB_MD5 "\n", -EINVAL},                              /* empty realm */
	    {"alice:example.com:ae7914636bb60b37a9441871cf57238\n", -EINVAL},   /* short HA1 */
	    {"alice:example.com:ae7914636bb60b37a9441871cf5723890\n", -EINVAL}, /* long */
	    {"alice:example.com:ae7914636bb60b37a9441871cf57238z\n", -EINVAL},  /* non-hex */
	    {"alice:example.com:" HA1_BOB_MD5 " \n", -EINVAL},                  /* trailing blank */
	    {"alice:example.com:" HA1_BOB_MD5 ":" HA1_BOB_MD5 "\n", -EINVAL},   /* short SHA */
	    {"alice:example.com:" HA1_BOB_MD5 "::" HA1_BOB_MD5 "\n", -EINVAL},
	    {"alice:example.com:" HA1_BOB_MD5 ":::\n", -EINVAL}, /* too many fields */
	    {"alice:example.com:" HA1_BOB_MD5 "\nbob:example.com:" HA1_BOB_MD5
	     "\nalice:example.com:" HA1_ALICE_MD5 "\n",
	     -EINVAL},                                          /* duplicate */
	    {"al\tice:example.com:" HA1_BOB_MD5 "\n", -EINVAL}, /* control character */
	    /* fine: */
	    {"", 0},
	    {"# only a comment\n\n", 0},
	    {"alice:example.com:" HA1_BOB_MD5 "\nalice:example.org:" HA1_BOB_MD5 "\n", 0},
	    {"alice:example.com:" HA1_BOB_MD5 ":" HA1_ALICE_SHA256 ":\n", 0},
	};
	struct tmpdir *t = *state;

	for (size_t i = 0; i < MR_ARRAY_SIZE(cases); i++) {
		struct auth_users *us = NULL;
		int ret;

		write_users(t, cases[i].content);
		ret = auth_users_load(t->path, &us);
		unlink(t->path);
		if (ret != cases[i].ret)
			fail_msg("row %zu: ret %d want %d", i, ret, cases[i].ret);
		if (ret == 0)
			auth_users_put(us);
		else
			assert_null(us); /* untouched on failure */
	}
}

/* A store others may write is refused; others reading it is only warned about. */
static void test_users_mode(void **state)
{
	struct tmpdir *t = *state;
	struct auth_users *us = NULL;

	write_users(t, "alice:example.com:" HA1_ALICE_MD5 "\n");
	assert_int_equal(chmod(t->path, 0646), 0);
	assert_int_equal(auth_users_load(t->path, &us), -EPERM);
	assert_null(us);
	assert_int_equal(chmod(t->path, 0644), 0);
	assert_int_equal(auth_users_load(t->path, &us), 0);
	auth_users_put(us);
	us = NULL;
	assert_int_equal(chmod(t->path, 0640), 0);
	assert_int_equal(auth_users_load(t->path, &us), 0);
	auth_users_put(us);
	unlink(t->path);
}

static void test_users_missing(void **state)
{
	struct tmpdir *t = *state;
	struct auth_users *us = NULL;
	char path[128];

	snprintf(path, sizeof(path), "%s/does-not-exist", t->dir);
	assert_int_equal(auth_users_load(path, &us), -ENOENT);
	assert_null(us);
}

static void test_users_many(void **state)
{
	enum { N = 5000 };
	struct tmpdir *t = *state;
	struct auth_users *us = NULL;
	char *buf = malloc(N * 64), *p = buf, name[32];

	assert_non_null(buf);
	for (unsigned i = 0; i < N; i++)
		p += sprintf(p, "user%u:realm%u:%032x\n", i, i % 7, i);
	write_users(t, buf);
	assert_int_equal(auth_users_load(t->path, &us), 0);
	unlink(t->path);
	assert_int_equal(auth_users_count(us), N);
	for (unsigned i = 0; i < N; i++) {
		const struct auth_user *u;
		char realm[32], ha1[40];

		snprintf(name, sizeof(name), "user%u", i);
		snprintf(realm, sizeof(realm), "realm%u", i % 7);
		snprintf(ha1, sizeof(ha1), "%032x", i);
		u = auth_users_find(us, S(name), S(realm));
		if (!u || strcmp(u->ha1_md5, ha1) != 0)
			fail_msg("user %u", i);
		snprintf(realm, sizeof(realm), "realm%u", (i + 1) % 7);
		assert_null(auth_users_find(us, S(name), S(realm)));
	}
	auth_users_put(us);
	free(buf);
}

/* The shipped demo store loads, and each column is H("user:example.com:password"). */
static void test_users_demo(void **state)
{
	static const struct {
		const char *user, *pass;
	} demo[] = {{"alice", "alice-secret"}, {"bob", "bob-secret"}};
	static const enum auth_alg algs[] = {AUTH_ALG_MD5, AUTH_ALG_SHA256, AUTH_ALG_SHA512_256};
	const char *vectors = MR_TEST_VECTORS; /* <srcdir>/tests/vectors */
	struct auth_users *us = NULL;
	char path[4096], ha1[AUTH_HEX_MAX + 1];
	struct auth_hash h;

	(void)state;
	snprintf(path, sizeof(path), "%.*s/../deploy/demo/users",
	         (int)(strrchr(vectors, '/') - vectors), vectors);
	assert_int_equal(auth_users_load(path, &us), 0);
	assert_int_equal(auth_users_count(us), MR_ARRAY_SIZE(demo));
	assert_int_equal(auth_hash_init(&h), 0);
	for (size_t i = 0; i < MR_ARRAY_SIZE(demo); i++) {
		const struct auth_user *u = auth_users_find(us, S(demo[i].user), S("example.com"));

		assert_non_null(u);
		for (size_t j = 0; j < MR_ARRAY_SIZE(algs); j++) {
			int n =
			    auth_digest_ha1(&h, algs[j], u->name, u->realm, S(demo[i].pass), ha1);

			assert_int_equal(n, (int)auth_alg_hexlen(algs[j]));
			assert_str_eq(auth_user_ha1(u, algs[j]), ha1);
		}
	}
	auth_hash_fini(&h);
	auth_users_put(us);
}

static void test_users_ref(void **state)
{
	struct tmpdir *t = *state;
	struct auth_users *a = NULL, *b = NULL, *cur;
	struct auth_users_ref ref;
	uint64_t gen0 = 0, gen1 = 0;

	write_users(t, "alice:example.com:" HA1_ALICE_MD5 "\n");
	assert_int_equal(auth_users_load(t->path, &a), 0);
	unlink(t->path);
	write_users(t, "bob:example.com:" HA1_BOB_MD5 "\n");
	assert_int_equal(auth_users_load(t->path, &b), 0);
	unlink(t->path);

	assert_int_equal(auth_users_ref_init(&ref, a), 0); /* consumes a */
	cur = auth_users_ref_get(&ref, &gen0);
	assert_ptr_equal(cur, a);
	assert_int_equal(atomic_load_explicit(&ref.gen, memory_order_relaxed), gen0);

	auth_users_ref_swap(&ref, b); /* consumes b, drops the ref's hold on a */
	assert_int_equal(atomic_load_explicit(&ref.gen, memory_order_relaxed), gen0 + 1);
	/* our reference on a keeps it usable after the swap */
	assert_non_null(auth_users_find(cur, S("alice"), S("example.com")));
	auth_users_put(cur);

	cur = auth_users_ref_get(&ref, &gen1);
	assert_ptr_equal(cur, b);
	assert_int_equal(gen1, gen0 + 1);
	assert_non_null(auth_users_find(cur, S("bob"), S("example.com")));
	assert_null(auth_users_find(cur, S("alice"), S("example.com")));
	auth_users_put(cur);

	cur = auth_users_ref_get(&ref, NULL);
	assert_ptr_equal(cur, b);
	auth_users_put(cur);
	auth_users_ref_fini(&ref); /* drops b: ASan reports a leak otherwise */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alg_table),
	    cmocka_unit_test(test_ct_eq),
	    cmocka_unit_test(test_hash_ha1),
	    cmocka_unit_test(test_digest_vectors),
	    cmocka_unit_test(test_digest_verify_mismatch),
	    cmocka_unit_test(test_digest_inconsistent),
	    cmocka_unit_test(test_parse_table),
	    cmocka_unit_test(test_parse_scratch),
	    cmocka_unit_test(test_parse_then_verify),
	    cmocka_unit_test(test_nonce_roundtrip),
	    cmocka_unit_test(test_nonce_tamper),
	    cmocka_unit_test(test_nonce_expiry),
	    cmocka_unit_test(test_nonce_shared_key),
	    cmocka_unit_test(test_nonce_bindings),
	    cmocka_unit_test(test_nonce_key_weak),
	    cmocka_unit_test(test_user_name_ok),
	    cmocka_unit_test(test_replay_basic),
	    cmocka_unit_test(test_replay_txn),
	    cmocka_unit_test(test_replay_pressure),
	    cmocka_unit_test(test_replay_threads),
	    cmocka_unit_test_setup_teardown(test_users_load, users_setup, users_teardown),
	    cmocka_unit_test_setup_teardown(test_users_bad, users_setup, users_teardown),
	    cmocka_unit_test_setup_teardown(test_users_missing, users_setup, users_teardown),
	    cmocka_unit_test_setup_teardown(test_users_mode, users_setup, users_teardown),
	    cmocka_unit_test_setup_teardown(test_users_many, users_setup, users_teardown),
	    cmocka_unit_test(test_users_demo),
	    cmocka_unit_test_setup_teardown(test_users_ref, users_setup, users_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

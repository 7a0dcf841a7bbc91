/* SPDX-License-Identifier: MIT
 * test_sip.c - cmocka tests of the SIP parser: the 49 RFC 4475 torture messages
 * (tests/vectors/rfc4475, wire bytes), RFC 5118 IPv6 cases, unit tables for URIs, name-addrs,
 * parameters, comma lists, compact and folded headers, Via spans, stream/datagram framing and
 * limits, and a deterministic mutation loop. Over 1500 lines because it is mostly tables (one
 * row per vector, URI, name-addr... case) and meson builds one file per module's test.
 * Owns: short-lived heap copies of exact size (the sanitizer build catches any read past them).
 * Thread: single. */
#include "sip.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define CRLF "\r\n"

/* ---- helpers ----------------------------------------------------------------------------- */

struct blob {
	char *p;
	uint32_t len;
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		abort(); /* also tells the compiler, which cmocka's asserts do not */
	return p;
}

static struct blob blob_copy(const char *s, size_t len)
{
	struct blob b = {xmalloc(len), (uint32_t)len};

	memcpy(b.p, s, len);
	return b;
}

static struct blob blob_str(const char *s)
{
	return blob_copy(s, strlen(s));
}

static struct blob vec_load(const char *name)
{
	char path[512];
	struct blob b;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/rfc4475/%s.dat", MR_TEST_VECTORS, name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	b.len = (uint32_t)n;
	b.p = xmalloc((size_t)n);
	assert_non_null(b.p);
	assert_int_equal(fread(b.p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return b;
}

static bool str_is(struct mr_str s, const char *c)
{
	return s.len == strlen(c) && (s.len == 0 || memcmp(s.p, c, s.len) == 0);
}

static void expect_str(struct mr_str s, const char *want, const char *what, const char *ctx)
{
	if (!str_is(s, want))
		fail_msg("%s: %s is \"%.*s\", want \"%s\"", ctx, what, (int)s.len, s.p ? s.p : "",
		         want);
}

static void expect_num(long long got, const char *want, const char *what, const char *ctx)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%lld", got);
	if (strcmp(tmp, want) != 0)
		fail_msg("%s: %s is %s, want %s", ctx, what, tmp, want);
}

static int hdr_index(const struct sip_msg *m, const char *name)
{
	return sip_hdr_find(m, mr_str_c(name), 0);
}

static struct mr_str hdr_value(const struct sip_msg *m, const char *name)
{
	int i = hdr_index(m, name);

	if (i < 0)
		fail_msg("header %s missing", name);
	return m->hdrs[i].value;
}

/* A parsed heap copy of @s: the copy lives as long as the msg slices are looked at. */
struct parsed {
	struct blob b;
	struct sip_msg m;
	int rc;
};

static struct parsed *parse_str(const char *s, bool stream)
{
	struct parsed *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	p->b = blob_str(s);
	p->rc = sip_parse(&p->m, p->b.p, p->b.len, stream);
	return p;
}

static void parsed_free(struct parsed *p)
{
	free(p->b.p);
	free(p);
}

/* Invariants of any successful parse: every slice lies inside the message. */
static void check_spans(const struct sip_msg *m, const char *buf, uint32_t len, int rc)
{
	assert_true(rc > 0 && (uint32_t)rc <= len);
	assert_true(m->buf >= buf && m->buf + m->len <= buf + len);
	assert_true(m->body_off <= m->len && m->body.len == m->len - m->body_off);
	for (unsigned i = 0; i < m->nhdrs; i++) {
		const struct sip_hdr *h = &m->hdrs[i];

		assert_true(h->off + h->len <= m->body_off);
		assert_true(h->name.p == m->buf + h->off);
		assert_true(h->value.p >= m->buf + h->off &&
		            h->value.p + h->value.len <= m->buf + h->off + h->len);
	}
	for (unsigned i = 0; i < m->nvia; i++) {
		const struct sip_hdr *h = &m->hdrs[m->via[i].hdr];

		assert_true(m->via[i].off >= h->off &&
		            m->via[i].off + m->via[i].len <= h->off + h->len);
	}
}

/* ---- (1) RFC 4475: the 49 messages --------------------------------------------------------
 * Numeric expectations are strings ("-" = absent), NULL = not checked. ret: VEC_WHOLE = parses
 * and consumes the whole file; > 0: consumes that many bytes; < 0: that error. */
#define VEC_WHOLE 1

struct vec_case {
	const char *name;
	int ret;
	unsigned method;    /* requests, 0 = not checked */
	const char *status; /* responses */
	const char *ruri;
	const char *branch; /* top Via; "" = no branch parameter */
	const char *call_id;
	const char *cseq;
	const char *from_tag, *to_tag; /* "" = no tag */
	const char *clen, *body, *mf, *nvia;
};

static const struct vec_case vec_cases[] = {
    /* 3.1.1.1: folding, LWS everywhere, compact and odd-case names, leading zeros. Accept. */
    {"wsinv", VEC_WHOLE, SIP_M_INVITE, NULL, "sip:vivekg@chair-dnrc.example.com;unknownparam",
     "390skdjuw", "wsinv.ndaksdj@192.0.2.1", "9", "98asjd8", "1918181833n", "150", "150", "68",
     "3"},
    /* 3.1.1.2: token-method, odd R-URI, NUL as quoted-pair, UTF-8. Accept; method OTHER. */
    {"intmeth", VEC_WHOLE, SIP_M_OTHER, NULL,
     "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too."
     "(doesn't-it)@example.com",
     "z9hG4bK-.!%66*_+`'~", "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{", "139122385",
     "_token~1'+`*%!-.", "", "0", "0", "255", "1"},
    /* 3.1.1.3: escapes kept as they are (zero-copy: nothing is unescaped). */
    {"esc01", VEC_WHOLE, SIP_M_INVITE, NULL, "sip:sips%3Auser%40example.com@example.net",
     "z9hG4bKkdjuw", "esc01.239409asdfakjkn23onasd0-3234", "234234", "938", "", "150", "150", "87",
     "1"},
    /* 3.1.1.4: %00 in user parts: slices are length-based, nothing stops at NUL. */
    {"escnull", VEC_WHOLE, SIP_M_REGISTER, NULL, "sip:example.com", "z9hG4bKkdjuw",
     "escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd", "14398234", "839923423", "", "0", "0", "70",
     "1"},
    /* 3.1.1.5: '%' in a method token and header name is a plain token char: method OTHER, the
     * CSeq method is byte-equal; "C%6Fntact" is an unknown header. */
    {"esc02", VEC_WHOLE, SIP_M_OTHER, NULL, "sip:registrar.example.com", "z9hG4bK209%fzsnel234",
     "esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf", "29344", "f232jadfj23", "", "0", "0", "70", "1"},
    /* 3.1.1.6: no LWS between display name and '<'. Liberal: accepted. */
    {"lwsdisp", VEC_WHOLE, SIP_M_OPTIONS, NULL, "sip:user@example.com", "z9hG4bKkdjuw",
     "lwsdisp.1234abcd@funky.example.com", "60", "323", "", "0", "0", "70", "1"},
    /* 3.1.1.7: valid, 34 Via values (SIP_MAX_VIA is 70, one per hop Max-Forwards allows):
     * parses whole; fields are checked on a 32-Via cut in test_vec_longreq. */
    {"longreq", VEC_WHOLE, SIP_M_INVITE, NULL, "sip:user@example.com",
     "", /* the top Via has no branch */
     "longreq.onereallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreally"
     "reallyreallyreallyreallyreallyreallyreallylongcallid",
     "3882340",
     "12982982982982982982982982982982982982982982982982982982982982982982982982982982"
     "982982982982982982982982982982982982982982982982982982982982982982982982424",
     "", "150", "150", "70", "34"},
    /* 3.1.1.8: REGISTER framed by its Content-Length 0: 300 bytes, the INVITE after it is
     * ignored. */
    {"dblreq", 300, SIP_M_REGISTER, NULL, "sip:example.com", "z9hG4bKkdjuw23492",
     "dblreq.0ha0isndaksdj99sdfafnl3lk233412", "8", "43251j3j324", "", "0", "0", "8", "1"},
    /* 3.1.1.9: ';' in the user part (userinfo ends at '@'). */
    {"semiuri", VEC_WHOLE, SIP_M_OPTIONS, NULL, "sip:user;par=u%40example.net@example.com",
     "z9hG4bKkdjuw", "semiuri.0ha0isndaksdj", "8", "33242", "", "0", "0", "3", "1"},
    /* 3.1.1.10: unknown transports are plain tokens. */
    {"transports", VEC_WHOLE, SIP_M_OPTIONS, NULL, "sip:user@example.com", "z9hG4bKkdjuw",
     "transports.kijh4akdnaqjkwendsasfdj", "60", "323", "", "0", "0", "70", "5"},
    /* 3.1.1.11: binary multipart body framed by Content-Length (553). */
    {"mpart01", VEC_WHOLE, SIP_M_MESSAGE, NULL, "sip:kumiko@example.org",
     "z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-", "3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..",
     "1", "2fb0dcc9", "", "553", "553", "70", "1"},
    /* 3.1.1.12: UTF-8 reason phrase. */
    {"unreason", VEC_WHOLE, 0, "200", NULL, "z9hG4bK1324923", "unreason.1234ksdfak3j2erwedfsASdf",
     "35", "11141343", "2229", "154", "154", "-", "1"},
    /* 3.1.1.13: empty reason phrase after the SP. */
    {"noreason", VEC_WHOLE, 0, "100", NULL, "z9hG4bK2398ndaoe", "noreason.asndj203insdf99223ndf",
     "35", "39ansfi3", "902jndnke3", "0", "0", "-", "1"},
    /* 3.1.2.1: ";;,;,," in Via (and ";;;;" in Contact): Via values are checked. */
    {"badinv01", -EBADMSG},
    /* 3.1.2.2: Content-Length 9999 > datagram. */
    {"clerr", -EBADMSG},
    /* 3.1.2.3: Content-Length -999 is not a decimal. */
    {"ncl", -EBADMSG},
    /* 3.1.2.4: CSeq >= 2^31 (and Max-Forwards 300). */
    {"scalar02", -EBADMSG},
    /* 3.1.2.5: response with CSeq >= 2^31: same check, the proxy drops it. */
    {"scalarlg", -EBADMSG},
    /* 3.1.2.6: unterminated quoted display name in To. */
    {"quotbal", -EBADMSG},
    /* 3.1.2.7: R-URI in <>: strict (contract), 400. */
    {"ltgtruri", -EBADMSG},
    /* 3.1.2.8: LWS inside the R-URI: three SPs on the line. */
    {"lwsruri", -EBADMSG},
    /* 3.1.2.9: may reject: strict, exactly one SP between the parts. */
    {"lwsstart", -EBADMSG},
    /* 3.1.2.10: may reject: strict, trailing SP makes the version "SIP/2.0  ". */
    {"trws", -EBADMSG},
    /* 3.1.2.11: escaped headers in the R-URI. Liberal: parsed into ruri_p.headers, never
     * turned into header fields; the proxy decides (test_vec_extras). */
    {"escruri", VEC_WHOLE, SIP_M_INVITE, NULL, "sip:user@example.com?Route=%3Csip:example.com%3E",
     "z9hG4bKkdjuw", "escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5", "149209342", "341518",
     "", "150", "150", "7", "1"},
    /* 3.1.2.12: non-GMT Date: Date is not parsed, accepted. */
    {"baddate", VEC_WHOLE, SIP_M_INVITE, NULL, "sip:user@example.com", "z9hG4bKkdjuw",
     "baddate.239423mnsadf3j23lj42--sedfnm234", "1392934", "2234923", "", "150", "150", "70", "1"},
    /* 3.1.2.13: '?' in a bare Contact addr-spec. sip_parse does not check Contact (a proxy
     * forwards REGISTER): accepted; sip_nameaddr_parse on the value refuses it (extras). */
    {"regbadct", VEC_WHOLE, SIP_M_REGISTER, NULL, "sip:example.com", "z9hG4bKkdjuw",
     "regbadct.k345asrl3fdbv@10.0.0.1", "1", "998332", "", "0", "0", "70", "1"},
    /* 3.1.2.14: LWS inside <> of To: strict, 400. */
    {"badaspec", -EBADMSG},
    /* 3.1.2.15: "Bell, Alexander" unquoted (also: no empty line at the end). */
    {"baddn", -EBADMSG},
    /* 3.1.2.16: SIP/7.0: 505; the slots are filled for it (extras). */
    {"badvers", -EPROTONOSUPPORT},
    /* 3.1.2.17: CSeq method differs from the request's. */
    {"mismatch01", -EBADMSG},
    /* 3.1.2.18: same with an unknown method: 400 (the RFC allows it besides 501). */
    {"mismatch02", -EBADMSG},
    /* 3.1.2.19: status 4294967301: not 3 digits. */
    {"bigcode", -EBADMSG},
    /* 3.2.1: branch "z9hG4bK" alone: liberal, parsed; the proxy's branch hash takes it as it
     * is. */
    {"badbranch", VEC_WHOLE, SIP_M_OPTIONS, NULL, "sip:user@example.com", "z9hG4bK",
     "badbranch.sadonfo23i420jv0as0derf3j3n", "8", "33242", "", "0", "0", "3", "1"},
    /* 3.3.1: To, From, Call-ID missing. */
    {"insuf", -EBADMSG},
    /* 3.3.2: unknown R-URI scheme parses; the proxy answers 416 from ruri_p.scheme. */
    {"unkscm", VEC_WHOLE, SIP_M_OPTIONS, NULL, "nobodyKnowsThisScheme:totallyopaquecontent",
     "z9hG4bKkdjuw39234", "unkscm.nasdfasser0q239nwsdfasdkl34", "3923423", "384", "", "0", "0", "3",
     "1"},
    /* 3.3.3: soap.beep scheme: same as unkscm. */
    {"novelsc", VEC_WHOLE, SIP_M_OPTIONS, NULL, "soap.beep://192.0.2.103:3002", "z9hG4bKkdjuw39234",
     "novelsc.asdfasser0q239nwsdfasdkl34", "3923423", "384", "", "0", "0", "3", "1"},
    /* 3.3.4: unknown schemes in To/From/Contact parse. */
    {"unksm2", VEC_WHOLE, SIP_M_REGISTER, NULL, "sip:example.com", "z9hG4bKkdjuw",
     "unksm2.daksdj@hyphenated-host.example.com", "234902", "3234233", "", "0", "0", "70", "1"},
    /* 3.3.5: Proxy-Require/Require kept; the proxy answers 420 (extras). */
    {"bext01", VEC_WHOLE, SIP_M_OPTIONS, NULL, "sip:user@example.com", "z9hG4bKkdjuw",
     "bext01.0ha0isndaksdj", "8", "242etr", "", "0", "0", "6", "1"},
    /* 3.3.6: unknown Content-Type: a proxy forwards, parsed. */
    {"invut", VEC_WHOLE, SIP_M_INVITE, NULL, "sip:user@example.com", "z9hG4bKkdjuw",
     "invut.0ha0isndaksdjadsfij34n23d", "235448", "8392034", "", "40", "40", "70", "1"},
    /* 3.3.7: unknown Authorization scheme: header kept as is, parsed. */
    {"regaut01", VEC_WHOLE, SIP_M_REGISTER, NULL, "sip:example.com", "z9hG4bKkdjuw",
     "regaut01.0ha0isndaksdj", "9338", "87321hj23128", "", "0", "0", "8", "1"},
    /* 3.3.8: To, From, Call-ID, CSeq, Max-Forwards given twice. */
    {"multi01", -EBADMSG},
    /* 3.3.9: two Content-Length headers. */
    {"mcl01", -EBADMSG},
    /* 3.3.10: 255.255.255.255 in the second Via: parsed, the sender must not use it. */
    {"bcast", VEC_WHOLE, 0, "200", NULL, "z9hG4bK1324923",
     "bcast.0384840201234ksdfak3j2erwedfsASdf", "35", "11141343", "2229", "154", "154", "-", "2"},
    /* 3.3.11: Max-Forwards 0 parses; the proxy answers 483. */
    {"zeromf", VEC_WHOLE, SIP_M_OPTIONS, NULL, "sip:user@example.com", "z9hG4bKkdjuw2349i",
     "zeromf.jfasdlfnm2o2l43r5u0asdfas", "39234321", "3ghsd41", "", "0", "0", "0", "1"},
    /* 3.3.12: bare Contact: ";unknownparam" is a header parameter (extras). */
    {"cparam01", VEC_WHOLE, SIP_M_REGISTER, NULL, "sip:example.com", "z9hG4bKkdjuw",
     "cparam01.70710@saturn.example.com", "2", "DkfVgjkrtMwaerKKpe", "", "0", "0", "70", "1"},
    /* 3.3.13: in <>: a URI parameter (extras). */
    {"cparam02", VEC_WHOLE, SIP_M_REGISTER, NULL, "sip:example.com", "z9hG4bKkdjuw",
     "cparam02.70710@saturn.example.com", "3", "838293", "", "0", "0", "70", "1"},
    /* 3.3.14: escaped Route in a Contact URI: a URI header, parsed (extras). */
    {"regescrt", VEC_WHOLE, SIP_M_REGISTER, NULL, "sip:example.com", "z9hG4bKkdjuw",
     "regescrt.k345asrl3fdbv@192.0.2.1", "14398234", "8", "", "0", "0", "70", "1"},
    /* 3.3.15: Accept with nothing usable: a UAS matter, parsed. */
    {"sdp01", VEC_WHOLE, SIP_M_INVITE, NULL, "sip:user@example.com", "z9hG4bKkdjuw",
     "sdp01.ndaksdj9342dasdd", "8", "234", "", "150", "150", "5", "1"},
    /* 3.4.1: RFC 2543 style: no branch, no Max-Forwards, no Content-Length (the datagram's
     * end frames the body), no From tag. Accepted. */
    {"inv2543", VEC_WHOLE, SIP_M_INVITE, NULL, "sip:UserB@example.com", "",
     "inv2543.1717@ift.client.example.com", "56", "", "", "-", "105", "-", "1"},
};

static void vec_check_fields(const struct vec_case *c, const struct sip_msg *m)
{
	const char *n = c->name;

	if (c->method) {
		assert_true(m->request);
		if (m->method != c->method)
			fail_msg("%s: method %#x, want %#x", n, m->method, c->method);
		expect_str(m->ruri, c->ruri, "R-URI", n);
		/* CSeq method equals the request's */
		assert_true(mr_str_eq(m->cseq_method, m->method_name));
	}
	if (c->status) {
		assert_false(m->request);
		expect_num(m->status, c->status, "status", n);
	}
	assert_true(m->nvia > 0);
	expect_str(m->via[0].branch, c->branch, "top Via branch", n);
	expect_str(m->call_id, c->call_id, "Call-ID", n);
	expect_num(m->cseq, c->cseq, "CSeq", n);
	expect_str(m->from.tag, c->from_tag, "From tag", n);
	expect_str(m->to.tag, c->to_tag, "To tag", n);
	if (strcmp(c->clen, "-") == 0)
		assert_int_equal(m->h[SIP_HDR_CONTENT_LENGTH], -1);
	else
		expect_num(m->content_length, c->clen, "Content-Length", n);
	expect_num(m->body.len, c->body, "body length", n);
	assert_true(m->body.p == m->buf + m->body_off);
	if (strcmp(c->mf, "-") == 0)
		assert_int_equal(m->max_forwards, -1);
	else
		expect_num(m->max_forwards, c->mf, "Max-Forwards", n);
	expect_num(m->nvia, c->nvia, "nvia", n);
}

static void test_rfc4475_table(void **state)
{
	struct sip_msg *m = xmalloc(sizeof(*m));

	(void)state;
	assert_non_null(m);
	assert_int_equal(MR_ARRAY_SIZE(vec_cases), 49);
	for (size_t i = 0; i < MR_ARRAY_SIZE(vec_cases); i++) {
		const struct vec_case *c = &vec_cases[i];
		struct blob b = vec_load(c->name);
		int rc, want;

		rc = sip_parse(m, b.p, b.len, false);
		want = c->ret == VEC_WHOLE ? (int)b.len : c->ret;
		if (rc != want)
			fail_msg("row %zu %s: sip_parse %d, want %d", i, c->name, rc, want);
		if (rc > 0) {
			check_spans(m, b.p, b.len, rc);
			vec_check_fields(c, m);
		}
		/* the stream mode frames the same way where there is a Content-Length */
		if (c->ret > 0 && m->h[SIP_HDR_CONTENT_LENGTH] >= 0)
			assert_int_equal(sip_parse(m, b.p, b.len, true), want);
		free(b.p);
	}
	free(m);
}

/* Every file of the directory has its row (the table is the §7 list). */
static void test_rfc4475_all_files(void **state)
{
	char path[512];
	struct dirent *d;
	unsigned files = 0;
	DIR *dir;

	(void)state;
	snprintf(path, sizeof(path), "%s/rfc4475", MR_TEST_VECTORS);
	dir = opendir(path);
	assert_non_null(dir);
	while ((d = readdir(dir))) {
		size_t n = strlen(d->d_name);
		bool found = false;

		if (n < 5 || strcmp(d->d_name + n - 4, ".dat") != 0)
			continue;
		files++;
		for (size_t i = 0; i < MR_ARRAY_SIZE(vec_cases); i++) {
			if (strlen(vec_cases[i].name) == n - 4 &&
			    memcmp(vec_cases[i].name, d->d_name, n - 4) == 0)
				found = true;
		}
		if (!found)
			fail_msg("%s has no row", d->d_name);
	}
	closedir(dir);
	assert_int_equal(files, 49);
}

static struct parsed *parse_vec(const char *name)
{
	struct parsed *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	p->b = vec_load(name);
	p->rc = sip_parse(&p->m, p->b.p, p->b.len, false);
	return p;
}

/* wsinv: LWS and folding everywhere. */
static void test_vec_wsinv(void **state)
{
	struct parsed *p = parse_vec("wsinv");
	const struct sip_msg *m = &p->m;
	struct sip_nameaddr na;
	struct mr_str v;

	(void)state;
	assert_int_equal(p->rc, (int)p->b.len);
	expect_str(m->ruri_p.host, "chair-dnrc.example.com", "host", "wsinv");
	expect_str(m->ruri_p.params, "unknownparam", "params", "wsinv");
	expect_str(m->from.display, "\"J Rosenberg \\\\\\\"\"", "From display", "wsinv");
	expect_str(m->from.uri, "sip:jdrosen@example.com", "From uri", "wsinv");
	expect_str(m->to.uri, "sip:vivekg@chair-dnrc.example.com", "To uri", "wsinv");
	assert_false(m->to.bracketed);
	expect_str(m->to.params, "tag    = 1918181833n", "To params", "wsinv");
	/* three Via values: one header over three lines, then two values in "v:" */
	assert_int_equal(m->via[0].hdr + 0, m->h[SIP_HDR_VIA]);
	expect_str(m->via[0].transport, "UDP", "via0 transport", "wsinv");
	expect_str(m->via[0].host, "192.0.2.2", "via0 host", "wsinv");
	expect_str(mr_str_make(m->buf + m->via[0].off, m->via[0].len),
	           "SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw", "via0 span", "wsinv");
	assert_int_equal(m->via[1].hdr, m->via[2].hdr);
	assert_true(m->via[1].hdr > m->via[0].hdr);
	expect_str(m->via[1].transport, "TCP", "via1 transport", "wsinv");
	expect_str(m->via[1].host, "spindle.example.com", "via1 host", "wsinv");
	expect_str(m->via[1].branch, "z9hG4bK9ikj8", "via1 branch", "wsinv");
	expect_str(m->via[2].host, "192.168.255.111", "via2 host", "wsinv");
	expect_str(m->via[2].branch, "z9hG4bK30239", "via2 branch", "wsinv");
	expect_str(mr_str_make(m->buf + m->via[1].off, m->via[1].len),
	           "SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8",
	           "via1 span", "wsinv");
	expect_str(mr_str_make(m->buf + m->via[2].off, m->via[2].len),
	           "SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239",
	           "via2 span", "wsinv");
	/* "s :" is an empty Subject; the unknown headers keep their (folded) values */
	expect_str(hdr_value(m, "Subject"), "", "Subject", "wsinv");
	expect_str(hdr_value(m, "NewFangledHeader"),
	           "newfangled value\r\n continued newfangled value", "NewFangledHeader", "wsinv");
	expect_str(hdr_value(m, "UnknownHeaderWithUnusualValue"), ";;,,;;,;", "Unusual", "wsinv");
	assert_true(m->h[SIP_HDR_ROUTE] >= 0);
	assert_int_equal(sip_nameaddr_parse(m->hdrs[m->h[SIP_HDR_ROUTE]].value, &na), 0);
	expect_str(na.uri, "sip:services.example.com;lr;unknownwith=value;unknown-no-value",
	           "Route uri", "wsinv");
	assert_int_equal(sip_nameaddr_parse(hdr_value(m, "Contact"), &na), 0);
	expect_str(na.display, "\"Quoted string \\\"\\\"\"", "Contact display", "wsinv");
	assert_int_equal(sip_param_get(na.params, MR_STR_LIT("newparam"), &v), 1);
	expect_str(v, "newvalue", "newparam", "wsinv");
	assert_int_equal(sip_param_get(na.params, MR_STR_LIT("secondparam"), &v), 1);
	expect_str(v, "", "secondparam", "wsinv");
	assert_int_equal(sip_param_get(na.params, MR_STR_LIT("q"), &v), 1);
	expect_str(v, "0.33", "q", "wsinv");
	/* "Content-Length   : 150" */
	expect_str(m->hdrs[m->h[SIP_HDR_CONTENT_LENGTH]].name, "Content-Length", "CL name",
	           "wsinv");
	parsed_free(p);
}

/* Fields the proxy decides on, per vector. */
static void test_vec_extras(void **state)
{
	struct sip_nameaddr na;
	struct sip_uri u;
	struct mr_str cur, v;
	struct parsed *p;

	(void)state;
	p = parse_vec("intmeth");
	expect_str(p->m.method_name, "!interesting-Method0123456789_*+`.%indeed'~", "method", "im");
	expect_str(p->m.ruri_p.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*", "user",
	           "im");
	expect_str(p->m.ruri_p.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)", "pw", "im");
	expect_str(p->m.ruri_p.host, "example.com", "host", "im");
	assert_int_equal(p->m.to.display.len, 22); /* "BEL:\^G NUL:\^@ DEL:\^?" */
	assert_int_equal(p->m.to.display.p[13], '\0');
	expect_str(p->m.from.display, "token1~` token2'+_ token3*%!.-", "From display", "im");
	parsed_free(p);

	p = parse_vec("esc01");
	assert_int_equal(sip_nameaddr_parse(hdr_value(&p->m, "Contact"), &na), 0);
	expect_str(na.uri, "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31", "uri",
	           "esc01");
	assert_int_equal(sip_uri_parse(na.uri, &u), 0);
	expect_str(u.params, "%6C%72;n%61me=v%61lue%25%34%31", "params", "esc01");
	assert_false(u.lr); /* %6C%72 is not "lr" before unescaping: zero-copy, not compared */
	expect_str(p->m.to.uri, "sip:%75se%72@example.com", "To", "esc01");
	parsed_free(p);

	p = parse_vec("esc02");
	assert_int_equal(p->m.method, SIP_M_OTHER);
	assert_true(hdr_index(&p->m, "C%6Fntact") > 0);
	assert_int_equal(p->m.hdrs[hdr_index(&p->m, "C%6Fntact")].type, SIP_HDR_OTHER);
	expect_str(p->m.to.display, "\"%Z%45\"", "To display", "esc02");
	parsed_free(p);

	p = parse_vec("escnull");
	expect_str(p->m.to.uri, "sip:null-%00-null@example.com", "To", "escnull");
	assert_int_equal(sip_hdr_find(&p->m, MR_STR_LIT("contact"), 0) + 1,
	                 sip_hdr_find(&p->m, MR_STR_LIT("CONTACT"), 0) + 1);
	parsed_free(p);

	p = parse_vec("semiuri");
	expect_str(p->m.ruri_p.user, "user;par=u%40example.net", "user", "semiuri");
	expect_str(p->m.ruri_p.host, "example.com", "host", "semiuri");
	cur = hdr_value(&p->m, "Accept");
	for (int i = 0; i < 6; i++)
		assert_int_equal(sip_value_next(&cur, &v), 1);
	expect_str(v, "message/sipfrag", "last Accept", "semiuri");
	assert_int_equal(sip_value_next(&cur, &v), 0);
	parsed_free(p);

	p = parse_vec("transports");
	{
		static const char *const tr[] = {"UDP", "SCTP", "TLS", "UNKNOWN", "TCP"};

		for (unsigned i = 0; i < 5; i++) {
			expect_str(p->m.via[i].transport, tr[i], "transport", "transports");
			assert_int_equal(p->m.via[i].hdr, p->m.h[SIP_HDR_VIA] + (int)i);
		}
	}
	expect_str(p->m.call_id, "transports.kijh4akdnaqjkwendsasfdj", "Call-ID", "transports");
	parsed_free(p);

	p = parse_vec("mpart01");
	assert_true(p->m.via[0].has_rport);
	expect_str(p->m.via[0].rport, "", "rport", "mpart01");
	expect_str(p->m.via[0].host, "127.0.0.1", "host", "mpart01");
	assert_int_equal(p->m.via[0].port, 5070);
	assert_int_equal(memcmp(p->m.body.p, "--7a9cbec02ceef655\r\n", 20), 0);
	assert_int_equal(memcmp(p->m.body.p + p->m.body.len - 22, "--7a9cbec02ceef655--\r\n", 22),
	                 0);
	parsed_free(p);

	p = parse_vec("unreason");
	assert_int_equal(p->m.reason.len, 74);
	assert_int_equal(memcmp(p->m.reason.p, "= 2**3 * 5**2 ", 14), 0);
	parsed_free(p);

	p = parse_vec("noreason");
	assert_int_equal(p->m.status, 100);
	expect_str(p->m.reason, "", "reason", "noreason");
	parsed_free(p);

	p = parse_vec("escruri");
	expect_str(p->m.ruri_p.headers, "Route=%3Csip:example.com%3E", "headers", "escruri");
	assert_int_equal(p->m.h[SIP_HDR_ROUTE], -1);
	parsed_free(p);

	p = parse_vec("regbadct");
	cur = hdr_value(&p->m, "Contact");
	assert_int_equal(sip_value_next(&cur, &v), 1);
	assert_int_equal(sip_nameaddr_parse(v, &na), -EBADMSG);
	parsed_free(p);

	p = parse_vec("regescrt");
	assert_int_equal(sip_nameaddr_parse(hdr_value(&p->m, "Contact"), &na), 0);
	assert_int_equal(sip_uri_parse(na.uri, &u), 0);
	expect_str(u.headers, "Route=%3Csip:sip.example.com%3E", "headers", "regescrt");
	expect_str(u.user, "user", "user", "regescrt");
	parsed_free(p);

	p = parse_vec("cparam01");
	assert_int_equal(sip_nameaddr_parse(hdr_value(&p->m, "Contact"), &na), 0);
	assert_false(na.bracketed);
	expect_str(na.uri, "sip:+19725552222@gw1.example.net", "uri", "cparam01");
	expect_str(na.params, "unknownparam", "params", "cparam01");
	parsed_free(p);

	p = parse_vec("cparam02");
	assert_int_equal(sip_nameaddr_parse(hdr_value(&p->m, "m"), &na), 0);
	assert_true(na.bracketed);
	expect_str(na.uri, "sip:+19725552222@gw1.example.net;unknownparam", "uri", "cparam02");
	expect_str(na.params, "", "params", "cparam02");
	assert_int_equal(sip_uri_parse(na.uri, &u), 0);
	expect_str(u.params, "unknownparam", "uri params", "cparam02");
	parsed_free(p);

	p = parse_vec("unkscm");
	expect_str(p->m.ruri_p.scheme, "nobodyKnowsThisScheme", "scheme", "unkscm");
	expect_str(p->m.ruri_p.user, "totallyopaquecontent", "opaque", "unkscm");
	expect_str(p->m.ruri_p.host, "", "host", "unkscm");
	parsed_free(p);

	p = parse_vec("novelsc");
	expect_str(p->m.ruri_p.scheme, "soap.beep", "scheme", "novelsc");
	parsed_free(p);

	p = parse_vec("unksm2");
	expect_str(p->m.to.uri, "isbn:2983792873", "To", "unksm2");
	expect_str(p->m.from.uri, "http://www.example.com", "From", "unksm2");
	assert_int_equal(sip_nameaddr_parse(hdr_value(&p->m, "Contact"), &na), 0);
	expect_str(na.uri, "name:John_Smith", "Contact", "unksm2");
	parsed_free(p);

	p = parse_vec("bext01");
	assert_true(p->m.h[SIP_HDR_PROXY_REQUIRE] >= 0 && p->m.h[SIP_HDR_REQUIRE] >= 0);
	cur = p->m.hdrs[p->m.h[SIP_HDR_PROXY_REQUIRE]].value;
	assert_int_equal(sip_value_next(&cur, &v), 1);
	expect_str(v, "noProxiesSupportThis", "opt1", "bext01");
	assert_int_equal(sip_value_next(&cur, &v), 1);
	expect_str(v, "norDoAnyProxiesSupportThis", "opt2", "bext01");
	assert_int_equal(sip_value_next(&cur, &v), 0);
	expect_str(p->m.via[0].transport, "TLS", "transport", "bext01");
	parsed_free(p);

	p = parse_vec("invut");
	expect_str(p->m.hdrs[p->m.h[SIP_HDR_CONTENT_TYPE]].value, "application/unknownformat", "CT",
	           "invut");
	parsed_free(p);

	p = parse_vec("regaut01");
	expect_str(p->m.hdrs[p->m.h[SIP_HDR_AUTHORIZATION]].value,
	           "NoOneKnowsThisScheme opaque-data=here", "Authorization", "regaut01");
	parsed_free(p);

	p = parse_vec("bcast");
	expect_str(p->m.via[1].host, "255.255.255.255", "via1", "bcast");
	expect_str(p->m.via[1].branch, "z9hG4bK1saber23", "via1 branch", "bcast");
	parsed_free(p);

	p = parse_vec("zeromf");
	assert_int_equal(p->m.max_forwards, 0);
	parsed_free(p);

	p = parse_vec("inv2543");
	expect_str(p->m.via[0].host, "iftgw.example.com", "via", "inv2543");
	expect_str(p->m.via[0].params, "", "via params", "inv2543");
	expect_str(p->m.from.params, "", "From params", "inv2543");
	assert_true(p->m.h[SIP_HDR_RECORD_ROUTE] >= 0);
	parsed_free(p);

	p = parse_vec("dblreq");
	assert_int_equal(p->m.len, 300);
	assert_int_equal(p->m.body.len, 0);
	assert_int_equal(p->m.body_off, 300);
	expect_str(p->m.call_id, "dblreq.0ha0isndaksdj99sdfafnl3lk233412", "I:", "dblreq");
	parsed_free(p);

	/* 505: the slots for the answer are there */
	p = parse_vec("badvers");
	assert_int_equal(p->rc, -EPROTONOSUPPORT);
	assert_true(p->m.request);
	expect_str(p->m.call_id, "badvers.31417@c.example.com", "Call-ID", "badvers");
	assert_int_equal(p->m.nvia, 1);
	expect_str(p->m.via[0].branch, "z9hG4bKkdjuw", "branch", "badvers");
	assert_int_equal(p->m.cseq, 1);
	expect_str(p->m.from.tag, "qweoiqpe", "From tag", "badvers");
	parsed_free(p);

	/* a bad start line in a datagram: the slots of the 400 are filled all the same */
	p = parse_vec("lwsstart");
	assert_int_equal(p->rc, -EBADMSG);
	assert_true(p->m.request);
	expect_str(p->m.method_name, "INVITE", "method", "lwsstart");
	expect_str(p->m.call_id, "lwsstart.dfknq234oi243099adsdfnawe3@example.com", "Call-ID",
	           "lwsstart");
	expect_str(p->m.via[0].branch, "z9hG4bKkdjuw3923", "branch", "lwsstart");
	expect_str(p->m.from.tag, "8814", "From tag", "lwsstart");
	assert_int_equal(sip_parse(&p->m, p->b.p, p->b.len, true), -EBADMSG);
	parsed_free(p);

	/* badinv01: the 400 can still be addressed with what was parsed */
	p = parse_vec("badinv01");
	assert_int_equal(p->rc, -EBADMSG);
	expect_str(p->m.call_id, "badinv01.0ha0isndaksdjasdf3234nas", "Call-ID", "badinv01");
	assert_int_equal(p->m.cseq, 8);
	parsed_free(p);
}

/* baddn fails on its display name, not only on its missing empty line. */
static void test_vec_baddn(void **state)
{
	struct blob b = vec_load("baddn");
	char *s = xmalloc(b.len + 3);
	struct sip_msg *m = xmalloc(sizeof(*m));
	char *q;

	(void)state;
	assert_non_null(s);
	assert_non_null(m);
	memcpy(s, b.p, b.len);
	memcpy(s + b.len, CRLF, 2);
	s[b.len + 2] = '\0';
	assert_int_equal(sip_parse(m, s, b.len + 2, false), -EBADMSG);
	/* quote both display names: then it parses */
	q = strstr(s, "Bell, Alexander");
	assert_non_null(q);
	memcpy(q - 1, "\"Bell,Alexander\"", 16);
	q = strstr(s, "Watson, Thomas");
	memcpy(q - 1, "\"Watson,Thomas\"", 15);
	assert_int_equal(sip_parse(m, s, b.len + 2, false), (int)b.len + 2);
	expect_str(m->from.display, "\"Bell,Alexander\"", "display", "baddn");
	free(m);
	free(s);
	free(b.p);
}

/* longreq cut to 32 Via values parses: long values, no fixed buffers. */
static void test_vec_longreq(void **state)
{
	struct blob b = vec_load("longreq");
	struct blob out = blob_copy(b.p, b.len);
	const char *p = b.p, *end = b.p + b.len;
	struct sip_msg *m = xmalloc(sizeof(*m));
	char *s = out.p, *w = out.p;
	unsigned dropped = 0;
	int rc;

	(void)state;
	if (!p || !w)
		abort(); /* for the compiler's null-argument analysis */
	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t n = lf ? (size_t)(lf + 1 - p) : (size_t)(end - p);

		if ((n == 36 && memcmp(p, "Via: SIP/2.0/TCP sip33.example.com\r\n", n) == 0) ||
		    (n == 34 && memcmp(p, "v: SIP/2.0/TCP sip32.example.com\r\n", n) == 0)) {
			dropped++;
		} else {
			memmove(w, p, n);
			w += n;
		}
		p += n;
	}
	assert_int_equal(dropped, 2);
	rc = sip_parse(m, s, (uint32_t)(w - s), false);
	assert_int_equal(rc, (int)(w - s));
	assert_int_equal(m->nvia, 32);
	expect_str(m->via[31].host, "host.example.com", "last via", "longreq");
	expect_str(m->via[31].received, "192.0.2.5", "received", "longreq");
	assert_int_equal(m->via[31].branch.len, 215);
	assert_int_equal(m->to.display.len, 105);
	expect_str(
	    m->to.uri,
	    "sip:user@example.com:6000;unknownparam1=verylonglonglonglonglonglonglonglonglonglong"
	    "longlonglonglonglonglonglonglonglonglongvalue;"
	    "longparamnamenamenamenamenamenamenamename"
	    "namenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamename=shortvalue;"
	    "verylon"
	    "glonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglongl"
	    "on"
	    "glonglongParameterNameWithNoValue",
	    "To uri", "longreq");
	assert_int_equal(m->from.tag.len, 155);
	assert_int_equal(m->call_id.len, 141);
	assert_int_equal(m->content_length, 150);
	assert_int_equal(m->body.len, 150);
	free(m);
	free(s);
	free(b.p);
}

/* ---- (2) RFC 5118 IPv6 cases (written from the RFC's messages) --------------------------- */

#define V6_TAIL                                                                                    \
	"To: sip:user@example.com" CRLF "From: sip:user@example.com;tag=81x2" CRLF                 \
	"Call-ID: SSG9559905523997077@hlau_4100" CRLF "Max-Forwards: 70" CRLF

#define V6_SDP                                                                                     \
	"v=0" CRLF "o=assistant 971731711378798081 0 IN IP6 2001:db8::20" CRLF                     \
	"s=Live video feed" CRLF "c=IN IP6 2001:db8::20" CRLF "t=0 0" CRLF                         \
	"m=video 6000 RTP/AVP 31" CRLF

struct v6_case {
	const char *name;
	const char *msg;
	int ret; /* 1: parses whole, else the error */
	const char *ruri_host;
	unsigned ruri_port;
	const char *via_host; /* top Via */
	unsigned via_port;
	const char *received; /* top Via, NULL not checked */
	const char *contact_uri_host;
};

static const struct v6_case v6_cases[] = {
    /* 4.1 ipv6-good */
    {"ipv6-good",
     "REGISTER sip:[2001:db8::10] SIP/2.0" CRLF V6_TAIL
     "Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111" CRLF
     "Contact: \"Caller\" <sip:caller@[2001:db8::1]>" CRLF "CSeq: 98176 REGISTER" CRLF
     "Content-Length: 0" CRLF CRLF,
     1, "[2001:db8::10]", 0, "[2001:db8::9:1]", 0, "", "[2001:db8::1]"},
    /* 4.2 ipv6-bad: R-URI (and Via) host not bracketed: 400 */
    {"ipv6-bad",
     "REGISTER sip:2001:db8::10 SIP/2.0" CRLF V6_TAIL
     "Via: SIP/2.0/UDP 2001:db8::9:1;branch=z9hG4bKas3-111" CRLF
     "Contact: \"Caller\" <sip:caller@2001:db8::1>" CRLF "CSeq: 98176 REGISTER" CRLF
     "Content-Length: 0" CRLF CRLF,
     -EBADMSG},
    /* same, only the R-URI (with a user part) unbracketed */
    {"ipv6-bad-ruri-user",
     "REGISTER sip:user@2001:db8::10 SIP/2.0" CRLF V6_TAIL
     "Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111" CRLF "CSeq: 98176 REGISTER" CRLF
     "Content-Length: 0" CRLF CRLF,
     -EBADMSG},
    /* only the Via unbracketed */
    {"ipv6-bad-via",
     "REGISTER sip:[2001:db8::10] SIP/2.0" CRLF V6_TAIL
     "Via: SIP/2.0/UDP 2001:db8::9:1;branch=z9hG4bKas3-111" CRLF "CSeq: 98176 REGISTER" CRLF
     "Content-Length: 0" CRLF CRLF,
     -EBADMSG},
    /* 4.3 port-ambiguous: all of it is the address, no port */
    {"port-ambiguous",
     "REGISTER sip:[2001:db8::10:5070] SIP/2.0" CRLF V6_TAIL
     "Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111" CRLF
     "Contact: \"Caller\" <sip:caller@[2001:db8::1]>" CRLF "CSeq: 98176 REGISTER" CRLF
     "Content-Length: 0" CRLF CRLF,
     1, "[2001:db8::10:5070]", 0, "[2001:db8::9:1]", 0, NULL, "[2001:db8::1]"},
    /* 4.4 port-unambiguous */
    {"port-unambiguous",
     "REGISTER sip:[2001:db8::10]:5070 SIP/2.0" CRLF V6_TAIL
     "Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111" CRLF
     "Contact: \"Caller\" <sip:caller@[2001:db8::1]>" CRLF "CSeq: 98176 REGISTER" CRLF
     "Content-Length: 0" CRLF CRLF,
     1, "[2001:db8::10]", 5070, "[2001:db8::9:1]", 0, NULL, "[2001:db8::1]"},
    /* 4.5 via-received-param-with-delim */
    {"via-received-param-with-delim",
     "BYE sip:[2001:db8::10] SIP/2.0" CRLF "To: sip:user@example.com;tag=bd76ya" CRLF
     "From: sip:user@example.com;tag=81x2" CRLF
     "Via: SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111" CRLF
     "Call-ID: SSG9559905523997077@hlau_4100" CRLF "Max-Forwards: 70" CRLF "CSeq: 321 BYE" CRLF
     "Content-Length: 0" CRLF CRLF,
     1, "[2001:db8::10]", 0, "[2001:db8::9:1]", 0, "[2001:db8::9:255]", NULL},
    /* 4.5 via-received-param-no-delim */
    {"via-received-param-no-delim",
     "OPTIONS sip:[2001:db8::10] SIP/2.0" CRLF "To: sip:user@example.com" CRLF
     "From: sip:user@example.com;tag=81x2" CRLF
     "Via: SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3" CRLF
     "Call-ID: SSG95523997077@hlau_4100" CRLF "Max-Forwards: 70" CRLF
     "Contact: \"Caller\" <sip:caller@[2001:db8::9:1]>" CRLF "CSeq: 921 OPTIONS" CRLF
     "Content-Length: 0" CRLF CRLF,
     1, "[2001:db8::10]", 0, "[2001:db8::9:1]", 0, "2001:db8::9:255", "[2001:db8::9:1]"},
    /* 4.6 ipv6-in-sdp */
    {"ipv6-in-sdp",
     "INVITE sip:user@[2001:db8::10] SIP/2.0" CRLF V6_TAIL
     "Via: SIP/2.0/UDP [2001:db8::20];branch=z9hG4bKas3-111" CRLF
     "Contact: \"Caller\" <sip:caller@[2001:db8::20]>" CRLF "CSeq: 8612 INVITE" CRLF
     "Content-Type: application/sdp" CRLF "Content-Length: 133" CRLF CRLF V6_SDP,
     1, "[2001:db8::10]", 0, "[2001:db8::20]", 0, NULL, "[2001:db8::20]"},
    /* 4.7 mult-ip-in-header */
    {"mult-ip-in-header",
     "BYE sip:user@host.example.net SIP/2.0" CRLF
     "Via: SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111" CRLF
     "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKjhja8781hjuaij65144" CRLF
     "Via: SIP/2.0/TCP [2001:db8::9:255];branch=z9hG4bK451jj;received=192.0.2.200" CRLF
     "Call-ID: 997077@lau_4100" CRLF "Max-Forwards: 70" CRLF "CSeq: 89187 BYE" CRLF
     "To: sip:user@example.net;tag=9817--94" CRLF "From: sip:user@example.com;tag=81x2" CRLF
     "Content-Length: 0" CRLF CRLF,
     1, "host.example.net", 0, "[2001:db8::9:1]", 6050, "", NULL},
    /* 4.8 mult-ip-in-sdp (IPv4 and IPv6 in the body: the parser does not look) */
    {"mult-ip-in-sdp",
     "INVITE sip:user@[2001:db8::10] SIP/2.0" CRLF V6_TAIL
     "Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111" CRLF
     "Contact: \"Caller\" <sip:caller@[2001:db8::9:1]>" CRLF "CSeq: 8912 INVITE" CRLF
     "Content-Type: application/sdp" CRLF "Content-Length: 133" CRLF CRLF V6_SDP,
     1, "[2001:db8::10]", 0, "[2001:db8::9:1]", 0, NULL, "[2001:db8::9:1]"},
    /* 4.9 ipv4-mapped-ipv6 */
    {"ipv4-mapped-ipv6",
     "INVITE sip:user@[::ffff:192.0.2.10] SIP/2.0" CRLF V6_TAIL
     "Via: SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19" CRLF
     "Contact: \"T. desk phone\" <sip:ted@[::ffff:192.0.2.10]:19823>" CRLF "CSeq: 612 INVITE" CRLF
     "Content-Length: 0" CRLF CRLF,
     1, "[::ffff:192.0.2.10]", 0, "[::ffff:192.0.2.10]", 19823, NULL, "[::ffff:192.0.2.10]"},
    /* 4.10 ipv6-bug-abnf-3-colons: RFC 3261's ABNF admits ":::", RFC 4291 does not. Decision:
     * strict (inet_pton), 400 — the address could be repaired but nothing sends this. */
    {"ipv6-bug-abnf-3-colons",
     "OPTIONS sip:user@[2001:db8:::192.0.2.1] SIP/2.0" CRLF V6_TAIL
     "Via: SIP/2.0/UDP [2001:db8:::192.0.2.1];branch=z9hG4bKas3-111" CRLF "CSeq: 6731 OPTIONS" CRLF
     "Content-Length: 0" CRLF CRLF,
     -EBADMSG},
    /* 4.10 ipv6-correct-abnf-2-colons */
    {"ipv6-correct-abnf-2-colons",
     "OPTIONS sip:user@[2001:db8::192.0.2.1] SIP/2.0" CRLF V6_TAIL
     "Via: SIP/2.0/UDP [2001:db8::192.0.2.1];branch=z9hG4bKas3-111" CRLF "CSeq: 6731 OPTIONS" CRLF
     "Content-Length: 0" CRLF CRLF,
     1, "[2001:db8::192.0.2.1]", 0, "[2001:db8::192.0.2.1]", 0, NULL, NULL},
};

static void test_rfc5118(void **state)
{
	(void)state;
	for (size_t i = 0; i < MR_ARRAY_SIZE(v6_cases); i++) {
		const struct v6_case *c = &v6_cases[i];
		struct parsed *p = parse_str(c->msg, false);
		const struct sip_msg *m = &p->m;

		if (c->ret < 0) {
			if (p->rc != c->ret)
				fail_msg("%s: %d, want %d", c->name, p->rc, c->ret);
			parsed_free(p);
			continue;
		}
		if (p->rc != (int)p->b.len)
			fail_msg("%s: %d, want %u", c->name, p->rc, p->b.len);
		check_spans(m, p->b.p, p->b.len, p->rc);
		expect_str(m->ruri_p.host, c->ruri_host, "R-URI host", c->name);
		assert_int_equal(m->ruri_p.port, c->ruri_port);
		expect_str(m->via[0].host, c->via_host, "Via host", c->name);
		assert_int_equal(m->via[0].port, c->via_port);
		if (c->received)
			expect_str(m->via[0].received, c->received, "received", c->name);
		if (c->contact_uri_host) {
			struct sip_nameaddr na;
			struct sip_uri u;

			assert_int_equal(sip_nameaddr_parse(hdr_value(m, "Contact"), &na), 0);
			assert_int_equal(sip_uri_parse(na.uri, &u), 0);
			expect_str(u.host, c->contact_uri_host, "Contact host", c->name);
		}
		parsed_free(p);
	}
}

/* mult-ip-in-header: all three values. */
static void test_rfc5118_mult_via(void **state)
{
	struct parsed *p = parse_str(v6_cases[9].msg, false);

	(void)state;
	assert_string_equal(v6_cases[9].name, "mult-ip-in-header");
	assert_int_equal(p->m.nvia, 3);
	expect_str(p->m.via[1].host, "192.0.2.1", "via1", "mult");
	expect_str(p->m.via[2].host, "[2001:db8::9:255]", "via2", "mult");
	expect_str(p->m.via[2].transport, "TCP", "via2 tr", "mult");
	expect_str(p->m.via[2].received, "192.0.2.200", "via2 received", "mult");
	expect_str(p->m.via[2].branch, "z9hG4bK451jj", "via2 branch", "mult");
	parsed_free(p);
}

/* ---- (3) unit tables ---------------------------------------------------------------------- */

struct uri_case {
	const char *in;
	int ret;
	const char *scheme, *user, *password, *host;
	unsigned port;
	const char *params, *headers;
	bool lr;
	const char *transport, *maddr;
};

static const struct uri_case uri_cases[] = {
    {"sip:alice@atlanta.com", 0, "sip", "alice", "", "atlanta.com", 0, "", "", false, "", ""},
    {"sips:alice:secretword@atlanta.com;transport=tcp", 0, "sips", "alice", "secretword",
     "atlanta.com", 0, "transport=tcp", "", false, "tcp", ""},
    {"sip:+1-212-555-1212:1234@gateway.com;user=phone", 0, "sip", "+1-212-555-1212", "1234",
     "gateway.com", 0, "user=phone", "", false, "", ""},
    {"sip:alice@192.0.2.4:5070;lr;maddr=239.255.255.1?subject=project%20x&priority=urgent", 0,
     "sip", "alice", "", "192.0.2.4", 5070, "lr;maddr=239.255.255.1",
     "subject=project%20x&priority=urgent", true, "", "239.255.255.1"},
    {"sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com", 0, "sip", "", "", "atlanta.com", 0,
     "method=REGISTER", "to=alice%40atlanta.com", false, "", ""},
    {"SIP:Host.Example.COM:5060", 0, "SIP", "", "", "Host.Example.COM", 5060, "", "", false, "",
     ""},
    {"sip:[2001:db8::1]:5061;transport=tls", 0, "sip", "", "", "[2001:db8::1]", 5061,
     "transport=tls", "", false, "tls", ""},
    {"sip:user@[::ffff:192.0.2.1]", 0, "sip", "user", "", "[::ffff:192.0.2.1]", 0, "", "", false,
     "", ""},
    {"sip:h;LR=on;transport=udp;transport=tcp", 0, "sip", "", "", "h", 0,
     "LR=on;transport=udp;transport=tcp", "", true, "udp", ""},
    {"sip:my_host-1.example.com:65535", 0, "sip", "", "", "my_host-1.example.com", 65535, "", "",
     false, "", ""},
    {"tel:+358-555-1234567;postd=pp22", 0, "tel", "+358-555-1234567", "", "", 0, "postd=pp22", "",
     false, "", ""},
    {"urn:service:sos", 0, "urn", "service:sos", "", "", 0, "", "", false, "", ""},
    {"sip:%61lice@h", 0, "sip", "%61lice", "", "h", 0, "", "", false, "", ""},
    {"", -EBADMSG},
    {"sip:", -EBADMSG},
    {"sip:@host", -EBADMSG},
    {"sip::pw@host", -EBADMSG},
    {"sip:user@", -EBADMSG},
    {"sip:host:", -EBADMSG},
    {"sip:host:0", -EBADMSG},
    {"sip:host:65536", -EBADMSG},
    {"sip:host:123456", -EBADMSG},
    {"sip:host:50x", -EBADMSG},
    {"sip:[2001:db8::1", -EBADMSG},
    {"sip:[2001:db8:::1]", -EBADMSG},
    {"sip:[]", -EBADMSG},
    {"sip:[1.2.3.4]", -EBADMSG},
    {"sip:2001:db8::10", -EBADMSG},
    {"sip:host;", -EBADMSG},
    {"sip:host;;lr", -EBADMSG},
    {"sip:host;=x", -EBADMSG},
    {"sip:host;a=", -EBADMSG},
    {"sip:host?", -EBADMSG},
    {"sip:ho st", -EBADMSG},
    {"sip:host\t", -EBADMSG},
    {"sip:host;lr x", -EBADMSG},
    {"sip:host>", -EBADMSG},
    {"<sip:host>", -EBADMSG},
    {"1sip:host", -EBADMSG},
    {"sip:user@host@x", -EBADMSG},
    {"sip:us er@host", -EBADMSG},
    {"sip:us\"er@host", -EBADMSG},
    {"nocolon", -EBADMSG},
    {"x:", -EBADMSG},
    {"urn:a b", -EBADMSG},
};

static void test_uri_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < MR_ARRAY_SIZE(uri_cases); i++) {
		const struct uri_case *c = &uri_cases[i];
		struct blob b = blob_str(c->in);
		struct sip_uri u;
		char ctx[96];
		int rc;

		snprintf(ctx, sizeof(ctx), "uri row %zu \"%s\"", i, c->in);
		rc = sip_uri_parse(mr_str_make(b.p, b.len), &u);
		if (rc != c->ret)
			fail_msg("%s: %d, want %d", ctx, rc, c->ret);
		if (!rc) {
			expect_str(u.scheme, c->scheme, "scheme", ctx);
			expect_str(u.user, c->user, "user", ctx);
			expect_str(u.password, c->password, "password", ctx);
			expect_str(u.host, c->host, "host", ctx);
			assert_int_equal(u.port, c->port);
			expect_str(u.params, c->params, "params", ctx);
			expect_str(u.headers, c->headers, "headers", ctx);
			assert_int_equal(u.lr, c->lr);
			expect_str(u.transport, c->transport, "transport", ctx);
			expect_str(u.maddr, c->maddr, "maddr", ctx);
		}
		free(b.p);
	}
}

struct na_case {
	const char *in;
	int ret;
	const char *display, *uri;
	bool bracketed;
	const char *params, *tag;
};

static const struct na_case na_cases[] = {
    {"\"A. G. Bell\" <sip:agb@bell-telephone.com> ;tag=a48s", 0, "\"A. G. Bell\"",
     "sip:agb@bell-telephone.com", true, "tag=a48s", "a48s"},
    {"Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8", 0, "Anonymous",
     "sip:c8oqz84zk7z@privacy.org", true, "tag=hyh8", "hyh8"},
    {"sip:+12125551212@server.phone2net.com;tag=887s", 0, "",
     "sip:+12125551212@server.phone2net.com", false, "tag=887s", "887s"},
    {"<sip:a@b>", 0, "", "sip:a@b", true, "", ""},
    {"caller<sip:caller@example.com>;tag=323", 0, "caller", "sip:caller@example.com", true,
     "tag=323", "323"},
    {"  \"\" <sip:a@b>  ", 0, "\"\"", "sip:a@b", true, "", ""},
    {"\"esc \\\" q,<>\" <sip:a@b>", 0, "\"esc \\\" q,<>\"", "sip:a@b", true, "", ""},
    {"Mr  J.  User <sip:a@b>", 0, "Mr  J.  User", "sip:a@b", true, "", ""},
    {"sip:a@b ; tag = x ; foo", 0, "", "sip:a@b", false, "tag = x ; foo", "x"},
    {"<sip:a@b;lr>;tag=\"quoted\"", 0, "", "sip:a@b;lr", true, "tag=\"quoted\"", "\"quoted\""},
    {"<sip:a@b>;TAG=1;tag=2", 0, "", "sip:a@b", true, "TAG=1;tag=2", "1"},
    {"<sip:a@b>\r\n ;\r\n tag=7", 0, "", "sip:a@b", true, "tag=7", "7"},
    {"<urn:service:sos>", 0, "", "urn:service:sos", true, "", ""},
    {"<sip:a@b?Route=%3Csip:c%3E>", 0, "", "sip:a@b?Route=%3Csip:c%3E", true, "", ""},
    {"", -EBADMSG},
    {"   ", -EBADMSG},
    {"\"open <sip:a@b>", -EBADMSG},
    {"Bell, Alexander <sip:a@b>", -EBADMSG},
    {"< sip:a@b >", -EBADMSG},
    {"<sip:a@b >", -EBADMSG},
    {"<sip:a@b", -EBADMSG},
    {"<>", -EBADMSG},
    {"<a>", -EBADMSG},
    {"<:a>", -EBADMSG},
    {"sip:a@b;", -EBADMSG},
    {"sip:a@b;;tag=1", -EBADMSG},
    {"<sip:a@b>x", -EBADMSG},
    {"<sip:a@b> ;tag=", -EBADMSG},
    {"<sip:a@b>;tag=\"open", -EBADMSG},
    {"\"x\"sip:a@b", -EBADMSG},
    {"sip:a@b?x=y", -EBADMSG},
    {"sip:a@b,sip:c@d", -EBADMSG},
    {"<sip:a@b>, <sip:c@d>", -EBADMSG},
    {"foo bar", -EBADMSG},
    {"\"x\\", -EBADMSG},
    {"\"x\\\r\n\" <sip:a@b>", -EBADMSG},
    {"n\xc3\xa9 <sip:a@b>", -EBADMSG},
};

static void test_nameaddr_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < MR_ARRAY_SIZE(na_cases); i++) {
		const struct na_case *c = &na_cases[i];
		struct blob b = blob_str(c->in);
		struct sip_nameaddr na;
		char ctx[96];
		int rc;

		snprintf(ctx, sizeof(ctx), "nameaddr row %zu", i);
		rc = sip_nameaddr_parse(mr_str_make(b.p, b.len), &na);
		if (rc != c->ret)
			fail_msg("%s \"%s\": %d, want %d", ctx, c->in, rc, c->ret);
		if (!rc) {
			expect_str(na.display, c->display, "display", ctx);
			expect_str(na.uri, c->uri, "uri", ctx);
			assert_int_equal(na.bracketed, c->bracketed);
			expect_str(na.params, c->params, "params", ctx);
			expect_str(na.tag, c->tag, "tag", ctx);
		}
		free(b.p);
	}
}

static const struct {
	const char *params, *name;
	int ret;
	const char *val;
} param_cases[] = {
    {"branch=z9;received=1.2.3.4;rport", "received", 1, "1.2.3.4"},
    {"branch=z9;received=1.2.3.4;rport", "RPORT", 1, ""},
    {"branch=z9;received=1.2.3.4;rport", "branch", 1, "z9"},
    {";lr", "lr", 1, ""},
    {"a = b ; c=\"q;x\"", "c", 1, "\"q;x\""},
    {" a=1 ;\r\n b=2", "b", 1, "2"},
    {"received=[2001:db8::1];x", "received", 1, "[2001:db8::1]"},
    {"received=2001:db8::9:255", "received", 1, "2001:db8::9:255"},
    {"x=1;x=2", "x", 1, "1"},
    {"a=b", "x", 0, NULL},
    {"a=b", "a=b", 0, NULL},
    {"", "a", 0, NULL},
    {"tag=1;;x=2", "x", 0, NULL},
    {"tag=1;;x=2", "tag", 1, "1"},
    {"a=\"open;x=1", "x", 0, NULL},
};

static void test_param_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < MR_ARRAY_SIZE(param_cases); i++) {
		struct blob b = blob_str(param_cases[i].params);
		struct mr_str v = {0};
		char ctx[48];
		int rc;

		snprintf(ctx, sizeof(ctx), "param row %zu", i);
		rc = sip_param_get(mr_str_make(b.p, b.len), mr_str_c(param_cases[i].name), &v);
		if (rc != param_cases[i].ret)
			fail_msg("%s: %d, want %d", ctx, rc, param_cases[i].ret);
		if (rc == 1)
			expect_str(v, param_cases[i].val, "value", ctx);
		free(b.p);
	}
}

/* Elements then the final return (0 end, or -EBADMSG). */
static const struct {
	const char *in;
	const char *out[4];
	int last;
} list_cases[] = {
    {"a, b ,c", {"a", "b", "c"}, 0},
    {"<sip:a,b>;x=\"1,2\", \"q,\" <sip:c>", {"<sip:a,b>;x=\"1,2\"", "\"q,\" <sip:c>"}, 0},
    {"  x  ", {"x"}, 0},
    {"", {NULL}, 0},
    {"   ", {NULL}, 0},
    {"application/sdp, application/pkcs7-mime,\r\n        multipart/mixed",
     {"application/sdp", "application/pkcs7-mime", "multipart/mixed"},
     0},
    {"Digest realm=\"a,b\", nonce=\"n\"", {"Digest realm=\"a,b\"", "nonce=\"n\""}, 0},
    {"a,,b", {"a"}, -EBADMSG},
    {",a", {NULL}, -EBADMSG},
    {"a,", {"a"}, -EBADMSG},
    {"a , ", {"a"}, -EBADMSG},
    {"\"open", {NULL}, -EBADMSG},
    {"a, \"open", {"a"}, -EBADMSG},
    {"<open", {NULL}, -EBADMSG},
};

static void test_value_next_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < MR_ARRAY_SIZE(list_cases); i++) {
		struct blob b = blob_str(list_cases[i].in);
		struct mr_str cur = mr_str_make(b.p, b.len), out;
		char ctx[48];
		unsigned k = 0;
		int rc;

		snprintf(ctx, sizeof(ctx), "list row %zu", i);
		while ((rc = sip_value_next(&cur, &out)) == 1) {
			assert_true(k < 4 && list_cases[i].out[k]);
			expect_str(out, list_cases[i].out[k], "element", ctx);
			k++;
		}
		if (rc != list_cases[i].last || (k < 4 && list_cases[i].out[k]))
			fail_msg("%s: ends %d after %u, want %d", ctx, rc, k, list_cases[i].last);
		free(b.p);
	}
}

static void test_hdr_names(void **state)
{
	static const struct {
		const char *name;
		enum sip_hdr_type t;
	} names[] = {
	    {"Via", SIP_HDR_VIA},
	    {"v", SIP_HDR_VIA},
	    {"V", SIP_HDR_VIA},
	    {"vIa", SIP_HDR_VIA},
	    {"From", SIP_HDR_FROM},
	    {"f", SIP_HDR_FROM},
	    {"TO", SIP_HDR_TO},
	    {"t", SIP_HDR_TO},
	    {"call-id", SIP_HDR_CALL_ID},
	    {"I", SIP_HDR_CALL_ID},
	    {"CSeq", SIP_HDR_CSEQ},
	    {"Max-Forwards", SIP_HDR_MAX_FORWARDS},
	    {"Route", SIP_HDR_ROUTE},
	    {"Record-Route", SIP_HDR_RECORD_ROUTE},
	    {"Contact", SIP_HDR_CONTACT},
	    {"m", SIP_HDR_CONTACT},
	    {"Content-Length", SIP_HDR_CONTENT_LENGTH},
	    {"L", SIP_HDR_CONTENT_LENGTH},
	    {"Content-Type", SIP_HDR_CONTENT_TYPE},
	    {"c", SIP_HDR_CONTENT_TYPE},
	    {"Proxy-Authorization", SIP_HDR_PROXY_AUTHORIZATION},
	    {"Proxy-Authenticate", SIP_HDR_PROXY_AUTHENTICATE},
	    {"Authorization", SIP_HDR_AUTHORIZATION},
	    {"Proxy-Require", SIP_HDR_PROXY_REQUIRE},
	    {"Require", SIP_HDR_REQUIRE},
	    {"Supported", SIP_HDR_SUPPORTED},
	    {"k", SIP_HDR_SUPPORTED},
	    {"Expires", SIP_HDR_EXPIRES},
	    {"s", SIP_HDR_OTHER},
	    {"Vias", SIP_HDR_OTHER},
	    {"Contacts", SIP_HDR_OTHER},
	    {"Call_ID", SIP_HDR_OTHER},
	    {"Max-Forward", SIP_HDR_OTHER},
	    {"Content-Lengt_", SIP_HDR_OTHER},
	    {"C%6Fntact", SIP_HDR_OTHER},
	    {"", SIP_HDR_OTHER},
	};
	static const char *const compact[][2] = {
	    {"v", "Via"},
	    {"f", "From"},
	    {"t", "To"},
	    {"i", "Call-ID"},
	    {"m", "Contact"},
	    {"l", "Content-Length"},
	    {"c", "Content-Type"},
	    {"k", "Supported"},
	    {"s", "Subject"},
	    {"e", "Content-Encoding"},
	    {"o", "Event"},
	    {"u", "Allow-Events"},
	    {"r", "Refer-To"},
	    {"b", "Referred-By"},
	    {"x", "Session-Expires"},
	    {"a", "Accept-Contact"},
	    {"j", "Reject-Contact"},
	    {"d", "Request-Disposition"},
	    {"y", "Identity"},
	    {"n", "Identity-Info"},
	    {"Y", "Identity"},
	    {"g", "g"},
	    {"Via", "Via"},
	};

	(void)state;
	for (size_t i = 0; i < MR_ARRAY_SIZE(names); i++) {
		if (sip_hdr_type_of(mr_str_c(names[i].name)) != names[i].t)
			fail_msg("%s: type %d, want %d", names[i].name,
			         sip_hdr_type_of(mr_str_c(names[i].name)), names[i].t);
	}
	for (size_t i = 0; i < MR_ARRAY_SIZE(compact); i++)
		expect_str(sip_hdr_expand(mr_str_c(compact[i][0])), compact[i][1], "expand",
		           compact[i][0]);
}

/* Every compact form in one message: slots, and sip_hdr_find by long name. */
static void test_compact_msg(void **state)
{
	static const char msg[] =
	    "INVITE sip:bob@example.com SIP/2.0" CRLF
	    "v: SIP/2.0/UDP h1.example.com;branch=z9hG4bK1" CRLF
	    "f: <sip:alice@example.com>;tag=1" CRLF "T: <sip:bob@example.com>" CRLF
	    "i: c1@example.com" CRLF "m: <sip:alice@h1.example.com>" CRLF "c: application/sdp" CRLF
	    "k: 100rel" CRLF "s: hi" CRLF "e: gzip" CRLF "o: presence" CRLF "u: dialog" CRLF
	    "r: <sip:carol@example.com>" CRLF "b: <sip:x@example.com>" CRLF "x: 1800" CRLF
	    "a: *;audio" CRLF "j: *;video" CRLF "d: proxy" CRLF "y: abc" CRLF "n: <http://x>" CRLF
	    "CSeq: 1 INVITE" CRLF "Max-Forwards: 70" CRLF "l: 5" CRLF CRLF "v=0" CRLF;
	static const char *const longs[][2] = {
	    {"Subject", "hi"},
	    {"Content-Encoding", "gzip"},
	    {"Event", "presence"},
	    {"Allow-Events", "dialog"},
	    {"Refer-To", "<sip:carol@example.com>"},
	    {"Referred-By", "<sip:x@example.com>"},
	    {"Session-Expires", "1800"},
	    {"Accept-Contact", "*;audio"},
	    {"Reject-Contact", "*;video"},
	    {"Request-Disposition", "proxy"},
	    {"Identity", "abc"},
	    {"Identity-Info", "<http://x>"},
	    {"Supported", "100rel"},
	    {"content-type", "application/sdp"},
	};
	struct parsed *p = parse_str(msg, false);
	const struct sip_msg *m = &p->m;

	(void)state;
	assert_int_equal(p->rc, (int)p->b.len);
	assert_int_equal(m->nhdrs, 22);
	assert_int_equal(m->h[SIP_HDR_VIA], 0);
	assert_int_equal(m->h[SIP_HDR_FROM], 1);
	assert_int_equal(m->h[SIP_HDR_TO], 2);
	assert_int_equal(m->h[SIP_HDR_CALL_ID], 3);
	assert_int_equal(m->h[SIP_HDR_CONTACT], 4);
	assert_int_equal(m->h[SIP_HDR_CONTENT_TYPE], 5);
	assert_int_equal(m->h[SIP_HDR_SUPPORTED], 6);
	assert_int_equal(m->h[SIP_HDR_CONTENT_LENGTH], 21);
	assert_int_equal(m->h[SIP_HDR_EXPIRES], -1);
	assert_int_equal(m->content_length, 5);
	expect_str(m->body, "v=0" CRLF, "body", "compact");
	expect_str(m->call_id, "c1@example.com", "Call-ID", "compact");
	for (size_t i = 0; i < MR_ARRAY_SIZE(longs); i++)
		expect_str(hdr_value(m, longs[i][0]), longs[i][1], "value", longs[i][0]);
	assert_int_equal(sip_hdr_find(m, MR_STR_LIT("Via"), 1), -ENOENT);
	assert_int_equal(sip_hdr_find(m, MR_STR_LIT("Warning"), 0), -ENOENT);
	parsed_free(p);
}

/* Continuation lines: values keep the folds, fields span all their lines. */
static void test_folded(void **state)
{
	static const char msg[] =
	    "OPTIONS sip:bob@example.com SIP/2.0" CRLF "Via: SIP/2.0/UDP h1.example.com" CRLF
	    "  ;branch=z9hG4bK1" CRLF "From:" CRLF "\t<sip:alice@example.com>" CRLF " ;tag=88" CRLF
	    "To: <sip:bob@example.com>" CRLF "Call-ID: c2@example.com" CRLF "Subject: line one" CRLF
	    " line two" CRLF "\tline three   " CRLF "CSeq: 7" CRLF " OPTIONS" CRLF
	    "Max-Forwards:\t7" CRLF "Empty:" CRLF "Content-Length: 0" CRLF CRLF;
	struct parsed *p = parse_str(msg, false);
	const struct sip_msg *m = &p->m;
	const struct sip_hdr *h;

	(void)state;
	assert_int_equal(p->rc, (int)p->b.len);
	expect_str(m->via[0].branch, "z9hG4bK1", "branch", "folded");
	expect_str(mr_str_make(m->buf + m->via[0].off, m->via[0].len),
	           "SIP/2.0/UDP h1.example.com" CRLF "  ;branch=z9hG4bK1", "via span", "folded");
	expect_str(m->from.tag, "88", "From tag", "folded");
	expect_str(m->from.uri, "sip:alice@example.com", "From uri", "folded");
	h = &m->hdrs[m->h[SIP_HDR_FROM]];
	expect_str(mr_str_make(m->buf + h->off, h->len),
	           "From:" CRLF "\t<sip:alice@example.com>" CRLF " ;tag=88" CRLF, "From field",
	           "f");
	expect_str(h->value, "<sip:alice@example.com>" CRLF " ;tag=88", "From value", "folded");
	expect_str(hdr_value(m, "Subject"), "line one" CRLF " line two" CRLF "\tline three",
	           "Subject", "folded");
	h = &m->hdrs[hdr_index(m, "Subject")];
	expect_str(mr_str_make(m->buf + h->off, h->len),
	           "Subject: line one" CRLF " line two" CRLF "\tline three   " CRLF,
	           "Subject field", "folded");
	assert_int_equal(m->cseq, 7);
	expect_str(m->cseq_method, "OPTIONS", "CSeq method", "folded");
	assert_int_equal(m->max_forwards, 7);
	expect_str(hdr_value(m, "Empty"), "", "Empty", "folded");
	/* fields tile the header section exactly */
	assert_int_equal(m->hdrs[0].off, strlen("OPTIONS sip:bob@example.com SIP/2.0" CRLF));
	for (unsigned i = 1; i < m->nhdrs; i++)
		assert_int_equal(m->hdrs[i].off, m->hdrs[i - 1].off + m->hdrs[i - 1].len);
	assert_int_equal(m->hdrs[m->nhdrs - 1].off + m->hdrs[m->nhdrs - 1].len + 2, m->body_off);
	parsed_free(p);
}

/* Via values on one line and across lines: order, header index, exact spans. */
static void test_via_multi(void **state)
{
	static const char msg[] =
	    "SIP/2.0 200 OK" CRLF
	    "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa , SIP/2.0/TCP [2001:db8::1]:5061;"
	    "branch=z9hG4bKb;received=192.0.2.1" CRLF "To: <sip:bob@example.com>;tag=t" CRLF
	    "Via: SIP/2.0/UDP c.example.com:5062 ;rport=5070 ;branch=z9hG4bKc," CRLF
	    " SIP/2.0/SCTP d.example.com;received=2001:db8::9;rport;maddr=224.2.0.1" CRLF
	    "v: SIP/2.0/TLS e.example.com;branch=\"quoted,b\"" CRLF
	    "From: <sip:alice@example.com>;tag=f" CRLF "Call-ID: v@x" CRLF "CSeq: 1 INVITE" CRLF
	    "Content-Length: 0" CRLF CRLF;
	static const struct {
		const char *span, *host, *branch, *received, *rport, *maddr;
		unsigned port;
		bool has_rport;
		unsigned hdr;
	} want[] = {
	    {"SIP/2.0/UDP a.example.com;branch=z9hG4bKa", "a.example.com", "z9hG4bKa", "", "", "",
	     0, false, 0},
	    {"SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bKb;received=192.0.2.1", "[2001:db8::1]",
	     "z9hG4bKb", "192.0.2.1", "", "", 5061, false, 0},
	    {"SIP/2.0/UDP c.example.com:5062 ;rport=5070 ;branch=z9hG4bKc", "c.example.com",
	     "z9hG4bKc", "", "5070", "", 5062, true, 2},
	    {"SIP/2.0/SCTP d.example.com;received=2001:db8::9;rport;maddr=224.2.0.1",
	     "d.example.com", "", "2001:db8::9", "", "224.2.0.1", 0, true, 2},
	    {"SIP/2.0/TLS e.example.com;branch=\"quoted,b\"", "e.example.com", "\"quoted,b\"", "",
	     "", "", 0, false, 3},
	};
	struct parsed *p = parse_str(msg, false);
	const struct sip_msg *m = &p->m;

	(void)state;
	assert_int_equal(p->rc, (int)p->b.len);
	assert_int_equal(m->nvia, 5);
	for (unsigned i = 0; i < 5; i++) {
		const struct sip_via *v = &m->via[i];
		char ctx[16];

		snprintf(ctx, sizeof(ctx), "via %u", i);
		expect_str(mr_str_make(m->buf + v->off, v->len), want[i].span, "span", ctx);
		assert_int_equal(v->off, (uint32_t)(strstr(msg, want[i].span) - msg));
		expect_str(v->host, want[i].host, "host", ctx);
		expect_str(v->branch, want[i].branch, "branch", ctx);
		expect_str(v->received, want[i].received, "received", ctx);
		expect_str(v->rport, want[i].rport, "rport", ctx);
		expect_str(v->maddr, want[i].maddr, "maddr", ctx);
		assert_int_equal(v->port, want[i].port);
		assert_int_equal(v->has_rport, want[i].has_rport);
		assert_int_equal(v->hdr, want[i].hdr);
	}
	expect_str(m->via[2].params, "rport=5070 ;branch=z9hG4bKc", "params", "via 2");
	parsed_free(p);
}

/* sip_via_parse on its own: limits and malformed values. */
static void test_via_table(void **state)
{
	static const struct {
		const char *in;
		int ret;
		unsigned n;
	} cases[] = {
	    {"SIP/2.0/UDP h", 0, 1},
	    {"SIP/2.0/UDP h:5060;branch=1, SIP/2.0/UDP i", 0, 2},
	    {"SIP / 2.0 / UDP h : 5060 ; branch = 1", 0, 1},
	    {"SIP/2.0/UDP h;;,;,,", -EBADMSG, 0},
	    {"SIP/2.0/UDP h;", -EBADMSG, 0},
	    {"SIP/2.0/UDP h,", -EBADMSG, 1},
	    {"SIP/2.0/UDP h,,SIP/2.0/UDP i", -EBADMSG, 1},
	    {",SIP/2.0/UDP h", -EBADMSG, 0},
	    {"SIP/2.0/UDP h;;branch=1", -EBADMSG, 0},
	    {"SIP/2.0/UDP", -EBADMSG, 0},
	    {"SIP/2.0 h", -EBADMSG, 0},
	    {"SIP/2.0/UDPh", -EBADMSG, 0},
	    {"SIP/2.0/UDP h:0", -EBADMSG, 0},
	    {"SIP/2.0/UDP h:", -EBADMSG, 0},
	    {"SIP/2.0/UDP h;branch=\"open", -EBADMSG, 0},
	    {"SIP/2.0/UDP h;branch=", -EBADMSG, 0},
	    {"SIP/2.0/UDP h branch", -EBADMSG, 0},
	    {"SIP/2.0/UDP 2001:db8::1", -EBADMSG, 0},
	    {"SIP/2.0/UDP [2001:db8::1", -EBADMSG, 0},
	    {"SIP/2.0/UDP h, SIP/2.0/UDP i, SIP/2.0/UDP j", -E2BIG, 2},
	    {"", -EBADMSG, 0},
	};
	struct sip_via v[2];

	(void)state;
	for (size_t i = 0; i < MR_ARRAY_SIZE(cases); i++) {
		struct blob b = blob_str(cases[i].in);
		unsigned n = 99;
		int rc = sip_via_parse(b.p, mr_str_make(b.p, b.len), v, 2, &n);

		if (rc != cases[i].ret || n != cases[i].n)
			fail_msg("via row %zu \"%s\": %d n %u, want %d n %u", i, cases[i].in, rc, n,
			         cases[i].ret, cases[i].n);
		free(b.p);
	}
}

/* ---- sip_parse checks on small messages ---------------------------------------------------- */

#define RL     "INVITE sip:bob@example.com SIP/2.0" CRLF
#define H_VIA  "Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds" CRLF
#define H_FROM "From: Alice <sip:alice@example.com>;tag=1928301774" CRLF
#define H_TO   "To: Bob <sip:bob@example.com>" CRLF
#define H_CID  "Call-ID: a84b4c76e66710@pc33.example.com" CRLF
#define H_CSEQ "CSeq: 314159 INVITE" CRLF
#define H_MF   "Max-Forwards: 70" CRLF
#define H_END  "Content-Length: 0" CRLF CRLF
#define HDRS   H_VIA H_FROM H_TO H_CID H_CSEQ H_MF H_END
#define RESP   "SIP/2.0 200 OK" CRLF H_VIA H_FROM H_TO H_CID H_CSEQ H_END

static const struct {
	const char *what, *msg;
	int ret; /* 1: parses whole */
} check_cases[] = {
    {"plain", RL HDRS, 1},
    {"no Max-Forwards", RL H_VIA H_FROM H_TO H_CID H_CSEQ H_END, 1},
    {"no Via", RL H_FROM H_TO H_CID H_CSEQ H_MF H_END, -EBADMSG},
    {"no From", RL H_VIA H_TO H_CID H_CSEQ H_MF H_END, -EBADMSG},
    {"no To", RL H_VIA H_FROM H_CID H_CSEQ H_MF H_END, -EBADMSG},
    {"no Call-ID", RL H_VIA H_FROM H_TO H_CSEQ H_MF H_END, -EBADMSG},
    {"no CSeq", RL H_VIA H_FROM H_TO H_CID H_MF H_END, -EBADMSG},
    {"response", RESP, 1},
    {"response without Via", "SIP/2.0 200 OK" CRLF H_FROM H_TO H_CID H_CSEQ H_END, -EBADMSG},
    {"two Call-ID", RL H_CID HDRS, -EBADMSG},
    {"two CSeq", RL H_CSEQ HDRS, -EBADMSG},
    {"two From", RL H_FROM HDRS, -EBADMSG},
    {"two To (compact)", RL "t: <sip:x@y>" CRLF HDRS, -EBADMSG},
    {"two Max-Forwards", RL H_MF HDRS, -EBADMSG},
    {"two Content-Length equal", RL "l: 0" CRLF HDRS, -EBADMSG},
    {"two Via headers", RL H_VIA HDRS, 1},
    {"two Contact", RL "m: <sip:a@b>" CRLF "Contact: <sip:c@d>" CRLF HDRS, 1},
    {"CSeq 2^31-1", RL H_VIA H_FROM H_TO H_CID "CSeq: 2147483647 INVITE" CRLF H_END, 1},
    {"CSeq 2^31", RL H_VIA H_FROM H_TO H_CID "CSeq: 2147483648 INVITE" CRLF H_END, -EBADMSG},
    {"CSeq no method", RL H_VIA H_FROM H_TO H_CID "CSeq: 1" CRLF H_END, -EBADMSG},
    {"CSeq no LWS", RL H_VIA H_FROM H_TO H_CID "CSeq: 1INVITE" CRLF H_END, -EBADMSG},
    {"CSeq no number", RL H_VIA H_FROM H_TO H_CID "CSeq: INVITE" CRLF H_END, -EBADMSG},
    {"CSeq method case", RL H_VIA H_FROM H_TO H_CID "CSeq: 1 invite" CRLF H_END, -EBADMSG},
    {"CSeq trailing junk", RL H_VIA H_FROM H_TO H_CID "CSeq: 1 INVITE x" CRLF H_END, -EBADMSG},
    {"Max-Forwards 255", RL H_VIA H_FROM H_TO H_CID H_CSEQ "Max-Forwards: 255" CRLF H_END, 1},
    {"Max-Forwards 256", RL H_VIA H_FROM H_TO H_CID H_CSEQ "Max-Forwards: 256" CRLF H_END,
     -EBADMSG},
    {"Max-Forwards 7a", RL H_VIA H_FROM H_TO H_CID H_CSEQ "Max-Forwards: 7a" CRLF H_END, -EBADMSG},
    {"Max-Forwards empty", RL H_VIA H_FROM H_TO H_CID H_CSEQ "Max-Forwards:" CRLF H_END, -EBADMSG},
    {"Max-Forwards -1", RL H_VIA H_FROM H_TO H_CID H_CSEQ "Max-Forwards: -1" CRLF H_END, -EBADMSG},
    {"Max-Forwards huge",
     RL H_VIA H_FROM H_TO H_CID H_CSEQ "Max-Forwards: 99999999999999999999" CRLF H_END, -EBADMSG},
    {"Content-Length 2^31",
     RL H_VIA H_FROM H_TO H_CID H_CSEQ "Content-Length: 2147483648" CRLF CRLF, -EBADMSG},
    {"Content-Length +0", RL H_VIA H_FROM H_TO H_CID H_CSEQ "Content-Length: +0" CRLF CRLF,
     -EBADMSG},
    {"Content-Length 0x0", RL H_VIA H_FROM H_TO H_CID H_CSEQ "Content-Length: 0x0" CRLF CRLF,
     -EBADMSG},
    {"Via stray ;", RL "Via: SIP/2.0/UDP h;" CRLF H_FROM H_TO H_CID H_CSEQ H_END, -EBADMSG},
    {"Via stray ,", RL "Via: SIP/2.0/UDP h," CRLF H_FROM H_TO H_CID H_CSEQ H_END, -EBADMSG},
    {"Via empty", RL "Via:" CRLF H_VIA H_FROM H_TO H_CID H_CSEQ H_END, -EBADMSG},
    {"Via open quote", RL "Via: SIP/2.0/UDP h;x=\"a" CRLF H_FROM H_TO H_CID H_CSEQ H_END, -EBADMSG},
    {"display not a token", RL H_VIA "From: Bell, A <sip:a@b>;tag=1" CRLF H_TO H_CID H_CSEQ H_END,
     -EBADMSG},
    {"display open quote", RL H_VIA "From: \"Bell <sip:a@b>;tag=1" CRLF H_TO H_CID H_CSEQ H_END,
     -EBADMSG},
    {"To empty", RL H_VIA H_FROM "To:" CRLF H_CID H_CSEQ H_END, -EBADMSG},
    {"Call-ID with SP", RL H_VIA H_FROM H_TO "Call-ID: a b" CRLF H_CSEQ H_END, -EBADMSG},
    {"Call-ID @x", RL H_VIA H_FROM H_TO "Call-ID: @x" CRLF H_CSEQ H_END, -EBADMSG},
    {"Call-ID a@b@c", RL H_VIA H_FROM H_TO "Call-ID: a@b@c" CRLF H_CSEQ H_END, -EBADMSG},
    {"Call-ID empty", RL H_VIA H_FROM H_TO "Call-ID:" CRLF H_CSEQ H_END, -EBADMSG},
    {"method SP SP", "INVITE  sip:bob@example.com SIP/2.0" CRLF HDRS, -EBADMSG},
    {"URI SP SP", "INVITE sip:bob@example.com  SIP/2.0" CRLF HDRS, -EBADMSG},
    {"trailing SP", "INVITE sip:bob@example.com SIP/2.0 " CRLF HDRS, -EBADMSG},
    {"leading SP", " INVITE sip:bob@example.com SIP/2.0" CRLF HDRS, -EBADMSG},
    {"HTAB separator", "INVITE\tsip:bob@example.com SIP/2.0" CRLF HDRS, -EBADMSG},
    {"HTAB in URI", "INVITE sip:bob@example.com\t SIP/2.0" CRLF HDRS, -EBADMSG},
    {"URI in <>", "INVITE <sip:bob@example.com> SIP/2.0" CRLF HDRS, -EBADMSG},
    {"no URI", "INVITE SIP/2.0" CRLF HDRS, -EBADMSG},
    {"SIP/2.1", "INVITE sip:bob@example.com SIP/2.1" CRLF HDRS, -EPROTONOSUPPORT},
    {"SIP/3", "INVITE sip:bob@example.com SIP/3" CRLF HDRS, -EBADMSG},
    {"HTTP/1.1", "INVITE sip:bob@example.com HTTP/1.1" CRLF HDRS, -EBADMSG},
    {"sip/2.0 lower case", "INVITE sip:bob@example.com sip/2.0" CRLF HDRS, 1},
    {"505 with a bad header too", "INVITE sip:bob@example.com SIP/2.1" CRLF H_CID HDRS,
     -EPROTONOSUPPORT},
    {"status 99", "SIP/2.0 99 Low" CRLF H_VIA H_FROM H_TO H_CID H_CSEQ H_END, -EBADMSG},
    {"status 700", "SIP/2.0 700 High" CRLF H_VIA H_FROM H_TO H_CID H_CSEQ H_END, -EBADMSG},
    {"status 4 digits", "SIP/2.0 1000 x" CRLF H_VIA H_FROM H_TO H_CID H_CSEQ H_END, -EBADMSG},
    {"status letters", "SIP/2.0 2OO OK" CRLF H_VIA H_FROM H_TO H_CID H_CSEQ H_END, -EBADMSG},
    {"status no reason (liberal)", "SIP/2.0 200" CRLF H_VIA H_FROM H_TO H_CID H_CSEQ H_END, 1},
    {"status SIP/2.2", "SIP/2.2 200 OK" CRLF H_VIA H_FROM H_TO H_CID H_CSEQ H_END,
     -EPROTONOSUPPORT},
    {"header without colon", RL "Foo" CRLF HDRS, -EBADMSG},
    {"header name with SP", RL "Fo o: x" CRLF HDRS, -EBADMSG},
    {"empty header name", RL ": x" CRLF HDRS, -EBADMSG},
    {"continuation after start line", RL " x: y" CRLF HDRS, -EBADMSG},
    {"LWS before colon", RL "X-A \t: b" CRLF HDRS, 1},
    {"bare LF lines",
     "INVITE sip:bob@example.com SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@b>;"
     "tag=1\nTo: <sip:b@c>\nCall-ID: x\nCSeq: 1 INVITE\nContent-Length: 0\n\n",
     -EBADMSG},
    {"bare LF ending the start line", "INVITE sip:bob@example.com SIP/2.0\n" HDRS, -EBADMSG},
    {"bare LF ending a header", RL "X-A: b\n" HDRS, -EBADMSG},
    {"bare LF in a fold", RL "X-A: b\n c" CRLF HDRS, -EBADMSG},
    {"bare LF as the empty line", RL H_VIA H_FROM H_TO H_CID H_CSEQ "Content-Length: 0" CRLF "\n",
     -EBADMSG},
    {"CR then junk at the end", RL H_VIA H_FROM H_TO H_CID H_CSEQ "Content-Length: 0" CRLF "\rX",
     -EBADMSG},
    {"no empty line", RL H_VIA H_FROM H_TO H_CID H_CSEQ "Content-Length: 0" CRLF, -EBADMSG},
    {"start line only", RL, -EBADMSG},
    {"no LF at all", "INVITE sip:bob@example.com SIP/2.0", -EBADMSG},
    {"unknown scheme",
     "OPTIONS foo:bar SIP/2.0" CRLF H_VIA H_FROM H_TO H_CID "CSeq: 1 OPTIONS" CRLF H_END, 1},
    {"sip URI without host",
     "OPTIONS sip: SIP/2.0" CRLF H_VIA H_FROM H_TO H_CID "CSeq: 1 OPTIONS" CRLF H_END, -EBADMSG},
    {"body without Content-Length", RL H_VIA H_FROM H_TO H_CID H_CSEQ CRLF "hello", 1},
    {"Content-Length short of the body", RL H_VIA H_FROM H_TO H_CID H_CSEQ "l: 2" CRLF CRLF "hello",
     -ENOTRECOVERABLE /* special: checked below */},
};

static void test_check_table(void **state)
{
	struct sip_msg *m = xmalloc(sizeof(*m));

	(void)state;
	assert_non_null(m);
	for (size_t i = 0; i < MR_ARRAY_SIZE(check_cases); i++) {
		struct blob b = blob_str(check_cases[i].msg);
		int rc = sip_parse(m, b.p, b.len, false);
		int want = check_cases[i].ret == 1 ? (int)b.len : check_cases[i].ret;

		if (want == -ENOTRECOVERABLE) /* framed by Content-Length: 2 of 5 bytes */
			want = (int)b.len - 3;
		if (rc != want)
			fail_msg("check row %zu (%s): %d, want %d", i, check_cases[i].what, rc,
			         want);
		if (rc > 0)
			check_spans(m, b.p, b.len, rc);
		free(b.p);
	}
	free(m);
}

/* More than SIP_MAX_HEADERS header fields, more than SIP_MAX_VIA Via values: -E2BIG. */
static void test_limits(void **state)
{
	struct sip_msg *m = xmalloc(sizeof(*m));
	size_t cap = 16384;
	char *s = xmalloc(cap);
	struct blob b;
	int n;

	(void)state;
	assert_non_null(m);
	assert_non_null(s);
	/* HDRS holds 7 fields: 89 more make 96, 90 more 97 */
	for (int extra = 89; extra <= 90; extra++) {
		n = snprintf(s, cap, "%s", RL);
		for (int i = 0; i < extra; i++)
			n += snprintf(s + n, cap - (size_t)n, "X-H%d: %d" CRLF, i, i);
		n += snprintf(s + n, cap - (size_t)n, "%s", HDRS);
		b = blob_copy(s, (size_t)n);
		assert_int_equal(sip_parse(m, b.p, b.len, false), extra == 89 ? n : -E2BIG);
		if (extra == 89)
			assert_int_equal(m->nhdrs, SIP_MAX_HEADERS);
		free(b.p);
	}
	/* Via values: SIP_MAX_VIA - 1 more than HDRS's one, as separate fields, then one too many
	 */
	for (int extra = SIP_MAX_VIA - 1; extra <= SIP_MAX_VIA; extra++) {
		n = snprintf(s, cap, "%s", RL);
		for (int i = 0; i < extra; i++)
			n += snprintf(s + n, cap - (size_t)n, "v: SIP/2.0/UDP h%d" CRLF, i);
		n += snprintf(s + n, cap - (size_t)n, "%s", HDRS);
		b = blob_copy(s, (size_t)n);
		assert_int_equal(sip_parse(m, b.p, b.len, false),
		                 extra == SIP_MAX_VIA - 1 ? n : -E2BIG);
		assert_int_equal(m->nvia, SIP_MAX_VIA);
		free(b.p);
	}
	/* ... and on one line */
	for (int extra = SIP_MAX_VIA - 1; extra <= SIP_MAX_VIA; extra++) {
		char last[16];

		n = snprintf(s, cap, "%sVia: SIP/2.0/UDP x", RL);
		for (int i = 0; i < extra; i++)
			n += snprintf(s + n, cap - (size_t)n, ", SIP/2.0/UDP h%d", i);
		n += snprintf(s + n, cap - (size_t)n, CRLF "%s", H_FROM H_TO H_CID H_CSEQ H_END);
		b = blob_copy(s, (size_t)n);
		assert_int_equal(sip_parse(m, b.p, b.len, false),
		                 extra == SIP_MAX_VIA - 1 ? n : -E2BIG);
		assert_int_equal(m->nvia, SIP_MAX_VIA);
		snprintf(last, sizeof(last), "h%d", SIP_MAX_VIA - 2);
		expect_str(m->via[SIP_MAX_VIA - 1].host, last, "last", "one line");
		free(b.p);
	}
	free(s);
	free(m);
}

#define BODY_MSG                                                                                   \
	RL H_VIA H_FROM H_TO H_CID H_CSEQ H_MF "Content-Type: text/plain" CRLF                     \
	                                       "Content-Length: 5" CRLF CRLF "hello"

/* Stream framing: 0 until complete, then the message's length. */
static void test_stream(void **state)
{
	static const char one[] = BODY_MSG;
	static const char two[] = BODY_MSG RL HDRS;
	struct sip_msg *m = xmalloc(sizeof(*m));
	const uint32_t n = sizeof(one) - 1;
	struct blob b;

	(void)state;
	assert_non_null(m);
	for (uint32_t k = 0; k < n; k++) {
		b = blob_copy(one, k);
		if (sip_parse(m, b.p, k, true) != 0)
			fail_msg("prefix %u: not 0", k);
		free(b.p);
	}
	b = blob_copy(one, n);
	assert_int_equal(sip_parse(m, b.p, n, true), (int)n);
	expect_str(m->body, "hello", "body", "stream");
	free(b.p);
	/* back to back: the first one's length, then the second from there */
	b = blob_copy(two, sizeof(two) - 1);
	assert_int_equal(sip_parse(m, b.p, b.len, true), (int)n);
	assert_int_equal(sip_parse(m, b.p + n, b.len - n, true), (int)(b.len - n));
	assert_int_equal(m->method, SIP_M_INVITE);
	free(b.p);
	/* keep-alive CRLFs before a message are consumed with it */
	{
		static const char ka[] = CRLF CRLF BODY_MSG;

		b = blob_copy(ka, sizeof(ka) - 1);
		assert_int_equal(sip_parse(m, b.p, b.len, true), (int)b.len);
		assert_ptr_equal(m->buf, b.p + 4);
		assert_int_equal(m->len, n);
		assert_int_equal(sip_parse(m, b.p, 4, true), 0);
		assert_int_equal(sip_parse(m, b.p, 4, false), -ENODATA);
		assert_int_equal(sip_parse(m, b.p, b.len, false), (int)b.len);
		free(b.p);
	}
	/* no Content-Length: no framing on a stream */
	b = blob_str(RL H_VIA H_FROM H_TO H_CID H_CSEQ CRLF);
	assert_int_equal(sip_parse(m, b.p, b.len, true), -EBADMSG);
	assert_int_equal(sip_parse(m, b.p, b.len, false), (int)b.len);
	free(b.p);
	/* a Content-Length beyond SIP_MAX_MSG, headers never ending */
	b = blob_str(RL H_VIA H_FROM H_TO H_CID H_CSEQ "Content-Length: 2147483647" CRLF CRLF "x");
	assert_int_equal(sip_parse(m, b.p, b.len, true), -EMSGSIZE);
	assert_int_equal(sip_parse(m, b.p, b.len, false), -EBADMSG);
	free(b.p);
	{
		/* one header line that never ends */
		uint32_t big = SIP_MAX_MSG + 100, rl = (uint32_t)strlen(RL);
		char *s = xmalloc(big);

		assert_non_null(s);
		memcpy(s, RL "X: ", rl + 3);
		memset(s + rl + 3, 'y', big - rl - 3);
		assert_int_equal(sip_parse(m, s, big, true), -EMSGSIZE);
		assert_int_equal(sip_parse(m, s, SIP_MAX_MSG, true), -EMSGSIZE);
		assert_int_equal(sip_parse(m, s, SIP_MAX_MSG - 1, true), 0);
		assert_int_equal(sip_parse(m, s, big, false), -EMSGSIZE);
		assert_int_equal(sip_parse(m, s, SIP_MAX_MSG, false), -EBADMSG);
		free(s);
	}
	/* a datagram bad in the middle of a line is refused even in stream mode */
	b = blob_str(RL "Bad Header" CRLF);
	assert_int_equal(sip_parse(m, b.p, b.len, true), -EBADMSG);
	free(b.p);
	free(m);
}

/* Datagram framing: Content-Length frames, trailing bytes ignored; too large: -EBADMSG. */
static void test_datagram(void **state)
{
	static const char one[] = BODY_MSG;
	struct sip_msg *m = xmalloc(sizeof(*m));
	const uint32_t n = sizeof(one) - 1;
	struct blob b;
	char *s;

	(void)state;
	assert_non_null(m);
	s = xmalloc(n + 10);
	assert_non_null(s);
	memcpy(s, one, n);
	memcpy(s + n, "JUNKJUNK\r\n", 10);
	b = blob_copy(s, n + 10);
	assert_int_equal(sip_parse(m, b.p, b.len, false), (int)n);
	assert_int_equal(m->len, n);
	expect_str(m->body, "hello", "body", "dgram");
	free(b.p);
	/* body cut short: Content-Length 5 with 4 bytes */
	b = blob_copy(one, n - 1);
	assert_int_equal(sip_parse(m, b.p, b.len, false), -EBADMSG);
	assert_int_equal(sip_parse(m, b.p, b.len, true), 0);
	free(b.p);
	b = blob_copy("", 0);
	assert_int_equal(sip_parse(m, b.p, 0, false), -ENODATA);
	assert_int_equal(sip_parse(m, b.p, 0, true), 0);
	free(b.p);
	free(s);
	free(m);
}

/* The second message of dblreq is itself a complete INVITE. */
static void test_dblreq_rest(void **state)
{
	struct blob b = vec_load("dblreq");
	struct sip_msg *m = xmalloc(sizeof(*m));
	int rc;

	(void)state;
	assert_non_null(m);
	assert_int_equal(sip_parse(m, b.p, b.len, false), 300);
	rc = sip_parse(m, b.p + 300, b.len - 300, false);
	/* the empty line before it is skipped, the 5 bytes after its 150 ignored */
	assert_int_equal(rc, 295 + 150);
	assert_int_equal(b.len - 300, 295 + 155);
	assert_int_equal(m->method, SIP_M_INVITE);
	assert_int_equal(m->content_length, 150);
	assert_ptr_equal(m->buf, b.p + 302);
	free(m);
	free(b.p);
}

/* ---- (4) deterministic mutations of the valid vectors: must not crash ---------------------- */

static uint64_t rnd_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int fuzz_one(struct sip_msg *m, const char *p, uint32_t len)
{
	struct blob b = blob_copy(p, len);
	bool stream = len & 1;
	int rc = sip_parse(m, b.p, b.len, stream);

	if (rc > 0) {
		struct mr_str cur, v;
		struct sip_nameaddr na;
		struct sip_uri u;

		check_spans(m, b.p, b.len, rc);
		for (unsigned i = 0; i < m->nhdrs; i++) {
			cur = m->hdrs[i].value;
			for (int k = 0; k < 64 && sip_value_next(&cur, &v) == 1; k++) {
				assert_true(v.p >= m->hdrs[i].value.p &&
				            v.p + v.len <=
				                m->hdrs[i].value.p + m->hdrs[i].value.len);
				if (sip_nameaddr_parse(v, &na) == 0)
					(void)sip_uri_parse(na.uri, &u);
			}
			(void)sip_param_get(m->hdrs[i].value, MR_STR_LIT("tag"), &v);
		}
		for (unsigned i = 0; i < m->nvia; i++)
			(void)sip_param_get(m->via[i].params, MR_STR_LIT("branch"), &v);
	}
	free(b.p);
	return rc;
}

static void test_mutations(void **state)
{
	static const char *const seeds[] = {
	    "wsinv",    "intmeth",    "esc01",    "escnull",  "esc02",    "lwsdisp",  "dblreq",
	    "semiuri",  "transports", "mpart01",  "unreason", "noreason", "escruri",  "baddate",
	    "regbadct", "badbranch",  "unkscm",   "novelsc",  "unksm2",   "bext01",   "invut",
	    "regaut01", "bcast",      "zeromf",   "cparam01", "cparam02", "regescrt", "sdp01",
	    "inv2543",  "badvers",    "badinv01",
	};
	static const char special[] = ":;,<>\"\\\r\n @[]=/ \t%0";
	struct blob vec[MR_ARRAY_SIZE(seeds) + MR_ARRAY_SIZE(v6_cases)];
	size_t nvec = 0;
	struct sip_msg *m = xmalloc(sizeof(*m));
	uint64_t rs = 0x9e3779b97f4a7c15ull;
	char *work = xmalloc(8192);
	unsigned ok = 0, need = 0;
	int rc;

	(void)state;
	assert_non_null(m);
	assert_non_null(work);
	for (size_t i = 0; i < MR_ARRAY_SIZE(seeds); i++)
		vec[nvec++] = vec_load(seeds[i]);
	for (size_t i = 0; i < MR_ARRAY_SIZE(v6_cases); i++)
		vec[nvec++] = blob_str(v6_cases[i].msg);
	for (int it = 0; it < 50000; it++) {
		const struct blob *src = &vec[rnd_next(&rs) % nvec];
		uint32_t len = src->len, nmut = 1 + (uint32_t)(rnd_next(&rs) % 6);

		memcpy(work, src->p, len);
		for (uint32_t k = 0; k < nmut && len > 0; k++) {
			uint32_t at = (uint32_t)(rnd_next(&rs) % len);
			uint64_t r = rnd_next(&rs);

			switch (r % 6) {
			case 0:
				work[at] = (char)(r >> 8);
				break;
			case 1:
				work[at] = special[(r >> 8) % (sizeof(special) - 1)];
				break;
			case 2: /* insert */
				if (len < 8000) {
					memmove(work + at + 1, work + at, len - at);
					work[at] = special[(r >> 8) % (sizeof(special) - 1)];
					len++;
				}
				break;
			case 3: /* delete a run */
			{
				uint32_t d = 1 + (uint32_t)((r >> 8) % 8);

				if (d > len - at)
					d = len - at;
				memmove(work + at, work + at + d, len - at - d);
				len -= d;
				break;
			}
			case 4:
				len = at + 1;
				break; /* truncate */
			default:       /* flip a bit */
				work[at] = (char)(work[at] ^ (1 << ((r >> 8) % 8)));
				break;
			}
		}
		rc = fuzz_one(m, work, len);
		ok += rc > 0;
		need += rc == 0;
	}
	/* the loop reaches past the checks: a fair share still parses */
	print_message("mutations: %u parsed, %u incomplete, %u refused\n", ok, need,
	              50000 - ok - need);
	assert_true(ok > 2000 && ok + need < 45000);
	for (size_t i = 0; i < nvec; i++)
		free(vec[i].p);
	free(work);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc4475_table), cmocka_unit_test(test_rfc4475_all_files),
	    cmocka_unit_test(test_vec_wsinv),     cmocka_unit_test(test_vec_extras),
	    cmocka_unit_test(test_vec_baddn),     cmocka_unit_test(test_vec_longreq),
	    cmocka_unit_test(test_rfc5118),       cmocka_unit_test(test_rfc5118_mult_via),
	    cmocka_unit_test(test_uri_table),     cmocka_unit_test(test_nameaddr_table),
	    cmocka_unit_test(test_param_table),   cmocka_unit_test(test_value_next_table),
	    cmocka_unit_test(test_hdr_names),     cmocka_unit_test(test_compact_msg),
	    cmocka_unit_test(test_folded),        cmocka_unit_test(test_via_multi),
	    cmocka_unit_test(test_via_table),     cmocka_unit_test(test_check_table),
	    cmocka_unit_test(test_limits),        cmocka_unit_test(test_stream),
	    cmocka_unit_test(test_datagram),      cmocka_unit_test(test_dblreq_rest),
	    cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

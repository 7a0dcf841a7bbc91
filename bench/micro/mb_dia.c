/* SPDX-License-Identifier: MIT
 * mb_dia.c - Diameter MAR/MAA decode and encode: mara's codec (dia.h, dia_sipcli.h) against
 * freeDiameter's libfdproto on the same messages, with a dictionary of the RFC 4740 / Digest
 * AVPs built here with fd_dict_new (as freeDiameter's extensions/dict_sip does).
 * Owns: the reference MAR/MAA bytes and the libfdproto dictionary (process lifetime).
 * Thread: main thread (set-up and runs). */
#include "mb.h"

#include "dia.h"
#include "dia_sipcli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <freeDiameter/freeDiameter-host.h>
#include <freeDiameter/libfdproto.h>

enum {
	MSG_CAP = 4096,
	AVP_SIP_ITEM_NUMBER = DIA_AVP_SIP_ITEM_NUMBER,
	RC_CHALLENGE = DIA_RC_SUCCESS_AUTH_SENT_SERVER_NOT_STORED, /* 2008 */
};

/* ---- the messages ------------------------------------------------------------------------ */

/* The second MAR of Figure 4 (the retried INVITE, with credentials) and the challenge MAA of
 * the first round: the two the proxy writes and reads most. */
static const struct auth_digest mar_cred = {
    .username = MR_STR_LIT("alice"),
    .realm = MR_STR_LIT("example.com"),
    .nonce = MR_STR_LIT("0000000065a1b2c3f1e2d3c4b5a69788a1b2c3d4e5f60718293a4b5c6d7e8f90"),
    .uri = MR_STR_LIT("sip:bob@example.com"),
    .response = MR_STR_LIT("6629fae49393a05397450978507c4ef1"),
    .algorithm = MR_STR_LIT("MD5"),
    .cnonce = MR_STR_LIT("0a4f113b"),
    .nc = MR_STR_LIT("00000001"),
    .qop = MR_STR_LIT("auth"),
};
static const struct dia_sipcli_mar mar_in = {
    .session_id = MR_STR_LIT("proxy.example.com;2876123341;1209354098;mara"),
    .aor = MR_STR_LIT("sip:bob@example.com"),
    .method = MR_STR_LIT("INVITE"),
    .cred = &mar_cred,
};
static const struct dia_ident proxy_id = {MR_STR_LIT("proxy.example.com"),
                                          MR_STR_LIT("example.com"), 0};
static const struct dia_ident aaa_id = {MR_STR_LIT("aaa.example.com"), MR_STR_LIT("example.com"),
                                        0};
static const struct mr_str dest_realm = MR_STR_LIT("example.com");

/* What mara-aaa puts in a challenge (dia_sipsrv.c put_challenge). */
struct maa_in {
	struct mr_str user_name, aor, realm, nonce, algorithm, qop;
};
static const struct maa_in maa_in = {
    .user_name = MR_STR_LIT("alice"),
    .aor = MR_STR_LIT("sip:bob@example.com"),
    .realm = MR_STR_LIT("example.com"),
    .nonce = MR_STR_LIT("0000000065a1b2d4a9b8c7d6e5f40312c0ffee11deadbeef0123456789abcdef"),
    .algorithm = MR_STR_LIT("MD5"),
    .qop = MR_STR_LIT("auth"),
};

static uint8_t mar_buf[MSG_CAP], maa_buf[MSG_CAP];
static uint32_t mar_len, maa_len;

/* The fields a reader keeps: what mara-aaa reads of a MAR (dia_sipsrv.c read_mar/read_authz)
 * and what the proxy reads of an MAA (dia_sipcli_decode_maa). */
struct fields {
	struct mr_str session_id, origin_host, origin_realm, dest_realm, user_name, aor, method;
	uint32_t result_code, app_id, session_state, n_items, scheme, item_number;
	struct auth_digest d; /* Digest-* of SIP-Authorization or SIP-Authenticate */
};

static void field_str(struct fields *f, uint32_t code, const void *p, size_t len)
{
	struct mr_str s = mr_str_make(p, len);

	switch (code) {
	case DIA_AVP_SESSION_ID:
		f->session_id = s;
		break;
	case DIA_AVP_ORIGIN_HOST:
		f->origin_host = s;
		break;
	case DIA_AVP_ORIGIN_REALM:
		f->origin_realm = s;
		break;
	case DIA_AVP_DESTINATION_REALM:
		f->dest_realm = s;
		break;
	case DIA_AVP_USER_NAME:
		f->user_name = s;
		break;
	case DIA_AVP_SIP_AOR:
		f->aor = s;
		break;
	case DIA_AVP_SIP_METHOD:
		f->method = s;
		break;
	case DIA_AVP_DIGEST_USERNAME:
		f->d.username = s;
		break;
	case DIA_AVP_DIGEST_REALM:
		f->d.realm = s;
		break;
	case DIA_AVP_DIGEST_NONCE:
		f->d.nonce = s;
		break;
	case DIA_AVP_DIGEST_URI:
		f->d.uri = s;
		break;
	case DIA_AVP_DIGEST_RESPONSE:
		f->d.response = s;
		break;
	case DIA_AVP_DIGEST_ALGORITHM:
		f->d.algorithm = s;
		break;
	case DIA_AVP_DIGEST_CNONCE:
		f->d.cnonce = s;
		break;
	case DIA_AVP_DIGEST_NONCE_COUNT:
		f->d.nc = s;
		break;
	case DIA_AVP_DIGEST_QOP:
		f->d.qop = s;
		break;
	case DIA_AVP_DIGEST_METHOD:
		f->d.method = s;
		break;
	default:
		break;
	}
}

static void field_u32(struct fields *f, uint32_t code, uint32_t v)
{
	switch (code) {
	case DIA_AVP_RESULT_CODE:
		f->result_code = v;
		break;
	case DIA_AVP_AUTH_APPLICATION_ID:
		f->app_id = v;
		break;
	case DIA_AVP_AUTH_SESSION_STATE:
		f->session_state = v;
		break;
	case DIA_AVP_SIP_NUMBER_AUTH_ITEMS:
		f->n_items = v;
		break;
	case DIA_AVP_SIP_AUTHENTICATION_SCHEME:
		f->scheme = v;
		break;
	case AVP_SIP_ITEM_NUMBER:
		f->item_number = v;
		break;
	default:
		break;
	}
}

/* ---- mara -------------------------------------------------------------------------------- */

static bool mara_is_u32(uint32_t code)
{
	switch (code) {
	case DIA_AVP_RESULT_CODE:
	case DIA_AVP_AUTH_APPLICATION_ID:
	case DIA_AVP_AUTH_SESSION_STATE:
	case DIA_AVP_SIP_NUMBER_AUTH_ITEMS:
	case DIA_AVP_SIP_AUTHENTICATION_SCHEME:
	case AVP_SIP_ITEM_NUMBER:
		return true;
	default:
		return false;
	}
}

static bool mara_is_group(uint32_t code)
{
	return code == DIA_AVP_SIP_AUTH_DATA_ITEM || code == DIA_AVP_SIP_AUTHORIZATION ||
	       code == DIA_AVP_SIP_AUTHENTICATE || code == DIA_AVP_SIP_AUTHENTICATION_INFO;
}

/* Every AVP at every depth into @f, as mara-aaa's read_mar/read_authz do for a MAR. */
static int mara_read(const struct dia_avp_iter *start, struct fields *f, int depth)
{
	struct dia_avp_iter it = *start;
	struct dia_avp a;
	int r;

	while ((r = dia_avp_next(&it, &a)) > 0) {
		if (a.vendor)
			continue;
		if (mara_is_group(a.code) && depth < DIA_MAX_NEST) {
			struct dia_avp_iter in;

			dia_avp_iter_init_group(&in, &a);
			if (mara_read(&in, f, depth + 1) < 0)
				return -EBADMSG;
		} else if (mara_is_u32(a.code)) {
			uint32_t v;

			if (dia_avp_u32(&a, &v))
				return -EBADMSG;
			field_u32(f, a.code, v);
		} else {
			field_str(f, a.code, a.data.p, a.data.len);
		}
	}
	return r;
}

/* hot: a MAR at mara-aaa: framed, validated against the dictionary (as dia_peer.c's dispatch
 * does for every message), then read. */
static void mara_decode_mar(void *arg, uint64_t iters)
{
	(void)arg;
	for (uint64_t i = 0; i < iters; i++) {
		struct dia_msg m;
		struct dia_error err;
		struct dia_avp_iter it;
		struct fields f;

		memset(&f, 0, sizeof(f));
		if (mr_unlikely(dia_msg_init(&m, mar_buf, mar_len)))
			abort();
		dia_msg_validate(&m, &err);
		if (mr_unlikely(err.rc))
			abort();
		dia_avp_iter_init(&it, &m);
		if (mr_unlikely(mara_read(&it, &f, 0) < 0))
			abort();
		mb_do_not_optimize(&f);
	}
}

/* hot: an MAA at the proxy: framed, validated, judged by dia_sipcli_decode_maa(). */
static void mara_decode_maa(void *arg, uint64_t iters)
{
	(void)arg;
	for (uint64_t i = 0; i < iters; i++) {
		struct dia_msg m;
		struct dia_error err;
		struct dia_sipcli_result r;

		if (mr_unlikely(dia_msg_init(&m, maa_buf, maa_len)))
			abort();
		dia_msg_validate(&m, &err);
		if (mr_unlikely(err.rc))
			abort();
		if (mr_unlikely(dia_sipcli_decode_maa(&m, &r) || r.outcome != DIA_SIPCLI_CHALLENGE))
			abort();
		mb_do_not_optimize(&r);
	}
}

/* The same reads without dia_msg_validate(): splits the decode cost into the dictionary
 * checks and the reading itself. Not a path mara takes (every message is validated). */
static void mara_read_mar(void *arg, uint64_t iters)
{
	(void)arg;
	for (uint64_t i = 0; i < iters; i++) {
		struct dia_msg m;
		struct dia_avp_iter it;
		struct fields f;

		memset(&f, 0, sizeof(f));
		if (mr_unlikely(dia_msg_init(&m, mar_buf, mar_len)))
			abort();
		dia_avp_iter_init(&it, &m);
		if (mr_unlikely(mara_read(&it, &f, 0) < 0))
			abort();
		mb_do_not_optimize(&f);
	}
}

static void mara_read_maa(void *arg, uint64_t iters)
{
	(void)arg;
	for (uint64_t i = 0; i < iters; i++) {
		struct dia_msg m;
		struct dia_sipcli_result r;

		if (mr_unlikely(dia_msg_init(&m, maa_buf, maa_len)))
			abort();
		if (mr_unlikely(dia_sipcli_decode_maa(&m, &r) || r.outcome != DIA_SIPCLI_CHALLENGE))
			abort();
		mb_do_not_optimize(&r);
	}
}

static int mara_encode_mar_once(uint8_t *buf)
{
	struct dia_enc e;

	dia_enc_init(&e, buf, MSG_CAP);
	return dia_sipcli_encode_mar(&e, &proxy_id, dest_realm, &mar_in);
}

/* The challenge MAA as mara-aaa writes it (dia_sipsrv_answer, put_challenge). */
static int mara_encode_maa_once(uint8_t *buf, const struct dia_msg *mar, const struct maa_in *in)
{
	struct dia_enc e;

	dia_enc_init(&e, buf, MSG_CAP);
	dia_enc_answer_hdr(&e, mar, &aaa_id, RC_CHALLENGE);
	dia_enc_avp_u32(&e, DIA_AVP_AUTH_APPLICATION_ID, DIA_AVP_F_M, DIA_APP_SIP);
	dia_enc_avp_u32(&e, DIA_AVP_AUTH_SESSION_STATE, DIA_AVP_F_M, 1);
	dia_enc_avp_str(&e, DIA_AVP_USER_NAME, DIA_AVP_F_M, in->user_name);
	dia_enc_avp_str(&e, DIA_AVP_SIP_AOR, DIA_AVP_F_M, in->aor);
	dia_enc_avp_u32(&e, DIA_AVP_SIP_NUMBER_AUTH_ITEMS, DIA_AVP_F_M, 1);
	dia_enc_group_begin(&e, DIA_AVP_SIP_AUTH_DATA_ITEM, DIA_AVP_F_M, 0);
	dia_enc_avp_u32(&e, DIA_AVP_SIP_AUTHENTICATION_SCHEME, DIA_AVP_F_M, 0);
	dia_enc_avp_u32(&e, AVP_SIP_ITEM_NUMBER, DIA_AVP_F_M, 1);
	dia_enc_group_begin(&e, DIA_AVP_SIP_AUTHENTICATE, DIA_AVP_F_M, 0);
	dia_enc_avp_str(&e, DIA_AVP_DIGEST_REALM, DIA_AVP_F_M, in->realm);
	dia_enc_avp_str(&e, DIA_AVP_DIGEST_NONCE, DIA_AVP_F_M, in->nonce);
	dia_enc_avp_str(&e, DIA_AVP_DIGEST_ALGORITHM, DIA_AVP_F_M, in->algorithm);
	dia_enc_avp_str(&e, DIA_AVP_DIGEST_QOP, DIA_AVP_F_M, in->qop);
	dia_enc_group_end(&e);
	dia_enc_group_end(&e);
	return dia_enc_finish(&e);
}

/* hot: a shard's MAR into its tx bytes. */
static void mara_encode_mar(void *arg, uint64_t iters)
{
	uint8_t buf[MSG_CAP];

	(void)arg;
	for (uint64_t i = 0; i < iters; i++) {
		if (mr_unlikely(mara_encode_mar_once(buf) != (int)mar_len))
			abort();
		mb_do_not_optimize(buf);
	}
}

/* hot: mara-aaa's challenge answer to the MAR in mar_buf. */
static void mara_encode_maa(void *arg, uint64_t iters)
{
	uint8_t buf[MSG_CAP];
	struct dia_msg mar;

	(void)arg;
	if (dia_msg_init(&mar, mar_buf, mar_len))
		abort();
	for (uint64_t i = 0; i < iters; i++) {
		if (mr_unlikely(mara_encode_maa_once(buf, &mar, &maa_in) != (int)maa_len))
			abort();
		mb_do_not_optimize(buf);
	}
}

/* ---- libfdproto -------------------------------------------------------------------------- */

/* The dictionary objects the messages use, looked up once (as freeDiameter extensions do). */
static struct {
	struct dictionary *dict;
	struct dict_object *mar, *maa;
	struct dict_object *session_id, *auth_app_id, *auth_session_state, *origin_host,
	    *origin_realm, *dest_realm, *result_code, *user_name, *aor, *method, *n_items, *item,
	    *scheme, *item_number, *authenticate, *authorization, *d_username, *d_realm, *d_nonce,
	    *d_uri, *d_response, *d_algorithm, *d_cnonce, *d_qop, *d_nc, *d_method;
} fd;

/* One row per AVP: RFC 6733 base AVPs the MAR/MAA carry, RFC 4740 §9 and the Digest-* of
 * RFC 5090 / RFC 4590. Flags as freeDiameter's dict_base_proto and dict_sip: V must be clear,
 * M must be set. Basic types only: no derived type (UTF8String, DiameterIdentity) callbacks,
 * which would only add work on freeDiameter's side. */
static const struct fd_avp_row {
	uint32_t code;
	const char *name;
	enum dict_avp_basetype type;
	struct dict_object **obj;
} fd_avps[] = {
    {DIA_AVP_USER_NAME, "User-Name", AVP_TYPE_OCTETSTRING, &fd.user_name},
    {DIA_AVP_DIGEST_RESPONSE, "Digest-Response", AVP_TYPE_OCTETSTRING, &fd.d_response},
    {DIA_AVP_DIGEST_REALM, "Digest-Realm", AVP_TYPE_OCTETSTRING, &fd.d_realm},
    {DIA_AVP_DIGEST_NONCE, "Digest-Nonce", AVP_TYPE_OCTETSTRING, &fd.d_nonce},
    {DIA_AVP_DIGEST_RESPONSE_AUTH, "Digest-Response-Auth", AVP_TYPE_OCTETSTRING, NULL},
    {DIA_AVP_DIGEST_NEXTNONCE, "Digest-Nextnonce", AVP_TYPE_OCTETSTRING, NULL},
    {DIA_AVP_DIGEST_METHOD, "Digest-Method", AVP_TYPE_OCTETSTRING, &fd.d_method},
    {DIA_AVP_DIGEST_URI, "Digest-URI", AVP_TYPE_OCTETSTRING, &fd.d_uri},
    {DIA_AVP_DIGEST_QOP, "Digest-QoP", AVP_TYPE_OCTETSTRING, &fd.d_qop},
    {DIA_AVP_DIGEST_ALGORITHM, "Digest-Algorithm", AVP_TYPE_OCTETSTRING, &fd.d_algorithm},
    {DIA_AVP_DIGEST_ENTITY_BODY_HASH, "Digest-Entity-Body-Hash", AVP_TYPE_OCTETSTRING, NULL},
    {DIA_AVP_DIGEST_CNONCE, "Digest-CNonce", AVP_TYPE_OCTETSTRING, &fd.d_cnonce},
    {DIA_AVP_DIGEST_NONCE_COUNT, "Digest-Nonce-Count", AVP_TYPE_OCTETSTRING, &fd.d_nc},
    {DIA_AVP_DIGEST_USERNAME, "Digest-Username", AVP_TYPE_OCTETSTRING, &fd.d_username},
    {DIA_AVP_DIGEST_OPAQUE, "Digest-Opaque", AVP_TYPE_OCTETSTRING, NULL},
    {DIA_AVP_DIGEST_STALE, "Digest-Stale", AVP_TYPE_OCTETSTRING, NULL},
    {DIA_AVP_DIGEST_HA1, "Digest-HA1", AVP_TYPE_OCTETSTRING, NULL},
    {DIA_AVP_SIP_AOR, "SIP-AOR", AVP_TYPE_OCTETSTRING, &fd.aor},
    {DIA_AVP_AUTH_APPLICATION_ID, "Auth-Application-Id", AVP_TYPE_UNSIGNED32, &fd.auth_app_id},
    {DIA_AVP_SESSION_ID, "Session-Id", AVP_TYPE_OCTETSTRING, &fd.session_id},
    {DIA_AVP_ORIGIN_HOST, "Origin-Host", AVP_TYPE_OCTETSTRING, &fd.origin_host},
    {DIA_AVP_RESULT_CODE, "Result-Code", AVP_TYPE_UNSIGNED32, &fd.result_code},
    {DIA_AVP_AUTH_SESSION_STATE, "Auth-Session-State", AVP_TYPE_INTEGER32, &fd.auth_session_state},
    {DIA_AVP_DESTINATION_REALM, "Destination-Realm", AVP_TYPE_OCTETSTRING, &fd.dest_realm},
    {DIA_AVP_ORIGIN_REALM, "Origin-Realm", AVP_TYPE_OCTETSTRING, &fd.origin_realm},
    {DIA_AVP_SIP_SERVER_URI, "SIP-Server-URI", AVP_TYPE_OCTETSTRING, NULL},
    {DIA_AVP_SIP_AUTH_DATA_ITEM, "SIP-Auth-Data-Item", AVP_TYPE_GROUPED, &fd.item},
    {DIA_AVP_SIP_AUTHENTICATION_SCHEME, "SIP-Authentication-Scheme", AVP_TYPE_INTEGER32,
     &fd.scheme},
    {DIA_AVP_SIP_ITEM_NUMBER, "SIP-Item-Number", AVP_TYPE_UNSIGNED32, &fd.item_number},
    {DIA_AVP_SIP_AUTHENTICATE, "SIP-Authenticate", AVP_TYPE_GROUPED, &fd.authenticate},
    {DIA_AVP_SIP_AUTHORIZATION, "SIP-Authorization", AVP_TYPE_GROUPED, &fd.authorization},
    {DIA_AVP_SIP_AUTHENTICATION_INFO, "SIP-Authentication-Info", AVP_TYPE_GROUPED, NULL},
    {DIA_AVP_SIP_NUMBER_AUTH_ITEMS, "SIP-Number-Auth-Items", AVP_TYPE_UNSIGNED32, &fd.n_items},
    {DIA_AVP_SIP_METHOD, "SIP-Method", AVP_TYPE_OCTETSTRING, &fd.method},
};

static int fd_dict_build(void)
{
	struct dict_application_data app = {DIA_APP_SIP, "Diameter Session Initiation Protocol "
	                                                 "(SIP) Application"};
	struct dict_cmd_data mar = {DIA_CMD_MA, "Multimedia-Auth-Request",
	                            CMD_FLAG_REQUEST | CMD_FLAG_PROXIABLE | CMD_FLAG_ERROR,
	                            CMD_FLAG_REQUEST | CMD_FLAG_PROXIABLE};
	struct dict_cmd_data maa = {DIA_CMD_MA, "Multimedia-Auth-Answer",
	                            CMD_FLAG_REQUEST | CMD_FLAG_PROXIABLE, CMD_FLAG_PROXIABLE};
	struct dict_object *sip;
	int r;

	r = fd_libproto_init();
	if (r == 0)
		r = fd_dict_init(&fd.dict);
	if (r == 0)
		r = fd_dict_new(fd.dict, DICT_APPLICATION, &app, NULL, &sip);
	if (r == 0)
		r = fd_dict_new(fd.dict, DICT_COMMAND, &mar, sip, &fd.mar);
	if (r == 0)
		r = fd_dict_new(fd.dict, DICT_COMMAND, &maa, sip, &fd.maa);
	for (size_t i = 0; r == 0 && i < MR_ARRAY_SIZE(fd_avps); i++) {
		const struct fd_avp_row *row = &fd_avps[i];
		struct dict_avp_data d = {row->code,          0,
		                          (char *)row->name,  AVP_FLAG_VENDOR | AVP_FLAG_MANDATORY,
		                          AVP_FLAG_MANDATORY, row->type};
		struct dict_object *obj;

		r = fd_dict_new(fd.dict, DICT_AVP, &d, NULL, &obj);
		if (r == 0 && row->obj)
			*row->obj = obj;
	}
	if (r)
		fprintf(stderr, "mb_dia: freeDiameter dictionary: %s\n", strerror(r));
	return -r;
}

/* Every AVP at every depth into @f: MSG_BRW_WALK visits grouped children too. */
static int fd_read(struct msg *m, struct fields *f)
{
	struct avp *a;
	struct avp_hdr *h;

	if (fd_msg_browse(m, MSG_BRW_FIRST_CHILD, &a, NULL))
		return -EINVAL;
	while (a) {
		if (fd_msg_avp_hdr(a, &h))
			return -EINVAL;
		/* a grouped AVP has no value: the walk goes into its children next */
		if (h->avp_value && !(h->avp_flags & AVP_FLAG_VENDOR)) {
			if (mara_is_u32(h->avp_code))
				field_u32(f, h->avp_code, h->avp_value->u32);
			else
				field_str(f, h->avp_code, h->avp_value->os.data,
				          h->avp_value->os.len);
		}
		if (fd_msg_browse(a, MSG_BRW_WALK, &a, NULL))
			return -EINVAL;
	}
	return 0;
}

static int check_fields(const char *what, const struct fields *a, const struct fields *b);

/* One received message the libfdproto way: its buffer handed to the message (the API takes
 * ownership, so the bytes are copied into a malloc'd buffer as a receiver has them), the
 * tree built, resolved against the dictionary, read, freed. The slices in @f die with the
 * message: set-up passes @expect to compare them with mara's reading before that. */
static int fd_decode_once(const uint8_t *bytes, uint32_t len, struct fields *f,
                          const struct fields *expect)
{
	struct fd_pei pei;
	struct msg *m = NULL;
	uint8_t *buf = malloc(len);
	int r;

	if (!buf)
		return -ENOMEM;
	memcpy(buf, bytes, len);
	r = fd_msg_parse_buffer(&buf, len, &m);
	if (r) {
		free(buf);
		return -r;
	}
	memset(&pei, 0, sizeof(pei));
	r = fd_msg_parse_dict(m, fd.dict, &pei);
	if (r == 0)
		r = -fd_read(m, f);
	if (r == 0 && expect && check_fields("decode", expect, f))
		r = EPROTO;
	fd_msg_free(m);
	return -r;
}

static void fd_decode_mar(void *arg, uint64_t iters)
{
	(void)arg;
	for (uint64_t i = 0; i < iters; i++) {
		struct fields f;

		memset(&f, 0, sizeof(f));
		if (mr_unlikely(fd_decode_once(mar_buf, mar_len, &f, NULL)))
			abort();
		mb_do_not_optimize(&f);
	}
}

static void fd_decode_maa(void *arg, uint64_t iters)
{
	(void)arg;
	for (uint64_t i = 0; i < iters; i++) {
		struct fields f;

		memset(&f, 0, sizeof(f));
		if (mr_unlikely(fd_decode_once(maa_buf, maa_len, &f, NULL)))
			abort();
		/* the proxy's judgement, as in dia_sipcli_decode_maa */
		if (mr_unlikely(dia_sipcli_judge(f.result_code, f.d.realm.len && f.d.nonce.len) !=
		                DIA_SIPCLI_CHALLENGE))
			abort();
		mb_do_not_optimize(&f);
	}
}

static int fd_add(msg_or_avp *parent, struct dict_object *model, union avp_value *v,
                  struct avp **out)
{
	struct avp *a;
	int r = fd_msg_avp_new(model, 0, &a);

	if (r)
		return r;
	if (v && (r = fd_msg_avp_setvalue(a, v)) != 0) {
		fd_msg_free(a);
		return r;
	}
	r = fd_msg_avp_add(parent, MSG_BRW_LAST_CHILD, a);
	if (r) {
		fd_msg_free(a);
		return r;
	}
	if (out)
		*out = a;
	return 0;
}

static int fd_add_str(msg_or_avp *parent, struct dict_object *model, struct mr_str s)
{
	union avp_value v = {.os = {(uint8_t *)(uintptr_t)s.p, s.len}};

	return fd_add(parent, model, &v, NULL);
}

static int fd_add_opt(msg_or_avp *parent, struct dict_object *model, struct mr_str s)
{
	return s.len ? fd_add_str(parent, model, s) : 0;
}

static int fd_add_u32(msg_or_avp *parent, struct dict_object *model, uint32_t u)
{
	union avp_value v = {.u32 = u};

	return fd_add(parent, model, &v, NULL);
}

/* The AVPs of dia_sipcli_encode_mar(), in its order, from the same input. */
static int fd_build_mar(struct msg *m, const struct dia_sipcli_mar *in)
{
	const struct auth_digest *d = in->cred;
	struct avp *item, *authz;
	int r = 0;

	r |= fd_add_str(m, fd.session_id, in->session_id);
	r |= fd_add_u32(m, fd.auth_app_id, DIA_APP_SIP);
	r |= fd_add_u32(m, fd.auth_session_state, 1);
	r |= fd_add_str(m, fd.origin_host, proxy_id.host);
	r |= fd_add_str(m, fd.origin_realm, proxy_id.realm);
	r |= fd_add_str(m, fd.dest_realm, dest_realm);
	r |= fd_add_str(m, fd.aor, in->aor);
	r |= fd_add_str(m, fd.method, in->method);
	r |= fd_add_opt(m, fd.user_name, in->user_name.len ? in->user_name : d->username);
	r |= fd_add_u32(m, fd.n_items, 1);
	if (r || fd_add(m, fd.item, NULL, &item))
		return EINVAL;
	r |= fd_add_u32(item, fd.scheme, 0);
	if (r || fd_add(item, fd.authorization, NULL, &authz))
		return EINVAL;
	r |= fd_add_str(authz, fd.d_username, d->username);
	r |= fd_add_str(authz, fd.d_realm, d->realm);
	r |= fd_add_str(authz, fd.d_nonce, d->nonce);
	r |= fd_add_str(authz, fd.d_uri, d->uri);
	r |= fd_add_str(authz, fd.d_response, d->response);
	r |= fd_add_opt(authz, fd.d_algorithm, d->algorithm);
	r |= fd_add_opt(authz, fd.d_cnonce, d->cnonce);
	r |= fd_add_opt(authz, fd.d_qop, d->qop);
	r |= fd_add_opt(authz, fd.d_nc, d->nc);
	r |= fd_add_str(authz, fd.d_method, in->method);
	return r ? EINVAL : 0;
}

/* The AVPs of mara_encode_maa_once(), in its order. The Session-Id is handed over as a
 * slice (mara finds it in the MAR): no fd session object. */
static int fd_build_maa(struct msg *m, const struct maa_in *in)
{
	struct avp *item, *chal;
	int r = 0;

	r |= fd_add_str(m, fd.session_id, mar_in.session_id);
	r |= fd_add_u32(m, fd.result_code, RC_CHALLENGE);
	r |= fd_add_str(m, fd.origin_host, aaa_id.host);
	r |= fd_add_str(m, fd.origin_realm, aaa_id.realm);
	r |= fd_add_u32(m, fd.auth_app_id, DIA_APP_SIP);
	r |= fd_add_u32(m, fd.auth_session_state, 1);
	r |= fd_add_str(m, fd.user_name, in->user_name);
	r |= fd_add_str(m, fd.aor, in->aor);
	r |= fd_add_u32(m, fd.n_items, 1);
	if (r || fd_add(m, fd.item, NULL, &item))
		return EINVAL;
	r |= fd_add_u32(item, fd.scheme, 0);
	r |= fd_add_u32(item, fd.item_number, 1);
	if (r || fd_add(item, fd.authenticate, NULL, &chal))
		return EINVAL;
	r |= fd_add_str(chal, fd.d_realm, in->realm);
	r |= fd_add_str(chal, fd.d_nonce, in->nonce);
	r |= fd_add_str(chal, fd.d_algorithm, in->algorithm);
	r |= fd_add_str(chal, fd.d_qop, in->qop);
	return r ? EINVAL : 0;
}

/* One message the libfdproto way: fd_msg_new, the AVPs added one by one (values copied in),
 * fd_msg_bufferize into a malloc'd buffer. The caller frees *@out. Returns its length or a
 * negative errno. */
static int fd_encode_once(bool answer, uint8_t **out)
{
	struct msg *m;
	struct msg_hdr *h;
	size_t len = 0;
	int r = fd_msg_new(answer ? fd.maa : fd.mar, 0, &m);

	if (r)
		return -r;
	r = fd_msg_hdr(m, &h);
	if (r == 0) {
		h->msg_appl = DIA_APP_SIP;
		h->msg_flags = answer ? CMD_FLAG_PROXIABLE : CMD_FLAG_REQUEST | CMD_FLAG_PROXIABLE;
		r = answer ? fd_build_maa(m, &maa_in) : fd_build_mar(m, &mar_in);
	}
	if (r == 0)
		r = fd_msg_bufferize(m, out, &len);
	fd_msg_free(m);
	return r ? -r : (int)len;
}

static void fd_encode(bool answer, uint32_t want, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++) {
		uint8_t *buf = NULL;

		if (mr_unlikely(fd_encode_once(answer, &buf) != (int)want))
			abort();
		mb_do_not_optimize(buf);
		free(buf);
	}
}

static void fd_encode_mar(void *arg, uint64_t iters)
{
	(void)arg;
	fd_encode(false, mar_len, iters);
}

static void fd_encode_maa(void *arg, uint64_t iters)
{
	(void)arg;
	fd_encode(true, maa_len, iters);
}

/* ---- set-up: both sides must produce and read the same bytes ----------------------------- */

static int check_same(const char *what, const uint8_t *a, uint32_t alen, const uint8_t *b, int blen)
{
	if (blen < 0 || (uint32_t)blen != alen || memcmp(a, b, alen) != 0) {
		fprintf(stderr, "mb_dia: %s: libfdproto's bytes differ from mara's (%u vs %d)\n",
		        what, alen, blen);
		return -EPROTO;
	}
	return 0;
}

static int check_fields(const char *what, const struct fields *a, const struct fields *b)
{
	const struct mr_str *sa[] = {
	    &a->session_id, &a->origin_host, &a->origin_realm, &a->dest_realm, &a->user_name,
	    &a->aor,        &a->method,      &a->d.username,   &a->d.realm,    &a->d.nonce,
	    &a->d.uri,      &a->d.response,  &a->d.algorithm,  &a->d.cnonce,   &a->d.nc,
	    &a->d.qop,      &a->d.method};
	const struct mr_str *sb[] = {
	    &b->session_id, &b->origin_host, &b->origin_realm, &b->dest_realm, &b->user_name,
	    &b->aor,        &b->method,      &b->d.username,   &b->d.realm,    &b->d.nonce,
	    &b->d.uri,      &b->d.response,  &b->d.algorithm,  &b->d.cnonce,   &b->d.nc,
	    &b->d.qop,      &b->d.method};
	bool same = a->session_id.len && a->d.nonce.len && a->result_code == b->result_code &&
	            a->app_id == b->app_id && a->session_state == b->session_state &&
	            a->n_items == b->n_items && a->scheme == b->scheme &&
	            a->item_number == b->item_number;

	for (size_t i = 0; same && i < MR_ARRAY_SIZE(sa); i++)
		same = mr_str_eq(*sa[i], *sb[i]);
	if (!same)
		fprintf(stderr, "mb_dia: %s: the two readers disagree\n", what);
	return same ? 0 : -EPROTO;
}

static int setup(void)
{
	struct fields fm = {0}, ff = {0};
	struct dia_msg mar, maa;
	struct dia_avp_iter it;
	struct dia_error err;
	uint8_t *fd_bytes = NULL;
	int r, n;

	n = mara_encode_mar_once(mar_buf);
	if (n <= 0 || dia_msg_init(&mar, mar_buf, (uint32_t)n))
		return -EINVAL;
	mar_len = (uint32_t)n;
	n = mara_encode_maa_once(maa_buf, &mar, &maa_in);
	if (n <= 0 || dia_msg_init(&maa, maa_buf, (uint32_t)n))
		return -EINVAL;
	maa_len = (uint32_t)n;
	dia_msg_validate(&mar, &err);
	if (err.rc)
		return -EINVAL;
	dia_msg_validate(&maa, &err);
	if (err.rc)
		return -EINVAL;

	r = fd_dict_build();
	if (r)
		return r;
	n = fd_encode_once(false, &fd_bytes);
	r = check_same("MAR", mar_buf, mar_len, fd_bytes, n);
	free(fd_bytes);
	fd_bytes = NULL;
	if (r)
		return r;
	n = fd_encode_once(true, &fd_bytes);
	r = check_same("MAA", maa_buf, maa_len, fd_bytes, n);
	free(fd_bytes);
	if (r)
		return r;

	dia_avp_iter_init(&it, &mar);
	if (mara_read(&it, &fm, 0) < 0)
		return -EBADMSG;
	r = fd_decode_once(mar_buf, mar_len, &ff, &fm);
	if (r)
		return r;
	memset(&fm, 0, sizeof(fm));
	memset(&ff, 0, sizeof(ff));
	dia_avp_iter_init(&it, &maa);
	if (mara_read(&it, &fm, 0) < 0)
		return -EBADMSG;
	return fd_decode_once(maa_buf, maa_len, &ff, &fm);
}

int mb_dia_init(void)
{
	char len[16];
	int r = setup();

	if (r) {
		fprintf(stderr, "mb_dia: set-up failed: %s\n", strerror(-r));
		return r;
	}
	mb_context("libfdproto", fd_libproto_version);
	snprintf(len, sizeof(len), "%u", mar_len);
	mb_context("dia_bytes_MAR", len);
	snprintf(len, sizeof(len), "%u", maa_len);
	mb_context("dia_bytes_MAA", len);
	mb_register("dia_decode/MAR/mara", mara_decode_mar, NULL, 1, mar_len);
	mb_register("dia_decode/MAR/mara_novalidate", mara_read_mar, NULL, 1, mar_len);
	mb_register("dia_decode/MAR/libfdproto", fd_decode_mar, NULL, 1, mar_len);
	mb_register("dia_decode/MAA/mara", mara_decode_maa, NULL, 1, maa_len);
	mb_register("dia_decode/MAA/mara_novalidate", mara_read_maa, NULL, 1, maa_len);
	mb_register("dia_decode/MAA/libfdproto", fd_decode_maa, NULL, 1, maa_len);
	mb_register("dia_encode/MAR/mara", mara_encode_mar, NULL, 1, mar_len);
	mb_register("dia_encode/MAR/libfdproto", fd_encode_mar, NULL, 1, mar_len);
	mb_register("dia_encode/MAA/mara", mara_encode_maa, NULL, 1, maa_len);
	mb_register("dia_encode/MAA/libfdproto", fd_encode_maa, NULL, 1, maa_len);
	return 0;
}

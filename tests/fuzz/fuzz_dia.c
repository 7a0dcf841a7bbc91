/* SPDX-License-Identifier: MIT
 * fuzz_dia.c - libFuzzer target: bytes from a Diameter peer through what both daemons do with
 * them: stream framing, the header, the dictionary validation (5014 / 3009 / 5001 / 5005 and the
 * nesting limit), the AVP iterator over grouped AVPs at every depth, the dumper, the proxy's MAA
 * decoder, and mara-aaa's MAR handler (dia_sipsrv_answer) when the bytes make a valid MAR.
 * Owns: the server state (users, nonce key, replay table), made once. */
#include "auth.h"
#include "dia.h"
#include "dia_sipcli.h"
#include "dia_sipsrv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct dia_sipsrv srv;
static struct dia_sipsrv_cfg scfg;
static struct auth_nonce_key key;
static struct auth_users_ref users;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct auth_users *u;

	(void)argc;
	(void)argv;
	if (auth_users_load(MR_FUZZ_USERS, &u) || auth_users_ref_init(&users, u) ||
	    auth_nonce_key_from_hex(&key, "000102030405060708090a0b0c0d0e0f"
	                                  "101112131415161718191a1b1c1d1e1f") ||
	    auth_replay_create(4096, 300, &scfg.replay))
		abort();
	scfg.id = (struct dia_ident){MR_STR_LIT("aaa.fuzz.test"), MR_STR_LIT("fuzz.test"), 1};
	scfg.realm = MR_STR_LIT("example.com");
	scfg.algs[0] = AUTH_ALG_MD5;
	scfg.algs[1] = AUTH_ALG_SHA256;
	scfg.nalgs = 2;
	scfg.key = &key;
	scfg.users = &users;
	if (dia_sipsrv_init(&srv, &scfg))
		abort();
	return 0;
}

/* Every AVP at every depth, as a reader of grouped AVPs would walk them. */
static void walk(struct dia_avp_iter *it, int depth)
{
	struct dia_avp a;
	int n = 0;

	while (n++ < 4096 && dia_avp_next(it, &a) > 0) {
		const struct dia_avp_def *def = dia_dict_avp(a.code, a.vendor);
		struct dia_avp_iter child;

		if (def && def->type == DIA_T_GROUPED && depth < 32) {
			dia_avp_iter_init_group(&child, &a);
			walk(&child, depth + 1);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[16384];
	static char text[65536];
	struct dia_sipcli_result r;
	struct dia_avp_iter it;
	struct dia_error err;
	struct dia_msg m;
	int len;

	if (size > 65536)
		return 0;
	len = dia_frame(data, size, 65536);
	if (len <= 0 || dia_msg_init(&m, data, (uint32_t)len))
		return 0;
	dia_avp_iter_init(&it, &m);
	walk(&it, 0);
	(void)dia_msg_dump(&m, text, sizeof(text));
	memset(&err, 0, sizeof(err));
	(void)dia_msg_validate_nest(&m, 3, &err);
	memset(&err, 0, sizeof(err));
	if (dia_msg_validate(&m, &err) || err.rc)
		return 0;
	if (!(m.hdr.flags & DIA_FLAG_R)) {
		memset(&r, 0, sizeof(r));
		(void)dia_sipcli_decode_maa(&m, &r);
	} else if (m.hdr.app_id == DIA_APP_SIP) {
		struct dia_enc e;

		dia_enc_init(&e, out, sizeof(out));
		(void)dia_sipsrv_answer(&srv, &m, &e, 1700000000);
	}
	return 0;
}

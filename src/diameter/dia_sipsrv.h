/* SPDX-License-Identifier: MIT
 * dia_sipsrv.h - the RFC 4740 Diameter server side of §6.4 Figure 4: a Multimedia-Auth-Request
 * in, its Multimedia-Auth-Answer out (challenge with a stateless nonce, or digest validation).
 * Owns: per-loop OpenSSL contexts and a reference to the user store; the config, nonce key,
 * replay table and user-store holder are shared and borrowed.
 * Thread: one struct dia_sipsrv per loop thread; pure over its inputs but for the replay table
 * (internally locked). Nothing links the two MARs of a call but the nonce, so any instance
 * sharing the secret answers either MAR, whatever its Session-Id or connection. */
#ifndef DIA_SIPSRV_H
#define DIA_SIPSRV_H

#include "auth.h"
#include "dia.h"

struct dia_sipsrv_cfg {
	struct dia_ident id;
	struct mr_str realm;      /* digest realm */
	int algs[AUTH_ALG_COUNT]; /* enum auth_alg, preferred first */
	unsigned nalgs;
	bool allow_no_qop;
	bool return_ha1;                  /* RFC 4740 §6.3: Digest-HA1 in the challenge */
	const struct auth_nonce_key *key; /* borrowed, shared */
	struct auth_replay *replay;       /* shared */
	struct auth_users_ref *users;     /* shared */
};

/* Outcome counters of one loop: one writer (the loop), on their own cache lines. */
struct __attribute__((aligned(64))) dia_sipsrv_stats {
	uint64_t mar;
	uint64_t challenges;      /* 2008/4013 with SIP-Authenticate */
	uint64_t stale;           /* challenges with Digest-Stale */
	uint64_t authorized;      /* 2006 */
	uint64_t bad_response;    /* 4001: wrong password */
	uint64_t forged_nonce;    /* 4001: MAC mismatch or malformed nonce */
	uint64_t replayed;        /* 4001: nonce count seen before */
	uint64_t retransmissions; /* the same request again (same nc, same Session-Id): 2006 */
	uint64_t unknown_user;    /* 5032 */
	uint64_t bad_scheme;      /* 5037 */
	uint64_t aor_mismatch;    /* 5033 */
	uint64_t bad_request;     /* 4001/5004 for other malformed credentials */
};

struct dia_sipsrv {
	const struct dia_sipsrv_cfg *cfg;
	struct auth_hash hash;
	struct auth_nonce_ctx nonce;
	struct auth_users *users; /* our reference */
	uint64_t users_gen;
	struct dia_sipsrv_stats st;
};

int dia_sipsrv_init(struct dia_sipsrv *s, const struct dia_sipsrv_cfg *cfg);
void dia_sipsrv_fini(struct dia_sipsrv *s);
/* Picks up a reloaded user store (call once per loop turn; one relaxed load when unchanged). */
void dia_sipsrv_refresh(struct dia_sipsrv *s);

/* dia_sipsrv_answer() : encodes the MAA for @mar (a validated MAR, app 6) into @e, at wall-clock
 * second @now. Returns what dia_enc_finish() returns (length, or -ENOBUFS). */
int dia_sipsrv_answer(struct dia_sipsrv *s, const struct dia_msg *mar, struct dia_enc *e,
                      uint64_t now);

#endif

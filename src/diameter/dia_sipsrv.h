/* SPDX-License-Identifier: MIT
 * dia_sipsrv.h - the RFC 4740 Diameter server side of §6.4 Figure 4: a Multimedia-Auth-Request
 * in, its Multimedia-Auth-Answer out (challenge with a stateless nonce, or digest validation).
 * Owns: per-loop OpenSSL contexts and a reference to the user store; the config, nonce key,
 * replay table and user-store holder are shared and borrowed.
 * Thread: one struct dia_sipsrv per loop thread; pure over its inputs but for the replay table
 * (internally locked). Nothing links the two MARs of a call but the nonce. A nonce names the
 * instance that minted it (auth.h), and only that one validates it: another instance sharing
 * the secret answers it with a fresh challenge (Digest-Stale), since its own replay table
 * cannot vouch for the nonce's counts. The challenge's Digest-Opaque, "dh:<Origin-Host>",
 * tells a proxy where to send the credentials (Destination-Host). */
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

/* Why credentials were not accepted, each counted (mara_aaa_digest_refused_total{reason}).
 * The *_RECHALLENGED ones are answered with a fresh challenge, the others with 4001/5032. */
enum dia_sipsrv_reason {
	DIA_SIPSRV_R_WRONG_RESPONSE = 0,
	DIA_SIPSRV_R_FORGED_NONCE,       /* MAC mismatch or malformed nonce */
	DIA_SIPSRV_R_FOREIGN_REALM,      /* Digest-Realm is not ours */
	DIA_SIPSRV_R_EXPIRED_NONCE,      /* re-challenged (stale) */
	DIA_SIPSRV_R_REPLAYED,           /* nonce count seen before */
	DIA_SIPSRV_R_ALG_NOT_ALLOWED,    /* an algorithm the policy does not offer */
	DIA_SIPSRV_R_ALG_DOWNGRADE,      /* not the algorithm the nonce was minted for */
	DIA_SIPSRV_R_BAD_USERNAME,       /* auth_user_name_ok() refused it */
	DIA_SIPSRV_R_FOREIGN_INSTANCE,   /* minted by another instance: re-challenged */
	DIA_SIPSRV_R_REPLAY_TABLE_STALE, /* the replay table cannot vouch: re-challenged */
	DIA_SIPSRV_R_UNKNOWN_USER,
	DIA_SIPSRV_R_QOP_REQUIRED,
	DIA_SIPSRV_R_BAD_NC,
	DIA_SIPSRV_R_NO_HA1,       /* the user has no HA1 for that algorithm */
	DIA_SIPSRV_R_INCONSISTENT, /* qop without cnonce, bad response length... */
	DIA_SIPSRV_R_COUNT,
};

/* The label of a reason ("forged_nonce"...). */
const char *dia_sipsrv_reason_name(enum dia_sipsrv_reason r);

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
	uint64_t refused[DIA_SIPSRV_R_COUNT]; /* by reason, whatever the answer */
};

struct dia_sipsrv {
	const struct dia_sipsrv_cfg *cfg;
	struct auth_hash hash;
	struct auth_nonce_ctx nonce;
	struct auth_users *users; /* our reference */
	uint64_t users_gen;
	struct dia_sipsrv_stats st;
	char opaque[300]; /* "dh:<our Origin-Host>" */
	uint32_t opaque_len;
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

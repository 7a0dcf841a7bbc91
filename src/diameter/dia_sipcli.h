/* SPDX-License-Identifier: MIT
 * dia_sipcli.h - the RFC 4740 client side of §6.4 Figure 4, as the SIP proxy plays it: encode a
 * Multimedia-Auth-Request (with or without the UA's digest credentials), judge the
 * Multimedia-Auth-Answer by its content, derive a stateless Session-Id from the SIP dialog.
 * Owns: nothing. Encoding writes into the caller's encoder; decoding yields slices into the
 * caller's MAA bytes (valid while they are held).
 * Thread: any; pure functions, no allocation, no I/O. */
#ifndef DIA_SIPCLI_H
#define DIA_SIPCLI_H

#include "auth.h"
#include "dia.h"

#include <stddef.h>

/* What goes into one MAR. Slices are borrowed for the duration of the call. */
struct dia_sipcli_mar {
	struct mr_str session_id; /* required: dia_sipcli_session_id() */
	struct mr_str aor;        /* required: SIP-AOR (Request-URI, or To URI for REGISTER) */
	struct mr_str method;     /* required: SIP-Method, also Digest-Method */
	struct mr_str user_name;  /* User-Name; empty = absent, or cred->username when @cred */
	/* The Proxy-Authorization params of the request (realm matching ours), NULL for MAR #1.
	 * Its method field is ignored: Digest-Method is @method. */
	const struct auth_digest *cred;
	/* with @cred: ask mara-aaa (return_ha1 = true) to hand this nonce over with its HA1
	 * (an empty Digest-HA1 in SIP-Authorization; sip_authcache.h) */
	bool want_ha1;
	/* Destination-Host: the server that minted the nonce (dia_sipcli_opaque_host() of the
	 * credentials' opaque), so its replay table sees the counts; empty = absent. */
	struct mr_str dest_host;
};

/* dia_sipcli_opaque_host() : the Diameter identity a mara-aaa challenge put in Digest-Opaque as
 * "dh:<Origin-Host>", empty when @opaque is not of that form or the host is not a plausible
 * DiameterIdentity (1..255 of [A-Za-z0-9.-_]): another server's opaque is left alone. */
struct mr_str dia_sipcli_opaque_host(struct mr_str opaque);

/* dia_sipcli_encode_mar() : encodes a complete MAR (header R|P, code 286, app 6, hop-by-hop and
 * end-to-end 0: the pool patches them at offsets 12 and 16) into @e, which the caller has
 * initialised over its buffer: Session-Id, Auth-Application-Id 6, Auth-Session-State
 * NO_STATE_MAINTAINED, Origin-Host/Realm from @id, Destination-Realm, SIP-AOR, SIP-Method,
 * [Destination-Host], [User-Name], SIP-Number-Auth-Items 1,
 * SIP-Auth-Data-Item{SIP-Authentication-Scheme DIGEST, [SIP-Authorization{Digest-*}]}. Never
 * SIP-Server-URI (RFC 4740 §6.4 proxy case). Returns the message length (> 0), -EINVAL when a
 * required field is empty, -ENOBUFS when @e is too small (nothing usable was written). */
int dia_sipcli_encode_mar(struct dia_enc *e, const struct dia_ident *id, struct mr_str dest_realm,
                          const struct dia_sipcli_mar *m);

/* How the proxy must treat an MAA (RFC 4740 §8.8 read by content, diameter-sip.md §2). */
enum dia_sipcli_outcome {
	DIA_SIPCLI_ERROR = 0,   /* 3xxx, unknown codes, a 1xxx/2xxx without usable content: 500 */
	DIA_SIPCLI_CHALLENGE,   /* SIP-Authenticate with realm and nonce, code 1001/2001/2006/2008/
	                         * 4013: answer 407 with Proxy-Authenticate built from it */
	DIA_SIPCLI_AUTHORIZED,  /* 2001/2006 without SIP-Authenticate: forward */
	DIA_SIPCLI_REFUSED,     /* 4001, 4013 without challenge, 5003, 5012, 5032..5036: 403 */
	DIA_SIPCLI_UNSUPPORTED, /* 5037 SIP-Authentication-Scheme not supported: 403 */
};

/* SIP-Authenticate content (RFC 4740 §9.5), quotes already removed by the server. */
struct dia_sipcli_challenge {
	struct mr_str realm;
	struct mr_str nonce;
	struct mr_str algorithm;
	struct mr_str qop;
	struct mr_str opaque;
	struct mr_str domain;
	struct mr_str stale_text; /* Digest-Stale as sent */
	struct mr_str ha1;        /* Digest-HA1: RFC 4740 §6.3 mode, the proxy validates itself */
	bool stale;               /* Digest-Stale is "true" (case-insensitive) */
};

/* SIP-Authentication-Info content: for an Authentication-Info header. */
struct dia_sipcli_auth_info {
	struct mr_str rspauth; /* Digest-Response-Auth */
	struct mr_str nextnonce;
	struct mr_str qop;
	struct mr_str cnonce;
	struct mr_str nc;
	struct mr_str ha1; /* Digest-HA1 (mara-aaa in §6.3 mode): the proxy may validate the
	                    * next counts of this nonce itself (sip_authcache.h) */
};

/* A judged MAA; slices point into the MAA bytes. All-zero = nothing decoded. */
struct dia_sipcli_result {
	enum dia_sipcli_outcome outcome;
	uint32_t result_code; /* Result-Code, or Experimental-Result-Code when that is all */
	uint32_t exp_vendor;  /* Vendor-Id of an Experimental-Result, 0 for a Result-Code */
	bool experimental;    /* @result_code came from Experimental-Result */
	bool error_bit;       /* the header's E flag */
	struct mr_str session_id;
	struct mr_str user_name;
	struct mr_str origin_host;
	bool has_challenge;
	struct dia_sipcli_challenge chal;
	bool has_info;
	struct dia_sipcli_auth_info info;
};

/* dia_sipcli_decode_maa() : judges @maa (a framed message, dia_msg_init()) by content. The first
 * SIP-Auth-Data-Item carrying a SIP-Authenticate gives the challenge, the first carrying a
 * SIP-Authentication-Info the info. Experimental-Result codes are judged by the same table.
 * Returns 0 and fills @r, -EBADMSG when @maa is not a Multimedia-Auth-Answer of application 6,
 * has neither Result-Code nor Experimental-Result, or its AVPs are malformed (@r then holds
 * what was read, outcome ERROR). */
int dia_sipcli_decode_maa(const struct dia_msg *maa, struct dia_sipcli_result *r);

/* The judgement alone: @code with or without a usable challenge. */
enum dia_sipcli_outcome dia_sipcli_judge(uint32_t code, bool has_challenge);
const char *dia_sipcli_outcome_name(enum dia_sipcli_outcome o);

/* Longest Session-Id dia_sipcli_session_id() writes beyond the origin host. */
#define DIA_SIPCLI_SID_EXTRA 32

/* dia_sipcli_session_id() : "<origin_host>;<hi32>;<lo32>;mara" (RFC 6733 §8.8 form, decimal)
 * from the XXH3-64 of @call_id and @from_tag, so both MARs of a call (RFC 3261: the retried
 * request keeps Call-ID and From tag) carry the same Session-Id without any proxy state.
 * Writes a NUL-terminated string into @out. Returns its length, or -ENOBUFS when @cap is too
 * small (@out then holds an empty string when @cap > 0). */
int dia_sipcli_session_id(char *out, size_t cap, struct mr_str origin_host, struct mr_str call_id,
                          struct mr_str from_tag);

#endif

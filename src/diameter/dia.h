/* SPDX-License-Identifier: MIT
 * dia.h - Diameter (RFC 6733) codec, dictionary and pretty-printer; RFC 4740 / RFC 5090 names.
 * Owns: nothing. Decoding is in place: struct dia_msg and struct dia_avp are views into the
 * caller's receive buffer (valid while it is held); no per-AVP allocation. Encoding writes into
 * caller buffers. The dictionary is a compiled-in, read-only table (no locks, no globals to set).
 * Thread: any; all functions are pure over their arguments. Errors are negative errno values; a
 * protocol outcome (a Result-Code to answer with) is a value in struct dia_error, not an error. */
#ifndef DIA_H
#define DIA_H

#include "mr.h"

#include <errno.h>
#include <sys/socket.h>

#define DIA_HDR_LEN  20
#define DIA_MAX_NEST 8 /* grouped AVP nesting we accept and encode */
#define DIA_PORT     3868

/* Command flags (header byte 4). */
enum dia_cmd_flag {
	DIA_FLAG_R = 0x80,
	DIA_FLAG_P = 0x40,
	DIA_FLAG_E = 0x20,
	DIA_FLAG_T = 0x10,
};

/* AVP flags. */
enum dia_avp_flag {
	DIA_AVP_F_V = 0x80,
	DIA_AVP_F_M = 0x40,
	DIA_AVP_F_P = 0x20,
};

enum dia_app {
	DIA_APP_BASE = 0,
	DIA_APP_SIP = 6, /* RFC 4740 */
	DIA_APP_RELAY = 0xffffffffu,
};

enum dia_cmd {
	DIA_CMD_CE = 257, /* Capabilities-Exchange */
	DIA_CMD_RA = 258,
	DIA_CMD_AC = 271,
	DIA_CMD_AS = 274,
	DIA_CMD_ST = 275,
	DIA_CMD_DW = 280, /* Device-Watchdog */
	DIA_CMD_DP = 282, /* Disconnect-Peer */
	DIA_CMD_UA = 283, /* RFC 4740 User-Authorization */
	DIA_CMD_SA = 284, /* Server-Assignment */
	DIA_CMD_LI = 285, /* Location-Info */
	DIA_CMD_MA = 286, /* Multimedia-Auth */
	DIA_CMD_RT = 287, /* Registration-Termination */
	DIA_CMD_PP = 288, /* Push-Profile */
};

/* AVP codes used by mara (vendor 0). The dictionary knows more. */
enum dia_avp_code {
	DIA_AVP_USER_NAME = 1,
	DIA_AVP_PROXY_STATE = 33,
	DIA_AVP_DIGEST_RESPONSE = 103,
	DIA_AVP_DIGEST_REALM = 104,
	DIA_AVP_DIGEST_NONCE = 105,
	DIA_AVP_DIGEST_RESPONSE_AUTH = 106,
	DIA_AVP_DIGEST_NEXTNONCE = 107,
	DIA_AVP_DIGEST_METHOD = 108,
	DIA_AVP_DIGEST_URI = 109,
	DIA_AVP_DIGEST_QOP = 110,
	DIA_AVP_DIGEST_ALGORITHM = 111,
	DIA_AVP_DIGEST_ENTITY_BODY_HASH = 112,
	DIA_AVP_DIGEST_CNONCE = 113,
	DIA_AVP_DIGEST_NONCE_COUNT = 114,
	DIA_AVP_DIGEST_USERNAME = 115,
	DIA_AVP_DIGEST_OPAQUE = 116,
	DIA_AVP_DIGEST_AUTH_PARAM = 117,
	DIA_AVP_DIGEST_AKA_AUTS = 118,
	DIA_AVP_DIGEST_DOMAIN = 119,
	DIA_AVP_DIGEST_STALE = 120,
	DIA_AVP_DIGEST_HA1 = 121,
	DIA_AVP_SIP_AOR = 122,
	DIA_AVP_HOST_IP_ADDRESS = 257,
	DIA_AVP_AUTH_APPLICATION_ID = 258,
	DIA_AVP_ACCT_APPLICATION_ID = 259,
	DIA_AVP_VENDOR_SPECIFIC_APPLICATION_ID = 260,
	DIA_AVP_SESSION_ID = 263,
	DIA_AVP_ORIGIN_HOST = 264,
	DIA_AVP_SUPPORTED_VENDOR_ID = 265,
	DIA_AVP_VENDOR_ID = 266,
	DIA_AVP_FIRMWARE_REVISION = 267,
	DIA_AVP_RESULT_CODE = 268,
	DIA_AVP_PRODUCT_NAME = 269,
	DIA_AVP_DISCONNECT_CAUSE = 273,
	DIA_AVP_AUTH_SESSION_STATE = 277,
	DIA_AVP_ORIGIN_STATE_ID = 278,
	DIA_AVP_FAILED_AVP = 279,
	DIA_AVP_PROXY_HOST = 280,
	DIA_AVP_ERROR_MESSAGE = 281,
	DIA_AVP_ROUTE_RECORD = 282,
	DIA_AVP_DESTINATION_REALM = 283,
	DIA_AVP_PROXY_INFO = 284,
	DIA_AVP_DESTINATION_HOST = 293,
	DIA_AVP_ERROR_REPORTING_HOST = 294,
	DIA_AVP_ORIGIN_REALM = 296,
	DIA_AVP_EXPERIMENTAL_RESULT = 297,
	DIA_AVP_INBAND_SECURITY_ID = 299,
	DIA_AVP_SIP_SERVER_URI = 371,
	DIA_AVP_SIP_AUTH_DATA_ITEM = 376,
	DIA_AVP_SIP_AUTHENTICATION_SCHEME = 377,
	DIA_AVP_SIP_ITEM_NUMBER = 378,
	DIA_AVP_SIP_AUTHENTICATE = 379,
	DIA_AVP_SIP_AUTHORIZATION = 380,
	DIA_AVP_SIP_AUTHENTICATION_INFO = 381,
	DIA_AVP_SIP_NUMBER_AUTH_ITEMS = 382,
	DIA_AVP_SIP_METHOD = 393,
};

/* Result-Code values (RFC 6733 §7.1, RFC 4740 §10.1). */
enum dia_result {
	DIA_RC_MULTI_ROUND_AUTH = 1001,
	DIA_RC_SUCCESS = 2001,
	DIA_RC_SUCCESS_SERVER_NAME_NOT_STORED = 2006,
	DIA_RC_SUCCESS_AUTH_SENT_SERVER_NOT_STORED = 2008,
	DIA_RC_COMMAND_UNSUPPORTED = 3001,
	DIA_RC_UNABLE_TO_DELIVER = 3002,
	DIA_RC_REALM_NOT_SERVED = 3003,
	DIA_RC_TOO_BUSY = 3004,
	DIA_RC_APPLICATION_UNSUPPORTED = 3007,
	DIA_RC_INVALID_HDR_BITS = 3008,
	DIA_RC_INVALID_AVP_BITS = 3009,
	DIA_RC_UNKNOWN_PEER = 3010,
	DIA_RC_AUTHENTICATION_REJECTED = 4001,
	DIA_RC_ELECTION_LOST = 4003,
	DIA_RC_USER_NAME_REQUIRED = 4013,
	DIA_RC_AVP_UNSUPPORTED = 5001,
	DIA_RC_INVALID_AVP_VALUE = 5004,
	DIA_RC_MISSING_AVP = 5005,
	DIA_RC_AVP_OCCURS_TOO_MANY_TIMES = 5009,
	DIA_RC_NO_COMMON_APPLICATION = 5010,
	DIA_RC_UNSUPPORTED_VERSION = 5011,
	DIA_RC_UNABLE_TO_COMPLY = 5012,
	DIA_RC_INVALID_AVP_LENGTH = 5014,
	DIA_RC_INVALID_MESSAGE_LENGTH = 5015,
	DIA_RC_USER_UNKNOWN = 5032,
	DIA_RC_IDENTITIES_DONT_MATCH = 5033,
	DIA_RC_AUTH_SCHEME_NOT_SUPPORTED = 5037,
};

/* ---- decoding ------------------------------------------------------------------------ */

struct dia_hdr {
	uint8_t version;
	uint8_t flags;
	uint32_t length;
	uint32_t code;
	uint32_t app_id;
	uint32_t hbh;
	uint32_t e2e;
};

/* A message view over a receive buffer. All-zero = no message. */
struct dia_msg {
	struct dia_hdr hdr;
	const uint8_t *buf; /* borrowed: the whole message, hdr.length bytes */
	uint32_t len;
};

/* An AVP view. @data points into the message; @raw/@raw_len cover the whole AVP (header,
 * data, without padding) so it can be echoed verbatim (Failed-AVP, Proxy-Info). */
struct dia_avp {
	uint32_t code;
	uint32_t vendor; /* 0 when the V flag is clear */
	uint8_t flags;
	struct mr_str data;
	const uint8_t *raw;
	uint32_t raw_len;
};

struct dia_avp_iter {
	const uint8_t *p;
	const uint8_t *end;
};

/* dia_frame() : stream framing. Returns the length of the complete message at @buf (> 0),
 * 0 when @len does not hold a complete one yet, -EBADMSG when framing is lost (length < 20,
 * not a multiple of 4) and -EMSGSIZE when the announced length exceeds @max_len: in both error
 * cases the connection must be closed. The version byte is not judged here (5011 is answered). */
int dia_frame(const uint8_t *buf, size_t len, uint32_t max_len);

/* dia_msg_init() : fills @m from a complete framed message of @len bytes. Returns 0, or
 * -EBADMSG when the header length disagrees with @len. Does not look at the AVPs. */
int dia_msg_init(struct dia_msg *m, const uint8_t *buf, uint32_t len);

void dia_avp_iter_init(struct dia_avp_iter *it, const struct dia_msg *m);
/* Iterates the children of a grouped AVP. */
void dia_avp_iter_init_group(struct dia_avp_iter *it, const struct dia_avp *group);

/* Network-order readers of the header and AVP fields. */
static inline uint32_t dia_get_be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t dia_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#define DIA_AVP_HDR   8  /* code, flags, length */
#define DIA_AVP_HDR_V 12 /* the same with the vendor id (V set) */

/* dia_avp_next() : returns 1 and fills @avp, 0 at the end, -EBADMSG when the next AVP's length
 * is < its header or runs past the end; on -EBADMSG @it stays at the bad AVP. Padding is
 * skipped. hot: per AVP of every message read or validated, hence inline (a call per AVP was a
 * third of validating a MAR: perf, bench/micro). */
static inline int dia_avp_next(struct dia_avp_iter *it, struct dia_avp *avp)
{
	const uint8_t *p = it->p;
	size_t left;
	uint32_t alen, hlen, next;
	uint8_t flags;

	if (!p || p >= it->end)
		return 0;
	left = (size_t)(it->end - p);
	if (left < DIA_AVP_HDR)
		return -EBADMSG;
	flags = p[4];
	alen = dia_get_be24(p + 5);
	hlen = (flags & DIA_AVP_F_V) ? DIA_AVP_HDR_V : DIA_AVP_HDR;
	if (alen < hlen || alen > left)
		return -EBADMSG;

	avp->code = dia_get_be32(p);
	avp->flags = flags;
	avp->vendor = (flags & DIA_AVP_F_V) ? dia_get_be32(p + 8) : 0;
	avp->data = mr_str_make((const char *)p + hlen, alen - hlen);
	avp->raw = p;
	avp->raw_len = alen;

	/* The last AVP of a badly framed buffer may lack its padding: stop at the end. */
	next = (alen + 3u) & ~3u;
	it->p = next >= left ? it->end : p + next;
	return 1;
}

/* First top-level AVP with @code (vendor 0 unless given). 1 found, 0 absent, -EBADMSG. */
int dia_msg_find(const struct dia_msg *m, uint32_t code, uint32_t vendor, struct dia_avp *out);
int dia_group_find(const struct dia_avp *g, uint32_t code, uint32_t vendor, struct dia_avp *out);

/* Typed readers; -EBADMSG when the data length does not fit the type. */
int dia_avp_u32(const struct dia_avp *a, uint32_t *out);
int dia_avp_u64(const struct dia_avp *a, uint64_t *out);
/* Address AVP: family 1 (IPv4) / 2 (IPv6) into @ss; -EBADMSG otherwise. */
int dia_avp_addr(const struct dia_avp *a, struct sockaddr_storage *ss);

/* ---- validation ------------------------------------------------------------------------ */

/* Outcome of validating a received message. rc == 0 means valid. Otherwise rc is the
 * Result-Code to answer with and @failed (when raw_len > 0) the AVP to put in Failed-AVP;
 * for 5005 @missing_code names the missing AVP (the answer carries a zero-filled template). */
struct dia_error {
	uint32_t rc;
	struct dia_avp failed;
	uint32_t missing_code;
	const char *what; /* static text for Error-Message and logs */
	bool too_deep;    /* the 5014 is for grouped AVPs nested beyond the limit */
};

/* dia_msg_validate() : strict checks of a framed message against the dictionary, in this order:
 * version (5011), header bits (3008: E set on a request, reserved bits set on a request,
 * P clear on an application request), AVP lengths at every nesting level and fixed-size
 * types (5014), nesting deeper than DIA_MAX_NEST (5014), AVP flag rules of the dictionary
 * (3009), unknown AVP with M set (5001), required AVPs of a known request command (5005).
 * Returns 0 (look at err->rc) or -EINVAL for bad arguments. Answers are checked too; the
 * caller decides whether an answer's problems are worth more than a log line. */
int dia_msg_validate(const struct dia_msg *m, struct dia_error *err);
/* The same with nesting limited to @max_nest levels (1..DIA_MAX_NEST; else DIA_MAX_NEST): a
 * configured limit on hostile input, reported as 5014 with err->too_deep set. */
int dia_msg_validate_nest(const struct dia_msg *m, int max_nest, struct dia_error *err);

/* ---- encoding -------------------------------------------------------------------------- */

/* A sticky-error encoder over a caller buffer: calls after an overflow do nothing and
 * dia_enc_finish() reports -ENOBUFS. Grouped AVPs nest up to DIA_MAX_NEST. */
struct dia_enc {
	uint8_t *buf;
	uint32_t cap;
	uint32_t len;
	int err;
	int depth;
	uint32_t group_at[DIA_MAX_NEST];
};

/* Local identity, used for Origin-Host/Origin-Realm in answers. */
struct dia_ident {
	struct mr_str host;
	struct mr_str realm;
	uint32_t state_id; /* Origin-State-Id */
};

void dia_enc_init(struct dia_enc *e, uint8_t *buf, uint32_t cap);
void dia_enc_hdr(struct dia_enc *e, uint8_t flags, uint32_t code, uint32_t app, uint32_t hbh,
                 uint32_t e2e);
void dia_enc_avp_raw(struct dia_enc *e, uint32_t code, uint8_t flags, uint32_t vendor,
                     const void *data, uint32_t len);
void dia_enc_avp_str(struct dia_enc *e, uint32_t code, uint8_t flags, struct mr_str s);
void dia_enc_avp_u32(struct dia_enc *e, uint32_t code, uint8_t flags, uint32_t v);
void dia_enc_avp_u64(struct dia_enc *e, uint32_t code, uint8_t flags, uint64_t v);
/* Address AVP from an AF_INET/AF_INET6 sockaddr. */
void dia_enc_avp_addr(struct dia_enc *e, uint32_t code, uint8_t flags, const struct sockaddr *sa);
/* Copies a received AVP verbatim (Failed-AVP content, Proxy-Info echo). */
void dia_enc_avp_copy(struct dia_enc *e, const struct dia_avp *a);
void dia_enc_group_begin(struct dia_enc *e, uint32_t code, uint8_t flags, uint32_t vendor);
void dia_enc_group_end(struct dia_enc *e);
/* Patches the message length. Returns the total length (> 0), or -ENOBUFS (overflow) /
 * -EINVAL (unbalanced groups, no header). */
int dia_enc_finish(struct dia_enc *e);

/* dia_enc_answer_hdr() : starts an answer to @req: same code, app, hbh, e2e, P copied from the
 * request, E set when @rc is a 3xxx protocol error; then Session-Id (copied when the request had
 * one), Result-Code, Origin-Host, Origin-Realm. The caller appends the rest and finishes. */
void dia_enc_answer_hdr(struct dia_enc *e, const struct dia_msg *req, const struct dia_ident *id,
                        uint32_t rc);

/* dia_enc_error_answer() : a complete error answer for @req from @err (Result-Code, Error-Message,
 * Failed-AVP with the offending AVP or a template of the missing one, Origin-State-Id). Returns
 * what dia_enc_finish() returns. */
int dia_enc_error_answer(struct dia_enc *e, const struct dia_msg *req, const struct dia_ident *id,
                         const struct dia_error *err);

/* ---- dictionary ------------------------------------------------------------------------ */

enum dia_type {
	DIA_T_OCTETS,
	DIA_T_UTF8,
	DIA_T_IDENTITY,
	DIA_T_URI,
	DIA_T_I32,
	DIA_T_I64,
	DIA_T_U32,
	DIA_T_U64,
	DIA_T_F32,
	DIA_T_F64,
	DIA_T_ENUM,
	DIA_T_ADDRESS,
	DIA_T_TIME,
	DIA_T_GROUPED,
};

struct dia_avp_def {
	uint32_t code;
	uint32_t vendor;
	const char *name;
	enum dia_type type;
	uint8_t must;     /* flags that must be set (e.g. M) */
	uint8_t must_not; /* flags that must be clear (e.g. V for vendor-0 AVPs) */
};

struct dia_cmd_def {
	uint32_t code;
	uint32_t app; /* 0 for base commands valid on any application */
	const char *req_name;
	const char *ans_name;
	const uint32_t *req_required; /* AVP codes a request must carry, 0-terminated */
};

/* dia_type_size() : the data length of a fixed-size type (4 for Integer32, Unsigned32, Float32,
 * Enumerated and Time; 8 for the 64-bit ones), 0 for variable-length types. Inline: asked per
 * AVP by the validation. */
static inline uint32_t dia_type_size(enum dia_type t)
{
	switch (t) {
	case DIA_T_I32:
	case DIA_T_U32:
	case DIA_T_F32:
	case DIA_T_ENUM:
	case DIA_T_TIME:
		return 4;
	case DIA_T_I64:
	case DIA_T_U64:
	case DIA_T_F64:
		return 8;
	default:
		return 0;
	}
}

/* Lookups return NULL when unknown. */
const struct dia_avp_def *dia_dict_avp(uint32_t code, uint32_t vendor);
const struct dia_cmd_def *dia_dict_cmd(uint32_t code, uint32_t app);
/* Result-Code name ("DIAMETER_SUCCESS"), or NULL. */
const char *dia_dict_result_name(uint32_t rc);
/* Enumerated value name for an AVP (e.g. SIP-Authentication-Scheme 0 -> "DIGEST"), or NULL. */
const char *dia_dict_enum_name(uint32_t code, uint32_t vendor, int32_t value);

/* dia_msg_dump() : prints @m by name, one AVP per line, grouped AVPs indented, e.g.
 *   Multimedia-Auth-Request(286) app=6 flags=RP hbh=0x2a000001 e2e=0x5f3e0001 len=228
 *     Session-Id(263) M "proxy1.example.net;1700000000;1"
 *     SIP-Auth-Data-Item(376) M
 *       SIP-Authentication-Scheme(377) M 0 (DIGEST)
 * Unknown AVPs print as AVP(code[/vendor]) with hex data. Writes at most @cap bytes with a NUL;
 * returns the length written, or -ENOBUFS when truncated (output ends with "...\n"). */
int dia_msg_dump(const struct dia_msg *m, char *out, size_t cap);

#endif

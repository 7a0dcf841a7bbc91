/* SPDX-License-Identifier: MIT
 * dia_dict.c - compiled-in Diameter dictionary: RFC 6733 base AVPs and commands, RFC 4740 SIP
 * application AVPs and commands, RFC 5090 Digest-* AVPs, Result-Code and enumeration names.
 * Owns: static const tables only: AVPs indexed by code, the others sorted by their key and
 *   searched by bisection.
 * Thread: any; read-only data, no locks, nothing to initialise. */
#include "dia.h"

#include <stdlib.h>

/* Flag rules. Every vendor-0 AVP must not carry V; most must carry M (RFC 6733 §4.5 table,
 * RFC 4740 §9 table); a few must carry neither. */
#define R_M  DIA_AVP_F_M, DIA_AVP_F_V
#define R_NM 0, (DIA_AVP_F_M | DIA_AVP_F_V)

/* Vendor-0 AVPs, sorted by code (the dictionary has no vendor-specific AVP): one
 * X(code, name, type, flag rule) each. avp_defs[] is the table; avp_by_code[] maps a code to
 * its row + 1 (0: unknown), built by the compiler from the same list, so the per-AVP lookup
 * of the validator is one bounds check and one load instead of a bisection. */
#define AVP_ROWS(X)                                                                                \
	X(1, "User-Name", DIA_T_UTF8, R_M)                                                         \
	X(25, "Class", DIA_T_OCTETS, R_M)                                                          \
	X(27, "Session-Timeout", DIA_T_U32, R_M)                                                   \
	X(33, "Proxy-State", DIA_T_OCTETS, R_M)                                                    \
	X(44, "Acct-Session-Id", DIA_T_OCTETS, R_M)                                                \
	X(50, "Acct-Multi-Session-Id", DIA_T_UTF8, R_M)                                            \
	X(55, "Event-Timestamp", DIA_T_TIME, R_M)                                                  \
	X(85, "Acct-Interim-Interval", DIA_T_U32, R_M)                                             \
	X(103, "Digest-Response", DIA_T_UTF8, R_M)                                                 \
	X(104, "Digest-Realm", DIA_T_UTF8, R_M)                                                    \
	X(105, "Digest-Nonce", DIA_T_UTF8, R_M)                                                    \
	X(106, "Digest-Response-Auth", DIA_T_UTF8, R_M)                                            \
	X(107, "Digest-Nextnonce", DIA_T_UTF8, R_M)                                                \
	X(108, "Digest-Method", DIA_T_UTF8, R_M)                                                   \
	X(109, "Digest-URI", DIA_T_UTF8, R_M)                                                      \
	X(110, "Digest-QoP", DIA_T_UTF8, R_M)                                                      \
	X(111, "Digest-Algorithm", DIA_T_UTF8, R_M)                                                \
	X(112, "Digest-Entity-Body-Hash", DIA_T_OCTETS, R_M)                                       \
	X(113, "Digest-CNonce", DIA_T_UTF8, R_M)                                                   \
	X(114, "Digest-Nonce-Count", DIA_T_UTF8, R_M)                                              \
	X(115, "Digest-Username", DIA_T_UTF8, R_M)                                                 \
	X(116, "Digest-Opaque", DIA_T_UTF8, R_M)                                                   \
	X(117, "Digest-Auth-Param", DIA_T_UTF8, R_M)                                               \
	X(118, "Digest-AKA-Auts", DIA_T_UTF8, R_M)                                                 \
	X(119, "Digest-Domain", DIA_T_UTF8, R_M)                                                   \
	X(120, "Digest-Stale", DIA_T_UTF8, R_M)                                                    \
	X(121, "Digest-HA1", DIA_T_OCTETS, R_M)                                                    \
	X(122, "SIP-AOR", DIA_T_UTF8, R_M)                                                         \
	X(257, "Host-IP-Address", DIA_T_ADDRESS, R_M)                                              \
	X(258, "Auth-Application-Id", DIA_T_U32, R_M)                                              \
	X(259, "Acct-Application-Id", DIA_T_U32, R_M)                                              \
	X(260, "Vendor-Specific-Application-Id", DIA_T_GROUPED, R_M)                               \
	X(261, "Redirect-Host-Usage", DIA_T_ENUM, R_M)                                             \
	X(262, "Redirect-Max-Cache-Time", DIA_T_U32, R_M)                                          \
	X(263, "Session-Id", DIA_T_UTF8, R_M)                                                      \
	X(264, "Origin-Host", DIA_T_IDENTITY, R_M)                                                 \
	X(265, "Supported-Vendor-Id", DIA_T_U32, R_M)                                              \
	X(266, "Vendor-Id", DIA_T_U32, R_M)                                                        \
	X(267, "Firmware-Revision", DIA_T_U32, R_NM)                                               \
	X(268, "Result-Code", DIA_T_U32, R_M)                                                      \
	X(269, "Product-Name", DIA_T_UTF8, R_NM)                                                   \
	X(270, "Session-Binding", DIA_T_U32, R_M)                                                  \
	X(271, "Session-Server-Failover", DIA_T_ENUM, R_M)                                         \
	X(272, "Multi-Round-Time-Out", DIA_T_U32, R_M)                                             \
	X(273, "Disconnect-Cause", DIA_T_ENUM, R_M)                                                \
	X(274, "Auth-Request-Type", DIA_T_ENUM, R_M)                                               \
	X(276, "Auth-Grace-Period", DIA_T_U32, R_M)                                                \
	X(277, "Auth-Session-State", DIA_T_ENUM, R_M)                                              \
	X(278, "Origin-State-Id", DIA_T_U32, R_M)                                                  \
	X(279, "Failed-AVP", DIA_T_GROUPED, R_M)                                                   \
	X(280, "Proxy-Host", DIA_T_IDENTITY, R_M)                                                  \
	X(281, "Error-Message", DIA_T_UTF8, R_NM)                                                  \
	X(282, "Route-Record", DIA_T_IDENTITY, R_M)                                                \
	X(283, "Destination-Realm", DIA_T_IDENTITY, R_M)                                           \
	X(284, "Proxy-Info", DIA_T_GROUPED, R_M)                                                   \
	X(285, "Re-Auth-Request-Type", DIA_T_ENUM, R_M)                                            \
	X(287, "Accounting-Sub-Session-Id", DIA_T_U64, R_M)                                        \
	X(291, "Authorization-Lifetime", DIA_T_U32, R_M)                                           \
	X(292, "Redirect-Host", DIA_T_URI, R_M)                                                    \
	X(293, "Destination-Host", DIA_T_IDENTITY, R_M)                                            \
	X(294, "Error-Reporting-Host", DIA_T_IDENTITY, R_NM)                                       \
	X(295, "Termination-Cause", DIA_T_ENUM, R_M)                                               \
	X(296, "Origin-Realm", DIA_T_IDENTITY, R_M)                                                \
	X(297, "Experimental-Result", DIA_T_GROUPED, R_M)                                          \
	X(298, "Experimental-Result-Code", DIA_T_U32, R_M)                                         \
	X(299, "Inband-Security-Id", DIA_T_U32, R_M)                                               \
	X(300, "E2E-Sequence", DIA_T_GROUPED, R_M)                                                 \
	X(368, "SIP-Accounting-Information", DIA_T_GROUPED, R_M)                                   \
	X(369, "SIP-Accounting-Server-URI", DIA_T_URI, R_M)                                        \
	X(370, "SIP-Credit-Control-Server-URI", DIA_T_URI, R_M)                                    \
	X(371, "SIP-Server-URI", DIA_T_UTF8, R_M)                                                  \
	X(372, "SIP-Server-Capabilities", DIA_T_GROUPED, R_M)                                      \
	X(373, "SIP-Mandatory-Capability", DIA_T_U32, R_M)                                         \
	X(374, "SIP-Optional-Capability", DIA_T_U32, R_M)                                          \
	X(375, "SIP-Server-Assignment-Type", DIA_T_ENUM, R_M)                                      \
	X(376, "SIP-Auth-Data-Item", DIA_T_GROUPED, R_M)                                           \
	X(377, "SIP-Authentication-Scheme", DIA_T_ENUM, R_M)                                       \
	X(378, "SIP-Item-Number", DIA_T_U32, R_M)                                                  \
	X(379, "SIP-Authenticate", DIA_T_GROUPED, R_M)                                             \
	X(380, "SIP-Authorization", DIA_T_GROUPED, R_M)                                            \
	X(381, "SIP-Authentication-Info", DIA_T_GROUPED, R_M)                                      \
	X(382, "SIP-Number-Auth-Items", DIA_T_U32, R_M)                                            \
	X(383, "SIP-Deregistration-Reason", DIA_T_GROUPED, R_M)                                    \
	X(384, "SIP-Reason-Code", DIA_T_ENUM, R_M)                                                 \
	X(385, "SIP-Reason-Info", DIA_T_UTF8, R_M)                                                 \
	X(386, "SIP-Visited-Network-Id", DIA_T_UTF8, R_M)                                          \
	X(387, "SIP-User-Authorization-Type", DIA_T_ENUM, R_M)                                     \
	X(388, "SIP-Supported-User-Data-Type", DIA_T_UTF8, R_M)                                    \
	X(389, "SIP-User-Data", DIA_T_GROUPED, R_M)                                                \
	X(390, "SIP-User-Data-Type", DIA_T_UTF8, R_M)                                              \
	X(391, "SIP-User-Data-Contents", DIA_T_OCTETS, R_M)                                        \
	X(392, "SIP-User-Data-Already-Available", DIA_T_ENUM, R_M)                                 \
	X(393, "SIP-Method", DIA_T_UTF8, R_M)                                                      \
	X(480, "Accounting-Record-Type", DIA_T_ENUM, R_M)                                          \
	X(483, "Accounting-Realtime-Required", DIA_T_ENUM, R_M)                                    \
	X(485, "Accounting-Record-Number", DIA_T_U32, R_M)

#define AVP_ROW(c, n, t, r) {c, 0, n, t, r},
#define AVP_POS(c, n, t, r) avp_pos_##c,
#define AVP_IDX(c, n, t, r) [c] = avp_pos_##c + 1,
static const struct dia_avp_def avp_defs[] = {AVP_ROWS(AVP_ROW)};
enum { AVP_ROWS(AVP_POS) avp_rows };
_Static_assert(avp_rows < 255, "avp_by_code[] holds row + 1 in a byte");
static const uint8_t avp_by_code[] = {AVP_ROWS(AVP_IDX)};

/* Required AVPs of requests (the `< >` and `{ }` items of each command's ABNF). */
static const uint32_t req_ce[] = {264, 296, 257, 266, 269, 0};
static const uint32_t req_ra[] = {263, 264, 296, 283, 293, 258, 285, 0};
static const uint32_t req_ac[] = {263, 264, 296, 283, 480, 485, 0};
static const uint32_t req_as[] = {263, 264, 296, 283, 293, 258, 0};
static const uint32_t req_st[] = {263, 264, 296, 283, 258, 295, 0};
static const uint32_t req_dw[] = {264, 296, 0};
static const uint32_t req_dp[] = {264, 296, 273, 0};
/* RFC 4740 §8: Session-Id, Auth-Application-Id, Auth-Session-State, Origin-Host, Origin-Realm
 * lead every request; then the command's own ones. */
static const uint32_t req_ua[] = {263, 258, 277, 264, 296, 283, 122, 0};
static const uint32_t req_sa[] = {263, 258, 277, 264, 296, 283, 375, 392, 0};
static const uint32_t req_li[] = {263, 258, 277, 264, 296, 283, 122, 0};
static const uint32_t req_ma[] = {263, 258, 277, 264, 296, 283, 122, 393, 0};
static const uint32_t req_rt[] = {263, 258, 277, 264, 296, 293, 383, 0};
static const uint32_t req_pp[] = {263, 258, 277, 264, 296, 283, 1, 0};

/* Sorted by code; codes are unique. */
static const struct dia_cmd_def cmd_defs[] = {
    {DIA_CMD_CE, DIA_APP_BASE, "Capabilities-Exchange-Request", "Capabilities-Exchange-Answer",
     req_ce},
    {DIA_CMD_RA, DIA_APP_BASE, "Re-Auth-Request", "Re-Auth-Answer", req_ra},
    {DIA_CMD_AC, DIA_APP_BASE, "Accounting-Request", "Accounting-Answer", req_ac},
    {DIA_CMD_AS, DIA_APP_BASE, "Abort-Session-Request", "Abort-Session-Answer", req_as},
    {DIA_CMD_ST, DIA_APP_BASE, "Session-Termination-Request", "Session-Termination-Answer", req_st},
    {DIA_CMD_DW, DIA_APP_BASE, "Device-Watchdog-Request", "Device-Watchdog-Answer", req_dw},
    {DIA_CMD_DP, DIA_APP_BASE, "Disconnect-Peer-Request", "Disconnect-Peer-Answer", req_dp},
    {DIA_CMD_UA, DIA_APP_SIP, "User-Authorization-Request", "User-Authorization-Answer", req_ua},
    {DIA_CMD_SA, DIA_APP_SIP, "Server-Assignment-Request", "Server-Assignment-Answer", req_sa},
    {DIA_CMD_LI, DIA_APP_SIP, "Location-Info-Request", "Location-Info-Answer", req_li},
    {DIA_CMD_MA, DIA_APP_SIP, "Multimedia-Auth-Request", "Multimedia-Auth-Answer", req_ma},
    {DIA_CMD_RT, DIA_APP_SIP, "Registration-Termination-Request", "Registration-Termination-Answer",
     req_rt},
    {DIA_CMD_PP, DIA_APP_SIP, "Push-Profile-Request", "Push-Profile-Answer", req_pp},
};

struct result_def {
	uint32_t code;
	const char *name;
};

/* Sorted by code. RFC 6733 §7.1 and RFC 4740 §10.1. */
static const struct result_def result_defs[] = {
    {1001, "DIAMETER_MULTI_ROUND_AUTH"},
    {2001, "DIAMETER_SUCCESS"},
    {2002, "DIAMETER_LIMITED_SUCCESS"},
    {2003, "DIAMETER_FIRST_REGISTRATION"},
    {2004, "DIAMETER_SUBSEQUENT_REGISTRATION"},
    {2005, "DIAMETER_UNREGISTERED_SERVICE"},
    {2006, "DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED"},
    {2007, "DIAMETER_SERVER_SELECTION"},
    {2008, "DIAMETER_SUCCESS_AUTH_SENT_SERVER_NOT_STORED"},
    {3001, "DIAMETER_COMMAND_UNSUPPORTED"},
    {3002, "DIAMETER_UNABLE_TO_DELIVER"},
    {3003, "DIAMETER_REALM_NOT_SERVED"},
    {3004, "DIAMETER_TOO_BUSY"},
    {3005, "DIAMETER_LOOP_DETECTED"},
    {3006, "DIAMETER_REDIRECT_INDICATION"},
    {3007, "DIAMETER_APPLICATION_UNSUPPORTED"},
    {3008, "DIAMETER_INVALID_HDR_BITS"},
    {3009, "DIAMETER_INVALID_AVP_BITS"},
    {3010, "DIAMETER_UNKNOWN_PEER"},
    {4001, "DIAMETER_AUTHENTICATION_REJECTED"},
    {4002, "DIAMETER_OUT_OF_SPACE"},
    {4003, "ELECTION_LOST"},
    {4013, "DIAMETER_USER_NAME_REQUIRED"},
    {5001, "DIAMETER_AVP_UNSUPPORTED"},
    {5002, "DIAMETER_UNKNOWN_SESSION_ID"},
    {5003, "DIAMETER_AUTHORIZATION_REJECTED"},
    {5004, "DIAMETER_INVALID_AVP_VALUE"},
    {5005, "DIAMETER_MISSING_AVP"},
    {5006, "DIAMETER_RESOURCES_EXCEEDED"},
    {5007, "DIAMETER_CONTRADICTING_AVPS"},
    {5008, "DIAMETER_AVP_NOT_ALLOWED"},
    {5009, "DIAMETER_AVP_OCCURS_TOO_MANY_TIMES"},
    {5010, "DIAMETER_NO_COMMON_APPLICATION"},
    {5011, "DIAMETER_UNSUPPORTED_VERSION"},
    {5012, "DIAMETER_UNABLE_TO_COMPLY"},
    {5013, "DIAMETER_INVALID_BIT_IN_HEADER"},
    {5014, "DIAMETER_INVALID_AVP_LENGTH"},
    {5015, "DIAMETER_INVALID_MESSAGE_LENGTH"},
    {5016, "DIAMETER_INVALID_AVP_BIT_COMBO"},
    {5017, "DIAMETER_NO_COMMON_SECURITY"},
    {5032, "DIAMETER_ERROR_USER_UNKNOWN"},
    {5033, "DIAMETER_ERROR_IDENTITIES_DONT_MATCH"},
    {5034, "DIAMETER_ERROR_IDENTITY_NOT_REGISTERED"},
    {5035, "DIAMETER_ERROR_ROAMING_NOT_ALLOWED"},
    {5036, "DIAMETER_ERROR_IDENTITY_ALREADY_REGISTERED"},
    {5037, "DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED"},
    {5038, "DIAMETER_ERROR_IN_ASSIGNMENT_TYPE"},
    {5039, "DIAMETER_ERROR_TOO_MUCH_DATA"},
    {5040, "DIAMETER_ERROR_NOT_SUPPORTED_USER_DATA"},
};

struct enum_def {
	uint32_t code;
	uint32_t vendor;
	int32_t value;
	const char *name;
};

/* Sorted by (vendor, code, value). */
static const struct enum_def enum_defs[] = {
    {261, 0, 0, "DONT_CACHE"},
    {261, 0, 1, "ALL_SESSION"},
    {261, 0, 2, "ALL_REALM"},
    {261, 0, 3, "REALM_AND_APPLICATION"},
    {261, 0, 4, "ALL_APPLICATION"},
    {261, 0, 5, "ALL_HOST"},
    {261, 0, 6, "ALL_USER"},
    {271, 0, 0, "REFUSE_SERVICE"},
    {271, 0, 1, "TRY_AGAIN"},
    {271, 0, 2, "ALLOW_SERVICE"},
    {271, 0, 3, "TRY_AGAIN_ALLOW_SERVICE"},
    {273, 0, 0, "REBOOTING"},
    {273, 0, 1, "BUSY"},
    {273, 0, 2, "DO_NOT_WANT_TO_TALK_TO_YOU"},
    {274, 0, 1, "AUTHENTICATE_ONLY"},
    {274, 0, 2, "AUTHORIZE_ONLY"},
    {274, 0, 3, "AUTHORIZE_AUTHENTICATE"},
    {277, 0, 0, "STATE_MAINTAINED"},
    {277, 0, 1, "NO_STATE_MAINTAINED"},
    {285, 0, 0, "AUTHORIZE_ONLY"},
    {285, 0, 1, "AUTHORIZE_AUTHENTICATE"},
    {295, 0, 1, "DIAMETER_LOGOUT"},
    {295, 0, 2, "DIAMETER_SERVICE_NOT_PROVIDED"},
    {295, 0, 3, "DIAMETER_BAD_ANSWER"},
    {295, 0, 4, "DIAMETER_ADMINISTRATIVE"},
    {295, 0, 5, "DIAMETER_LINK_BROKEN"},
    {295, 0, 6, "DIAMETER_AUTH_EXPIRED"},
    {295, 0, 7, "DIAMETER_USER_MOVED"},
    {295, 0, 8, "DIAMETER_SESSION_TIMEOUT"},
    {299, 0, 0, "NO_INBAND_SECURITY"},
    {299, 0, 1, "TLS"},
    {375, 0, 0, "NO_ASSIGNMENT"},
    {375, 0, 1, "REGISTRATION"},
    {375, 0, 2, "RE_REGISTRATION"},
    {375, 0, 3, "UNREGISTERED_USER"},
    {375, 0, 4, "TIMEOUT_DEREGISTRATION"},
    {375, 0, 5, "USER_DEREGISTRATION"},
    {375, 0, 6, "TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME"},
    {375, 0, 7, "USER_DEREGISTRATION_STORE_SERVER_NAME"},
    {375, 0, 8, "ADMINISTRATIVE_DEREGISTRATION"},
    {375, 0, 9, "AUTHENTICATION_FAILURE"},
    {375, 0, 10, "AUTHENTICATION_TIMEOUT"},
    {375, 0, 11, "DEREGISTRATION_TOO_MUCH_DATA"},
    {377, 0, 0, "DIGEST"},
    {384, 0, 0, "PERMANENT_TERMINATION"},
    {384, 0, 1, "NEW_SIP_SERVER_ASSIGNED"},
    {384, 0, 2, "SIP_SERVER_CHANGE"},
    {384, 0, 3, "REMOVE_SIP_SERVER"},
    {387, 0, 0, "REGISTRATION"},
    {387, 0, 1, "DEREGISTRATION"},
    {387, 0, 2, "REGISTRATION_AND_CAPABILITIES"},
    {392, 0, 0, "USER_DATA_NOT_AVAILABLE"},
    {392, 0, 1, "USER_DATA_ALREADY_AVAILABLE"},
    {480, 0, 1, "EVENT_RECORD"},
    {480, 0, 2, "START_RECORD"},
    {480, 0, 3, "INTERIM_RECORD"},
    {480, 0, 4, "STOP_RECORD"},
    {483, 0, 1, "DELIVER_AND_GRANT"},
    {483, 0, 2, "GRANT_AND_STORE"},
    {483, 0, 3, "GRANT_AND_LOSE"},
};

/* bsearch() comparators: the key is a struct of the element's type holding the sort key. */
static int cmp_u32(uint32_t a, uint32_t b)
{
	return (a > b) - (a < b);
}

static int cmd_cmp(const void *k, const void *e)
{
	return cmp_u32(((const struct dia_cmd_def *)k)->code,
	               ((const struct dia_cmd_def *)e)->code);
}

static int result_cmp(const void *k, const void *e)
{
	return cmp_u32(((const struct result_def *)k)->code, ((const struct result_def *)e)->code);
}

static int enum_cmp(const void *k, const void *e)
{
	const struct enum_def *a = k, *b = e;

	if (a->vendor != b->vendor)
		return cmp_u32(a->vendor, b->vendor);
	if (a->code != b->code)
		return cmp_u32(a->code, b->code);
	return (a->value > b->value) - (a->value < b->value);
}

/* hot: per AVP when a message is validated. */
const struct dia_avp_def *dia_dict_avp(uint32_t code, uint32_t vendor)
{
	if (vendor == 0 && code < MR_ARRAY_SIZE(avp_by_code) && avp_by_code[code])
		return &avp_defs[avp_by_code[code] - 1];
	return NULL;
}

/* Base commands (app 0) are valid on any application; the relay application carries any. */
const struct dia_cmd_def *dia_dict_cmd(uint32_t code, uint32_t app)
{
	const struct dia_cmd_def key = {.code = code};
	const struct dia_cmd_def *d;

	d = bsearch(&key, cmd_defs, MR_ARRAY_SIZE(cmd_defs), sizeof(cmd_defs[0]), cmd_cmp);
	if (d && d->app != DIA_APP_BASE && d->app != app && app != DIA_APP_RELAY)
		return NULL;
	return d;
}

const char *dia_dict_result_name(uint32_t rc)
{
	const struct result_def key = {.code = rc};
	const struct result_def *d;

	d = bsearch(&key, result_defs, MR_ARRAY_SIZE(result_defs), sizeof(result_defs[0]),
	            result_cmp);
	return d ? d->name : NULL;
}

/* Result-Code (an Unsigned32) is named like an enumeration, from the Result-Code table. */
const char *dia_dict_enum_name(uint32_t code, uint32_t vendor, int32_t value)
{
	const struct enum_def key = {.code = code, .vendor = vendor, .value = value};
	const struct enum_def *d;

	if (code == DIA_AVP_RESULT_CODE && vendor == 0)
		return dia_dict_result_name((uint32_t)value);
	d = bsearch(&key, enum_defs, MR_ARRAY_SIZE(enum_defs), sizeof(enum_defs[0]), enum_cmp);
	return d ? d->name : NULL;
}

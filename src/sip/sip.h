/* SPDX-License-Identifier: MIT
 * sip.h - SIP (RFC 3261) zero-copy parser and the pieces of a stateless proxy built on it:
 * URIs, Via, name-addr, parameters, response and forward builders.
 * Owns: nothing. struct sip_msg holds slices (struct mr_str) and offsets into the caller's
 * receive buffer (Kamailio's parser/ idea): valid while that buffer is held. Builders write into
 * caller buffers, copying untouched spans of the original in as few memcpy calls as possible.
 * Thread: any; all functions are pure over their arguments, no allocation.
 * Errors are negative errno values; a SIP outcome (400, 483...) is a value, not an error. */
#ifndef SIP_H
#define SIP_H

#include "mr.h"

#define SIP_MAX_HEADERS 96 /* header fields per message; more is -E2BIG (answered 400/513) */
#define SIP_MAX_VIA     70 /* Via values per message: one per hop Max-Forwards 70 allows */
#define SIP_MAX_MSG     65535

/* Methods as bits so that policies are bitmaps (Kamailio's METHOD_*). */
enum sip_method {
	SIP_M_OTHER = 1u << 0,
	SIP_M_INVITE = 1u << 1,
	SIP_M_ACK = 1u << 2,
	SIP_M_CANCEL = 1u << 3,
	SIP_M_BYE = 1u << 4,
	SIP_M_REGISTER = 1u << 5,
	SIP_M_OPTIONS = 1u << 6,
	SIP_M_MESSAGE = 1u << 7,
	SIP_M_SUBSCRIBE = 1u << 8,
	SIP_M_NOTIFY = 1u << 9,
	SIP_M_PRACK = 1u << 10,
	SIP_M_UPDATE = 1u << 11,
	SIP_M_INFO = 1u << 12,
	SIP_M_REFER = 1u << 13,
	SIP_M_PUBLISH = 1u << 14,
};

enum sip_hdr_type {
	SIP_HDR_OTHER = 0,
	SIP_HDR_VIA,
	SIP_HDR_FROM,
	SIP_HDR_TO,
	SIP_HDR_CALL_ID,
	SIP_HDR_CSEQ,
	SIP_HDR_MAX_FORWARDS,
	SIP_HDR_ROUTE,
	SIP_HDR_RECORD_ROUTE,
	SIP_HDR_CONTACT,
	SIP_HDR_CONTENT_LENGTH,
	SIP_HDR_CONTENT_TYPE,
	SIP_HDR_PROXY_AUTHORIZATION,
	SIP_HDR_PROXY_AUTHENTICATE,
	SIP_HDR_AUTHORIZATION,
	SIP_HDR_PROXY_REQUIRE,
	SIP_HDR_REQUIRE,
	SIP_HDR_SUPPORTED,
	SIP_HDR_EXPIRES,
	SIP_HDR_COUNT,
};

/* One header field line (with its continuation lines). @off/@len cover the whole field in the
 * buffer, from the first byte of the name to the end of its CRLF, so a builder can drop or keep
 * it as one span. @value has leading/trailing LWS trimmed; it may contain folded CRLF SP. */
struct sip_hdr {
	enum sip_hdr_type type;
	struct mr_str name;
	struct mr_str value;
	uint32_t off;
	uint32_t len;
};

struct sip_uri {
	struct mr_str scheme; /* "sip", "sips", "tel"... */
	struct mr_str user;   /* may contain escapes and ';' (RFC 4475 semiuri) */
	struct mr_str password;
	struct mr_str host;    /* IPv6 references keep their brackets */
	uint16_t port;         /* 0 = absent */
	struct mr_str params;  /* after the first ';' of the hostport, without it */
	struct mr_str headers; /* after '?', without it */
	bool lr;
	struct mr_str transport;
	struct mr_str maddr;
};

/* One Via value ("SIP/2.0/UDP host:port;params"). @off/@len cover the value in the buffer
 * (without the separating comma and LWS), so it can be removed or copied. */
struct sip_via {
	struct mr_str transport; /* "UDP", "TCP"... */
	struct mr_str host;      /* brackets kept for IPv6 */
	uint16_t port;           /* 0 = absent */
	struct mr_str branch;
	struct mr_str received;
	struct mr_str rport; /* value, empty when the parameter has no value */
	bool has_rport;
	struct mr_str maddr;
	struct mr_str params; /* all parameters, after the first ';' */
	uint32_t off;
	uint32_t len;
	uint8_t hdr; /* index of the Via header field it sits in */
};

/* name-addr / addr-spec with header parameters (From, To, Contact, Route, Record-Route). */
struct sip_nameaddr {
	struct mr_str display;
	struct mr_str uri; /* without the angle brackets */
	bool bracketed;
	struct mr_str params; /* header parameters after '>' (or after the addr-spec) */
	struct mr_str tag;
};

/* A parsed message. All-zero is "nothing parsed". Hot headers have fixed slots (index into
 * @hdrs, -1 when absent), the rest is in @hdrs in wire order. */
struct sip_msg {
	const char *buf;
	uint32_t len; /* bytes of this message: start line to end of body */

	bool request;
	/* request line */
	struct mr_str method_name;
	enum sip_method method;
	struct mr_str ruri;
	struct sip_uri ruri_p;
	/* status line */
	unsigned status;
	struct mr_str reason;

	struct sip_hdr hdrs[SIP_MAX_HEADERS];
	unsigned nhdrs;
	int16_t h[SIP_HDR_COUNT]; /* first header of each known type, -1 absent */

	struct sip_via via[SIP_MAX_VIA]; /* every Via value, top first */
	unsigned nvia;

	struct sip_nameaddr from, to;
	struct mr_str call_id;
	uint32_t cseq;
	struct mr_str cseq_method;
	int max_forwards; /* -1 when absent */
	uint32_t content_length;
	uint32_t body_off; /* first byte after the empty line */
	struct mr_str body;
};

/* sip_parse() : parses one message at @buf.
 * Datagram mode (@stream false): @len is the whole datagram; the message is framed by its
 * Content-Length (bytes after the body are ignored: RFC 4475 dblreq); a Content-Length larger
 * than what is there is -EBADMSG. Absent Content-Length means the body runs to the end.
 * Stream mode: returns 0 until the headers and the Content-Length worth of body are there;
 * Content-Length is required.
 * Checks (each failure -EBADMSG unless said): start line grammar (exactly one SP between the
 * parts, no LWS in the Request-URI, a URI not in <>), SIP/2.0 only (-EPROTONOSUPPORT: 505),
 * status 100..699, mandatory headers for requests (To, From, Call-ID, CSeq, Via, and for
 * requests Max-Forwards may be absent), single-value headers given twice (To, From, Call-ID,
 * CSeq, Max-Forwards, Content-Length), CSeq number < 2^31 and its method equal to the request's,
 * Max-Forwards 0..255, Content-Length a decimal < 2^31, well-formed Via values (stray ';' or ','
 * fail), quoted strings closed, display names tokens or quoted. Unknown headers are kept.
 * More than SIP_MAX_HEADERS headers or SIP_MAX_VIA Via values: -E2BIG.
 * Returns bytes consumed (> 0), 0 (stream: need more), or a negative errno; on error the slots
 * of @m that were filled may be used to build a 400 (m->request, via, call_id... when set). */
int sip_parse(struct sip_msg *m, const char *buf, uint32_t len, bool stream);

/* Parses a URI (no angle brackets). 0 or -EBADMSG. */
int sip_uri_parse(struct mr_str s, struct sip_uri *u);
/* Parses a name-addr or addr-spec (From/To/Contact/Route value), 0 or -EBADMSG. */
int sip_nameaddr_parse(struct mr_str s, struct sip_nameaddr *na);
/* The value of parameter @name in a ";a=b;c" list (case-insensitive name). Returns 1 and sets
 * @val (empty for a flag parameter), 0 when absent. */
int sip_param_get(struct mr_str params, struct mr_str name, struct mr_str *val);
/* Iterates the comma-separated values of a header value (quotes and <> respected): returns 1 and
 * sets @out (trimmed), 0 at the end, -EBADMSG on an empty element or open quote. @cursor is
 * advanced; start with the whole value. */
int sip_value_next(struct mr_str *cursor, struct mr_str *out);
enum sip_method sip_method_parse(struct mr_str s);
const char *sip_reason(unsigned code); /* standard reason phrase, "Unknown" otherwise */

/* ---- Parser details and additions (sip_parse.c, sip_uri.c, sip_misc.c) ----------------------
 * What sip_parse() fills, beyond the contract above:
 * - Slots are reset on every call, except @hdrs entries at or after @nhdrs and @via entries at
 *   or after @nvia (not cleared: 10 kB per message); @ruri_p, @from, @to are zeroed.
 * - CRLFs before the start line (RFC 3261 §7.5, keep-alives) are skipped: @buf is the first
 *   byte of the start line, all offsets are relative to it, and the return value is the
 *   skipped count plus @len. A datagram of nothing but CRLFs returns -ENODATA.
 * - Datagrams longer than SIP_MAX_MSG: -EMSGSIZE. Stream mode: -EMSGSIZE when the headers are
 *   not complete within SIP_MAX_MSG bytes or the Content-Length makes the message larger.
 * - Lines end in CRLF: a bare LF in the start line or the header section is -EBADMSG (other
 *   parsers would cut the line there; builders may rely on CRLF, body_off - 2 is the empty
 *   line). A header line is complete only when the byte after its LF is there (it may start a
 *   continuation line), so a datagram must end with the empty line.
 * - A header value that fails its check (From, To, Call-ID, CSeq, Max-Forwards,
 *   Content-Length, Via, duplicates) is recorded and parsing goes on, so the later slots are
 *   filled for a 400; the first error is returned. A bad start line does the same in datagram
 *   mode (so that lwsstart & co. can be answered) and stops at once in stream mode; header-line
 *   framing errors and -E2BIG for headers stop at once. The first error wins (a start-line
 *   -EPROTONOSUPPORT over anything after it). Mandatory headers (Via, From, To, Call-ID,
 *   CSeq) are checked for responses too.
 * - @status: exactly 3 digits; the SP and reason may be absent ("SIP/2.0 200", liberal).
 * - @from / @to: parsed with sip_nameaddr_parse(); their URIs are only checked lightly (scheme,
 *   no LWS, no <>"), any scheme is accepted (RFC 4475 unksm2); sip_uri_parse() gives the rest.
 * - @call_id: word ["@" word] (RFC 3261 §25.1). @cseq_method must be byte-equal to
 *   @method_name in requests.
 * Slices: sip_nameaddr.display keeps the quotes of a quoted display name (wire bytes); a quoted
 * parameter value keeps its quotes. Flag parameters give an empty value. sip_uri for schemes
 * other than sip/sips: "tel" gives the number in @user and what follows ';' in @params; other
 * schemes give everything after the ':' in @user (opaque) and no host. */

/* Character classes of RFC 3261 §25.1 used by the parsers (sip_cclass[byte] & class). */
enum sip_cclass_bits {
	SIP_C_TOKEN = 0x01, /* token: alphanum - . ! % * _ + ` ' ~ */
	SIP_C_PVAL = 0x02,  /* parameter name/value: token and [ ] : / & $ ( ) (host, IPv6) */
	SIP_C_HOST = 0x04,  /* hostname: alphanum - . _ */
	SIP_C_WORD = 0x08,  /* Call-ID word */
	SIP_C_WS = 0x10,    /* SP HTAB CR LF (LWS, folding included) */
	SIP_C_URI = 0x20,   /* any visible ASCII but < > " (liberal URI character) */
	SIP_C_DIGIT = 0x40,
	SIP_C_ALPHA = 0x80,
};
extern const uint8_t sip_cclass[256];

static inline bool sip_is(char c, unsigned cls)
{
	return (sip_cclass[(unsigned char)c] & cls) != 0;
}

/* The type of header name @name (any case, compact forms included); SIP_HDR_OTHER if none. */
enum sip_hdr_type sip_hdr_type_of(struct mr_str name);
/* The long form of a compact header name ("v" -> "Via", RFC 3261 §7.3.3 and the extensions in
 * spec §6); any other name is returned as is. */
struct mr_str sip_hdr_expand(struct mr_str name);
/* Index of the first header at or after @from whose name is @name (case-insensitive, compact
 * and long forms match each other), -ENOENT if none. */
int sip_hdr_find(const struct sip_msg *m, struct mr_str name, unsigned from);
/* Parses the comma-separated Via values of one header value @value into @v (at most @max);
 * @*n is the count of values parsed completely (also on error). Offsets are from @base.
 * @hdr is left 0. Returns 0, -EBADMSG, or -E2BIG when there are more than @max values. */
int sip_via_parse(const char *base, struct mr_str value, struct sip_via *v, unsigned max,
                  unsigned *n);

#endif

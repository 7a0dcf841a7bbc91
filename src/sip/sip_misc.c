/* SPDX-License-Identifier: MIT
 * sip_misc.c - SIP tables: character classes, methods, reason phrases, compact header names.
 * Owns: read-only tables only.
 * Thread: any; pure functions. */
#include "sip.h"

#include <errno.h>

/* Generated from the RFC 3261 §25.1 sets listed beside enum sip_cclass_bits (bytes >= 0x80 are
 * in no class: UTF-8 only appears in quoted strings, reason phrases and unparsed values). */
const uint8_t sip_cclass[256] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x10, 0x00, 0x00, 0x10, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x10, 0x2b, 0x08, 0x20, 0x22, 0x2b, 0x22, 0x2b, 0x2a, 0x2a, 0x2b, 0x2b, 0x20, 0x2f, 0x2f, 0x2a,
    0x6f, 0x6f, 0x6f, 0x6f, 0x6f, 0x6f, 0x6f, 0x6f, 0x6f, 0x6f, 0x2a, 0x20, 0x08, 0x20, 0x08, 0x28,
    0x20, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf,
    0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0x2a, 0x28, 0x2a, 0x20, 0x2f,
    0x2b, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf,
    0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0xaf, 0x28, 0x20, 0x28, 0x2b, 0x00,
    /* 0x80 - 0xff: zero */
};

/* Methods are case-sensitive (RFC 3261 §7.1): byte comparison. */
enum sip_method sip_method_parse(struct mr_str s)
{
	static const struct {
		const char *name;
		enum sip_method m;
	} tab[] = {
	    {"ACK", SIP_M_ACK},           {"BYE", SIP_M_BYE},
	    {"INFO", SIP_M_INFO},         {"PRACK", SIP_M_PRACK},
	    {"REFER", SIP_M_REFER},       {"INVITE", SIP_M_INVITE},
	    {"CANCEL", SIP_M_CANCEL},     {"NOTIFY", SIP_M_NOTIFY},
	    {"UPDATE", SIP_M_UPDATE},     {"OPTIONS", SIP_M_OPTIONS},
	    {"MESSAGE", SIP_M_MESSAGE},   {"PUBLISH", SIP_M_PUBLISH},
	    {"REGISTER", SIP_M_REGISTER}, {"SUBSCRIBE", SIP_M_SUBSCRIBE},
	};

	if (s.len < 3 || s.len > 9)
		return SIP_M_OTHER;
	/* the first byte and the length tell most apart; 14 rows, no need for a hash */
	for (size_t i = 0; i < MR_ARRAY_SIZE(tab); i++) {
		if (tab[i].name[0] == s.p[0] && strlen(tab[i].name) == s.len &&
		    memcmp(tab[i].name, s.p, s.len) == 0)
			return tab[i].m;
	}
	return SIP_M_OTHER;
}

const char *sip_reason(unsigned code)
{
	switch (code) {
	case 100:
		return "Trying";
	case 180:
		return "Ringing";
	case 181:
		return "Call Is Being Forwarded";
	case 182:
		return "Queued";
	case 183:
		return "Session Progress";
	case 200:
		return "OK";
	case 202:
		return "Accepted";
	case 300:
		return "Multiple Choices";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Moved Temporarily";
	case 305:
		return "Use Proxy";
	case 380:
		return "Alternative Service";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 402:
		return "Payment Required";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 406:
		return "Not Acceptable";
	case 407:
		return "Proxy Authentication Required";
	case 408:
		return "Request Timeout";
	case 410:
		return "Gone";
	case 413:
		return "Request Entity Too Large";
	case 414:
		return "Request-URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 416:
		return "Unsupported URI Scheme";
	case 420:
		return "Bad Extension";
	case 421:
		return "Extension Required";
	case 423:
		return "Interval Too Brief";
	case 480:
		return "Temporarily Unavailable";
	case 481:
		return "Call/Transaction Does Not Exist";
	case 482:
		return "Loop Detected";
	case 483:
		return "Too Many Hops";
	case 484:
		return "Address Incomplete";
	case 485:
		return "Ambiguous";
	case 486:
		return "Busy Here";
	case 487:
		return "Request Terminated";
	case 488:
		return "Not Acceptable Here";
	case 491:
		return "Request Pending";
	case 493:
		return "Undecipherable";
	case 500:
		return "Server Internal Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Server Time-out";
	case 505:
		return "Version Not Supported";
	case 513:
		return "Message Too Large";
	case 600:
		return "Busy Everywhere";
	case 603:
		return "Decline";
	case 604:
		return "Does Not Exist Anywhere";
	case 606:
		return "Not Acceptable";
	default:
		return "Unknown";
	}
}

/* RFC 3261 §7.3.3 and the extension forms of spec §6, indexed by letter. */
static const char *const compact_names[26] = {
    ['a' - 'a'] = "Accept-Contact",
    ['b' - 'a'] = "Referred-By",
    ['c' - 'a'] = "Content-Type",
    ['d' - 'a'] = "Request-Disposition",
    ['e' - 'a'] = "Content-Encoding",
    ['f' - 'a'] = "From",
    ['i' - 'a'] = "Call-ID",
    ['j' - 'a'] = "Reject-Contact",
    ['k' - 'a'] = "Supported",
    ['l' - 'a'] = "Content-Length",
    ['m' - 'a'] = "Contact",
    ['n' - 'a'] = "Identity-Info",
    ['o' - 'a'] = "Event",
    ['r' - 'a'] = "Refer-To",
    ['s' - 'a'] = "Subject",
    ['t' - 'a'] = "To",
    ['u' - 'a'] = "Allow-Events",
    ['v' - 'a'] = "Via",
    ['x' - 'a'] = "Session-Expires",
    ['y' - 'a'] = "Identity",
};

struct mr_str sip_hdr_expand(struct mr_str name)
{
	unsigned c;

	if (name.len != 1)
		return name;
	c = (unsigned char)name.p[0] | 0x20u;
	if (c >= 'a' && c <= 'z' && compact_names[c - 'a'])
		return mr_str_c(compact_names[c - 'a']);
	return name;
}

int sip_hdr_find(const struct sip_msg *m, struct mr_str name, unsigned from)
{
	struct mr_str want = sip_hdr_expand(name);

	for (unsigned i = from; i < m->nhdrs; i++) {
		if (mr_str_ieq(sip_hdr_expand(m->hdrs[i].name), want))
			return (int)i;
	}
	return -ENOENT;
}

/* SPDX-License-Identifier: MIT
 * dia_dump.c - human-readable dump of a Diameter message, one AVP per line, by dictionary name.
 * Owns: nothing; writes into the caller's text buffer, never past its capacity.
 * Thread: any; pure. Meant for logs and tests, not for hot paths. Any input is printable:
 * malformed AVPs and data print as <malformed>, never read out of bounds. */
#include "dia.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* A bounded text sink: @len < @cap always (room for the NUL); @trunc once something did not
 * fit, after which nothing more is written. */
struct out {
	char *buf;
	size_t cap;
	size_t len;
	bool trunc;
};

static MR_PRINTF(2, 3) void outf(struct out *o, const char *fmt, ...)
{
	size_t room = o->cap - o->len;
	va_list ap;
	int n;

	if (o->trunc)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		o->trunc = true;
		o->len = o->cap - 1;
		o->buf[o->len] = '\0';
		return;
	}
	o->len += (size_t)n;
}

static void out_indent(struct out *o, int level)
{
	outf(o, "%*s", 2 * (level + 1), "");
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* Quoted, with '"', '\\' and non-printable bytes escaped. */
static void out_quoted(struct out *o, struct mr_str s)
{
	outf(o, " \"");
	for (uint32_t i = 0; i < s.len && !o->trunc; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c == '"' || c == '\\')
			outf(o, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			outf(o, "%c", c);
		else
			outf(o, "\\x%02x", c);
	}
	outf(o, "\"");
}

static void out_hex(struct out *o, struct mr_str s)
{
	if (!s.len)
		return;
	outf(o, " 0x");
	for (uint32_t i = 0; i < s.len && !o->trunc; i++)
		outf(o, "%02x", (unsigned char)s.p[i]);
}

static void out_enum_name(struct out *o, const struct dia_avp *a, int32_t v)
{
	const char *name = dia_dict_enum_name(a->code, a->vendor, v);

	if (name)
		outf(o, " (%s)", name);
}

static void out_addr(struct out *o, struct mr_str d)
{
	const uint8_t *p = (const uint8_t *)d.p;
	char text[INET6_ADDRSTRLEN];
	uint32_t family;

	if (d.len < 2) {
		outf(o, " <malformed>");
		return;
	}
	family = (uint32_t)p[0] << 8 | p[1];
	if ((family == 1 && d.len == 6 && inet_ntop(AF_INET, p + 2, text, sizeof(text))) ||
	    (family == 2 && d.len == 18 && inet_ntop(AF_INET6, p + 2, text, sizeof(text)))) {
		outf(o, " %s", text);
	} else if (family == 1 || family == 2) {
		outf(o, " <malformed>");
	} else {
		outf(o, " family=%" PRIu32, family);
		out_hex(o, mr_str_make(d.p + 2, d.len - 2));
	}
}

/* The value part of a non-grouped AVP's line. */
static void out_value(struct out *o, const struct dia_avp *a, enum dia_type type)
{
	const uint8_t *p = (const uint8_t *)a->data.p;
	uint32_t size = dia_type_size(type), u;
	uint64_t u64;
	float f;
	double d;

	if (size && a->data.len != size) {
		outf(o, " <malformed>");
		return;
	}
	switch (type) {
	case DIA_T_OCTETS:
	case DIA_T_UTF8:
	case DIA_T_IDENTITY:
	case DIA_T_URI:
		out_quoted(o, a->data);
		break;
	case DIA_T_I32:
		outf(o, " %" PRId32, (int32_t)get_be32(p));
		break;
	case DIA_T_I64:
		outf(o, " %" PRId64, (int64_t)get_be64(p));
		break;
	case DIA_T_U32:
		u = get_be32(p);
		outf(o, " %" PRIu32, u);
		out_enum_name(o, a, (int32_t)u);
		break;
	case DIA_T_U64:
		outf(o, " %" PRIu64, get_be64(p));
		break;
	case DIA_T_F32:
		u = get_be32(p);
		memcpy(&f, &u, sizeof(f));
		outf(o, " %g", (double)f);
		break;
	case DIA_T_F64:
		u64 = get_be64(p);
		memcpy(&d, &u64, sizeof(d));
		outf(o, " %g", d);
		break;
	case DIA_T_ENUM:
		outf(o, " %" PRId32, (int32_t)get_be32(p));
		out_enum_name(o, a, (int32_t)get_be32(p));
		break;
	case DIA_T_ADDRESS:
		out_addr(o, a->data);
		break;
	case DIA_T_TIME:
		outf(o, " %" PRIu32, get_be32(p));
		break;
	case DIA_T_GROUPED:
		break;
	}
}

static void dump_avps(struct out *o, struct dia_avp_iter *it, int level);

static void dump_avp(struct out *o, const struct dia_avp *a, int level)
{
	const struct dia_avp_def *def = dia_dict_avp(a->code, a->vendor);
	struct dia_avp_iter child;

	out_indent(o, level);
	outf(o, "%s(%" PRIu32, def ? def->name : "AVP", a->code);
	if (a->vendor)
		outf(o, "/%" PRIu32, a->vendor);
	outf(o, ")");
	if (a->flags & (DIA_AVP_F_V | DIA_AVP_F_M | DIA_AVP_F_P))
		outf(o, " %s%s%s", (a->flags & DIA_AVP_F_V) ? "V" : "",
		     (a->flags & DIA_AVP_F_M) ? "M" : "", (a->flags & DIA_AVP_F_P) ? "P" : "");
	if (!def) {
		out_hex(o, a->data);
		outf(o, "\n");
		return;
	}
	out_value(o, a, def->type);
	if (def->type != DIA_T_GROUPED) {
		outf(o, "\n");
		return;
	}
	if (level >= DIA_MAX_NEST) {
		outf(o, " <nested too deep>\n");
		return;
	}
	outf(o, "\n");
	dia_avp_iter_init_group(&child, a);
	dump_avps(o, &child, level + 1);
}

static void dump_avps(struct out *o, struct dia_avp_iter *it, int level)
{
	struct dia_avp a;
	int rc = 0;

	while (!o->trunc && (rc = dia_avp_next(it, &a)) > 0)
		dump_avp(o, &a, level);
	if (!o->trunc && rc < 0) {
		out_indent(o, level);
		outf(o, "<malformed AVP>\n");
	}
}

static void dump_hdr(struct out *o, const struct dia_msg *m)
{
	const struct dia_cmd_def *cmd = dia_dict_cmd(m->hdr.code, m->hdr.app_id);
	uint8_t f = m->hdr.flags;
	const char *name = "Command";

	if (cmd)
		name = (f & DIA_FLAG_R) ? cmd->req_name : cmd->ans_name;
	outf(o, "%s(%" PRIu32 ") app=%" PRIu32 " flags=%s%s%s%s%s", name, m->hdr.code,
	     m->hdr.app_id, (f & DIA_FLAG_R) ? "R" : "", (f & DIA_FLAG_P) ? "P" : "",
	     (f & DIA_FLAG_E) ? "E" : "", (f & DIA_FLAG_T) ? "T" : "",
	     (f & (DIA_FLAG_R | DIA_FLAG_P | DIA_FLAG_E | DIA_FLAG_T)) ? "" : "-");
	outf(o, " hbh=0x%08" PRIx32 " e2e=0x%08" PRIx32 " len=%" PRIu32, m->hdr.hbh, m->hdr.e2e,
	     m->hdr.length);
	if (m->hdr.version != 1)
		outf(o, " version=%u", m->hdr.version);
	outf(o, "\n");
}

/* Cuts a truncated dump back to its last whole line and ends it with "...\n". */
static void out_mark_truncated(struct out *o)
{
	static const char mark[] = "...\n";
	size_t keep = o->cap > sizeof(mark) ? o->cap - sizeof(mark) : 0;
	size_t pos = 0, room;

	for (size_t i = keep < o->len ? keep : o->len; i > 0; i--) {
		if (o->buf[i - 1] == '\n') {
			pos = i;
			break;
		}
	}
	room = o->cap - 1 - pos;
	if (room > sizeof(mark) - 1)
		room = sizeof(mark) - 1;
	memcpy(o->buf + pos, mark, room);
	o->buf[pos + room] = '\0';
}

int dia_msg_dump(const struct dia_msg *m, char *out, size_t cap)
{
	struct out o = {.buf = out, .cap = cap};
	struct dia_avp_iter it;

	if (!out || cap == 0)
		return -ENOBUFS;
	out[0] = '\0';
	if (!m || !m->buf) {
		outf(&o, "<no message>\n");
	} else {
		dump_hdr(&o, m);
		dia_avp_iter_init(&it, m);
		dump_avps(&o, &it, 0);
	}
	if (o.trunc) {
		out_mark_truncated(&o);
		return -ENOBUFS;
	}
	return (int)o.len;
}

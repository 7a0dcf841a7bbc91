/* SPDX-License-Identifier: MIT
 * dia_validate.c - strict checks of a received Diameter message against the dictionary
 * (RFC 6733 §3, §4, §7.1), reporting the Result-Code to answer with and the Failed-AVP.
 * Owns: nothing; the reported Failed-AVP is a view into the message (or into static data).
 * Thread: any; pure, no allocation, bounded recursion (DIA_MAX_NEST), never reads past the
 * message whatever its content. */
#include "dia.h"

#include <errno.h>
#include <string.h>

#define AVP_F_RESERVED 0x1fu
#define CMD_F_RESERVED 0x0fu

/* Zero-filled data for Failed-AVP templates (RFC 6733 §7.1.5: "zero filled payload of the
 * minimum required length for the payloads data type"). */
static const uint8_t zero_data[8];

static void set_error(struct dia_error *err, uint32_t rc, const struct dia_avp *failed,
                      const char *what)
{
	err->rc = rc;
	if (failed)
		err->failed = *failed;
	err->what = what;
}

/* The AVP at @p has an unusable length field (shorter than its header or past the end of its
 * container): report its header with a zero-filled payload of the minimum size of its type.
 * @raw covers the header bytes only (the one case, with the too-deep group below, where a
 * reported view's raw bytes are not the whole AVP: dia_enc_avp_copy() encodes from the fields).
 * Nothing to report when not even a header is there. */
static void set_bad_length(struct dia_error *err, const uint8_t *p, size_t left)
{
	const struct dia_avp_def *def;
	struct dia_avp f = {0};

	set_error(err, DIA_RC_INVALID_AVP_LENGTH, NULL, "invalid AVP length");
	if (left < 8)
		return;
	f.code = dia_get_be32(p);
	f.flags = p[4];
	if ((f.flags & DIA_AVP_F_V) && left >= 12)
		f.vendor = dia_get_be32(p + 8);
	def = dia_dict_avp(f.code, f.vendor);
	f.data = mr_str_make((const char *)zero_data, def ? dia_type_size(def->type) : 0);
	f.raw = p;
	f.raw_len = (f.flags & DIA_AVP_F_V) && left >= 12 ? 12 : 8;
	err->failed = f;
}

/* Data length rules of the fixed-size types and Address (family 1: 4 bytes, 2: 16 bytes;
 * other families are legal and only need the 2-byte family). */
static bool data_len_ok(enum dia_type type, struct mr_str d)
{
	uint32_t size = dia_type_size(type), family;

	if (size)
		return d.len == size;
	if (type != DIA_T_ADDRESS)
		return true;
	if (d.len < 2)
		return false;
	family = (uint32_t)(uint8_t)d.p[0] << 8 | (uint8_t)d.p[1];
	if (family == 1)
		return d.len == 2 + 4;
	if (family == 2)
		return d.len == 2 + 16;
	return true;
}

/* Failed-AVP carries AVPs of another message, echoed as they were: they are not judged by our
 * rules (a 5001 answer would otherwise be invalid for the very AVP it reports). */
static bool is_opaque_group(const struct dia_avp *a)
{
	return a->code == DIA_AVP_FAILED_AVP && a->vendor == 0;
}

#define MAX_REQUIRED 32 /* required AVPs of one command we track (dictionary: a handful) */

/* One walk of the message (it used to be three: lengths, flags, then a search per required
 * AVP). The first 5014 in walk order ends it, since it outranks everything; the first 3009 and
 * the first 5001 are kept; at the top level each required AVP of the command is ticked. */
struct scan {
	int max;                /* nesting limit */
	struct dia_error bits;  /* first 3009 */
	struct dia_error unsup; /* first 5001 */
	const uint32_t *req;    /* the command's required AVP codes (vendor 0), or NULL */
	uint32_t nreq, seen;    /* seen: bit i = req[i] present at the top level */
};

/* 5014: AVP lengths at every level, fixed-size types, nesting; 3009, 5001 in passing. @level
 * counts the grouped AVPs around @it. Returns true when a 5014 was recorded in @err. */
static bool scan_avps(struct dia_avp_iter *it, int level, struct scan *s, struct dia_error *err)
{
	const struct dia_avp_def *def;
	struct dia_avp_iter child;
	struct dia_avp a;
	int rc;

	while ((rc = dia_avp_next(it, &a)) > 0) {
		def = dia_dict_avp(a.code, a.vendor);
		if (!s->bits.rc &&
		    ((a.flags & AVP_F_RESERVED) ||
		     (def && ((a.flags & def->must) != def->must || (a.flags & def->must_not)))))
			set_error(&s->bits, DIA_RC_INVALID_AVP_BITS, &a, "invalid AVP flag bits");
		if (level == 0 && s->req && a.vendor == 0)
			for (uint32_t i = 0; i < s->nreq; i++)
				if (s->req[i] == a.code)
					s->seen |= 1u << i;
		if (!def) {
			if ((a.flags & DIA_AVP_F_M) && !s->unsup.rc && !s->bits.rc)
				set_error(&s->unsup, DIA_RC_AVP_UNSUPPORTED, &a,
				          "unsupported mandatory AVP");
			continue;
		}
		if (!data_len_ok(def->type, a.data)) {
			set_error(err, DIA_RC_INVALID_AVP_LENGTH, &a, "invalid AVP data length");
			return true;
		}
		if (def->type != DIA_T_GROUPED || is_opaque_group(&a))
			continue;
		if (level >= s->max) {
			/* Reported as its header with an empty payload (RFC 6733 §7.1.5), so the
			 * answer does not carry the over-deep structure back. */
			a.raw_len -= a.data.len;
			a.data.len = 0;
			set_error(err, DIA_RC_INVALID_AVP_LENGTH, &a,
			          "grouped AVPs nested too deep");
			err->too_deep = true;
			return true;
		}
		dia_avp_iter_init_group(&child, &a);
		if (scan_avps(&child, level + 1, s, err))
			return true;
	}
	if (rc < 0) {
		/* dia_avp_next() does not advance on error: it->p is the bad AVP. */
		set_bad_length(err, it->p, (size_t)(it->end - it->p));
		return true;
	}
	return false;
}

static bool check_hdr(const struct dia_msg *m, struct dia_error *err)
{
	uint8_t f = m->hdr.flags;

	if (m->hdr.version != 1) {
		set_error(err, DIA_RC_UNSUPPORTED_VERSION, NULL, "unsupported Diameter version");
		return true;
	}
	if (m->len & 3u) {
		set_error(err, DIA_RC_INVALID_MESSAGE_LENGTH, NULL, "message length not aligned");
		return true;
	}
	if (!(f & DIA_FLAG_R))
		return false;
	if ((f & DIA_FLAG_E) || (f & CMD_F_RESERVED) ||
	    (m->hdr.app_id != DIA_APP_BASE && !(f & DIA_FLAG_P))) {
		set_error(err, DIA_RC_INVALID_HDR_BITS, NULL, "invalid command flag bits");
		return true;
	}
	return false;
}

/* The command's required AVPs (5005) for a request, set up before the walk. */
static void required_of(const struct dia_msg *m, struct scan *s)
{
	const struct dia_cmd_def *cmd;

	if (!(m->hdr.flags & DIA_FLAG_R))
		return;
	cmd = dia_dict_cmd(m->hdr.code, m->hdr.app_id);
	if (!cmd || !cmd->req_required)
		return;
	s->req = cmd->req_required;
	while (s->nreq < MAX_REQUIRED && s->req[s->nreq])
		s->nreq++;
}

int dia_msg_validate(const struct dia_msg *m, struct dia_error *err)
{
	return dia_msg_validate_nest(m, DIA_MAX_NEST, err);
}

int dia_msg_validate_nest(const struct dia_msg *m, int max_nest, struct dia_error *err)
{
	struct dia_avp_iter it;
	struct scan s;

	if (!err)
		return -EINVAL;
	memset(err, 0, sizeof(*err));
	if (!m || !m->buf || m->len < DIA_HDR_LEN || m->len != m->hdr.length)
		return -EINVAL;

	if (check_hdr(m, err))
		return 0;

	memset(&s, 0, sizeof(s));
	s.max = max_nest <= 0 || max_nest > DIA_MAX_NEST ? DIA_MAX_NEST : max_nest;
	required_of(m, &s);
	dia_avp_iter_init(&it, m);
	if (scan_avps(&it, 0, &s, err))
		return 0;
	if (s.bits.rc) {
		*err = s.bits;
		return 0;
	}
	if (s.unsup.rc) {
		*err = s.unsup;
		return 0;
	}
	for (uint32_t i = 0; i < s.nreq; i++) {
		if (!(s.seen & 1u << i)) {
			set_error(err, DIA_RC_MISSING_AVP, NULL, "missing required AVP");
			err->missing_code = s.req[i];
			return 0;
		}
	}
	return 0;
}

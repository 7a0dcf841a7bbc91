/* SPDX-License-Identifier: MIT
 * auth_digest.c - Digest algorithms, hashing (OpenSSL 3 EVP), response computation and the
 * credentials parser (RFC 2617 §3.2.2, RFC 7616 §3.4, RFC 3261 §22.4, RFC 8760).
 * Owns: the EVP_MD handles and EVP_MD_CTX of a struct auth_hash; nothing else allocates.
 * Thread: struct auth_hash is per thread; everything else is pure. */
#include "auth.h"

#include <errno.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static const char *const alg_names[AUTH_ALG_COUNT] = {
    [AUTH_ALG_MD5] = "MD5",
    [AUTH_ALG_MD5_SESS] = "MD5-sess",
    [AUTH_ALG_SHA256] = "SHA-256",
    [AUTH_ALG_SHA256_SESS] = "SHA-256-sess",
    [AUTH_ALG_SHA512_256] = "SHA-512-256",
    [AUTH_ALG_SHA512_256_SESS] = "SHA-512-256-sess",
};

/* OpenSSL names, indexed by auth_alg_base() / 2 (the order of struct auth_hash.md). */
static const char *const md_names[3] = {"MD5", "SHA256", "SHA512-256"};

static const char hex_digits[] = "0123456789abcdef";

int auth_alg_parse(struct mr_str s)
{
	if (s.len == 0)
		return AUTH_ALG_MD5;
	for (int a = 0; a < AUTH_ALG_COUNT; a++)
		if (mr_str_ieq(s, mr_str_c(alg_names[a])))
			return a;
	return -EINVAL;
}

const char *auth_alg_name(enum auth_alg a)
{
	return (unsigned)a < AUTH_ALG_COUNT ? alg_names[a] : "unknown";
}

enum auth_alg auth_alg_base(enum auth_alg a)
{
	return (enum auth_alg)((unsigned)a & ~1u);
}

bool auth_alg_is_sess(enum auth_alg a)
{
	return ((unsigned)a & 1u) != 0;
}

unsigned auth_alg_hexlen(enum auth_alg a)
{
	return auth_alg_base(a) == AUTH_ALG_MD5 ? 32 : 64;
}

int auth_hash_init(struct auth_hash *h)
{
	int ret = -EIO;

	memset(h, 0, sizeof(*h));
	for (unsigned i = 0; i < MR_ARRAY_SIZE(md_names); i++) {
		h->md[i] = EVP_MD_fetch(NULL, md_names[i], NULL);
		if (!h->md[i])
			goto err;
	}
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx) {
		ret = -ENOMEM;
		goto err;
	}
	return 0;
err:
	auth_hash_fini(h);
	return ret;
}

void auth_hash_fini(struct auth_hash *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
	for (unsigned i = 0; i < MR_ARRAY_SIZE(h->md); i++) {
		EVP_MD_free(h->md[i]);
		h->md[i] = NULL;
	}
}

static void hex_encode(const unsigned char *in, unsigned n, char *out)
{
	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = hex_digits[in[i] >> 4];
		out[2 * i + 1] = hex_digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int auth_hash_hex(struct auth_hash *h, enum auth_alg a, const struct mr_str *parts, unsigned n,
                  char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if ((unsigned)a >= AUTH_ALG_COUNT)
		return -EINVAL;
	if (!EVP_DigestInit_ex2(h->ctx, h->md[auth_alg_base(a) / 2], NULL))
		return -EIO;
	for (unsigned i = 0; i < n; i++)
		if (parts[i].len && !EVP_DigestUpdate(h->ctx, parts[i].p, parts[i].len))
			return -EIO;
	if (!EVP_DigestFinal_ex(h->ctx, md, &mdlen) || mdlen * 2 != auth_alg_hexlen(a))
		return -EIO;
	hex_encode(md, mdlen, out);
	return (int)(mdlen * 2);
}

bool auth_ct_eq(const void *a, size_t alen, const void *b, size_t blen)
{
	/* Lengths are public (fixed by the algorithm); only the contents are compared in
	 * constant time. */
	if (alen != blen)
		return false;
	return CRYPTO_memcmp(a, b, alen) == 0;
}

int auth_digest_ha1(struct auth_hash *h, enum auth_alg a, struct mr_str user, struct mr_str realm,
                    struct mr_str password, char *out)
{
	const struct mr_str colon = MR_STR_LIT(":");
	const struct mr_str parts[] = {user, colon, realm, colon, password};

	return auth_hash_hex(h, a, parts, MR_ARRAY_SIZE(parts), out);
}

static int hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_hex(struct mr_str s)
{
	for (uint32_t i = 0; i < s.len; i++)
		if (hex_val((unsigned char)s.p[i]) < 0)
			return false;
	return true;
}

/* Copies hex @s (already length-checked) into @out lowercased, so an HA1 handed over in upper
 * case (some Diameter servers do) still hashes as RFC 2617's LHEX. -EINVAL if not hex. */
static int hex_lower(struct mr_str s, char *out)
{
	for (uint32_t i = 0; i < s.len; i++) {
		int v = hex_val((unsigned char)s.p[i]);

		if (v < 0)
			return -EINVAL;
		out[i] = hex_digits[v];
	}
	out[s.len] = '\0';
	return 0;
}

int auth_digest_response(struct auth_hash *h, const struct auth_digest *d, struct mr_str ha1,
                         bool rspauth, char *out)
{
	const struct mr_str colon = MR_STR_LIT(":");
	char ha1buf[AUTH_HEX_MAX + 1], ha2[AUTH_HEX_MAX + 1];
	struct mr_str parts[11];
	bool has_qop, auth_int = false;
	unsigned hexlen, n;
	int alg, ret;

	alg = auth_alg_parse(d->algorithm);
	if (alg < 0)
		return -EINVAL;
	hexlen = auth_alg_hexlen((enum auth_alg)alg);
	if (ha1.len != hexlen || hex_lower(ha1, ha1buf) < 0)
		return -EINVAL;

	has_qop = d->qop.len != 0;
	if (has_qop) {
		if (mr_str_ieq(d->qop, MR_STR_LIT("auth-int")))
			auth_int = true;
		else if (!mr_str_ieq(d->qop, MR_STR_LIT("auth")))
			return -EINVAL;
		if (d->cnonce.len == 0 || d->nc.len != 8 || !is_hex(d->nc))
			return -EINVAL;
		if (auth_int && (d->body_hash.len != hexlen || !is_hex(d->body_hash)))
			return -EINVAL;
	}
	if (auth_alg_is_sess((enum auth_alg)alg)) {
		if (d->cnonce.len == 0)
			return -EINVAL;
		/* RFC 2617 §3.2.2.2: A1 = H(user:realm:pass) ":" nonce ":" cnonce */
		parts[0] = mr_str_make(ha1buf, hexlen);
		parts[1] = colon;
		parts[2] = d->nonce;
		parts[3] = colon;
		parts[4] = d->cnonce;
		ret = auth_hash_hex(h, (enum auth_alg)alg, parts, 5, ha1buf);
		if (ret < 0)
			return ret;
	}

	/* A2 = method ":" uri [":" H(body)]; the rspauth form leaves the method empty. */
	parts[0] = rspauth ? (struct mr_str){0} : d->method;
	parts[1] = colon;
	parts[2] = d->uri;
	parts[3] = colon;
	parts[4] = d->body_hash;
	ret = auth_hash_hex(h, (enum auth_alg)alg, parts, auth_int ? 5 : 3, ha2);
	if (ret < 0)
		return ret;

	/* KD(HA1, nonce ":" [nc ":" cnonce ":" qop ":"] HA2) */
	n = 0;
	parts[n++] = mr_str_make(ha1buf, hexlen);
	parts[n++] = colon;
	parts[n++] = d->nonce;
	parts[n++] = colon;
	if (has_qop) {
		parts[n++] = d->nc;
		parts[n++] = colon;
		parts[n++] = d->cnonce;
		parts[n++] = colon;
		parts[n++] = d->qop;
		parts[n++] = colon;
	}
	parts[n++] = mr_str_make(ha2, hexlen);
	ret = auth_hash_hex(h, (enum auth_alg)alg, parts, n, out);
	return ret;
}

int auth_digest_verify(struct auth_hash *h, const struct auth_digest *d, struct mr_str ha1)
{
	char expect[AUTH_HEX_MAX + 1];
	int ret;

	ret = auth_digest_response(h, d, ha1, false, expect);
	if (ret < 0)
		return ret;
	/* The response is LHEX (RFC 2617 §3.2.2); an upper-case one is a mismatch. */
	if (!auth_ct_eq(expect, (size_t)ret, d->response.p, d->response.len))
		return -EACCES;
	return 0;
}

/* ---- credentials parser ------------------------------------------------------------------ */

struct cursor {
	const char *p, *end;
};

/* RFC 2616 §2.2 token characters: any CHAR except CTLs and separators, as a bitmap of the 128
 * ASCII codes (a strchr over the separators per character was a quarter of a deep parse). */
static const uint64_t tchar_map[2] = {
    /* 0-63: ! # $ % & ' * + - . 0-9 */
    0x03ff6cfa00000000ull,
    /* 64-127: A-Z ^ _ ` a-z | ~ */
    0x57ffffffc7fffffeull,
};

static bool is_tchar(unsigned char c)
{
	return c < 128 && (tchar_map[c >> 6] >> (c & 63)) & 1;
}

/* Skips LWS = [CRLF] 1*(SP / HT), repeated; a bare LF before SP/HT is tolerated as a fold.
 * A CR or LF that does not start a fold is left for the caller to reject. */
static void skip_lws(struct cursor *c)
{
	for (;;) {
		if (c->p < c->end && (*c->p == ' ' || *c->p == '\t')) {
			c->p++;
			continue;
		}
		if (c->end - c->p >= 3 && c->p[0] == '\r' && c->p[1] == '\n' &&
		    (c->p[2] == ' ' || c->p[2] == '\t')) {
			c->p += 3;
			continue;
		}
		if (c->end - c->p >= 2 && c->p[0] == '\n' && (c->p[1] == ' ' || c->p[1] == '\t')) {
			c->p += 2;
			continue;
		}
		return;
	}
}

static struct mr_str take_token(struct cursor *c)
{
	const char *s = c->p;

	while (c->p < c->end && is_tchar((unsigned char)*c->p))
		c->p++;
	return mr_str_make(s, (size_t)(c->p - s));
}

/* Parses a quoted-string at c->p (on the opening quote). qdtext is HT, SP, 0x21-0x7e except
 * '"' and '\', or any byte >= 0x80 (UTF-8, RFC 3261 §25.1); other control bytes, including a
 * line fold, are refused. quoted-pair is '\' followed by 0x00-0x7f except CR and LF. Escaped
 * values are unescaped into @scratch at *@used. Returns 0, -EBADMSG or -ENOBUFS. */
static int take_quoted(struct cursor *c, struct mr_str *out, char *scratch, size_t scratch_len,
                       size_t *used)
{
	const char *s = ++c->p;
	bool escaped = false;
	size_t n = 0;

	for (; c->p < c->end; c->p++) {
		unsigned char ch = (unsigned char)*c->p;

		if (ch == '"')
			break;
		if (ch == '\\') {
			if (c->end - c->p < 2)
				return -EBADMSG;
			ch = (unsigned char)*++c->p;
			if (ch == '\r' || ch == '\n' || ch >= 0x80)
				return -EBADMSG;
			escaped = true;
		} else if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			return -EBADMSG;
		}
		n++;
	}
	if (c->p >= c->end)
		return -EBADMSG; /* unterminated */
	if (!escaped) {
		*out = mr_str_make(s, n);
		c->p++;
		return 0;
	}
	if (scratch_len - *used < n)
		return -ENOBUFS;
	char *dst = scratch + *used;

	for (size_t i = 0; s < c->p; s++) {
		if (*s == '\\')
			s++;
		dst[i++] = *s;
	}
	*out = mr_str_make(dst, n);
	*used += n;
	c->p++;
	return 0;
}

/* The known parameters, in struct auth_digest order of the slots they fill. */
static struct mr_str *param_slot(struct auth_digest *d, struct mr_str name, unsigned *bit)
{
	static const struct {
		const char *name;
		size_t off;
	} params[] = {
	    {"username", offsetof(struct auth_digest, username)},
	    {"realm", offsetof(struct auth_digest, realm)},
	    {"nonce", offsetof(struct auth_digest, nonce)},
	    {"uri", offsetof(struct auth_digest, uri)},
	    {"response", offsetof(struct auth_digest, response)},
	    {"algorithm", offsetof(struct auth_digest, algorithm)},
	    {"cnonce", offsetof(struct auth_digest, cnonce)},
	    {"nc", offsetof(struct auth_digest, nc)},
	    {"qop", offsetof(struct auth_digest, qop)},
	    {"opaque", offsetof(struct auth_digest, opaque)},
	};

	for (unsigned i = 0; i < MR_ARRAY_SIZE(params); i++) {
		if (mr_str_ieq(name, mr_str_c(params[i].name))) {
			*bit = 1u << i;
			return (struct mr_str *)((char *)d + params[i].off);
		}
	}
	return NULL;
}

int auth_digest_parse(struct mr_str value, struct auth_digest *d, char *scratch, size_t scratch_len)
{
	struct cursor c = {value.p, value.p + value.len};
	struct auth_digest tmp = {0};
	struct mr_str name, val, *slot;
	unsigned seen = 0, bit, nparams = 0;
	size_t used = 0;
	int ret;

	skip_lws(&c);
	name = take_token(&c);
	if (name.len == 0)
		return -EBADMSG;
	if (!mr_str_ieq(name, MR_STR_LIT("Digest")))
		return -EPROTO;
	if (c.p < c.end && *c.p != ' ' && *c.p != '\t' && *c.p != '\r' && *c.p != '\n')
		return -EBADMSG;

	/* 1#( name LWS "=" LWS value ); empty list elements ("a=1,,b=2") are allowed (#rule). */
	for (;;) {
		skip_lws(&c);
		if (c.p < c.end && *c.p == ',') {
			c.p++;
			continue;
		}
		if (c.p >= c.end)
			break;
		name = take_token(&c);
		if (name.len == 0)
			return -EBADMSG;
		skip_lws(&c);
		if (c.p >= c.end || *c.p != '=')
			return -EBADMSG;
		c.p++;
		skip_lws(&c);
		if (c.p < c.end && *c.p == '"') {
			ret = take_quoted(&c, &val, scratch, scratch_len, &used);
			if (ret < 0)
				return ret;
		} else {
			val = take_token(&c);
			if (val.len == 0)
				return -EBADMSG;
		}
		slot = param_slot(&tmp, name, &bit);
		if (slot) {
			if (seen & bit)
				return -EBADMSG;
			seen |= bit;
			*slot = val;
		}
		nparams++;
		skip_lws(&c);
		if (c.p < c.end && *c.p != ',')
			return -EBADMSG;
	}
	if (nparams == 0)
		return -EBADMSG;
	if (tmp.nc.len && (tmp.nc.len != 8 || !is_hex(tmp.nc)))
		return -EBADMSG;

	tmp.method = d->method;
	tmp.body_hash = d->body_hash;
	*d = tmp;
	return 0;
}

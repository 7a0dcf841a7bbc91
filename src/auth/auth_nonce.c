/* SPDX-License-Identifier: MIT
 * auth_nonce.c - stateless nonces: hex(head) hex(HMAC-SHA256(head || realm)), head = ts || random
 * || instance || algorithm (see auth.h).
 * Owns: the EVP_MAC_CTX of a struct auth_nonce_ctx, keyed once; the key itself is borrowed.
 * Thread: one auth_nonce_ctx per thread; the auth_nonce_key is shared read-only. */
#include "auth.h"

#include <errno.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <xxhash.h>

#define NONCE_RND_LEN            8
#define NONCE_HEAD_LEN           21 /* ts 8, random 8, instance 4, alg 1 */
#define NONCE_MAC_LEN            16 /* HMAC-SHA256 truncated to 128 bits */
#define NONCE_FUTURE_S           30 /* clock skew tolerated between instances */
#define NONCE_DEFAULT_LIFETIME_S 300

static const char hex_digits[] = "0123456789abcdef";

static void hex_encode(const uint8_t *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex_digits[in[i] >> 4];
		out[2 * i + 1] = hex_digits[in[i] & 15];
	}
}

/* Decodes 2 * @n hex digits. @lower_only refuses A-F: nonces are minted in lower case, and
 * accepting other spellings of one nonce would give the replay table several keys for it. */
static int hex_decode(const char *in, size_t n, uint8_t *out, bool lower_only)
{
	for (size_t i = 0; i < 2 * n; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (!lower_only && c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return -EINVAL;
		if (i & 1)
			out[i / 2] = (uint8_t)(out[i / 2] | v);
		else
			out[i / 2] = (uint8_t)(v << 4);
	}
	return 0;
}

int auth_nonce_key_random(struct auth_nonce_key *key)
{
	if (RAND_bytes(key->secret, AUTH_SECRET_LEN) != 1)
		return -EIO;
	return 0;
}

int auth_nonce_key_from_hex(struct auth_nonce_key *key, const char *hex)
{
	uint8_t secret[AUTH_SECRET_LEN];

	if (!hex || strlen(hex) != 2 * AUTH_SECRET_LEN ||
	    hex_decode(hex, AUTH_SECRET_LEN, secret, false) < 0)
		return -EINVAL;
	memcpy(key->secret, secret, sizeof(secret));
	OPENSSL_cleanse(secret, sizeof(secret));
	return 0;
}

int auth_nonce_ctx_init(struct auth_nonce_ctx *c, const struct auth_nonce_key *key)
{
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
	    OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac;
	int ret = -EIO;

	memset(c, 0, sizeof(*c));
	c->key = key;
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!mac)
		return -EIO;
	c->mac = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac); /* the context holds its own reference */
	if (!c->mac) {
		ret = -ENOMEM;
		goto err;
	}
	/* Keyed once here; each operation re-initialises with a NULL key, which keeps it. */
	if (!EVP_MAC_init(c->mac, key->secret, AUTH_SECRET_LEN, params))
		goto err;
	return 0;
err:
	auth_nonce_ctx_fini(c);
	return ret;
}

void auth_nonce_ctx_fini(struct auth_nonce_ctx *c)
{
	EVP_MAC_CTX_free(c->mac);
	c->mac = NULL;
	c->key = NULL;
}

uint32_t auth_nonce_instance_id(struct mr_str origin_host)
{
	uint32_t id = (uint32_t)XXH3_64bits(origin_host.p, origin_host.len);

	return id ? id : 1;
}

bool auth_nonce_key_weak(const struct auth_nonce_key *key)
{
	bool seen[256] = {false};
	unsigned distinct = 0;

	for (unsigned i = 0; i < AUTH_SECRET_LEN; i++)
		if (!seen[key->secret[i]]) {
			seen[key->secret[i]] = true;
			distinct++;
		}
	return distinct < 8;
}

/* MAC over head || realm, truncated to NONCE_MAC_LEN. */
static int nonce_mac(struct auth_nonce_ctx *c, const uint8_t head[NONCE_HEAD_LEN],
                     struct mr_str realm, uint8_t out[NONCE_MAC_LEN])
{
	unsigned char full[EVP_MAX_MD_SIZE];
	size_t len = 0;

	if (!EVP_MAC_init(c->mac, NULL, 0, NULL) || !EVP_MAC_update(c->mac, head, NONCE_HEAD_LEN) ||
	    (realm.len && !EVP_MAC_update(c->mac, (const unsigned char *)realm.p, realm.len)) ||
	    !EVP_MAC_final(c->mac, full, &len, sizeof(full)) || len < NONCE_MAC_LEN)
		return -EIO;
	memcpy(out, full, NONCE_MAC_LEN);
	return 0;
}

int auth_nonce_mint_alg(struct auth_nonce_ctx *c, struct mr_str realm, int alg, uint64_t now,
                        char *out)
{
	uint8_t head[NONCE_HEAD_LEN], mac[NONCE_MAC_LEN];
	uint32_t inst = c->key->instance;

	for (int i = 0; i < 8; i++)
		head[i] = (uint8_t)(now >> (56 - 8 * i));
	if (RAND_bytes(head + 8, NONCE_RND_LEN) != 1)
		return -EIO;
	for (int i = 0; i < 4; i++)
		head[16 + i] = (uint8_t)(inst >> (24 - 8 * i));
	head[20] = (uint8_t)alg;
	if (nonce_mac(c, head, realm, mac) < 0)
		return -EIO;
	hex_encode(head, sizeof(head), out);
	hex_encode(mac, sizeof(mac), out + 2 * NONCE_HEAD_LEN);
	out[AUTH_NONCE_LEN] = '\0';
	return 0;
}

int auth_nonce_mint(struct auth_nonce_ctx *c, struct mr_str realm, uint64_t now, char *out)
{
	return auth_nonce_mint_alg(c, realm, AUTH_NONCE_ANY_ALG, now, out);
}

int auth_nonce_inspect(struct auth_nonce_ctx *c, struct mr_str realm, struct mr_str nonce,
                       uint64_t now, struct auth_nonce_info *info)
{
	uint8_t head[NONCE_HEAD_LEN], mac[NONCE_MAC_LEN], expect[NONCE_MAC_LEN];
	uint32_t lifetime = c->key->lifetime_s ? c->key->lifetime_s : NONCE_DEFAULT_LIFETIME_S;
	uint64_t ts = 0;
	uint32_t inst = 0;
	int ret;

	if (nonce.len != AUTH_NONCE_LEN || hex_decode(nonce.p, sizeof(head), head, true) < 0 ||
	    hex_decode(nonce.p + 2 * NONCE_HEAD_LEN, sizeof(mac), mac, true) < 0)
		return -EBADMSG;
	ret = nonce_mac(c, head, realm, expect);
	if (ret < 0)
		return ret;
	if (CRYPTO_memcmp(mac, expect, sizeof(mac)) != 0)
		return -EBADMSG;
	for (int i = 0; i < 8; i++)
		ts = ts << 8 | head[i];
	for (int i = 16; i < 20; i++)
		inst = inst << 8 | head[i];
	if (info)
		*info = (struct auth_nonce_info){.minted = ts, .instance = inst, .alg = head[20]};
	if (ts > now + NONCE_FUTURE_S || (now > ts && now - ts > lifetime))
		return -ESTALE;
	return 0;
}

int auth_nonce_check(struct auth_nonce_ctx *c, struct mr_str realm, struct mr_str nonce,
                     uint64_t now, uint64_t *minted)
{
	struct auth_nonce_info info;
	int ret = auth_nonce_inspect(c, realm, nonce, now, &info);

	if (minted && (ret == 0 || ret == -ESTALE))
		*minted = info.minted;
	return ret;
}

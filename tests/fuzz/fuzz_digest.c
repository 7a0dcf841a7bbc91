/* SPDX-License-Identifier: MIT
 * fuzz_digest.c - libFuzzer target: a Proxy-Authorization value through auth_digest_parse(),
 * then, when it parses, the response check against a fixed HA1 (every algorithm the value
 * names), the nonce check (MAC, realm, expiry) and the user-name rules mara-aaa applies.
 * Owns: the hash and nonce contexts, made once. */
#include "auth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct auth_hash hash;
static struct auth_nonce_ctx nonce;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct auth_nonce_key key;

	(void)argc;
	(void)argv;
	if (auth_hash_init(&hash) ||
	    auth_nonce_key_from_hex(&key, "000102030405060708090a0b0c0d0e0f"
	                                  "101112131415161718191a1b1c1d1e1f") ||
	    auth_nonce_ctx_init(&nonce, &key))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_digest d = {0};
	char scratch[512];
	struct mr_str v = mr_str_make((const char *)data, size);
	uint64_t minted;

	if (size > 8192 || auth_digest_parse(v, &d, scratch, sizeof(scratch)))
		return 0;
	(void)auth_user_name_ok(d.username);
	(void)auth_nonce_check(&nonce, MR_STR_LIT("example.com"), d.nonce, 1700000000, &minted);
	d.method = MR_STR_LIT("INVITE");
	(void)auth_digest_verify(&hash, &d, MR_STR_LIT("ae7914636bb60b37a9441871cf572389"));
	return 0;
}

/* SPDX-License-Identifier: MIT
 * fuzz_conf.c - libFuzzer target: a configuration file's text through conf_load_string() (the
 * libconfig parse, then mara's schema: sections, keys, types, ranges, addresses, peers, routes,
 * CIDRs, TLS blocks), as both daemons read it at start-up, on --check-config and on SIGHUP.
 * Owns: nothing between inputs. */
#include "conf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf c;
	char *text;

	/* An @include names any file of the machine (/dev/zero, a FIFO): a hang there is not a
	 * finding, the operator writes the configuration. */
	if (size > 65536 || memmem(data, size, "@include", 8))
		return 0;
	text = malloc(size + 1); /* libconfig reads a C string */
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	conf_defaults(&c);
	(void)conf_load_string(&c, text, "fuzz.conf");
	free(text);
	return 0;
}

/* SPDX-License-Identifier: MIT
 * mr_str.c - out-of-line helpers for struct mr_str.
 * Owns: nothing. Thread: any. */
#include "mr.h"

#include <errno.h>

int mr_str_copy_to(struct mr_str s, char *dst, size_t cap)
{
	if (cap == 0 || s.len >= cap)
		return -ENAMETOOLONG;
	if (s.len)
		memcpy(dst, s.p, s.len);
	dst[s.len] = '\0';
	return 0;
}

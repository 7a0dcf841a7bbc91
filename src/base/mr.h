/* SPDX-License-Identifier: MIT
 * mr.h - mara's base vocabulary: string slices, branch hints, container_of, asserts.
 * Owns: nothing. No I/O, no allocation; every module may include it.
 * Thread: any. */
#ifndef MR_H
#define MR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define mr_likely(x)                       __builtin_expect(!!(x), 1)
#define mr_unlikely(x)                     __builtin_expect(!!(x), 0)
#define MR_COLD                            __attribute__((cold, noinline))
#define MR_PRINTF(a, b)                    __attribute__((format(printf, a, b)))
#define MR_ARRAY_SIZE(a)                   (sizeof(a) / sizeof((a)[0]))
#define mr_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define MR_CACHELINE                       64

#ifdef MR_DEBUG
#include <assert.h>
#define MR_ASSERT_HOT(x) assert(x)
#else
#define MR_ASSERT_HOT(x) ((void)0)
#endif

#define MR_VERSION_STRING "0.1.0"

/* Counters with one writer (their owner thread) and readers elsewhere (the stats thread):
 * relaxed atomic loads and stores, never a read-modify-write on the hot path. */
static inline void mr_count(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

static inline uint64_t mr_count_read(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* A view of bytes owned by someone else: never NUL-terminated, never owns. Valid only while
 * the buffer it points into is held. All-zero is the empty string. */
struct mr_str {
	const char *p;
	uint32_t len;
};

#define MR_STR_LIT(s) ((struct mr_str){(s), sizeof(s) - 1})

static inline struct mr_str mr_str_make(const char *p, size_t len)
{
	return (struct mr_str){p, (uint32_t)len};
}

static inline struct mr_str mr_str_c(const char *s)
{
	return (struct mr_str){s, s ? (uint32_t)strlen(s) : 0};
}

static inline bool mr_str_eq(struct mr_str a, struct mr_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* @v in decimal at @out (at least 10 bytes; not NUL-terminated); returns the digits written.
 * The hot paths' replacement for snprintf("%u"), which costs ~3 % of a saturated proxy. */
static inline unsigned mr_u32_dec(char *out, uint32_t v)
{
	char tmp[10];
	unsigned n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (unsigned i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

/* ASCII case-insensitive comparison (header names, tokens, algorithm names). */
static inline bool mr_str_ieq(struct mr_str a, struct mr_str b)
{
	if (a.len != b.len)
		return false;
	for (uint32_t i = 0; i < a.len; i++) {
		unsigned char x = (unsigned char)a.p[i], y = (unsigned char)b.p[i];
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y + 32);
		if (x != y)
			return false;
	}
	return true;
}

/* Copies @s into @dst (size @cap) with a NUL; returns -ENAMETOOLONG if it does not fit. */
int mr_str_copy_to(struct mr_str s, char *dst, size_t cap);

#endif

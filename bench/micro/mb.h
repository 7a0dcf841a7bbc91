/* SPDX-License-Identifier: MIT
 * mb.h - the C face of mara's micro-benchmarks: bodies are C files, the runner is Google
 * Benchmark behind a small C++ shim (mb_shim.cc), which also holds main().
 * Owns: the registry of benchmarks (in the shim). A body owns its @arg.
 * Thread: register from the main thread before the run (the mb_*_init() functions below). */
#ifndef MB_H
#define MB_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One benchmark body: does the measured work @iters times. Set-up belongs before the
 * registration (or is amortised over @iters, e.g. starting a consumer thread). */
typedef void mb_fn(void *arg, uint64_t iters);

/* mb_register() : registers @fn under @name (copied). @items_per_iter and @bytes_per_iter
 * become Google Benchmark's items_per_second and bytes_per_second counters (0 = none). The
 * time is the calling thread's CPU time, which a busy machine disturbs less than the wall
 * clock: for bodies that run on that one thread. */
void mb_register(const char *name, mb_fn *fn, void *arg, double items_per_iter,
                 double bytes_per_iter);
/* The same, timed by the wall clock (UseRealTime): for bodies whose work runs on other
 * threads too (the ring's consumer), where the caller's CPU time would miss it. */
void mb_register_wall(const char *name, mb_fn *fn, void *arg, double items_per_iter,
                      double bytes_per_iter);

/* Adds "key": "value" to the run's context (the JSON "context" object): library versions,
 * message sizes. Both strings are copied. */
void mb_context(const char *key, const char *value);

/* Keeps the compiler from dropping a computation whose result is otherwise unused: the
 * value behind @p is treated as read (Google Benchmark's DoNotOptimize, in C). */
static inline void mb_do_not_optimize(const void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

/* Forces pending stores to memory (Google Benchmark's ClobberMemory). */
static inline void mb_clobber_memory(void)
{
	__asm__ volatile("" : : : "memory");
}

/* The bodies, one file each; each init registers its benchmarks and returns 0, or a negative
 * errno after printing why (the runner then exits 1: a benchmark that cannot run is a bug). */
int mb_sip_init(void);  /* mb_sip.c: mara sip_parse vs libosip2 osip_message_parse */
int mb_dia_init(void);  /* mb_dia.c: mara codec vs freeDiameter libfdproto, MAR/MAA */
int mb_auth_init(void); /* mb_auth.c: digest responses, nonces, replay table */
int mb_ring_init(void); /* mb_ring.c: ck_ring SPSC between two threads */

#ifdef __cplusplus
}
#endif

#endif

/* SPDX-License-Identifier: MIT
 * test_base.c - the base vocabulary: slices, counters, log levels and the log rate limit. */
#include "mr.h"
#include "mr_log.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

static void test_str(void **state)
{
	char buf[6];

	(void)state;
	assert_true(mr_str_eq(MR_STR_LIT("abc"), mr_str_c("abc")));
	assert_false(mr_str_eq(MR_STR_LIT("abc"), MR_STR_LIT("abd")));
	assert_true(mr_str_ieq(MR_STR_LIT("INVITE"), MR_STR_LIT("invite")));
	assert_false(mr_str_ieq(MR_STR_LIT("INVITE"), MR_STR_LIT("invitE ")));
	assert_true(mr_str_eq((struct mr_str){0}, MR_STR_LIT("")));
	assert_int_equal(mr_str_copy_to(MR_STR_LIT("hello"), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "hello");
	assert_int_equal(mr_str_copy_to(MR_STR_LIT("hello!"), buf, sizeof(buf)), -ENAMETOOLONG);
}

static void test_count(void **state)
{
	uint64_t c = 0;

	(void)state;
	mr_count(&c, 1);
	mr_count(&c, 41);
	assert_int_equal(mr_count_read(&c), 42);
}

static void test_levels(void **state)
{
	(void)state;
	assert_int_equal(mr_log_level_parse("error"), MR_LOG_ERR);
	assert_int_equal(mr_log_level_parse("Warning"), MR_LOG_WARN);
	assert_int_equal(mr_log_level_parse("warn"), MR_LOG_WARN);
	assert_int_equal(mr_log_level_parse("debug"), MR_LOG_DEBUG);
	assert_int_equal(mr_log_level_parse("loud"), -EINVAL);
}

/* A burst of 3 per window: the 4th..10th calls are suppressed and counted; after the window the
 * next line reports how many were dropped. */
static void test_ratelimit(void **state)
{
	struct mr_ratelimit rl = {.interval_ms = 50, .burst = 3};
	struct timespec pause = {0, 60 * 1000 * 1000};
	uint64_t n = 99;
	int allowed = 0;

	(void)state;
	for (int i = 0; i < 10; i++)
		allowed += mr_ratelimit_ok(&rl, &n);
	assert_int_equal(allowed, 3);
	assert_int_equal(rl.suppressed, 7);
	nanosleep(&pause, NULL);
	assert_true(mr_ratelimit_ok(&rl, &n));
	assert_int_equal(n, 7);
	assert_int_equal(rl.suppressed, 0);
}

static void test_u32_dec(void **state)
{
	static const struct {
		uint32_t v;
		const char *s;
	} cases[] = {{0, "0"},
	             {9, "9"},
	             {10, "10"},
	             {70, "70"},
	             {1000000, "1000000"},
	             {4294967295u, "4294967295"}};
	char buf[10];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned n = mr_u32_dec(buf, cases[i].v);

		assert_int_equal(n, strlen(cases[i].s));
		assert_memory_equal(buf, cases[i].s, n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_str),       cmocka_unit_test(test_u32_dec),
	    cmocka_unit_test(test_count),     cmocka_unit_test(test_levels),
	    cmocka_unit_test(test_ratelimit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for lib/cron: parsing, errors, next-fire-time edges. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kc_cron.h"

static int passed, failed;

#define CHECK(cond) do { \
	if (cond) { passed++; } else { failed++; \
		fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_EQ_T(got, want) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (g_ == w_) { passed++; } else { failed++; \
		fprintf(stderr, "%s:%d: FAIL: %s = %lld, want %lld\n", \
			__FILE__, __LINE__, #got, g_, w_); } \
} while (0)

static time_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = s };
	return timegm(&tm);
}

static struct kc_cron must(const char *expr)
{
	struct kc_cron c;
	struct kc_err err = { "" };

	if (kc_cron_parse(expr, &c, &err) != 0) {
		fprintf(stderr, "parse '%s' failed: %s\n", expr, err.msg);
		failed++;
		memset(&c, 0, sizeof(c));
	}
	return c;
}

static time_t next(const char *expr, time_t after)
{
	struct kc_cron c = must(expr);

	return kc_cron_next(&c, after);
}

static void test_default(void)
{
	time_t t0 = utc(2024, 1, 1, 0, 0, 0);

	CHECK_EQ_T(next(KC_CRON_DEFAULT, t0), utc(2024, 1, 1, 0, 5, 0));
	CHECK_EQ_T(next(KC_CRON_DEFAULT, utc(2024, 1, 1, 0, 4, 59)), utc(2024, 1, 1, 0, 5, 0));
	/* strictly after */
	CHECK_EQ_T(next(KC_CRON_DEFAULT, utc(2024, 1, 1, 0, 5, 0)), utc(2024, 1, 1, 0, 10, 0));
	/* across the year boundary */
	CHECK_EQ_T(next(KC_CRON_DEFAULT, utc(2024, 12, 31, 23, 59, 30)), utc(2025, 1, 1, 0, 0, 0));
}

static void test_every_second(void)
{
	time_t t = utc(2024, 2, 28, 23, 59, 59);

	CHECK_EQ_T(next("* * * * * *", t), t + 1);
	CHECK_EQ_T(next("*/1 * * * * *", t + 1), t + 2);
	CHECK_EQ_T(next("0-59 * * * * *", t + 7), t + 8);
}

static void test_last_day_of_month(void)
{
	/* 31 never fires in 30-day months: April is skipped, May 31 fires. */
	CHECK_EQ_T(next("0 0 0 31 * *", utc(2024, 4, 1, 0, 0, 0)), utc(2024, 5, 31, 0, 0, 0));
	CHECK_EQ_T(next("0 0 0 31 * *", utc(2024, 5, 31, 0, 0, 0)), utc(2024, 7, 31, 0, 0, 0));
	CHECK_EQ_T(next("0 0 0 31 4,6,9,11 *", utc(2024, 1, 1, 0, 0, 0)), -1);
	/* 30th skips February */
	CHECK_EQ_T(next("0 0 12 30 * *", utc(2024, 1, 31, 0, 0, 0)), utc(2024, 3, 30, 12, 0, 0));
}

static void test_feb29(void)
{
	CHECK_EQ_T(next("0 0 0 29 2 *", utc(2023, 1, 1, 0, 0, 0)), utc(2024, 2, 29, 0, 0, 0));
	CHECK_EQ_T(next("0 0 0 29 2 *", utc(2024, 3, 1, 0, 0, 0)), utc(2028, 2, 29, 0, 0, 0));
	CHECK_EQ_T(next("0 0 0 29 FEB *", utc(2024, 2, 29, 0, 0, 0)), utc(2028, 2, 29, 0, 0, 0));
	/* Feb 30 never exists: bounded search answers -1 */
	CHECK_EQ_T(next("0 0 0 30 2 *", utc(2024, 1, 1, 0, 0, 0)), -1);
	CHECK_EQ_T(next("* * * 31 feb *", utc(2024, 1, 1, 0, 0, 0)), -1);
}

static void test_steps_and_lists(void)
{
	time_t m = utc(2024, 6, 1, 12, 0, 0);
	struct kc_cron c = must("10-40/15 * * * * *");

	/* 10, 25, 40 only */
	CHECK_EQ_T(c.sec, (1ull << 10) | (1ull << 25) | (1ull << 40));
	CHECK_EQ_T(kc_cron_next(&c, m), m + 10);
	CHECK_EQ_T(kc_cron_next(&c, m + 10), m + 25);
	CHECK_EQ_T(kc_cron_next(&c, m + 25), m + 40);
	CHECK_EQ_T(kc_cron_next(&c, m + 40), m + 70);
	/* a/n = a..max every n */
	c = must("50/5 * * * * *");
	CHECK_EQ_T(c.sec, (1ull << 50) | (1ull << 55));
	/* lists of ranges */
	c = must("0 0 1-3,20-22 * * *");
	CHECK_EQ_T(c.hour, 0xeu | (7u << 20));
	CHECK_EQ_T(kc_cron_next(&c, utc(2024, 6, 1, 3, 0, 0)), utc(2024, 6, 1, 20, 0, 0));
	CHECK_EQ_T(kc_cron_next(&c, utc(2024, 6, 1, 22, 0, 0)), utc(2024, 6, 2, 1, 0, 0));
	c = must("0 0,30 */6 * * *");
	CHECK_EQ_T(c.hour, 1u | (1u << 6) | (1u << 12) | (1u << 18));
	CHECK_EQ_T(c.min, 1ull | (1ull << 30));
}

static void test_names(void)
{
	struct kc_cron c = must("0 30 9 * JAN-MAR mon-Fri");

	CHECK_EQ_T(c.month, 0xe);
	CHECK_EQ_T(c.dow, 0x3e);
	/* Friday 2024-03-29 10:00 -> the next weekday in Jan..Mar is Wed 2025-01-01 */
	CHECK_EQ_T(kc_cron_next(&c, utc(2024, 3, 29, 10, 0, 0)), utc(2025, 1, 1, 9, 30, 0));
	c = must("0 0 0 * * 7");
	CHECK_EQ_T(c.dow, 1);
	c = must("0 0 0 * * 5-7");
	CHECK_EQ_T(c.dow, 0x61);
	c = must("0 0 0 * dec,Jan *");
	CHECK_EQ_T(c.month, (1u << 12) | 2u);
	c = must("@hourly");
	CHECK_EQ_T(kc_cron_next(&c, utc(2024, 1, 1, 5, 0, 0)), utc(2024, 1, 1, 6, 0, 0));
	c = must("@weekly"); /* Sundays; 2024-09-01 is a Sunday */
	CHECK_EQ_T(kc_cron_next(&c, utc(2024, 8, 28, 0, 0, 0)), utc(2024, 9, 1, 0, 0, 0));
}

static void test_dom_dow(void)
{
	/* both restricted: OR (Vixie). 2024-09-06 and 13 are Fridays. */
	const char *e = "0 0 0 10 * FRI";

	CHECK_EQ_T(next(e, utc(2024, 9, 1, 0, 0, 0)), utc(2024, 9, 6, 0, 0, 0));
	CHECK_EQ_T(next(e, utc(2024, 9, 6, 0, 0, 0)), utc(2024, 9, 10, 0, 0, 0));
	CHECK_EQ_T(next(e, utc(2024, 9, 10, 0, 0, 0)), utc(2024, 9, 13, 0, 0, 0));
	/* dom starts with *: AND. Odd days that are Mondays: Sep 2 is even, Sep 9 fires. */
	CHECK_EQ_T(next("0 0 0 */2 * MON", utc(2024, 9, 1, 0, 0, 0)), utc(2024, 9, 9, 0, 0, 0));
	/* dow '*' and dom restricted: dom only */
	CHECK_EQ_T(next("0 0 0 15 * *", utc(2024, 9, 1, 0, 0, 0)), utc(2024, 9, 15, 0, 0, 0));
}

static void expect_error(const char *expr, const char *want1, const char *want2)
{
	struct kc_cron c;
	struct kc_err err = { "" };
	int rc = kc_cron_parse(expr, &c, &err);

	CHECK_EQ_T(rc, -EINVAL);
	if (strstr(err.msg, want1) == NULL || (want2 && strstr(err.msg, want2) == NULL)) {
		failed++;
		fprintf(stderr, "FAIL: '%s': message '%s' lacks '%s'/'%s'\n", expr, err.msg,
			want1, want2 ? want2 : "");
	} else {
		passed++;
	}
}

static void test_errors(void)
{
	expect_error("61 * * * * *", "field 'second'", "bad token '61'");
	expect_error("0 60 * * * *", "field 'minute'", "'60'");
	expect_error("0 0 24 * * *", "field 'hour'", "'24'");
	expect_error("0 0 0 0 * *", "field 'day-of-month'", "'0'");
	expect_error("0 0 0 32 * *", "field 'day-of-month'", "'32'");
	expect_error("0 0 0 * 13 *", "field 'month'", "'13'");
	expect_error("0 0 0 * FOO *", "field 'month'", "'FOO'");
	expect_error("0 0 0 * * 8", "field 'day-of-week'", "'8'");
	expect_error("0 0 0 * * MONDAY", "field 'day-of-week'", "'MONDAY'");
	expect_error("*/0 * * * * *", "field 'second'", "'*/0'");
	expect_error("40-10 * * * * *", "field 'second'", "'40-10'");
	expect_error("1,,2 * * * * *", "field 'second'", "'1,,2'");
	expect_error("1, * * * * *", "field 'second'", NULL);
	expect_error("a * * * * *", "field 'second'", "'a'");
	expect_error("-1 * * * * *", "field 'second'", "'-1'");
	expect_error("0 */5 * * *", "5 fields", "need 6");
	expect_error("0 */5 * * * * *", "more than 6 fields", NULL);
	expect_error("", "0 fields", NULL);
	expect_error("@sometimes", "unknown shorthand '@sometimes'", NULL);
	expect_error("1-2-3 * * * * *", "'1-2-3'", NULL);
	expect_error("99999999999999999999 * * * * *", "field 'second'", NULL);
	{
		struct kc_cron c;

		CHECK_EQ_T(kc_cron_parse(NULL, &c, NULL), -EINVAL);
	}
}

static void test_local(void)
{
	/* POSIX TZ without a database: local = UTC - 2h, no DST. */
	struct kc_cron c = must("0 0 0 * * *");

	setenv("TZ", "XST+2", 1);
	tzset();
	c.local = true;
	CHECK_EQ_T(kc_cron_next(&c, utc(2024, 1, 1, 0, 0, 0)), utc(2024, 1, 1, 2, 0, 0));
	CHECK_EQ_T(kc_cron_next(&c, utc(2024, 1, 1, 2, 0, 0)), utc(2024, 1, 2, 2, 0, 0));
	c.local = false;
	CHECK_EQ_T(kc_cron_next(&c, utc(2024, 1, 1, 0, 0, 0)), utc(2024, 1, 2, 0, 0, 0));
	/* DST fall-back (EU rules, as a POSIX string): 2024-10-27 03:00 CEST ->
	 * 02:00 CET, so 02:30 local exists twice; it fires once per day. */
	setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
	tzset();
	c = must("0 30 2 * * *");
	c.local = true;
	{
		time_t a = kc_cron_next(&c, utc(2024, 10, 26, 12, 0, 0));
		time_t b = kc_cron_next(&c, a);

		CHECK(a == utc(2024, 10, 27, 0, 30, 0) || a == utc(2024, 10, 27, 1, 30, 0));
		CHECK_EQ_T(b, utc(2024, 10, 28, 1, 30, 0));
	}
	unsetenv("TZ");
	tzset();
}

int main(void)
{
	test_default();
	test_every_second();
	test_last_day_of_month();
	test_feb29();
	test_steps_and_lists();
	test_names();
	test_dom_dow();
	test_errors();
	test_local();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

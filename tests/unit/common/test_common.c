/*
 * lib/common: the clock conversion the workers stamp packets with, strict
 * number parsing, the memcap, and table allocation.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_common.h"
#include "kct.h"

/* Reference by 128-bit arithmetic. */
static uint64_t ref_ns(uint64_t cycles, uint64_t hz)
{
	return (uint64_t)((unsigned __int128)cycles * 1000000000u / hz);
}

static void test_cycles_to_ns(void)
{
	static const uint64_t hzs[] = { 1000000000ull, 2495312000ull, 3000000007ull, 1843200ull, 100ull };
	uint64_t x = 0x9e3779b97f4a7c15ull;
	unsigned i, k;

	for (i = 0; i < sizeof(hzs) / sizeof(hzs[0]); i++) {
		uint64_t hz = hzs[i];

		CHECK_EQ(kc_cycles_to_ns(0, hz), 0);
		CHECK_EQ(kc_cycles_to_ns(hz, hz), 1000000000ull);
		CHECK_EQ(kc_cycles_to_ns(hz - 1, hz), ref_ns(hz - 1, hz));
		/* Ten seconds, a year and a century of uptime: the product of
		 * cycles and 1e9 overflowed 64 bits long before. */
		CHECK_EQ(kc_cycles_to_ns(10 * hz, hz), 10000000000ull);
		CHECK_EQ(kc_cycles_to_ns(365ull * 86400 * hz + 7, hz), ref_ns(365ull * 86400 * hz + 7, hz));
		CHECK_EQ(kc_cycles_to_ns(100ull * 365 * 86400 * (hz % 1000000000ull + 1), hz),
			 ref_ns(100ull * 365 * 86400 * (hz % 1000000000ull + 1), hz));
		for (k = 0; k < 1000; k++) {
			uint64_t c;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			c = x >> (k % 40); /* from huge to small */
			if (ref_ns(c, hz) < c / hz) /* the reference itself past 64 bits */
				continue;
			if ((unsigned __int128)c * 1000000000u / hz > UINT64_MAX)
				continue;
			CHECK_EQ(kc_cycles_to_ns(c, hz), ref_ns(c, hz));
		}
	}
}

static void test_parse_u64(void)
{
	uint64_t v = 0;

	CHECK_EQ(kc_parse_u64("0", 0, 10, &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(kc_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	CHECK_EQ(v, UINT64_MAX);
	CHECK_EQ((uint64_t)kc_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), (uint64_t)-ERANGE);
	CHECK_EQ((uint64_t)kc_parse_u64("11", 0, 10, &v), (uint64_t)-ERANGE);
	CHECK_EQ((uint64_t)kc_parse_u64("4", 5, 10, &v), (uint64_t)-ERANGE);
	CHECK_EQ((uint64_t)kc_parse_u64("", 0, 10, &v), (uint64_t)-EINVAL);
	CHECK_EQ((uint64_t)kc_parse_u64("-1", 0, 10, &v), (uint64_t)-EINVAL);
	CHECK_EQ((uint64_t)kc_parse_u64("+1", 0, 10, &v), (uint64_t)-EINVAL);
	CHECK_EQ((uint64_t)kc_parse_u64(" 1", 0, 10, &v), (uint64_t)-EINVAL);
	CHECK_EQ((uint64_t)kc_parse_u64("1 ", 0, 10, &v), (uint64_t)-EINVAL);
	CHECK_EQ((uint64_t)kc_parse_u64("1x", 0, 10, &v), (uint64_t)-EINVAL);
	CHECK_EQ((uint64_t)kc_parse_u64(NULL, 0, 10, &v), (uint64_t)-EINVAL);
}

static void test_memcap(void)
{
	struct kc_memcap m = { .cap = 100 };

	CHECK_EQ(kc_memcap_take(&m, 60), 0);
	CHECK_EQ((uint64_t)kc_memcap_take(&m, 41), (uint64_t)-ENOSPC);
	CHECK_EQ(m.refused, 1);
	CHECK_EQ(kc_memcap_take(&m, 40), 0);
	CHECK_EQ(m.used, 100);
	kc_memcap_give(&m, 70);
	CHECK_EQ(m.used, 30);
	CHECK_EQ(m.peak, 100);
	kc_memcap_give(&m, 1000); /* never below zero */
	CHECK_EQ(m.used, 0);
}

static void test_alloc_table(void)
{
	static const size_t sizes[] = { 64, 1000, (512u << 10) - 1, 512u << 10, (2u << 20) - 1, 2u << 20,
					(5u << 20) + 3 };
	unsigned i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *p = kc_alloc_table(sizes[i]);

		CHECK(p != NULL);
		if (p == NULL)
			continue;
		CHECK_EQ((uintptr_t)p % (sizes[i] >= (512u << 10) ? (2u << 20) : KC_CACHE_LINE), 0);
		memset(p, 0xa5, sizes[i]); /* the whole size is usable */
		CHECK_EQ(p[sizes[i] - 1], 0xa5);
		free(p);
	}
}

int main(void)
{
	test_cycles_to_ns();
	test_parse_u64();
	test_memcap();
	test_alloc_table();
	return kct_done("test_common");
}

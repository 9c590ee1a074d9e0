/*
 * Tiny assert-style harness shared by the decode and flow unit tests.
 *
 * Not <assert.h>: the project builds with b_ndebug=if-release, which would
 * compile every assert() out and leave tests that cannot fail. A failed check
 * prints where and what, the test carries on, and kct_done() turns the tally
 * into the exit status.
 */
#ifndef KCT_H
#define KCT_H

#include <inttypes.h>
#include <stdio.h>

static int kct_passed __attribute__((unused));
static int kct_failed __attribute__((unused));

#define CHECK(c)                                                                          \
	do {                                                                              \
		if (c) {                                                                  \
			kct_passed++;                                                     \
		} else {                                                                  \
			kct_failed++;                                                     \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); \
		}                                                                         \
	} while (0)

/* Integer equality, printing both sides (as unsigned 64-bit) on failure. */
#define CHECK_EQ(a, b)                                                                    \
	do {                                                                              \
		uint64_t kct_a_ = (uint64_t)(a), kct_b_ = (uint64_t)(b);                  \
		if (kct_a_ == kct_b_) {                                                   \
			kct_passed++;                                                     \
		} else {                                                                  \
			kct_failed++;                                                     \
			fprintf(stderr, "%s:%d: CHECK_EQ(%s, %s) failed: %" PRIu64 " != %" PRIu64 "\n", \
				__FILE__, __LINE__, #a, #b, kct_a_, kct_b_);              \
		}                                                                         \
	} while (0)

/* Decode result equality, printing the result names on failure. */
#define CHECK_RES(a, b)                                                                   \
	do {                                                                              \
		enum kc_decode_res kct_ra_ = (a), kct_rb_ = (b);                          \
		if (kct_ra_ == kct_rb_) {                                                 \
			kct_passed++;                                                     \
		} else {                                                                  \
			kct_failed++;                                                     \
			fprintf(stderr, "%s:%d: %s = %s, expected %s\n", __FILE__, __LINE__, #a, \
				kc_decode_res_name(kct_ra_), kc_decode_res_name(kct_rb_));  \
		}                                                                         \
	} while (0)

static inline int kct_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, kct_passed, kct_failed);
	return kct_failed == 0 ? 0 : 1;
}

#endif /* KCT_H */

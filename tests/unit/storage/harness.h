/* Minimal assert-style harness for the storage unit tests. */
#ifndef KC_STORAGE_TEST_HARNESS_H
#define KC_STORAGE_TEST_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int t_pass, t_fail;

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (cond) {                                                           \
			t_pass++;                                                     \
		} else {                                                              \
			t_fail++;                                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                     \
	} while (0)

#define CHECK_EQ_U(a, b)                                                              \
	do {                                                                          \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                      \
		if (a_ == b_) {                                                       \
			t_pass++;                                                     \
		} else {                                                              \
			t_fail++;                                                     \
			fprintf(stderr, "%s:%d: %s == %" PRIu64 ", expected %" PRIu64 "\n", \
				__FILE__, __LINE__, #a, a_, b_);                      \
		}                                                                     \
	} while (0)

#define CHECK_STR(a, b)                                                               \
	do {                                                                          \
		const char *a_ = (a), *b_ = (b);                                      \
		if (a_ != NULL && b_ != NULL && strcmp(a_, b_) == 0) {                \
			t_pass++;                                                     \
		} else {                                                              \
			t_fail++;                                                     \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, \
				__LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");  \
		}                                                                     \
	} while (0)

static inline int t_report(void)
{
	printf("%d passed, %d failed\n", t_pass, t_fail);
	return t_fail == 0 ? 0 : 1;
}

#endif

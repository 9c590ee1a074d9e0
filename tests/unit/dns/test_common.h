/* Tiny assert harness and item capture shared by the lib/dns tests. */
#ifndef TEST_DNS_COMMON_H
#define TEST_DNS_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_item.h"
#include "kc_parse.h"

static int t_pass, t_fail;

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (cond) {                                                      \
			t_pass++;                                                \
		} else {                                                         \
			t_fail++;                                                \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
				#cond);                                          \
		}                                                                \
	} while (0)

#define CHECK_EQ(a, b)                                                           \
	do {                                                                     \
		unsigned long long va_ = (unsigned long long)(a);                \
		unsigned long long vb_ = (unsigned long long)(b);                \
		if (va_ == vb_) {                                                \
			t_pass++;                                                \
		} else {                                                         \
			t_fail++;                                                \
			fprintf(stderr, "%s:%d: %s == %llu, expected %s == %llu\n", \
				__FILE__, __LINE__, #a, va_, #b, vb_);           \
		}                                                                \
	} while (0)

/* View equals literal. */
#define CHECK_STR(it, view, lit)                                                 \
	do {                                                                     \
		const struct kc_item *it_ = (it);                                \
		struct kc_str v_ = (view);                                       \
		if (v_.len == strlen(lit) &&                                     \
		    memcmp(kc_item_str(it_, v_), (lit), v_.len) == 0) {          \
			t_pass++;                                                \
		} else {                                                         \
			t_fail++;                                                \
			fprintf(stderr, "%s:%d: %s == \"%.*s\", expected \"%s\"\n", \
				__FILE__, __LINE__, #view, (int)v_.len,          \
				kc_item_str(it_, v_), (lit));                    \
		}                                                                \
	} while (0)

static inline int t_report(void)
{
	printf("%d passed, %d failed\n", t_pass, t_fail);
	return t_fail == 0 ? 0 : 1;
}

/* Items captured from emit callbacks. */
#define CAP_MAX 64
struct capture {
	unsigned n;
	unsigned dropped;
	struct kc_item items[CAP_MAX];
};

static inline void cap_emit(void *ctx, const struct kc_item *it)
{
	struct capture *c = ctx;

	if (c->n < CAP_MAX)
		memcpy(&c->items[c->n++], it, sizeof(*it));
	else
		c->dropped++;
}

#endif

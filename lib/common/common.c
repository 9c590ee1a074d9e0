/* Shared helpers: error detail, clocks, strict number parsing. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "kc_common.h"

int kc_err_set(struct kc_err *err, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return rc;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return rc;
}

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t kc_now_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

uint64_t kc_wall_us(void)
{
	return clock_us(CLOCK_REALTIME);
}

#define HUGE_2M (2u << 20)

void *kc_alloc_table(size_t size)
{
	void *p;

	/* Small tables stay in cache anyway: cache-line alignment is enough.
	 * From a quarter of a huge page up, a whole one is worth its slack. */
	if (size < HUGE_2M / 4) {
		if (posix_memalign(&p, KC_CACHE_LINE, size) != 0)
			goto fail;
		return p;
	}
	size = (size + HUGE_2M - 1) & ~(size_t)(HUGE_2M - 1);
	if (posix_memalign(&p, HUGE_2M, size) != 0)
		goto fail;
	/* Advice only: without THP the table simply uses small pages. */
	(void)madvise(p, size, MADV_HUGEPAGE);
	return p;
fail:
	errno = ENOMEM;
	return NULL;
}

int kc_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

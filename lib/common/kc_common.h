/**
 * @file
 * Small definitions every kflcap module shares: the error-detail buffer that
 * libraries fill instead of printing, branch hints, and size helpers.
 *
 * Nothing here needs EAL; any thread may use any of it.
 */
#ifndef KC_COMMON_H
#define KC_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <assert.h>
#include <errno.h>

#define KC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define KC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define KC_MAX(a, b) ((a) > (b) ? (a) : (b))

#define kc_likely(x) __builtin_expect(!!(x), 1)
#define kc_unlikely(x) __builtin_expect(!!(x), 0)

#define KC_CACHE_LINE 64
#define kc_cache_aligned __attribute__((aligned(KC_CACHE_LINE)))
#define kc_must_check __attribute__((warn_unused_result))
#define kc_printf_like(f, a) __attribute__((format(printf, f, a)))

/**
 * Error detail for a person: "what: why". Libraries write it (when the caller
 * passed one; NULL is allowed everywhere) and return a negative errno; they
 * never log. Callers print it.
 */
struct kc_err {
	char msg[512];
};

/** Format into @p err if it is not NULL. Always returns @p rc, so a caller can
 *  write `return kc_err_set(err, -EINVAL, "key %s: ...", k);`. */
int kc_err_set(struct kc_err *err, int rc, const char *fmt, ...) kc_printf_like(3, 4);

/** Monotonic clock in microseconds, for control-plane code (not per packet). */
uint64_t kc_now_us(void);

/** Wall clock in microseconds since the Unix epoch. */
uint64_t kc_wall_us(void);

/* Unaligned loads and stores in host byte order (memcpy compiles to one
 * move): packet fields and key words sit at any offset. */
static inline uint16_t kc_load16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t kc_load32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t kc_load64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void kc_store32(void *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static inline void kc_store64(void *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

/**
 * Nanoseconds in @p cycles of a clock at @p hz (the TSC), exact to the
 * nanosecond and without overflow for any uptime (cycles * 1e9 overflows 64
 * bits after about seven seconds of a 2.5 GHz TSC). Two divisions: call it
 * once per burst, not per packet. @p hz must not be 0.
 */
static inline uint64_t kc_cycles_to_ns(uint64_t cycles, uint64_t hz)
{
	return cycles / hz * 1000000000ull + cycles % hz * 1000000000ull / hz;
}

/**
 * Allocate @p size bytes for a large table read at random on the hot path
 * (flow table, its index): from 512 KiB up, rounded up to and aligned on
 * 2 MiB and marked for transparent huge pages, so lookups do not pay a TLB
 * miss on top of the cache miss; smaller, cache-line aligned. Works (with
 * small pages) where THP is off. Not zeroed. Free with free().
 * @return NULL with errno ENOMEM.
 */
void *kc_alloc_table(size_t size);

/**
 * Parse a whole decimal unsigned integer in [min, max]. Rejects signs, spaces,
 * trailing garbage and overflow.
 * @return 0, or -EINVAL (not a number) or -ERANGE (outside [min, max]).
 */
int kc_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) kc_must_check;

/**
 * A byte budget shared by many users of one thread (Suricata's memcap):
 * kc_memcap_take() refuses with -ENOSPC when the cap would be exceeded and
 * counts the refusal. Single-writer: one per lcore.
 */
struct kc_memcap {
	uint64_t cap;     /**< limit in bytes, 0 = refuse everything */
	uint64_t used;    /**< bytes currently accounted */
	uint64_t peak;    /**< highest value of used */
	uint64_t refused; /**< number of takes refused by the cap */
};

static inline int kc_memcap_take(struct kc_memcap *m, uint64_t n)
{
	if (kc_unlikely(m->used + n > m->cap)) {
		m->refused++;
		return -ENOSPC;
	}
	m->used += n;
	if (m->used > m->peak)
		m->peak = m->used;
	return 0;
}

static inline void kc_memcap_give(struct kc_memcap *m, uint64_t n)
{
	m->used = n > m->used ? 0 : m->used - n;
}

#endif /* KC_COMMON_H */

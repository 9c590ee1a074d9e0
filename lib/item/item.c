/*
 * Item construction helpers: reset, arena puts, protocol names, header-name
 * canonicalisation. No allocation, no shared state.
 */
#include <stdbool.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "kc_item.h"

/* memset(p, 0, n) for the ~190-byte head of an HTTP item, as plain vector
 * stores: the compiler's choice for that size, rep stos, costs more to start
 * than the stores themselves. */
static inline void zero_small(void *p, size_t n)
{
#ifdef __SSE2__
	const __m128i z = _mm_setzero_si128();
	char *c = p;
	size_t i;

	if (n < 16) {
		memset(p, 0, n);
		return;
	}
	for (i = 0; i + 16 <= n; i += 16) {
		_mm_storeu_si128((__m128i *)(c + i), z);
		/* Keeps the compiler from turning the loop back into the
		 * memset it replaces. */
		__asm__ volatile("" ::: "memory");
	}
	if (i < n)
		_mm_storeu_si128((__m128i *)(c + n - 16), z);
#else
	memset(p, 0, n);
#endif
}

void kc_item_reset(struct kc_item *it, enum kc_item_proto proto)
{
	bool http = proto == KC_ITEM_HTTP || proto == KC_ITEM_HTTP2 || proto == KC_ITEM_GRPC;

	/* Everything before the arena; the arena bytes are dead once
	 * arena_used is 0, so clearing 8 KiB per item would be wasted work.
	 * So are the HTTP header, cookie and query tables past their counts
	 * (1.4 KiB, 90 % of the rest): every writer fills an entry before
	 * counting it, every reader stops at the count. */
	if (http) {
		zero_small(it, offsetof(struct kc_item, u.http.req_headers));
		it->arena_used = 0;
	} else {
		memset(it, 0, offsetof(struct kc_item, arena));
	}
	it->proto = (uint8_t)proto;
	if (http) {
		it->u.http.req_headers_size = -1;
		it->u.http.resp_headers_size = -1;
		it->u.http.req_body_size = -1;
		it->u.http.resp_body_size = -1;
		it->u.http.grpc_status = -1;
	}
}

int kc_item_append(struct kc_item *it, struct kc_str *s, const void *data, size_t len)
{
	size_t room = (size_t)KC_ITEM_ARENA_SIZE - it->arena_used;
	int at_end = s->len > 0 && (size_t)s->off + s->len == it->arena_used;

	if (len == 0)
		return 0;
	if (s->len == 0)
		return kc_item_put(it, data, len, s);
	if (at_end) {
		if (len > room) {
			it->flags |= KC_ITEM_F_TRUNCATED;
			return -ENOSPC;
		}
		memcpy(it->arena + it->arena_used, data, len);
		it->arena_used = (uint16_t)(it->arena_used + len);
		s->len = (uint16_t)(s->len + len);
		return 0;
	}
	/* Not the last string: move it to the end, then grow it there. The
	 * source lies wholly below arena_used, so memcpy cannot overlap. */
	if ((size_t)s->len + len > room) {
		it->flags |= KC_ITEM_F_TRUNCATED;
		return -ENOSPC;
	}
	memcpy(it->arena + it->arena_used, it->arena + s->off, s->len);
	memcpy(it->arena + it->arena_used + s->len, data, len);
	s->off = it->arena_used;
	s->len = (uint16_t)(s->len + len);
	it->arena_used = (uint16_t)(it->arena_used + s->len);
	return 0;
}

/* Canonical form of each byte of a header name (Go's CanonicalMIMEHeaderKey):
 * [1] at the start of a word, [0] inside one; 0 for a byte that is not an
 * RFC 7230 section 3.2.6 tchar (Go's validHeaderFieldByte is the same set),
 * which leaves the whole name unchanged. Tables: every header line of every
 * HTTP/1 message goes through here. */
#define TCHAR_PUNCT \
	['!'] = '!', ['#'] = '#', ['$'] = '$', ['%'] = '%', ['&'] = '&', ['\''] = '\'', ['*'] = '*', \
	['+'] = '+', ['-'] = '-', ['.'] = '.', ['^'] = '^', ['_'] = '_', ['`'] = '`', ['|'] = '|', ['~'] = '~'
static const uint8_t canon_tab[2][256] = {
	[0] = {
		TCHAR_PUNCT,
		['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4',
		['5'] = '5', ['6'] = '6', ['7'] = '7', ['8'] = '8', ['9'] = '9',
#define L(c) [c] = c, [c - 'a' + 'A'] = c
		L('a'), L('b'), L('c'), L('d'), L('e'), L('f'), L('g'), L('h'), L('i'), L('j'), L('k'), L('l'),
		L('m'), L('n'), L('o'), L('p'), L('q'), L('r'), L('s'), L('t'), L('u'), L('v'), L('w'), L('x'),
		L('y'), L('z'),
#undef L
	},
	[1] = {
		TCHAR_PUNCT,
		['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4',
		['5'] = '5', ['6'] = '6', ['7'] = '7', ['8'] = '8', ['9'] = '9',
#define U(c) [c] = c - 'a' + 'A', [c - 'a' + 'A'] = c - 'a' + 'A'
		U('a'), U('b'), U('c'), U('d'), U('e'), U('f'), U('g'), U('h'), U('i'), U('j'), U('k'), U('l'),
		U('m'), U('n'), U('o'), U('p'), U('q'), U('r'), U('s'), U('t'), U('u'), U('v'), U('w'), U('x'),
		U('y'), U('z'),
#undef U
	},
};
#undef TCHAR_PUNCT

#define ONES 0x0101010101010101ull
#define HIGH 0x8080808080808080ull

/* Eight bytes at a time while they are letters, digits and '-' (nearly
 * every header name): lower-case the letters, upper-case those that start
 * the name or follow a '-'. @p upper: the first byte starts a word. Returns
 * false, writing nothing, when a byte is anything else (the byte loop then
 * decides). Per byte lane, high bit = "is"; no lane carries into the next
 * (the bytes are checked to be below 0x80 first). */
static inline bool canon8(char *dst, const unsigned char *src, unsigned *upper)
{
	uint64_t w, l, letter, digit, x, dash, up;

	memcpy(&w, src, 8);
	if (w & HIGH)
		return false;
	l = w | (ONES * 0x20); /* letters folded to lower case */
	letter = (l + ONES * (0x80 - 'a')) & ~(l + ONES * (0x80 - 'z' - 1)) & HIGH;
	digit = (w + ONES * (0x80 - '0')) & ~(w + ONES * (0x80 - '9' - 1)) & HIGH;
	x = w ^ (ONES * '-');
	dash = ~(((x & ~HIGH) + ~HIGH) | x | ~HIGH);
	if ((letter | digit | dash) != HIGH)
		return false;
	up = ((dash << 8) | (*upper ? 0x80u : 0)) & letter;
	w = (w | (letter >> 2)) & ~(up >> 2);
	memcpy(dst, &w, 8);
	*upper = (unsigned)(dash >> 63);
	return true;
}

/* Write the canonical form of @p src to @p dst; false (dst partly written)
 * when a byte is not a tchar. */
static bool canon_copy(char *dst, const unsigned char *src, size_t len)
{
	unsigned upper = 1;
	size_t i = 0;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	while (i + 8 <= len && canon8(dst + i, src + i, &upper))
		i += 8;
#endif
	for (; i < len; i++) {
		unsigned char c = src[i];
		uint8_t m = canon_tab[upper][c];

		if (m == 0)
			return false;
		dst[i] = (char)m;
		upper = c == '-';
	}
	return true;
}

void kc_item_canon_header(char *name, size_t len)
{
	const unsigned char *u = (const unsigned char *)name;

	/* Go leaves a key with any non-token byte alone (so ":path" and keys
	 * with spaces stay as sent): check before rewriting in place. */
	for (size_t i = 0; i < len; i++)
		if (canon_tab[0][u[i]] == 0)
			return;
	(void)canon_copy(name, u, len);
}

int kc_item_put_header_name(struct kc_item *it, const void *name, size_t len, struct kc_str *out)
{
	char *dst;
	int rc = kc_item_reserve(it, len, out, &dst);

	if (dst != NULL && !canon_copy(dst, name, len))
		memcpy(dst, name, len);
	return rc;
}

const struct kc_kv *kc_item_header_find(const struct kc_item *it, const struct kc_kv *kv,
					unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (kc_item_str_eq(it, kv[i].name, name))
			return &kv[i];
	return NULL;
}

static const char *const proto_names[KC_ITEM_PROTO_MAX] = {
	[KC_ITEM_TCP] = "tcp",   [KC_ITEM_UDP] = "udp",   [KC_ITEM_HTTP] = "http",
	[KC_ITEM_HTTP2] = "http", [KC_ITEM_GRPC] = "http", [KC_ITEM_DNS] = "dns",
	[KC_ITEM_TLS] = "tls",
};

static const char *const proto_abbrs[KC_ITEM_PROTO_MAX] = {
	[KC_ITEM_TCP] = "TCP",     [KC_ITEM_UDP] = "UDP",   [KC_ITEM_HTTP] = "HTTP",
	[KC_ITEM_HTTP2] = "HTTP/2", [KC_ITEM_GRPC] = "gRPC", [KC_ITEM_DNS] = "DNS",
	[KC_ITEM_TLS] = "TLS",
};

const char *kc_item_proto_name(enum kc_item_proto p)
{
	return (unsigned)p < KC_ITEM_PROTO_MAX ? proto_names[p] : "unknown";
}

const char *kc_item_proto_abbr(enum kc_item_proto p)
{
	return (unsigned)p < KC_ITEM_PROTO_MAX ? proto_abbrs[p] : "UNKNOWN";
}

uint64_t kc_item_elapsed_ms(const struct kc_item *it)
{
	if (it->resp_ts_us == 0 || it->ts_us == 0 || it->resp_ts_us < it->ts_us)
		return 0;
	/* Rounded to the nearest millisecond (kfl.md 10.1). */
	return (it->resp_ts_us - it->ts_us + 500) / 1000;
}

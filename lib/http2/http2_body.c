/*
 * Content-Encoding of HTTP/2 bodies: the item keeps a prefix of the decoded
 * body (kc_item.h), so a gzip or deflate body prefix is inflated when its
 * item is built. Only the kept raw prefix (at most KC_ITEM_BODY_PREFIX bytes
 * of the encoded body) is inflated, so the decoded prefix is what those
 * bytes give: whole when the encoded body fitted, a prefix otherwise.
 *
 * zlib's state (~7 KiB) and its 32 KiB window come from an arena on this
 * function's stack through a bump allocator: nothing is allocated from the
 * heap, and the stack is only that deep while an encoded body is decoded.
 */
#include <string.h>
#include <zlib.h>

#include "http2_internal.h"

#define ZARENA_SIZE (48u * 1024u)

struct zarena {
	size_t used;
	uint8_t mem[ZARENA_SIZE] __attribute__((aligned(16)));
};

static voidpf zarena_alloc(voidpf opaque, uInt items, uInt size)
{
	struct zarena *a = opaque;
	size_t n = ((size_t)items * size + 15u) & ~(size_t)15u;

	if (n > ZARENA_SIZE - a->used)
		return Z_NULL;
	a->used += n;
	return a->mem + a->used - n;
}

static void zarena_free(voidpf opaque, voidpf ptr)
{
	(void)opaque;
	(void)ptr;
}

static int ieq(const char *a, size_t alen, const char *lit)
{
	size_t n = strlen(lit);

	if (alen != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = a[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lit[i])
			return 0;
	}
	return 1;
}

int h2_body_encoding(const struct kc_item *it, const struct kc_kv *kv, unsigned n)
{
	const struct kc_kv *ce = kc_item_header_find(it, kv, n, "Content-Encoding");
	const char *v;

	if (ce == NULL)
		return H2_ENC_NONE;
	v = kc_item_str(it, ce->value);
	/* RFC 9110 8.4.1: "x-gzip" is an alias of gzip */
	if (ieq(v, ce->value.len, "gzip") || ieq(v, ce->value.len, "x-gzip"))
		return H2_ENC_GZIP;
	if (ieq(v, ce->value.len, "deflate"))
		return H2_ENC_DEFLATE;
	return H2_ENC_NONE;
}

/* One inflate attempt of @p raw into @p out. @return bytes produced, or -1. */
static long inflate_prefix(const uint8_t *raw, size_t rawlen, uint8_t *out, size_t cap,
			   int window_bits, int *whole)
{
	struct zarena a;
	z_stream zs;
	int ret;
	long produced;

	a.used = 0;
	memset(&zs, 0, sizeof(zs));
	zs.zalloc = zarena_alloc;
	zs.zfree = zarena_free;
	zs.opaque = &a;
	if (inflateInit2(&zs, window_bits) != Z_OK)
		return -1;
	zs.next_in = (Bytef *)(uintptr_t)raw;
	zs.avail_in = (uInt)rawlen;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	ret = inflate(&zs, Z_SYNC_FLUSH);
	produced = (long)(cap - zs.avail_out);
	inflateEnd(&zs);
	/* Z_BUF_ERROR: the prefix ended or the output is full -- a prefix */
	if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR)
		return -1;
	*whole = ret == Z_STREAM_END;
	return produced;
}

int h2_body_decode(struct kc_item *it, struct kc_str *body, int enc)
{
	uint8_t raw[KC_ITEM_BODY_PREFIX];
	size_t rawlen = KC_MIN((size_t)body->len, sizeof(raw));
	uint16_t save_used = it->arena_used;
	struct kc_str saved = *body;
	size_t room, cap;
	int whole = 0;
	long n;

	if (rawlen == 0)
		return 0;
	memcpy(raw, kc_item_str(it, *body), rawlen);
	/* the raw bytes are copied: reuse their arena space when they are last */
	if ((size_t)body->off + body->len == it->arena_used)
		it->arena_used = body->off;
	room = (size_t)KC_ITEM_ARENA_SIZE - it->arena_used;
	cap = KC_MIN(room, (size_t)KC_ITEM_BODY_PREFIX);
	/* 15 + 32: gzip or zlib wrapper, detected (RFC 9110 8.4.1.2: deflate
	 * means zlib); some servers send raw deflate, tried next. */
	n = inflate_prefix(raw, rawlen, (uint8_t *)it->arena + it->arena_used, cap, 15 + 32,
			   &whole);
	if (n < 0 && enc == H2_ENC_DEFLATE)
		n = inflate_prefix(raw, rawlen, (uint8_t *)it->arena + it->arena_used, cap, -15,
				   &whole);
	if (n < 0) {
		/* keep the encoded bytes (restore them if their space was
		 * reused) */
		it->arena_used = save_used;
		memcpy(it->arena + saved.off, raw, rawlen);
		*body = saved;
		return -EINVAL;
	}
	body->off = it->arena_used;
	body->len = (uint16_t)n;
	if (n == 0)
		body->off = 0;
	it->arena_used = (uint16_t)(it->arena_used + n);
	return whole;
}

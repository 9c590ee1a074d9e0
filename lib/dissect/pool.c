/*
 * Fixed-size object pools and the gzip/deflate decoder pool. All memory is
 * taken when the core is created; get/put are O(1) and never allocate.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define POOL_MMAP_MIN (1u << 20)

#include "dissect_internal.h"

int pool_init(struct pool *p, uint32_t n, size_t sz)
{
	memset(p, 0, sizeof(*p));
	if (n == 0)
		return 0;
	/* Round objects to a cache line so no two flows share one. */
	sz = (sz + KC_CACHE_LINE - 1) & ~(size_t)(KC_CACHE_LINE - 1);
	/* Large pools come straight from mmap: zeroed and page-aligned by the
	 * kernel, and resident only as they are used, so a core sized for a
	 * quarter-million flows starts at once. */
	if (sz * n >= POOL_MMAP_MIN) {
		void *m = mmap(NULL, sz * n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m != MAP_FAILED) {
			p->mem = m;
			p->bytes = sz * n;
		}
	} else {
		p->mem = aligned_alloc(KC_CACHE_LINE, sz * n);
		if (p->mem != NULL)
			memset(p->mem, 0, sz * n);
	}
	p->free_ix = malloc(sizeof(*p->free_ix) * n);
	if (p->mem == NULL || p->free_ix == NULL) {
		pool_fini(p);
		return -ENOMEM;
	}
	p->n = n;
	p->sz = sz;
	/* Hand out low indices first: they are the ones touched already. */
	for (uint32_t i = 0; i < n; i++)
		p->free_ix[i] = n - 1 - i;
	p->nfree = n;
	return 0;
}

void pool_fini(struct pool *p)
{
	if (p->bytes != 0)
		munmap(p->mem, p->bytes);
	else
		free(p->mem);
	free(p->free_ix);
	memset(p, 0, sizeof(*p));
}

void *pool_get(struct pool *p)
{
	if (p->nfree == 0)
		return NULL;
	return pool_at(p, p->free_ix[--p->nfree]);
}

void pool_put(struct pool *p, void *obj)
{
	size_t off = (size_t)((uint8_t *)obj - p->mem);

	p->free_ix[p->nfree++] = (uint32_t)(off / p->sz);
}

/* zlib allocator over the decoder's arena: a bump pointer, freed all at
 * once when the decoder returns to the pool. */
static voidpf arena_alloc(voidpf opaque, uInt items, uInt size)
{
	struct inflater *z = opaque;
	size_t n = (size_t)items * size;

	n = (n + 15) & ~(size_t)15;
	if (n > INFLATER_ARENA - z->used)
		return Z_NULL;
	z->used += n;
	return z->arena + z->used - n;
}

static void arena_free(voidpf opaque, voidpf ptr)
{
	(void)opaque;
	(void)ptr;
}

struct inflater *inflater_get(struct pool *p)
{
	struct inflater *z = pool_get(p);

	if (z == NULL)
		return NULL;
	z->used = 0;
	memset(&z->zs, 0, sizeof(z->zs));
	z->zs.zalloc = arena_alloc;
	z->zs.zfree = arena_free;
	z->zs.opaque = z;
	/* 15 + 32: zlib or gzip header, detected from the first bytes
	 * (RFC 9110 8.4.1.2: "deflate" means the zlib format). */
	if (inflateInit2(&z->zs, 15 + 32) != Z_OK) {
		pool_put(p, z);
		return NULL;
	}
	return z;
}

void inflater_put(struct pool *p, struct inflater *z)
{
	inflateEnd(&z->zs);
	pool_put(p, z);
}

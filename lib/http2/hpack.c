/*
 * HPACK header-block decoding (RFC 7541): integers, string literals, the
 * static table and the bounded dynamic table.
 *
 * Dynamic table layout. Entries are first in, first out, so their bytes are
 * too: each insertion appends name+value at data_end and each eviction drops
 * the oldest entry's bytes at data_start. When the tail has no room the live
 * bytes are slid down to offset 0 (at most KC_HPACK_TABLE_CAP bytes moved,
 * and only when the tail is full):
 *
 *     data: [ dead | oldest ... newest | free ]
 *            0      data_start          data_end        KC_HPACK_TABLE_CAP
 *
 * Descriptors sit in a ring of KC_HPACK_MAX_ENTRIES; `newest` is the ring
 * slot of dynamic index 1 and index i lives at newest - (i - 1).
 */
#include <errno.h>
#include <string.h>

#include "kc_hpack.h"

struct static_field {
	const char *name;
	const char *value;
};

/* RFC 7541 Appendix A; index 1 is element 0. */
static const struct static_field static_table[KC_HPACK_STATIC_COUNT] = {
	{ ":authority", "" },
	{ ":method", "GET" },
	{ ":method", "POST" },
	{ ":path", "/" },
	{ ":path", "/index.html" },
	{ ":scheme", "http" },
	{ ":scheme", "https" },
	{ ":status", "200" },
	{ ":status", "204" },
	{ ":status", "206" },
	{ ":status", "304" },
	{ ":status", "400" },
	{ ":status", "404" },
	{ ":status", "500" },
	{ "accept-charset", "" },
	{ "accept-encoding", "gzip, deflate" },
	{ "accept-language", "" },
	{ "accept-ranges", "" },
	{ "accept", "" },
	{ "access-control-allow-origin", "" },
	{ "age", "" },
	{ "allow", "" },
	{ "authorization", "" },
	{ "cache-control", "" },
	{ "content-disposition", "" },
	{ "content-encoding", "" },
	{ "content-language", "" },
	{ "content-length", "" },
	{ "content-location", "" },
	{ "content-range", "" },
	{ "content-type", "" },
	{ "cookie", "" },
	{ "date", "" },
	{ "etag", "" },
	{ "expect", "" },
	{ "expires", "" },
	{ "from", "" },
	{ "host", "" },
	{ "if-match", "" },
	{ "if-modified-since", "" },
	{ "if-none-match", "" },
	{ "if-range", "" },
	{ "if-unmodified-since", "" },
	{ "last-modified", "" },
	{ "link", "" },
	{ "location", "" },
	{ "max-forwards", "" },
	{ "proxy-authenticate", "" },
	{ "proxy-authorization", "" },
	{ "range", "" },
	{ "referer", "" },
	{ "refresh", "" },
	{ "retry-after", "" },
	{ "server", "" },
	{ "set-cookie", "" },
	{ "strict-transport-security", "" },
	{ "transfer-encoding", "" },
	{ "user-agent", "" },
	{ "vary", "" },
	{ "via", "" },
	{ "www-authenticate", "" },
};

/* RFC 7541 4.1: "the sum of the size of its entries ... name + value + 32". */
#define ENTRY_OVERHEAD 32u

void kc_hpack_dec_init(struct kc_hpack_dec *d, uint32_t limit)
{
	d->size = 0;
	d->limit = limit;
	d->max_size = limit;
	d->count = 0;
	d->newest = 0;
	d->data_start = 0;
	d->data_end = 0;
	d->partial = 0;
	d->max_known = 1;
}

void kc_hpack_dec_set_partial(struct kc_hpack_dec *d)
{
	d->partial = 1;
	d->max_known = 0;
}

void kc_hpack_dec_lose(struct kc_hpack_dec *d)
{
	kc_hpack_dec_init(d, d->limit);
	kc_hpack_dec_set_partial(d);
}

void kc_hpack_dec_set_limit(struct kc_hpack_dec *d, uint32_t limit)
{
	if (limit > d->limit)
		d->limit = limit;
}

static uint16_t ring_slot(const struct kc_hpack_dec *d, unsigned idx)
{
	/* idx is 1-based from the newest entry */
	return (uint16_t)((d->newest + KC_HPACK_MAX_ENTRIES - (idx - 1u)) % KC_HPACK_MAX_ENTRIES);
}

static void evict_oldest(struct kc_hpack_dec *d)
{
	const struct kc_hpack_entry *e = &d->ent[ring_slot(d, d->count)];

	d->size -= (uint32_t)e->nlen + e->vlen + ENTRY_OVERHEAD;
	d->data_start = (uint16_t)(d->data_start + e->nlen + e->vlen);
	d->count--;
	if (d->count == 0) {
		d->data_start = 0;
		d->data_end = 0;
	}
}

/* RFC 7541 4.3/4.4: evict oldest entries until size <= max. */
static void evict_to(struct kc_hpack_dec *d, uint32_t max)
{
	while (d->count > 0 && d->size > max)
		evict_oldest(d);
}

static void table_clear(struct kc_hpack_dec *d)
{
	d->count = 0;
	d->size = 0;
	d->data_start = 0;
	d->data_end = 0;
}

/* RFC 7541 4.4: insert a new entry, evicting first. */
static void table_insert(struct kc_hpack_dec *d, const uint8_t *name, size_t nlen,
			 const uint8_t *value, size_t vlen)
{
	uint64_t esize = (uint64_t)nlen + vlen + ENTRY_OVERHEAD;
	struct kc_hpack_entry *e;

	if (esize > d->max_size) {
		/* "an attempt to add an entry larger than the maximum size
		 * causes the table to be emptied of all existing entries" */
		table_clear(d);
		if (d->partial && d->max_known)
			d->partial = 0; /* the unknown older entries went too */
		return;
	}
	if (esize > KC_HPACK_TABLE_CAP) {
		/* Fits the peer's table but not ours: the encoder now holds
		 * this entry (and maybe older ones) that we cannot. */
		table_clear(d);
		d->partial = 1;
		return;
	}
	if (d->partial && d->max_known && d->count > 0 && d->size + esize > d->max_size) {
		/* Our own entries alone overflow the (known) maximum: the encoder
		 * evicted every older, unknown entry before these. */
		d->partial = 0;
	}
	evict_to(d, (uint32_t)(d->max_size - esize));
	if (d->size + esize > KC_HPACK_TABLE_CAP) {
		/* The peer allowed more than we hold: keep what fits, newest
		 * first, and remember that older entries are now unknown. */
		evict_to(d, (uint32_t)(KC_HPACK_TABLE_CAP - esize));
		d->partial = 1;
	}
	if ((size_t)d->data_end + nlen + vlen > KC_HPACK_TABLE_CAP) {
		uint16_t shift = d->data_start;

		memmove(d->data, d->data + shift, (size_t)(d->data_end - shift));
		for (unsigned i = 1; i <= d->count; i++)
			d->ent[ring_slot(d, i)].off = (uint16_t)(d->ent[ring_slot(d, i)].off - shift);
		d->data_end = (uint16_t)(d->data_end - shift);
		d->data_start = 0;
	}
	/* size <= CAP - esize, so name+value fits after the slide. */
	if (d->count == 0)
		d->newest = 0;
	else
		d->newest = (uint16_t)((d->newest + 1u) % KC_HPACK_MAX_ENTRIES);
	e = &d->ent[d->newest];
	e->off = d->data_end;
	e->nlen = (uint16_t)nlen;
	e->vlen = (uint16_t)vlen;
	if (nlen > 0)
		memcpy(d->data + d->data_end, name, nlen);
	if (vlen > 0)
		memcpy(d->data + d->data_end + nlen, value, vlen);
	d->data_end = (uint16_t)(d->data_end + nlen + vlen);
	d->count++;
	d->size += (uint32_t)esize;
}

int kc_hpack_dec_entry(const struct kc_hpack_dec *d, unsigned idx, const uint8_t **name,
		       size_t *nlen, const uint8_t **value, size_t *vlen)
{
	const struct kc_hpack_entry *e;

	if (idx == 0 || idx > d->count)
		return -ENOENT;
	e = &d->ent[ring_slot(d, idx)];
	*name = d->data + e->off;
	*nlen = e->nlen;
	*value = d->data + e->off + e->nlen;
	*vlen = e->vlen;
	return 0;
}

/*
 * RFC 7541 5.1 integer with an N-bit prefix. Values above 2^32 - 1 are
 * refused (no legitimate index, length or size comes near), which also bounds
 * the loop: at most 5 continuation bytes carry bits below 2^35.
 */
static int read_int(const uint8_t **p, const uint8_t *end, unsigned prefix_bits,
		    uint32_t *out)
{
	uint32_t max_prefix = (1u << prefix_bits) - 1u;
	uint64_t v;
	unsigned shift = 0;

	if (*p >= end)
		return -EINVAL;
	v = **p & max_prefix;
	(*p)++;
	if (v < max_prefix) {
		*out = (uint32_t)v;
		return 0;
	}
	for (;;) {
		uint8_t b;

		if (*p >= end || shift > 28)
			return -EINVAL;
		b = **p;
		(*p)++;
		v += (uint64_t)(b & 0x7fu) << shift;
		if (v > UINT32_MAX)
			return -EINVAL;
		shift += 7;
		if (!(b & 0x80u))
			break;
	}
	*out = (uint32_t)v;
	return 0;
}

/* A decoded string: a view into the block or into a scratch buffer. */
struct hstr {
	const uint8_t *p;
	size_t len;
	size_t full; /* decoded length before truncation */
	uint8_t truncated;
};

/* RFC 7541 5.2 string literal: H flag, 7-bit-prefix length, octets. */
static int read_string(const uint8_t **p, const uint8_t *end, uint8_t *scratch,
		       struct hstr *s)
{
	int huff;
	uint32_t len;
	int rc;

	if (*p >= end)
		return -EINVAL;
	huff = (**p & 0x80u) != 0;
	rc = read_int(p, end, 7, &len);
	if (rc < 0)
		return rc;
	if (len > (size_t)(end - *p))
		return -EINVAL;
	s->truncated = 0;
	if (!huff) {
		s->p = *p;
		s->len = len;
		s->full = len;
	} else {
		size_t out_len;

		rc = kc_hpack_huffman_decode(*p, len, scratch, KC_HPACK_MAX_STRING, &out_len);
		if (rc < 0)
			return rc;
		s->p = scratch;
		s->len = out_len;
		s->full = out_len;
		if (out_len > KC_HPACK_MAX_STRING) {
			s->len = KC_HPACK_MAX_STRING;
			s->truncated = 1;
		}
	}
	*p += len;
	return 0;
}

/*
 * Resolve index @p idx (static then dynamic, RFC 7541 2.3.3).
 * @return 0, -ENOENT (dynamic entry we do not hold, table partial),
 * -EINVAL (index 0 or past a whole table).
 */
static int lookup(const struct kc_hpack_dec *d, uint32_t idx, struct hstr *name,
		  struct hstr *value)
{
	if (idx == 0)
		return -EINVAL; /* 6.1: "The index value of 0 is not used." */
	if (idx <= KC_HPACK_STATIC_COUNT) {
		const struct static_field *f = &static_table[idx - 1];

		name->p = (const uint8_t *)f->name;
		name->len = strlen(f->name);
		value->p = (const uint8_t *)f->value;
		value->len = strlen(f->value);
	} else {
		const struct kc_hpack_entry *e;

		idx -= KC_HPACK_STATIC_COUNT;
		if (idx > d->count)
			return d->partial ? -ENOENT : -EINVAL;
		e = &d->ent[ring_slot(d, idx)];
		name->p = d->data + e->off;
		name->len = e->nlen;
		value->p = d->data + e->off + e->nlen;
		value->len = e->vlen;
	}
	name->full = name->len;
	value->full = value->len;
	name->truncated = 0;
	value->truncated = 0;
	return 0;
}

int kc_hpack_decode(struct kc_hpack_dec *d, const uint8_t *blk, size_t len,
		    kc_hpack_field_fn fn, void *ctx)
{
	/* Huffman output for a name and a value, and a copy of a dynamic name
	 * that an insertion may evict before we are done with it. */
	uint8_t name_buf[KC_HPACK_MAX_STRING];
	uint8_t value_buf[KC_HPACK_MAX_STRING];
	const uint8_t *p = blk;
	const uint8_t *end = blk + len;
	int fields = 0;
	int missing = 0;
	int rc;

	while (p < end) {
		uint8_t b = *p;
		struct hstr name, value;
		unsigned flags = 0;
		int name_missing = 0;

		if (b & 0x80u) {
			/* 6.1 Indexed Header Field */
			uint32_t idx;

			rc = read_int(&p, end, 7, &idx);
			if (rc < 0)
				return rc;
			rc = lookup(d, idx, &name, &value);
			if (rc == -ENOENT) {
				missing = 1;
				fields++;
				continue;
			}
			if (rc < 0)
				return rc;
		} else if ((b & 0xe0u) == 0x20u) {
			/* 6.3 Dynamic Table Size Update. RFC 9113 4.3.1 / RFC
			 * 7541 4.2: only at the start of a block, and within
			 * the limit set by SETTINGS_HEADER_TABLE_SIZE. */
			uint32_t sz;

			rc = read_int(&p, end, 5, &sz);
			if (rc < 0)
				return rc;
			if (fields > 0 || sz > d->limit)
				return -EINVAL;
			d->max_size = sz;
			d->max_known = 1;
			if (sz == 0) {
				table_clear(d);
				d->partial = 0;
			}
			evict_to(d, sz);
			continue;
		} else {
			/* 6.2.1 with incremental indexing (01), 6.2.2 without
			 * indexing (0000), 6.2.3 never indexed (0001). */
			int indexing = (b & 0xc0u) == 0x40u;
			uint32_t idx;

			if (!indexing && (b & 0xf0u) == 0x10u)
				flags |= KC_HPACK_F_NEVER_INDEXED;
			rc = read_int(&p, end, indexing ? 6 : 4, &idx);
			if (rc < 0)
				return rc;
			if (idx == 0) {
				rc = read_string(&p, end, name_buf, &name);
				if (rc < 0)
					return rc;
			} else {
				struct hstr unused;

				rc = lookup(d, idx, &name, &unused);
				if (rc == -ENOENT) {
					name_missing = 1;
				} else if (rc < 0) {
					return rc;
				} else if (indexing && idx > KC_HPACK_STATIC_COUNT) {
					/* a dynamic name: the insertion below may
					 * evict or slide it */
					memcpy(name_buf, name.p, name.len);
					name.p = name_buf;
				}
			}
			rc = read_string(&p, end, value_buf, &value);
			if (rc < 0)
				return rc;
			if (indexing) {
				if (name_missing) {
					/* We cannot store an entry whose name we do
					 * not know, yet it takes index 1: forget
					 * everything we hold, all of it is now
					 * shifted by an entry of unknown size. */
					table_clear(d);
					d->partial = 1;
				} else if (!name.truncated && !value.truncated) {
					table_insert(d, name.p, name.len, value.p, value.len);
				} else {
					/* Longer than KC_HPACK_MAX_STRING, hence
					 * than the table cap: either it empties
					 * the table (larger than max_size) or the
					 * peer allowed a table we cannot hold. */
					uint64_t esize = (uint64_t)name.full + value.full +
							 ENTRY_OVERHEAD;

					table_clear(d);
					if (esize > d->max_size) {
						if (d->max_known)
							d->partial = 0;
					} else {
						d->partial = 1;
					}
				}
			}
			if (name_missing) {
				missing = 1;
				fields++;
				continue;
			}
		}
		if (name.truncated || value.truncated)
			flags |= KC_HPACK_F_TRUNCATED;
		fields++;
		if (fn != NULL) {
			rc = fn(ctx, name.p, name.len, value.p, value.len, flags);
			if (rc != 0)
				return rc;
		}
	}
	return missing ? -ENOENT : 0;
}

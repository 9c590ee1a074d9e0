/*
 * IPv4 and IPv6 fragment reassembly (RFC 791 section 3.2, RFC 8200 section 4.5).
 *
 * Our own instead of rte_ip_frag: rte_ip_frag chains mbufs (EAL only) and
 * frees them itself, but a recorder must keep every original fragment frame to
 * write it into the stream's pcap. So the table keeps the caller's packet
 * handles and copies the fragment data into a per-datagram buffer; when the
 * datagram completes the caller gets the L4 view of the whole datagram and the
 * handles back, in arrival order.
 *
 * Bounds: max_datagrams buffers of 64 KiB, allocated once at creation; at most
 * KC_DEFRAG_MAX_FRAGS pieces per datagram; a timeout. Overlaps keep the first
 * copy (what Linux and Wireshark do for the common case), counted.
 *
 * A fragment finds its datagram through an open-addressed index, and a full
 * table gives up its oldest datagram from the head of a list in arrival
 * order: a fragment costs the same with 4 or 4096 datagrams in reassembly,
 * which is what a flood of fragments fills the table with.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kc_decode.h"

#define NIL UINT32_MAX

struct range {
	uint32_t start, end; /* [start, end) */
};

struct dgram {
	bool have_last;
	uint8_t family;
	uint8_t proto;
	uint32_t id;
	uint8_t src[16], dst[16];
	uint32_t total;       /* datagram data length, valid with have_last */
	uint64_t first_us;
	uint32_t n_ranges;
	uint32_t n_handles;
	uint32_t hash;        /* of the identity (family, proto, id, addresses) */
	uint32_t prev, next;  /* arrival order, while in use */
	struct range ranges[KC_DEFRAG_MAX_FRAGS]; /* sorted, merged */
	void *handles[KC_DEFRAG_MAX_FRAGS];
	uint8_t *buf;         /* KC_DEFRAG_MAX_DATAGRAM bytes */
};

struct kc_defrag {
	struct kc_defrag_cfg cfg;
	struct kc_defrag_stats stats;
	struct dgram *slots;
	uint8_t *bufs;
	uint32_t n_active;    /* slots in use: the periodic expiry skips an empty table */
	uint32_t *index;      /* slot number + 1 per bucket (0: empty), linear probing */
	uint32_t index_mask;  /* buckets - 1: at least twice max_datagrams */
	uint32_t *free_stack; /* slots not in use */
	uint32_t n_free;
	uint32_t head, tail;  /* slots in use, oldest first (the engine's clock never
	                         goes back, so arrival order is first_us order) */
};

struct kc_defrag *kc_defrag_create(const struct kc_defrag_cfg *cfg)
{
	struct kc_defrag *d;
	uint32_t i, buckets = 1;

	if (cfg == NULL || cfg->max_datagrams == 0 || cfg->max_datagrams > 4096) {
		errno = EINVAL;
		return NULL;
	}
	while (buckets < 2 * cfg->max_datagrams)
		buckets <<= 1;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		goto fail;
	d->cfg = *cfg;
	d->slots = calloc(cfg->max_datagrams, sizeof(*d->slots));
	d->index = calloc(buckets, sizeof(*d->index));
	d->free_stack = malloc(cfg->max_datagrams * sizeof(*d->free_stack));
	d->bufs = malloc((size_t)cfg->max_datagrams * KC_DEFRAG_MAX_DATAGRAM);
	if (d->slots == NULL || d->index == NULL || d->free_stack == NULL || d->bufs == NULL)
		goto fail_parts;
	d->index_mask = buckets - 1;
	d->head = d->tail = NIL;
	for (i = 0; i < cfg->max_datagrams; i++) {
		d->slots[i].buf = d->bufs + (size_t)i * KC_DEFRAG_MAX_DATAGRAM;
		/* Low slots first: the warm part of the buffers. */
		d->free_stack[i] = cfg->max_datagrams - 1 - i;
	}
	d->n_free = cfg->max_datagrams;
	return d;

fail_parts:
	free(d->bufs);
	free(d->free_stack);
	free(d->index);
	free(d->slots);
	free(d);
fail:
	errno = ENOMEM;
	return NULL;
}

void kc_defrag_destroy(struct kc_defrag *d)
{
	if (d == NULL)
		return;
	free(d->bufs);
	free(d->free_stack);
	free(d->index);
	free(d->slots);
	free(d);
}

const struct kc_defrag_stats *kc_defrag_stats(const struct kc_defrag *d)
{
	return &d->stats;
}

static bool same_dgram(const struct dgram *g, const struct kc_pkt *f)
{
	size_t alen = f->family == 4 ? 4 : 16;

	return g->family == f->family && g->id == f->frag_id && g->proto == f->frag_proto &&
	       memcmp(g->src, f->src, alen) == 0 && memcmp(g->dst, f->dst, alen) == 0;
}

/* Not keyed: a probe run can never be longer than the datagrams in the
 * table, so colliding identities a sender crafts cost a bounded walk. The
 * addresses of an IPv4 fragment are zero past their 4 bytes (kc_pkt). */
static uint32_t dgram_hash(const struct kc_pkt *f)
{
	uint64_t w[4], h = ((uint64_t)f->frag_id << 16 | (uint64_t)f->frag_proto << 8 | f->family) *
			   0x9e3779b97f4a7c15ull;
	unsigned i;

	memcpy(&w[0], f->src, 16);
	memcpy(&w[2], f->dst, 16);
	for (i = 0; i < 4; i++) {
		h = (h ^ w[i]) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
	}
	return (uint32_t)(h ^ (h >> 32));
}

static void age_unlink(struct kc_defrag *d, struct dgram *g)
{
	if (g->prev != NIL)
		d->slots[g->prev].next = g->next;
	else
		d->head = g->next;
	if (g->next != NIL)
		d->slots[g->next].prev = g->prev;
	else
		d->tail = g->prev;
}

static void age_append(struct kc_defrag *d, struct dgram *g)
{
	uint32_t i = (uint32_t)(g - d->slots);

	g->prev = d->tail;
	g->next = NIL;
	if (d->tail != NIL)
		d->slots[d->tail].next = i;
	else
		d->head = i;
	d->tail = i;
}

/* Backward-shift deletion (Knuth 6.4, algorithm R), as in the flow table. */
static void index_delete(struct kc_defrag *d, struct dgram *g)
{
	uint32_t want = (uint32_t)(g - d->slots) + 1, hole = g->hash & d->index_mask, s;

	while (d->index[hole] != want)
		hole = (hole + 1) & d->index_mask;
	for (s = hole;;) {
		uint32_t home, x;

		s = (s + 1) & d->index_mask;
		x = d->index[s];
		if (x == 0)
			break;
		home = d->slots[x - 1].hash & d->index_mask;
		if (((s - home) & d->index_mask) >= ((s - hole) & d->index_mask)) {
			d->index[hole] = x;
			hole = s;
		}
	}
	d->index[hole] = 0;
}

/* The slot leaves the table (its handles were taken or handed back). */
static void dgram_free(struct kc_defrag *d, struct dgram *g)
{
	index_delete(d, g);
	age_unlink(d, g);
	d->free_stack[d->n_free++] = (uint32_t)(g - d->slots);
	d->n_active--;
}

/* Hand a datagram's packets to the caller's death row and free the slot. */
static uint32_t release(struct kc_defrag *d, struct dgram *g, void **dead, uint32_t cap)
{
	uint32_t i, n = 0;

	for (i = 0; i < g->n_handles && n < cap; i++)
		dead[n++] = g->handles[i];
	d->stats.dropped_frags += g->n_handles;
	dgram_free(d, g);
	return n;
}

static struct dgram *find_or_add(struct kc_defrag *d, const struct kc_pkt *f, uint64_t now,
				 void **dead, uint32_t cap, uint32_t *n_dead)
{
	uint32_t hash = dgram_hash(f), b = hash & d->index_mask, x;
	struct dgram *g;

	for (; (x = d->index[b]) != 0; b = (b + 1) & d->index_mask) {
		g = &d->slots[x - 1];
		if (g->hash == hash && same_dgram(g, f))
			return g;
	}
	if (d->n_free == 0) {
		d->stats.evicted_full++;
		*n_dead += release(d, &d->slots[d->head], dead + *n_dead, cap - *n_dead);
		/* The deletion may have shifted our empty bucket: probe again. */
		for (b = hash & d->index_mask; d->index[b] != 0; b = (b + 1) & d->index_mask)
			;
	}
	g = &d->slots[d->free_stack[--d->n_free]];
	d->index[b] = (uint32_t)(g - d->slots) + 1;
	age_append(d, g);
	d->n_active++;
	g->hash = hash;
	g->have_last = false;
	g->family = f->family;
	g->proto = f->frag_proto;
	g->id = f->frag_id;
	memcpy(g->src, f->src, 16);
	memcpy(g->dst, f->dst, 16);
	g->first_us = now;
	g->n_ranges = 0;
	g->n_handles = 0;
	g->total = 0;
	return g;
}

/* Copy the parts of [s, e) not yet covered (first copy wins), then merge the
 * range into the sorted list. Returns false when the list is full. */
static bool add_range(struct kc_defrag *d, struct dgram *g, uint32_t s, uint32_t e, const uint8_t *data)
{
	uint32_t i, pos = s, j;
	bool overlapped = false;

	for (i = 0; i < g->n_ranges && pos < e; i++) {
		const struct range *r = &g->ranges[i];

		if (r->end <= pos)
			continue;
		if (r->start >= e)
			break;
		if (r->start > pos)
			memcpy(g->buf + pos, data + (pos - s), r->start - pos);
		overlapped = true;
		pos = KC_MAX(pos, r->end);
	}
	if (pos < e)
		memcpy(g->buf + pos, data + (pos - s), e - pos);
	if (overlapped)
		d->stats.overlaps++;

	/* Insert and merge touching or overlapping neighbours. */
	for (i = 0; i < g->n_ranges && g->ranges[i].end < s; i++)
		;
	j = i;
	while (j < g->n_ranges && g->ranges[j].start <= e) {
		s = KC_MIN(s, g->ranges[j].start);
		e = KC_MAX(e, g->ranges[j].end);
		j++;
	}
	if (j == i) {
		if (g->n_ranges >= KC_DEFRAG_MAX_FRAGS)
			return false;
		memmove(&g->ranges[i + 1], &g->ranges[i], (g->n_ranges - i) * sizeof(g->ranges[0]));
		g->n_ranges++;
	} else if (j > i + 1) {
		memmove(&g->ranges[i + 1], &g->ranges[j], (g->n_ranges - j) * sizeof(g->ranges[0]));
		g->n_ranges -= j - i - 1;
	}
	g->ranges[i].start = s;
	g->ranges[i].end = e;
	return true;
}

int kc_defrag_add(struct kc_defrag *d, const struct kc_pkt *frag, void *handle, uint64_t now_us,
		  struct kc_defrag_done *done, void **dead, uint32_t dead_cap, uint32_t *n_dead)
{
	struct dgram *g;
	uint32_t s = frag->frag_off, e = frag->frag_off + frag->frag_len;

	*n_dead = 0;
	d->stats.fragments++;
	if (e > KC_DEFRAG_MAX_DATAGRAM || (frag->frag_more && (frag->frag_len & 7) != 0 && frag->family == 6)) {
		d->stats.too_big++;
		d->stats.dropped_frags++;
		dead[(*n_dead)++] = handle;
		return 0;
	}
	g = find_or_add(d, frag, now_us, dead, dead_cap - 1, n_dead);
	if (g->n_handles >= KC_DEFRAG_MAX_FRAGS || !add_range(d, g, s, e, frag->frag_data)) {
		d->stats.too_many_frags++;
		*n_dead += release(d, g, dead + *n_dead, dead_cap - 1 - *n_dead);
		d->stats.dropped_frags++;
		dead[(*n_dead)++] = handle;
		return 0;
	}
	g->handles[g->n_handles++] = handle;
	if (!frag->frag_more) {
		if (g->have_last && g->total != e)
			d->stats.dup_last++;
		if (!g->have_last) {
			g->have_last = true;
			g->total = e;
		}
	}
	if (!g->have_last || g->n_ranges != 1 || g->ranges[0].start != 0 || g->ranges[0].end < g->total)
		return 0;

	/* Complete. Decode the upper layer from the reassembled buffer. */
	memset(&done->pkt, 0, sizeof(done->pkt));
	done->pkt.family = g->family;
	/* The flow key includes the VLAN ids: without them a reassembled
	 * datagram would land in another flow than its unfragmented siblings. */
	done->pkt.n_vlan = frag->n_vlan;
	memcpy(done->pkt.vlan, frag->vlan, sizeof(done->pkt.vlan));
	memcpy(done->pkt.src, g->src, 16);
	memcpy(done->pkt.dst, g->dst, 16);
	done->pkt.l3 = frag->l3;
	done->pkt.l3_len = g->total;
	done->res = kc_decode_l4(g->proto, g->buf, g->total, &done->pkt);
	done->n_handles = g->n_handles;
	memcpy(done->handles, g->handles, g->n_handles * sizeof(void *));
	dgram_free(d, g);
	d->stats.completed++;
	return 1;
}

uint32_t kc_defrag_expire(struct kc_defrag *d, uint64_t now_us, uint32_t budget, void **dead, uint32_t dead_cap)
{
	uint32_t i = d->head, n = 0;

	/* Oldest first: the first datagram still in time ends the walk
	 * (called every millisecond by each worker, mostly on an empty table). */
	while (i != NIL && budget > 0) {
		struct dgram *g = &d->slots[i];

		i = g->next;
		if (now_us < g->first_us || now_us - g->first_us < d->cfg.timeout_us)
			break;
		if (dead_cap - n < g->n_handles)
			break;
		d->stats.timeouts++;
		n += release(d, g, dead + n, dead_cap - n);
		budget--;
	}
	return n;
}

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
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kc_decode.h"

struct range {
	uint32_t start, end; /* [start, end) */
};

struct dgram {
	bool in_use;
	bool have_last;
	uint8_t family;
	uint8_t proto;
	uint32_t id;
	uint8_t src[16], dst[16];
	uint32_t total;       /* datagram data length, valid with have_last */
	uint64_t first_us;
	uint32_t n_ranges;
	uint32_t n_handles;
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
};

struct kc_defrag *kc_defrag_create(const struct kc_defrag_cfg *cfg)
{
	struct kc_defrag *d;
	uint32_t i;

	if (cfg == NULL || cfg->max_datagrams == 0 || cfg->max_datagrams > 4096) {
		errno = EINVAL;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		goto fail;
	d->cfg = *cfg;
	d->slots = calloc(cfg->max_datagrams, sizeof(*d->slots));
	if (d->slots == NULL)
		goto fail_slots;
	d->bufs = malloc((size_t)cfg->max_datagrams * KC_DEFRAG_MAX_DATAGRAM);
	if (d->bufs == NULL)
		goto fail_bufs;
	for (i = 0; i < cfg->max_datagrams; i++)
		d->slots[i].buf = d->bufs + (size_t)i * KC_DEFRAG_MAX_DATAGRAM;
	return d;

fail_bufs:
	free(d->slots);
fail_slots:
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

	return g->in_use && g->family == f->family && g->id == f->frag_id &&
	       g->proto == f->frag_proto && memcmp(g->src, f->src, alen) == 0 &&
	       memcmp(g->dst, f->dst, alen) == 0;
}

/* Hand a datagram's packets to the caller's death row and free the slot. */
static uint32_t release(struct kc_defrag *d, struct dgram *g, void **dead, uint32_t cap)
{
	uint32_t i, n = 0;

	for (i = 0; i < g->n_handles && n < cap; i++)
		dead[n++] = g->handles[i];
	d->stats.dropped_frags += g->n_handles;
	g->in_use = false;
	d->n_active--;
	return n;
}

static struct dgram *oldest(struct kc_defrag *d)
{
	struct dgram *o = NULL;
	uint32_t i;

	for (i = 0; i < d->cfg.max_datagrams; i++) {
		struct dgram *g = &d->slots[i];

		if (g->in_use && (o == NULL || g->first_us < o->first_us))
			o = g;
	}
	return o;
}

static struct dgram *find_or_add(struct kc_defrag *d, const struct kc_pkt *f, uint64_t now,
				 void **dead, uint32_t cap, uint32_t *n_dead)
{
	struct dgram *free_slot = NULL;
	uint32_t i;

	for (i = 0; i < d->cfg.max_datagrams; i++) {
		struct dgram *g = &d->slots[i];

		if (same_dgram(g, f))
			return g;
		if (!g->in_use && free_slot == NULL)
			free_slot = g;
	}
	if (free_slot == NULL) {
		free_slot = oldest(d);
		d->stats.evicted_full++;
		*n_dead += release(d, free_slot, dead + *n_dead, cap - *n_dead);
	}
	free_slot->in_use = true;
	d->n_active++;
	free_slot->have_last = false;
	free_slot->family = f->family;
	free_slot->proto = f->frag_proto;
	free_slot->id = f->frag_id;
	memcpy(free_slot->src, f->src, 16);
	memcpy(free_slot->dst, f->dst, 16);
	free_slot->first_us = now;
	free_slot->n_ranges = 0;
	free_slot->n_handles = 0;
	free_slot->total = 0;
	return free_slot;
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
	g->in_use = false;
	d->n_active--;
	d->stats.completed++;
	return 1;
}

uint32_t kc_defrag_expire(struct kc_defrag *d, uint64_t now_us, uint32_t budget, void **dead, uint32_t dead_cap)
{
	uint32_t i, n = 0;

	/* Called every millisecond by each worker: most of the time there is
	 * nothing in reassembly, and the slots need not be walked. */
	if (d->n_active == 0)
		return 0;
	for (i = 0; i < d->cfg.max_datagrams && budget > 0; i++) {
		struct dgram *g = &d->slots[i];

		if (!g->in_use || now_us < g->first_us || now_us - g->first_us < d->cfg.timeout_us)
			continue;
		if (dead_cap - n < g->n_handles)
			break;
		d->stats.timeouts++;
		n += release(d, g, dead + n, dead_cap - n);
		budget--;
	}
	return n;
}

/*
 * Flow table: open addressing with linear probing over an index of entry
 * numbers, backward-shift deletion (no tombstones, so probe sequences never
 * rot under churn), entries preallocated with their user areas, and one LRU
 * list per timeout class.
 *
 * Hand-rolled instead of rte_hash: rte_hash needs EAL memory, which would keep
 * the engine out of the offline query tool and the unit tests; and we need the
 * LRU links and per-state timeouts next to the entry anyway.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kc_flow.h"

#define NIL UINT32_MAX
#define EMPTY UINT32_MAX

struct lru {
	uint32_t head, tail;
};

struct kc_flow_table {
	/* Lookup path. */
	uint32_t *index;        /* entry number per slot, EMPTY if free */
	uint32_t index_mask;
	uint8_t *entries;       /* capacity entries of `stride` bytes */
	size_t stride;
	struct lru lru[KC_FLOW_T_MAX];
	uint32_t *free_stack;
	uint32_t n_free;
	uint64_t next_stream;
	/* Cold. */
	struct kc_flow_cfg cfg;
	kc_flow_release_fn release;
	void *ctx;
	struct kc_flow_stats stats;
};

static const char *const state_names[KC_FLOW_STATE_MAX] = {
	"new", "syn_sent", "syn_rcvd", "established", "fin_wait", "closed",
};

const char *kc_flow_state_name(enum kc_flow_state s)
{
	return (unsigned)s < KC_FLOW_STATE_MAX ? state_names[s] : "unknown";
}

static inline struct kc_flow *entry(const struct kc_flow_table *t, uint32_t i)
{
	return (struct kc_flow *)(t->entries + (size_t)i * t->stride);
}

static inline uint32_t entry_no(const struct kc_flow_table *t, const struct kc_flow *f)
{
	return (uint32_t)(((const uint8_t *)f - t->entries) / t->stride);
}

void *kc_flow_user(struct kc_flow_table *t, struct kc_flow *f)
{
	(void)t;
	return (uint8_t *)f + sizeof(*f);
}

const struct kc_flow_stats *kc_flow_stats(const struct kc_flow_table *t)
{
	return &t->stats;
}

struct kc_flow_table *kc_flow_table_create(const struct kc_flow_cfg *cfg, kc_flow_release_fn release, void *ctx)
{
	struct kc_flow_table *t;
	uint32_t slots = 1, i, c;

	if (cfg == NULL || cfg->capacity == 0 || cfg->capacity > (1u << 26)) {
		errno = EINVAL;
		return NULL;
	}
	while (slots < 2 * cfg->capacity)
		slots <<= 1;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		goto fail;
	t->cfg = *cfg;
	t->release = release;
	t->ctx = ctx;
	t->stride = (sizeof(struct kc_flow) + cfg->user_size + KC_CACHE_LINE - 1) & ~(size_t)(KC_CACHE_LINE - 1);
	t->index = malloc(sizeof(uint32_t) * slots);
	if (t->index == NULL)
		goto fail_index;
	memset(t->index, 0xff, sizeof(uint32_t) * slots);
	t->index_mask = slots - 1;
	/* Not zeroed here: an entry is cleared when it is taken, so a large
	 * table costs no time (and no resident memory) until it fills. */
	if (posix_memalign((void **)&t->entries, KC_CACHE_LINE, t->stride * cfg->capacity) != 0)
		goto fail_entries;
	t->free_stack = malloc(sizeof(uint32_t) * cfg->capacity);
	if (t->free_stack == NULL)
		goto fail_free;
	/* Hand out low entry numbers first: they are the warm part of memory. */
	for (c = cfg->capacity, i = 0; i < c; i++)
		t->free_stack[i] = c - 1 - i;
	t->n_free = c;
	for (i = 0; i < KC_FLOW_T_MAX; i++)
		t->lru[i].head = t->lru[i].tail = NIL;
	return t;

fail_free:
	free(t->entries);
fail_entries:
	free(t->index);
fail_index:
	free(t);
fail:
	errno = ENOMEM;
	return NULL;
}

void kc_flow_table_destroy(struct kc_flow_table *t)
{
	if (t == NULL)
		return;
	kc_flow_flush(t);
	free(t->free_stack);
	free(t->entries);
	free(t->index);
	free(t);
}

/* Endpoints ordered by (address, port) so both directions give one key. */
bool kc_flow_key_make(const struct kc_pkt *p, struct kc_flow_key *k)
{
	size_t alen = p->family == 4 ? 4 : 16;
	int c = memcmp(p->src, p->dst, alen);
	bool src_is_a = c < 0 || (c == 0 && p->sport <= p->dport);

	memset(k, 0, sizeof(*k));
	if (src_is_a) {
		memcpy(k->a, p->src, alen);
		memcpy(k->b, p->dst, alen);
		k->port_a = p->sport;
		k->port_b = p->dport;
	} else {
		memcpy(k->a, p->dst, alen);
		memcpy(k->b, p->src, alen);
		k->port_a = p->dport;
		k->port_b = p->sport;
	}
	k->vlan[0] = p->vlan[0];
	k->vlan[1] = p->vlan[1];
	k->proto = p->proto;
	k->family = p->family;
	return src_is_a;
}

/* 64-bit multiply-xorshift over the six words of the key; fast and well
 * mixed, and symmetric because the key already is. */
uint32_t kc_flow_key_hash(const struct kc_flow_key *k)
{
	uint64_t h = 0x9e3779b97f4a7c15ull;
	unsigned i;

	for (i = 0; i < sizeof(*k) / 8; i++) {
		uint64_t w;

		/* memcpy, not a uint64_t cast: a key is only 2-byte aligned
		 * (one on the caller's stack may sit anywhere); this compiles
		 * to the same single load. */
		memcpy(&w, (const uint8_t *)k + 8 * i, sizeof(w));
		h ^= w;
		h *= 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
	}
	h *= 0x94d049bb133111ebull;
	return (uint32_t)(h ^ (h >> 32));
}

static void lru_unlink(struct kc_flow_table *t, struct kc_flow *f)
{
	struct lru *l = &t->lru[f->tclass];

	if (f->prev != NIL)
		entry(t, f->prev)->next = f->next;
	else
		l->head = f->next;
	if (f->next != NIL)
		entry(t, f->next)->prev = f->prev;
	else
		l->tail = f->prev;
	f->prev = f->next = NIL;
}

static void lru_append(struct kc_flow_table *t, struct kc_flow *f)
{
	struct lru *l = &t->lru[f->tclass];
	uint32_t n = entry_no(t, f);

	f->next = NIL;
	f->prev = l->tail;
	if (l->tail != NIL)
		entry(t, l->tail)->next = n;
	else
		l->head = n;
	l->tail = n;
}

static uint32_t find_slot(const struct kc_flow_table *t, uint32_t e)
{
	uint32_t s = entry(t, e)->hash & t->index_mask;

	while (t->index[s] != e)
		s = (s + 1) & t->index_mask;
	return s;
}

/* Backward-shift deletion (Knuth 6.4, algorithm R): move later members of the
 * probe run into the hole unless that would put them before their home. */
static void index_delete(struct kc_flow_table *t, uint32_t e)
{
	uint32_t hole = find_slot(t, e), s = hole;

	for (;;) {
		uint32_t home, x;

		s = (s + 1) & t->index_mask;
		x = t->index[s];
		if (x == EMPTY)
			break;
		home = entry(t, x)->hash & t->index_mask;
		if (((s - home) & t->index_mask) >= ((s - hole) & t->index_mask)) {
			t->index[hole] = x;
			hole = s;
		}
	}
	t->index[hole] = EMPTY;
}

void kc_flow_remove(struct kc_flow_table *t, struct kc_flow *f, enum kc_flow_end why)
{
	uint32_t e = entry_no(t, f);

	if (t->release != NULL)
		t->release(t->ctx, f, why);
	t->stats.ended[why]++;
	t->stats.active--;
	lru_unlink(t, f);
	index_delete(t, e);
	f->in_use = 0;
	t->free_stack[t->n_free++] = e;
}

static struct kc_flow *longest_idle(struct kc_flow_table *t)
{
	struct kc_flow *best = NULL;
	unsigned c;

	for (c = 0; c < KC_FLOW_T_MAX; c++) {
		struct kc_flow *f;

		if (t->lru[c].head == NIL)
			continue;
		f = entry(t, t->lru[c].head);
		if (best == NULL || f->last_us < best->last_us)
			best = f;
	}
	return best;
}

static enum kc_flow_tclass tclass_of(const struct kc_flow *f)
{
	if (f->key.proto != 6)
		return KC_FLOW_T_UDP;
	switch (f->state) {
	case KC_FLOW_ESTABLISHED:
	case KC_FLOW_FIN_WAIT:
		return KC_FLOW_T_ESTABLISHED;
	case KC_FLOW_CLOSED:
		return KC_FLOW_T_CLOSED;
	default:
		return KC_FLOW_T_OPENING;
	}
}

struct kc_flow *kc_flow_lookup(struct kc_flow_table *t, const struct kc_flow_key *k, uint32_t hash,
			       uint64_t now_us, bool *created)
{
	uint32_t s = hash & t->index_mask, probe = 0, e;
	struct kc_flow *f;

	t->stats.lookups++;
	for (;; s = (s + 1) & t->index_mask, probe++) {
		e = t->index[s];
		if (e == EMPTY)
			break;
		f = entry(t, e);
		if (f->hash == hash && memcmp(&f->key, k, sizeof(*k)) == 0) {
			*created = false;
			if (now_us > f->last_us)
				f->last_us = now_us;
			lru_unlink(t, f);
			lru_append(t, f);
			return f;
		}
	}
	if (probe > t->stats.max_probe)
		t->stats.max_probe = probe;

	if (t->n_free == 0) {
		kc_flow_remove(t, longest_idle(t), KC_FLOW_END_EVICTED);
		/* The deletion may have shifted our empty slot: probe again. */
		for (s = hash & t->index_mask; t->index[s] != EMPTY; s = (s + 1) & t->index_mask)
			;
	}
	e = t->free_stack[--t->n_free];
	f = entry(t, e);
	memset(f, 0, t->stride);
	f->key = *k;
	f->hash = hash;
	f->first_us = f->last_us = now_us;
	f->stream_id = ((uint64_t)t->cfg.worker << 48) | ((t->cfg.stream_base + ++t->next_stream) & ((1ull << 48) - 1));
	f->in_use = 1;
	f->state = KC_FLOW_NEW;
	f->tclass = (uint8_t)tclass_of(f);
	f->prev = f->next = NIL;
	t->index[s] = e;
	lru_append(t, f);
	t->stats.created++;
	t->stats.active++;
	*created = true;
	return f;
}

/* Follow the TCP state from flags only (RFC 9293 section 3.3.2, seen from a
 * tap: we cannot know which side has acknowledged what, so FIN from both sides
 * or any RST closes the flow). */
void kc_flow_tcp_update(struct kc_flow_table *t, struct kc_flow *f, uint8_t fl, bool from_client)
{
	uint8_t old = f->state;

	if (fl & KC_TCP_RST) {
		f->state = KC_FLOW_CLOSED;
	} else if (fl & KC_TCP_SYN) {
		if (fl & KC_TCP_ACK) {
			if (f->state < KC_FLOW_SYN_RCVD)
				f->state = KC_FLOW_SYN_RCVD;
		} else if (f->state == KC_FLOW_NEW) {
			f->state = KC_FLOW_SYN_SENT;
		}
	} else {
		if (fl & KC_TCP_FIN) {
			f->fin_seen |= from_client ? 1 : 2;
			/* A FIN after a RST (retransmitted, or sent before the
			 * RST arrived) must not reopen a closed flow. */
			if (f->state != KC_FLOW_CLOSED)
				f->state = f->fin_seen == 3 ? KC_FLOW_CLOSED : KC_FLOW_FIN_WAIT;
		} else if (f->state < KC_FLOW_ESTABLISHED) {
			/* Third packet of the handshake, or a stream joined mid-way. */
			f->state = KC_FLOW_ESTABLISHED;
		}
	}
	if (f->state != old) {
		uint8_t c = (uint8_t)tclass_of(f);

		if (c != f->tclass) {
			lru_unlink(t, f);
			f->tclass = c;
			lru_append(t, f);
		}
	}
}

uint32_t kc_flow_expire(struct kc_flow_table *t, uint64_t now_us, uint32_t budget)
{
	uint32_t n = 0;
	unsigned c;

	for (c = 0; c < KC_FLOW_T_MAX; c++) {
		uint64_t to = t->cfg.timeout_us[c];

		while (n < budget && t->lru[c].head != NIL) {
			struct kc_flow *f = entry(t, t->lru[c].head);

			if (f->last_us + to > now_us)
				break;
			kc_flow_remove(t, f, KC_FLOW_END_TIMEOUT);
			n++;
		}
	}
	return n;
}

void kc_flow_flush(struct kc_flow_table *t)
{
	unsigned c;

	for (c = 0; c < KC_FLOW_T_MAX; c++)
		while (t->lru[c].head != NIL)
			kc_flow_remove(t, entry(t, t->lru[c].head), KC_FLOW_END_FLUSH);
}

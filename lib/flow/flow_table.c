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
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "kc_flow.h"

#define NIL UINT32_MAX
#define EMPTY UINT32_MAX

struct kc_flow_table {
	/* Lookup path, read by the inline functions of kc_flow.h (its
	 * stats are written there too, on every lookup). */
	struct kc_flow_table_head h;
	uint32_t *free_stack;
	uint32_t n_free;
	uint64_t next_stream;
	/* Cold. */
	struct kc_flow_cfg cfg;
	kc_flow_release_fn release;
	void *ctx;
};

static_assert(EMPTY == UINT32_MAX && NIL == UINT32_MAX,
	      "the inline functions of kc_flow.h test free slots and list ends as UINT32_MAX");

static const char *const state_names[KC_FLOW_STATE_MAX] = {
	"new", "syn_sent", "syn_rcvd", "established", "fin_wait", "closed",
};

const char *kc_flow_state_name(enum kc_flow_state s)
{
	return (unsigned)s < KC_FLOW_STATE_MAX ? state_names[s] : "unknown";
}

static inline struct kc_flow *entry(const struct kc_flow_table *t, uint32_t i)
{
	return (struct kc_flow *)(t->h.entries + (size_t)i * t->h.stride);
}

/* Kept in the flow: dividing by the stride would cost tens of cycles on
 * every packet. */
static inline uint32_t entry_no(const struct kc_flow_table *t, const struct kc_flow *f)
{
	(void)t;
	return f->idx;
}


const struct kc_flow_stats *kc_flow_stats(const struct kc_flow_table *t)
{
	return &t->h.stats;
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
	t->h.stride = (sizeof(struct kc_flow) + cfg->user_size + KC_CACHE_LINE - 1) & ~(size_t)(KC_CACHE_LINE - 1);
	t->h.index = kc_alloc_table(sizeof(uint32_t) * slots);
	if (t->h.index == NULL)
		goto fail_index;
	memset(t->h.index, 0xff, sizeof(uint32_t) * slots);
	t->h.index_mask = slots - 1;
	/* Not zeroed here: an entry is cleared when it is taken, so a large
	 * table costs no time (and no resident memory) until it fills. */
	t->h.entries = kc_alloc_table(t->h.stride * cfg->capacity);
	if (t->h.entries == NULL)
		goto fail_entries;
	t->free_stack = malloc(sizeof(uint32_t) * cfg->capacity);
	if (t->free_stack == NULL)
		goto fail_free;
	t->h.links = kc_alloc_table(sizeof(*t->h.links) * cfg->capacity);
	if (t->h.links == NULL)
		goto fail_links;
	/* Hand out low entry numbers first: they are the warm part of memory. */
	for (c = cfg->capacity, i = 0; i < c; i++)
		t->free_stack[i] = c - 1 - i;
	t->n_free = c;
	for (i = 0; i < KC_FLOW_T_MAX; i++)
		t->h.lru[i].head = t->h.lru[i].tail = NIL;
	return t;

fail_links:
	free(t->free_stack);
fail_free:
	free(t->h.entries);
fail_entries:
	free(t->h.index);
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
	free(t->h.links);
	free(t->free_stack);
	free(t->h.entries);
	free(t->h.index);
	free(t);
}

bool kc_flow_key_make(const struct kc_pkt *p, struct kc_flow_key *k)
{
	uint32_t hash;

	return kc_flow_key_make_hash(p, k, &hash);
}

static inline uint64_t key_word(const struct kc_flow_key *k, unsigned i)
{
	/* A key is only 2-byte aligned (one on the caller's stack may sit
	 * anywhere): a memcpy load, which compiles to one instruction. */
	return kc_load64((const uint8_t *)k + 8 * i);
}

/* Secrets of the hash; kc_flow_hash_seed() replaces them at start-up. */
uint64_t kc_flow_hash_secret[4] = {
	0xa0761d6478bd642full, 0xe7037ed1a0b428dbull, 0x8ebc6af09c88c6e3ull, 0x589965cc75374cc3ull,
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void kc_flow_hash_seed(uint64_t seed)
{
	unsigned i;

	for (i = 0; i < KC_ARRAY_SIZE(kc_flow_hash_secret); i++)
		kc_flow_hash_secret[i] = splitmix64(&seed) | 1;
}

/* Any key, as kc_flow_key_make_hash() hashes the keys it makes: an IPv4 key
 * (family 4, w1 = w3 = 0) by the IPv4 construction, any other by the IPv6 one. */
uint32_t kc_flow_key_hash(const struct kc_flow_key *k)
{
	uint64_t w[6];
	unsigned i;

	for (i = 0; i < 6; i++)
		w[i] = key_word(k, i);
	if (k->family == 4 && (w[1] | w[3]) == 0)
		return kc_flow_hash4_(w[0], w[2], w[4], w[5]);
	return kc_flow_hash6_(w);
}

/* @p e: f's entry number, passed where the caller has it (reading f->idx
 * would touch the entry's second cache line on the lookup's hit path). */
static void lru_unlink(struct kc_flow_table *t, struct kc_flow *f, uint32_t e)
{
	struct kc_flow_lru *l = &t->h.lru[f->tclass];
	struct kc_flow_link *n = &t->h.links[e];

	if (n->prev != NIL)
		t->h.links[n->prev].next = n->next;
	else
		l->head = n->next;
	if (n->next != NIL)
		t->h.links[n->next].prev = n->prev;
	else
		l->tail = n->prev;
	n->prev = n->next = NIL;
}

static void lru_append(struct kc_flow_table *t, struct kc_flow *f, uint32_t e)
{
	struct kc_flow_lru *l = &t->h.lru[f->tclass];

	t->h.links[e].next = NIL;
	t->h.links[e].prev = l->tail;
	if (l->tail != NIL)
		t->h.links[l->tail].next = e;
	else
		l->head = e;
	l->tail = e;
}

static uint32_t find_slot(const struct kc_flow_table *t, uint32_t e)
{
	uint32_t s = entry(t, e)->hash & t->h.index_mask;

	while (t->h.index[s] != e)
		s = (s + 1) & t->h.index_mask;
	return s;
}

/* Backward-shift deletion (Knuth 6.4, algorithm R): move later members of the
 * probe run into the hole unless that would put them before their home. */
static void index_delete(struct kc_flow_table *t, uint32_t e)
{
	uint32_t hole = find_slot(t, e), s = hole;

	for (;;) {
		uint32_t home, x;

		s = (s + 1) & t->h.index_mask;
		x = t->h.index[s];
		if (x == EMPTY)
			break;
		home = entry(t, x)->hash & t->h.index_mask;
		if (((s - home) & t->h.index_mask) >= ((s - hole) & t->h.index_mask)) {
			t->h.index[hole] = x;
			hole = s;
		}
	}
	t->h.index[hole] = EMPTY;
}

void kc_flow_remove(struct kc_flow_table *t, struct kc_flow *f, enum kc_flow_end why)
{
	uint32_t e = entry_no(t, f);

	if (t->release != NULL)
		t->release(t->ctx, f, why);
	t->h.stats.ended[why]++;
	t->h.stats.active--;
	lru_unlink(t, f, e);
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

		if (t->h.lru[c].head == NIL)
			continue;
		f = entry(t, t->h.lru[c].head);
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

/* A key not in the table: take a free entry (evicting the longest-idle flow
 * if there is none) for it at empty slot @p s. Out of line, so the lookup's
 * inline hit path stays small. */
struct kc_flow *kc_flow_lookup_miss(struct kc_flow_table *t, const struct kc_flow_key *k, uint32_t hash,
				    uint64_t now_us, uint32_t s)
{
	uint32_t probe = (s - hash) & t->h.index_mask, e;
	struct kc_flow *f;

	if (probe > t->h.stats.max_probe)
		t->h.stats.max_probe = probe;
	if (t->n_free == 0) {
		kc_flow_remove(t, longest_idle(t), KC_FLOW_END_EVICTED);
		/* The deletion may have shifted our empty slot: probe again. */
		for (s = hash & t->h.index_mask; t->h.index[s] != EMPTY; s = (s + 1) & t->h.index_mask)
			;
	}
	e = t->free_stack[--t->n_free];
	f = entry(t, e);
	memset(f, 0, t->h.stride);
	f->key = *k;
	f->hash = hash;
	f->idx = e;
	f->first_us = f->last_us = now_us;
	f->stream_id = ((uint64_t)t->cfg.worker << 48) | ((t->cfg.stream_base + ++t->next_stream) & ((1ull << 48) - 1));
	f->in_use = 1;
	f->state = KC_FLOW_NEW;
	f->tclass = (uint8_t)tclass_of(f);
	t->h.index[s] = e;
	lru_append(t, f, e);
	t->h.stats.created++;
	t->h.stats.active++;
	return f;
}

/* Follow the TCP state from flags only (RFC 9293 section 3.3.2, seen from a
 * tap: we cannot know which side has acknowledged what, so FIN from both sides
 * or any RST closes the flow). */
void kc_flow_tcp_change(struct kc_flow_table *t, struct kc_flow *f, uint8_t fl, bool from_client)
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
			lru_unlink(t, f, f->idx);
			f->tclass = c;
			lru_append(t, f, f->idx);
		}
	}
}

uint32_t kc_flow_expire(struct kc_flow_table *t, uint64_t now_us, uint32_t budget)
{
	uint32_t n = 0;
	unsigned c;

	for (c = 0; c < KC_FLOW_T_MAX; c++) {
		uint64_t to = t->cfg.timeout_us[c];

		while (n < budget && t->h.lru[c].head != NIL) {
			struct kc_flow *f = entry(t, t->h.lru[c].head);

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
		while (t->h.lru[c].head != NIL)
			kc_flow_remove(t, entry(t, t->h.lru[c].head), KC_FLOW_END_FLUSH);
}

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

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define NIL UINT32_MAX
#define EMPTY UINT32_MAX

struct lru {
	uint32_t head, tail;
};

struct kc_flow_table {
	/* Lookup path; its first members are struct kc_flow_table_head, read
	 * by the inline prefetch helpers of kc_flow.h. */
	uint32_t *index;        /* entry number per slot, EMPTY if free */
	uint32_t index_mask;
	uint8_t *entries;       /* capacity entries of `stride` bytes */
	size_t stride;
	struct kc_flow_link *links;
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

static_assert(offsetof(struct kc_flow_table, index) == offsetof(struct kc_flow_table_head, index) &&
		      offsetof(struct kc_flow_table, index_mask) == offsetof(struct kc_flow_table_head, index_mask) &&
		      offsetof(struct kc_flow_table, entries) == offsetof(struct kc_flow_table_head, entries) &&
		      offsetof(struct kc_flow_table, stride) == offsetof(struct kc_flow_table_head, stride) &&
		      offsetof(struct kc_flow_table, links) == offsetof(struct kc_flow_table_head, links),
	      "the table starts with struct kc_flow_table_head");
static_assert(EMPTY == UINT32_MAX, "kc_flow_prefetch_entry tests free slots as UINT32_MAX");

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

/* Kept in the flow: dividing by the stride would cost tens of cycles on
 * every packet. */
static inline uint32_t entry_no(const struct kc_flow_table *t, const struct kc_flow *f)
{
	(void)t;
	return f->idx;
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
	t->index = kc_alloc_table(sizeof(uint32_t) * slots);
	if (t->index == NULL)
		goto fail_index;
	memset(t->index, 0xff, sizeof(uint32_t) * slots);
	t->index_mask = slots - 1;
	/* Not zeroed here: an entry is cleared when it is taken, so a large
	 * table costs no time (and no resident memory) until it fills. */
	t->entries = kc_alloc_table(t->stride * cfg->capacity);
	if (t->entries == NULL)
		goto fail_entries;
	t->free_stack = malloc(sizeof(uint32_t) * cfg->capacity);
	if (t->free_stack == NULL)
		goto fail_free;
	t->links = kc_alloc_table(sizeof(*t->links) * cfg->capacity);
	if (t->links == NULL)
		goto fail_links;
	/* Hand out low entry numbers first: they are the warm part of memory. */
	for (c = cfg->capacity, i = 0; i < c; i++)
		t->free_stack[i] = c - 1 - i;
	t->n_free = c;
	for (i = 0; i < KC_FLOW_T_MAX; i++)
		t->lru[i].head = t->lru[i].tail = NIL;
	return t;

fail_links:
	free(t->free_stack);
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
	free(t->links);
	free(t->free_stack);
	free(t->entries);
	free(t->index);
	free(t);
}

bool kc_flow_key_make(const struct kc_pkt *p, struct kc_flow_key *k)
{
	uint64_t w[6];
	bool src_is_a = kc_flow_key_words_(p, w);

	kc_flow_key_store_(k, w);
	return src_is_a;
}

static inline uint64_t key_word(const struct kc_flow_key *k, unsigned i)
{
	/* A key is only 2-byte aligned (one on the caller's stack may sit
	 * anywhere): a memcpy load, which compiles to one instruction. */
	return kc_flow_load64_((const uint8_t *)k + 8 * i);
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

/* Inline instead of memcmp: 48 bytes are three 16-byte compares (six loads
 * and XORs without SSE2), where the libc call costs more than the compare.
 * @p in_table is an entry's key: entries start on a cache line, so its loads
 * fold into the compares. */
static inline bool key_eq(const struct kc_flow_key *in_table, const struct kc_flow_key *k)
{
#ifdef __SSE2__
	const __m128i *a = (const __m128i *)(const void *)in_table, *b = (const __m128i *)(const void *)k;
	__m128i c = _mm_and_si128(_mm_cmpeq_epi8(_mm_load_si128(a), _mm_loadu_si128(b)),
				  _mm_cmpeq_epi8(_mm_load_si128(a + 1), _mm_loadu_si128(b + 1)));

	c = _mm_and_si128(c, _mm_cmpeq_epi8(_mm_load_si128(a + 2), _mm_loadu_si128(b + 2)));
	return _mm_movemask_epi8(c) == 0xffff;
#else
	uint64_t d = 0;
	unsigned i;

	for (i = 0; i < sizeof(*k) / 8; i++)
		d |= key_word(in_table, i) ^ key_word(k, i);
	return d == 0;
#endif
}

/* @p e: f's entry number, passed where the caller has it (reading f->idx
 * would touch the entry's second cache line on the lookup's hit path). */
static void lru_unlink(struct kc_flow_table *t, struct kc_flow *f, uint32_t e)
{
	struct lru *l = &t->lru[f->tclass];
	struct kc_flow_link *n = &t->links[e];

	if (n->prev != NIL)
		t->links[n->prev].next = n->next;
	else
		l->head = n->next;
	if (n->next != NIL)
		t->links[n->next].prev = n->prev;
	else
		l->tail = n->prev;
	n->prev = n->next = NIL;
}

static void lru_append(struct kc_flow_table *t, struct kc_flow *f, uint32_t e)
{
	struct lru *l = &t->lru[f->tclass];

	t->links[e].next = NIL;
	t->links[e].prev = l->tail;
	if (l->tail != NIL)
		t->links[l->tail].next = e;
	else
		l->head = e;
	l->tail = e;
}

/* Most packets belong to a flow that is already last of its class (a burst of
 * one conversation): then there is nothing to move. Otherwise the flow has a
 * successor, and the tail is another flow: fewer cases than an unlink and an
 * append. @p e: f's entry number. */
static inline void lru_touch(struct kc_flow_table *t, struct kc_flow *f, uint32_t e)
{
	struct lru *l = &t->lru[f->tclass];
	struct kc_flow_link *links = t->links;
	uint32_t prev, next, tail = l->tail;

	if (tail == e)
		return;
	prev = links[e].prev;
	next = links[e].next;
	if (prev != NIL)
		links[prev].next = next;
	else
		l->head = next;
	links[next].prev = prev;
	links[tail].next = e;
	links[e].prev = tail;
	links[e].next = NIL;
	l->tail = e;
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

/* A key not in the table: take a free entry (evicting the longest-idle flow
 * if there is none) for it at empty slot @p s. Out of line, so the lookup's
 * hit path stays small. */
static __attribute__((noinline)) struct kc_flow *flow_create(struct kc_flow_table *t, const struct kc_flow_key *k,
							     uint32_t hash, uint64_t now_us, uint32_t s)
{
	uint32_t probe = (s - hash) & t->index_mask, e;
	struct kc_flow *f;

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
	f->idx = e;
	f->first_us = f->last_us = now_us;
	f->stream_id = ((uint64_t)t->cfg.worker << 48) | ((t->cfg.stream_base + ++t->next_stream) & ((1ull << 48) - 1));
	f->in_use = 1;
	f->state = KC_FLOW_NEW;
	f->tclass = (uint8_t)tclass_of(f);
	t->index[s] = e;
	lru_append(t, f, e);
	t->stats.created++;
	t->stats.active++;
	return f;
}

struct kc_flow *kc_flow_lookup(struct kc_flow_table *t, const struct kc_flow_key *k, uint32_t hash,
			       uint64_t now_us, bool *created)
{
	uint32_t mask = t->index_mask, s = hash & mask, e;
	struct kc_flow *f;

	/* Stored first: the pointer is then dead during the probe, one
	 * register fewer to save and restore on the hit path. */
	*created = false;
	t->stats.lookups++;
	for (;; s = (s + 1) & mask) {
		e = t->index[s];
		if (e == EMPTY) {
			*created = true;
			return flow_create(t, k, hash, now_us, s);
		}
		f = entry(t, e);
		if (f->hash == hash && key_eq(&f->key, k))
			break;
	}
	/* The list is in last_us order: a flow whose time does not move
	 * (live bursts share one timestamp) keeps its place, and only flows
	 * after it share that time. */
	if (now_us > f->last_us) {
		f->last_us = now_us;
		lru_touch(t, f, e);
	}
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

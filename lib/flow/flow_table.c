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

static inline uint64_t load64(const uint8_t *b)
{
	uint64_t v;

	memcpy(&v, b, sizeof(v));
	return v;
}

static inline uint64_t load32(const uint8_t *b)
{
	uint32_t v;

	memcpy(&v, b, sizeof(v));
	return v;
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "key words are assembled little-endian");
static_assert(offsetof(struct kc_flow_key, port_a) == 32 && offsetof(struct kc_flow_key, vlan) == 36 &&
		      offsetof(struct kc_flow_key, proto) == 40 && offsetof(struct kc_flow_key, family) == 41,
	      "key layout as kc_flow_key_make assembles it");

/* Endpoints ordered by (address, port), in memcmp order of the address bytes
 * then by port, so both directions give one key; built as its six 64-bit
 * words. Big-endian loads compare as the bytes do, and an IPv4 address with
 * its port fits one 48-bit number: one compare orders the endpoints. */
static inline bool key_words(const struct kc_pkt *p, uint64_t w[6])
{
	uint64_t sp = p->sport, dp = p->dport;
	uint32_t vlans;
	bool src_is_a;

	if (p->family == 4) {
		uint64_t s = load32(p->src), d = load32(p->dst);

		src_is_a = ((uint64_t)__builtin_bswap32((uint32_t)s) << 16 | sp) <=
			   ((uint64_t)__builtin_bswap32((uint32_t)d) << 16 | dp);
		w[0] = src_is_a ? s : d;
		w[1] = 0;
		w[2] = src_is_a ? d : s;
		w[3] = 0;
	} else {
		uint64_t s0 = load64(p->src), s1 = load64(p->src + 8);
		uint64_t d0 = load64(p->dst), d1 = load64(p->dst + 8);

		if (s0 != d0)
			src_is_a = __builtin_bswap64(s0) < __builtin_bswap64(d0);
		else if (s1 != d1)
			src_is_a = __builtin_bswap64(s1) < __builtin_bswap64(d1);
		else
			src_is_a = sp <= dp;
		w[0] = src_is_a ? s0 : d0;
		w[1] = src_is_a ? s1 : d1;
		w[2] = src_is_a ? d0 : s0;
		w[3] = src_is_a ? d1 : s1;
	}
	memcpy(&vlans, p->vlan, sizeof(vlans));
	w[4] = (src_is_a ? sp | dp << 16 : dp | sp << 16) | (uint64_t)vlans << 32;
	w[5] = (uint64_t)p->proto | (uint64_t)p->family << 8;
	return src_is_a;
}

/* Word by word: the compiler would otherwise gather the words into vector
 * registers through the stack, and stall on store forwarding doing so. */
static inline void key_store(struct kc_flow_key *k, const uint64_t w[6])
{
	uint8_t *d = (uint8_t *)k;
	unsigned i;

	for (i = 0; i < 6; i++) {
		uint64_t x = w[i];

		__asm__("" : "+r"(x));
		memcpy(d + 8 * i, &x, sizeof(x));
	}
}

bool kc_flow_key_make(const struct kc_pkt *p, struct kc_flow_key *k)
{
	uint64_t w[6];
	bool src_is_a = key_words(p, w);

	key_store(k, w);
	return src_is_a;
}

static inline uint64_t key_word(const struct kc_flow_key *k, unsigned i)
{
	uint64_t w;

	/* memcpy, not a uint64_t cast: a key is only 2-byte aligned (one on
	 * the caller's stack may sit anywhere); this compiles to one load. */
	memcpy(&w, (const uint8_t *)k + 8 * i, sizeof(w));
	return w;
}

/* Secrets of the hash; kc_flow_hash_seed() replaces them at start-up. */
static uint64_t secret[4] = {
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

	for (i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
		secret[i] = splitmix64(&seed) | 1;
}

/* The 128-bit product folded to 64 bits (wyhash's "mum"): one multiply mixes
 * two words at once. */
static inline uint64_t mum(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* Three independent products over the six words, then one to fold them: a
 * short dependency chain, keyed by the secrets, symmetric because the key
 * already is. */
static inline uint32_t hash_words(const uint64_t w[6])
{
	uint64_t h = mum(w[0] ^ secret[0], w[1] ^ secret[1]) ^ mum(w[2] ^ secret[2], w[3] ^ secret[3]) ^
		     mum(w[4] ^ secret[1], w[5] ^ secret[0]);

	h = mum(h ^ secret[2], h ^ secret[3]);
	return (uint32_t)(h ^ (h >> 32));
}

uint32_t kc_flow_key_hash(const struct kc_flow_key *k)
{
	uint64_t w[6];
	unsigned i;

	for (i = 0; i < 6; i++)
		w[i] = key_word(k, i);
	return hash_words(w);
}

bool kc_flow_key_make_hash(const struct kc_pkt *p, struct kc_flow_key *k, uint32_t *hash)
{
	uint64_t w[6];
	bool src_is_a = key_words(p, w);

	key_store(k, w);
	*hash = hash_words(w);
	return src_is_a;
}

/* Inline instead of memcmp: 48 bytes are three 16-byte compares (six loads
 * and XORs without SSE2), where the libc call costs more than the compare. */
static inline bool key_eq(const struct kc_flow_key *x, const struct kc_flow_key *y)
{
#ifdef __SSE2__
	const __m128i *a = (const __m128i *)(const void *)x, *b = (const __m128i *)(const void *)y;
	__m128i c = _mm_and_si128(_mm_cmpeq_epi8(_mm_loadu_si128(a), _mm_loadu_si128(b)),
				  _mm_cmpeq_epi8(_mm_loadu_si128(a + 1), _mm_loadu_si128(b + 1)));

	c = _mm_and_si128(c, _mm_cmpeq_epi8(_mm_loadu_si128(a + 2), _mm_loadu_si128(b + 2)));
	return _mm_movemask_epi8(c) == 0xffff;
#else
	uint64_t d = 0;
	unsigned i;

	for (i = 0; i < sizeof(*x) / 8; i++)
		d |= key_word(x, i) ^ key_word(y, i);
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
 * one conversation): then there is nothing to move. @p e: f's entry number. */
static inline void lru_touch(struct kc_flow_table *t, struct kc_flow *f, uint32_t e)
{
	if (t->lru[f->tclass].tail == e)
		return;
	lru_unlink(t, f, e);
	lru_append(t, f, e);
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
	uint32_t s = hash & t->index_mask, e;

	t->stats.lookups++;
	while ((e = t->index[s]) != EMPTY) {
		struct kc_flow *f = entry(t, e);

		if (f->hash == hash && key_eq(&f->key, k)) {
			*created = false;
			/* The list is in last_us order: a flow whose time does
			 * not move (live bursts share one timestamp) keeps its
			 * place, and only flows after it share that time. */
			if (now_us > f->last_us) {
				f->last_us = now_us;
				lru_touch(t, f, e);
			}
			return f;
		}
		s = (s + 1) & t->index_mask;
	}
	*created = true;
	return flow_create(t, k, hash, now_us, s);
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

/**
 * @file
 * Per-core flow table: one table per worker lcore, no locks, no allocation
 * after creation.
 *
 * A flow is one bidirectional TCP or UDP conversation, keyed canonically
 * (VLAN ids, protocol, and the two address/port endpoints in a fixed order),
 * so both directions find the same entry. Entries are preallocated; each
 * carries a caller-defined "user area" of fixed size (the engine keeps its
 * reassembly, dissection and recording state there).
 *
 * Idle timeouts depend on the flow's state (TCP opening, established,
 * closing/closed, UDP). Flows of one timeout class sit on one LRU list
 * ordered by last packet time, so expiry pops list heads in O(1) each; a full
 * table evicts the longest-idle flow of all classes. Every removal goes
 * through the caller's release callback first and is counted by reason.
 *
 * Thread safety: a table belongs to one thread; nothing here is shared.
 */
#ifndef KC_FLOW_H
#define KC_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "kc_common.h"
#include "kc_decode.h"

/** Canonical key: endpoint a is the lower of the two (address, port). */
struct kc_flow_key {
	uint8_t a[16];
	uint8_t b[16];
	uint16_t port_a;
	uint16_t port_b;
	uint16_t vlan[KC_DECODE_MAX_VLANS];
	uint8_t proto;
	uint8_t family;
	uint8_t pad[6];
};
static_assert(sizeof(struct kc_flow_key) == 48, "flow key packs into 48 bytes");
static_assert(KC_DECODE_MAX_VLANS == 2, "both VLAN ids fill one 32-bit word of the key");

/** TCP state as followed from the flags of both directions. */
enum kc_flow_state {
	KC_FLOW_NEW = 0,     /**< first packet seen, no handshake progress (UDP stays here) */
	KC_FLOW_SYN_SENT,    /**< SYN seen */
	KC_FLOW_SYN_RCVD,    /**< SYN+ACK seen */
	KC_FLOW_ESTABLISHED, /**< handshake done, or data on a stream picked up mid-way */
	KC_FLOW_FIN_WAIT,    /**< one side sent FIN */
	KC_FLOW_CLOSED,      /**< FIN both ways, or RST */
	KC_FLOW_STATE_MAX
};

/** Timeout classes, one LRU list each. */
enum kc_flow_tclass {
	KC_FLOW_T_OPENING = 0, /**< TCP NEW/SYN_SENT/SYN_RCVD */
	KC_FLOW_T_ESTABLISHED, /**< TCP ESTABLISHED/FIN_WAIT */
	KC_FLOW_T_CLOSED,      /**< TCP CLOSED */
	KC_FLOW_T_UDP,
	KC_FLOW_T_MAX
};

/** Why a flow left the table. */
enum kc_flow_end {
	KC_FLOW_END_TIMEOUT = 0, /**< idle past its class timeout */
	KC_FLOW_END_EVICTED,     /**< longest-idle flow evicted for a new one: table full */
	KC_FLOW_END_FLUSH,       /**< shutdown or explicit flush */
	KC_FLOW_END_REUSED,      /**< a new SYN on a closed flow: the next connection on the same ports */
	KC_FLOW_END_MAX
};

/**
 * One flow. The first cache line holds everything a lookup compares and a
 * packet updates in the common case (key, hash, state, last time); counters
 * and identity follow. The LRU links live in a separate compact array of the
 * table, so moving a flow to the tail touches 8-byte links, not the
 * neighbours' entries. The user area follows the struct (kc_flow_user()).
 */
struct kc_flow {
	struct kc_flow_key key;
	uint32_t hash;
	uint8_t state;          /**< enum kc_flow_state */
	uint8_t tclass;         /**< enum kc_flow_tclass */
	uint8_t client_is_a;    /**< 1 if the client (opener) is endpoint a of the key */
	uint8_t fin_seen;       /**< bit 0: client FIN, bit 1: server FIN */
	uint64_t last_us;       /**< time of the last packet */
	/* Second cache line. */
	uint64_t first_us;      /**< time of the first packet */
	uint64_t stream_id;     /**< unique per process: worker in the top bits */
	uint64_t pkts[2];       /**< packets by direction (0: client to server) */
	uint64_t bytes[2];      /**< captured bytes by direction */
	uint32_t idx;           /**< entry number in the table (internal) */
	uint8_t in_use;
	uint8_t pad[3];
};
static_assert(offsetof(struct kc_flow, first_us) == 64, "lookup fields fill the first cache line");

struct kc_flow_cfg {
	uint32_t capacity;        /**< flows held at once (table full → evict longest idle) */
	uint32_t user_size;       /**< bytes of caller state per flow */
	uint64_t timeout_us[KC_FLOW_T_MAX];
	uint8_t worker;           /**< goes into the top 16 bits of every stream id */
	uint64_t stream_base;     /**< first stream number - 1 (below 2^47): e.g. derived
	                               from the start time, so ids, and the file names made
	                               from them, do not repeat across restarts */
};

struct kc_flow_stats {
	uint64_t lookups;
	uint64_t created;
	uint64_t ended[KC_FLOW_END_MAX]; /**< flow.timeout, flow.evicted, flow.flushed, flow.reused */
	uint64_t active;
	uint64_t max_probe;       /**< longest probe sequence seen */
};

/** Called before a flow leaves the table; the flow and its user area are
 *  still valid during the call and reused after it. */
typedef void (*kc_flow_release_fn)(void *ctx, struct kc_flow *f, enum kc_flow_end why);

struct kc_flow_table;

/** LRU neighbours of an entry, by entry number (internal to the table). Kept
 *  apart from the entries: a move to the tail writes three 8-byte links in a
 *  dense array that stays cached, not the lines of two neighbouring flows. */
struct kc_flow_link {
	uint32_t prev, next;
};

/** One timeout class's LRU list, by entry number (internal to the table). */
struct kc_flow_lru {
	uint32_t head, tail;
};

/**
 * The first member of every struct kc_flow_table: what the inline lookup and
 * prefetch helpers below use. Public only so that those inline into the
 * caller's burst loop (calls per packet otherwise); everything else stays
 * private to flow_table.c.
 */
struct kc_flow_table_head {
	uint32_t *index;             /**< entry number per slot, UINT32_MAX if free */
	uint32_t index_mask;
	uint8_t *entries;            /**< entries of `stride` bytes, cache-line aligned */
	size_t stride;
	struct kc_flow_link *links;  /**< LRU links by entry number */
	struct kc_flow_lru lru[KC_FLOW_T_MAX];
	struct kc_flow_stats stats;
};

/** Default capacity and timeouts (seconds), named as the config keys. */
#define KC_FLOW_DEFAULT_CAPACITY 65536
#define KC_FLOW_DEFAULT_TIMEOUT_OPENING_S 30
#define KC_FLOW_DEFAULT_TIMEOUT_ESTABLISHED_S 300
#define KC_FLOW_DEFAULT_TIMEOUT_CLOSED_S 10
#define KC_FLOW_DEFAULT_TIMEOUT_UDP_S 60

/**
 * Create a table. Memory: capacity * (sizeof(struct kc_flow) + user_size)
 * plus an index of 2 * capacity rounded to a power of two.
 * @return NULL with errno EINVAL (capacity 0 or above 2^26) or ENOMEM.
 */
struct kc_flow_table *kc_flow_table_create(const struct kc_flow_cfg *cfg,
					   kc_flow_release_fn release, void *ctx);
/** Release every flow (reason FLUSH) and free the table. NULL is allowed. */
void kc_flow_table_destroy(struct kc_flow_table *t);

/**
 * Build the canonical key of a decoded packet.
 * @return true if the packet goes from endpoint a to endpoint b.
 */
bool kc_flow_key_make(const struct kc_pkt *p, struct kc_flow_key *k);

/** kc_flow_key_make() and kc_flow_key_hash() in one pass (the per-packet
 *  path; inline, below). */
static inline bool kc_flow_key_make_hash(const struct kc_pkt *p, struct kc_flow_key *k, uint32_t *hash);

/** Symmetric hash of a key: the same for both directions (the key is canonical). */
uint32_t kc_flow_key_hash(const struct kc_flow_key *k);

/**
 * Derive the hash's secrets from @p seed (a random number at start-up), so
 * that nobody outside can aim packets at one probe run of the tables (hash
 * flooding). Call before any table is used and before any thread hashes;
 * without it the hash uses fixed secrets (reproducible tests).
 */
void kc_flow_hash_seed(uint64_t seed);

/** The hash's secrets: read by the inline hash below, written only by
 *  kc_flow_hash_seed() (flow_table.c). Not for any other use. */
extern uint64_t kc_flow_hash_secret[4];

/**
 * Find the flow of @p k or create it, evicting the longest-idle flow if the
 * table is full. Moves the flow to the tail of its LRU list with time @p now_us.
 * @param created set to true if the flow is new (user area zeroed).
 * @return the flow (never NULL once the table exists).
 */
static inline struct kc_flow *kc_flow_lookup(struct kc_flow_table *t, const struct kc_flow_key *k, uint32_t hash,
					     uint64_t now_us, bool *created);
/** The out-of-line part of kc_flow_lookup() (a key not in the table, its probe
 *  ended at empty slot @p s): call that one. */
struct kc_flow *kc_flow_lookup_miss(struct kc_flow_table *t, const struct kc_flow_key *k, uint32_t hash,
				    uint64_t now_us, uint32_t s);

/**
 * Prefetching for burst processing (the DPDK bulk-lookup pattern): once the
 * hash of a packet is known, kc_flow_prefetch_slot() asks for its index slot;
 * some packets later, when the slot has arrived, kc_flow_prefetch_entry()
 * asks for the entry it names; the lookups then come in arrival order. Hints
 * only: the table may change in between, and the lookups stay exact.
 */
static inline void kc_flow_prefetch_slot(const struct kc_flow_table *t, uint32_t hash);
static inline void kc_flow_prefetch_entry(const struct kc_flow_table *t, uint32_t hash, unsigned lines);

/**
 * Update TCP state from the flags of one packet and move the flow to the LRU
 * list of its new timeout class.
 * @param from_client true if the packet was sent by the client.
 */
static inline void kc_flow_tcp_update(struct kc_flow_table *t, struct kc_flow *f, uint8_t tcp_flags,
				      bool from_client);
/** The out-of-line part of kc_flow_tcp_update(): call that one. */
void kc_flow_tcp_change(struct kc_flow_table *t, struct kc_flow *f, uint8_t tcp_flags, bool from_client);

static inline void kc_flow_tcp_update(struct kc_flow_table *t, struct kc_flow *f, uint8_t tcp_flags,
				      bool from_client)
{
	/* Most segments (data and ACKs of an open connection) change nothing:
	 * decided here without a call. */
	if (!(tcp_flags & (KC_TCP_SYN | KC_TCP_FIN | KC_TCP_RST)) && f->state >= KC_FLOW_ESTABLISHED)
		return;
	kc_flow_tcp_change(t, f, tcp_flags, from_client);
}

/** Remove one flow now (reason FLUSH), calling the release callback. */
void kc_flow_remove(struct kc_flow_table *t, struct kc_flow *f, enum kc_flow_end why);

/**
 * Remove flows idle past their timeout at @p now_us, at most @p budget.
 * @return flows removed.
 */
uint32_t kc_flow_expire(struct kc_flow_table *t, uint64_t now_us, uint32_t budget);

/** Remove every flow (reason FLUSH). */
void kc_flow_flush(struct kc_flow_table *t);

/** The caller's state of @p f (user_size bytes, zeroed when the flow was created). */
static inline void *kc_flow_user(struct kc_flow_table *t, struct kc_flow *f)
{
	(void)t;
	return (uint8_t *)f + sizeof(*f);
}

static inline void kc_flow_prefetch_slot(const struct kc_flow_table *t, uint32_t hash)
{
	const struct kc_flow_table_head *h = (const struct kc_flow_table_head *)t;

	__builtin_prefetch(&h->index[hash & h->index_mask]);
}

/* The first @p lines lines of the entry (2 to 4: the lookup line, the
 * counters line, where the user area begins since struct kc_flow is 120
 * bytes, and as far into the user area as the caller reads on every packet;
 * the caller knows its entries are that long), and the LRU link the lookup
 * moves. */
static inline void kc_flow_prefetch_entry(const struct kc_flow_table *t, uint32_t hash, unsigned lines)
{
	const struct kc_flow_table_head *h = (const struct kc_flow_table_head *)t;
	uint32_t e = h->index[hash & h->index_mask];
	const uint8_t *f;

	if (e == UINT32_MAX)
		return;
	f = h->entries + (size_t)e * h->stride;
	__builtin_prefetch(f);
	__builtin_prefetch(f + KC_CACHE_LINE);
	if (lines > 2)
		__builtin_prefetch(f + 2 * KC_CACHE_LINE);
	if (lines > 3)
		__builtin_prefetch(f + 3 * KC_CACHE_LINE);
	__builtin_prefetch(&h->links[e], 1);
}


/* The 128-bit product folded to 64 bits (wyhash's "mum"): one multiply mixes
 * two words at once. */
static inline uint64_t kc_flow_mum_(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/*
 * The key is six little-endian 64-bit words:
 *   w0, w1: address a    w2, w3: address b   (IPv4: w1 = w3 = 0)
 *   w4: port_a | port_b << 16 | vlan[0] << 32 | vlan[1] << 48
 *   w5: proto | family << 8
 * The hash is keyed by the secrets and symmetric because the key already is.
 * IPv4 (16 bytes that vary, plus w5) is wyhash's construction for 16 bytes:
 * both addresses as one word times w4, and the whole 128-bit product, w5
 * folded in, through a second multiply. IPv6: each address's product, then
 * one multiply over those with w4 and w5.
 */
static inline uint32_t kc_flow_hash4_(uint64_t a, uint64_t b, uint64_t w4, uint64_t w5)
{
	const uint64_t *s = kc_flow_hash_secret;
	__uint128_t r = (__uint128_t)((a | b << 32) ^ s[0]) * (w4 ^ s[1]);
	uint64_t h = kc_flow_mum_((uint64_t)r ^ w5 ^ s[2], (uint64_t)(r >> 64) ^ s[3]);

	return (uint32_t)(h ^ (h >> 32));
}

static inline uint32_t kc_flow_hash6_(const uint64_t w[6])
{
	const uint64_t *s = kc_flow_hash_secret;
	uint64_t ha = kc_flow_mum_(w[0] ^ s[0], w[1] ^ s[1]), hb = kc_flow_mum_(w[2] ^ s[2], w[3] ^ s[3]);
	uint64_t h = kc_flow_mum_(ha ^ w[4] ^ s[1], hb ^ w[5] ^ s[0]);

	return (uint32_t)(h ^ (h >> 32));
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "key words are assembled little-endian");
static_assert(offsetof(struct kc_flow_key, port_a) == 32 && offsetof(struct kc_flow_key, vlan) == 36 &&
		      offsetof(struct kc_flow_key, proto) == 40 && offsetof(struct kc_flow_key, family) == 41,
	      "key layout as kc_flow_key_make_hash assembles it");

/*
 * Endpoints are ordered by (address, port), in memcmp order of the address
 * bytes then by port, so both directions give one key. Big-endian loads
 * compare as the bytes do, and an IPv4 address with its port fits one 48-bit
 * number: one compare orders the endpoints. The packet keeps the ports and
 * VLAN ids in w4's order and proto and family in w5's (kc_decode.h): each is
 * one load, and w4 as loaded when the sender is endpoint a.
 */
static inline bool kc_flow_key_make_hash(const struct kc_pkt *p, struct kc_flow_key *k, uint32_t *hash)
{
	uint64_t pv = kc_load64(&p->sport), sp = (uint16_t)pv, dp = (uint16_t)(pv >> 16);
	uint32_t ports = (uint32_t)pv;
	/* w4 with the ports the other way round: a 16-bit rotate. */
	uint64_t swapped = (pv & ~0xffffffffull) | (uint32_t)(ports << 16 | ports >> 16), w4, w5;
	uint8_t *d = (uint8_t *)k;
	uint16_t pf;
	bool src_is_a;

	memcpy(&pf, &p->proto, sizeof(pf));
	w5 = pf;
	if (p->family == 4) {
		uint64_t s = (uint64_t)kc_load32(p->src), t = (uint64_t)kc_load32(p->dst), a, b;

		/* The 32-bit address byte-swapped into bits 16-47. */
		src_is_a = (__builtin_bswap64(s) >> 16 | sp) <= (__builtin_bswap64(t) >> 16 | dp);
		a = src_is_a ? s : t;
		b = src_is_a ? t : s;
		w4 = src_is_a ? pv : swapped;
		kc_store64(d, a);
		kc_store64(d + 8, 0);
		kc_store64(d + 16, b);
		kc_store64(d + 24, 0);
		kc_store64(d + 32, w4);
		kc_store64(d + 40, w5);
		*hash = kc_flow_hash4_(a, b, w4, w5);
	} else {
		uint64_t s0 = kc_load64(p->src), s1 = kc_load64(p->src + 8);
		uint64_t t0 = kc_load64(p->dst), t1 = kc_load64(p->dst + 8);
		uint64_t w[6];

		if (s0 != t0)
			src_is_a = __builtin_bswap64(s0) < __builtin_bswap64(t0);
		else if (s1 != t1)
			src_is_a = __builtin_bswap64(s1) < __builtin_bswap64(t1);
		else
			src_is_a = sp <= dp;
		w[0] = src_is_a ? s0 : t0;
		w[1] = src_is_a ? s1 : t1;
		w[2] = src_is_a ? t0 : s0;
		w[3] = src_is_a ? t1 : s1;
		w[4] = src_is_a ? pv : swapped;
		w[5] = w5;
		kc_store64(d, w[0]);
		kc_store64(d + 8, w[1]);
		kc_store64(d + 16, w[2]);
		kc_store64(d + 24, w[3]);
		kc_store64(d + 32, w[4]);
		kc_store64(d + 40, w[5]);
		*hash = kc_flow_hash6_(w);
	}
	return src_is_a;
}

/* Inline instead of memcmp: 48 bytes are three 16-byte compares (six loads
 * and XORs without SSE2), where the libc call costs more than the compare.
 * @p in_table is an entry's key: entries start on a cache line, so its loads
 * fold into the compares. */
static inline bool kc_flow_key_eq_(const struct kc_flow_key *in_table, const struct kc_flow_key *k)
{
#ifdef __SSE2__
	const __m128i *a = (const __m128i *)(const void *)in_table, *b = (const __m128i *)(const void *)k;
	__m128i c = _mm_and_si128(_mm_cmpeq_epi8(_mm_load_si128(a), _mm_loadu_si128(b)),
				  _mm_cmpeq_epi8(_mm_load_si128(a + 1), _mm_loadu_si128(b + 1)));

	c = _mm_and_si128(c, _mm_cmpeq_epi8(_mm_load_si128(a + 2), _mm_loadu_si128(b + 2)));
	return _mm_movemask_epi8(c) == 0xffff;
#else
	const uint8_t *x = (const uint8_t *)in_table, *y = (const uint8_t *)k;
	uint64_t d = 0;
	unsigned i;

	for (i = 0; i < sizeof(*k); i += 8)
		d |= kc_load64(x + i) ^ kc_load64(y + i);
	return d == 0;
#endif
}

/* Most packets belong to a flow that is already last of its class (a burst of
 * one conversation): then there is nothing to move. Otherwise the flow has a
 * successor, and the tail is another flow: fewer cases than an unlink and an
 * append. @p e: f's entry number. */
static inline void kc_flow_lru_touch_(struct kc_flow_table_head *h, const struct kc_flow *f, uint32_t e)
{
	struct kc_flow_lru *l = &h->lru[f->tclass];
	struct kc_flow_link *links = h->links;
	uint32_t prev, next, tail = l->tail;

	if (tail == e)
		return;
	prev = links[e].prev;
	next = links[e].next;
	if (prev != UINT32_MAX)
		links[prev].next = next;
	else
		l->head = next;
	links[next].prev = prev;
	links[tail].next = e;
	links[e].prev = tail;
	links[e].next = UINT32_MAX;
	l->tail = e;
}

/* Inline: the hit path is most packets' whole lookup, and a call would add a
 * prologue saving the registers the probe needs to a few dozen instructions. */
static inline struct kc_flow *kc_flow_lookup(struct kc_flow_table *t, const struct kc_flow_key *k, uint32_t hash,
					     uint64_t now_us, bool *created)
{
	struct kc_flow_table_head *h = (struct kc_flow_table_head *)t;
	uint32_t mask = h->index_mask, s = hash & mask, e;
	struct kc_flow *f;

	h->stats.lookups++;
	for (;; s = (s + 1) & mask) {
		e = h->index[s];
		if (e == UINT32_MAX) {
			*created = true;
			return kc_flow_lookup_miss(t, k, hash, now_us, s);
		}
		f = (struct kc_flow *)(h->entries + (size_t)e * h->stride);
		if (f->hash == hash && kc_flow_key_eq_(&f->key, k))
			break;
	}
	*created = false;
	/* The list is in last_us order: a flow whose time does not move (live
	 * bursts share one timestamp) keeps its place, and only flows after it
	 * share that time. */
	if (now_us > f->last_us) {
		f->last_us = now_us;
		kc_flow_lru_touch_(h, f, e);
	}
	return f;
}

const struct kc_flow_stats *kc_flow_stats(const struct kc_flow_table *t);

const char *kc_flow_state_name(enum kc_flow_state s);

#endif /* KC_FLOW_H */

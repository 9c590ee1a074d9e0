/*
 * Retention: packets of streams that have not matched the filter yet, kept so
 * that a stream recorded at its tenth request still starts at its handshake.
 *
 * Bounded three ways, each counted: a time window (retain.window_us), a
 * per-stream packet/byte bound, and a per-core pool (which the application
 * sizes as a share of the mbuf pool, so RX never starves). The TCP handshake
 * is pinned: it is off the age list and no bound evicts it.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "engine_internal.h"

/* Pinned packets per stream: SYN, SYN-ACK, ACK and a few retransmissions. */
#define MAX_PINNED 6

/*
 * The per-flow links live beside the nodes, in the same allocation (after
 * the max_pkts_core nodes): next[i] is the node after i on its flow's list
 * (or on the free list), pinned[i] says whether i is pinned. Walking a
 * stream's list (over all of it when the stream ends) then reads these dense
 * arrays, 5 bytes a node and mostly cache-resident, instead of one cold
 * 40-byte node per step, and the nodes can be prefetched ahead.
 */
static inline uint32_t *nexts(const struct kc_engine *e)
{
	return (uint32_t *)(e->retain_nodes + e->cfg.retain.max_pkts_core);
}

static inline uint8_t *pins(const struct kc_engine *e)
{
	return (uint8_t *)(nexts(e) + e->cfg.retain.max_pkts_core);
}

int kc_engine_retain_init(struct kc_engine *e)
{
	uint32_t i, n = e->cfg.retain.max_pkts_core;
	uint32_t *nx;

	e->g_head = e->g_tail = RNIL;
	e->retain_free = RNIL;
	if (n == 0)
		return 0;
	/* One block: nodes, then next[], then pinned[] (see nexts()). The
	 * node size is a multiple of 8, so next[] is aligned. */
	e->retain_nodes = calloc(n, sizeof(*e->retain_nodes) + sizeof(uint32_t) + sizeof(uint8_t));
	if (e->retain_nodes == NULL)
		return -1;
	nx = nexts(e);
	for (i = 0; i < n; i++)
		nx[i] = i + 1 < n ? i + 1 : RNIL;
	e->retain_free = 0;
	return 0;
}

static void age_unlink(struct kc_engine *e, uint32_t i, struct retain_node *n)
{
	if (pins(e)[i])
		return;
	if (n->g_prev != RNIL)
		e->retain_nodes[n->g_prev].g_next = n->g_next;
	else
		e->g_head = n->g_next;
	if (n->g_next != RNIL)
		e->retain_nodes[n->g_next].g_prev = n->g_prev;
	else
		e->g_tail = n->g_prev;
}

/* Take node @p i off its flow list and the age list, and free it. Keeps
 * fs->r_pinned (length of the list's pinned prefix: the pinned packets are
 * the handshake, at the front) and fs->r_unpinned (first unpinned node + 1)
 * exact, so kc_engine_retain() needs no walk. */
static void *node_remove(struct kc_engine *e, uint32_t i)
{
	struct retain_node *n = &e->retain_nodes[i];
	uint32_t *nx = nexts(e);
	const uint8_t *pn = pins(e);
	struct flow_state *fs = n->fs;
	void *h = n->handle;
	uint32_t next = nx[i];
	bool was_head = n->prev == RNIL;

	if (!was_head)
		nx[n->prev] = next;
	else
		fs->r_head = next;
	if (next != RNIL)
		e->retain_nodes[next].prev = n->prev;
	else
		fs->r_tail = n->prev;
	age_unlink(e, i, n);
	fs->r_count--;
	fs->r_bytes -= n->bytes;
	if (!pn[i]) {
		if (fs->r_unpinned == i + 1) {
			/* The next unpinned node; pinned ones passed on the way
			 * now follow the prefix directly and join it. */
			uint32_t j = next, k = 0;

			while (j != RNIL && pn[j]) {
				j = nx[j];
				k++;
			}
			fs->r_unpinned = j == RNIL ? 0 : j + 1;
			fs->r_oldest_lb = 0; /* another node is first now */
			/* Saturating: only compared with MAX_PINNED. */
			fs->r_pinned = (uint8_t)KC_MIN(fs->r_pinned + k, UINT8_MAX);
		}
	} else if (was_head) {
		fs->r_pinned--;
	} else {
		/* A pinned node behind the head: only whole lists are
		 * released from their head, so this does not happen; count
		 * the prefix again rather than trust that. */
		uint32_t j, k = 0;

		for (j = fs->r_head; j != RNIL && pn[j]; j = nx[j])
			k++;
		fs->r_pinned = (uint8_t)KC_MIN(k, UINT8_MAX);
	}
	nx[i] = e->retain_free;
	e->retain_free = i;
	return h;
}

#ifdef KC_RETAIN_CHECK
/* Validation builds: the cached prefix, first unpinned node and its time's
 * lower bound against a walk of the list. */
static void retain_check(const struct kc_engine *e, const struct flow_state *fs)
{
	const uint32_t *nx = nexts(e);
	const uint8_t *pn = pins(e);
	uint32_t i, k = 0, first = RNIL;

	for (i = fs->r_head; i != RNIL && pn[i]; i = nx[i])
		k++;
	for (i = fs->r_head; i != RNIL; i = nx[i])
		if (!pn[i]) {
			first = i;
			break;
		}
	if (KC_MIN(k, UINT8_MAX) != fs->r_pinned || (first == RNIL ? 0 : first + 1) != fs->r_unpinned)
		abort();
	if (first != RNIL && fs->r_oldest_lb > e->retain_nodes[first].ts_us)
		abort();
}
#else
#define retain_check(e, fs) ((void)0)
#endif

static void evict(struct kc_engine *e, uint32_t i, uint64_t *counter)
{
	struct flow_state *fs = e->retain_nodes[i].fs;

	fs->truncated = 1;
	(*counter)++;
	kc_engine_release_handle(e, node_remove(e, i));
	retain_check(e, fs);
}


/* Oldest unpinned packet of one stream. */
static inline uint32_t oldest_unpinned(const struct flow_state *fs)
{
	return fs->r_unpinned != 0 ? fs->r_unpinned - 1 : RNIL;
}

void kc_engine_retain(struct kc_engine *e, struct kc_flow *f, struct flow_state *fs, void *h, uint64_t ts,
		      uint32_t bytes, bool pin)
{
	const struct kc_engine_retain_cfg *rc = &e->cfg.retain;
	struct retain_node *n;
	uint32_t i;

	(void)f;
	/* The pinned prefix (handshake) is bounded too. */
	if (pin && fs->r_pinned >= MAX_PINNED)
		pin = false;
	/* Window first: the stream's own packets older than the window go.
	 * The lower bound spares reading the oldest node, long cold, on every
	 * packet: only when it says the window may be passed is the node read. */
	while ((i = oldest_unpinned(fs)) != RNIL && fs->r_oldest_lb + rc->window_us < ts) {
		if (e->retain_nodes[i].ts_us + rc->window_us >= ts) {
			fs->r_oldest_lb = e->retain_nodes[i].ts_us;
			break;
		}
		evict(e, i, &e->stats.retain.expired_window);
	}
	/* Per-stream bound. */
	while ((fs->r_count >= rc->max_pkts_stream || fs->r_bytes + bytes > rc->max_bytes_stream) &&
	       (i = oldest_unpinned(fs)) != RNIL)
		evict(e, i, &e->stats.retain.evicted_stream);
	/* Per-core pool: make room by evicting the oldest unpinned packet of all. */
	if (e->retain_free == RNIL && e->g_head != RNIL)
		evict(e, e->g_head, &e->stats.retain.evicted_core);
	if (e->retain_free == RNIL || (!pin && fs->r_count >= rc->max_pkts_stream)) {
		fs->truncated = 1;
		e->stats.retain.evicted_core++;
		kc_engine_release_handle(e, h);
		return;
	}
	i = e->retain_free;
	n = &e->retain_nodes[i];
	e->retain_free = nexts(e)[i];
	n->handle = h;
	n->fs = fs;
	n->ts_us = ts;
	n->bytes = bytes;
	pins(e)[i] = pin;
	nexts(e)[i] = RNIL;
	n->prev = fs->r_tail;
	if (fs->r_tail != RNIL)
		nexts(e)[fs->r_tail] = i;
	else
		fs->r_head = i;
	fs->r_tail = i;
	/* A pinned node extends the prefix only while no unpinned one is
	 * retained; an unpinned one is the first unless one already is. */
	if (pin) {
		if (fs->r_unpinned == 0)
			fs->r_pinned++;
	} else if (fs->r_unpinned == 0) {
		fs->r_unpinned = i + 1;
		fs->r_oldest_lb = ts;
	}
	fs->r_count++;
	fs->r_bytes += bytes;
	n->g_prev = n->g_next = RNIL;
	if (!pin) {
		n->g_prev = e->g_tail;
		if (e->g_tail != RNIL)
			e->retain_nodes[e->g_tail].g_next = i;
		else
			e->g_head = i;
		e->g_tail = i;
	}
	e->stats.retain.retained++;
	retain_check(e, fs);
}

void kc_engine_retain_flush(struct kc_engine *e, struct flow_state *fs)
{
	while (fs->r_head != RNIL) {
		uint64_t ts = e->retain_nodes[fs->r_head].ts_us;
		void *h = node_remove(e, fs->r_head);

		e->stats.retain.flushed++;
		kc_engine_record_handle(e, fs->flow, h, ts);
	}
	/* Empty: clear a saturated prefix count too. */
	fs->r_pinned = 0;
	fs->r_unpinned = 0;
}

/* Nodes fetched ahead when a whole list is released: the stream's nodes
 * were taken over its lifetime and are cold by now. */
#define DROP_AHEAD 8

/* Both ends: a 48-byte node may straddle two cache lines. */
static inline void node_prefetch(const struct kc_engine *e, uint32_t i)
{
	const char *p = (const char *)&e->retain_nodes[i];

	__builtin_prefetch(p);
	__builtin_prefetch(p + sizeof(struct retain_node) - 1);
}

/* A stream is about to end (its dissection is being closed): start fetching
 * the first nodes kc_engine_retain_drop() or _flush() will walk. */
void kc_engine_retain_prefetch(const struct kc_engine *e, const struct flow_state *fs)
{
	const uint32_t *nx = nexts(e);
	uint32_t i = fs->r_head;
	unsigned k;

	for (k = 0; k < DROP_AHEAD && i != RNIL; k++) {
		node_prefetch(e, i);
		i = nx[i];
	}
}

void kc_engine_retain_drop(struct kc_engine *e, struct flow_state *fs)
{
	uint32_t *nx = nexts(e);
	uint32_t i = fs->r_head, ahead = i;
	unsigned k;

	/* The list is walked in the dense next[] array, so the nodes can be
	 * prefetched DROP_AHEAD steps before they are needed. The whole list
	 * goes: no per-node unlinking from it, only from the age list. */
	for (k = 0; k < DROP_AHEAD && ahead != RNIL; k++) {
		node_prefetch(e, ahead);
		ahead = nx[ahead];
	}
	while (i != RNIL) {
		struct retain_node *n = &e->retain_nodes[i];
		uint32_t next = nx[i];
		void *h = n->handle;

		if (ahead != RNIL) {
			node_prefetch(e, ahead);
			ahead = nx[ahead];
		}
		age_unlink(e, i, n);
		nx[i] = e->retain_free;
		e->retain_free = i;
		e->stats.retain.released_unmatched++;
		kc_engine_release_handle(e, h);
		i = next;
	}
	fs->r_head = fs->r_tail = RNIL;
	fs->r_count = 0;
	fs->r_bytes = 0;
	fs->r_pinned = 0;
	fs->r_unpinned = 0;
}

void kc_engine_retain_expire(struct kc_engine *e, uint32_t budget)
{
	while (budget-- > 0 && e->g_head != RNIL &&
	       e->retain_nodes[e->g_head].ts_us + e->cfg.retain.window_us < e->now_us)
		evict(e, e->g_head, &e->stats.retain.expired_window);
}

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

/*
 * The pool is one line-aligned allocation (kc_engine_retain_init):
 *
 *   retain_nodes[n]  32 bytes: handle, stream, time, size
 *   retain_age[n]     8 bytes: age-list links (g_prev RPIN: pinned)
 *   retain_next[n]    4 bytes: next node on its flow's list or the free list
 *
 * Walking a stream's list (over all of it when the stream ends) reads the
 * dense next[] array, mostly cache-resident, so the nodes can be prefetched
 * ahead; unlinking a node from the age list writes its age neighbours, other
 * streams' packets, which sit 8 bytes apart in age[] instead of in cold
 * nodes.
 */
int kc_engine_retain_init(struct kc_engine *e)
{
	uint32_t i, n = e->cfg.retain.max_pkts_core;
	size_t node_bytes, size;
	uint8_t *p;

	e->g_head = e->g_tail = RNIL;
	e->retain_free = RNIL;
	if (n == 0)
		return 0;
	node_bytes = (size_t)n * sizeof(struct retain_node);
	size = node_bytes + (size_t)n * (sizeof(struct retain_age) + sizeof(uint32_t));
	size = (size + KC_CACHE_LINE - 1) & ~(size_t)(KC_CACHE_LINE - 1);
	p = aligned_alloc(KC_CACHE_LINE, size);
	if (p == NULL)
		return -1;
	e->retain_nodes = (struct retain_node *)p;
	e->retain_age = (struct retain_age *)(p + node_bytes);
	e->retain_next = (uint32_t *)(p + node_bytes + (size_t)n * sizeof(struct retain_age));
	for (i = 0; i < n; i++)
		e->retain_next[i] = i + 1 < n ? i + 1 : RNIL;
	e->retain_free = 0;
	return 0;
}

static inline bool is_pinned(const struct kc_engine *e, uint32_t i)
{
	return e->retain_age[i].g_prev == RPIN;
}

static inline void age_unlink(struct kc_engine *e, uint32_t i)
{
	struct retain_age *ag = e->retain_age;
	uint32_t prev = ag[i].g_prev, next = ag[i].g_next;

	if (prev == RPIN)
		return;
	if (prev != RNIL)
		ag[prev].g_next = next;
	else
		e->g_head = next;
	if (next != RNIL)
		ag[next].g_prev = prev;
	else
		e->g_tail = prev;
}

/* Take node @p i, the head of @p fs's list or its first unpinned node (the
 * only ones ever removed alone: flush takes heads, every bound the oldest
 * unpinned packet), off that list and the age list, and free it. Keeps
 * fs->r_pinned (length of the list's pinned prefix: the pinned packets are
 * the handshake, at the front), fs->r_unpinned (first unpinned node + 1) and
 * fs->r_unpinned_prev exact, so kc_engine_retain() needs no walk. */
static void *node_remove(struct kc_engine *e, struct flow_state *fs, uint32_t i)
{
	const struct retain_node *n = &e->retain_nodes[i];
	uint32_t *nx = e->retain_next;
	void *h = n->handle;
	uint32_t next = nx[i];
	uint32_t pred = i == fs->r_head ? RNIL : fs->r_unpinned_prev;

#ifdef KC_RETAIN_CHECK
	if (i != fs->r_head && fs->r_unpinned != i + 1)
		abort();
#endif
	if (pred == RNIL)
		fs->r_head = next;
	else
		nx[pred] = next;
	if (next == RNIL)
		fs->r_tail = pred;
	fs->r_count--;
	fs->r_bytes -= n->bytes;
	if (!is_pinned(e, i)) {
		/* The first unpinned node (an unpinned head is too): find the
		 * next one; pinned ones passed on the way now follow the
		 * prefix directly and join it. */
		uint32_t j = next, k = 0;

		while (j != RNIL && is_pinned(e, j)) {
			pred = j;
			j = nx[j];
			k++;
		}
		fs->r_unpinned = j == RNIL ? 0 : j + 1;
		fs->r_unpinned_prev = pred;
		fs->r_oldest_lb = 0; /* another node is first now */
		/* Saturating: only compared with RETAIN_MAX_PINNED. */
		fs->r_pinned = (uint8_t)KC_MIN(fs->r_pinned + k, UINT8_MAX);
		age_unlink(e, i);
	} else {
		/* A pinned head (flush): the prefix shrinks; it may have been
		 * the first unpinned node's predecessor. */
		fs->r_pinned--;
		if (fs->r_unpinned != 0 && fs->r_unpinned_prev == i)
			fs->r_unpinned_prev = RNIL;
	}
	nx[i] = e->retain_free;
	e->retain_free = i;
	return h;
}

#ifdef KC_RETAIN_CHECK
/* Validation builds: the cached prefix, first unpinned node and its time's
 * lower bound against a walk of the list. */
void kc_engine_retain_check(const struct kc_engine *e, const struct flow_state *fs)
{
	const uint32_t *nx = e->retain_next;
	uint32_t i, k = 0, first = RNIL, pred = RNIL, last = RNIL;

	for (i = fs->r_head; i != RNIL && is_pinned(e, i); i = nx[i])
		k++;
	for (i = fs->r_head; i != RNIL; i = nx[i])
		if (!is_pinned(e, i)) {
			first = i;
			break;
		} else {
			pred = i;
		}
	for (i = fs->r_head; i != RNIL; i = nx[i])
		last = i;
	if (KC_MIN(k, UINT8_MAX) != fs->r_pinned || (first == RNIL ? 0 : first + 1) != fs->r_unpinned ||
	    (first != RNIL && pred != fs->r_unpinned_prev) || last != fs->r_tail)
		abort();
	if (first != RNIL && fs->r_oldest_lb > e->retain_nodes[first].ts_us)
		abort();
}
#endif

static void evict(struct kc_engine *e, uint32_t i, uint64_t *counter)
{
	struct flow_state *fs = e->retain_nodes[i].fs;

	fs->truncated = 1;
	(*counter)++;
	engine_release(e, node_remove(e, fs, i));
	kc_engine_retain_check(e, fs);
}

/* With the pool full, every packet evicts the oldest one of all, a node and
 * a flow state both written long ago. Start loading what the next eviction
 * reads: the flow state of the new oldest node (the node itself was asked
 * for by the previous eviction) and the node after it. */
static inline void victim_prefetch(const struct kc_engine *e)
{
	uint32_t v = e->g_head, w;

	if (v == RNIL)
		return;
	__builtin_prefetch(e->retain_nodes[v].fs);
	w = e->retain_age[v].g_next;
	if (w != RNIL)
		__builtin_prefetch(&e->retain_nodes[w]);
}

/* Oldest unpinned packet of one stream. */
static inline uint32_t oldest_unpinned(const struct flow_state *fs)
{
	return fs->r_unpinned != 0 ? fs->r_unpinned - 1 : RNIL;
}

/* kc_engine_retain() when a bound has to act: evict what the window, the
 * per-stream bound and the pool ask for, in that order, then hold the packet
 * or refuse it. */
void kc_engine_retain_bounded(struct kc_engine *e, struct flow_state *fs, void *h, uint64_t ts, uint32_t bytes,
			       bool pin)
{
	const struct kc_engine_retain_cfg *rc = &e->cfg.retain;
	uint32_t i;

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
	if (e->retain_free == RNIL && e->g_head != RNIL) {
		evict(e, e->g_head, &e->stats.retain.evicted_core);
		victim_prefetch(e);
	}
	if (e->retain_free == RNIL || (!pin && fs->r_count >= rc->max_pkts_stream)) {
		fs->truncated = 1;
		e->stats.retain.evicted_core++;
		engine_release(e, h);
		return;
	}
	kc_engine_retain_insert(e, fs, h, ts, bytes, pin);
}

void kc_engine_retain_flush(struct kc_engine *e, struct flow_state *fs)
{
	while (fs->r_head != RNIL) {
		uint64_t ts = e->retain_nodes[fs->r_head].ts_us;
		void *h = node_remove(e, fs, fs->r_head);

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

/* A node (one line: they are 32 bytes, line-aligned in pairs) and its
 * age-list links. */
static inline void node_prefetch(const struct kc_engine *e, uint32_t i)
{
	__builtin_prefetch(&e->retain_nodes[i]);
	__builtin_prefetch(&e->retain_age[i]);
}

/* A stream is about to end (its dissection is being closed): start fetching
 * the first nodes kc_engine_retain_drop() or _flush() will walk. */
void kc_engine_retain_prefetch(const struct kc_engine *e, const struct flow_state *fs)
{
	const uint32_t *nx = e->retain_next;
	uint32_t i = fs->r_head;
	unsigned k;

	for (k = 0; k < DROP_AHEAD && i != RNIL; k++) {
		node_prefetch(e, i);
		i = nx[i];
	}
}

void kc_engine_retain_drop(struct kc_engine *e, struct flow_state *fs)
{
	uint32_t *nx = e->retain_next;
	uint32_t i = fs->r_head, ahead = i, n = 0;
	unsigned k;

	/* The list is walked in the dense next[] array, so the nodes can be
	 * prefetched DROP_AHEAD steps before they are needed. The whole list
	 * goes: no per-node unlinking from it, only from the age list, and it
	 * joins the free list in one piece at the end. */
	for (k = 0; k < DROP_AHEAD && ahead != RNIL; k++) {
		node_prefetch(e, ahead);
		ahead = nx[ahead];
	}
	while (i != RNIL) {
		uint32_t next = nx[i];
		void *h = e->retain_nodes[i].handle;

		if (ahead != RNIL) {
			node_prefetch(e, ahead);
			ahead = nx[ahead];
		}
		age_unlink(e, i);
		e->ops.release(e->ctx, h);
		n++;
		i = next;
	}
	if (n != 0) {
		nx[fs->r_tail] = e->retain_free;
		e->retain_free = fs->r_head;
	}
	/* Counted once for the list (engine_release() counts one by one). */
	e->stats.retain.released_unmatched += n;
	e->stats.released_pkts += n;
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

/*
 * Retention: packets of streams that have not matched the filter yet, kept so
 * that a stream recorded at its tenth request still starts at its handshake.
 *
 * Bounded three ways, each counted: a time window (retain.window_us), a
 * per-stream packet/byte bound, and a per-core pool (which the application
 * sizes as a share of the mbuf pool, so RX never starves). The TCP handshake
 * is pinned: it is off the age list and no bound evicts it.
 */
#include <stdlib.h>

#include "engine_internal.h"

/* Pinned packets per stream: SYN, SYN-ACK, ACK and a few retransmissions. */
#define MAX_PINNED 6

int kc_engine_retain_init(struct kc_engine *e)
{
	uint32_t i, n = e->cfg.retain.max_pkts_core;

	e->g_head = e->g_tail = RNIL;
	e->retain_free = RNIL;
	if (n == 0)
		return 0;
	e->retain_nodes = calloc(n, sizeof(*e->retain_nodes));
	if (e->retain_nodes == NULL)
		return -1;
	for (i = 0; i < n; i++)
		e->retain_nodes[i].next = i + 1 < n ? i + 1 : RNIL;
	e->retain_free = 0;
	return 0;
}

static void age_unlink(struct kc_engine *e, struct retain_node *n)
{
	if (n->pinned)
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

/* Take node @p i off its flow list and the age list, and free it. */
static void *node_remove(struct kc_engine *e, uint32_t i)
{
	struct retain_node *n = &e->retain_nodes[i];
	struct flow_state *fs = n->fs;
	void *h = n->handle;

	if (n->prev != RNIL)
		e->retain_nodes[n->prev].next = n->next;
	else
		fs->r_head = n->next;
	if (n->next != RNIL)
		e->retain_nodes[n->next].prev = n->prev;
	else
		fs->r_tail = n->prev;
	age_unlink(e, n);
	fs->r_count--;
	fs->r_bytes -= n->bytes;
	n->next = e->retain_free;
	e->retain_free = i;
	return h;
}

static void evict(struct kc_engine *e, uint32_t i, uint64_t *counter)
{
	struct flow_state *fs = e->retain_nodes[i].fs;

	fs->truncated = 1;
	(*counter)++;
	kc_engine_release_handle(e, node_remove(e, i));
}

/* Oldest unpinned packet of one stream. */
static uint32_t oldest_unpinned(const struct kc_engine *e, const struct flow_state *fs)
{
	uint32_t i;

	for (i = fs->r_head; i != RNIL; i = e->retain_nodes[i].next)
		if (!e->retain_nodes[i].pinned)
			return i;
	return RNIL;
}

static uint32_t pinned_count(const struct kc_engine *e, const struct flow_state *fs)
{
	uint32_t i, n = 0;

	for (i = fs->r_head; i != RNIL && e->retain_nodes[i].pinned; i = e->retain_nodes[i].next)
		n++;
	return n;
}

void kc_engine_retain(struct kc_engine *e, struct kc_flow *f, struct flow_state *fs, void *h, uint64_t ts,
		      uint32_t bytes, bool pin)
{
	const struct kc_engine_retain_cfg *rc = &e->cfg.retain;
	struct retain_node *n;
	uint32_t i;

	(void)f;
	if (pin && pinned_count(e, fs) >= MAX_PINNED)
		pin = false;
	/* Window first: the stream's own packets older than the window go. */
	while ((i = oldest_unpinned(e, fs)) != RNIL && e->retain_nodes[i].ts_us + rc->window_us < ts)
		evict(e, i, &e->stats.retain.expired_window);
	/* Per-stream bound. */
	while ((fs->r_count >= rc->max_pkts_stream || fs->r_bytes + bytes > rc->max_bytes_stream) &&
	       (i = oldest_unpinned(e, fs)) != RNIL)
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
	e->retain_free = n->next;
	n->handle = h;
	n->fs = fs;
	n->ts_us = ts;
	n->bytes = bytes;
	n->pinned = pin;
	n->next = RNIL;
	n->prev = fs->r_tail;
	if (fs->r_tail != RNIL)
		e->retain_nodes[fs->r_tail].next = i;
	else
		fs->r_head = i;
	fs->r_tail = i;
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
}

void kc_engine_retain_flush(struct kc_engine *e, struct flow_state *fs)
{
	while (fs->r_head != RNIL) {
		uint64_t ts = e->retain_nodes[fs->r_head].ts_us;
		void *h = node_remove(e, fs->r_head);

		e->stats.retain.flushed++;
		kc_engine_record_handle(e, fs->flow, h, ts);
	}
}

void kc_engine_retain_drop(struct kc_engine *e, struct flow_state *fs)
{
	while (fs->r_head != RNIL) {
		e->stats.retain.released_unmatched++;
		kc_engine_release_handle(e, node_remove(e, fs->r_head));
	}
}

void kc_engine_retain_expire(struct kc_engine *e, uint32_t budget)
{
	while (budget-- > 0 && e->g_head != RNIL &&
	       e->retain_nodes[e->g_head].ts_us + e->cfg.retain.window_us < e->now_us)
		evict(e, e->g_head, &e->stats.retain.expired_window);
}

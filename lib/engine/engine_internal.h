/* Private state of the engine, shared by engine.c (pipeline), engine_dissect.c
 * (reassembly, dissection, filter) and engine_retain.c (retention). */
#ifndef KC_ENGINE_INTERNAL_H
#define KC_ENGINE_INTERNAL_H

#include <netinet/in.h>
#include <stddef.h>

#include "kc_engine.h"

/* Fragments of one datagram plus a full table's worth of evictions. */
#define KC_ENGINE_DEAD_CAP (2 * KC_DEFRAG_MAX_FRAGS + 2)
#define RNIL UINT32_MAX
/* retain_age.g_prev of a pinned node. */
#define RPIN (UINT32_MAX - 1)
/* Packets decoded and hashed together before their flows are looked up, so
 * the table's memory is fetched for all of them at once (engine.c). */
#define KC_ENGINE_BATCH 32

struct kc_engine;

/* Engine state kept in each flow's user area, which follows struct
 * kc_flow (120 bytes) in the flow table's line-aligned entry. Ordered so
 * that what every packet touches comes first and ends inside the entry's
 * fourth line: the dissection handle and retention bookkeeping, then the two
 * reassembly directions (struct kc_reasm_dir puts its per-segment fields
 * first); only cold fields of dir[1] reach the fifth line. */
struct flow_state {
	struct kc_dissect_flow *df;   /* NULL: not dissected */
	uint32_t r_head, r_tail;      /* retained packets, oldest first (RNIL: none) */
	uint32_t r_count;
	uint32_t r_unpinned;          /* first unpinned retained node + 1 (0: none) */
	uint64_t r_bytes;
	uint64_t r_oldest_lb;         /* at most the first unpinned node's time (0: unknown) */
	uint8_t recorded;             /* record() every packet of this flow */
	uint8_t truncated;            /* retention evicted packets of this flow */
	uint8_t r_pinned;             /* pinned nodes retained */
	uint8_t ended;                /* dissection ended before the flow left the table:
	                                 nothing of it can match any more */
	uint8_t new_item;             /* an item came since the last look (engine.c) */
	uint32_t r_unpinned_prev;     /* node before the first unpinned one (RNIL: it is the
	                                 head); valid while r_unpinned != 0 */
	struct kc_engine *e;
	struct kc_flow *flow;
	struct kc_reasm_dir dir[2];   /* by enum kc_dir */
};
_Static_assert(sizeof(struct kc_flow) + offsetof(struct flow_state, dir[1]) + KC_REASM_DIR_HOT <= 4 * KC_CACHE_LINE,
	       "flow_state: the per-packet fields end in the flow entry's fourth line");

/* One retained packet: 32 bytes, two to a line (the pool is line-aligned).
 * Linked per flow (arrival order) through the dense next[] array, and,
 * unless pinned, on the engine-wide age list (dense age[] array) used for
 * the window and the core bound (engine_retain.c). No back link: a node
 * leaves its flow's list only as its head or as its first unpinned node,
 * whose predecessor the flow keeps (r_unpinned_prev), so evicting one never
 * writes the (cold) node after it. */
struct retain_node {
	void *handle;
	struct flow_state *fs;
	uint64_t ts_us;
	uint32_t bytes;
	uint32_t rsvd;
};
_Static_assert(sizeof(struct retain_node) == 32, "retain_node: two per cache line");

/* A node's age-list links. g_prev is RPIN for a pinned node (not on the list). */
struct retain_age {
	uint32_t g_prev, g_next;
};

struct kc_engine {
	struct kc_flow_table *flows;
	struct kc_defrag *defrag;
	struct kc_reasm_core *reasm;
	struct kc_dissect_core *dissect;
	struct kc_kfl_scratch *scratch;
	const struct kc_kfl_prog *filter_prog; /* read once per burst */
	uint32_t filter_version;
	struct kc_engine_ops ops;
	void *ctx;
	uint64_t now_us;
	/* Retention pool: one allocation, retain_nodes first (engine.c frees
	 * it), then the dense next[] and age[] arrays (engine_retain.c). */
	struct retain_node *retain_nodes;
	uint32_t *retain_next;   /* per-flow list and free list links */
	struct retain_age *retain_age;
	uint32_t retain_free;    /* free list through retain_next[] */
	uint32_t g_head, g_tail; /* age list */
	struct kc_engine_stats stats;
	struct kc_engine_cfg cfg;
	void *dead[KC_ENGINE_DEAD_CAP];
	struct kc_defrag_done done;
	/* The batch in flight in kc_engine_rx. */
	struct kc_pkt b_pkt[KC_ENGINE_BATCH];
	struct kc_flow_key b_key[KC_ENGINE_BATCH];
	uint32_t b_hash[KC_ENGINE_BATCH];
	uint8_t b_res[KC_ENGINE_BATCH];
	bool b_a_to_b[KC_ENGINE_BATCH];
};

/* A packet that is not recorded goes back to the caller (inline: the
 * per-packet paths of every file call it). */
static inline void engine_release(struct kc_engine *e, void *h)
{
	e->stats.released_pkts++;
	e->ops.release(e->ctx, h);
}

void kc_engine_record_handle(struct kc_engine *e, struct kc_flow *f, void *h, uint64_t ts);

/* engine_dissect.c */
void kc_engine_on_item(void *ctx, const struct kc_item *item);
void kc_engine_dissect_close(struct kc_engine *e, struct flow_state *fs);
/* Reassembly's delivery callbacks by enum kc_dir; their context is the flow. */
extern const kc_reasm_deliver_fn kc_engine_deliver[2];

/* Reassembly and dissection of one packet of a flow being dissected (fs->df
 * set). Inline: the per-packet caller has the packet and flow at hand. */
static inline void kc_engine_dissect_pkt(struct kc_engine *e, struct flow_state *fs, const struct kc_pkt *p,
					  bool from_client, uint64_t ts)
{
	enum kc_dir dir = from_client ? KC_DIR_C2S : KC_DIR_S2C;
	struct kc_reasm_dir *d = &fs->dir[dir];

	if (p->proto != IPPROTO_TCP) {
		kc_dissect_udp_datagram(e->dissect, fs->df, dir, p->payload, p->payload_len, ts);
		return;
	}
	/* An ACK travelling this way acknowledges the other direction's bytes:
	 * held data the peer already has can be delivered past its holes. */
	if ((p->tcp_flags & KC_TCP_ACK) && !kc_reasm_ack_is_noop(&fs->dir[!dir], p->ack, p->win))
		kc_reasm_ack(e->reasm, &fs->dir[!dir], p->ack, p->win, ts, kc_engine_deliver[!dir], fs);
	/* Half the segments are bare ACKs, which reassembly ignores. */
	if (kc_reasm_push_is_noop(d, p->seq, p->tcp_flags, p->payload_len))
		return;
	/* Most of the rest are the next bytes in order with nothing held:
	 * reassembly only counts them, and they go to the dissector straight
	 * from the packet. Nothing above clears fs->df. */
	if (kc_reasm_push_in_order(e->reasm, d, p->seq, p->tcp_flags, p->payload_len)) {
		kc_dissect_tcp_data(e->dissect, fs->df, dir, p->payload, p->payload_len, 0, ts);
		return;
	}
	kc_reasm_push(e->reasm, d, p->seq, p->tcp_flags, p->payload, p->payload_len, ts, kc_engine_deliver[dir], fs);
}

/* engine_retain.c */

/* Pinned packets per stream: SYN, SYN-ACK, ACK and a few retransmissions. */
#define RETAIN_MAX_PINNED 6

int kc_engine_retain_init(struct kc_engine *e);
void kc_engine_retain_bounded(struct kc_engine *e, struct flow_state *fs, void *h, uint64_t ts, uint32_t bytes,
			       bool pin);
void kc_engine_retain_flush(struct kc_engine *e, struct flow_state *fs);
void kc_engine_retain_drop(struct kc_engine *e, struct flow_state *fs);
/* Prefetch the first retained nodes of @p fs, ahead of a drop or flush. */
void kc_engine_retain_prefetch(const struct kc_engine *e, const struct flow_state *fs);
void kc_engine_retain_expire(struct kc_engine *e, uint32_t budget);
#ifdef KC_RETAIN_CHECK
void kc_engine_retain_check(const struct kc_engine *e, const struct flow_state *fs);
#else
#define kc_engine_retain_check(e, fs) ((void)0)
#endif

/* Append packet @p h to @p fs's list (and, unpinned, to the age list), in a
 * node the caller made sure is free. */
static inline void kc_engine_retain_insert(struct kc_engine *e, struct flow_state *fs, void *h, uint64_t ts,
					   uint32_t bytes, bool pin)
{
	uint32_t *nx = e->retain_next;
	uint32_t i = e->retain_free;
	struct retain_node *n = &e->retain_nodes[i];
	struct retain_age *a = &e->retain_age[i];

	e->retain_free = nx[i];
	n->handle = h;
	n->fs = fs;
	n->ts_us = ts;
	n->bytes = bytes;
	nx[i] = RNIL;
	if (fs->r_tail != RNIL)
		nx[fs->r_tail] = i;
	else
		fs->r_head = i;
	/* A pinned node extends the prefix only while no unpinned one is
	 * retained; an unpinned one is the first unless one already is. */
	if (pin) {
		a->g_prev = RPIN;
		if (fs->r_unpinned == 0)
			fs->r_pinned++;
	} else {
		if (fs->r_unpinned == 0) {
			fs->r_unpinned = i + 1;
			fs->r_unpinned_prev = fs->r_tail;
			fs->r_oldest_lb = ts;
		}
		a->g_prev = e->g_tail;
		a->g_next = RNIL;
		if (e->g_tail != RNIL)
			e->retain_age[e->g_tail].g_next = i;
		else
			e->g_head = i;
		e->g_tail = i;
	}
	fs->r_tail = i;
	fs->r_count++;
	fs->r_bytes += bytes;
	e->stats.retain.retained++;
	kc_engine_retain_check(e, fs);
}

/*
 * Hold packet @p h of @p fs (not recorded) until the stream matches or a
 * bound evicts it. Inline, for the per-packet caller: nearly every packet
 * finds that no bound has anything to do (the window's test is the cheap one
 * on the stream's lower bound; kc_engine_retain_bounded() makes the exact
 * one) and that the pool has room, and is just appended.
 */
static inline void kc_engine_retain(struct kc_engine *e, struct kc_flow *f, struct flow_state *fs, void *h,
				    uint64_t ts, uint32_t bytes, bool pin)
{
	const struct kc_engine_retain_cfg *rc = &e->cfg.retain;

	(void)f;
	/* The pinned prefix (handshake) is bounded too. */
	if (pin && fs->r_pinned >= RETAIN_MAX_PINNED)
		pin = false;
	if (kc_likely((fs->r_unpinned == 0 || fs->r_oldest_lb + rc->window_us >= ts) &&
		      fs->r_count < rc->max_pkts_stream && fs->r_bytes + bytes <= rc->max_bytes_stream &&
		      e->retain_free != RNIL))
		kc_engine_retain_insert(e, fs, h, ts, bytes, pin);
	else
		kc_engine_retain_bounded(e, fs, h, ts, bytes, pin);
}

#endif /* KC_ENGINE_INTERNAL_H */
